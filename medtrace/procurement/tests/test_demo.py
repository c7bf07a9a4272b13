"""The procurement demo tells its story through the real services, once."""

from __future__ import annotations

import pytest

from medtrace.alerts.models import Alert
from medtrace.ledger.models import Event
from medtrace.procurement.demo import load_demo
from medtrace.procurement.models import GoodsReceipt, MaterialLot, PurchaseOrder

pytestmark = pytest.mark.django_db


def test_the_procurement_demo_loads_once() -> None:
    from medtrace.masterdata.demo.load import load_demo as load_masterdata
    from medtrace.masterdata.demo.load import load_stories

    load_masterdata(units=2, log=lambda _m: None, lifecycle=False)
    load_stories(lambda _line: None, before="procurement")
    lines: list[str] = []
    load_demo(lines.append)
    assert dict(PurchaseOrder.objects.values_list("status", "supplier__name")) == {
        "partially_received": "深圳精密微电机有限公司",
        "received": "上海医用电子元件有限公司",
        "draft": "上海医用电子元件有限公司",
    }
    assert GoodsReceipt.objects.count() == 2
    assert all(r.coc.content_type == "application/pdf" for r in GoodsReceipt.objects.all())
    status = dict(MaterialLot.objects.values_list("identifier", "status"))
    assert status["SPM2611-0007"] == "rejected" and status["SPM2611-0001"] == "accepted"
    assert status["PS2611A"] == "partly_accepted" and status["MCU2611-07"] == "awaiting_inspection"
    alerts = Alert.objects.filter(kind="certificate_expiring", recipient_role="procurement")
    assert any("沪食药监械生产许20170045号" in a.title for a in alerts)
    assert Event.objects.filter(biz_step="receiving", disposition="in_progress").count() >= 4
    load_demo(lines.append)  # idempotent
    assert PurchaseOrder.objects.count() == 3 and len(lines) == 1
