"""Warehouse reads: what is available (the state machine's PICK answer, set-based), FEFO,
stock on hand, container contents, pick lists and stock count reconciliation.

``available_q`` is the state machine's "may this unit be picked" (``lifecycle.rules``, step
PICK) written as one SQL condition over ``UnitState``, ``quality.Hold`` and
``quality.ReleaseItem``: commissioned (a ``UnitState`` row), released (unit or lot), not held,
quarantined or recalled (unit or lot, open holds), not expired, not in transit, not scrapped,
and in our possession. ``fefo_candidates`` orders the available units and still asks
``rules.refusals`` about the ones it returns, so the two can never disagree about a unit it
hands out (tests/test_picking.py holds the SQL against the rules, reason by reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from medtrace.accounts.scoping import party_identifiers
from medtrace.errors import NotFound
from medtrace.ledger.models import EdgeKind, GenealogyEdge, UnitState
from medtrace.lifecycle import rules
from medtrace.lifecycle.selectors import contents, with_contents
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.models import Location, Product
from medtrace.quality.models import Hold, ReleaseItem

from .common import STORAGE_KINDS, label_of, location_sglns, places, where_text
from .models import (
    Container,
    Pick,
    PickList,
    PickListStatus,
    StockCount,
    StockCountScan,
    StockCountStatus,
    StockMove,
)

IN_TRANSIT = "in_transit"
_BLOCKING_DISPOSITIONS = (IN_TRANSIT, "recalled", *rules.SCRAPPED_DISPOSITIONS)


def our_ids() -> list[str]:
    """Every identifier under which the ledger names us or one of our places."""
    return sorted(party_identifiers(own_party()))


def _open_hold(**match: Any) -> Exists:
    return Exists(Hold.objects.filter(lifted_at__isnull=True, **match))


def held_q() -> Q:
    """An open hold, quarantine or recall hold on the unit or its lot, or a recalled unit."""
    lot_hold = Hold.objects.filter(
        lifted_at__isnull=True, gtin=OuterRef("gtin"), lot=OuterRef("lot")
    ).exclude(gtin="")
    return _open_hold(target=OuterRef("epc")) | Exists(lot_hold) | Q(disposition="recalled")


def released_q() -> Q:
    lot_release = ReleaseItem.objects.filter(gtin=OuterRef("gtin"), lot=OuterRef("lot")).exclude(
        gtin=""
    )
    return Exists(ReleaseItem.objects.filter(target=OuterRef("epc"))) | Exists(lot_release)


def in_stock_q() -> Q:
    """A serialized unit that is still here: not shipped away, not scrapped, not built into
    another unit."""
    return (
        Q(serial__isnull=False)
        & Q(installed_in__isnull=True)
        & (
            Q(disposition__isnull=True)
            | ~Q(disposition__in=[IN_TRANSIT, *rules.SCRAPPED_DISPOSITIONS])
        )
        & (Q(biz_step__isnull=True) | ~Q(biz_step__in=list(rules.SCRAPPED_STEPS)))
    )


def available_q(*, today: date | None = None, ours: Iterable[str] | None = None) -> Q:
    """The state machine's PICK answer for a UnitState row, as one SQL condition."""
    today = today or timezone.localdate()
    ids = list(ours) if ours is not None else our_ids()
    return (
        Q(serial__isnull=False)
        & Q(installed_in__isnull=True)
        & (Q(disposition__isnull=True) | ~Q(disposition__in=list(_BLOCKING_DISPOSITIONS)))
        & (Q(biz_step__isnull=True) | ~Q(biz_step__in=list(rules.SCRAPPED_STEPS)))
        & (Q(expiry__isnull=True) | Q(expiry__gte=today))
        & (Q(possessing_party__isnull=True) | Q(possessing_party="") | Q(possessing_party__in=ids))
        & ~held_q()
        & released_q()
    )


def available_units(
    *,
    product: Product | int | None = None,
    location: Location | None = None,
    today: date | None = None,
) -> QuerySet[UnitState]:
    qs = UnitState.objects.filter(available_q(today=today))
    if product is not None:
        qs = qs.filter(product_id=product.pk if isinstance(product, Product) else product)
    if location is not None:
        qs = qs.filter(biz_location__in=location_sglns(location))
    return qs


