"""Put-away and moves between our warehouse locations (ObjectEvent OBSERVE, bizStep storing)."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.errors import PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import events as ev
from medtrace.masterdata.tests import factories as md
from medtrace.warehouse import services
from medtrace.warehouse.models import StockMove

from .factories import Site, make, site

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Site:
    return site()


def _where(epc: str) -> str | None:
    return UnitState.objects.get(epc=epc).biz_location


def test_put_away_from_the_line_is_a_storing_event_at_the_bin_and_an_audited_document(
    s: Site, warehouse_clerk: Any
) -> None:
    units = make(s, "P1", "P2", at=s.line)

    move = services.stock_move(
        scans=["P1", f"(01){s.w.gtin(s.w.device)}(21)P2"],
        to_location=s.a01.code,
        user=warehouse_clerk,
        note="from line 1",
    )

    assert move.number.startswith("SM-") and move.kind == "put_away"
    assert move.from_location == s.line and move.to_location == s.a01
    assert [(i.epc, i.from_sgln, i.serial) for i in move.items.order_by("id")] == [
        (units[0], s.line.sgln, "P1"),
        (units[1], s.line.sgln, "P2"),
    ]
    event = Event.objects.get(event_id=move.event_id)
    assert event.event_type == "ObjectEvent" and event.action == "OBSERVE"
    assert event.biz_step == "storing" and event.disposition is None
    assert event.read_point == event.biz_location == s.a01.sgln
    assert event.document["bizTransactionList"][0]["bizTransaction"].endswith(move.number)
    assert {_where(u) for u in units} == {s.a01.sgln}
    entry = AuditEntry.objects.get(object_type="warehouse.stockmove", object_id=str(move.pk))
    assert entry.action == "create" and entry.changes["items"] == units


def test_moving_a_case_moves_what_is_packed_inside(s: Site, warehouse_clerk: Any) -> None:
    units = make(s, "P1", "P2")
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=units, user=warehouse_clerk, close=True)

    move = services.stock_move(scans=[case.sscc], to_location=s.b02, user=warehouse_clerk)

    assert move.kind == "move" and move.from_location == s.a01
    assert Event.objects.get(event_id=move.event_id).document["epcList"] == [case.epc]
    assert {_where(e) for e in [case.epc, *units]} == {s.b02.sgln}
    # a unit scanned with its own case travels inside it, named once
    again = services.stock_move(scans=[case.epc, "P1"], to_location=s.a01, user=warehouse_clerk)
    assert list(again.items.values_list("epc", flat=True)) == [case.epc]


def _refused(call: Any) -> SequenceViolation:
    moves, events, entries = (
        StockMove.objects.count(),
        Event.objects.count(),
        AuditEntry.objects.count(),
    )
    with pytest.raises(SequenceViolation) as exc:
        call()
    assert StockMove.objects.count() == moves and Event.objects.count() == events
    assert AuditEntry.objects.count() == entries
    return exc.value


def test_a_packed_unit_moved_without_its_case_is_refused(s: Site, warehouse_clerk: Any) -> None:
    make(s, "P1")
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=["P1"], user=warehouse_clerk)

    exc = _refused(
        lambda: services.stock_move(scans=["P1"], to_location=s.b02, user=warehouse_clerk)
    )

    assert exc.message == (
        f"Cannot move P1 on its own: it is packed in SSCC {case.sscc}; move the container, or "
        "unpack it first"
    )


def test_moving_to_where_it_already_is_or_a_unit_in_transit_is_refused(
    s: Site, warehouse_clerk: Any
) -> None:
    here, gone = make(s, "P1", "T1")
    ev.emit(
        [ev.object_event(epcs=[gone], biz_step="shipping", disposition="in_transit")], user=None
    )

    there = _refused(
        lambda: services.stock_move(scans=["P1"], to_location=s.a01, user=warehouse_clerk)
    )
    assert there.message == f"P1 is already at {s.a01}"
    transit = _refused(
        lambda: services.stock_move(scans=["T1"], to_location=s.b02, user=warehouse_clerk)
    )
    assert transit.message == "Cannot move T1: it is in transit; receive it first"
    assert _where(here) == s.a01.sgln


def test_only_our_warehouse_and_bin_locations_take_stock(s: Site, warehouse_clerk: Any) -> None:
    make(s, "P1")
    for target, words in (
        (s.line, "is a Production line; goods are stored in a warehouse or a bin"),
        (s.w.dist_site, "belongs to"),
        ("NOWHERE", "no location 'NOWHERE'"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            services.stock_move(scans=["P1"], to_location=target, user=warehouse_clerk)
        assert exc.value.field == "to_location" and words in exc.value.message
    inactive = md.location(owner=s.w.maker, kind="bin", parent_id=s.store.pk, active=False)
    with pytest.raises(ValidationFailed, match="is inactive"):
        services.stock_move(scans=["P1"], to_location=inactive, user=warehouse_clerk)
    assert not StockMove.objects.exists()


def test_moving_needs_the_warehouse_permission(s: Site, qa_manager: Any) -> None:
    make(s, "P1")
    with pytest.raises(PermissionDenied):
        services.stock_move(scans=["P1"], to_location=s.b02, user=qa_manager)
