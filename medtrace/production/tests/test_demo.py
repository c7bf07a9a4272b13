"""The production demo tells its story through the real services, once."""

from __future__ import annotations

import pytest

from medtrace.ledger.models import GenealogyEdge, UnitState
from medtrace.production import selectors_dhr as dhr
from medtrace.production.demo import load_demo
from medtrace.production.models import UnitComponent, WorkOrder, WorkOrderStatus

pytestmark = pytest.mark.django_db


def test_the_production_demo_loads_once() -> None:
    from medtrace.masterdata.demo.load import load_demo as load_masterdata
    from medtrace.masterdata.demo.load import load_stories

    lines: list[str] = []
    # This story runs after procurement and quality (material received, the final-inspection
    # plan in place).
    load_masterdata(units=2, log=lines.append, lifecycle=False)
    load_stories(lines.append, before="production")
    load_demo(lines.append)

    assert any(line.startswith("production demo: 5 work orders") for line in lines), lines
    statuses = dict(WorkOrder.objects.values_list("product__model", "status").order_by("id"))
    assert list(WorkOrder.objects.order_by("id").values_list("status", flat=True)) == [
        WorkOrderStatus.CLOSED,
        WorkOrderStatus.IN_PROGRESS,
        WorkOrderStatus.COMPLETED,
        WorkOrderStatus.PLANNED,
        WorkOrderStatus.CANCELLED,
    ], statuses
    pumps = WorkOrder.objects.get(product__model="IP-300", status="in_progress")
    record = dhr.work_order_dhr(work_order=pumps, user=None)
    assert record["quantities"]["made"] == 12
    assert record["quantities"]["assembled"] == 10
    assert record["quantities"]["approved"] == 3
    first = record["units"][0]["epc"]
    children = set(GenealogyEdge.objects.filter(parent=first).values_list("kind", flat=True))
    assert children == {"transformed", "associated"}
    board = UnitComponent.objects.get(unit=first, material__code="M-PCB-IP300")
    assert UnitState.objects.get(epc=board.epc).installed_in == first
    assert board.source_work_order is not None
    assert board.source_work_order.status == WorkOrderStatus.CLOSED
    assert "SPM2611-0007" not in set(UnitComponent.objects.values_list("identifier", flat=True))
    sets = dhr.unit_dhr(id="(01)06901234300017(10)IS2611-01", user=None)
    assert sets["kind"] == "lot" and len(sets["components"]) == 3
    before = len(lines)
    load_demo(lines.append)  # idempotent
    assert WorkOrder.objects.count() == 5 and len(lines) == before
