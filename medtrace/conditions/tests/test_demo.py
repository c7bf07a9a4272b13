"""The conditions demo runs on the master-data demo, and a second run changes nothing."""

from __future__ import annotations

import pytest

from medtrace.conditions.demo import load_demo
from medtrace.conditions.models import ConditionProfile, ConditionRecord, Excursion
from medtrace.masterdata.demo.load import load_demo as load_masterdata
from medtrace.masterdata.demo.load import load_stories
from medtrace.quality.models import Nonconformance

pytestmark = pytest.mark.django_db


def test_the_demo_tells_the_story_once() -> None:
    load_masterdata(log=lambda _line: None, lifecycle=False)
    load_stories(lambda _line: None, before="conditions")
    lines: list[str] = []

    load_demo(lines.append)
    load_demo(lines.append)

    assert ConditionProfile.objects.filter(product__model="IP-300").count() == 3
    records = ConditionRecord.objects.order_by("pk")
    assert [(r.source, r.phase) for r in records] == [
        ("station", "production"), ("import", "storage"), ("import", "transport"),
        ("station", "storage"), ("station", "production"),  # the IS-20 lot's clean room
    ]  # fmt: skip
    [excursion] = Excursion.objects.all()
    assert (excursion.measurement, excursion.bound, float(excursion.value)) == (
        "temperature", "min", 3.2,
    )  # fmt: skip
    nc = Nonconformance.objects.get(number=excursion.nonconformance)
    assert "below the minimum 5 °C of the storage limits 5–40 °C" in nc.description
    assert excursion.targets.filter(container=False).count() == 10
    assert any("excursion on" in line for line in lines)
