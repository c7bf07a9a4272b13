"""Conditions reads: profiles, records, excursions, and the excursions shown on a unit timeline.

Condition records are the maker's own quality data: a partner user sees none of them (an
empty list; a record by number is "not found", as for anything outside its scope).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.accounts.scoping import unscoped_nothing, visible_or_404

from .models import (
    Bound,
    ConditionProfile,
    ConditionRecord,
    Excursion,
    ExcursionTarget,
    Measurement,
    number_text,
    range_text,
)


def profile_list(
    *, user: User | None, product_id: int | None = None, active: bool | None = None
) -> QuerySet[ConditionProfile]:
    qs = ConditionProfile.objects.select_related("product").order_by("product_id", "phase", "pk")
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if active is not None:
        qs = qs.filter(active=active)
    return unscoped_nothing(user, qs)


def profile_get(*, user: User | None, pk: int) -> ConditionProfile:
    return visible_or_404(profile_list(user=user), "condition profile", pk=pk)


def record_list(*, user: User | None, limit: int = 50) -> QuerySet[ConditionRecord]:
    qs = ConditionRecord.objects.select_related(
        "location", "event", "attachment", "recorded_by"
    ).order_by("-recorded_at", "-pk")
    return unscoped_nothing(user, qs)[: max(1, min(limit, 500))]


def record_get(*, user: User | None, number: str) -> ConditionRecord:
    qs = ConditionRecord.objects.select_related("location", "event", "attachment", "recorded_by")
    return visible_or_404(unscoped_nothing(user, qs), "condition record", number=number)


def excursion_list(
    *, user: User | None, records: Iterable[int] | None = None, limit: int = 100
) -> list[Excursion]:
    qs = Excursion.objects.select_related("record", "product", "profile", "event").order_by(
        "-created_at", "-pk"
    )
    if records is not None:
        qs = qs.filter(record_id__in=list(records))
    return list(unscoped_nothing(user, qs)[: max(1, min(limit, 1000))])


def excursion_targets(excursions: Iterable[Excursion]) -> dict[int, list[str]]:
    """The affected units and lots of each excursion (one query)."""
    out: dict[int, list[str]] = defaultdict(list)
    ids = [e.pk for e in excursions]
    for excursion_id, epc in (
        ExcursionTarget.objects.filter(excursion_id__in=ids, container=False)
        .order_by("pk")
        .values_list("excursion_id", "epc")
    ):
        out[excursion_id].append(epc)
    return out


def _label(measurement: str) -> str:
    return _("Temperature") if measurement == Measurement.TEMPERATURE else _("Relative humidity")


def excursion_dict(excursion: Excursion) -> dict[str, Any]:
    """An excursion as the API and the timeline show it."""
    profile = excursion.profile
    low = profile.limit(excursion.measurement, Bound.MIN)
    high = profile.limit(excursion.measurement, Bound.MAX)
    unit = excursion.unit
    limit = range_text(low, high, unit)
    text = _("%(label)s %(value)s %(unit)s (limit %(limit)s)") % {
        "label": _label(excursion.measurement),
        "value": number_text(excursion.value),
        "unit": unit,
        "limit": limit,
    }
    if excursion.readings > 1:
        text += _(", %(n)d readings outside") % {"n": excursion.readings}
    if excursion.nonconformance:
        text += _(" — excursion %(nc)s") % {"nc": excursion.nonconformance}
    else:
        text += _(" — excursion")
    return {
        "record": excursion.record.number,
        "measurement": excursion.measurement,
        "bound": excursion.bound,
        "limit": float(excursion.limit),
        "limits": limit,
        "value": float(excursion.value),
        "unit": unit,
        "at": excursion.at,
        "first_at": excursion.first_at,
        "last_at": excursion.last_at,
        "readings": excursion.readings,
        "phase": profile.phase,
        "product": {
            "id": excursion.product_id,
            "name": excursion.product.name,
            "model": excursion.product.model,
        },
        "location": excursion.location_label,
        "nonconformance": excursion.nonconformance or None,
        "text": text,
    }


def excursions_for_timeline(event_pks: Iterable[int], epc: str) -> dict[int, list[dict[str, Any]]]:
    """The excursions of these events that affect ``epc`` (a unit, lot, or a case whose
    contents they affect), by event pk: one query, whatever the number of events."""
    pks = list(dict.fromkeys(event_pks))
    if not pks:
        return {}
    rows = (
        Excursion.objects.filter(event_id__in=pks, targets__epc=epc)
        .select_related("record", "product", "profile")
        .order_by("event_id", "measurement", "bound", "pk")
        .distinct()
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for excursion in rows:
        item = excursion_dict(excursion)
        for key in ("at", "first_at", "last_at"):
            item[key] = item[key].isoformat()  # the timeline is plain JSON data
        out[excursion.event_id].append(item)
    return dict(out)


def record_readings(record: ConditionRecord) -> list[dict[str, Any]]:
    """The readings of a record, read back from its ledger event (one row per reading time)."""
    rows = []
    for element in record.event.document.get("sensorElementList", []):
        meta = element.get("sensorMetadata", {})
        if "time" not in meta:
            continue
        row: dict[str, Any] = {"time": meta["time"]}
        for report in element.get("sensorReport", []):
            if report.get("type") == "Temperature":
                row["temperature"] = report.get("value")
            elif report.get("type") == "RelativeHumidity":
                row["humidity"] = report.get("value")
        rows.append(row)
    return rows


__all__ = [
    "excursion_dict",
    "excursion_list",
    "excursion_targets",
    "excursions_for_timeline",
    "profile_get",
    "profile_list",
    "record_get",
    "record_list",
    "record_readings",
]
