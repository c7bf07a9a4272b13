"""The quality pages, driven like a keyboard-wedge scanner would."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.quality.models import Hold, InspectionResult, Nonconformance, Release
from medtrace.trace.tests import factories as f

from .conftest import commission, pump_plan

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    c = Client()
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page texts below are the sources
    c.force_login(user)
    return c


def test_scan_enter_values_and_see_the_verdict(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w)
    commission(w, "V1")
    c = signed_in(qc_inspector)
    scan = f"(01){w.gtin(w.device)}(21)V1"
    page = c.get("/quality/inspect/", {"scan": scan})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Flow accuracy" in html and "-5 … 5" in html and 'name="v_0_0"' in html
    page = c.post(
        "/quality/inspect/",
        {"scan": scan, "plan": plan.pk, "v_0_0": "7", "v_0_1": "80", "v_0_2": "10"},
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "FAIL" in html and "Nonconformance NC-" in html
    assert InspectionResult.objects.get().result == "fail"
    assert "autofocus" in html  # ready for the next scan


def test_a_missing_value_is_shown_next_to_the_form(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w)
    commission(w, "V2")
    c = signed_in(qc_inspector)
    page = c.post("/quality/inspect/", {"scan": "V2", "plan": plan.pk, "v_0_0": "1"})
    assert page.status_code == 422
    assert "Occlusion pressure is required by plan FQ-IP9" in page.content.decode()
    assert not InspectionResult.objects.exists()


def test_an_unknown_scan_is_reported(w: f.World, qc_inspector: Any) -> None:
    c = signed_in(qc_inspector)
    page = c.get("/quality/inspect/", {"scan": "NO-SUCH-SERIAL"})
    assert page.status_code in (404, 422)
    assert 'class="error"' in page.content.decode()


def test_hold_and_lift_from_the_holds_page(w: f.World, qa_manager: Any) -> None:
    epcs = commission(w, "H1", "H2")
    c = signed_in(qa_manager)
    page = c.get("/quality/holds/", {"scans": ["H1"], "scan": "H2"})
    html = page.content.decode()
    assert epcs[0] in html and epcs[1] in html
    page = c.post("/quality/holds/", {"targets": epcs, "kind": "quarantine", "reason": "dropped"})
    assert page.status_code == 302
    assert Hold.objects.filter(kind="quarantine", lifted_at__isnull=True).count() == 2
    hold = Hold.objects.first()
    assert hold is not None
    page = c.post(f"/quality/holds/{hold.pk}/lift/", {"reason": "inspected, fine"})
    assert page.status_code == 302
    hold.refresh_from_db()
    assert not hold.active


def test_nc_disposition_with_signature_on_the_page(
    w: f.World, qc_inspector: Any, qa_manager: Any
) -> None:
    (epc,) = commission(w, "D1")
    c = signed_in(qc_inspector)
    page = c.post(
        "/quality/nonconformances/",
        {"targets": "D1", "title": "Scratch", "description": "on the display", "hold": "on"},
    )
    assert page.status_code == 302
    nc = Nonconformance.objects.get()
    url = f"/quality/nonconformances/{nc.pk}/"
    html = c.get(url).content.decode()
    assert 'value="use_as_is"' not in html  # QC cannot grant a concession
    page = c.post(
        url, {"step": "disposition", "disposition": "scrap", "reason": "r", "password": "bad"}
    )
    assert page.status_code == 422 and "wrong password" in page.content.decode()
    qa = signed_in(qa_manager)
    assert 'value="use_as_is"' in qa.get(url).content.decode()
    page = qa.post(
        url,
        {
            "step": "disposition",
            "disposition": "use_as_is",
            "reason": "cosmetic",
            "password": "pw-qa_manager",
        },
    )
    assert page.status_code == 302
    page = qa.post(url, {"step": "close", "note": "accepted"})
    assert page.status_code == 302
    nc.refresh_from_db()
    assert nc.status == "closed" and not Hold.objects.filter(lifted_at__isnull=True).exists()
    assert epc in qa.get(url).content.decode()


def test_release_page_scans_then_signs(w: f.World, qc_inspector: Any) -> None:
    epcs = commission(w, "E1", "E2")
    c = signed_in(qc_inspector)
    page = c.get("/quality/release/", {"scans": ["E1"], "scan": "E2"})
    assert "Sign and release" in page.content.decode()
    page = c.post("/quality/release/", {"targets": epcs, "password": "nope"})
    assert page.status_code == 422 and not Release.objects.exists()
    page = c.post("/quality/release/", {"targets": epcs, "password": "pw-qc_inspector"})
    assert page.status_code == 302 and Release.objects.get().items.count() == 2


def test_the_qc_desk_lists_what_waits(w: f.World, qc_inspector: Any) -> None:
    pump_plan(w)
    commission(w, "Z1")
    page = signed_in(qc_inspector).get("/quality/")
    assert page.status_code == 200
    assert "Z1" in page.content.decode()


def test_partners_do_not_see_quality_pages(w: f.World, hospital_a: Any) -> None:
    assert signed_in(hospital_a).get("/quality/").status_code == 403
