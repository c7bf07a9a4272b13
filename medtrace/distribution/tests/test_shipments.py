"""Shipping: every block of the state machine refuses the shipment naming the unit and why, an
SSCC carries its contents, the event has its source and destination lists, the document keeps the
consignee as it was, and a refused shipment stores nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.errors import SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, EventBizTransaction, EventSourceDest, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.services import own_party
from medtrace.quality import services as quality

from ..models import SalesOrderStatus, Shipment, ShipmentItem, ShipmentStatus
from ..pdf import despatch_note_pdf
from ..services import shipment_create
from .factories import Dist, days

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        Shipment.objects.count(),
        ShipmentItem.objects.count(),
        Event.objects.filter(biz_step="shipping").count(),
        AuditEntry.objects.filter(object_type="distribution.shipment").count(),
    )


def refused(d: Dist, scans: list[str], quantity: int = 5) -> SequenceViolation:
    order = d.order(quantity)
    before = counts()
    with pytest.raises(SequenceViolation) as exc:
        shipment_create(order=order, scans=scans, user=d.sales)
    assert counts() == before  # nothing stored: no document, no event, no audit entry
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.CONFIRMED
    return exc.value


def codes(exc: SequenceViolation) -> dict[str, set[str]]:
    return {x["serial"]: {r["code"] for r in x["reasons"]} for x in exc.details}


def test_shipping_an_unreleased_unit_is_refused(d: Dist) -> None:
    (ok,) = d.ready("A1")
    (raw,) = d.commission("A2")
    exc = refused(d, [ok, raw])
    assert exc.status == 409 and exc.field == "epcs"
    assert exc.message.startswith("Cannot ship A2: it is not released by QC")
    assert codes(exc) == {"A2": {"not_released"}}


def test_shipping_a_held_unit_is_refused_naming_the_hold(d: Dist) -> None:
    epcs = d.ready("H1", "H2")
    (hold,) = quality.hold_place(targets=[epcs[1]], reason="dented housing", user=d.qa)
    exc = refused(d, epcs)
    assert codes(exc) == {"H2": {"held"}}
    assert hold.number in exc.message and "dented housing" in exc.message


def test_shipping_a_recalled_unit_is_refused(d: Dist) -> None:
    epcs = d.ready("R1")
    quality.hold_place(targets=epcs, kind="recall", reason="RC-2026-1 pump motor", user=None)
    exc = refused(d, epcs)
    assert codes(exc) == {"R1": {"recalled"}}
    assert "under recall" in exc.message


def test_shipping_an_expired_unit_is_refused(d: Dist) -> None:
    past = days(-1)
    epcs = d.ready("E1", expiry=past)
    exc = refused(d, epcs)
    assert codes(exc) == {"E1": {"expired"}}
    assert f"expired on {past}" in exc.message


def test_shipping_a_unit_in_transit_is_refused(d: Dist) -> None:
    epcs = d.ready("T1")
    shipment_create(order=d.order(1), scans=epcs, user=d.sales)
    exc = refused(d, epcs)
    assert codes(exc) == {"T1": {"in_transit"}}


def test_a_held_unit_inside_a_case_blocks_the_case(d: Dist) -> None:
    epcs = d.ready("C1", "C2", "C3")
    sscc = d.pack(1, epcs)
    quality.hold_place(targets=[epcs[2]], reason="label smudged", user=d.qa)
    exc = refused(d, [sscc])
    assert codes(exc) == {"C3": {"held"}}


def test_an_sscc_ships_with_its_contents(d: Dist) -> None:
    epcs = d.ready("S1", "S2", "S3")
    sscc = d.pack(2, epcs)
    order = d.order(3)
    shipment = shipment_create(order=order, scans=[sscc], user=d.warehouse)
    assert shipment.unit_count == 3
    items = {i.epc: i for i in shipment.items.all()}
    assert set(items) == {sscc, *epcs}
    assert items[sscc].is_container and items[sscc].scanned
    assert not items[epcs[0]].scanned and items[epcs[0]].container == sscc
    assert items[epcs[0]].serial == "S1" and items[epcs[0]].product_id == d.w.device.pk
    # the event names the case; the ledger carries it to the units inside
    event = Event.objects.get(event_id=shipment.event_id)
    assert event.document["epcList"] == [sscc]
    states = UnitState.objects.filter(epc__in=[sscc, *epcs])
    assert {s.disposition for s in states} == {"in_transit"}
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.SHIPPED


def test_the_shipping_event_carries_source_and_destination_lists(d: Dist) -> None:
    epcs = d.ready("L1", "L2")
    order = d.order(5, po="PO-HOSP-9")
    shipment = shipment_create(order=order, scans=epcs, user=d.sales)
    event = Event.objects.get(event_id=shipment.event_id)
    assert (event.biz_step, event.disposition, event.action) == (
        "shipping",
        "in_transit",
        "OBSERVE",
    )
    assert event.read_point == d.w.warehouse.sgln
    us, them = ev.party_pgln(own_party()), ev.party_pgln(d.w.hospital)
    lists = set(EventSourceDest.objects.filter(event=event).values_list("kind", "type", "value"))
    assert lists == {
        ("source", "owning_party", us),
        ("source", "possessing_party", us),
        ("source", "location", d.w.warehouse.sgln),
        ("destination", "owning_party", them),
        ("destination", "possessing_party", them),
        ("destination", "location", d.w.ward.sgln),
    }
    bts = dict(EventBizTransaction.objects.filter(event=event).values_list("type", "value"))
    assert bts["desadv"].endswith(f":{shipment.number}")
    assert bts["poc"].endswith(f":{order.number}")
    assert bts["po"] == f"urn:epcglobal:cbv:bt:{d.w.hospital.gln}:PO-HOSP-9"
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.PARTIALLY_SHIPPED
    assert shipment.status == ShipmentStatus.IN_TRANSIT


def test_the_shipment_keeps_a_snapshot_of_the_consignee(d: Dist) -> None:
    epcs = d.ready("N1")
    shipment = shipment_create(order=d.order(1), scans=epcs, user=d.sales)
    hospital = d.w.hospital
    assert shipment.consignee_name == hospital.name
    assert shipment.consignee_licence_number == d.hospital_licence.number
    assert shipment.consignee_licence_kind == "medical_institution_licence"
    assert shipment.ship_to_sgln == d.w.ward.sgln and shipment.ship_to_name == d.w.ward.name
    hospital.name = "改名后的医院"
    hospital.save()
    shipment.refresh_from_db()
    assert shipment.consignee_name != hospital.name  # history is not rewritten
    pdf = despatch_note_pdf(shipment, language="zh-hans")
    assert pdf.startswith(b"%PDF")


def test_units_must_match_the_order(d: Dist) -> None:
    epcs = d.ready("M1", "M2", "M3")
    order = d.order(2)
    with pytest.raises(ValidationFailed) as exc:
        shipment_create(order=order, scans=epcs, user=d.sales)
    assert exc.value.field == "epcs"
    assert f"{order.number} orders 2 × IP-9, 0 already shipped; this shipment has 3, 1 more" in (
        exc.value.message
    )
    assert Shipment.objects.count() == 0
    shipment_create(order=order, scans=epcs[:2], user=d.sales)
    with pytest.raises(ValidationFailed):  # the order is shipped: nothing more ships on it
        shipment_create(order=order, scans=epcs[2:], user=d.sales)


def test_a_unit_of_another_product_is_not_on_the_order(d: Dist) -> None:
    board = d.w.board_sn("B1")
    ev.emit([ev.object_event(action="ADD", epcs=[board], biz_step="commissioning")], user=None)
    d.release([board])
    with pytest.raises(ValidationFailed) as exc:
        shipment_create(order=d.order(1), scans=[board], user=d.sales)
    assert "B1 is not on SO-" in exc.value.message and "IP-9" in exc.value.message


def test_any_udi_form_is_accepted_at_the_station(d: Dist) -> None:
    d.ready("U1", "U2")
    gtin = d.w.gtin(d.w.device)
    shipment = shipment_create(
        order=d.order(2), scans=[f"(01){gtin}(21)U1", f"01{gtin}21U2"], user=d.sales
    )
    assert sorted(shipment.items.values_list("serial", flat=True)) == ["U1", "U2"]


def test_a_draft_order_does_not_ship(d: Dist) -> None:
    epcs = d.ready("D1")
    order = d.order(1, confirm=False)
    with pytest.raises(ValidationFailed) as exc:
        shipment_create(order=order, scans=epcs, user=d.sales)
    assert "only a confirmed order ships" in exc.value.message


def test_the_licence_is_checked_again_when_the_goods_leave(d: Dist) -> None:
    epcs = d.ready("X1")
    order = d.order(1)
    lic: Any = d.hospital_licence
    lic.expires_on = timezone.localdate() - timedelta(days=1)
    lic.save()
    with pytest.raises(ValidationFailed) as exc:
        shipment_create(order=order, scans=epcs, user=d.sales)
    assert "expired on" in exc.value.message and lic.number in exc.value.message


def test_only_sales_and_warehouse_ship(d: Dist) -> None:
    from medtrace.errors import PermissionDenied

    epcs = d.ready("P1")
    with pytest.raises(PermissionDenied):
        shipment_create(order=d.order(1), scans=epcs, user=d.qa)
    with pytest.raises(PermissionDenied):
        shipment_create(order=d.order(1), scans=epcs, user=d.hospital_user)


def test_a_unit_still_packed_in_a_case_ships_only_with_its_case(d: Dist) -> None:
    epcs = d.ready("Q1", "Q2")
    sscc = d.pack(5, epcs)
    with pytest.raises(ValidationFailed) as exc:
        shipment_create(order=d.order(2), scans=[epcs[0]], user=d.sales)
    assert f"Q1 is packed in {sscc}; scan that case" in exc.value.message
    assert Shipment.objects.count() == 0


def test_the_station_check_writes_nothing(d: Dist) -> None:
    from ..services import shipment_check

    epcs = d.ready("W1", "W2")
    order = d.order(2)
    before = counts()
    plan = shipment_check(order=order, scans=epcs)
    assert plan.units == epcs and plan.per_product() == {d.w.device.pk: 2}
    assert counts() == before
