"""KPIs per week or month, for the KPI dashboard's charts (issue 8 item 5) and
``GET /api/v1/kpis/series``.

The definitions are those of ``kpis.py`` and the README ("KPIs"), plus the trace-quality KPIs
of ``kpi_trace.py`` (trace-data completeness, serial-binding accuracy) and the audit chain's
status. Every KPI is computed for all the periods at once: one grouped query (``Trunc`` of the
timestamp in the server's time zone) or one fetch of the few timestamp pairs it needs, then
bucketed in Python; a handful of queries per KPI, whatever the number of periods.

A period is a calendar month or an ISO week (Monday to Sunday) in the server's time zone
(``TIME_ZONE``); the first and last periods are cut to the requested range. Each series lists
every period of the range, with ``None`` where a rate or a median has nothing to measure.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc
from django.utils import timezone

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import PermissionDenied, ValidationFailed

from .kpis import Period, period_from

GRANULARITIES = ("week", "month")
MAX_BUCKETS = 120


@dataclass(frozen=True)
class Bucket:
    key: str  # "2026-03" (month) or the Monday "2026-03-02" (week)
    label: str  # "2026-03" or "03-02"
    start: datetime  # inclusive, cut to the period
    end: datetime  # exclusive, cut to the period

    def as_dict(self) -> dict[str, str]:
        return {
            "period": self.key,
            "from": timezone.localtime(self.start).date().isoformat(),
            "to": (timezone.localtime(self.end).date() - timedelta(days=1)).isoformat(),
        }


def _check_granularity(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValidationFailed(
            f"granularity: expected one of {', '.join(GRANULARITIES)}, got {granularity!r}",
            field="granularity",
        )


def _first_of(day: date, granularity: str) -> date:
    if granularity == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def _next(day: date, granularity: str) -> date:
    if granularity == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=7)


def key_of_day(day: date, granularity: str) -> str:
    first = _first_of(day, granularity)
    return first.strftime("%Y-%m") if granularity == "month" else first.isoformat()


def key_of(moment: datetime | date, granularity: str) -> str:
    """The period key of a timestamp (local time) or of a ``Trunc`` result."""
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment) if timezone.is_aware(moment) else moment
        moment = moment.date()
    return key_of_day(moment, granularity)


def buckets(period: Period, granularity: str) -> list[Bucket]:
    """The periods of ``period``, oldest first; the first and last cut to it."""
    _check_granularity(granularity)
    tz = timezone.get_current_timezone()
    first_day = timezone.localtime(period.start).date()
    last_day = timezone.localtime(period.end).date() - timedelta(days=1)
    out: list[Bucket] = []
    day = _first_of(first_day, granularity)
    while day <= last_day:
        following = _next(day, granularity)
        start = max(datetime.combine(day, datetime.min.time(), tzinfo=tz), period.start)
        end = min(datetime.combine(following, datetime.min.time(), tzinfo=tz), period.end)
        key = key_of_day(day, granularity)
        label = key if granularity == "month" else day.strftime("%m-%d")
        out.append(Bucket(key, label, start, end))
        if len(out) > MAX_BUCKETS:
            raise ValidationFailed(
                f"The range has more than {MAX_BUCKETS} {granularity}s; choose a shorter range "
                "or granularity=month",
                field="granularity",
            )
        day = following
    return out


def trunc(field: str, granularity: str) -> Trunc:
    """The SQL period of ``field`` (server time zone), for grouped counts."""
    return Trunc(field, granularity, tzinfo=timezone.get_current_timezone())


def grouped_counts(
    qs: QuerySet[Any], field: str, granularity: str, *by: str
) -> dict[tuple[Any, ...], int]:
    """``{(period key, *by values): count}`` of ``qs`` grouped by the period of ``field``."""
    out: dict[tuple[Any, ...], int] = defaultdict(int)
    rows = (
        qs.annotate(_period=trunc(field, granularity))
        .values("_period", *by)
        .annotate(_n=Count("pk"))
        .order_by()
    )
    for row in rows:
        out[(key_of(row["_period"], granularity), *(row[b] for b in by))] += row["_n"]
    return out


def hours(begin: datetime, finish: datetime) -> float:
    return round(max((finish - begin).total_seconds(), 0) / 3600, 2)


def durations_by_bucket(
    pairs: Iterable[tuple[datetime | None, datetime | None]],
    period: Period,
    granularity: str,
) -> dict[str, list[float]]:
    """Finished intervals (hours) by the period they *ended* in (the README's rule)."""
    out: dict[str, list[float]] = defaultdict(list)
    for begin, finish in pairs:
        if begin is None or finish is None or not period.start <= finish < period.end:
            continue
        out[key_of(finish, granularity)].append(hours(begin, finish))
    return out


def duration_point(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median_hours": round(statistics.median(values), 2) if values else None,
        "mean_hours": round(statistics.fmean(values), 2) if values else None,
    }


def rate(bad: int, total: int) -> float | None:
    return round(bad / total, 4) if total else None


# Recall response time ---------------------------------------------------------------------------

LEGS = ("complaint_to_decision", "decision_to_all_notified", "all_notified_to_all_acknowledged")


def recall_response(period: Period, granularity: str, bs: list[Bucket]) -> dict[str, Any]:
    """Each leg's median per period (by the period the leg ended in); drills apart. One query:
    the campaigns' timestamps."""
    from medtrace.recalls.models import RecallCampaign

    rows = list(
        RecallCampaign.objects.filter(
            Q(decision_at__lt=period.end) | Q(opened_at__lt=period.end)
        ).values_list(
            "drill",
            "complaint__received_at",
            "decision_at",
            "opened_at",
            "all_notified_at",
            "all_acknowledged_at",
        )
    )
    real = [r for r in rows if not r[0]]
    legs = {
        "complaint_to_decision": durations_by_bucket(
            ((r[1], r[2]) for r in real), period, granularity
        ),
        "decision_to_all_notified": durations_by_bucket(
            ((r[2], r[4]) for r in real), period, granularity
        ),
        "all_notified_to_all_acknowledged": durations_by_bucket(
            ((r[4], r[5]) for r in real), period, granularity
        ),
    }
    drills = durations_by_bucket(((r[3], r[4]) for r in rows if r[0]), period, granularity)
    return {
        "series": [
            {
                **b.as_dict(),
                **{leg: duration_point(legs[leg].get(b.key, [])) for leg in LEGS},
                "drills": duration_point(drills.get(b.key, [])),
            }
            for b in bs
        ],
        "running": sum(1 for r in real if r[2] is not None and r[4] is None and r[2] < period.end),
    }


# After-sales handling time ----------------------------------------------------------------------


def after_sales(period: Period, granularity: str, bs: list[Bucket]) -> dict[str, Any]:
    """Tickets resolved in each period: count, median and mean opening -> resolution. Two
    queries: the resolved tickets' timestamp pairs, and the count still open."""
    from medtrace.service.models_lifecycle import ServiceTicket

    pairs = ServiceTicket.objects.filter(
        resolved_at__gte=period.start, resolved_at__lt=period.end
    ).values_list("opened_at", "resolved_at")
    by = durations_by_bucket(pairs, period, granularity)
    running = ServiceTicket.objects.filter(
        resolved_at__isnull=True, opened_at__lt=period.end
    ).count()
    return {
        "series": [{**b.as_dict(), **duration_point(by.get(b.key, []))} for b in bs],
        "running": running,
    }


# False-alarm rate -------------------------------------------------------------------------------


def false_alarms(period: Period, granularity: str, bs: list[Bucket]) -> dict[str, Any]:
    """Alerts of every rule raised in each period, by status: dismissed as a false alarm over
    concluded (resolved + dismissed). One grouped query."""
    from medtrace.alerts.models import Alert, AlertRuleKind, AlertStatus

    counts = grouped_counts(
        Alert.objects.filter(
            kind__in=AlertRuleKind.values,
            created_at__gte=period.start,
            created_at__lt=period.end,
        ),
        "created_at",
        granularity,
        "status",
    )
    series = []
    for b in bs:
        by = {s: counts.get((b.key, s), 0) for s in AlertStatus.values}
        dismissed, resolved = by[AlertStatus.DISMISSED], by[AlertStatus.RESOLVED]
        series.append(
            {
                **b.as_dict(),
                "alerts": sum(by.values()),
                "open": by[AlertStatus.OPEN] + by[AlertStatus.ACKNOWLEDGED],
                "resolved": resolved,
                "dismissed_false": dismissed,
                "rate": rate(dismissed, dismissed + resolved),
            }
        )
    return {"series": series}


# The series of every KPI ------------------------------------------------------------------------


def kpi_series(
    *,
    user: User | None,
    start: date | None = None,
    end: date | None = None,
    granularity: str = "month",
) -> dict[str, Any]:
    """Every KPI per period of the range (default: the last 365 days, by month). Company-wide
    figures: internal staff only."""
    from . import kpi_audit, kpi_trace

    if scoping.is_partner(user):
        raise PermissionDenied("KPIs are company-wide figures; partner accounts cannot read them")
    _check_granularity(granularity)
    period = period_from(start, end)
    bs = buckets(period, granularity)
    return {
        "period": period.as_dict(),
        "granularity": granularity,
        "periods": [b.as_dict() for b in bs],
        "trace_completeness": kpi_trace.completeness(period, granularity, bs),
        "serial_binding_accuracy": kpi_trace.binding_accuracy(period, granularity, bs),
        "recall_response_time": recall_response(period, granularity, bs),
        "after_sales_handling_time": after_sales(period, granularity, bs),
        "alert_false_alarm_rate": false_alarms(period, granularity, bs),
        "audit_chain": kpi_audit.audit_chain(period, granularity, bs),
    }
