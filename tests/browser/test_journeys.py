"""In the browser, on the demo: a hospital receives a shipment by scanning it, the warehouse
ships a sales order by scanning, partners answer a recall notice (acknowledgement, per-unit
disposition) and QA sees the recall dashboard count it, and hospital B never sees hospital A's
devices. Each journey is checked on the page and in the database.

The tests of this module share one demo world and run in order (the order to ship waits for
the sales user's confirmation first, and so on)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from medtrace.distribution import demo as dist_demo
from medtrace.distribution import selectors as dist_selectors
from medtrace.distribution.models import SalesOrder, Shipment, ShipmentItem, ShipmentStatus
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Party
from medtrace.recalls.models import AffectedUnit, RecallCampaign, RecallNotice, UnitStatus

from .conftest import screenshot

pytestmark = pytest.mark.usefixtures("live")


def _party_of(username: str) -> Party:
    from medtrace.accounts.models import User

    party = User.objects.get(username=username).party
    assert party is not None, f"{username} is a partner user of the demo"
    return party


def _units_held_by(username: str) -> list[UnitState]:
    from medtrace.accounts.scoping import party_identifiers

    return list(
        UnitState.objects.filter(
            possessing_party__in=party_identifiers(_party_of(username)), product__isnull=False
        )
        .exclude(serial="")
        .order_by("epc")
    )


def _submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)
    page.wait_for_load_state("networkidle")


def _scan(page: Any, value: str) -> None:
    page.fill("#scan", value)
    with page.expect_navigation():
        page.press("#scan", "Enter")


def test_the_hospital_receives_its_incoming_shipment_by_scanning(sign_in: Any) -> None:
    hospital = _party_of("hospital_a")
    shipment = Shipment.objects.get(
        consignee=hospital, status=ShipmentStatus.IN_TRANSIT
    )  # the demo's second shipment to hospital A is on its way
    epcs = [item.epc for item in dist_selectors.shipment_items(shipment) if not item.is_container]
    assert epcs

    page = sign_in("hospital_a", language="en")
    page.goto("/distribution/incoming/")
    assert shipment.number in page.locator("main").inner_text()
    screenshot(page, "incoming")
    page.goto(f"/distribution/incoming/{shipment.pk}/")
    for epc in epcs:
        _scan(page, epc)
        assert page.locator("#scan-error").count() == 0, page.locator("main").inner_text()
    assert page.locator("tr.scanned").count() == len(epcs)
    screenshot(page, "receive")
    _submit(page, "button[name=action][value=confirm]")

    assert page.url.endswith(f"/distribution/shipments/{shipment.pk}/")
    assert shipment.number in page.locator("main").inner_text()
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RECEIVED
    receipt = shipment.receipts.get()
    assert receipt.channel == "ui" and not receipt.missing and not receipt.extra


def test_sales_confirms_and_the_warehouse_ships_an_order_by_scanning(sign_in: Any) -> None:
    order = SalesOrder.objects.get(customer_po="NJZX-2612-004")  # the demo's draft order
    stem = order.lines.get().product
    shipped = set(ShipmentItem.objects.values_list("epc", flat=True))
    # the demo makes twelve stems and ships ten of them
    ready = [ev.unit_epc(stem, serial) for serial in dist_demo.SERIALS]
    ready = [epc for epc in ready if epc not in shipped]
    assert len(ready) == 2, ready
    # a unit packed in a case ships by the case's SSCC
    states = UnitState.objects.filter(epc__in=ready)
    scans = sorted({state.container or state.epc for state in states})

    sales = sign_in("sales", language="en")
    sales.goto(f"/distribution/orders/{order.pk}/")
    _submit(sales, "button[name=action][value=confirm]")
    order.refresh_from_db()
    assert order.status == "confirmed"

    page = sign_in("warehouse", language="en")
    page.goto(f"/distribution/orders/{order.pk}/ship/")
    for scan in scans:
        _scan(page, scan)
        assert page.locator("#scan-error").count() == 0, page.locator("main").inner_text()
    assert all(epc in page.locator("main").inner_text() for epc in ready)
    screenshot(page, "ship")
    _submit(page, "button[name=action][value=ship]")

    shipment = Shipment.objects.get(sales_order=order)
    assert page.url.endswith(f"/distribution/shipments/{shipment.pk}/")
    assert shipment.number in page.locator("main").inner_text()
    screenshot(page, "shipment")
    assert shipment.status == ShipmentStatus.IN_TRANSIT and shipment.unit_count == 2
    assert set(UnitState.objects.filter(epc__in=ready).values_list("biz_step", flat=True)) == {
        "shipping"
    }


def _acknowledged(page: Any) -> int:
    text = page.locator("#total-acknowledged").inner_text()
    match = re.match(r"\s*(\d+)\s*/", text)
    assert match, text
    return int(match.group(1))


def test_partners_answer_the_recall_notice_and_the_dashboard_counts_it(sign_in: Any) -> None:
    campaign = RecallCampaign.objects.exclude(status="closed").get()  # the demo's open recall
    hosp_a, hosp_b = _party_of("hospital_a"), _party_of("hospital_b")
    notice_a = RecallNotice.objects.get(campaign=campaign, consignee=hosp_a)
    pending = list(notice_a.units.filter(status=UnitStatus.PENDING).order_by("pk"))
    assert pending, "hospital A has units awaiting a disposition"

    qa = sign_in("qa", language="en")
    qa.goto("/recalls/dashboard/")
    before = _acknowledged(qa)

    # Hospital A (acknowledged already in the demo) says what became of each unit.
    page = sign_in("hospital_a", language="en")
    page.goto("/portal/")
    screenshot(page, "portal")
    page.goto(f"/recalls/portal/notices/{notice_a.number}/")
    for unit in pending:
        page.select_option(f"#status_{unit.pk}", UnitStatus.CORRECTED.value)
        page.fill(f"#note_{unit.pk}", "传感器已更换 / sensor replaced")
    screenshot(page, "recall-notice")
    _submit(page, "form:has(input[name=action][value=report]) button[type=submit]")
    assert page.locator("#status_" + str(pending[0].pk)).count() == 0
    assert set(
        AffectedUnit.objects.filter(pk__in=[u.pk for u in pending]).values_list("status", flat=True)
    ) == {UnitStatus.CORRECTED}

    # Hospital B acknowledges its own notice from the portal.
    notice_b = RecallNotice.objects.filter(
        campaign=campaign, consignee=hosp_b, acknowledged_at=None
    ).first()
    if notice_b is not None:
        other = sign_in("hospital_b", language="en")
        other.goto(f"/recalls/portal/notices/{notice_b.number}/")
        other.fill("#ack-note", "设备科已收到")
        _submit(other, "#acknowledge button[type=submit]")
        notice_b.refresh_from_db()
        assert notice_b.acknowledged_at is not None
        assert notice_b.acknowledged_by is not None
        assert notice_b.acknowledged_by.username == "hospital_b"

        qa.goto("/recalls/dashboard/")
        assert _acknowledged(qa) == before + 1
    screenshot(qa, "recall-dashboard")
    qa.goto(f"/recalls/{campaign.number}/")
    assert campaign.number in qa.locator("main").inner_text()
    screenshot(qa, "recall")
    assert notice_b is not None, "the demo leaves hospital B's notice unacknowledged"


def test_hospital_b_never_sees_hospital_a_devices(sign_in: Any) -> None:
    theirs = _units_held_by("hospital_a")
    assert theirs, "hospital A holds devices in the demo"
    mine = {u.epc for u in _units_held_by("hospital_b")}
    assert not mine & {u.epc for u in theirs}

    a = sign_in("hospital_a", language="en")
    a.goto("/trace/?id=" + theirs[0].epc)
    assert theirs[0].serial in a.locator("main").inner_text()

    hospital_a = _party_of("hospital_a")
    page = sign_in("hospital_b", language="en")
    for unit in theirs[:3]:
        response = page.goto("/trace/?id=" + unit.epc)
        assert response is not None and response.status == 404, unit.epc
        shown = page.locator("main").inner_text()
        assert hospital_a.name not in shown, shown  # not even where it is
    page.goto("/portal/")
    screenshot(page, "portal-hospital-b")
    portal = page.content()
    assert not [u.serial for u in theirs if u.serial in portal]
    page.goto("/distribution/incoming/")
    incoming = page.content()
    for shipment in Shipment.objects.filter(consignee=_party_of("hospital_a")):
        assert shipment.number not in incoming
