"""Rule recall_unacknowledged: a sent notice unacknowledged past its deadline escalates to QA/RA,
then a day later to the administrators; once per level; never before the deadline, after an
acknowledgement, or with the rule off."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from medtrace.alerts import schedule
from medtrace.alerts.models import Alert, AlertRule
from medtrace.alerts.rules_recalls import recall_unacknowledged_evaluate
from medtrace.recalls.models import RecallNotice
from medtrace.recalls.responses import notice_acknowledge
from medtrace.recalls.tests.factories import R, recall_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def r(db: None) -> R:
    return recall_world()


def _notice(r: R) -> RecallNotice:
    r.at(r.w.hospital, "SN-1", "SN-2")
    campaign = r.approved(r.open(serials=[r.w.device_sn("SN-1"), r.w.device_sn("SN-2")]))
    (notice,) = r.notified(campaign)
    notice.refresh_from_db()
    assert notice.status == "sent" and notice.deadline_at is not None
    return notice


def _alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind="recall_unacknowledged").order_by("pk"))


def test_an_overdue_notice_escalates_to_qa_then_to_the_administrators(r: R) -> None:
    notice = _notice(r)
    deadline = notice.deadline_at
    assert deadline is not None

    recall_unacknowledged_evaluate(now=deadline - timedelta(minutes=1))
    assert _alerts() == []

    recall_unacknowledged_evaluate(now=deadline + timedelta(hours=1))
    (first,) = _alerts()
    assert (first.recipient_role, first.severity) == ("qa_ra", "critical")
    assert first.dedupe_key == f"notice:{notice.pk}:level:1"
    assert first.evidence["notice"]["number"] == notice.number
    assert first.evidence["consignee"]["name"] == r.w.hospital.name
    assert first.evidence["level"] == 1 and first.evidence["notice"]["units"] == 2
    assert first.object_type == "recalls.recallnotice" and first.object_id == str(notice.pk)
    assert notice.number in first.title and "level 1" in first.title

    recall_unacknowledged_evaluate(now=deadline + timedelta(hours=2))
    assert len(_alerts()) == 1  # no duplicate on re-evaluation

    recall_unacknowledged_evaluate(now=deadline + timedelta(hours=25))
    _first, second = _alerts()
    assert (second.recipient_role, second.evidence["level"]) == ("admin", 2)
    assert second.recipient_user is None

    recall_unacknowledged_evaluate(now=deadline + timedelta(days=10))
    assert len(_alerts()) == 2  # two levels configured: nothing above the administrators


def test_a_worker_that_was_down_fires_every_level_that_fell_due(r: R) -> None:
    notice = _notice(r)
    assert notice.deadline_at is not None
    recall_unacknowledged_evaluate(now=notice.deadline_at + timedelta(hours=30))
    assert [a.recipient_role for a in _alerts()] == ["qa_ra", "admin"]


def test_an_acknowledged_notice_does_not_escalate(r: R) -> None:
    notice = _notice(r)
    assert notice.deadline_at is not None
    notice_acknowledge(notice=notice, user=r.d.hospital_user, note="Received; quarantining")

    recall_unacknowledged_evaluate(now=notice.deadline_at + timedelta(hours=30))

    assert _alerts() == []


def test_below_the_threshold_or_disabled_nothing_fires(r: R) -> None:
    notice = _notice(r)
    assert notice.deadline_at is not None
    AlertRule.objects.filter(kind="recall_unacknowledged").update(threshold=Decimal(48))
    recall_unacknowledged_evaluate(now=notice.deadline_at + timedelta(hours=30))
    assert _alerts() == []

    AlertRule.objects.filter(kind="recall_unacknowledged").update(enabled=False, threshold=0)
    recall_unacknowledged_evaluate(now=notice.deadline_at + timedelta(hours=30))
    assert _alerts() == []


def test_the_escalation_levels_and_their_interval_are_configurable(r: R) -> None:
    notice = _notice(r)
    assert notice.deadline_at is not None
    AlertRule.objects.filter(kind="recall_unacknowledged").update(
        params={"escalation": ["qa_ra", "sales", "admin"], "repeat_hours": 4}
    )

    recall_unacknowledged_evaluate(now=notice.deadline_at + timedelta(hours=5))

    assert [a.recipient_role for a in _alerts()] == ["qa_ra", "sales"]


def test_the_periodic_job_escalates_the_notices_overdue_now(r: R) -> None:
    notice = _notice(r)
    RecallNotice.objects.filter(pk=notice.pk).update(
        deadline_at=notice.created_at - timedelta(hours=2)
    )

    ran = schedule.run_due(only="rule:recall_unacknowledged")

    assert ran == {"rule:recall_unacknowledged": "recall_unacknowledged: 1 found, 1 new alerts"}
