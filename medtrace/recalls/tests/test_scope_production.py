"""Scopes named by production and procurement documents: a work order, a received supplier lot."""

from __future__ import annotations

import pytest

from medtrace.errors import ValidationFailed
from medtrace.production import services_assembly as assembly
from medtrace.production import services_orders as orders
from medtrace.production.tests.factories import Prod, prod_world, work_order
from medtrace.recalls import services
from medtrace.recalls.models import AffectedUnit

pytestmark = pytest.mark.django_db


@pytest.fixture
def x() -> Prod:
    return prod_world()


def resin(x: Prod) -> str:
    return f"(01){x.w.resin.gtin}(10)R-001"


def built(x: Prod) -> tuple[str, list[str], list[str]]:
    """Two boards of resin R-001; one device of its own work order with board A, pump P-1 and
    resin R-001; returns (the device order's number, boards, devices)."""
    board_order = work_order(x, x.w.board, quantity=2)
    boards = orders.work_order_commission(work_order=board_order, count=2, user=None).epcs
    for epc in boards:
        assembly.work_order_assemble(
            work_order=board_order, unit=epc, components=[resin(x)], user=None
        )
    device_order = work_order(x, quantity=1)
    devices = orders.work_order_commission(work_order=device_order, count=1, user=None).epcs
    assembly.work_order_assemble(
        work_order=device_order,
        unit=devices[0],
        components=[resin(x), f"(01){x.w.pump.gtin}(21)P-1", boards[0]],
        user=None,
    )
    return device_order.number, boards, devices


def opened(kind: str, **params: object) -> set[str]:
    campaign = services.recall_open(title="t", reason="r", kind=kind, params=params, user=None)
    return set(AffectedUnit.objects.filter(campaign=campaign).values_list("epc", flat=True))


def test_a_work_order_recall_takes_the_units_the_order_commissioned(x: Prod) -> None:
    number, _boards, devices = built(x)

    assert opened("work_order", work_order=number) == set(devices)


def test_a_received_supplier_lot_reaches_the_devices_and_the_free_boards_made_from_it(
    x: Prod,
) -> None:
    _number, boards, devices = built(x)

    by_row = opened("supplier_lot", material_lot_id=x.resin_lot.pk)
    by_number = opened("supplier_lot", material_id=x.w.resin.pk, lot="R-001")
    by_udi = opened("supplier_lot", lot=resin(x))

    # Board A is inside the device: the device is what is recalled; board B is still free.
    assert by_row == by_number == by_udi == {devices[0], boards[1]}


def test_a_component_serial_without_a_supplier_lot_is_named_by_the_serials_scope(x: Prod) -> None:
    built(x)

    with pytest.raises(ValidationFailed) as exc:
        opened("supplier_lot", material_lot_id=x.pumps[0].pk)

    assert exc.value.field == "material_lot_id" and "serials scope" in exc.value.message
    assert opened("serials", serials=[f"(01){x.w.pump.gtin}(21)P-1"]) != set()


def test_a_work_order_that_commissioned_nothing_is_refused(x: Prod) -> None:
    order = work_order(x, quantity=3)

    with pytest.raises(ValidationFailed) as exc:
        opened("work_order", work_order=order.number)

    assert exc.value.field == "work_order" and "commissioned nothing" in exc.value.message
