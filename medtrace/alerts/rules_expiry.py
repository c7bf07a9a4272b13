"""Rules ``expiry_stock`` and ``expiry_installed``: units (and material lots) that expire within
the rule's ``threshold`` days, in our stock and in the installed base at hospitals.

Periodic (``rule:expiry_stock`` / ``rule:expiry_installed``, every 6 hours). Each evaluation is
one grouped query, never a loop over units:

- stock: serialized units that are still ours and here (``warehouse.selectors.in_stock_q``,
  possessed by us), counted per product, lot, location and expiry date; plus lot-tracked
  material lots (procurement) with quantity left;
- installed base: units installed at a hospital department (``service.InstalledUnit`` in use),
  their expiry taken from the unit's state, counted per hospital, department, product, lot and
  expiry date.

One alert per lot and place and month of expiry, not one per unit: 500 units of lot L1 in the
finished-goods warehouse make one alert. A group already past its expiry date is its own,
critical, alert ("expired"); a group still within the threshold a warning ("expiring"). Each
(group, level) alerts once (``rules_support.fire_new``): a lot alerted as expiring alerts again
when it has expired, not every sweep.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from . import rules, schedule
from .models import AlertRuleKind, AlertSeverity
from .rules_support import Finding, fire_new, key, summary

if TYPE_CHECKING:
    from medtrace.masterdata.models import Product

STOCK = AlertRuleKind.EXPIRY_STOCK
INSTALLED = AlertRuleKind.EXPIRY_INSTALLED
EVERY = timedelta(hours=6)
EXPIRED = "expired"
EXPIRING = "expiring"
MAX_LISTED = 50  # serials an installed-base alert lists (its count is complete)
MAX_SERIALS_QUERIED = 20_000


@dataclass
class Group:
    """Units of one lot at one place whose expiry falls in one month."""

    place: tuple[Any, ...]  # what the alert is keyed on besides lot, level and month
    product_id: int | None
    gtin: str
    lot: str
    level: str
    month: str
    count: Decimal = Decimal(0)
    first: date | None = None
    last: date | None = None

    def add(self, expiry: date, count: Decimal | int) -> None:
        self.count += Decimal(count)
        self.first = expiry if self.first is None else min(self.first, expiry)
        self.last = expiry if self.last is None else max(self.last, expiry)


def horizon(days: Decimal | None, today: date) -> date:
    return today + timedelta(days=int(days or 0))


def _group(
    rows: Iterable[tuple[tuple[Any, ...], int | None, str, str, date, Decimal | int]],
    today: date,
) -> list[Group]:
    """Fold (place, product, gtin, lot, expiry, count) rows into groups per lot, place, level
    and month of expiry."""
    groups: dict[tuple[Any, ...], Group] = {}
    for place, product_id, gtin, lot, expiry, count in rows:
        level = EXPIRED if expiry < today else EXPIRING
        month = expiry.strftime("%Y-%m")
        ident = (place, product_id, gtin, lot, level, month)
        group = groups.get(ident)
        if group is None:
            group = groups[ident] = Group(place, product_id, gtin or "", lot or "", level, month)
        group.add(expiry, count)
    return sorted(groups.values(), key=lambda g: (g.first or today, g.lot, str(g.place)))


def _products(ids: Iterable[int | None]) -> dict[int, Product]:
    from medtrace.masterdata.models import Product

    return Product.objects.in_bulk({i for i in ids if i is not None})


def _name(product: Product | None, fallback: str) -> str:
    if product is None:
        return fallback or "?"
    return f"{product.name} ({product.model})" if product.model else product.name


def _lot_class(product: Product | None, lot: str) -> str:
    from medtrace.errors import MedtraceError
    from medtrace.lifecycle.events import lot_class

    if product is None or not lot:
        return ""
    try:
        return lot_class(product, lot)
    except MedtraceError:
        return ""


def _quantity(count: Decimal) -> str:
    return str(count.normalize()) if count != count.to_integral_value() else str(int(count))


def _finding(
    *,
    kind: str,
    group: Group,
    what: str,
    where: str,
    place_key: tuple[Any, ...],
    today: date,
    evidence: dict[str, Any],
    object_type: str,
    object_id: str,
) -> Finding:
    days_left = (group.first - today).days if group.first else 0
    lot = group.lot or "-"
    values = {
        "count": _quantity(group.count),
        "what": what,
        "lot": lot,
        "where": where,
        "first": group.first.isoformat() if group.first else "?",
        "days": abs(days_left),
    }
    if group.level == EXPIRED:
        title = _("%(count)s %(what)s (lot %(lot)s) at %(where)s expired on %(first)s") % values
        message = (
            _(
                "%(count)s %(what)s, lot %(lot)s, at %(where)s are past their expiry date "
                "(%(first)s, %(days)s days ago). Expired devices must not be used or shipped: "
                "quarantine and scrap or return them."
            )
            % values
        )
        severity: str | None = AlertSeverity.CRITICAL
    else:
        title = _("%(count)s %(what)s (lot %(lot)s) at %(where)s expire on %(first)s") % values
        message = (
            _(
                "%(count)s %(what)s, lot %(lot)s, at %(where)s expire in %(days)s days "
                "(from %(first)s)."
            )
            % values
        )
        severity = None
    return Finding(
        key=key(
            kind, *place_key, group.gtin or group.product_id or "-", lot, group.level, group.month
        ),
        title=title,
        message=message,
        evidence={
            "level": group.level,
            "product_id": group.product_id,
            "gtin": group.gtin or None,
            "lot": group.lot or None,
            "count": _quantity(group.count),
            "first_expiry": group.first.isoformat() if group.first else None,
            "last_expiry": group.last.isoformat() if group.last else None,
            "days_left": days_left,
            **evidence,
        },
        object_type=object_type,
        object_id=object_id,
        severity=severity,
    )


# Stock -------------------------------------------------------------------------------------


def _stock_units(until: date) -> list[tuple[tuple[Any, ...], int | None, str, str, date, int]]:
    from medtrace.ledger.models import UnitState
    from medtrace.warehouse.selectors import in_stock_q, our_ids

    ours = our_ids()
    rows = (
        UnitState.objects.filter(in_stock_q(), expiry__isnull=False, expiry__lte=until)
        .filter(
            Q(possessing_party__isnull=True) | Q(possessing_party="") | Q(possessing_party__in=ours)
        )
        .values("biz_location", "product_id", "gtin", "lot", "expiry")
        .annotate(n=Count("epc"))
        .order_by()
    )
    return [
        (
            (r["biz_location"] or "",),
            r["product_id"],
            r["gtin"] or "",
            r["lot"] or "",
            r["expiry"],
            r["n"],
        )
        for r in rows
    ]


def _material_lots(until: date) -> list[tuple[tuple[Any, ...], int | None, str, str, date, Any]]:
    from medtrace.procurement.models import MaterialLot, MaterialLotStatus

    rows = (
        MaterialLot.objects.filter(tracking="lot", expires_on__isnull=False, expires_on__lte=until)
        .exclude(status=MaterialLotStatus.REJECTED)
        .annotate(left=F("received_qty") - F("rejected_qty") - F("consumed_qty"))
        .filter(left__gt=0)
        .values("material_id", "material__gtin", "lot", "expires_on", "uom")
        .annotate(n=Sum("left"))
        .order_by()
    )
    return [
        (
            ("material", r["material_id"], r["uom"]),
            None,
            r["material__gtin"] or "",
            r["lot"] or "",
            r["expires_on"],
            r["n"],
        )
        for r in rows
    ]


def expiry_stock_evaluate(*, today: date | None = None) -> str:
    """Raise the stock expiry alerts due ``today``; returns what the periodic job reports."""
    from medtrace.masterdata.models import Location, Material

    config = rules.rule(STOCK)
    if not config.enabled:
        return f"{STOCK}: disabled"
    today = today or timezone.localdate()
    until = horizon(config.threshold, today)
    groups = _group([*_stock_units(until), *_material_lots(until)], today)
    places = {g.place[0] for g in groups if g.place[0] != "material"}
    names = dict(Location.objects.filter(sgln__in=places).values_list("sgln", "name"))
    products = _products(g.product_id for g in groups)
    materials = dict(
        Material.objects.filter(
            pk__in={g.place[1] for g in groups if g.place[0] == "material"}
        ).values_list("pk", "name")
    )
    findings = []
    for g in groups:
        if g.place[0] == "material":
            _tag, material_id, uom = g.place
            what = _("%(uom)s of %(material)s") % {"uom": uom, "material": materials[material_id]}
            where = pgettext("expiry alert", "the material stores")
            evidence: dict[str, Any] = {"material_id": material_id, "uom": uom, "location": None}
            object_type, object_id = "procurement.material", str(material_id)
        else:
            sgln = g.place[0]
            product = products.get(g.product_id or 0)
            what = _("units of %(product)s") % {"product": _name(product, g.gtin)}
            where = names.get(sgln) or sgln or _("an unknown location")
            evidence = {"location": sgln or None, "location_name": names.get(sgln)}
            lot_class = _lot_class(product, g.lot)
            evidence["lot_class"] = lot_class or None
            object_type, object_id = ("lot", lot_class) if lot_class else ("", "")
        findings.append(
            _finding(
                kind="stock",
                group=g,
                what=what,
                where=where,
                place_key=g.place,
                today=today,
                evidence=evidence,
                object_type=object_type,
                object_id=object_id,
            )
        )
    return summary(STOCK, fire_new(STOCK, findings), len(findings))


# Installed base ----------------------------------------------------------------------------


def expiry_installed_evaluate(*, today: date | None = None) -> str:
    """Raise the installed-base expiry alerts due ``today``."""
    from medtrace.ledger.models import UnitState
    from medtrace.masterdata.models import Location, Party
    from medtrace.service.models_lifecycle import InstalledUnit, InstallStatus

    config = rules.rule(INSTALLED)
    if not config.enabled:
        return f"{INSTALLED}: disabled"
    today = today or timezone.localdate()
    until = horizon(config.threshold, today)
    state = UnitState.objects.filter(epc=OuterRef("unit_epc"))
    rows = (
        InstalledUnit.objects.filter(status=InstallStatus.IN_USE)
        .annotate(
            expiry=Subquery(state.values("expiry")[:1]),
            gtin=Subquery(state.values("gtin")[:1]),
        )
        .filter(expiry__isnull=False, expiry__lte=until)
        .values("hospital_id", "department_id", "product_id", "gtin", "lot", "expiry")
        .annotate(n=Count("pk"))
        .order_by()
    )
    groups = _group(
        (
            (
                (r["hospital_id"], r["department_id"]),
                r["product_id"],
                r["gtin"] or "",
                r["lot"] or "",
                r["expiry"],
                r["n"],
            )
            for r in rows
        ),
        today,
    )
    hospitals = dict(
        Party.objects.filter(pk__in={g.place[0] for g in groups}).values_list("pk", "name")
    )
    departments = dict(
        Location.objects.filter(pk__in={g.place[1] for g in groups}).values_list("pk", "name")
    )
    products = _products(g.product_id for g in groups)
    serials: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for hospital_id, department_id, product_id, lot, expiry, serial in rows.values_list(
        "hospital_id", "department_id", "product_id", "lot", "expiry", "serial"
    ).order_by("hospital_id", "department_id", "expiry", "serial")[:MAX_SERIALS_QUERIED]:
        level = EXPIRED if expiry < today else EXPIRING
        month = expiry.strftime("%Y-%m")
        listed = serials[(hospital_id, department_id, product_id, lot or "", level, month)]
        if len(listed) < MAX_LISTED:
            listed.append(serial)
    findings = []
    for g in groups:
        hospital_id, department_id = g.place
        where = f"{hospitals.get(hospital_id, '?')} / {departments.get(department_id, '?')}"
        what = _("installed units of %(product)s") % {
            "product": _name(products.get(g.product_id or 0), g.gtin)
        }
        findings.append(
            _finding(
                kind="installed",
                group=g,
                what=what,
                where=where,
                place_key=g.place,
                today=today,
                object_type="masterdata.party",
                object_id=str(hospital_id),
                evidence={
                    "hospital_id": hospital_id,
                    "hospital": hospitals.get(hospital_id),
                    "department_id": department_id,
                    "department": departments.get(department_id),
                    "serials": serials.get((*g.place, g.product_id, g.lot, g.level, g.month), []),
                },
            )
        )
    return summary(INSTALLED, fire_new(INSTALLED, findings), len(findings))


@schedule.periodic(f"rule:{STOCK}", every=EVERY)
def _stock_job() -> str:
    return expiry_stock_evaluate()


@schedule.periodic(f"rule:{INSTALLED}", every=EVERY)
def _installed_job() -> str:
    return expiry_installed_evaluate()
