"""The pages: the shipping station refuses a blocked unit at the scan, fills the lines and ships;
the partner confirms receipt by scanning; returns are authorised and received into quarantine."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.quality import services as quality

from ..models import ReturnAuthorization, SalesOrder, Shipment, ShipmentStatus
from ..services import shipment_create
from .factories import Dist, user

pytestmark = pytest.mark.django_db


def signed_in(u: Any) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page texts below are the sources
    client.force_login(u)
    return client


def test_the_board_lists_open_orders_shipments_and_returns(d: Dist) -> None:
    order = d.order(2)
    shipment = shipment_create(order=order, scans=d.ready("V1"), user=d.sales)
    page = signed_in(d.sales).get("/distribution/")
    assert page.status_code == 200
    html = page.content.decode()
    assert order.number in html and shipment.number in html


def test_an_order_is_created_and_confirmed_from_the_page(d: Dist) -> None:
    client = signed_in(d.sales)
    assert client.get("/distribution/orders/new/").status_code == 200
    form = {
        "customer_id": str(d.w.hospital.pk),
        "ship_to_id": str(d.w.ward.pk),
        "customer_po": "PO-UI-1",
        "product_0": str(d.w.device.pk),
        "quantity_0": "2",
    }
    response = client.post("/distribution/orders/new/", form)
    order = SalesOrder.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/distribution/orders/{order.pk}/"
    )
    response = client.post(f"/distribution/orders/{order.pk}/", {"action": "confirm"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "confirmed"
    detail = client.get(f"/distribution/orders/{order.pk}/")
    assert detail.status_code == 200 and "PO-UI-1" in detail.content.decode()
    history = client.get(f"/records/distribution.salesorder/{order.pk}/")
    assert history.status_code == 200 and order.number in history.content.decode()
    bad = client.post("/distribution/orders/new/", {**form, "quantity_0": "0"})
    assert bad.status_code == 422 and "at least 1" in bad.content.decode()


def test_the_shipping_station_refuses_a_held_unit_at_the_scan(d: Dist) -> None:
    ok, held = d.ready("W1", "W2")
    (hold,) = quality.hold_place(targets=[held], reason="cracked display", user=d.qa)
    order = d.order(2)
    client = signed_in(d.warehouse)
    url = f"/distribution/orders/{order.pk}/ship/"
    page = client.get(url)
    assert page.status_code == 200 and "autofocus" in page.content.decode()
    first = client.post(url, {"scan": ok, "action": "add"})
    assert first.status_code == 200
    assert first.context["items"] == [ok] and first.context["lines"][0].shipped == 1
    second = client.post(url, {"scan": held, "item": [ok], "action": "add"})
    assert second.status_code == 422
    html = second.content.decode()
    assert "Cannot ship W2" in html and hold.number in html and "cracked display" in html
    assert second.context["items"] == [ok]  # the refused scan is not added
    again = client.post(url, {"scan": ok, "item": [ok], "action": "add"})
    assert "scanned already" in again.content.decode()
    shipped = client.post(url, {"item": [ok], "action": "ship"})
    shipment = Shipment.objects.get()
    assert (
        shipped.status_code == 302
        and shipped["Location"] == f"/distribution/shipments/{shipment.pk}/"
    )
    detail = client.get(shipped["Location"])
    assert shipment.number in detail.content.decode()
    pdf = client.get(f"/distribution/shipments/{shipment.pk}/despatch-note.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_the_partner_confirms_receipt_by_scanning(d: Dist) -> None:
    epcs = d.ready("Y1", "Y2")
    shipment = shipment_create(order=d.order(2), scans=epcs, user=d.sales)
    client = signed_in(d.hospital_user)
    assert client.get("/distribution/").status_code == 302  # to the incoming shipments
    listing = client.get("/distribution/incoming/")
    assert shipment.number in listing.content.decode()
    url = f"/distribution/incoming/{shipment.pk}/"
    (stray,) = d.ready("Y3")
    refused = client.post(url, {"scan": stray, "action": "add"})
    assert refused.status_code == 422 and "Cannot receive Y3" in refused.content.decode()
    scanned = client.post(url, {"scan": epcs[0], "action": "add"})
    assert scanned.context["missing"] == 1
    done = client.post(url, {"item": [epcs[0]], "action": "confirm"})
    assert done.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RECEIVED_WITH_DISCREPANCIES
    assert shipment.receipts.get().channel == "ui"
    # another hospital: neither the list nor the page
    other = signed_in(d.other_user)
    assert shipment.number not in other.get("/distribution/incoming/").content.decode()
    assert other.get(url).status_code == 404
    assert other.get(f"/distribution/shipments/{shipment.pk}/").status_code == 404
    # staff do not use the partner page
    assert signed_in(d.sales).get(url).status_code == 403


def test_a_return_is_authorised_and_received_from_the_pages(d: Dist) -> None:
    from medtrace.masterdata.tests import factories as md

    from ..services import shipment_receive

    md.location(owner=d.w.maker, kind="site", code="QRN", name="隔离区", ref=5)
    epcs = d.ready("Z1")
    shipment = shipment_create(order=d.order(1), scans=epcs, user=d.sales)
    shipment_receive(shipment=shipment, scans=epcs, user=d.hospital_user)
    sales = signed_in(d.sales)
    response = sales.post(
        "/distribution/returns/",
        {"customer_id": str(d.w.hospital.pk), "scans": epcs[0], "reason": "屏幕闪烁"},
    )
    rma = ReturnAuthorization.objects.get()
    assert response.status_code == 302
    clerk = signed_in(user("wh_pages", role="warehouse"))
    received = clerk.post(f"/distribution/returns/{rma.pk}/", {"action": "receive", "scans": ""})
    assert received.status_code == 302
    rma.refresh_from_db()
    assert rma.status == "received" and rma.holds
    hospital = signed_in(d.hospital_user)
    assert hospital.get(f"/distribution/returns/{rma.pk}/").status_code == 200
    assert signed_in(d.other_user).get(f"/distribution/returns/{rma.pk}/").status_code == 404
