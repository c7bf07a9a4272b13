"""Complaint pages: intake with the UDI scan field (the parser's error next to it), the detail
page with its forms and trace links, the signed closure, a hospital's report and list."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.accounts.models import User
from medtrace.complaints import services
from medtrace.complaints.models import AdverseEvent, Complaint, SignalRule

from .factories import C, complaints_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def c() -> C:
    return complaints_world()


def _browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _text(response: Any) -> str:
    return str(response.content.decode())


def test_staff_record_a_complaint_on_the_intake_page(c: C) -> None:
    epc = c.unit("SN-1")
    browser = _browser(c.sales)
    assert "Scan the device" in _text(browser.get("/complaints/new/"))

    response = browser.post(
        "/complaints/new/",
        {
            "udi": f"https://id.gs1.org/01/{c.gtin}/21/SN-1",
            "description": "Alarm during infusion",
            "complainant_party_id": str(c.w.hospital.pk),
            "injury": "1",
        },
    )

    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/complaints/{complaint.number}/"
    assert (complaint.channel, complaint.unit_epc, complaint.injury) == ("ui", epc, True)
    page = _text(browser.get(response["Location"], follow=True))
    assert complaint.number in page and "recorded" in page


def test_a_bad_udi_shows_the_parsers_message_next_to_the_field(c: C) -> None:
    browser = _browser(c.qa)

    response = browser.post(
        "/complaints/new/",
        {"udi": "(01)06901234000110(21)X", "description": "x", "complainant_name": "A"},
    )

    assert response.status_code == 422
    page = _text(response)
    assert "udi: " in page and "check digit" in page
    assert 'value="(01)06901234000110(21)X"' in page  # the scan stays in the field
    assert not Complaint.objects.exists()


def test_the_detail_page_links_the_unit_timeline_and_shows_its_make_up(c: C) -> None:
    epc = c.unit("SN-2")
    complaint = services.complaint_create(
        udi=epc, description="Alarm", complainant_name="Ward", user=c.qa
    ).complaint

    page = _text(_browser(c.auditor).get(f"/complaints/{complaint.number}/"))

    assert "/trace/?id=urn%3Aepc%3Aid%3Asgtin" in page
    assert "Make-up of the unit" in page
    assert "Record the decision" not in page  # the auditor only reads


def test_qa_investigates_decides_and_closes_with_a_signature_on_the_page(c: C) -> None:
    c.unit("SN-3")
    complaint = services.complaint_create(
        description="Alarm", complainant_name="Ward", user=c.service
    ).complaint
    browser = _browser(c.qa)
    base = f"/complaints/{complaint.number}"

    blocked = browser.post(f"{base}/close/", {"summary": "x", "password": "pw-qa"})
    assert blocked.status_code == 409 and "no device UDI" in _text(blocked)
    assert (
        browser.post(
            f"{base}/investigate/", {"entry": "Read log", "udi": c.udi("SN-3")}
        ).status_code
        == 302
    )
    decided = browser.post(
        f"{base}/decide/",
        {"reportable": "yes", "justification": "Could cause serious injury"},
    )
    assert decided.status_code == 302
    ae = AdverseEvent.objects.get()
    page = _text(browser.get(base + "/"))
    assert ae.number in page and "Record submission" in page
    wrong = browser.post(f"{base}/close/", {"summary": "done", "password": "nope"})
    assert wrong.status_code == 422 and "wrong password" in _text(wrong)

    closed = browser.post(f"{base}/close/", {"summary": "done", "password": "pw-qa"})

    assert closed.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "closed"
    assert "valid" in _text(browser.get(base + "/"))


def test_a_submission_is_recorded_from_the_adverse_event_panel(c: C) -> None:
    complaint = services.complaint_create(
        description="x", complainant_name="W", death=True, user=c.qa
    ).complaint
    ae = services.adverse_event_create(complaint=complaint, user=c.qa)
    browser = _browser(c.qa)

    response = browser.post(
        f"/complaints/{complaint.number}/report/",
        {"adverse_event": ae.number, "key": "cn_ae_death", "reference": "NMPA-1"},
    )

    assert response.status_code == 302
    assert ae.deadlines.get().reference == "NMPA-1"
    assert "NMPA-1" in _text(browser.get("/complaints/adverse-events/"))


def test_a_hospital_reports_a_complaint_and_lists_only_its_own(c: C) -> None:
    c.unit("SN-4")
    c.unit("SN-5", hospital=c.s.hospital_b)
    theirs = services.complaint_create(
        udi=c.udi("SN-5"), description="B's", user=c.hospital_b
    ).complaint
    browser = _browser(c.hospital_a)
    home = _text(browser.get("/", follow=True))
    assert "Report a complaint" in home

    refused = browser.post("/complaints/new/", {"udi": c.udi("SN-5"), "description": "x"})
    assert refused.status_code == 404 and "holds or held" in _text(refused)
    response = browser.post("/complaints/new/", {"udi": c.udi("SN-4"), "description": "Alarm"})

    assert response.status_code == 302
    mine = Complaint.objects.get(complainant_party=c.w.hospital)
    listing = _text(browser.get("/complaints/"))
    assert mine.number in listing and theirs.number not in listing
    assert browser.get(f"/complaints/{theirs.number}/").status_code == 404
    detail = _text(browser.get(f"/complaints/{mine.number}/"))
    assert "Make-up of the unit" not in detail and "Reportability" not in detail
    assert browser.get("/complaints/signals/").status_code == 403


def test_qa_edits_a_signal_rule_on_the_signals_page(c: C) -> None:
    rule = SignalRule.objects.get(dimension="component_lot")
    browser = _browser(c.qa)

    response = browser.post(
        "/complaints/signals/",
        {"rule": str(rule.pk), "threshold": "3", "window_days": "60", "active": "1"},
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.threshold, rule.window_days, rule.active) == (3, 60, True)
    refused = browser.post(
        "/complaints/signals/", {"rule": str(rule.pk), "threshold": "1", "window_days": "60"}
    )
    assert refused.status_code == 422 and "one complaint is not a signal" in _text(refused)
    assert _browser(c.service).get("/complaints/signals/").status_code == 200
    assert "Add rule" not in _text(_browser(c.service).get("/complaints/signals/"))
