"""Adverse events: due dates per jurisdiction from the awareness time, frozen at creation;
regulator submissions; overdue flags; a calendar year without data is a clear 422."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from medtrace.complaints import selectors, services
from medtrace.complaints.models import AdverseEvent, Complaint
from medtrace.errors import Conflict, NotFound, ValidationFailed
from medtrace.masterdata.tests import factories as md

from .factories import C, complaints_world

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 3 March 2025, 10:00 in Shanghai (Sunday 21:00 in New York).
AWARE = datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def c() -> C:
    return complaints_world()


def _complaint(c: C, *, at: datetime = AWARE, **extra: Any) -> Complaint:
    extra.setdefault("complainant_name", "Ward 3")
    return services.complaint_create(
        description="Alarm", received_at=at, user=c.service, **extra
    ).complaint


def _due(ae: AdverseEvent) -> dict[str, datetime]:
    return {d.key: d.due_at for d in ae.deadlines.all()}


@pytest.mark.parametrize(
    ("severity", "key", "days"),
    [
        ("death", "cn_ae_death", 7),
        ("serious_injury", "cn_ae_serious_injury", 20),
        ("malfunction", "cn_ae_other", 30),
        ("other", "cn_ae_other", 30),
    ],
)
def test_china_deadlines_run_7_20_or_30_days_from_awareness(
    c: C, severity: str, key: str, days: int
) -> None:
    ae = services.adverse_event_create(
        complaint=_complaint(c), severity=severity, jurisdictions=["CN"], user=c.qa
    )

    assert _due(ae) == {key: AWARE + timedelta(days=days)}
    assert ae.deadlines.get().jurisdiction == "CN"


def test_a_group_event_in_china_is_due_within_12_hours_as_well(c: C) -> None:
    ae = services.adverse_event_create(
        complaint=_complaint(c), severity="death", group_event=True, user=c.qa
    )

    assert _due(ae) == {
        "cn_ae_group": AWARE + timedelta(hours=12),
        "cn_ae_death": AWARE + timedelta(days=7),
    }


def test_fda_reports_are_due_in_30_days_or_5_work_days(c: C) -> None:
    thirty = services.adverse_event_create(
        complaint=_complaint(c), severity="malfunction", jurisdictions=["US"], user=c.qa
    )
    five = services.adverse_event_create(
        complaint=_complaint(c), jurisdictions=["US"], five_day=True, user=c.qa
    )

    new_york = ZoneInfo("America/New_York")
    # 30 calendar days on FDA's (Eastern) clock: 21:00 on 1 April, daylight time by then.
    assert _due(thirty) == {"fda_803_30d": datetime(2025, 4, 1, 21, 0, tzinfo=new_york)}
    # Sunday 2 March in New York: Monday to Friday are the 5 work days.
    assert _due(five) == {"fda_803_5wd": datetime(2025, 3, 7, 21, 0, tzinfo=new_york)}


@pytest.mark.parametrize(
    ("severity", "threat", "key", "days"),
    [
        ("death", False, "eu_vigilance_10d", 10),
        ("serious_injury", False, "eu_vigilance_10d", 10),
        ("malfunction", False, "eu_vigilance_15d", 15),
        ("malfunction", True, "eu_vigilance_2d", 2),
    ],
)
def test_eu_vigilance_is_due_in_2_10_or_15_days(
    c: C, severity: str, threat: bool, key: str, days: int
) -> None:
    ae = services.adverse_event_create(
        complaint=_complaint(c),
        severity=severity,
        public_health_threat=threat,
        jurisdictions=["EU"],
        user=c.qa,
    )

    assert _due(ae) == {key: AWARE + timedelta(days=days)}


@pytest.mark.parametrize(
    ("country", "expected"), [("CN", ["CN"]), ("US", ["CN", "US"]), ("DE", ["CN", "EU"])]
)
def test_jurisdictions_default_to_china_and_the_complainants_country(
    c: C, country: str, expected: list[str]
) -> None:
    party = md.party(role="hospital", prefix="6920077", name=f"Hospital {country}")
    party.country = country
    party.save()

    ae = services.adverse_event_create(
        complaint=_complaint(c, complainant_party_id=party.pk), user=c.qa
    )

    assert ae.jurisdictions == expected
    assert sorted(ae.deadlines.values_list("jurisdiction", flat=True)) == sorted(expected)


def test_a_calendar_year_without_data_is_a_clear_validation_error(c: C) -> None:
    complaint = _complaint(c, at=datetime(2003, 6, 2, 9, 0, tzinfo=SHANGHAI))

    with pytest.raises(ValidationFailed) as exc:
        services.complaint_decide(
            complaint=complaint,
            reportable=True,
            justification="Serious injury",
            jurisdictions=["CN", "US"],
            five_day=True,
            user=c.qa,
        )

    assert exc.value.status == 422
    assert exc.value.field == "jurisdictions"
    assert "no data for 2003" in exc.value.message
    assert exc.value.details["year"] == 2003
    complaint.refresh_from_db()
    assert complaint.reportable is None  # nothing stored
    assert not AdverseEvent.objects.exists()


def test_deadlines_are_frozen_and_submissions_recorded_with_overdue_flags(c: C) -> None:
    ae = services.adverse_event_create(
        complaint=_complaint(c), severity="death", jurisdictions=["CN", "EU"], user=c.qa
    )

    view = selectors.adverse_event_view(ae)
    assert [d["state"] for d in view["deadlines"]] == ["overdue", "overdue"]  # 2025: long past
    assert view["overdue"] is True

    on_time = AWARE + timedelta(days=2)
    services.adverse_event_report(
        adverse_event=ae, key="cn_ae_death", reference="NMPA-2025-1", reported_at=on_time, user=c.qa
    )
    ae.refresh_from_db()
    assert ae.status == "open"
    services.adverse_event_report(
        adverse_event=ae, key="eu_vigilance_10d", reference="EU-77", user=c.qa
    )

    ae.refresh_from_db()
    states = {d["key"]: d for d in selectors.adverse_event_view(ae)["deadlines"]}
    assert ae.status == "reported"
    assert states["cn_ae_death"]["state"] == "reported"
    assert (states["eu_vigilance_10d"]["state"], states["eu_vigilance_10d"]["overdue"]) == (
        "reported_late",
        True,
    )
    assert states["cn_ae_death"]["reference"] == "NMPA-2025-1"
    with pytest.raises(Conflict):
        services.adverse_event_report(adverse_event=ae, key="cn_ae_death", reference="x", user=c.qa)


def test_a_submission_needs_a_reference_and_a_known_deadline(c: C) -> None:
    ae = services.adverse_event_create(complaint=_complaint(c), user=c.qa)

    with pytest.raises(ValidationFailed) as exc:
        services.adverse_event_report(adverse_event=ae, key="cn_ae_other", reference="", user=c.qa)
    assert exc.value.field == "reference"
    with pytest.raises(NotFound) as missing:
        services.adverse_event_report(adverse_event=ae, key="nope", reference="x", user=c.qa)
    assert "cn_ae_other" in missing.value.message


def test_an_open_deadline_counts_down(c: C) -> None:
    ae = services.adverse_event_create(
        complaint=_complaint(c, at=timezone.now()), severity="death", user=c.qa
    )

    (deadline,) = selectors.adverse_event_view(ae)["deadlines"]

    assert deadline["state"] == "open" and deadline["overdue"] is False
    assert 7 * 86400 - 60 < deadline["seconds_left"] <= 7 * 86400


def test_one_adverse_event_per_complaint(c: C) -> None:
    complaint = _complaint(c)
    services.adverse_event_create(complaint=complaint, user=c.qa)

    with pytest.raises(Conflict):
        services.adverse_event_create(complaint=complaint, user=c.qa)
