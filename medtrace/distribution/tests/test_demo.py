"""The distribution demo tells its story through the real services, once."""

from __future__ import annotations

import pytest

from medtrace.alerts.models import Alert
from medtrace.distribution.demo import load_demo
from medtrace.distribution.models import (
    ReturnAuthorization,
    SalesOrder,
    Shipment,
    ShipmentStatus,
)
from medtrace.quality.models import Hold

pytestmark = pytest.mark.django_db


def test_the_distribution_demo_loads_once() -> None:
    from medtrace.masterdata.demo.load import load_demo as load_masterdata
    from medtrace.masterdata.demo.load import load_stories

    load_masterdata(units=2, log=lambda _m: None, lifecycle=False)
    load_stories(lambda _line: None, before="distribution")
    lines: list[str] = []
    load_demo(lines.append)
    assert sorted(SalesOrder.objects.values_list("status", flat=True)) == [
        "draft",
        "shipped",
        "shipped",
    ]
    statuses = sorted(Shipment.objects.values_list("status", flat=True))
    assert statuses == sorted(
        [
            ShipmentStatus.RECEIVED,
            ShipmentStatus.RECEIVED_WITH_DISCREPANCIES,
            ShipmentStatus.IN_TRANSIT,
        ]
    )
    discrepant = Shipment.objects.get(status=ShipmentStatus.RECEIVED_WITH_DISCREPANCIES)
    assert len(discrepant.missing) == 1 and discrepant.consignee.role == "distributor"
    assert Alert.objects.filter(kind="shipment_discrepancy").count() == 1
    rma = ReturnAuthorization.objects.get()
    assert rma.status == "received" and rma.received_into is not None
    assert rma.received_into.code == "SZ-QRN"
    (hold,) = Hold.objects.filter(source=rma.number)
    assert hold.kind == "quarantine" and hold.lifted_at is None
    load_demo(lines.append)  # idempotent
    assert SalesOrder.objects.count() == 3 and len(lines) == 1
