"""Work orders: a released BOM version, lot and expiry from the UDI-PI, status changes, and
commissioning in one EPCIS event (issue 5, item 2)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group

from medtrace.accounts.models import User
from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, EventBizTransaction, EventEpc, EventQuantity, UnitState
from medtrace.lifecycle import events as ev
from medtrace.masterdata.tests import factories as md
from medtrace.production import services_orders as orders
from medtrace.production.models import (
    AllocatedSerial,
    WorkOrder,
    WorkOrderCommissioning,
    WorkOrderStatus,
)

from .factories import Prod, prod_world, released_bom, work_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def x() -> Prod:
    return prod_world()


def _counts() -> tuple[int, int, int, int]:
    return (
        WorkOrder.objects.count(),
        Event.objects.count(),
        AuditEntry.objects.count(),
        AllocatedSerial.objects.count(),
    )


def _refused(exc_type: type[Exception], data: dict[str, Any]) -> Any:
    before = _counts()
    with pytest.raises(exc_type) as exc:
        orders.work_order_create(data=data, user=None)
    assert _counts() == before  # nothing stored: no order, no event, no audit entry
    return exc.value


def _user(username: str, role: str) -> User:
    user = User.objects.create_user(username=username, password=f"pw-{username}")
    user.groups.add(Group.objects.get(name=role))
    return user


# Creating ----------------------------------------------------------------------------------------


def test_a_work_order_uses_the_products_released_bom_version(x: Prod) -> None:
    order = orders.work_order_create(
        data={"product_id": x.w.device.pk, "quantity": 5, "line_id": x.line.pk}, user=None
    )

    assert order.number.startswith("WO-") and order.status == WorkOrderStatus.PLANNED
    assert order.bom == x.bom
    assert AuditEntry.objects.filter(
        object_type="production.workorder", object_id=str(order.pk), action="create"
    ).exists()


def test_a_draft_bom_version_is_refused_naming_the_released_one(x: Prod) -> None:
    draft = md.bom(product_=x.w.device, lines=[(x.w.resin, "1")], version="B")

    exc = _refused(
        ValidationFailed,
        {"product_id": x.w.device.pk, "bom_id": draft.pk, "quantity": 5, "line_id": x.line.pk},
    )

    assert exc.field == "bom_id"
    assert "BOM B" in exc.message and "Draft" in exc.message and "released: A" in exc.message


def test_another_products_bom_is_refused(x: Prod) -> None:
    exc = _refused(
        ValidationFailed,
        {
            "product_id": x.w.device.pk,
            "bom_id": x.board_bom.pk,
            "quantity": 5,
            "line_id": x.line.pk,
        },
    )

    assert exc.field == "bom_id" and "belongs to" in exc.message


def test_a_product_without_a_released_bom_cannot_be_planned(x: Prod) -> None:
    product = md.product(manufacturer=x.w.maker)

    exc = _refused(
        ValidationFailed, {"product_id": product.pk, "quantity": 5, "line_id": x.line.pk}
    )

    assert exc.field == "bom_id" and "0 released BOM versions" in exc.message


def test_the_line_must_be_a_production_line(x: Prod) -> None:
    exc = _refused(
        ValidationFailed,
        {"product_id": x.w.device.pk, "quantity": 5, "line_id": x.w.warehouse.pk},
    )

    assert exc.field == "line_id" and "expected an active production line" in exc.message


@pytest.mark.parametrize("quantity", [0, -1, "5", 1_000_001, True])
def test_a_quantity_outside_1_to_a_million_is_refused(x: Prod, quantity: Any) -> None:
    exc = _refused(
        ValidationFailed,
        {"product_id": x.w.device.pk, "quantity": quantity, "line_id": x.line.pk},
    )

    assert exc.field == "quantity"


def test_a_lot_tracked_product_needs_a_lot_and_gets_its_expiry_from_the_shelf_life(
    x: Prod,
) -> None:
    lot_product = md.product(manufacturer=x.w.maker, tracking="lot")  # shelf life 365 days
    released_bom(lot_product, [(x.w.resin, "0.5")])
    data = {"product_id": lot_product.pk, "quantity": 500, "line_id": x.line.pk}

    exc = _refused(ValidationFailed, data)
    assert exc.field == "lot" and "carries a lot number in its UDI-PI" in exc.message

    order = orders.work_order_create(
        data={**data, "lot": "L2503A", "production_date": "2025-03-09"}, user=None
    )
    assert order.lot == "L2503A"
    assert order.expiry == date(2025, 3, 9) + timedelta(days=365)


def test_a_lot_number_is_used_once_per_product(x: Prod) -> None:
    lot_product = md.product(manufacturer=x.w.maker, tracking="lot")
    released_bom(lot_product, [(x.w.resin, "0.5")])
    data = {"product_id": lot_product.pk, "quantity": 5, "line_id": x.line.pk, "lot": "L1"}
    first = orders.work_order_create(data=data, user=None)

    exc = _refused(Conflict, data)

    assert exc.field == "lot" and first.number in exc.message


def test_a_lot_that_is_no_gs1_lot_is_refused(x: Prod) -> None:
    exc = _refused(
        ValidationFailed,
        {"product_id": x.w.device.pk, "quantity": 5, "line_id": x.line.pk, "lot": "批号 1"},
    )

    assert exc.field == "lot"


def test_an_expiry_before_the_production_date_is_refused(x: Prod) -> None:
    exc = _refused(
        ValidationFailed,
        {
            "product_id": x.w.device.pk,
            "quantity": 5,
            "line_id": x.line.pk,
            "production_date": "2025-03-09",
            "expiry": "2025-03-01",
        },
    )

    assert exc.field == "expiry"


def test_only_production_may_plan_work_orders(x: Prod) -> None:
    clerk = _user("clerk", "warehouse")

    with pytest.raises(PermissionDenied) as exc:
        orders.work_order_create(
            data={"product_id": x.w.device.pk, "quantity": 5, "line_id": x.line.pk}, user=clerk
        )

    assert "production.add_workorder" in exc.value.message
    assert not WorkOrder.objects.exists()


# Status ------------------------------------------------------------------------------------------


def test_releasing_needs_a_serial_rule_for_a_serial_tracked_product(x: Prod) -> None:
    product = md.product(manufacturer=x.w.maker)
    released_bom(product, [(x.w.pump, "1")])
    order = orders.work_order_create(
        data={"product_id": product.pk, "quantity": 5, "line_id": x.line.pk}, user=None
    )

    with pytest.raises(Conflict) as exc:
        orders.work_order_release(work_order=order, user=None)

    assert "has no serial rule" in exc.value.message
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.PLANNED


def test_a_released_order_cannot_be_released_again(x: Prod) -> None:
    order = work_order(x)

    with pytest.raises(Conflict) as exc:
        orders.work_order_release(work_order=order, user=None)

    assert "it is Released to production" in exc.value.message


def test_cancelling_needs_a_reason_and_nothing_commissioned(x: Prod) -> None:
    order = work_order(x, quantity=3)
    with pytest.raises(ValidationFailed) as exc:
        orders.work_order_cancel(work_order=order, user=None, reason=" ")
    assert exc.value.field == "reason"

    cancelled = orders.work_order_cancel(work_order=order, user=None, reason="plan changed")
    assert cancelled.status == WorkOrderStatus.CANCELLED
    assert cancelled.cancel_reason == "plan changed"

    other = work_order(x, quantity=3)
    orders.work_order_commission(work_order=other, count=1, user=None)
    with pytest.raises(Conflict, match="1 units are commissioned"):
        orders.work_order_cancel(work_order=other, user=None, reason="no")


def test_commissioning_a_planned_order_is_refused(x: Prod) -> None:
    order = work_order(x, release=False)
    before = _counts()

    with pytest.raises(Conflict) as exc:
        orders.work_order_commission(work_order=order, count=2, user=None)

    assert "it is Planned" in exc.value.message
    assert _counts() == before


# Commissioning -----------------------------------------------------------------------------------


def test_commissioning_writes_one_event_with_every_unit_and_a_state_per_unit(x: Prod) -> None:
    order = work_order(x, quantity=50)

    done = orders.work_order_commission(work_order=order, count=40, user=None)

    assert len(done.serials) == 40 and done.serials[0] == "D00001"
    event = done.event
    assert Event.objects.filter(capture_job=event.capture_job).count() == 1
    assert (event.event_type, event.action, event.biz_step, event.disposition) == (
        "ObjectEvent",
        "ADD",
        "commissioning",
        "active",
    )
    assert event.read_point == event.biz_location == x.line.sgln
    epcs = list(EventEpc.objects.filter(event=event, role="epc").values_list("epc", flat=True))
    assert epcs == [ev.unit_epc(x.w.device, s) for s in done.serials]
    bt = EventBizTransaction.objects.get(event=event)
    assert bt.type == "prodorder" and bt.value.endswith(order.number)
    assert UnitState.objects.filter(epc__in=epcs, disposition="active").count() == 40
    order.refresh_from_db()
    assert (order.commissioned_qty, order.status) == (40, WorkOrderStatus.IN_PROGRESS)
    run = WorkOrderCommissioning.objects.get(work_order=order)
    assert (run.count, run.first_serial, run.last_serial) == (40, "D00001", "D00040")
    assert set(
        AllocatedSerial.objects.filter(work_order=order).values_list("serial", flat=True)
    ) == set(done.serials)


def test_commissioning_carries_the_lot_and_expiry_in_the_ilmd(x: Prod) -> None:
    order = work_order(
        x, quantity=2, lot="L2503", production_date="2025-03-09", expiry="2030-03-08"
    )

    done = orders.work_order_commission(work_order=order, count=2, user=None)

    assert done.event.document["ilmd"] == {
        "cbvmda:lotNumber": "L2503",
        "cbvmda:itemExpirationDate": "2030-03-08",
    }
    state = UnitState.objects.get(epc=done.epcs[0])
    assert (state.lot, state.expiry) == ("L2503", date(2030, 3, 8))


def test_commissioning_more_than_the_order_asks_is_refused(x: Prod) -> None:
    order = work_order(x, quantity=5)
    orders.work_order_commission(work_order=order, count=3, user=None)
    before = _counts()

    with pytest.raises(ValidationFailed) as exc:
        orders.work_order_commission(work_order=order, count=3, user=None)

    assert exc.value.field == "count"
    assert "is for 5 units and 3 are commissioned, so at most 2 more; 3 asked" in (
        exc.value.message
    )
    assert _counts() == before


def test_a_serial_is_commissioned_once(x: Prod) -> None:
    order = work_order(x, quantity=5)
    done = orders.work_order_commission(work_order=order, count=2, user=None)
    before = _counts()

    with pytest.raises(SequenceViolation) as exc:
        orders.work_order_commission(work_order=order, serials=[done.serials[0]], user=None)

    assert exc.value.status == 409
    assert f"Cannot commission {done.serials[0]}: it already commissioned" in exc.value.message
    assert _counts() == before


def test_a_serial_commissioned_by_another_system_is_refused_and_nothing_is_stored(
    x: Prod,
) -> None:
    order = work_order(x, quantity=5)
    allocated = AllocatedSerial.objects.none()
    from medtrace.production import services

    serials = services.serials_allocate(product=x.w.device, count=2, user=None, work_order=order)
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=[ev.unit_epc(x.w.device, serials[1])],
                biz_step="commissioning",
                disposition="active",
            )
        ],
        user=None,
    )
    before = _counts()

    with pytest.raises(SequenceViolation) as exc:
        orders.work_order_commission(work_order=order, serials=list(serials), user=None)

    assert exc.value.details[0]["serial"] == serials[1]
    assert _counts() == before
    assert not allocated.exists()
    order.refresh_from_db()
    assert order.commissioned_qty == 0


def test_serials_not_allocated_to_the_order_are_refused(x: Prod) -> None:
    order = work_order(x, quantity=5)
    other = work_order(x, quantity=5)
    from medtrace.production import services

    foreign = services.serials_allocate(product=x.w.device, count=1, user=None, work_order=other)

    with pytest.raises(ValidationFailed) as exc:
        orders.work_order_commission(work_order=order, serials=[foreign[0], "NOPE"], user=None)

    assert exc.value.field == "serials"
    assert f"{foreign[0]} (and 1 more) was not allocated to {order.number}" in exc.value.message


def test_serials_allocated_to_the_order_are_commissioned_as_given(x: Prod) -> None:
    order = work_order(x, quantity=5)
    from medtrace.production import services

    allocated = services.serials_allocate(product=x.w.device, count=3, user=None, work_order=order)

    done = orders.work_order_commission(work_order=order, serials=list(allocated[:2]), user=None)

    assert done.serials == list(allocated[:2])
    assert AllocatedSerial.objects.get(serial=allocated[0]).work_order_ref == order.number


def test_a_lot_tracked_order_commissions_its_lot_as_a_quantity(x: Prod) -> None:
    lot_product = md.product(manufacturer=x.w.maker, tracking="lot")
    released_bom(lot_product, [(x.w.resin, "0.5")])
    order = work_order(x, lot_product, quantity=500, lot="IS2503")

    done = orders.work_order_commission(work_order=order, count=200, user=None)

    lot_class = ev.lot_class(lot_product, "IS2503")
    assert done.lot_class == lot_class and not done.serials
    row = EventQuantity.objects.get(event=done.event)
    assert (row.epc_class, row.quantity, row.role) == (lot_class, 200, "quantity")
    assert done.event.document["ilmd"]["cbvmda:lotNumber"] == "IS2503"
    with pytest.raises(ValidationFailed, match="tracked by lot"):
        orders.work_order_commission(work_order=order, serials=["X"], user=None)


def test_commissioning_needs_the_production_permission(x: Prod) -> None:
    order = work_order(x, quantity=5)
    qc = _user("qc_user", "qc")

    with pytest.raises(PermissionDenied):
        orders.work_order_commission(work_order=order, count=1, user=qc)

    producer = _user("producer", "production")
    done = orders.work_order_commission(work_order=order, count=1, user=producer)
    assert done.commissioning.commissioned_by == producer


def test_a_reference_naming_a_work_order_links_the_allocation(x: Prod) -> None:
    from medtrace.production import services

    order = work_order(x, quantity=5)

    serials = services.serials_allocate(
        product=x.w.device, count=2, user=None, work_order_ref=order.number
    )
    done = orders.work_order_commission(work_order=order, serials=list(serials), user=None)

    assert AllocatedSerial.objects.filter(work_order=order).count() == 2
    assert done.serials == list(serials)