def fefo_candidates(
    product: Product | int,
    quantity: int,
    location: Location | None = None,
    *,
    exclude: Iterable[str] = (),
    today: date | None = None,
) -> list[UnitState]:
    """Up to ``quantity`` available units of ``product`` (at ``location`` and the locations
    inside it), first expiry first out, then the oldest commissioned; units already picked
    for a pick list and ``exclude`` are left out. The rows are ``UnitState`` objects."""
    today = today or timezone.localdate()
    qs = (
        available_units(product=product, location=location, today=today)
        .exclude(epc__in=Pick.objects.filter(active=True).values("epc"))
        .order_by(F("expiry").asc(nulls_last=True), "first_event_time", "epc")
    )
    # A hold on a case or pallet holds what is in it: picking it means scanning the case,
    # which the state machine refuses (``common.check_step``), so its units are not proposed.
    open_targets = Hold.objects.filter(lifted_at__isnull=True).values("target")
    held_boxes = UnitState.objects.filter(
        Q(epc__in=open_targets) | Q(container__in=open_targets), epc__startswith="urn:epc:id:sscc:"
    ).values("epc")
    qs = qs.exclude(container__in=held_boxes)
    skip = list(dict.fromkeys(exclude))
    if skip:
        qs = qs.exclude(epc__in=skip)
    out: list[UnitState] = []
    offset = 0
    while len(out) < quantity:
        size = max(quantity - len(out), 50)
        chunk = list(qs[offset : offset + size])
        if not chunk:
            break
        offset += len(chunk)
        refused = {
            r.epc for r in rules.refusals(rules.Step.PICK, [s.epc for s in chunk], today=today)
        }
        out.extend(s for s in chunk if s.epc not in refused)
    return out[:quantity]


# Stock on hand ---------------------------------------------------------------------------------


def storage_locations() -> list[Location]:
    return list(Location.objects.filter(party=own_party(), kind__in=STORAGE_KINDS).order_by("code"))


