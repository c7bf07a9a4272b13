"""What the readings cover, and which limits they break (set-based; nothing is written here).

Targets: whatever was scanned (any UDI form, an SSCC, a lot) becomes the identifier the ledger
uses. A case or pallet counts by what it holds now (``lifecycle.selectors.contents``): its units
are evaluated against their products' profiles. A lot is evaluated against its product's.

An excursion is a (profile, measurement, bound) broken by at least one reading: it keeps the
worst reading and when, the first and last reading outside, how many were outside, and the
units and lots of that profile's product the event covers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound
from medtrace.ledger.identifiers import EpcResolver, products_by_di
from medtrace.ledger.models import EdgeKind, EventQuantity, GenealogyEdge, UnitState
from medtrace.lifecycle import rules
from medtrace.lifecycle.selectors import contents
from medtrace.masterdata.models import Location
from medtrace.trace.kinds import epc_kind, is_class_level
from medtrace.trace.selectors import resolve_target

from .models import Bound, ConditionProfile, Measurement, ProfilePhase
from .readings import Problem, Reading


@dataclass
class Targets:
    """Resolved targets: ``listed`` in the order given (what the event names)."""

    listed: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)  # units and containers, as listed
    classes: list[str] = field(default_factory=list)  # lots, as listed
    product_of: dict[str, int | None] = field(default_factory=dict)  # units (incl. contents), lots
    container_of: dict[str, str] = field(default_factory=dict)  # unit inside -> listed container

    @property
    def covered(self) -> list[str]:
        """The units and lots the readings apply to (a container by its contents)."""
        return [epc for epc in self.product_of]


def resolve_texts(
    texts: Sequence[str], *, user: User | None, field: str = "targets"
) -> tuple[dict[str, str], list[Problem]]:
    """Each distinct text -> its ledger identifier; unknown or unreadable ones as problems.

    EPC URNs are checked in two queries whatever their number; other forms (scans) go through
    ``trace.selectors.resolve_target`` one by one (a station scans a handful)."""
    out: dict[str, str] = {}
    problems: list[Problem] = []
    wanted = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    urns = [t for t in wanted if t.startswith("urn:")]
    instances = [u for u in urns if not is_class_level(epc_kind(u))]
    lots = [u for u in urns if is_class_level(epc_kind(u))]
    known = set(UnitState.objects.filter(epc__in=instances).values_list("epc", flat=True))
    known |= set(
        EventQuantity.objects.filter(epc_class__in=lots)
        .values_list("epc_class", flat=True)
        .distinct()
    )
    for index, text in enumerate(wanted):
        if text in known:
            out[text] = text
            continue
        try:
            target = resolve_target(text, user=user)
        except MedtraceError as exc:
            problems.append(Problem(f"{field}[{index}]", exc.message, value=text))
            continue
        if target.kind not in ("serial", "container", "lot", "class"):
            problems.append(
                Problem(
                    f"{field}[{index}]",
                    _("%(epc)s is not a unit, case, pallet or lot") % {"epc": target.epc},
                    value=text,
                )
            )
            continue
        out[text] = target.epc
    return out, problems


def contents_during(
    containers: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[str]]:
    """What each case or pallet held at any time from ``start`` to ``end``, at every depth
    (one recursive CTE over the aggregation edges, each window cut to its parent's).

    A logger file is imported after the trip, when the pallet may be unpacked already: its
    readings concern what was inside while they were taken, not what is inside now.
    """
    wanted = list(dict.fromkeys(containers))
    out: dict[str, list[str]] = {epc: [] for epc in wanted}
    if not wanted:
        return out
    table = GenealogyEdge._meta.db_table
    marks = ", ".join(["%s"] * len(wanted))
    sql = f"""
        WITH RECURSIVE inside(root, child, depth) AS (
            SELECT parent, child, 1 FROM {table}
             WHERE parent IN ({marks}) AND kind = %s
               AND valid_from <= %s AND (valid_to IS NULL OR valid_to >= %s)
            UNION
            SELECT inside.root, g.child, inside.depth + 1
              FROM {table} g JOIN inside ON g.parent = inside.child
             WHERE g.kind = %s AND inside.depth < 16
               AND g.valid_from <= %s AND (g.valid_to IS NULL OR g.valid_to >= %s)
        )
        SELECT root, child FROM inside ORDER BY root, depth, child
    """
    kind = EdgeKind.AGGREGATED
    with connection.cursor() as cursor:
        cursor.execute(sql, [*wanted, kind, end, start, kind, end, start])
        for root, child in cursor.fetchall():
            if child not in out[root]:
                out[root].append(child)
    return out


def expand(
    listed: Iterable[str], *, start: datetime | None = None, end: datetime | None = None
) -> Targets:
    """Units inside the listed containers (now, or from ``start`` to ``end``), and the product
    of every unit and lot (4-5 queries)."""
    result = Targets(listed=list(dict.fromkeys(listed)))
    for epc in result.listed:
        (result.classes if is_class_level(epc_kind(epc)) else result.instances).append(epc)
    containers = [e for e in result.instances if epc_kind(e) == "container"]
    if not containers:
        inside: dict[str, list[str]] = {}
    elif start is not None and end is not None:
        inside = contents_during(containers, start, end)
    else:
        inside = contents(containers)
    units = [e for e in result.instances if epc_kind(e) != "container"]
    for container, children in inside.items():
        for child in children:
            if epc_kind(child) == "container":
                continue
            if is_class_level(epc_kind(child)):
                result.product_of.setdefault(child, None)
                result.container_of.setdefault(child, container)
                continue
            units.append(child)
            result.container_of.setdefault(child, container)
    states = dict(
        UnitState.objects.filter(epc__in=list(dict.fromkeys(units))).values_list(
            "epc", "product_id"
        )
    )
    for unit in dict.fromkeys(units):
        result.product_of[unit] = states.get(unit)
    lots = [
        *result.classes,
        *(c for c, p in result.product_of.items() if is_class_level(epc_kind(c))),
    ]
    if lots:
        resolver = EpcResolver()
        dis = {lot: resolver.facts(lot).di for lot in lots}
        by_di = products_by_di({d for d in dis.values() if d})
        for lot in lots:
            di = dis[lot]
            result.product_of[lot] = by_di.get(di) if di else None
    return result


def refusals(targets: Targets) -> list[Problem]:
    """A scrapped unit takes no readings (and could not be held if they broke a limit)."""
    refused = rules.refusals(rules.Step.HOLD, targets.instances)
    return [
        Problem(
            "targets",
            _("%(unit)s %(reason)s") % {"unit": r.label, "reason": r.reasons[0]["message"]},
            value=r.epc,
        )
        for r in refused
    ]


def location_get(text: str | int | None, *, field: str = "location") -> Location:
    """Our location by id, code, GLN or SGLN (URN)."""
    value = str(text or "").strip()
    if not value:
        raise NotFound(_("location: give the location (code, GLN or SGLN)"), field=field)
    query = Q(code=value) | Q(sgln=value)
    if value.isdigit() and len(value) == 13:
        query |= Q(gln=value, extension="")
    elif value.isdigit():
        query |= Q(pk=int(value))
    found = list(Location.objects.filter(query, active=True).select_related("party")[:2])
    if len(found) != 1:
        message = (
            _("location: %(value)r names several locations; use its SGLN")
            if found
            else _("location: no active location is known as %(value)r (code, GLN or SGLN)")
        )
        raise NotFound(message % {"value": value}, field=field)
    return found[0]


# Limits ----------------------------------------------------------------------------------------


@dataclass
class Breach:
    profile: ConditionProfile
    measurement: str
    bound: str
    limit: Decimal
    value: Decimal
    at: datetime
    first_at: datetime
    last_at: datetime
    readings: int
    targets: list[str]  # affected units and lots
    containers: list[str]  # listed cases/pallets holding affected units

    @property
    def unit(self) -> str:
        return "°C" if self.measurement == Measurement.TEMPERATURE else "%RH"


def profiles_for(product_ids: Iterable[int | None], phase: str) -> list[ConditionProfile]:
    ids = {p for p in product_ids if p is not None}
    if not ids:
        return []
    return list(
        ConditionProfile.objects.filter(
            product_id__in=ids, active=True, phase__in=[phase, ProfilePhase.ALL]
        )
        .select_related("product")
        .order_by("product_id", "pk")
    )


def _outside(bound: str, value: Decimal, limit: Decimal) -> bool:
    return value < limit if bound == Bound.MIN else value > limit


def evaluate(readings: Sequence[Reading], targets: Targets, phase: str) -> list[Breach]:
    """Every limit the readings break, for the units and lots they cover (set-based)."""
    by_product: dict[int, list[str]] = defaultdict(list)
    for epc, product in targets.product_of.items():
        if product is not None:
            by_product[product].append(epc)
    breaches: list[Breach] = []
    series = {
        kind: sorted((r for r in readings if r.measurement == kind), key=lambda r: r.time)
        for kind in Measurement.values
    }
    for profile in profiles_for(by_product, phase):
        for kind in Measurement.values:
            for bound in Bound.values:
                limit = profile.limit(kind, bound)
                if limit is None:
                    continue
                out = [r for r in series[kind] if _outside(bound, r.value, limit)]
                if not out:
                    continue
                pick = min if bound == Bound.MIN else max
                worst = pick(out, key=lambda r: r.value)
                worst = next(r for r in out if r.value == worst.value)  # the first such reading
                affected = by_product[profile.product_id]
                containers = list(
                    dict.fromkeys(
                        targets.container_of[e] for e in affected if e in targets.container_of
                    )
                )
                breaches.append(
                    Breach(
                        profile=profile,
                        measurement=kind,
                        bound=bound,
                        limit=limit,
                        value=worst.value,
                        at=worst.time,
                        first_at=out[0].time,
                        last_at=out[-1].time,
                        readings=len(out),
                        targets=list(affected),
                        containers=containers,
                    )
                )
    return breaches


def group_by_targets(breaches: Sequence[Breach]) -> list[list[Breach]]:
    """Breaches affecting the same units and lots: one nonconformance each group."""
    groups: dict[frozenset[str], list[Breach]] = {}
    for breach in breaches:
        groups.setdefault(frozenset(breach.targets), []).append(breach)
    return list(groups.values())
