"""Rule complaint_cluster: the complaint signals (complaints.signals, counted per SignalRule) are
raised through the alert rule, whose switch, recipients, severity and e-mail apply."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.alerts.models import Alert, AlertRule, AlertStatus, OutboxMessage
from medtrace.complaints import services
from medtrace.complaints.models import ComplaintSignal
from medtrace.complaints.tests.factories import C, complaints_world, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def c() -> C:
    return complaints_world()


def _complain(c: C, serial: str, **extra: Any) -> Any:
    return services.complaint_create(
        udi=c.udi(serial), description="Alarm", complainant_name="Ward", user=c.qa, **extra
    )


def _clusters() -> list[Alert]:
    return list(Alert.objects.filter(kind="complaint_cluster").order_by("pk"))


def test_a_cluster_alerts_the_rules_recipients_by_email_with_the_evidence(c: C) -> None:
    lead = staff("qa_lead", "qa_ra")
    lead.email = "lead@example.com"
    lead.save()
    AlertRule.objects.filter(kind="complaint_cluster").update(recipient_user=lead)
    c.unit("SN-1", lot="L1")
    c.unit("SN-2", lot="L1")
    _complain(c, "SN-1")

    done = _complain(c, "SN-2")

    (alert,) = _clusters()
    assert (alert.recipient_role, alert.recipient_user) == ("qa_ra", lead)
    assert alert.severity == "warning"
    assert alert.dedupe_key == f"lot:{c.lot_class('L1')}"
    assert alert.evidence["count"] == 2 and alert.evidence["lot_number"] == "L1"
    assert done.signals[0].alert == alert
    mail = OutboxMessage.objects.get(handler="email")
    assert mail.payload["to"] == ["lead@example.com"]


def test_a_further_complaint_joins_the_signal_without_a_second_alert(c: C) -> None:
    for serial in ("SN-1", "SN-2", "SN-3"):
        c.unit(serial, lot="L1")
    _complain(c, "SN-1")
    _complain(c, "SN-2")

    _complain(c, "SN-3")

    (alert,) = _clusters()
    (signal,) = ComplaintSignal.objects.all()
    assert signal.alert == alert and signal.evidence["count"] == 3


def test_an_injury_makes_the_cluster_critical(c: C) -> None:
    c.unit("SN-1", lot="L1")
    c.unit("SN-2", lot="L1")
    _complain(c, "SN-1")

    _complain(c, "SN-2", injury=True)

    (alert,) = _clusters()
    assert alert.severity == "critical"


def test_below_the_signal_threshold_nothing_fires(c: C) -> None:
    c.unit("SN-1", lot="L1")
    c.unit("SN-2", lot="L2")
    _complain(c, "SN-1")
    _complain(c, "SN-2")
    assert _clusters() == []


def test_a_disabled_rule_raises_no_alert_and_opens_no_signal(c: C) -> None:
    AlertRule.objects.filter(kind="complaint_cluster").update(enabled=False)
    c.unit("SN-1", lot="L1")
    c.unit("SN-2", lot="L1")
    _complain(c, "SN-1")
    _complain(c, "SN-2")
    assert _clusters() == [] and not ComplaintSignal.objects.exists()


def test_the_rules_dimensions_choose_which_signal_rules_count(c: C) -> None:
    AlertRule.objects.filter(kind="complaint_cluster").update(
        params={"dimensions": ["component_lot"]}
    )
    c.unit("SN-1", lot="L1")
    c.unit("SN-2", lot="L1")
    _complain(c, "SN-1")
    _complain(c, "SN-2")
    assert _clusters() == []


def test_after_qa_concludes_a_signal_the_next_cluster_is_a_new_alert(c: C) -> None:
    for serial in ("SN-1", "SN-2", "SN-3"):
        c.unit(serial, lot="L1")
    _complain(c, "SN-1")
    _complain(c, "SN-2")
    Alert.objects.filter(kind="complaint_cluster").update(status=AlertStatus.DISMISSED)

    _complain(c, "SN-3")

    first, second = _clusters()
    assert second.evidence["count"] == 3 and second.dedupe_key == first.dedupe_key
