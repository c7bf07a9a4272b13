"""KPI definitions (issue 6 item 5) on rows with known timestamps: each leg of the recall
response time, after-sales handling, complaint closure and the signal false-alarm rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client

from medtrace.accounts.models import User
from medtrace.alerts.models import Alert, AlertStatus
from medtrace.complaints.models import Complaint
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Party
from medtrace.recalls.models import RecallCampaign
from medtrace.service.models_lifecycle import ServiceTicket
from medtrace.trace import kpis

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _complaint(number: str, received: datetime, closed: datetime | None = None) -> Complaint:
    return Complaint.objects.create(
        number=number,
        status="closed" if closed else "open",
        channel="ui",
        received_at=received,
        udi_text="(01)09506000134352(21)S1",
        description="alarm",
        reportable=False if closed else None,
        closed_at=closed,
    )


def _campaign(number: str, **fields: object) -> RecallCampaign:
    return RecallCampaign.objects.create(
        number=number, title="t", reason="r", status="open", scope_kind="lot", **fields
    )


def _period() -> kpis.Period:
    return kpis.period_from(date(2026, 1, 1), date(2026, 12, 31))


def test_each_leg_of_the_recall_response_time_is_measured_from_its_own_start() -> None:
    complaint = _complaint("CMP-1", T0)
    _campaign(
        "RC-1",
        complaint=complaint,
        decision_at=T0 + timedelta(hours=30),
        opened_at=T0 + timedelta(hours=29),
        all_notified_at=T0 + timedelta(hours=34),
        all_acknowledged_at=T0 + timedelta(hours=82),
    )
    result = kpis.recall_response(_period())
    assert result["complaint_to_decision"]["median_hours"] == 30.0
    assert result["decision_to_all_notified"]["median_hours"] == 4.0
    assert result["all_notified_to_all_acknowledged"]["median_hours"] == 48.0
    assert result["campaigns"][0]["number"] == "RC-1"
    assert result["complaint_to_decision"]["series"] == [
        {"month": "2026-03", "count": 1, "median_hours": 30.0}
    ]


def test_a_drill_is_reported_apart_and_never_counts_as_a_real_recall() -> None:
    _campaign(
        "RC-D",
        drill=True,
        decision_at=T0,
        opened_at=T0,
        all_notified_at=T0 + timedelta(minutes=90),
    )
    result = kpis.recall_response(_period())
    assert result["decision_to_all_notified"]["count"] == 0
    assert result["drills"]["count"] == 1
    assert result["drills"]["median_hours"] == 1.5


def test_a_leg_still_running_is_counted_as_running_not_as_a_duration() -> None:
    _campaign("RC-2", decision_at=T0, opened_at=T0)
    result = kpis.recall_response(_period())
    assert result["decision_to_all_notified"]["count"] == 0
    assert result["decision_to_all_notified"]["running"] == 1
    assert result["decision_to_all_notified"]["median_hours"] is None


def test_a_duration_counts_in_the_period_it_ended_in() -> None:
    _complaint("CMP-2", datetime(2025, 12, 20, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))
    _complaint("CMP-3", datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 11, 2, tzinfo=UTC))
    result = kpis.complaint_closure(_period())
    assert result["count"] == 1
    assert result["median_hours"] == 14 * 24.0


def test_complaint_closure_time_summarises_median_mean_and_max() -> None:
    for i, days in enumerate((1, 2, 9)):
        _complaint(f"CMP-{i}", T0, T0 + timedelta(days=days))
    _complaint("CMP-open", T0)
    result = kpis.complaint_closure(_period())
    assert (result["count"], result["running"]) == (3, 1)
    assert result["median_hours"] == 48.0
    assert result["mean_hours"] == 96.0
    assert result["max_hours"] == 216.0


def test_after_sales_handling_time_runs_from_ticket_opening_to_resolution() -> None:
    ServiceTicket.objects.create(
        number="ST-1",
        unit_epc="urn:epc:id:sgtin:0950600.013435.S1",
        symptom="no power",
        opened_at=T0,
        resolved_at=T0 + timedelta(hours=50),
        status="resolved",
        test_result="pass",
    )
    ServiceTicket.objects.create(
        number="ST-2", unit_epc="urn:epc:id:sgtin:0950600.013435.S2", symptom="x", opened_at=T0
    )
    result = kpis.after_sales_handling(_period())
    assert (result["count"], result["running"], result["median_hours"]) == (1, 1, 50.0)


def test_false_alarm_rate_is_dismissed_over_concluded_signal_alerts() -> None:
    for status in (
        AlertStatus.DISMISSED,
        AlertStatus.RESOLVED,
        AlertStatus.RESOLVED,
        AlertStatus.RESOLVED,
        AlertStatus.OPEN,
    ):
        Alert.objects.create(
            kind="complaint_cluster", title="s", recipient_role="qa_ra", status=status
        )
    Alert.objects.create(kind="other", title="x", recipient_role="qa_ra", status="dismissed")
    result = kpis.signal_false_alarm_rate(kpis.period_from(None, None))
    assert result["alerts"] == 5
    assert result["open"] == 1
    assert result["dismissed_false"] == 1
    assert result["rate"] == 0.25


def test_no_concluded_signal_gives_no_rate_rather_than_zero() -> None:
    result = kpis.signal_false_alarm_rate(kpis.period_from(None, None))
    assert result["rate"] is None and result["alerts"] == 0


def test_a_reversed_period_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        kpis.period_from(date(2026, 5, 1), date(2026, 4, 1))
    assert err.value.field == "from"


def test_partner_accounts_cannot_read_company_kpis() -> None:
    party = Party.objects.create(name="H", role="hospital", gln="0950600000019")
    partner = User.objects.create_user("h", password="pw-Long-enough-1", party=party)
    with pytest.raises(PermissionDenied):
        kpis.kpis(user=partner)


def test_the_kpi_api_serves_every_kpi_for_the_period(client: Client) -> None:
    staff = User.objects.create_user("qa", password="pw-Long-enough-1")
    client.force_login(staff)
    _complaint("CMP-9", T0, T0 + timedelta(hours=5))
    response = client.get("/api/v1/kpis", {"from": "2026-01-01", "to": "2026-12-31"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {"from": "2026-01-01", "to": "2026-12-31"}
    assert body["complaint_closure_time"]["median_hours"] == 5.0
    assert set(body) >= {
        "recall_response_time",
        "after_sales_handling_time",
        "signal_false_alarm_rate",
    }
    bad = client.get("/api/v1/kpis", {"from": "2026-05-01", "to": "2026-04-01"})
    assert bad.status_code == 422 and bad.json()["field"] == "from"
