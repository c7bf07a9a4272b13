"""The service demo tells its story through the real services, once."""

from __future__ import annotations

import pytest

from medtrace.ledger.models import UnitState
from medtrace.service import selectors
from medtrace.service.demo import load_lifecycle_demo
from medtrace.service.models import (
    InstalledUnit,
    InstallStatus,
    MaintenanceVisit,
    ScrapRecord,
    ServiceTicket,
    TicketStatus,
)
from medtrace.trace.selectors import trace_backward

pytestmark = pytest.mark.django_db


def test_the_service_demo_loads_once() -> None:
    from medtrace.masterdata.demo.load import load_demo as load_masterdata
    from medtrace.masterdata.demo.load import load_stories

    # Enough pumps that the conditions story's held case leaves four at the hospitals.
    load_masterdata(units=40, log=lambda _m: None, lifecycle=False)
    load_stories(lambda _line: None, before="service")
    lines: list[str] = []
    load_lifecycle_demo(lines.append)

    installed = InstalledUnit.objects.count()
    assert installed >= 4
    assert InstalledUnit.objects.filter(status=InstallStatus.SCRAPPED).count() == 1
    assert MaintenanceVisit.objects.count() == installed - 1
    due = selectors.maintenance_due(within_days=0)
    assert len(due) == 1 and due[0].overdue and due[0].days_overdue >= 19
    closed = ServiceTicket.objects.get(status=TicketStatus.CLOSED)
    swap = closed.swaps.get()
    assert swap.installed_serial == "BS26000001"
    tree = trace_backward(id=closed.unit_epc, user=None)
    assert "BS26000001" in [c["serial"] for c in tree["root"]["children"]]
    assert closed.time_to_resolve is not None
    assert ServiceTicket.objects.filter(status=TicketStatus.OPEN).count() == 1
    (record,) = ScrapRecord.objects.all()
    assert UnitState.objects.get(epc=record.items.get().unit_epc).disposition == "destroyed"

    load_lifecycle_demo(lines.append)  # idempotent
    assert InstalledUnit.objects.count() == installed and ScrapRecord.objects.count() == 1
