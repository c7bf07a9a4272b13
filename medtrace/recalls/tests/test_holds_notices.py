"""Opening holds what we hold; notices go to each consignee with exactly its units."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from medtrace.audit.signatures import signatures_for
from medtrace.distribution.services import shipment_create
from medtrace.errors import Conflict, PermissionDenied, SequenceViolation
from medtrace.lib import clocks
from medtrace.lifecycle import rules
from medtrace.quality.models import Hold
from medtrace.recalls import selectors, services
from medtrace.recalls.models import (
    AffectedUnit,
    DeliveryStatus,
    NoticeDelivery,
    NoticeStatus,
    RecallCampaign,
)

from .factories import QA_PASSWORD, R

pytestmark = pytest.mark.django_db


def fresh(campaign: RecallCampaign) -> RecallCampaign:
    campaign.refresh_from_db()
    return campaign


# Holds -----------------------------------------------------------------------------------------


def test_opening_holds_every_unit_in_our_warehouse_and_picking_or_shipping_it_is_refused(
    r: R,
) -> None:
    stock = r.stock("S1", "S2", lot="LOT-A")
    packed = r.stock("P1", lot="LOT-A")
    case = r.d.pack(3, packed)
    away = r.at(r.w.hospital, "H1", lot="LOT-A")

    campaign = r.open(kind="lot", lot=f"(01){r.w.gtin(r.w.device)}(10)LOT-A")

    holds = Hold.objects.filter(source=campaign.number)
    assert {h.target for h in holds} == {*stock, *packed}
    assert {h.kind for h in holds} == {"recall"}
    units = {u.serial: u for u in AffectedUnit.objects.filter(campaign=campaign)}
    assert units["P1"].hold is not None and units["P1"].contained_in == case
    assert units["H1"].hold is None  # the hospital's: reached by a notice, not a hold
    with pytest.raises(SequenceViolation) as exc:
        rules.check(rules.Step.PICK, stock)
    assert "is under recall" in exc.value.message and campaign.number in exc.value.message
    with pytest.raises(SequenceViolation):
        shipment_create(order=r.d.order(1), scans=stock[:1], user=r.d.sales)
    with pytest.raises(SequenceViolation):
        shipment_create(order=r.d.order(1), scans=[case], user=r.d.sales)
    assert away and rules.refusals(rules.Step.INSTALL, away) == []


def test_a_drill_places_no_hold_and_records_what_would_be_held(r: R) -> None:
    stock = r.stock("S1", "S2")

    campaign = r.open(serials=stock, drill=True)

    assert not Hold.objects.filter(source=campaign.number).exists()
    assert rules.refusals(rules.Step.PICK, stock) == []
    assert all(u.drill and u.under_control for u in AffectedUnit.objects.filter(campaign=campaign))
    assert selectors.recall_progress(campaign=campaign)["held"] == 2


def test_only_qa_opens_recalls(r: R) -> None:
    with pytest.raises(PermissionDenied):
        services.recall_open(
            title="x", reason="x", kind="serials", params={"serials": r.stock("S1")},
            user=r.d.warehouse,
        )  # fmt: skip


# Classification and approval -------------------------------------------------------------------


def test_approval_is_signed_and_starts_the_regulatory_clocks(r: R) -> None:
    campaign = r.open(serials=r.stock("S1"))
    with pytest.raises(Conflict) as exc:
        services.recall_approve(campaign=campaign, password=QA_PASSWORD, user=r.qa)
    assert "classify it first" in exc.value.message

    campaign = r.approved(campaign, level=1)

    assert campaign.decision_at == campaign.approved_at and campaign.approved_by == r.qa
    keys = {d["key"]: d for d in campaign.deadlines}
    assert set(keys) == {"cn_recall_notify", "cn_recall_plan", "fda_806"}
    start = campaign.decision_at
    assert start is not None
    assert (
        keys["cn_recall_notify"]["due"] == clocks.recall_notification_deadline(start, 1).isoformat()
    )
    assert keys["cn_recall_plan"]["due"] == clocks.cn_recall_plan_deadline(start).isoformat()
    assert keys["fda_806"]["due"] == clocks.fda_806_deadline(start).isoformat()
    (signature,) = signatures_for(campaign)
    assert signature.signature.meaning == "approved" and signature.valid


def test_notifying_consignees_keeps_the_approval_signature_valid(
    r: R, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = r.approved(r.open(serials=r.at(r.w.hospital, "H1")))
    with django_capture_on_commit_callbacks(execute=True):
        r.notified(campaign)

    (signature,) = signatures_for(fresh(campaign))
    assert signature.valid
    services.recall_classify(
        campaign=campaign, cn_level=1, depth="user", hhe={"hazard": "h", "severity": "s",
        "probability": "p", "population": "q"}, strategy="new", user=r.qa,
    )  # fmt: skip
    (signature,) = signatures_for(fresh(campaign))
    assert not signature.valid  # a new classification is not what was approved
    assert fresh(campaign).approved_at is None


def test_a_classification_needs_a_level_or_class_and_a_full_hazard_evaluation(r: R) -> None:
    campaign = r.open(serials=r.stock("S1"))
    from medtrace.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        services.recall_classify(campaign=campaign, cn_level=None, depth="user", hhe={},
                                 strategy="s", user=r.qa)  # fmt: skip
    assert exc.value.field == "cn_level"
    with pytest.raises(ValidationFailed) as exc:
        services.recall_classify(campaign=campaign, cn_level=2, depth="user",
                                 hhe={"hazard": "h"}, strategy="s", user=r.qa)  # fmt: skip
    assert exc.value.field == "hhe.severity"


# Notices ---------------------------------------------------------------------------------------


def test_each_consignee_gets_one_notice_listing_only_its_own_units(r: R) -> None:
    a = r.at(r.w.hospital, "H1", "H2", lot="LOT-A")
    b = r.at(r.hospital_b, "B1", lot="LOT-A")
    d = r.at(r.w.distributor, "D1", lot="LOT-A")
    r.stock("S1", lot="LOT-A")
    campaign = r.approved(r.open(kind="lot", lot=f"(01){r.w.gtin(r.w.device)}(10)LOT-A"), level=2)

    notices = services.recall_notices_create(campaign=campaign, user=r.qa)

    by_party = {n.consignee: n for n in notices}
    assert set(by_party) == {r.w.hospital, r.hospital_b, r.w.distributor}
    for party, epcs in ((r.w.hospital, a), (r.hospital_b, b), (r.w.distributor, d)):
        notice = by_party[party]
        assert set(notice.units.values_list("epc", flat=True)) == set(epcs)
        assert notice.unit_count == len(epcs) and notice.status == NoticeStatus.DRAFT
        assert notice.language == "zh-hans" and notice.number.startswith("RN-")
        decided = fresh(campaign).decision_at
        assert decided is not None
        assert notice.deadline_at == clocks.recall_notification_deadline(decided, 2)
    assert not AffectedUnit.objects.filter(campaign=campaign, serial="S1", notice__isnull=False)
    assert services.recall_notices_create(campaign=campaign, user=r.qa) == []  # nothing new


def test_an_english_notice_for_a_consignee_abroad(r: R) -> None:
    r.hospital_b.country = "DE"
    r.hospital_b.save()
    campaign = r.open(serials=r.at(r.hospital_b, "B1"))

    (notice,) = services.recall_notices_create(campaign=campaign, user=r.qa)

    assert notice.language == "en" and notice.deadline_at is None  # no decision yet


def test_sending_is_refused_before_approval_and_marks_all_notified_after(
    r: R, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = r.open(serials=[*r.at(r.w.hospital, "H1"), *r.at(r.hospital_b, "B1")])
    services.recall_notices_create(campaign=campaign, user=r.qa)
    with pytest.raises(Conflict) as exc:
        services.recall_notices_send(campaign=campaign, user=r.qa)
    assert exc.value.status == 409 and "approved" in exc.value.message

    r.approved(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.recall_notices_send(campaign=campaign, user=r.qa)

    assert len(sent) == 2 and all(n.status == NoticeStatus.SENT for n in sent)
    assert fresh(campaign).all_notified_at is not None
    deliveries = NoticeDelivery.objects.filter(notice__campaign=campaign)
    assert deliveries.count() >= 2
    assert DeliveryStatus.SIMULATED not in set(deliveries.values_list("status", flat=True))
    progress = selectors.recall_progress(campaign=campaign)
    assert progress["notified"] == 2 and progress["response_seconds"] >= 0
    assert progress["drill_response_seconds"] is None
    notify = next(d for d in progress["deadlines"] if d["key"] == "cn_recall_notify")
    assert notify["status"] == "met" and notify["remaining_seconds"] > 0


def test_a_drill_delivers_nothing_and_measures_the_response_time(
    r: R, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = r.approved(r.open(serials=r.at(r.w.hospital, "H1"), drill=True))
    with django_capture_on_commit_callbacks(execute=True):
        (notice,) = r.notified(campaign)

    deliveries = NoticeDelivery.objects.filter(notice=notice)
    # every channel the real recall would use, each simulated: portal and e-mail at least
    assert {d.channel for d in deliveries} >= {"portal", "email"}
    assert {d.status for d in deliveries} == {DeliveryStatus.SIMULATED} and notice.drill
    progress = selectors.recall_progress(campaign=campaign)
    campaign = fresh(campaign)
    assert campaign.all_notified_at is not None and campaign.opened_at is not None
    expected = (campaign.all_notified_at - campaign.opened_at).total_seconds()
    assert progress["drill_response_seconds"] == expected > 0


def test_progress_lists_non_responders_past_their_deadline(
    r: R, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = r.approved(r.open(serials=[*r.at(r.w.hospital, "H1"), *r.at(r.hospital_b, "B1")]))
    with django_capture_on_commit_callbacks(execute=True):
        notices = r.notified(campaign)
    late = notices[0]
    assert late.sent_at is not None
    late.deadline_at = late.sent_at - timedelta(hours=1)
    late.save()
    services.notice_acknowledge(notice=notices[1], user=r.qa, note="by phone")

    progress = selectors.recall_progress(campaign=campaign)

    assert [n["notice"] for n in progress["non_responders"]] == [late.number]
    assert progress["acknowledged"] == 1 and progress["consignees"] == 2


def test_a_clock_whose_calendar_lacks_the_year_is_recorded_with_its_error_not_guessed(
    r: R,
) -> None:
    """Approving a recall late in the last covered year must not fail: the CN plan clock that
    runs into an uncovered year is recorded with the calendar's error and no due time."""
    from datetime import UTC, datetime

    from medtrace.recalls.campaigns import _deadlines

    last = clocks.coverage("CN")[1]
    epcs = r.stock("CLK1")
    campaign = r.open(serials=epcs)
    campaign.cn_level = 1
    campaign.fda_class = "I"
    campaign.decision_at = datetime(last, 12, 30, 9, 0, tzinfo=UTC)
    rows = {row["key"]: row for row in _deadlines(campaign)}
    assert rows["cn_recall_notify"]["due"] is not None  # calendar days: always computable
    plan = rows["cn_recall_plan"]
    assert plan["due"] is None
    assert str(last + 1) in plan["error"] and "cn.json" in plan["error"]
    assert rows["fda_806"]["due"] is not None  # the US calendar covers the next year
