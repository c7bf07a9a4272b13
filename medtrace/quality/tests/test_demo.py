"""The quality demo tells its story through the real services, once."""

from __future__ import annotations

import pytest

from medtrace.lifecycle import rules
from medtrace.quality.demo import load_demo
from medtrace.quality.models import Hold, InspectionPlan, InspectionResult, Nonconformance

pytestmark = pytest.mark.django_db


def test_the_quality_demo_loads_once() -> None:
    from medtrace.masterdata.demo.load import load_demo as load_masterdata
    from medtrace.masterdata.demo.load import load_stories

    load_masterdata(units=2, log=lambda _m: None, lifecycle=False)
    load_stories(lambda _line: None, before="quality")
    lines: list[str] = []
    load_demo(lines.append)
    assert InspectionPlan.objects.count() == 2
    assert InspectionResult.objects.filter(result="fail").count() == 3
    ncs = {nc.disposition or "open": nc.status for nc in Nonconformance.objects.all()}
    assert ncs == {"rework": "closed", "use_as_is": "closed", "open": "open"}
    (hold,) = Hold.objects.filter(lifted_at__isnull=True)
    assert hold.lot == "PS251109"
    released = [r.target for r in InspectionResult.objects.filter(serial="IP3Q25003")]
    rules.check(rules.Step.RELEASE, released[:1])
    load_demo(lines.append)  # idempotent
    assert InspectionPlan.objects.count() == 2 and len(lines) == 2
