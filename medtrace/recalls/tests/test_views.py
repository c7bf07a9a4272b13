"""The recall pages: staff open a recall (preview, open, classify, approve, notices) and follow
it; distributors and hospitals acknowledge and report in their portal, and never see another
party's notice; the forward-trace page offers "Open a recall" to those who may open one."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.audit.models import Signature
from medtrace.distribution.tests.factories import user
from medtrace.recalls.models import (
    AffectedUnit,
    CampaignStatus,
    NoticeStatus,
    RecallCampaign,
    RecallNotice,
    UnitStatus,
)

from .factories import QA_PASSWORD, R

pytestmark = pytest.mark.django_db


def signed_in(u: Any) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page texts below are the sources
    client.force_login(u)
    return client


def lot_udi(r: R, lot: str) -> str:
    return f"(01){r.w.gtin(r.w.device)}(10){lot}"


def unit_udi(r: R, serial: str) -> str:
    return f"(01){r.w.gtin(r.w.device)}(21){serial}"


def notified_recall(r: R, *, drill: bool = False) -> tuple[RecallCampaign, dict[str, RecallNotice]]:
    """Lot L1: two units at hospital A, one at hospital B, one in our stock; notices sent."""
    r.at(r.w.hospital, "A1", "A2", lot="L1")
    r.at(r.hospital_b, "B1", lot="L1")
    r.stock("S1", lot="L1")
    campaign = r.open(kind="lot", drill=drill, lot=lot_udi(r, "L1"))
    r.approved(campaign)
    sent = r.notified(campaign)
    return campaign, {n.consignee.name: n for n in sent}


def html(response: Any) -> str:
    return response.content.decode()


# Staff pages -----------------------------------------------------------------------------------


def test_every_staff_page_renders_for_qa_and_the_auditor(r: R) -> None:
    campaign, notices = notified_recall(r)
    notice = notices[r.w.hospital.name]
    urls = [
        "/recalls/",
        f"/recalls/{campaign.number}/",
        f"/recalls/{campaign.number}/?recompute=1",
        f"/recalls/{campaign.number}/?holder={r.w.hospital.gln}&unit_status=pending",
        f"/recalls/notices/{notice.number}/",
    ]
    for who in (r.qa, r.auditor, r.d.warehouse):
        client = signed_in(who)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (who, url)
            assert campaign.number in html(response), (who, url)
    assert signed_in(r.qa).get("/recalls/new/").status_code == 200
    # the auditor reads, and is offered no step
    page = html(signed_in(r.auditor).get(f"/recalls/{campaign.number}/"))
    assert "Save the classification" not in page and "Sign and close" not in page
    assert signed_in(r.auditor).get("/recalls/new/").status_code == 403
    posted = signed_in(r.auditor).post(f"/recalls/{campaign.number}/do/notices-send/")
    assert posted.status_code == 403


def test_the_list_shows_progress_and_the_next_deadline_and_filters(r: R) -> None:
    campaign, _notices = notified_recall(r)
    r.stock("D1", lot="L9")
    drill = r.open(kind="lot", drill=True, lot=lot_udi(r, "L9"))
    client = signed_in(r.qa)

    page = html(client.get("/recalls/"))

    assert campaign.number in page and drill.number in page and "DRILL" in page
    assert "2 / 2" in page  # both consignees notified
    assert "China recall plan" in page and "left" in page  # the plan's clock is next
    only_drills = html(client.get("/recalls/?drill=yes"))
    assert drill.number in only_drills and campaign.number not in only_drills
    level_2 = html(client.get("/recalls/?class=2&status=open"))
    assert campaign.number in level_2 and drill.number not in level_2


def test_partners_are_sent_to_their_portal_and_kept_out_of_staff_pages(r: R) -> None:
    campaign, notices = notified_recall(r)
    hospital = signed_in(r.d.hospital_user)

    assert hospital.get("/recalls/")["Location"] == "/recalls/portal/"
    assert hospital.get(f"/recalls/{campaign.number}/").status_code == 403
    assert hospital.get("/recalls/new/").status_code == 403
    notice = notices[r.w.hospital.name]
    assert hospital.get(f"/recalls/notices/{notice.number}/").status_code == 403
    # staff have no portal
    assert signed_in(r.qa).get("/recalls/portal/").status_code == 403
    # the nav: staff see "Recalls", partners "Recall notices"
    assert 'href="/recalls/"' in html(signed_in(r.qa).get("/recalls/"))
    assert 'href="/recalls/portal/"' in html(hospital.get("/recalls/portal/"))


# Opening a recall through the pages ------------------------------------------------------------


def test_a_recall_is_previewed_opened_classified_approved_and_notified_through_the_pages(
    r: R, django_capture_on_commit_callbacks: Any
) -> None:
    r.at(r.w.hospital, "A1", "A2", lot="L1")
    (in_stock,) = r.stock("S1", lot="L1")
    client = signed_in(r.qa)

    # Given the forward page's link: the scope is filled in and previewed at once
    page = client.get("/recalls/new/", {"kind": "lot", "id": lot_udi(r, "L1")})
    assert page.status_code == 200
    preview = page.context["preview"]
    assert preview["count"] == 3 and preview["under_control"] == 1
    assert r.w.hospital.name in html(page) and "Open the recall" in html(page)

    # A scope that names nothing: the error is next to the lot field, and no "Open"
    form = {"kind": "lot", "lot": lot_udi(r, "NOPE"), "title": "", "reason": ""}
    bad = client.post("/recalls/new/", {**form, "action": "preview"})
    assert bad.status_code == 422 and "no unit of lot NOPE" in html(bad)
    assert bad.context["errors"]["lot"] and "Open the recall" not in html(bad)

    # Opening without a title: the service's message next to the title
    form = {**form, "lot": lot_udi(r, "L1")}
    untitled = client.post("/recalls/new/", {**form, "action": "open"})
    assert untitled.status_code == 422
    assert untitled.context["errors"]["title"] == "this field is required"
    assert not RecallCampaign.objects.exists()

    # Open: the scope freezes and our own unit is held at once
    form.update(title="IP-9 occlusion alarm", reason="Alarm may not sound", drill="")
    opened = client.post("/recalls/new/", {**form, "action": "open"})
    campaign = RecallCampaign.objects.get()
    assert opened.status_code == 302 and opened["Location"] == f"/recalls/{campaign.number}/"
    assert campaign.status == CampaignStatus.OPEN and campaign.affected_count == 3
    assert AffectedUnit.objects.get(epc=in_stock).hold is not None
    detail = html(client.get(opened["Location"]))
    assert "3 units frozen" in detail and "held" in detail and r.w.hospital.name in detail

    # Classify: a missing field is named next to it
    action = f"/recalls/{campaign.number}/do/"
    classify = {
        "cn_level": "2",
        "fda_class": "II",
        "depth": "user",
        "hhe_hazard": "Occlusion alarm may not sound",
        "hhe_severity": "serious injury",
        "hhe_probability": "remote",
        "hhe_population": "",
        "strategy": "Notify and correct on site",
    }
    missing = client.post(action + "classify/", classify)
    assert missing.status_code == 422
    assert missing.context["errors"]["classify"]["hhe_population"] == "this field is required"
    done = client.post(action + "classify/", {**classify, "hhe_population": "ICU patients"})
    assert done.status_code == 302 and done["Location"].endswith("#classification")

    # Sending before the approval is refused, with the reason
    early = client.post(action + "notices-create/")
    assert early.status_code == 302
    refused = client.post(action + "notices-send/")
    assert refused.status_code == 409 and "before the recall is approved" in html(refused)

    # Approve: a wrong password is refused next to the password field; the right one signs
    wrong = client.post(action + "approve/", {"password": "nope"})
    assert (
        wrong.status_code == 422
        and "wrong password" in wrong.context["errors"]["approve"]["password"]
    )
    approved = client.post(action + "approve/", {"password": QA_PASSWORD})
    assert approved.status_code == 302
    campaign.refresh_from_db()
    assert campaign.decision_at is not None and campaign.deadlines
    assert Signature.objects.filter(meaning="approved", object_id=str(campaign.pk)).exists()
    detail = html(client.get(f"/recalls/{campaign.number}/"))
    assert "Signed by" in detail and "valid" in detail and "China recall notification" in detail

    # Send the notices (delivered after the commit)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(action + "notices-send/")
    assert sent.status_code == 302
    notice = RecallNotice.objects.get(campaign=campaign)
    assert notice.status == NoticeStatus.SENT and notice.consignee == r.w.hospital
    detail = html(client.get(f"/recalls/{campaign.number}/"))
    assert notice.number in detail and "partner portal" in detail


def test_a_serials_recall_names_the_bad_line(r: R) -> None:
    r.stock("S1", "S2")
    client = signed_in(r.qa)
    form = {"kind": "serials", "serials": f"{unit_udi(r, 'S1')}\nS2\n(01)123", "action": "preview"}

    response = client.post("/recalls/new/", form)

    assert response.status_code == 422
    items = response.context["errors"]["serials_items"]
    assert list(items) == [2] and "line 3" in html(response)


def test_the_scope_is_recomputed_and_the_new_units_added(r: R) -> None:
    (first,) = r.stock("S1")
    campaign = r.open(kind="serials", serials=[first])
    board = r.w.board_sn("B-1")
    from medtrace.lifecycle import events as ev

    ev.emit(
        [
            ev.object_event(
                action="ADD", epcs=[board], biz_step="commissioning", disposition="active"
            )
        ],
        user=None,
    )
    r.fit(board, first)  # the recalled unit now sits in a board: the board is affected too
    client = signed_in(r.qa)

    diff = client.get(f"/recalls/{campaign.number}/", {"recompute": "1"})
    assert diff.status_code == 200 and len(diff.context["recompute"]["added"]) >= 1
    assert "Add the" in html(diff)
    added = client.post(
        f"/recalls/{campaign.number}/do/extend/", {"added": "all", "reason": "moved"}
    )
    assert added.status_code == 302
    assert AffectedUnit.objects.filter(campaign=campaign, epc=board).exists()
    again = client.post(f"/recalls/{campaign.number}/do/extend/", {"added": "all"})
    assert again.status_code == 422 and "no new units" in html(again)


# Notices: staff on a consignee's behalf, and the partner portal --------------------------------


def test_the_hospital_acknowledges_and_reports_dispositions_in_its_portal(r: R) -> None:
    campaign, notices = notified_recall(r)
    mine, theirs = notices[r.w.hospital.name], notices[r.hospital_b.name]
    hospital = signed_in(r.d.hospital_user)

    listing = html(hospital.get("/recalls/portal/"))
    assert mine.number in listing and theirs.number not in listing
    url = f"/recalls/portal/notices/{mine.number}/"
    page = hospital.get(url)
    assert page.status_code == 200 and "A1" in html(page) and "B1" not in html(page)
    assert "Acknowledge" in html(page)

    acknowledged = hospital.post(url, {"action": "acknowledge", "note": "received"})
    assert acknowledged.status_code == 302
    mine.refresh_from_db()
    assert mine.acknowledged_by == r.d.hospital_user and mine.status == NoticeStatus.ACKNOWLEDGED

    # A scan of a unit not on the notice: the error is next to the scan box
    stray = hospital.post(url, {"action": "scan", "scan": unit_udi(r, "B1"), "scan_status": "used"})
    assert (
        stray.status_code == 422
        and "is not on this notice" in stray.context["errors"]["scan"]["scan"]
    )

    # Scan-in: any UDI form, the status chosen stays for the next scan
    scanned = hospital.post(
        url, {"action": "scan", "scan": unit_udi(r, "A1"), "scan_status": "corrected"}
    )
    assert scanned.status_code == 302 and scanned["Location"] == url + "?scan_status=corrected"
    a1 = AffectedUnit.objects.get(campaign=campaign, serial="A1")
    assert a1.status == UnitStatus.CORRECTED and a1.reported_by == r.d.hospital_user

    # The row form: a unit already reported is refused on its row, nothing is written
    a2 = AffectedUnit.objects.get(campaign=campaign, serial="A2")
    rows = {"action": "report", "row": [a1.pk, a2.pk], f"status_{a1.pk}": "used",
            f"status_{a2.pk}": "used", f"note_{a2.pk}": "implanted 2025-03-20"}  # fmt: skip
    refused = hospital.post(url, rows)
    assert refused.status_code == 422
    assert "already reported" in refused.context["row_errors"][a1.pk]
    a2.refresh_from_db()
    assert a2.status == UnitStatus.PENDING
    reported = hospital.post(url, {"action": "report", "row": [a2.pk], f"status_{a2.pk}": "used",
                                   f"note_{a2.pk}": "implanted"})  # fmt: skip
    assert reported.status_code == 302
    mine.refresh_from_db()
    a2.refresh_from_db()
    assert a2.status == UnitStatus.USED and a2.note == "implanted"
    assert mine.status == NoticeStatus.RESOLVED

    # hospital B finds neither hospital A's notice nor its PDF; hospital A not B's
    other = signed_in(r.d.other_user)
    assert other.get(url).status_code == 404
    assert other.post(url, {"action": "acknowledge"}).status_code == 404
    assert other.get(url + "pdf/").status_code == 404
    assert hospital.get(f"/recalls/portal/notices/{theirs.number}/").status_code == 404


def test_staff_record_a_consignees_answer_on_its_behalf(r: R) -> None:
    campaign, notices = notified_recall(r)
    notice = notices[r.hospital_b.name]
    url = f"/recalls/notices/{notice.number}/"

    # the warehouse records what became of units, but does not acknowledge for the consignee
    warehouse = signed_in(r.d.warehouse)
    page = html(warehouse.get(url))
    assert "Record the consignee" not in page and "Record the dispositions chosen" in page
    assert warehouse.post(url, {"action": "acknowledge"}).status_code == 403
    qa = signed_in(r.qa)
    acknowledged = qa.post(url, {"action": "acknowledge", "note": "by phone, Dr Li"})
    assert acknowledged.status_code == 302
    notice.refresh_from_db()
    assert notice.acknowledged_by == r.qa and notice.ack_note == "by phone, Dr Li"
    scanned = warehouse.post(url, {"action": "scan", "scan": "B1", "scan_status": "not_found"})
    assert scanned.status_code == 302
    unit = AffectedUnit.objects.get(campaign=campaign, serial="B1")
    assert unit.status == UnitStatus.NOT_FOUND and unit.reported_by == r.d.warehouse
    assert "not found" in html(qa.get(f"/recalls/{campaign.number}/"))


def test_a_drills_notices_stay_out_of_the_portal(
    r: R, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        campaign, notices = notified_recall(r, drill=True)
    notice = notices[r.w.hospital.name]
    hospital = signed_in(r.d.hospital_user)

    assert notice.number not in html(hospital.get("/recalls/portal/"))
    assert hospital.get(f"/recalls/portal/notices/{notice.number}/").status_code == 404
    detail = html(signed_in(r.qa).get(f"/recalls/{campaign.number}/"))
    assert "DRILL" in detail and "simulated" in detail


def test_a_draft_notice_is_not_in_the_portal_before_it_is_sent(r: R) -> None:
    r.at(r.w.hospital, "A1", lot="L1")
    campaign = r.open(kind="lot", lot=lot_udi(r, "L1"))
    from medtrace.recalls import services

    (draft,) = services.recall_notices_create(campaign=campaign, user=r.qa)
    hospital = signed_in(r.d.hospital_user)

    assert draft.number not in html(hospital.get("/recalls/portal/"))
    assert hospital.get(f"/recalls/portal/notices/{draft.number}/").status_code == 404


# Documents -------------------------------------------------------------------------------------


def test_regulator_reports_and_notice_pdfs_are_downloaded_from_the_pages(r: R) -> None:
    campaign, notices = notified_recall(r)
    notice = notices[r.w.hospital.name]
    qa = signed_in(r.qa)
    page = html(qa.get(f"/recalls/{campaign.number}/"))
    base = f"/recalls/{campaign.number}/reports/"

    for kind in ("cn_report", "cn_plan", "cn_summary", "fda_806", "eu_fsn"):
        assert f"{base}{kind}.pdf" in page and f"{base}{kind}.xlsx" in page
        pdf = qa.get(f"{base}{kind}.pdf")
        assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        xlsx = qa.get(f"{base}{kind}.xlsx")
        assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    english = qa.get(f"{base}cn_report.pdf", {"lang": "en"})
    assert english.status_code == 200 and "cn_report-en.pdf" in english["Content-Disposition"]
    assert qa.get(f"{base}nope.pdf").status_code == 404
    staff_pdf = qa.get(f"/recalls/notices/{notice.number}/pdf/")
    assert staff_pdf.status_code == 200 and staff_pdf.content.startswith(b"%PDF")
    own = signed_in(r.d.hospital_user).get(f"/recalls/portal/notices/{notice.number}/pdf/")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")


# Effectiveness and closing ---------------------------------------------------------------------


def test_effectiveness_is_checked_concluded_and_the_recall_closed_with_a_signature(r: R) -> None:
    campaign, notices = notified_recall(r)
    qa = signed_in(r.qa)
    base = f"/recalls/{campaign.number}/"
    for notice in notices.values():
        qa.post(f"/recalls/notices/{notice.number}/", {"action": "acknowledge", "note": "phone"})
        for unit in notice.units.all():
            qa.post(
                f"/recalls/notices/{notice.number}/",
                {"action": "scan", "scan": unit.epc, "scan_status": "corrected"},
            )

    page = qa.get(base)
    assert "no effectiveness conclusion" in html(page)  # the close gate says what is missing
    too_early = qa.post(base + "do/close/", {"summary": "done", "password": QA_PASSWORD})
    assert too_early.status_code == 409 and "no effectiveness conclusion" in html(too_early)

    b_without_percent = qa.post(base + "do/effectiveness-start/", {"level": "B"})
    assert b_without_percent.status_code == 422
    assert "level B" in b_without_percent.context["errors"]["effectiveness_start"]["percent"]
    assert qa.post(base + "do/effectiveness-start/", {"level": "A"}).status_code == 302
    check = campaign.effectiveness_checks.get()
    unanswered = qa.post(
        base + "do/effectiveness-conclude/", {"effective": "yes", "conclusion": "ok"}
    )
    assert unanswered.status_code == 409 and "sampled consignees" in html(unanswered)
    for contact in check.contacts.all():
        done = qa.post(
            base + "do/effectiveness-contact/",
            {"contact": contact.pk, "result": "confirmed", "note": "called"},
        )
        assert done.status_code == 302
    concluded = qa.post(
        base + "do/effectiveness-conclude/", {"effective": "yes", "conclusion": "All reached"}
    )
    assert concluded.status_code == 302
    assert "Nothing is missing" in html(qa.get(base))

    wrong = qa.post(base + "do/close/", {"summary": "done", "password": "nope"})
    assert (
        wrong.status_code == 422
        and "wrong password" in wrong.context["errors"]["close"]["password"]
    )
    closed = qa.post(
        base + "do/close/", {"summary": "All units corrected", "password": QA_PASSWORD}
    )
    assert closed.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED
    closed_page = html(qa.get(base))
    assert "All units corrected" in closed_page and "Sign and close" not in closed_page
    # a step on a closed recall: its form is gone, so the refusal is shown at the top
    late = qa.post(base + "do/notices-create/")
    assert late.status_code == 409 and "only an open recall can" in late.context["top_error"]


# The forward-trace page ------------------------------------------------------------------------


def test_the_forward_page_offers_open_a_recall_only_with_the_permission(r: R) -> None:
    from medtrace.trace.tests import factories as f

    resin = r.w.resin_lot("RL-5")
    made = [r.w.device_sn("F1"), r.w.device_sn("F2")]
    f.capture(
        f.obj_lots([(resin, 5)], f.t(1), biz_step="receiving"),
        f.transform(f.t(2), input_lots=[(resin, 2)], outputs=made),
    )

    qa_page = signed_in(r.qa).get("/trace/", {"id": resin})
    sales_page = signed_in(r.d.sales).get("/trace/", {"id": resin})

    assert qa_page.status_code == 200 and sales_page.status_code == 200
    link = qa_page.context["recall_url"]
    # The resin is a supplier's lot: the recall's scope kind says so.
    assert link.startswith("/recalls/new/?kind=supplier_lot&id=urn%3Aepc%3Aclass%3Algtin")
    assert "Open a recall" in html(qa_page)
    assert "Open a recall" not in html(sales_page) and not sales_page.context["recall_url"]
    follow = signed_in(r.qa).get(link)
    assert follow.status_code == 200 and follow.context["preview"]["count"] == 2


def test_a_user_without_a_recall_role_is_kept_out(r: R) -> None:
    nobody = user("nobody_rc")
    assert signed_in(nobody).get("/recalls/").status_code == 403
    assert Client().get("/recalls/")["Location"].startswith("/accounts/login/")
