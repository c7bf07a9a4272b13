"""Effectiveness checks by level, and the gate before a recall closes."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from medtrace.audit.signatures import signatures_for
from medtrace.errors import Conflict, NotFound, ValidationFailed
from medtrace.quality.models import Hold
from medtrace.recalls import services
from medtrace.recalls.effectiveness import sample_size
from medtrace.recalls.models import CampaignStatus, ContactResult, RecallCampaign

from .factories import QA_PASSWORD, R

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("level", "population", "percent", "expected"),
    [
        ("A", 7, Decimal(100), 7),
        ("B", 40, Decimal(25), 10),
        ("B", 3, Decimal(20), 1),
        ("C", 45, Decimal(10), 5),
        ("C", 3, Decimal(10), 1),  # at least one
        ("D", 120, Decimal(2), 3),
        ("D", 10, Decimal(2), 1),
        ("E", 50, Decimal(0), 0),
        ("A", 0, Decimal(100), 0),
    ],
)
def test_the_sample_size_follows_the_level(
    level: str, population: int, percent: Decimal, expected: int
) -> None:
    assert sample_size(level, population, percent) == expected


@pytest.fixture
def recall(r: R, django_capture_on_commit_callbacks: Any) -> RecallCampaign:
    """A sent recall with four consignees: hospital A, hospital B, the distributor, and our own
    stock (held, no notice)."""
    epcs = [
        *r.at(r.w.hospital, "H1"),
        *r.at(r.hospital_b, "B1"),
        *r.at(r.w.distributor, "D1"),
        *r.stock("S1"),
    ]
    campaign = r.approved(r.open(serials=epcs))
    with django_capture_on_commit_callbacks(execute=True):
        r.notified(campaign)
    return campaign


def test_a_check_samples_consignees_reproducibly_from_the_campaign_number(
    r: R, recall: RecallCampaign
) -> None:
    check = services.effectiveness_check_start(campaign=recall, level="C", user=r.qa)

    notices = sorted(recall.notices.all(), key=lambda n: n.number)
    expected = random.Random(f"{recall.number}#1").sample(notices, 1)
    assert [c.notice for c in check.contacts.all()] == expected
    assert (check.population, check.planned_count, check.seed) == (3, 1, f"{recall.number}#1")
    recall.refresh_from_db()
    assert recall.effectiveness_level == "C"


def test_level_a_contacts_everyone_level_b_needs_its_share_and_e_nobody(
    r: R, recall: RecallCampaign
) -> None:
    assert (
        services.effectiveness_check_start(campaign=recall, level="A", user=r.qa).contacts.count()
        == 3
    )
    with pytest.raises(ValidationFailed) as exc:
        services.effectiveness_check_start(campaign=recall, level="B", percent=5, user=r.qa)
    assert exc.value.field == "percent"
    b = services.effectiveness_check_start(campaign=recall, level="B", percent=50, user=r.qa)
    assert b.planned_count == 2 and b.percent == Decimal(50)
    assert (
        services.effectiveness_check_start(campaign=recall, level="E", user=r.qa).planned_count == 0
    )


def _finish(r: R, campaign: RecallCampaign) -> None:
    for notice in campaign.notices.all():
        services.unit_dispositions_report(
            notice=notice,
            items=[{"unit": u.epc, "status": "corrected"} for u in notice.units.all()],
            user=r.qa,
        )


def test_closing_lists_everything_missing_then_closes_signed_and_keeps_the_holds(
    r: R, recall: RecallCampaign
) -> None:
    with pytest.raises(Conflict) as exc:
        services.recall_close(campaign=recall, password=QA_PASSWORD, summary="done", user=r.qa)
    codes = {m["code"] for m in exc.value.details["missing"]}
    assert codes == {"notices_not_acknowledged", "units_without_disposition",
                     "no_effectiveness_conclusion"}  # fmt: skip

    _finish(r, recall)
    check = services.effectiveness_check_start(campaign=recall, level="A", user=r.qa)
    with pytest.raises(Conflict) as exc:
        services.effectiveness_conclude(campaign=recall, effective=True, conclusion="ok", user=r.qa)
    assert "Record the answers" in exc.value.message
    for contact in check.contacts.all():
        services.effectiveness_contact_record(
            check=check, notice=contact.notice.number, result="confirmed", note="ok", user=r.qa
        )
    with pytest.raises(NotFound):
        services.effectiveness_contact_record(check=check, notice="RN-0000", result="confirmed",
                                              user=r.qa)  # fmt: skip
    services.effectiveness_conclude(
        campaign=recall, effective=True, conclusion="All consignees confirmed", user=r.qa
    )
    with pytest.raises(ValidationFailed):
        services.recall_close(campaign=recall, password="wrong", summary="done", user=r.qa)

    closed = services.recall_close(
        campaign=recall, password=QA_PASSWORD, summary="All units corrected", user=r.qa
    )

    assert closed.status == CampaignStatus.CLOSED and closed.closed_by == r.qa
    meanings = [(s.signature.meaning, s.valid) for s in signatures_for(closed)]
    assert meanings == [("approved", True), ("closed", True)]
    assert Hold.objects.filter(source=closed.number, lifted_at=None).count() == 1  # S1 stays held
    assert check.contacts.filter(result=ContactResult.CONFIRMED).count() == 3
    with pytest.raises(Conflict):
        services.recall_notices_create(campaign=closed, user=r.qa)


def test_an_ineffective_recall_does_not_close(r: R, recall: RecallCampaign) -> None:
    _finish(r, recall)
    services.effectiveness_check_start(campaign=recall, level="E", user=r.qa)
    services.effectiveness_conclude(
        campaign=recall, effective=False, conclusion="two consignees unreachable", user=r.qa
    )

    with pytest.raises(Conflict) as exc:
        services.recall_close(campaign=recall, password=QA_PASSWORD, summary="x", user=r.qa)

    assert [m["code"] for m in exc.value.details["missing"]] == ["not_effective"]


def test_an_unapproved_recall_with_unsent_notices_does_not_close(r: R) -> None:
    campaign = r.open(serials=r.at(r.w.hospital, "H1"))
    services.recall_notices_create(campaign=campaign, user=r.qa)

    with pytest.raises(Conflict) as exc:
        services.recall_close(campaign=campaign, password=QA_PASSWORD, summary="x", user=r.qa)

    codes = [m["code"] for m in exc.value.details["missing"]]
    assert codes[:2] == ["not_approved", "notices_not_sent"]
