"""The audit chain's status for the KPI dashboard (``kpi_series``): the last verification, the
checkpoints, and per period the entries written, the checkpoints signed and the failed
verifications.

The verification itself (``medtrace audit verify``, or the worker's daily
``rule:audit_chain_failed`` job, which alerts QA/RA when it fails) walks the whole chain and
is never run by a page. What the dashboard shows is its outcome: a failed verification leaves
an ``audit_chain_failed`` alert (live until QA concludes it), and the job records its last run
(``PeriodicRun``). So the status is **failed** while such an alert is live, else **verified**
when the last run verified, else **not verified yet** (no run: the worker is not running) or
**error** (the run itself failed).
"""

from __future__ import annotations

from typing import Any

from .kpi_series import Bucket, grouped_counts
from .kpis import Period

VERIFY_JOB = "rule:audit_chain_failed"


def _last_run() -> dict[str, Any] | None:
    from medtrace.alerts.models import PeriodicRun

    run = PeriodicRun.objects.filter(name=VERIFY_JOB).first()
    if run is None or run.last_finished_at is None:
        return None
    result = run.last_result or ""
    if "verified" in result:
        outcome = "verified"
    elif "problems" in result:
        outcome = "failed"
    elif "disabled" in result:
        outcome = "disabled"
    else:
        outcome = "error"
    return {"at": run.last_finished_at, "outcome": outcome, "result": result}


def status() -> dict[str, Any]:
    """The chain's head, its last checkpoint, the last verification and any live failure
    alert (five small queries)."""
    from medtrace.alerts import lifecycle
    from medtrace.alerts.models import Alert, AlertRuleKind
    from medtrace.audit.models import AuditCheckpoint, AuditHead

    head = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    checkpoints = AuditCheckpoint.objects.count()
    last = AuditCheckpoint.objects.order_by("-seq").values("seq", "at", "created_by").first()
    failure = (
        Alert.objects.filter(kind=AlertRuleKind.AUDIT_CHAIN_FAILED, status__in=lifecycle.LIVE)
        .order_by("-created_at", "-id")
        .values("id", "title", "created_at")
        .first()
    )
    run = _last_run()
    if failure is not None:
        state = "failed"
    elif run is None:
        state = "not_verified"
    elif run["outcome"] in ("verified", "failed", "disabled"):
        state = run["outcome"]
    else:
        state = "error"
    return {
        "state": state,
        "head_seq": head,
        "checkpoints": checkpoints,
        "last_checkpoint": last,
        "unsealed_entries": head - (last["seq"] if last else 0),
        "last_verification": run,
        "failure_alert": failure,
    }


def audit_chain(period: Period, granularity: str, bs: list[Bucket]) -> dict[str, Any]:
    from medtrace.alerts.models import Alert, AlertRuleKind
    from medtrace.audit.models import AuditCheckpoint, AuditEntry

    entries = grouped_counts(
        AuditEntry.objects.filter(at__gte=period.start, at__lt=period.end), "at", granularity
    )
    checkpoints = grouped_counts(
        AuditCheckpoint.objects.filter(at__gte=period.start, at__lt=period.end), "at", granularity
    )
    failures = grouped_counts(
        Alert.objects.filter(
            kind=AlertRuleKind.AUDIT_CHAIN_FAILED,
            created_at__gte=period.start,
            created_at__lt=period.end,
        ),
        "created_at",
        granularity,
    )
    return {
        **status(),
        "series": [
            {
                **b.as_dict(),
                "entries": entries.get((b.key,), 0),
                "checkpoints": checkpoints.get((b.key,), 0),
                "failed_verifications": failures.get((b.key,), 0),
            }
            for b in bs
        ],
    }
