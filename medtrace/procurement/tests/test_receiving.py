"""Purchase orders, goods receipt and incoming inspection, checked in the ledger."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle.services import attachment_read
from medtrace.procurement import services
from medtrace.procurement.models import (
    GoodsReceipt,
    IncomingInspection,
    MaterialLot,
    MaterialLotStatus,
    PurchaseOrder,
    PurchaseOrderStatus,
)

from .factories import COC, proc_world, purchase_order, receive

pytestmark = pytest.mark.django_db


def _bt(event: Event) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, value in event.biz_transactions.values_list("type", "value"):
        out.setdefault(kind or "", []).append(value.rsplit(":", 1)[1])
    return out


def test_a_purchase_order_is_numbered_audited_and_released() -> None:
    p = proc_world()
    order = purchase_order(p, release=False)
    assert order.number.startswith("PO-") and order.status == PurchaseOrderStatus.DRAFT
    assert [(line.position, line.quantity, line.uom) for line in order.lines.all()] == [
        (1, Decimal(100), "EA"),
        (2, Decimal(3), "EA"),
    ]
    assert AuditEntry.objects.filter(object_type="procurement.purchaseorder").count() == 1
    order = services.purchase_order_release(order=order, user=None)
    assert order.status == PurchaseOrderStatus.RELEASED and order.released_at
    with pytest.raises(Conflict, match="only a draft is released"):
        services.purchase_order_release(order=order, user=None)


def test_cancelling_needs_a_reason_and_is_refused_once_goods_arrived() -> None:
    p = proc_world()
    order = purchase_order(p)
    with pytest.raises(ValidationFailed) as exc:
        services.purchase_order_cancel(order=order, user=None, reason=" ")
    assert exc.value.field == "reason"
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 10}])
    with pytest.raises(Conflict, match="close it instead"):
        services.purchase_order_cancel(order=order, user=None, reason="supplier late")
    order = services.purchase_order_close(order=order, user=None, reason="rest not needed")
    assert order.status == PurchaseOrderStatus.CLOSED
    other = purchase_order(p)
    other = services.purchase_order_cancel(order=other, user=None, reason="ordered twice")
    assert other.status == PurchaseOrderStatus.CANCELLED and other.cancel_reason == "ordered twice"
    entry = AuditEntry.objects.filter(object_id=str(other.pk)).order_by("-seq").first()
    assert entry is not None and entry.reason == "ordered twice"


def test_a_receipt_records_lots_serials_and_the_coc_and_writes_the_receiving_events() -> None:
    p = proc_world()
    order = purchase_order(p)
    expiry = timezone.localdate() + timedelta(days=400)
    receipt = receive(
        p,
        order,
        [
            {"line": 1, "lot": "R-77", "quantity": "60", "expires_on": expiry.isoformat()},
            {"line": 2, "lot": "PL-5", "serials": ["S1", "S2", "S3"]},
        ],
    )
    assert receipt.number.startswith("GR-")
    assert receipt.coc.sha256 == hashlib.sha256(COC).hexdigest()
    assert attachment_read(receipt.coc) == COC
    resin = MaterialLot.objects.get(material=p.w.resin)
    assert (resin.identifier, resin.received_qty, resin.expires_on, resin.status) == (
        "R-77",
        Decimal(60),
        expiry,
        MaterialLotStatus.AWAITING_INSPECTION,
    )
    assert resin.epc == "urn:epc:class:lgtin:6920001.000021.R-77"
    serials = MaterialLot.objects.filter(material=p.w.pump).order_by("identifier")
    assert [(s.identifier, s.lot, s.received_qty) for s in serials] == [
        ("S1", "PL-5", 1),
        ("S2", "PL-5", 1),
        ("S3", "PL-5", 1),
    ]
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert [line.received_qty for line in order.lines.all()] == [Decimal(60), Decimal(3)]

    lot_event, serial_event = Event.objects.filter(biz_step="receiving").order_by("pk")
    for event in (lot_event, serial_event):
        doc = event.document
        assert (doc["action"], event.disposition) == ("ADD", "in_progress")
        assert event.biz_location == p.incoming.sgln
        assert _bt(event) == {"po": [order.number], "recadv": [receipt.number]}
        assert [s["source"] for s in doc["sourceList"]] == ["urn:epc:id:pgln:6920001.00000"] * 2
        assert {d["type"] for d in doc["destinationList"]} == {"owning_party", "possessing_party"}
        assert doc["destinationList"][0]["destination"] == "urn:epc:id:pgln:6901234.00000"
    assert lot_event.document["quantityList"] == [
        {"epcClass": resin.epc, "quantity": 60.0, "uom": "EA"}
    ]
    assert lot_event.document["ilmd"] == {
        "cbvmda:lotNumber": "R-77",
        "cbvmda:itemExpirationDate": expiry.isoformat(),
    }
    assert serial_event.document["epcList"] == [s.epc for s in serials]
    assert serial_event.document["ilmd"] == {"cbvmda:lotNumber": "PL-5"}
    # The serialized components are now known to the ledger, held by us, awaiting inspection.
    state = UnitState.objects.get(epc=serials[0].epc)
    assert state.disposition == "in_progress"


def test_the_second_delivery_completes_the_po() -> None:
    p = proc_world()
    order = purchase_order(p, [(p.w.resin, 100)])
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 40}])
    receive(p, order, [{"line": 1, "lot": "R-2", "quantity": 60}])
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED


def _refused(p: Any, order: Any, lines: Any, match: str, field: str) -> None:
    counts = (
        GoodsReceipt.objects.count(),
        MaterialLot.objects.count(),
        Event.objects.count(),
        AuditEntry.objects.count(),
    )
    with pytest.raises((ValidationFailed, Conflict), match=match) as exc:
        receive(p, order, lines)
    assert exc.value.field == field
    assert counts == (
        GoodsReceipt.objects.count(),
        MaterialLot.objects.count(),
        Event.objects.count(),
        AuditEntry.objects.count(),
    )


def test_over_receipt_duplicates_past_expiry_and_missing_data_are_refused_storing_nothing() -> None:
    p = proc_world()
    order = purchase_order(p)
    receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 80}, {"line": 2, "serials": ["A"]}])
    _refused(
        p,
        order,
        [{"line": 1, "lot": "R-2", "quantity": 30}],
        r"over-receipt: PO-\d{4}-\d{6} line 1 .* ordered 100 EA, 80 already received; this "
        "receipt would be 10 over",
        "lines[0].quantity",
    )
    _refused(
        p,
        order,
        [{"line": 2, "serials": ["A", "B"]}],
        r"serial A of .* was already received on GR-\d{4}-\d{6}",
        "lines[0].serials",
    )
    _refused(p, order, [{"line": 2, "serials": ["B", "B"]}], "listed twice", "lines[0].serials")
    yesterday = timezone.localdate() - timedelta(days=1)
    _refused(
        p,
        order,
        [{"line": 1, "lot": "R-3", "quantity": 5, "expires_on": yesterday}],
        f"expired on {yesterday.isoformat()}; expired material is not received",
        "lines[0].expires_on",
    )
    _refused(p, order, [{"line": 1, "quantity": 5}], "give the supplier's lot", "lines[0].lot")
    _refused(p, order, [{"line": 2, "quantity": 1}], "scan every serial", "lines[0].serials")
    _refused(
        p,
        order,
        [{"line": 9, "lot": "X", "quantity": 1}],
        "has no line 9",
        "lines[0].order_line_id",
    )
    _refused(
        p, order, [{"line": 1, "lot": "R-1", "quantity": 1}], "already received", "lines[0].lot"
    )
    with pytest.raises(ValidationFailed) as exc:
        receive(p, order, [{"line": 1, "lot": "R-9", "quantity": 1}], coc=b"")
    assert exc.value.field == "coc"


def test_receiving_against_a_draft_or_cancelled_po_is_refused() -> None:
    p = proc_world()
    order = purchase_order(p, release=False)
    _refused(p, order, [{"line": 1, "lot": "R-1", "quantity": 1}], "release it first", "order")
    services.purchase_order_cancel(order=order, user=None, reason="mistake")
    _refused(p, order, [{"line": 1, "lot": "R-1", "quantity": 1}], "is Cancelled", "order")


def test_the_incoming_location_must_be_ours() -> None:
    p = proc_world()
    order = purchase_order(p)
    with pytest.raises(ValidationFailed) as exc:
        services.goods_receipt_create(
            order=order,
            location=p.w.dist_site,
            lines=[{"line": 1, "lot": "R-1", "quantity": 1}],
            coc_name="c.pdf",
            coc_content=COC,
            user=None,
        )
    assert exc.value.field == "location_id"
    assert not PurchaseOrder.objects.get(pk=order.pk).receipts.exists()


def test_partial_acceptance_splits_the_lot_into_conformant_and_non_conformant_events() -> None:
    p = proc_world()
    order = purchase_order(p)
    receipt = receive(p, order, [{"line": 1, "lot": "R-5", "quantity": 100}])
    lot = MaterialLot.objects.get(identifier="R-5")
    with pytest.raises(ValidationFailed, match="must equal the 100 EA received") as exc:
        services.inspection_record(lot=lot, accepted_qty=90, rejected_qty=5, note="x", user=None)
    assert exc.value.field == "accepted_qty"
    with pytest.raises(ValidationFailed) as exc:
        services.inspection_record(lot=lot, accepted_qty=90, user=None)
    assert exc.value.field == "note"
    assert not IncomingInspection.objects.exists()

    inspection = services.inspection_record(
        lot=lot, accepted_qty=Decimal(90), note="10 housings with flash", user=None
    )
    lot.refresh_from_db()
    assert (lot.accepted_qty, lot.rejected_qty, lot.status) == (
        Decimal(90),
        Decimal(10),
        MaterialLotStatus.PARTLY_ACCEPTED,
    )
    assert inspection.number.startswith("IQC-") and inspection.result == "partly_accepted"
    accepted = Event.objects.get(biz_step="accepting")
    rejected = Event.objects.get(biz_step="inspecting")
    assert (accepted.disposition, rejected.disposition) == ("conformant", "non_conformant")
    assert accepted.document["quantityList"] == [
        {"epcClass": lot.epc, "quantity": 90.0, "uom": "EA"}
    ]
    assert rejected.document["quantityList"] == [
        {"epcClass": lot.epc, "quantity": 10.0, "uom": "EA"}
    ]
    for event in (accepted, rejected):
        assert event.document["action"] == "OBSERVE"
        assert _bt(event) == {
            "testres": [inspection.number],
            "po": [order.number],
            "recadv": [receipt.number],
        }
    with pytest.raises(Conflict, match="already inspected"):
        services.inspection_record(lot=lot, accepted_qty=100, user=None)
    # Only the accepted part can be consumed.
    services.material_consume(items=[(lot, Decimal(90))], user=None, reference="WO-1")
    with pytest.raises(ValidationFailed, match="has 0 EA accepted"):
        services.material_consume(items=[(lot, Decimal(1))], user=None, reference="WO-1")


def test_serials_are_inspected_together_and_rejected_ones_named_by_scan() -> None:
    p = proc_world()
    order = purchase_order(p, [(p.w.pump, 4)])
    receive(p, order, [{"line": 1, "serials": ["K1", "K2", "K3", "K4"]}])
    k1 = MaterialLot.objects.get(identifier="K1")
    with pytest.raises(ValidationFailed) as exc:
        services.inspection_record_serials(receipt_line=k1.receipt_line, rejected=["K2"], user=None)
    assert exc.value.field == "note"
    inspections = services.inspection_record_serials(
        receipt_line=k1.receipt_line,
        rejected=["K2", f"(01){p.w.pump.gtin}(21)K4"],
        note="bearing noise",
        user=None,
    )
    assert len({i.number for i in inspections}) == 1
    status = dict(MaterialLot.objects.values_list("identifier", "status"))
    assert status == {"K1": "accepted", "K2": "rejected", "K3": "accepted", "K4": "rejected"}
    rejected = Event.objects.get(biz_step="inspecting")
    k = {lot.identifier: lot.epc for lot in MaterialLot.objects.all()}
    assert rejected.document["epcList"] == [k["K2"], k["K4"]]
    assert UnitState.objects.get(epc=k["K2"]).disposition == "non_conformant"
    assert UnitState.objects.get(epc=k["K1"]).disposition == "conformant"
    k2 = MaterialLot.objects.get(identifier="K2")
    with pytest.raises(ValidationFailed, match="rejected at incoming inspection"):
        services.material_consume(items=[(k2, Decimal(1))], user=None, reference="WO-1")
