"""The procurement pages, driven like a clerk with a keyboard-wedge scanner would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from medtrace.masterdata import services as md_services
from medtrace.procurement.models import GoodsReceipt, MaterialLot, PurchaseOrder

from .factories import COC, Proc, purchase_order, receive

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page texts below are the sources
    client.force_login(user)
    return client


def test_the_overview_lists_open_pos_lots_awaiting_and_expiring_certificates(
    p: Proc, buyer: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    order = purchase_order(p)
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 5}])
    md_services.licence_update(
        licence=p.licences["iso13485"],
        data={"expires_on": timezone.localdate() + timedelta(days=9)},
        user=None,
        reason="x",
    )
    page = _client(buyer).get(reverse("procurement:home"))
    assert page.status_code == 200
    html = page.content.decode()
    assert order.number in html and "R-1" in html and p.licences["iso13485"].number in html
    assert "autofocus" in html


def test_a_scan_on_the_overview_opens_the_lot_or_shows_the_error_next_to_the_field(
    p: Proc, buyer: Any
) -> None:
    order = purchase_order(p)
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 5}])
    lot = MaterialLot.objects.get()
    client = _client(buyer)
    r = client.get(reverse("procurement:home"), {"code": f"(01){p.w.resin.gtin}(10)R-1"})
    assert r.status_code == 302 and r["Location"] == reverse(
        "procurement:lot_detail", args=[lot.pk]
    )
    r = client.get(reverse("procurement:home"), {"code": f"(01){p.w.resin.gtin}(10)NOPE"})
    assert r.status_code == 422
    assert "was never received" in r.content.decode()


def test_a_buyer_creates_a_po_on_the_form_and_an_unqualified_supplier_is_shown_next_to_it(
    p: Proc, buyer: Any
) -> None:
    client = _client(buyer)
    form = {
        "supplier": p.supplier.pk,
        "material_0": p.w.resin.pk,
        "quantity_0": "50",
        "material_1": p.w.pump.pk,
        "quantity_1": "0",
    }
    r = client.post(reverse("procurement:po_create"), form)
    assert r.status_code == 422
    assert "expected a quantity above 0" in r.content.decode()
    form["quantity_1"] = "2"
    form["release"] = "on"
    r = client.post(reverse("procurement:po_create"), form)
    assert r.status_code == 302
    order = PurchaseOrder.objects.get()
    assert order.status == "released" and order.created_by == buyer
    assert client.get(r["Location"]).status_code == 200


def test_the_receiving_station_collects_scans_and_posts_the_receipt_with_the_coc(
    p: Proc, buyer: Any
) -> None:
    order = purchase_order(p)
    client = _client(buyer)
    url = reverse("procurement:receive", args=[order.pk])
    assert client.get(url).status_code == 200
    # A lot label without a count needs the quantity first.
    r = client.post(url, {"scan": f"(01){p.w.resin.gtin}(10)R-9(17)301231"})
    assert r.status_code == 422 and "Enter the quantity" in r.content.decode()
    r = client.post(url, {"scan": f"(01){p.w.resin.gtin}(10)R-9(17)301231", "quantity": "40"})
    assert r.status_code == 200
    rows = r.context["rows"]
    assert [x[1]["lot"] for x in rows] == ["R-9"]
    collected = [raw for raw, _r in rows]
    r = client.post(url, {"row": collected, "scan": f"]d201{p.w.pump.gtin}21PS-1"})
    collected = [raw for raw, _r in r.context["rows"]]
    r = client.post(url, {"row": collected, "scan": f"{p.w.pump.code}/PS-2"})
    collected = [raw for raw, _r in r.context["rows"]]
    assert [json.loads(x)["serial"] for x in collected] == ["", "PS-1", "PS-2"]
    dup = client.post(url, {"row": collected, "scan": f"{p.w.pump.code}/PS-2"})
    assert dup.status_code == 422 and "already scanned" in dup.content.decode()
    # Posting without a CoC is refused next to the file field.
    r = client.post(url, {"row": collected, "action": "post", "location": p.incoming.pk})
    assert r.status_code == 422 and "certificate of conformity" in r.content.decode()
    r = client.post(
        url,
        {
            "row": collected,
            "action": "post",
            "location": p.incoming.pk,
            "coc": SimpleUploadedFile("coc.pdf", COC, content_type="application/pdf"),
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    receipt = GoodsReceipt.objects.get()
    assert sorted(MaterialLot.objects.values_list("identifier", flat=True)) == [
        "PS-1",
        "PS-2",
        "R-9",
    ]
    page = client.get(r["Location"]).content.decode()
    assert receipt.coc.sha256 in page
    coc = client.get(reverse("procurement:receipt_coc", args=[receipt.pk]))
    assert coc.content == COC


def test_qc_inspects_at_the_station_and_the_findings_are_required_to_reject(
    p: Proc, qc_inspector: Any
) -> None:
    order = purchase_order(p)
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 10}])
    receive(p, order, [{"line": 2, "serials": ["A", "B"]}])
    client = _client(qc_inspector)
    lot = MaterialLot.objects.get(identifier="R-1")
    url = reverse("procurement:lot_detail", args=[lot.pk])
    r = client.post(url, {"accepted_qty": "8"})
    assert r.status_code == 422 and "say what was found" in r.content.decode()
    r = client.post(url, {"accepted_qty": "8", "note": "2 cracked"})
    assert r.status_code == 302
    lot.refresh_from_db()
    assert lot.status == "partly_accepted"

    line = MaterialLot.objects.get(identifier="A").receipt_line
    url = reverse("procurement:line_inspect", args=[line.pk])
    r = client.post(url, {"scan": f"(01){p.w.pump.gtin}(21)B"})
    assert r.context["rejected"] == ["B"]
    r = client.post(url, {"rejected": ["B"], "note": "scratched", "action": "post"})
    assert r.status_code == 302
    assert dict(
        MaterialLot.objects.filter(material=p.w.pump).values_list("identifier", "status")
    ) == {
        "A": "accepted",
        "B": "rejected",
    }
    assert client.get(reverse("procurement:inspection_list")).status_code == 200


def test_the_supplier_page_uploads_a_certificate_scan(p: Proc, buyer: Any) -> None:
    client = _client(buyer)
    url = reverse("procurement:supplier_detail", args=[p.supplier.pk])
    lic = p.licences["iso13485"]
    r = client.post(url, {"licence": lic.pk})
    assert r.status_code == 422 and "Choose the scan file" in r.content.decode()
    r = client.post(url, {"licence": lic.pk, "scan": SimpleUploadedFile("iso.pdf", b"scan")})
    assert r.status_code == 302
    lic.refresh_from_db()
    page = client.get(url).content.decode()
    assert lic.scan is not None and lic.scan.sha256 in page
    assert client.get(reverse("procurement:licence_scan", args=[lic.pk])).content == b"scan"
    assert client.get(reverse("procurement:supplier_list")).status_code == 200


def test_partners_do_not_see_the_procurement_pages(p: Proc, supplier_user: Any) -> None:
    r = _client(supplier_user).get(reverse("procurement:home"))
    assert r.status_code == 403
