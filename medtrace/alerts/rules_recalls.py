"""Rule ``recall_unacknowledged``: a recall notice sent to a consignee and still not acknowledged
past its deadline escalates, one level after another.

Periodic (``rule:recall_unacknowledged``, every 15 minutes); one query over the notices that are
sent, unacknowledged and past their deadline (``RecallNotice.deadline_at``, the "acknowledge by"
the notice prints) by more than the rule's ``threshold`` hours.

Levels: level 1 goes to the rule's own recipients (its role and/or user) once the notice is
``threshold`` hours overdue; level *n* goes to the role ``params["escalation"][n - 1]`` another
``params["repeat_hours"]`` hours later each (default ``["qa_ra", "admin"]``, 24 h: QA/RA at
the deadline, the administrators a day later). Each (notice, level) alerts once (dedupe key
``notice:<id>:level:<n>``); a worker that was down fires every level that fell due meanwhile.
An acknowledgement stops the escalation: the notice no longer matches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from . import rules, schedule
from .models import AlertRuleKind, AlertSeverity
from .rules_support import Finding, fire_new, key, summary

KIND = AlertRuleKind.RECALL_UNACKNOWLEDGED
EVERY = timedelta(minutes=15)


def _hours(value: Any, default: float) -> float:
    try:
        hours = float(value)
    except (TypeError, ValueError):
        return default
    return hours if hours > 0 else default


def levels_due(
    deadline: datetime, now: datetime, *, after: timedelta, repeat: timedelta, levels: int
) -> int:
    """How many escalation levels have fallen due for a notice with ``deadline`` at ``now``."""
    start = deadline + after
    if now < start:
        return 0
    return min(levels, 1 + int((now - start) / repeat))


def recall_unacknowledged_evaluate(*, now: datetime | None = None) -> str:
    """Escalate the notices that are overdue at ``now``."""
    from medtrace.recalls.models import NoticeStatus, RecallNotice

    config = rules.rule(KIND)
    if not config.enabled:
        return f"{KIND}: disabled"
    now = now or timezone.now()
    after = timedelta(hours=float(config.threshold or 0))
    repeat = timedelta(hours=_hours(config.params.get("repeat_hours"), 24.0))
    escalation = [str(r) for r in config.params.get("escalation") or []]
    levels = max(1, len(escalation))
    notices = (
        RecallNotice.objects.filter(
            status=NoticeStatus.SENT,
            acknowledged_at__isnull=True,
            deadline_at__isnull=False,
            deadline_at__lte=now - after,
        )
        .select_related("campaign", "consignee")
        .order_by("deadline_at", "pk")
    )
    findings = []
    for notice in notices:
        assert notice.deadline_at is not None
        due = levels_due(notice.deadline_at, now, after=after, repeat=repeat, levels=levels)
        overdue_hours = int((now - notice.deadline_at).total_seconds() // 3600)
        campaign = notice.campaign
        for level in range(1, due + 1):
            role = None if level == 1 else escalation[level - 1]
            values = {
                "notice": notice.number,
                "consignee": notice.consignee.name,
                "recall": campaign.number,
                "title": campaign.title,
                "deadline": timezone.localtime(notice.deadline_at).strftime("%Y-%m-%d %H:%M"),
                "hours": overdue_hours,
                "level": level,
                "units": notice.unit_count,
            }
            title = (
                _(
                    "Recall notice %(notice)s to %(consignee)s not acknowledged (%(hours)s h past "
                    "the deadline; escalation level %(level)s)"
                )
                % values
            )
            if notice.drill:
                title = _("Drill: %(title)s") % {"title": title}
            findings.append(
                Finding(
                    key=key("notice", notice.pk, "level", level),
                    title=title,
                    message=_(
                        "%(consignee)s has not acknowledged recall notice %(notice)s (recall "
                        "%(recall)s, %(title)s; %(units)s units) that was due by %(deadline)s. "
                        "Contact the consignee and make sure the notice reached the right "
                        "person; the escalation goes up one level every time it stays "
                        "unanswered."
                    )
                    % values,
                    evidence={
                        "notice": {
                            "id": notice.pk,
                            "number": notice.number,
                            "sent_at": notice.sent_at.isoformat() if notice.sent_at else None,
                            "deadline_at": notice.deadline_at.isoformat(),
                            "units": notice.unit_count,
                        },
                        "consignee": {
                            "id": notice.consignee_id,
                            "name": notice.consignee.name,
                            "gln": notice.consignee.gln or None,
                        },
                        "recall": {
                            "id": campaign.pk,
                            "number": campaign.number,
                            "title": campaign.title,
                        },
                        "drill": notice.drill,
                        "level": level,
                        "levels": levels,
                        "overdue_hours": overdue_hours,
                    },
                    object_type="recalls.recallnotice",
                    object_id=str(notice.pk),
                    severity=AlertSeverity.CRITICAL if level > 1 else None,
                    recipient_role=role,
                )
            )
    return summary(KIND, fire_new(KIND, findings), len(findings))


@schedule.periodic(f"rule:{KIND}", every=EVERY)
def _job() -> str:
    return recall_unacknowledged_evaluate()
