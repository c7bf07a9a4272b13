"""After-sales and recall KPIs (issue 6 item 5), served by ``GET /api/v1/kpis``.

Each KPI is defined in the README ("KPIs"); the definitions below are the code of record:

- **Recall response time**, per real (not drill) campaign, in three legs:
  complaint received -> recall decision (the approval signature), decision -> every consignee
  notified, every consignee notified -> every consignee acknowledged. A campaign opened without a
  complaint has no first leg. Drills are reported apart (start -> all notified), so a rehearsal
  never flatters the real figure.
- **After-sales handling time**: a service ticket's opening to its resolution (the repaired
  device passed its test and was handed back).
- **Complaint closure time**: a complaint's receipt (the awareness time) to its signed closure.
- **Signal false-alarm rate**: complaint-signal alerts that QA dismissed as a false alarm, over
  the signal alerts QA has concluded (resolved or dismissed). Open alerts are counted, not rated.
- **Alert false-alarm rate**: the same for the alerts of every alert rule (issue 7), overall and
  per rule: dismissed as a false alarm over concluded (resolved or dismissed).

A duration counts in the period when it *ended* in it (a leg ended by all acknowledgements in
March is a March figure). Durations are summarised as count, median, mean and max in hours; each
KPI also carries a monthly series for the dashboard's charts. The rows read are the few thousand
documents of a period (campaigns, complaints, tickets), fetched as timestamp pairs in one query
each; no per-row queries.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import PermissionDenied, ValidationFailed

DEFAULT_PERIOD_DAYS = 365
MAX_PERIOD_DAYS = 3660
# The alert rule complaint_cluster; alerts raised before the alert rules carry the old kind.
SIGNAL_ALERT_KINDS = ("complaint_cluster", "complaint_signal")


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive
    end: datetime  # exclusive

    def as_dict(self) -> dict[str, str]:
        return {
            "from": self.start.date().isoformat(),
            "to": (self.end.date() - timedelta(1)).isoformat(),
        }


def period_from(start: date | None, end: date | None, *, today: date | None = None) -> Period:
    """The KPI period from inclusive dates (UTC days); the default is the last 365 days."""
    today = today or timezone.now().date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise ValidationFailed(
            f"'from' ({start.isoformat()}) is after 'to' ({end.isoformat()}); expected from <= to",
            field="from",
        )
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(
            f"The period spans {(end - start).days + 1} days; at most {MAX_PERIOD_DAYS} are "
            "summarised at once",
            field="from",
        )
    tz = timezone.get_current_timezone()
    return Period(
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _month(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m")


def summarise(pairs: Iterable[tuple[datetime | None, datetime | None]]) -> dict[str, Any]:
    """Count, median, mean and max (hours) of the finished intervals, plus a monthly series
    (by the month the interval ended) and how many are still running."""
    durations: list[float] = []
    by_month: dict[str, list[float]] = defaultdict(list)
    running = 0
    for begin, finish in pairs:
        if begin is None:
            continue
        if finish is None:
            running += 1
            continue
        value = _hours(max(finish - begin, timedelta(0)))
        durations.append(value)
        by_month[_month(finish)].append(value)
    return {
        "count": len(durations),
        "running": running,
        "median_hours": round(statistics.median(durations), 2) if durations else None,
        "mean_hours": round(statistics.fmean(durations), 2) if durations else None,
        "max_hours": max(durations) if durations else None,
        "series": [
            {
                "month": month,
                "count": len(values),
                "median_hours": round(statistics.median(values), 2),
            }
            for month, values in sorted(by_month.items())
        ],
    }


def _ended_in(period: Period, finish: datetime | None, begin: datetime | None) -> bool:
    """Finished intervals count in the period they ended in; running ones if they began before
    its end (they are still open work)."""
    if finish is not None:
        return period.start <= finish < period.end
    return begin is not None and begin < period.end


def recall_response(period: Period) -> dict[str, Any]:
    from medtrace.recalls.models import RecallCampaign

    rows = list(
        RecallCampaign.objects.filter(created_at__lt=period.end)
        .values_list(
            "number",
            "drill",
            "complaint__received_at",
            "decision_at",
            "opened_at",
            "all_notified_at",
            "all_acknowledged_at",
        )
        .order_by("id")
    )
    real = [r for r in rows if not r[1]]
    legs: dict[str, list[tuple[datetime | None, datetime | None]]] = {
        "complaint_to_decision": [(r[2], r[3]) for r in real if r[2] is not None],
        "decision_to_all_notified": [(r[3], r[5]) for r in real],
        "all_notified_to_all_acknowledged": [(r[5], r[6]) for r in real],
    }
    out: dict[str, Any] = {
        name: summarise((b, f) for b, f in pairs if _ended_in(period, f, b))
        for name, pairs in legs.items()
    }
    out["drills"] = summarise((r[4], r[5]) for r in rows if r[1] and _ended_in(period, r[5], r[4]))
    out["campaigns"] = [
        {
            "number": r[0],
            "drill": r[1],
            "complaint_to_decision_hours": _leg(r[2], r[3]),
            "decision_to_all_notified_hours": _leg(r[3], r[5]),
            "all_notified_to_all_acknowledged_hours": _leg(r[5], r[6]),
        }
        for r in rows
        if any(_ended_in(period, f, b) for b, f in ((r[2], r[3]), (r[3], r[5]), (r[5], r[6])))
        or (r[1] and _ended_in(period, r[5], r[4]))
    ]
    return out


def _leg(begin: datetime | None, finish: datetime | None) -> float | None:
    return _hours(finish - begin) if begin is not None and finish is not None else None


def after_sales_handling(period: Period) -> dict[str, Any]:
    from medtrace.service.models_lifecycle import ServiceTicket

    pairs = ServiceTicket.objects.filter(opened_at__lt=period.end).values_list(
        "opened_at", "resolved_at"
    )
    return summarise((b, f) for b, f in pairs if _ended_in(period, f, b))


def complaint_closure(period: Period) -> dict[str, Any]:
    from medtrace.complaints.models import Complaint

    pairs = Complaint.objects.filter(received_at__lt=period.end).values_list(
        "received_at", "closed_at"
    )
    return summarise((b, f) for b, f in pairs if _ended_in(period, f, b))


def _false_alarms(period: Period, kinds: Iterable[str]) -> dict[str, Any]:
    """Alerts of ``kinds`` raised in the period, by kind, status and month (one query)."""
    from medtrace.alerts.models import Alert, AlertStatus

    counts: dict[str, int] = defaultdict(int)
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = Alert.objects.filter(
        kind__in=list(kinds), created_at__gte=period.start, created_at__lt=period.end
    ).values_list("kind", "status", "created_at")
    for kind, status, created in rows:
        counts[status] += 1
        by_kind[kind][status] += 1
        by_month[_month(created)][status] += 1
    dismissed = counts[AlertStatus.DISMISSED]
    return {
        "alerts": sum(counts.values()),
        "open": counts[AlertStatus.OPEN] + counts[AlertStatus.ACKNOWLEDGED],
        "resolved": counts[AlertStatus.RESOLVED],
        "dismissed_false": dismissed,
        "rate": _rate(dismissed, counts[AlertStatus.RESOLVED]),
        "by_kind": {
            kind: {
                "alerts": sum(c.values()),
                "dismissed_false": c[AlertStatus.DISMISSED],
                "rate": _rate(c[AlertStatus.DISMISSED], c[AlertStatus.RESOLVED]),
            }
            for kind, c in sorted(by_kind.items())
        },
        "series": [
            {
                "month": month,
                "alerts": sum(c.values()),
                "dismissed_false": c[AlertStatus.DISMISSED],
                "rate": _rate(c[AlertStatus.DISMISSED], c[AlertStatus.RESOLVED]),
            }
            for month, c in sorted(by_month.items())
        ],
    }


def signal_false_alarm_rate(period: Period) -> dict[str, Any]:
    result = _false_alarms(period, SIGNAL_ALERT_KINDS)
    del result["by_kind"]
    return result


def alert_false_alarm_rate(period: Period) -> dict[str, Any]:
    """Every alert rule's alerts (``alerts.models.AlertRuleKind``), overall and per rule."""
    from medtrace.alerts.models import AlertRuleKind

    return _false_alarms(period, AlertRuleKind.values)


def _rate(dismissed: int, resolved: int) -> float | None:
    return round(dismissed / (dismissed + resolved), 4) if dismissed + resolved else None


def kpis(
    *, user: User | None, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Every KPI of the period. Company-wide figures: internal staff only."""
    if scoping.is_partner(user):
        raise PermissionDenied("KPIs are company-wide figures; partner accounts cannot read them")
    period = period_from(start, end)
    return {
        "period": period.as_dict(),
        "recall_response_time": recall_response(period),
        "after_sales_handling_time": after_sales_handling(period),
        "complaint_closure_time": complaint_closure(period),
        "signal_false_alarm_rate": signal_false_alarm_rate(period),
        "alert_false_alarm_rate": alert_false_alarm_rate(period),
    }
