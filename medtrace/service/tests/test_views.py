"""The service pages: scanner-friendly forms (autofocused scan input, any UDI form), errors next
to their field, partner scoping (another hospital's installation is 404)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.service import services
from medtrace.service.models import InstalledUnit, ScrapRecord, ServiceTicket, TicketStatus

from .lifecycle_factories import Scene, ago, partner, scene, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Scene:
    return scene()


@pytest.fixture
def engineer() -> Any:
    return staff("engineer", "service")


def browser(user: Any) -> Client:
    c = Client()
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    c.force_login(user)
    return c


def test_the_home_page_shows_installed_base_due_units_and_open_tickets(
    s: Scene, engineer: Any
) -> None:
    epc = s.delivered("W1")
    services.installation_create(
        unit=epc, department_id=s.icu.pk, user=engineer, installed_at=ago(days=40)
    )
    services.maintenance_plan_create(
        data={
            "name": "月检",
            "kind": "maintenance",
            "product_id": s.w.device.pk,
            "interval_days": 30,
        },
        user=engineer,
    )
    services.ticket_open(unit=epc, symptom="屏幕闪烁", user=engineer, opened_at=ago(hours=5))

    r = browser(engineer).get("/service/")

    html = r.content.decode()
    assert r.status_code == 200
    assert "W1" in html and "月检" in html and "屏幕闪烁" not in html
    assert "days overdue" in html and "5 h" in html and "autofocus" in html


def test_installing_from_the_page(s: Scene, engineer: Any) -> None:
    s.delivered("W2")
    c = browser(engineer)
    assert 'name="unit"' in c.get("/service/install/").content.decode()

    r = c.post("/service/install/", {"unit": s.udi("W2"), "department_id": s.icu.pk})
    assert r.status_code == 302
    row = InstalledUnit.objects.get(serial="W2")
    assert r["Location"] == f"/service/installations/{row.pk}/"
    assert c.get(r["Location"]).status_code == 200

    epc = s.make("W3")
    s.ship(epc, s.w.hospital)
    r = c.post("/service/install/", {"unit": "W3", "department_id": s.icu.pk})
    assert r.status_code == 409
    html = r.content.decode()
    assert "still in transit" in html and 'role="alert"' in html


def test_the_ticket_page_swaps_a_part_by_scanning(s: Scene, engineer: Any) -> None:
    epc = s.delivered("W4", part="B1")
    s.receive_parts("B2")
    ticket = services.ticket_open(unit=epc, symptom="电池", user=engineer)
    c = browser(engineer)
    url = f"/service/tickets/{ticket.pk}/"

    r = c.post(url + "diagnose/", {"diagnosis": "电池老化"})
    assert r.status_code == 302
    html = c.get(url).content.decode()
    assert "Scan the part removed" in html
    r = c.post(url + "swap-part/", {"removed": s.part("B9"), "installed": s.part("B2")})
    assert r.status_code == 404 and "No event in the ledger" in r.content.decode()
    r = c.post(url + "swap-part/", {"removed": s.part("B1"), "installed": s.part("B2")})
    assert r.status_code == 302
    r = c.post(url + "resolve/", {"resolution": "done"})
    assert r.status_code == 422 and "record a passing test" in r.content.decode()
    r = c.post(
        url + "test/",
        {
            "m_name": ["run time", ""],
            "m_value": ["7", ""],
            "m_unit": ["h", ""],
            "m_min": ["6", ""],
            "m_max": ["", ""],
            "m_pass": ["", ""],
        },
    )
    assert r.status_code == 302
    assert c.post(url + "resolve/", {"resolution": "更换电池"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED and ticket.test_measurements[0]["pass"]
    assert "time to resolve" in c.get(url).content.decode()


def test_scrap_page_collects_scans_and_signs(s: Scene, engineer: Any) -> None:
    s.delivered("W5")
    c = browser(engineer)

    html = c.get("/service/scrap/", {"scans": ["W5"], "scan": s.udi("W5")}).content.decode()
    assert html.count('name="units"') == 1  # the same unit scanned in two forms, listed once
    r = c.post(
        "/service/scrap/",
        {"units": ["W5"], "reason": "跌落", "method": "dismantled", "password": "wrong"},
    )
    assert r.status_code == 422 and "wrong password" in r.content.decode()
    assert not ScrapRecord.objects.exists()
    r = c.post(
        "/service/scrap/",
        {"units": ["W5"], "reason": "跌落", "method": "dismantled", "password": "pw-engineer"},
    )
    assert r.status_code == 302
    assert "approved" in c.get(r["Location"]).content.decode()


def test_hospital_staff_see_their_own_installed_base_only(s: Scene, engineer: Any) -> None:
    a = services.installation_create(unit=s.delivered("W6"), department_id=s.icu.pk, user=engineer)
    b = services.installation_create(
        unit=s.delivered("W7", hospital=s.hospital_b), department_id=s.icu_b.pk, user=engineer
    )
    hosp_a = browser(partner("hosp_a_user", s.w.hospital))

    html = hosp_a.get("/service/").content.decode()
    assert "W6" in html and "W7" not in html
    assert hosp_a.get(f"/service/installations/{a.pk}/").status_code == 200
    assert hosp_a.get(f"/service/installations/{b.pk}/").status_code == 404
    assert hosp_a.get("/service/scrap/").status_code == 403
    r = hosp_a.post("/service/tickets/new/", {"unit": "W6", "symptom": "报警"})
    assert r.status_code == 302 and ServiceTicket.objects.get().reporter == s.w.hospital
    assert browser(staff("clerk", "warehouse")).get("/service/install/").status_code == 403


def test_the_visit_page_lists_the_plan_items(s: Scene, engineer: Any) -> None:
    plan = services.maintenance_plan_create(
        data={
            "name": "校准",
            "kind": "calibration",
            "product_id": s.w.device.pk,
            "interval_days": 365,
            "items": [{"name": "flow rate", "unit": "mL/h", "min": 99, "max": 101}],
        },
        user=engineer,
    )
    s.delivered("W8")
    c = browser(engineer)

    html = c.get(f"/service/visit/?plan={plan.pk}").content.decode()
    assert "flow rate" in html and "autofocus" in html
    r = c.post(
        "/service/visit/",
        {
            "plan": plan.pk,
            "unit": "W8",
            "work_done": "校准",
            "m_name": ["flow rate"],
            "m_value": ["100.3"],
            "m_unit": ["mL/h"],
            "m_min": ["99"],
            "m_max": ["101"],
            "m_pass": [""],
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assert c.get("/service/plans/").status_code == 200
