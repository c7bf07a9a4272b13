"""Exact per-unit genealogy at the assembly station: lots by TransformationEvent, serials by
AssociationEvent, the BOM as the checklist, nothing shared out in proportion (issue 5 item 2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, GenealogyEdge, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.masterdata.tests import factories as md
from medtrace.procurement.models import MaterialConsumption, MaterialLot
from medtrace.production import services_assembly as assembly
from medtrace.production import services_orders as orders
from medtrace.production.models import UnitComponent, WorkOrder, WorkOrderStatus
from medtrace.quality.services import hold_place
from medtrace.trace.selectors import trace_backward, trace_forward

from .factories import Prod, prod_world, released_bom, work_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def x() -> Prod:
    return prod_world()


def resin(x: Prod, lot: str = "R-001") -> str:
    return f"(01){x.w.resin.gtin}(10){lot}"


def pump(x: Prod, serial: str) -> str:
    return f"(01){x.w.pump.gtin}(21){serial}"


def boards(x: Prod, n: int = 2) -> list[str]:
    """``n`` control boards made in-house (each with its resin), as EPCs."""
    order = work_order(x, x.w.board, quantity=n)
    done = orders.work_order_commission(work_order=order, count=n, user=None)
    for epc in done.epcs:
        assembly.work_order_assemble(work_order=order, unit=epc, components=[resin(x)], user=None)
    return done.epcs


def devices(x: Prod, n: int = 2) -> tuple[WorkOrder, list[str]]:
    order = work_order(x, quantity=n)
    done = orders.work_order_commission(work_order=order, count=n, user=None)
    return order, done.serials


def _counts() -> tuple[int, int, int, int]:
    return (
        Event.objects.count(),
        UnitComponent.objects.count(),
        AuditEntry.objects.count(),
        MaterialConsumption.objects.count(),
    )


def refused(exc_type: type[Exception], order: WorkOrder, unit: str, components: list) -> object:
    before = _counts()
    with pytest.raises(exc_type) as exc:
        assembly.work_order_assemble(work_order=order, unit=unit, components=components, user=None)
    assert _counts() == before  # nothing stored: no event, no record, no audit, no draw
    return exc.value


def test_a_unit_records_exactly_its_lots_and_serials_as_events_and_genealogy(x: Prod) -> None:
    board_a, board_b = boards(x)
    order, (sn1, sn2) = devices(x)

    done = assembly.work_order_assemble(
        work_order=order,
        unit=sn1,  # a bare serial: any UDI form is accepted
        components=[resin(x), pump(x, "P-1"), board_a],
        station="ST-01",
        user=None,
    )

    unit = ev.unit_epc(x.w.device, sn1)
    lot_class = ev.material_lot_class(x.w.resin, "R-001")
    pump_epc = ev.material_serial_epc(x.w.pump, "P-1")
    transformation, association = done.events
    assert (transformation.event_type, transformation.biz_step) == (
        "TransformationEvent",
        "assembling",
    )
    assert transformation.document["inputQuantityList"] == [
        {"epcClass": lot_class, "quantity": 2.0}
    ]
    assert transformation.document["outputEPCList"] == [unit]
    assert (association.event_type, association.action, association.biz_step) == (
        "AssociationEvent",
        "ADD",
        "assembling",
    )
    assert association.document["parentID"] == unit
    assert association.document["childEPCs"] == [pump_epc, board_a]
    for event in done.events:
        assert event.document["bizTransactionList"][0]["type"] == "prodorder"
        assert event.read_point == x.line.sgln
    edges = set(GenealogyEdge.objects.filter(parent=unit).values_list("child", "kind"))
    assert edges == {
        (lot_class, "transformed"),
        (pump_epc, "associated"),
        (board_a, "associated"),
    }
    assert UnitState.objects.get(epc=board_a).installed_in == unit
    assert [r["complete"] for r in done.checklist] == [True, True, True]
    rows = {c.material_id: c for c in done.components}
    assert rows[x.w.pump.pk].supplier == x.w.supplier
    assert rows[x.board_material.pk].source_work_order is not None
    assert rows[x.w.resin.pk].quantity == Decimal(2)
    # The other unit has nothing: genealogy is never shared out.
    assert not GenealogyEdge.objects.filter(parent=ev.unit_epc(x.w.device, sn2)).exists()
    assert not UnitComponent.objects.filter(unit=ev.unit_epc(x.w.device, sn2)).exists()
    assert board_b  # unused


def test_backward_and_forward_trace_follow_the_recorded_components(x: Prod) -> None:
    board_a, _board_b = boards(x)
    order, (sn1, sn2) = devices(x)
    assembly.work_order_assemble(
        work_order=order, unit=sn1, components=[resin(x), pump(x, "P-1"), board_a], user=None
    )
    assembly.work_order_assemble(
        work_order=order, unit=sn2, components=[resin(x), pump(x, "P-2")], user=None
    )
    unit1, unit2 = (ev.unit_epc(x.w.device, s) for s in (sn1, sn2))

    back = trace_backward(id=unit1, user=None)
    children = {node["epc"] for node in back["root"]["children"]}
    assert {ev.material_lot_class(x.w.resin, "R-001"), board_a} <= children
    assert ev.material_serial_epc(x.w.pump, "P-1") in children
    board_node = next(n for n in back["root"]["children"] if n["epc"] == board_a)
    assert {c["epc"] for c in board_node["children"]} == {ev.material_lot_class(x.w.resin, "R-001")}

    forward = {u["epc"] for u in trace_forward(id=pump(x, "P-2"), user=None).units}
    assert unit2 in forward and unit1 not in forward
    from_lot = trace_forward(id=resin(x), user=None)
    assert {unit1, unit2, board_a} <= {u["epc"] for u in from_lot.units}


def test_lot_consumption_is_drawn_from_the_procurement_stock(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)

    assembly.work_order_assemble(
        work_order=order,
        unit=sn1,
        components=[{"scan": resin(x), "quantity": "1.5"}, {"scan": resin(x), "quantity": "0.5"}],
        user=None,
    )

    lot = MaterialLot.objects.get(pk=x.resin_lot.pk)
    assert lot.consumed_qty == Decimal(2)
    assert MaterialConsumption.objects.filter(material_lot=lot).count() >= 1


def test_a_component_not_on_the_bom_is_refused_by_name(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)
    other = md.material(tracking="lot", name="Glue", gtin=md.gtin("6920001", 77), gcp_length=7)

    exc = refused(ValidationFailed, order, sn1, [f"(01){other.gtin}(10)G1"])

    assert exc.field == "components[0]"  # type: ignore[attr-defined]
    # Procurement never received it: the station says so (a received lot would be "not on BOM").
    assert "G1" in exc.message  # type: ignore[attr-defined]


def test_a_received_material_that_is_not_on_this_bom_is_refused(x: Prod) -> None:
    # The board's BOM has only resin: a pump serial is not on it.
    order = work_order(x, x.w.board, quantity=1)
    done = orders.work_order_commission(work_order=order, count=1, user=None)

    exc = refused(ValidationFailed, order, done.epcs[0], [pump(x, "P-1")])

    assert exc.field == "components[0]"  # type: ignore[attr-defined]
    assert "is not on BOM A" in exc.message and x.w.pump.code in exc.message  # type: ignore[attr-defined]


def test_more_than_the_bom_line_per_unit_is_refused(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)

    exc = refused(ValidationFailed, order, sn1, [pump(x, "P-1"), pump(x, "P-2")])
    assert exc.field == "components[1]"  # type: ignore[attr-defined]
    assert "BOM A asks 1 EA of" in exc.message  # type: ignore[attr-defined]

    exc = refused(ValidationFailed, order, sn1, [{"scan": resin(x), "quantity": "2.5"}])
    assert "asks 2 EA" in exc.message and "would have 2.5" in exc.message  # type: ignore[attr-defined]


def test_a_later_scan_counts_what_the_unit_already_has(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)
    assembly.work_order_assemble(work_order=order, unit=sn1, components=[pump(x, "P-1")], user=None)

    exc = refused(ValidationFailed, order, sn1, [pump(x, "P-2")])

    assert "(1 recorded before)" in exc.message  # type: ignore[attr-defined]


def test_the_same_serial_twice_is_refused(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)

    exc = refused(ValidationFailed, order, sn1, [pump(x, "P-1"), pump(x, "P-1")])

    assert "scanned twice" in exc.message  # type: ignore[attr-defined]


def test_a_component_fitted_in_another_unit_is_refused(x: Prod) -> None:
    board_a, _ = boards(x)
    order, (sn1, sn2) = devices(x)
    assembly.work_order_assemble(work_order=order, unit=sn1, components=[board_a], user=None)

    exc = refused(SequenceViolation, order, sn2, [board_a])

    assert "already fitted in" in exc.message  # type: ignore[attr-defined]


def test_a_held_component_is_refused(x: Prod) -> None:
    board_a, _ = boards(x)
    order, (sn1, _sn2) = devices(x)
    hold_place(targets=[board_a], reason="solder voids", user=None)

    exc = refused(SequenceViolation, order, sn1, [board_a])

    assert "on QC hold" in exc.message and "solder voids" in exc.message  # type: ignore[attr-defined]


def test_a_held_lot_is_refused(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)
    hold_place(
        targets=[ev.material_lot_class(x.w.resin, "R-001")], reason="contamination", user=None
    )

    exc = refused(ValidationFailed, order, sn1, [resin(x)])

    assert "contamination" in exc.message  # type: ignore[attr-defined]


def test_an_uninspected_lot_is_refused_by_procurement(x: Prod) -> None:
    from medtrace.procurement.tests.factories import purchase_order, receive

    po = purchase_order(x.p, [(x.w.resin, 10)])
    receive(x.p, po, [{"line": 1, "lot": "R-NEW", "quantity": 10}])
    order, (sn1, _sn2) = devices(x)

    exc = refused(ValidationFailed, order, sn1, [resin(x, "R-NEW")])

    assert "awaiting incoming inspection" in exc.message  # type: ignore[attr-defined]


def test_a_unit_of_another_order_is_refused(x: Prod) -> None:
    order, _ = devices(x)
    _other, (foreign, _s) = devices(x)

    exc = refused(ValidationFailed, order, foreign, [pump(x, "P-1")])

    assert exc.field == "unit"  # type: ignore[attr-defined]
    assert "is a unit of WO-" in exc.message  # type: ignore[attr-defined]


def test_a_scrapped_unit_takes_no_components(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)
    unit = ev.unit_epc(x.w.device, sn1)
    ev.emit(
        [ev.object_event(epcs=[unit], biz_step="decommissioning", disposition="destroyed")],
        user=None,
    )

    exc = refused(SequenceViolation, order, sn1, [pump(x, "P-1")])

    assert "Cannot fit parts into" in exc.message  # type: ignore[attr-defined]


def test_completing_needs_every_critical_component_of_every_unit(x: Prod) -> None:
    board_a, board_b = boards(x)
    order, (sn1, sn2) = devices(x)
    assembly.work_order_assemble(
        work_order=order, unit=sn1, components=[resin(x), pump(x, "P-1"), board_a], user=None
    )
    assembly.work_order_assemble(work_order=order, unit=sn2, components=[resin(x)], user=None)

    with pytest.raises(Conflict) as exc:
        orders.work_order_complete(work_order=order, user=None)
    assert f"{sn2} lacks critical components" in exc.value.message
    assert [g["serial"] for g in exc.value.details] == [sn2]

    assembly.work_order_assemble(
        work_order=order, unit=sn2, components=[pump(x, "P-2"), board_b], user=None
    )
    done = orders.work_order_complete(work_order=order, user=None)
    assert done.status == WorkOrderStatus.COMPLETED
    with pytest.raises(Conflict, match="it is Completed"):
        assembly.work_order_assemble(work_order=order, unit=sn2, components=[resin(x)], user=None)


def test_a_lot_tracked_order_records_its_components_into_the_lot(x: Prod) -> None:
    lot_product = md.product(manufacturer=x.w.maker, tracking="lot")
    released_bom(lot_product, [(x.w.resin, "0.5")])
    order = work_order(x, lot_product, quantity=100, lot="IS01")
    orders.work_order_commission(work_order=order, count=40, user=None)

    done = assembly.work_order_assemble(
        work_order=order, quantity=40, components=[resin(x)], user=None
    )

    [event] = done.events
    lot_class = ev.lot_class(lot_product, "IS01")
    assert event.document["outputQuantityList"] == [{"epcClass": lot_class, "quantity": 40.0}]
    assert event.document["inputQuantityList"][0]["quantity"] == 20.0  # 0.5 x 40
    assert GenealogyEdge.objects.filter(
        parent=lot_class, child=ev.material_lot_class(x.w.resin, "R-001")
    ).exists()
    with pytest.raises(ValidationFailed, match="has commissioned 40"):
        assembly.work_order_assemble(
            work_order=order, quantity=41, components=[resin(x)], user=None
        )


def test_the_consume_rule_refuses_what_cannot_be_a_component(x: Prod) -> None:
    board_a, _ = boards(x)

    rules.check(rules.Step.CONSUME, [board_a])
    with pytest.raises(SequenceViolation) as exc:
        rules.check(rules.Step.CONSUME, [ev.unit_epc(x.w.board, "NEVER")])
    assert exc.value.details[0]["reasons"][0]["code"] == "not_commissioned"


def test_the_preview_checks_without_writing(x: Prod) -> None:
    order, (sn1, _sn2) = devices(x)
    before = _counts()

    target, resolved, checklist = assembly.assembly_preview(
        work_order=order, unit=sn1, components=[resin(x), pump(x, "P-1")]
    )

    assert target.label == sn1 and len(resolved) == 2
    assert [(c["material"], c["pending"], c["complete"]) for c in checklist] == [
        (x.w.resin.code, "2", True),
        (x.w.pump.code, "1", True),
        (x.board_material.code, "", False),
    ]
    assert _counts() == before
