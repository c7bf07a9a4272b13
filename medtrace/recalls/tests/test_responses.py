"""Acknowledgements and dispositions: each consignee answers for its own notice only."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.distribution.models import ReturnStatus
from medtrace.distribution.services import rma_receive
from medtrace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.tests import factories as md
from medtrace.quality.models import Hold
from medtrace.recalls import selectors, services
from medtrace.recalls.models import AffectedUnit, NoticeStatus, RecallNotice, UnitStatus

from .factories import R

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(r: R, django_capture_on_commit_callbacks: Any) -> tuple[Any, dict[str, RecallNotice]]:
    """A recall whose notices went to hospital A (H1, H2), hospital B (B1) and the distributor
    (D1)."""
    epcs = [
        *r.at(r.w.hospital, "H1", "H2"),
        *r.at(r.hospital_b, "B1"),
        *r.at(r.w.distributor, "D1"),
    ]
    campaign = r.approved(r.open(serials=epcs))
    with django_capture_on_commit_callbacks(execute=True):
        notices = r.notified(campaign)
    by = {n.consignee_id: n for n in notices}
    return campaign, {
        "a": by[r.w.hospital.pk],
        "b": by[r.hospital_b.pk],
        "d": by[r.w.distributor.pk],
    }


def udi(r: R, serial: str) -> str:
    return f"(01){r.w.gtin(r.w.device)}(21){serial}"


# Acknowledgement -------------------------------------------------------------------------------


def test_a_hospital_acknowledges_its_own_notice_and_not_another_hospitals(r: R, sent) -> None:
    _campaign, notices = sent

    acked = services.notice_acknowledge(
        notice=notices["a"], user=r.d.hospital_user, note="设备已停用"
    )

    assert acked.status == NoticeStatus.ACKNOWLEDGED and acked.acknowledged_by == r.d.hospital_user
    assert acked.ack_note == "设备已停用" and acked.acknowledged_at is not None
    with pytest.raises(NotFound):
        services.notice_acknowledge(notice=notices["b"], user=r.d.hospital_user)
    with pytest.raises(NotFound):
        selectors.notice_get(number=notices["b"].number, user=r.d.hospital_user)
    assert [n.number for n in selectors.notice_list(user=r.d.hospital_user)] == [
        notices["a"].number
    ]
    with pytest.raises(Conflict):
        services.notice_acknowledge(notice=notices["a"], user=r.d.hospital_user)


def test_staff_acknowledge_on_a_consignees_behalf_and_the_last_one_stamps_the_recall(
    r: R, sent
) -> None:
    campaign, notices = sent
    for notice in notices.values():
        services.notice_acknowledge(notice=notice, user=r.qa, note="phoned")

    campaign.refresh_from_db()
    assert campaign.all_acknowledged_at is not None
    with pytest.raises(PermissionDenied):
        services.notice_acknowledge(notice=notices["a"], user=r.d.sales)


def test_partners_never_see_a_drills_notices(r: R, django_capture_on_commit_callbacks) -> None:
    campaign = r.approved(r.open(serials=r.at(r.w.hospital, "H1"), drill=True))
    with django_capture_on_commit_callbacks(execute=True):
        (notice,) = r.notified(campaign)

    assert list(selectors.notice_list(user=r.d.hospital_user)) == []
    with pytest.raises(NotFound):
        services.notice_acknowledge(notice=notice, user=r.d.hospital_user)
    assert services.notice_acknowledge(notice=notice, user=r.qa).acknowledged_at is not None


# Dispositions ----------------------------------------------------------------------------------


def test_returned_units_go_into_one_rma_and_then_into_quarantine(r: R, sent) -> None:
    campaign, notices = sent
    md.location(owner=r.w.maker, kind="site", code="SZ-QRN", name="待检/隔离区", ref=5)

    units = services.unit_dispositions_report(
        notice=notices["a"],
        items=[
            {"unit": udi(r, "H1"), "status": "returned", "note": "boxed"},
            {"unit": "H2", "status": "returned"},
        ],
        user=r.d.hospital_user,
    )

    rmas = {u.rma for u in units}
    assert len(rmas) == 1
    (rma,) = rmas
    assert rma is not None and rma.customer == r.w.hospital and campaign.number in rma.reason
    assert set(rma.items.values_list("serial", flat=True)) == {"H1", "H2"}
    notice = RecallNotice.objects.get(pk=notices["a"].pk)
    assert notice.status == NoticeStatus.RESOLVED and notice.acknowledged_at is not None
    received = rma_receive(rma=rma, user=r.d.warehouse)
    assert received.status == ReturnStatus.RECEIVED
    assert Hold.objects.filter(target=units[0].epc, kind="quarantine", lifted_at=None).exists()


def test_a_report_is_all_or_nothing_and_names_each_bad_item(r: R, sent) -> None:
    _campaign, notices = sent

    with pytest.raises(ValidationFailed) as exc:
        services.unit_dispositions_report(
            notice=notices["a"],
            items=[
                {"unit": "H1", "status": "corrected"},
                {"unit": udi(r, "B1"), "status": "returned"},  # hospital B's unit
                {"unit": "H2", "status": "lost"},
                {"unit": "H1", "status": "used"},
            ],
            user=r.d.hospital_user,
        )

    errors = {e["field"]: e for e in exc.value.details}
    assert set(errors) == {"items[1].unit", "items[2].status", "items[3].unit"}
    assert errors["items[1].unit"]["code"] == "not_on_notice"
    assert "expected one of returned, corrected" in errors["items[2].status"]["message"]
    assert errors["items[3].unit"]["code"] == "duplicate"
    assert exc.value.field == "items[1].unit"
    assert set(
        AffectedUnit.objects.filter(notice=notices["a"]).values_list("status", flat=True)
    ) == {UnitStatus.PENDING}


def test_each_disposition_is_recorded_once_and_resolves_the_notice(r: R, sent) -> None:
    campaign, notices = sent
    services.unit_dispositions_report(
        notice=notices["a"], items=[{"unit": "H1", "status": "used", "note": "implanted"}],
        user=r.qa,
    )  # fmt: skip
    assert RecallNotice.objects.get(pk=notices["a"].pk).status == NoticeStatus.ACKNOWLEDGED

    with pytest.raises(ValidationFailed) as exc:
        services.unit_dispositions_report(
            notice=notices["a"], items=[{"unit": "H1", "status": "destroyed"}], user=r.qa
        )
    assert exc.value.details[0]["code"] == "already_reported"

    services.unit_dispositions_report(
        notice=notices["a"], items=[{"unit": "H2", "status": "not_found"}], user=r.d.warehouse
    )
    notice = RecallNotice.objects.get(pk=notices["a"].pk)
    assert notice.status == NoticeStatus.RESOLVED and notice.resolved_at is not None
    progress = selectors.recall_progress(campaign=campaign)
    assert (progress["used"], progress["not_found"], progress["resolved"]) == (1, 1, 1)


def test_a_partner_reports_only_on_its_own_notice_and_sales_not_at_all(r: R, sent) -> None:
    _campaign, notices = sent

    with pytest.raises(NotFound):
        services.unit_dispositions_report(
            notice=notices["d"], items=[{"unit": "D1", "status": "returned"}],
            user=r.d.hospital_user,
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.unit_dispositions_report(
            notice=notices["d"], items=[{"unit": "D1", "status": "returned"}], user=r.d.sales
        )
    done = services.unit_dispositions_report(
        notice=notices["d"], items=[{"unit": "D1", "status": "destroyed"}],
        user=r.distributor_user,
    )  # fmt: skip
    assert done[0].status == UnitStatus.DESTROYED and done[0].reported_by == r.distributor_user


def test_the_recall_is_complete_when_every_notice_is_resolved(r: R, sent) -> None:
    campaign, notices = sent
    for key, serials in (("a", ["H1", "H2"]), ("b", ["B1"]), ("d", ["D1"])):
        services.unit_dispositions_report(
            notice=notices[key],
            items=[{"unit": s, "status": "corrected"} for s in serials],
            user=r.qa,
        )

    campaign.refresh_from_db()
    assert campaign.all_acknowledged_at is not None
    summary = next(d for d in campaign.deadlines if d["key"] == "cn_recall_summary")
    assert summary["basis"].startswith("10 CN working days from completion")
    progress = selectors.recall_progress(campaign=campaign)
    assert progress["corrected"] == 4 and progress["resolved"] == 3
