"""The trace-quality KPIs, per period (``kpi_series``): trace-data completeness and
serial-binding accuracy. Definitions (README "KPIs"):

- **Trace-data completeness**: of the serialized units of our products first seen (made) in a
  period, the share that has every lifecycle node its current stage requires, as of now:

  ===========================  ============================================================
  the unit                     requires
  ===========================  ============================================================
  any                          a commissioning event (production)
  out of our hands (held by    its QC release (a release of the unit or its lot, or a
  another party, or in         conformant inspecting event naming it: quality) and its
  transit)                     shipment (a shipment line, or a shipping event naming it or
                               a case or pallet it was packed in: distribution)
  held by a customer (not in   its receipt (a receipt of its shipment line, or a receiving
  transit)                     event naming it or its case or pallet)
  ===========================  ============================================================

  A unit still in production, awaiting inspection or in our stock is not incomplete: what it
  has not reached yet is not required of it. The missing nodes are counted per kind, so a gap
  can be found.
- **Serial-binding accuracy**: of the binding scans of a period (events that give a unit its
  serial or bind serials together: commissioning, assembling, packing, repackaging), the share
  neither refused nor corrected: ``(bindings - corrected) / (bindings + refused)``, where
  *corrected* are binding events later retracted by an errorDeclaration (counted in the
  period of the retracted event) and *refused* are the events that EPCIS capture jobs of the
  period refused (``event_count - captured_count`` of finished jobs).

One grouped query for completeness (the flags of every unit of the period as indexed probes,
only where the unit's stage needs them, grouped by period and flags), and three grouped queries
for the binding accuracy.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)

from medtrace.errors import ValidationFailed

from .kpi_series import Bucket, grouped_counts, key_of, rate, trunc
from .kpis import Period

BINDING_STEPS = ("commissioning", "assembling", "packing", "repackaging")
SHIPPING_STEPS = ("shipping",)
RECEIVING_STEPS = ("receiving", "accepting")
NODES = ("commissioning", "release", "shipment", "receipt")
FLAGS = ("commissioned", "released", "shipped", "received", "away", "at_customer")
SAMPLE = 20


def _ours() -> list[str]:
    from medtrace.warehouse.selectors import our_ids

    try:
        return our_ids()
    except ValidationFailed:  # no own company in master data yet: every holder is another
        return []


def _flags() -> dict[str, Any]:
    """The per-unit flags, as boolean expressions over ``UnitState``: correlated probes of
    indexed columns (an index-driven plan whatever the size of the ledger: its cost follows the
    units of the period). The release, shipment and receipt probes run only for the units whose
    stage requires them (``CASE``), so a unit still in our hands costs one probe.

    Measured on the 100k-unit benchmark (bench/RESULTS.md): about 50-70 us a unit. Set-based
    variants (uncorrelated IN over the period's units, or materialized CTEs joined to them) were
    slower there: the planner re-selected the period's units for every flag, or mis-estimated
    the CTEs and hashed the whole event table."""
    from medtrace.distribution.models import ShipmentItem
    from medtrace.ledger.models import EdgeKind, EventEpc, GenealogyEdge
    from medtrace.warehouse.selectors import IN_TRANSIT, released_q

    def step(ref: str, steps: tuple[str, ...], **more: Any) -> Exists:
        return Exists(EventEpc.objects.filter(epc=OuterRef(ref), event__biz_step__in=steps, **more))

    def carried(steps: tuple[str, ...]) -> Q:
        """An event of ``steps`` naming the unit, or a case or pallet it was packed in (two
        levels: a case on a pallet)."""
        pallet = GenealogyEdge.objects.filter(
            child=OuterRef("parent"), kind=EdgeKind.AGGREGATED
        ).filter(step("parent", steps))
        box = GenealogyEdge.objects.filter(child=OuterRef("epc"), kind=EdgeKind.AGGREGATED).filter(
            Q(step("parent", steps)) | Q(Exists(pallet))
        )
        return Q(step("epc", steps)) | Q(Exists(box))

    def when(condition: Q, probe: Q) -> Case:
        return Case(
            When(condition, then=ExpressionWrapper(probe, output_field=BooleanField())),
            default=Value(None),
            output_field=BooleanField(),
        )

    ours = _ours()
    elsewhere = (
        Q(possessing_party__isnull=False) & ~Q(possessing_party="") & ~Q(possessing_party__in=ours)
    )
    in_transit = Q(disposition=IN_TRANSIT)
    away = elsewhere | in_transit
    at_customer = elsewhere & (Q(disposition__isnull=True) | ~in_transit)
    item = ShipmentItem.objects.filter(epc=OuterRef("epc"))
    return {
        "commissioned": step("epc", ("commissioning",)),
        "released": when(
            away,
            released_q() | Q(step("epc", ("inspecting",), event__disposition="conformant")),
        ),
        "shipped": when(away, Q(Exists(item)) | carried(SHIPPING_STEPS)),
        "received": when(
            at_customer,
            Q(Exists(item.filter(receipt__isnull=False))) | carried(RECEIVING_STEPS),
        ),
        "away": ExpressionWrapper(away, output_field=BooleanField()),
        "at_customer": ExpressionWrapper(at_customer, output_field=BooleanField()),
    }


def missing_nodes(row: dict[str, Any]) -> list[str]:
    """The nodes a unit with these flags lacks (empty: complete)."""
    missing = []
    if not row["commissioned"]:
        missing.append("commissioning")
    if row["away"]:
        if not row["released"]:
            missing.append("release")
        if not row["shipped"]:
            missing.append("shipment")
    if row["at_customer"] and not row["received"]:
        missing.append("receipt")
    return missing


def _units(period: Period) -> Any:
    from medtrace.ledger.models import UnitState

    return UnitState.objects.filter(
        serial__isnull=False,
        product__isnull=False,
        first_event_time__gte=period.start,
        first_event_time__lt=period.end,
    )


def completeness(period: Period, granularity: str, bs: list[Bucket]) -> dict[str, Any]:
    flags = _flags()
    rows = (
        _units(period)
        .annotate(_period=trunc("first_event_time", granularity), **flags)
        .values("_period", *flags)
        .annotate(n=Count("epc"))
        .order_by()
    )
    units: dict[str, int] = defaultdict(int)
    complete: dict[str, int] = defaultdict(int)
    missing: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(NODES, 0))
    for row in rows:
        key = key_of(row["_period"], granularity)
        units[key] += row["n"]
        gaps = missing_nodes(row)
        if not gaps:
            complete[key] += row["n"]
        for node in gaps:
            missing[key][node] += row["n"]
    total, whole = sum(units.values()), sum(complete.values())
    return {
        "units": total,
        "complete": whole,
        "rate": rate(whole, total),
        "missing": {n: sum(m[n] for m in missing.values()) for n in NODES},
        "series": [
            {
                **b.as_dict(),
                "units": units.get(b.key, 0),
                "complete": complete.get(b.key, 0),
                "rate": rate(complete.get(b.key, 0), units.get(b.key, 0)),
                "missing": missing[b.key] if b.key in missing else dict.fromkeys(NODES, 0),
            }
            for b in bs
        ],
    }


def incomplete_units(period: Period, *, limit: int = SAMPLE) -> list[dict[str, Any]]:
    """The most recently made units of the period lacking a node, with what they lack (one
    query; for the dashboard's list of examples)."""
    missing_any = Q(commissioned=False) | Q(released=False) | Q(shipped=False) | Q(received=False)
    rows = (
        _units(period)
        .annotate(**_flags())
        .filter(missing_any)
        .values("epc", "serial", "product__name", "first_event_time", *FLAGS)
        .order_by("-first_event_time", "epc")[:limit]
    )
    return [
        {
            "epc": r["epc"],
            "serial": r["serial"],
            "product": r["product__name"],
            "made_at": r["first_event_time"],
            "missing": missing_nodes(r),
        }
        for r in rows
    ]


def binding_accuracy(period: Period, granularity: str, bs: list[Bucket]) -> dict[str, Any]:
    from medtrace.ledger.models import CaptureJob, Event, EventRetraction

    bindings = grouped_counts(
        Event.objects.filter(
            biz_step__in=BINDING_STEPS, event_time__gte=period.start, event_time__lt=period.end
        ),
        "event_time",
        granularity,
    )
    corrected = grouped_counts(
        EventRetraction.objects.filter(
            event__biz_step__in=BINDING_STEPS,
            event__event_time__gte=period.start,
            event__event_time__lt=period.end,
        ),
        "event__event_time",
        granularity,
    )
    refused: dict[str, int] = defaultdict(int)
    for row in (
        CaptureJob.objects.filter(
            running=False,
            created_at__gte=period.start,
            created_at__lt=period.end,
            event_count__gt=F("captured_count"),
        )
        .annotate(_period=trunc("created_at", granularity))
        .values("_period")
        .annotate(n=Sum(F("event_count") - F("captured_count")))
        .order_by()
    ):
        refused[key_of(row["_period"], granularity)] += row["n"] or 0
    series: list[dict[str, Any]] = []
    for b in bs:
        made, fixed, refusals = (
            bindings.get((b.key,), 0),
            corrected.get((b.key,), 0),
            refused.get(b.key, 0),
        )
        series.append(
            {
                **b.as_dict(),
                "bindings": made,
                "corrected": fixed,
                "refused": refusals,
                "rate": rate(made - fixed, made + refusals),
            }
        )
    made = sum(s["bindings"] for s in series)
    fixed = sum(s["corrected"] for s in series)
    refusals = sum(s["refused"] for s in series)
    return {
        "bindings": made,
        "corrected": fixed,
        "refused": refusals,
        "rate": rate(made - fixed, made + refusals),
        "series": series,
    }
