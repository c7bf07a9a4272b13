"""Production pages: list, planning form, commissioning, the scanner-driven assembly station,
process records, the DHR pages and PDFs."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client

from medtrace.accounts.models import User
from medtrace.production import services_orders as orders
from medtrace.production.models import ProcessRecord, UnitComponent, WorkOrder
from medtrace.production.views import parse_parameters

from .factories import Prod, prod_world, work_order

pytestmark = pytest.mark.django_db


def _browser(role: str) -> Client:
    user = User.objects.create_user(username=f"web_{role}", password="pw", printed_name=role)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages below are the sources
    client.force_login(user)
    return client


def _hidden(page: str, name: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'name="{name}" value="([^"]*)"', page)]


def _scan_error(page: str) -> str | None:
    found = re.search(r'id="scan-error" role="alert">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
def x() -> Prod:
    return prod_world()


def test_the_list_and_the_planning_form(x: Prod) -> None:
    browser = _browser("production")
    existing = work_order(x, quantity=2)

    listed = browser.get("/production/?q=" + existing.number)
    refused = browser.post("/production/work-orders/new/", {"product_id": x.w.device.pk})
    created = browser.post(
        "/production/work-orders/new/",
        {"product_id": x.w.device.pk, "quantity": "4", "line_id": x.line.pk, "lot": ""},
    )

    assert existing.number in listed.content.decode()
    assert refused.status_code == 422
    assert "quantity: expected a whole number" in html.unescape(refused.content.decode())
    assert created.status_code == 302
    order = WorkOrder.objects.get(quantity=4)
    assert created["Location"] == f"/production/work-orders/{order.pk}/"
    detail = browser.get(created["Location"]).content.decode()
    assert order.number in detail and "Release to the line" in detail


def test_work_pages_are_for_production(x: Prod) -> None:
    order = work_order(x, quantity=2)
    qc = _browser("qc")

    assert qc.get("/production/").status_code == 200
    assert qc.get(f"/production/work-orders/{order.pk}/").status_code == 200
    assert qc.get(f"/production/work-orders/{order.pk}/commission/").status_code == 403
    assert qc.get(f"/production/work-orders/{order.pk}/assemble/").status_code == 403
    assert qc.get(f"/production/work-orders/{order.pk}/dhr/").status_code == 200
    assert _browser("sales").get(f"/production/work-orders/{order.pk}/dhr/").status_code == 403


def test_commissioning_from_the_page(x: Prod) -> None:
    browser = _browser("production")
    order = work_order(x, quantity=3)

    too_many = browser.post(f"/production/work-orders/{order.pk}/commission/", {"count": "9"})
    done = browser.post(
        f"/production/work-orders/{order.pk}/commission/", {"count": "2"}, follow=True
    )

    assert too_many.status_code == 422
    assert "at most 3 more; 9 asked" in html.unescape(too_many.content.decode())
    assert "2 units commissioned: D00001 … D00002." in done.content.decode()
    assert WorkOrder.objects.get(pk=order.pk).commissioned_qty == 2


def test_the_assembly_station_scan_by_scan(x: Prod) -> None:
    browser = _browser("production")
    order = work_order(x, quantity=2)
    serials = orders.work_order_commission(work_order=order, count=2, user=None).serials
    url = f"/production/work-orders/{order.pk}/assemble/"

    page = browser.post(url, {"scan": serials[0], "action": "scan"}).content.decode()
    unit = _hidden(page, "unit")[0]
    assert unit.endswith(serials[0])
    comps: list[str] = []
    for scan in (f"(01){x.w.resin.gtin}(10)R-001", f"(01){x.w.pump.gtin}(21)P-1"):
        response = browser.post(url, {"scan": scan, "unit": unit, "comp": comps})
        page = response.content.decode()
        assert response.status_code == 200 and _scan_error(page) is None
        comps = _hidden(page, "comp")
    assert [json.loads(c)["scan"] for c in comps] == [
        f"(01){x.w.resin.gtin}(10)R-001",
        f"(01){x.w.pump.gtin}(21)P-1",
    ]
    over = browser.post(url, {"scan": f"(01){x.w.pump.gtin}(21)P-2", "unit": unit, "comp": comps})
    assert over.status_code == 422
    assert "BOM A asks 1 EA" in (_scan_error(over.content.decode()) or "")
    assert _hidden(over.content.decode(), "comp") == comps  # the refused scan is not kept

    recorded = browser.post(url, {"scan": "", "unit": unit, "comp": comps}, follow=True)

    assert f"{serials[0]}: 2 components recorded." in recorded.content.decode()
    assert UnitComponent.objects.filter(unit=unit).count() == 2
    assert _hidden(recorded.content.decode(), "unit") == [""]  # ready for the next unit


def test_an_unknown_unit_is_shown_next_to_the_scan(x: Prod) -> None:
    browser = _browser("production")
    order = work_order(x, quantity=2)
    orders.work_order_commission(work_order=order, count=1, user=None)

    response = browser.post(
        f"/production/work-orders/{order.pk}/assemble/", {"scan": "NOPE-1", "action": "scan"}
    )

    assert response.status_code == 422
    assert "NOPE-1" in (_scan_error(response.content.decode()) or "")


def test_a_process_record_from_the_detail_page(x: Prod) -> None:
    browser = _browser("production")
    order = work_order(x, quantity=2)

    bad = browser.post(
        f"/production/work-orders/{order.pk}/process-records/",
        {"step": "torque", "parameters": "torque 0.6"},
    )
    good = browser.post(
        f"/production/work-orders/{order.pk}/process-records/",
        {"step": "torque screws", "station": "TQ-7", "parameters": "torque = 0.6 N·m\ncount = 4"},
    )

    assert bad.status_code == 422 and "expected name = value unit" in bad.content.decode()
    assert good.status_code == 302
    record = ProcessRecord.objects.get()
    assert record.parameters == [
        {"name": "torque", "value": 0.6, "unit": "N·m"},
        {"name": "count", "value": 4, "unit": ""},
    ]


def test_parameters_parse_numbers_and_text() -> None:
    assert parse_parameters("T = 45 °C\nmode = auto clean\n\n") == [
        {"name": "T", "value": 45, "unit": "°C"},
        {"name": "mode", "value": "auto clean", "unit": ""},
    ]


def test_the_dhr_pages_and_pdfs(x: Prod) -> None:
    browser = _browser("qa_ra")
    order = work_order(x, quantity=2)
    done = orders.work_order_commission(work_order=order, count=2, user=None)

    page = browser.get(f"/production/work-orders/{order.pk}/dhr/").content.decode()
    pdf = browser.get(f"/production/work-orders/{order.pk}/dhr.pdf")
    unit = browser.get("/production/dhr/", {"id": done.serials[1]})
    unit_pdf = browser.get("/production/dhr.pdf", {"id": done.epcs[1]})
    unknown = browser.get("/production/dhr/", {"id": "NOTHING-HERE"})

    assert done.serials[0] in page and "Download as PDF" in page
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert unit.status_code == 200 and done.epcs[1] in unit.content.decode()
    assert unit_pdf.content.startswith(b"%PDF")
    assert unknown.status_code == 404


def test_status_actions_from_the_detail_page(x: Prod, hospital_a: Any) -> None:
    browser = _browser("production")
    order = work_order(x, quantity=2, release=False)

    released = browser.post(f"/production/work-orders/{order.pk}/status/release/")
    again = browser.post(f"/production/work-orders/{order.pk}/status/release/")
    partner = Client()
    partner.force_login(hospital_a)

    assert released.status_code == 302
    assert again.status_code == 409 and "it is Released to production" in again.content.decode()
    assert partner.get(f"/production/work-orders/{order.pk}/").status_code == 403
