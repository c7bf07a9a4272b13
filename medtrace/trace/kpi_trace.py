"""The trace-quality KPIs, per period (``kpi_series``): trace-data completeness and
serial-binding accuracy. Definitions (README "KPIs"):

- **Trace-data completeness**: of the serialized units of our products first seen (made) in a
  period, the share that has every lifecycle node its current stage requires, as of now:

  ===========================  ============================================================
  the unit                     requires
  ===========================  ============================================================
  any                          a commissioning event (production)
  shipped, or out of our       its QC release (of the unit or its lot: quality) and a
  hands (held by another       shipment (a shipment line or a shipping event naming it:
  party, or in transit)        distribution)
  held by a customer (not in   its receipt by the customer (a receipt of its shipment line,
  transit)                     or a receiving event naming it)
  ===========================  ============================================================

  A unit still in production or awaiting inspection is not incomplete: what it has not reached
  yet is not required of it. The missing nodes are counted per kind, so a gap can be found.
- **Serial-binding accuracy**: of the binding scans of a period (events that give a unit its
  serial or bind serials together: commissioning, assembling, packing, repackaging), the share
  neither refused nor corrected: ``(bindings - corrected) / (bindings + refused)``, where
  *corrected* are binding events later retracted by an errorDeclaration (counted in the
  period of the retracted event) and *refused* are the events that EPCIS capture jobs of the
  period refused (``event_count - captured_count`` of finished jobs).

One grouped query each for completeness (the flags of every unit as EXISTS probes on indexed
columns, grouped by period and flags, so each probe runs once per unit), and three grouped
queries for the binding accuracy.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
)

from medtrace.errors import ValidationFailed

from .kpi_series import Bucket, grouped_counts, key_of, rate, trunc
from .kpis import Period

BINDING_STEPS = ("commissioning", "assembling", "packing", "repackaging")
RECEIVING_STEPS = ("receiving", "accepting")
NODES = ("commissioning", "release", "shipment", "receipt")
SAMPLE = 20


def _flags() -> dict[str, Any]:
    """The per-unit flags, as boolean expressions over ``UnitState`` (``OuterRef("epc")``)."""
    from medtrace.distribution.models import ShipmentItem
    from medtrace.ledger.models import EventEpc
    from medtrace.warehouse.selectors import IN_TRANSIT, our_ids, released_q

    try:
        ours = our_ids()
    except ValidationFailed:  # no own company in master data yet: every holder is another
        ours = []

    def step(*steps: str) -> Exists:
        return Exists(EventEpc.objects.filter(epc=OuterRef("epc"), event__biz_step__in=steps))

    def boolean(condition: Q) -> ExpressionWrapper:
        return ExpressionWrapper(condition, output_field=BooleanField())

    elsewhere = (
        Q(possessing_party__isnull=False) & ~Q(possessing_party="") & ~Q(possessing_party__in=ours)
    )
    in_transit = Q(disposition=IN_TRANSIT)
    return {
        "commissioned": step("commissioning"),
        "released": boolean(released_q()),
        "shipped": boolean(
            Q(Exists(ShipmentItem.objects.filter(epc=OuterRef("epc")))) | Q(step("shipping"))
        ),
        "received": boolean(
            Q(Exists(ShipmentItem.objects.filter(epc=OuterRef("epc"), receipt__isnull=False)))
            | Q(step(*RECEIVING_STEPS))
        ),
        "away": boolean(elsewhere | in_transit),
        "at_customer": boolean(elsewhere & ~in_transit),
    }


def missing_nodes(row: dict[str, Any]) -> list[str]:
    """The nodes a unit with these flags lacks (empty: complete)."""
    missing = []
    if not row["commissioned"]:
        missing.append("commissioning")
    if row["away"] or row["shipped"]:
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
    flags = _flags()
    missing_any = (
        ~Q(commissioned=True)
        | ((Q(away=True) | Q(shipped=True)) & (Q(released=False) | Q(shipped=False)))
        | (Q(at_customer=True) & Q(received=False))
    )
    rows = (
        _units(period)
        .annotate(**flags)
        .filter(missing_any)
        .values("epc", "serial", "product__name", "first_event_time", *flags)
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