def stock_on_hand(
    *,
    product: Product | None = None,
    location: Location | None = None,
    today: date | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Units at our warehouse and bin locations, by product, location, lot and expiry: how
    many are on hand, how many may be picked, and how many are held, expired or unreleased."""
    today = today or timezone.localdate()
    if location is not None:
        sglns = location_sglns(location)
    else:
        sglns = [loc.sgln for loc in storage_locations()]
    qs = UnitState.objects.filter(in_stock_q(), biz_location__in=sglns)
    if product is not None:
        qs = qs.filter(product=product)
    rows = list(
        qs.values("product_id", "biz_location", "lot", "expiry")
        .annotate(
            on_hand=Count("epc"),
            available=Count("epc", filter=available_q(today=today)),
            held=Count("epc", filter=held_q()),
            expired=Count("epc", filter=Q(expiry__lt=today)),
            unreleased=Count("epc", filter=~released_q()),
        )
        .order_by("product_id", "biz_location", F("expiry").asc(nulls_last=True), "lot")[:limit]
    )
    products = Product.objects.in_bulk({r["product_id"] for r in rows if r["product_id"]})
    by_sgln = places()
    for row in rows:
        row["product"] = products.get(row["product_id"])
        row["location"] = by_sgln.get(row["biz_location"])
    return rows


# Containers ------------------------------------------------------------------------------------


@dataclass
class ContainerView:
    container: Container
    state: UnitState | None
    children: list[UnitState]  # directly inside
    units: list[UnitState]  # every serialized unit inside, at any depth
    where: str
    parent: str | None
    summary: list[dict[str, Any]] = field(default_factory=list)  # per product / lot

    @property
    def unit_count(self) -> int:
        return len(self.units)


def container_view(container: Container) -> ContainerView:
    """What a case or pallet holds now (one recursive CTE), where it is and what is in it per
    product and lot, with the earliest expiry (the logistic label shows this)."""
    everything = contents([container.epc])[container.epc]
    direct = set(
        GenealogyEdge.objects.filter(
            parent=container.epc, kind=EdgeKind.AGGREGATED, valid_to__isnull=True
        ).values_list("child", flat=True)
    )
    states = {
        s.epc: s
        for s in UnitState.objects.filter(epc__in=[container.epc, *everything]).select_related(
            "product"
        )
    }
    units = [states[e] for e in everything if e in states and states[e].serial]
    children = [states[e] for e in everything if e in direct and e in states]
    groups: dict[tuple[int | None, str], dict[str, Any]] = {}
    for unit in units:
        key = (unit.product_id, unit.lot or "")
        group = groups.setdefault(
            key, {"product": unit.product, "lot": unit.lot or "", "count": 0, "expiry": None}
        )
        group["count"] += 1
        if unit.expiry and (group["expiry"] is None or unit.expiry < group["expiry"]):
            group["expiry"] = unit.expiry
    state = states.get(container.epc)
    return ContainerView(
        container=container,
        state=state,
        children=children,
        units=units,
        where=where_text(state, places()) if state is not None else "",
        parent=state.container if state is not None else None,
        summary=list(groups.values()),
    )


def recent_containers(limit: int = 20) -> list[Container]:
    return list(Container.objects.order_by("-created_at", "-id")[:limit])


# Documents -------------------------------------------------------------------------------------


def _by_id_or_number(model: Any, value: str | int, what: str) -> Any:
    text = str(value).strip()
    qs = model.objects.all()
    found = (
        qs.filter(pk=int(text)).first()
        if text.isascii() and text.isdigit()
        else qs.filter(number=text).first()
    )
    if found is None:
        raise NotFound(f"No {what} {text}", field="id")
    return found


def pick_list_get(value: str | int) -> PickList:
    return _by_id_or_number(PickList, value, "pick list")


def stock_count_get(value: str | int) -> StockCount:
    return _by_id_or_number(StockCount, value, "stock count")


def stock_move_get(value: str | int) -> StockMove:
    return _by_id_or_number(StockMove, value, "stock move")


def open_pick_lists(limit: int = 50) -> list[PickList]:
    return list(
        PickList.objects.filter(status=PickListStatus.OPEN)
        .select_related("product", "location")
        .annotate(picked=Count("picks"))
        .order_by("created_at", "id")[:limit]
    )


def pick_lists(*, status: str | None = None, limit: int = 100) -> list[PickList]:
    qs = PickList.objects.select_related("product", "location").annotate(picked=Count("picks"))
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("-created_at", "-id")[:limit])


def recent_moves(limit: int = 20) -> list[StockMove]:
    return list(
        StockMove.objects.select_related("to_location", "from_location")
        .annotate(item_count=Count("items"))
        .order_by("-created_at", "-id")[:limit]
    )


def stock_counts(limit: int = 50) -> list[StockCount]:
    return list(
        StockCount.objects.select_related("location")
        .annotate(scan_count=Count("scans"))
        .order_by("-created_at", "-id")[:limit]
    )


@dataclass
class PickListView:
    pick_list: PickList
    picks: list[Pick]
    remaining: int
    proposal: list[UnitState]
    where: dict[str, str]  # epc -> where the proposed unit is


def pick_list_view(pick_list: PickList) -> PickListView:
    """The pick list, what was picked, and the FEFO proposal for the rest."""
    picks = list(pick_list.picks.order_by("picked_at", "id"))
    remaining = max(pick_list.quantity - len(picks), 0)
    proposal: list[UnitState] = []
    if remaining and pick_list.status == PickListStatus.OPEN:
        proposal = fefo_candidates(pick_list.product_id, remaining, pick_list.location)
    by_sgln = places()
    where = {s.epc: where_text(s, by_sgln) for s in proposal}
    return PickListView(pick_list, picks, remaining, proposal, where)


# Stock counts ----------------------------------------------------------------------------------


@dataclass
class CountRow:
    epc: str
    label: str
    state: UnitState | None
    result: str
    where: str = ""
    container: str = ""
    note: str = ""


@dataclass
class Reconciliation:
    matched: list[CountRow]
    missing: list[CountRow]
    unexpected: list[CountRow]
    scanned: list[str]  # what was scanned (units and containers), in scan order

    @property
    def rows(self) -> list[CountRow]:
        return [*self.missing, *self.unexpected, *self.matched]


def expected_at(location: Location) -> QuerySet[UnitState]:
    """What the ledger has at ``location`` (and the locations inside it) now: units, and the
    containers that hold something."""
    filled = GenealogyEdge.objects.filter(
        parent=OuterRef("epc"), kind=EdgeKind.AGGREGATED, valid_to__isnull=True
    )
    still_here = (
        Q(installed_in__isnull=True)
        & (
            Q(disposition__isnull=True)
            | ~Q(disposition__in=[IN_TRANSIT, *rules.SCRAPPED_DISPOSITIONS])
        )
        & (Q(biz_step__isnull=True) | ~Q(biz_step__in=list(rules.SCRAPPED_STEPS)))
    )
    return UnitState.objects.filter(
        still_here,
        Q(serial__isnull=False) | (Q(epc__startswith="urn:epc:id:sscc:") & Exists(filled)),
        biz_location__in=location_sglns(location),
    )


def stock_count_preview(count: StockCount) -> Reconciliation:
    """The count's scans (with everything inside scanned containers) against the ledger:
    matched, missing (the ledger has it here, nobody found it) and unexpected (found here, the
    ledger has it elsewhere: where)."""
    scanned = list(
        StockCountScan.objects.filter(count=count).order_by("id").values_list("epc", flat=True)
    )
    boxes = [e for e in scanned if e.startswith("urn:epc:id:sscc:")]
    inside = contents(boxes) if boxes else {}
    found = with_contents(scanned)
    expected = {s.epc: s for s in expected_at(count.location)}
    others = {
        s.epc: s for s in UnitState.objects.filter(epc__in=[e for e in found if e not in expected])
    }
    by_sgln = places()
    matched: list[CountRow] = []
    unexpected: list[CountRow] = []
    found_set = set(found)

    def row(epc: str, state: UnitState | None, result: str, note: str = "") -> CountRow:
        box = (state.container or "") if state is not None else ""
        where = where_text(state, by_sgln)
        return CountRow(epc, label_of(epc, state), state, result, where, box, note)

    for epc in found:
        if epc in inside and not inside[epc] and epc not in expected:
            continue  # an empty case or pallet is packaging, not stock
        if epc in expected:
            state = expected[epc]
            note = ""
            if state.container and state.container not in found_set:
                note = f"found outside {label_of(state.container)}"
            matched.append(row(epc, state, "matched", note))
        else:
            unexpected.append(row(epc, others.get(epc), "unexpected"))
    missing = [
        row(epc, state, "missing")
        for epc, state in sorted(expected.items(), key=lambda kv: label_of(kv[0], kv[1]))
        if epc not in found_set
    ]
    return Reconciliation(matched, missing, unexpected, scanned)


def open_counts() -> list[StockCount]:
    return list(
        StockCount.objects.filter(status=StockCountStatus.OPEN)
        .select_related("location")
        .order_by("created_at")
    )


def container_label(container: Container, fmt: str) -> tuple[bytes, str]:
    """The GS1 logistic label of a case or pallet as PDF or PNG (``labels``)."""
    from django.utils.translation import gettext as _

    from medtrace.errors import ValidationFailed

    from . import labels

    view = container_view(container)
    lines: list[tuple[str, str]] = []
    for group in view.summary[:3]:
        product = group["product"]
        name = f"{product.name} {product.model}" if product is not None else "?"
        lines.append((_("Content"), f"{name} × {group['count']}"))
        if group["lot"]:
            lines.append((_("Lot (10)"), group["lot"]))
        if group["expiry"]:
            lines.append((_("Expiry (17)"), group["expiry"].isoformat()))
    if len(view.summary) > 3:
        lines.append(("", _("and %(n)d more products or lots") % {"n": len(view.summary) - 3}))
    lines.append((_("Count (37)"), str(view.unit_count)))
    party = own_party()
    label = labels.LogisticLabel(
        sscc=container.sscc,
        sender=party.name,
        sender_address=party.address,
        level=container.get_level_display(),
        lines=lines,
        packed_on=timezone.localtime(container.closed_at or container.created_at).date(),
    )
    try:
        return labels.render(label, fmt)
    except labels.LabelError as exc:
        raise ValidationFailed(str(exc), field="format") from exc
