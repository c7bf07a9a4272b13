"""The procurement API: POs, multipart goods receipts with the CoC, inspection, qualification."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from medtrace.ledger.models import Event
from medtrace.masterdata import services as md_services
from medtrace.procurement.models import GoodsReceipt, MaterialLot, PurchaseOrder

from .factories import COC, Proc, purchase_order, receive

pytestmark = pytest.mark.django_db
V = "/api/v1"
ALL = ["lifecycle:read", "procurement:write"]


def _po(client: Any, p: Proc, **extra: Any) -> Any:
    body = {
        "supplier_id": p.supplier.pk,
        "lines": [
            {"material_id": p.w.resin.pk, "quantity": "100"},
            {"material": p.w.pump.code, "quantity": 2},
        ],
        "expected_on": (timezone.localdate() + timedelta(days=7)).isoformat(),
        **extra,
    }
    return client.post(f"{V}/purchase-orders", body, content_type="application/json")


def _receipt(client: Any, order_id: int, p: Proc, lines: list[dict], coc: bytes = COC) -> Any:
    return client.post(
        f"{V}/purchase-orders/{order_id}/receipts",
        {
            "receipt": json.dumps({"location_id": p.incoming.pk, "lines": lines}),
            "coc": SimpleUploadedFile("coc-R77.pdf", coc, content_type="application/pdf"),
        },
    )


def test_a_buyer_orders_releases_and_receives_with_the_coc(
    p: Proc, buyer: Any, api_client: Any
) -> None:
    client = api_client(buyer, ALL)
    response = _po(client, p)
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["status"] == "draft" and order["number"].startswith("PO-")
    assert [(x["material"], x["quantity"]) for x in order["lines"]] == [
        (p.w.resin.code, "100.0000"),
        (p.w.pump.code, "2.0000"),
    ]
    r = client.post(f"{V}/purchase-orders/{order['id']}/release")
    assert r.status_code == 200 and r.json()["status"] == "released"

    expiry = (timezone.localdate() + timedelta(days=300)).isoformat()
    r = _receipt(
        client,
        order["id"],
        p,
        [
            {"line": 1, "lot": "R-77", "quantity": "100", "expires_on": expiry},
            {"order_line_id": order["lines"][1]["id"], "serials": ["S-1", "S-2"]},
        ],
    )
    assert r.status_code == 201, r.json()
    receipt = r.json()
    assert receipt["coc"]["sha256"] == hashlib.sha256(COC).hexdigest()
    assert receipt["coc"]["name"] == "coc-R77.pdf"
    lots = [lot for line in receipt["lines"] for lot in line["material_lots"]]
    assert [(x["identifier"], x["status"]) for x in lots] == [
        ("R-77", "awaiting_inspection"),
        ("S-1", "awaiting_inspection"),
        ("S-2", "awaiting_inspection"),
    ]
    coc = client.get(f"{V}/goods-receipts/{receipt['id']}/coc")
    assert coc.status_code == 200 and coc.content == COC
    assert coc["X-Content-SHA256"] == hashlib.sha256(COC).hexdigest()
    got = client.get(f"{V}/purchase-orders/{order['id']}").json()
    assert got["status"] == "received"
    assert client.get(f"{V}/goods-receipts/{receipt['id']}").json()["number"] == receipt["number"]


def test_a_po_to_a_supplier_with_an_expired_certificate_is_a_clear_422(
    p: Proc, buyer: Any, api_client: Any
) -> None:
    expired = timezone.localdate() - timedelta(days=1)
    iso = md_services.licence_update(
        licence=p.licences["iso13485"], data={"expires_on": expired}, user=None, reason="lapsed"
    )
    r = _po(api_client(buyer, ALL), p)
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "supplier"
    assert iso.number in body["message"] and expired.isoformat() in body["message"]
    assert body["details"][0]["code"] == "certificate_expired"
    assert PurchaseOrder.objects.count() == 0


def test_a_blocked_receipt_is_a_422_naming_the_certificate(
    p: Proc, buyer: Any, api_client: Any
) -> None:
    order = purchase_order(p)
    md_services.licence_update(
        licence=p.licences["iso13485"],
        data={"expires_on": timezone.localdate() - timedelta(days=2)},
        user=None,
        reason="lapsed",
    )
    events = Event.objects.count()
    r = _receipt(api_client(buyer, ALL), order.pk, p, [{"line": 1, "lot": "L", "quantity": 1}])
    assert r.status_code == 422
    assert "ISO 13485" in r.json()["message"] and "expired on" in r.json()["message"]
    assert GoodsReceipt.objects.count() == 0 and Event.objects.count() == events


def test_a_malformed_receipt_part_is_a_422_on_the_receipt_field(
    p: Proc, buyer: Any, api_client: Any
) -> None:
    order = purchase_order(p)
    r = api_client(buyer, ALL).post(
        f"{V}/purchase-orders/{order.pk}/receipts",
        {"receipt": "{not json", "coc": SimpleUploadedFile("c.pdf", COC)},
    )
    assert r.status_code == 422 and r.json()["field"] == "receipt"


def test_qc_inspects_a_lot_partly_and_serials_together(
    p: Proc, qc_inspector: Any, api_client: Any
) -> None:
    order = purchase_order(p)
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 100}])
    receive(p, order, [{"line": 2, "serials": ["A", "B", "C"]}])
    client = api_client(qc_inspector, ALL)
    lot = MaterialLot.objects.get(identifier="R-1")
    awaiting = client.get(f"{V}/material-lots?status=awaiting_inspection").json()
    assert awaiting["count"] == 4
    r = client.post(
        f"{V}/material-lots/{lot.pk}/inspection",
        {"accepted_qty": "95", "note": "5 out of tolerance"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.json()
    assert (r.json()["result"], r.json()["rejected_qty"]) == ("partly_accepted", "5.0000")
    line_id = MaterialLot.objects.get(identifier="A").receipt_line_id
    r = client.post(
        f"{V}/goods-receipt-lines/{line_id}/inspection",
        {"rejected": ["B"], "note": "dented"},
        content_type="application/json",
    )
    assert r.status_code == 201
    assert sorted((x["result"]) for x in r.json()) == ["accepted", "accepted", "rejected"]
    lots = client.get(f"{V}/material-lots?material={p.w.pump.code}").json()["items"]
    assert {x["identifier"]: x["status"] for x in lots} == {
        "A": "accepted",
        "B": "rejected",
        "C": "accepted",
    }
    resolved = client.get(f"{V}/material-lots/resolve", {"scan": f"(01){p.w.pump.gtin}(21)C"})
    assert resolved.status_code == 200 and resolved.json()["identifier"] == "C"
    again = client.post(
        f"{V}/material-lots/{lot.pk}/inspection",
        {"accepted_qty": "100"},
        content_type="application/json",
    )
    assert again.status_code == 409


def test_qc_cannot_order_and_a_buyer_cannot_inspect(
    p: Proc, buyer: Any, qc_inspector: Any, api_client: Any
) -> None:
    assert _po(api_client(qc_inspector, ALL), p).status_code == 403
    order = purchase_order(p)
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 10}])
    lot = MaterialLot.objects.get(identifier="R-1")
    r = api_client(buyer, ALL).post(
        f"{V}/material-lots/{lot.pk}/inspection",
        {"accepted_qty": "10"},
        content_type="application/json",
    )
    assert r.status_code == 403


def test_a_token_without_procurement_write_cannot_order(
    p: Proc, buyer: Any, api_client: Any
) -> None:
    r = _po(api_client(buyer, ["lifecycle:read"]), p)
    assert r.status_code == 403
    assert r.json()["details"]["required_scope"] == "procurement:write"


def test_the_supplier_sees_its_released_pos_and_others_see_none(
    p: Proc, supplier_user: Any, distributor_user: Any, api_client: Any
) -> None:
    draft = purchase_order(p, release=False)
    released = purchase_order(p)
    receipt = receive(p, released, [{"line": 1, "lot": "R-1", "quantity": 10}])
    sup = api_client(supplier_user, ["lifecycle:read"])
    listed = sup.get(f"{V}/purchase-orders").json()
    assert [x["number"] for x in listed["items"]] == [released.number]
    assert sup.get(f"{V}/purchase-orders/{draft.pk}").status_code == 404
    assert sup.get(f"{V}/purchase-orders/{released.pk}").status_code == 200
    assert sup.get(f"{V}/goods-receipts/{receipt.pk}").status_code == 200
    assert sup.get(f"{V}/suppliers/{p.supplier.pk}/qualification").json()["qualified"] is True
    other = api_client(distributor_user, ["lifecycle:read"])
    assert other.get(f"{V}/purchase-orders").json()["count"] == 0
    assert other.get(f"{V}/purchase-orders/{released.pk}").status_code == 404
    assert other.get(f"{V}/goods-receipts/{receipt.pk}").status_code == 404
    assert other.get(f"{V}/goods-receipts/{receipt.pk}/coc").status_code == 404
    assert other.get(f"{V}/material-lots").json()["count"] == 0
    assert other.get(f"{V}/suppliers/{p.supplier.pk}/qualification").status_code == 404


def test_qualification_lists_certificates_materials_and_problems(
    p: Proc, buyer: Any, api_client: Any
) -> None:
    md_services.licence_update(
        licence=p.licences["iso13485"],
        data={"expires_on": timezone.localdate() + timedelta(days=10)},
        user=None,
        reason="x",
    )
    body = api_client(buyer, ALL).get(f"{V}/suppliers/{p.supplier.pk}/qualification").json()
    assert body["qualified"] is True
    iso = next(c for c in body["certificates"] if c["kind"] == "iso13485")
    assert (iso["expiring"], iso["expired"], iso["scan"]) == (True, False, None)
    assert {m["material"] for m in body["materials"]} == {p.w.resin.code, p.w.pump.code}


def test_a_certificate_scan_is_uploaded_and_downloaded_with_its_sha256(
    p: Proc, buyer: Any, api_client: Any
) -> None:
    client = api_client(buyer, ALL)
    lic = p.licences["production_licence"]
    url = f"{V}/parties/{p.supplier.pk}/licences/{lic.pk}/scan"
    assert client.get(url).status_code == 404
    content = b"%PDF-1.4 licence scan"
    r = client.post(url, {"scan": SimpleUploadedFile("licence.pdf", content)})
    assert r.status_code == 201, r.json()
    assert r.json()["scan"]["sha256"] == hashlib.sha256(content).hexdigest()
    got = client.get(url)
    assert got.content == content
    assert got["X-Content-SHA256"] == hashlib.sha256(content).hexdigest()
    party = api_client(buyer, ["masterdata:read"]).get(f"{V}/parties/{p.supplier.pk}").json()
    shown = next(x for x in party["licences"] if x["id"] == lic.pk)
    assert shown["scan_sha256"] == hashlib.sha256(content).hexdigest()
