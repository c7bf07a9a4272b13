"""Readings and excursions on the unit timeline (API and page), at a bounded query count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from medtrace.accounts.models import User
from medtrace.conditions import services
from medtrace.trace import selectors as trace
from medtrace.trace.sensors import summarize
from medtrace.trace.tests import factories as f

from . import factories as cf

pytestmark = pytest.mark.django_db


def _record(w: f.World, user: Any, targets: list[str], time: str, **values: float) -> Any:
    return services.readings_record(
        targets=targets,
        readings=[cf.reading(time, kind, value) for kind, value in values.items()],
        phase="storage",
        device="ST-01",
        location=w.warehouse.sgln,
        user=user,
    )


def _sensor_items(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in timeline["events"] if e["conditions"]]


def test_the_unit_timeline_shows_the_readings_and_the_excursion(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    [unit, other] = cf.commission(w, "TL1", "TL2")
    cf.profile(w.device, "storage", temperature_min=2, temperature_max=8)
    done = _record(w, warehouse_clerk, [unit], "2026-03-05T10:00:00+08:00",
                   temperature=9.2, humidity=48)  # fmt: skip
    nc = done.nonconformances[0]

    response = api_client(warehouse_clerk, ["trace:read"]).get(
        f"/api/v1/units/{quote(unit, safe='')}/timeline"
    )

    assert response.status_code == 200, response.content
    [item] = _sensor_items(response.json())
    assert item["bizStep"] == "storing" and item["phase"] == "warehouse"
    assert [c["text"] for c in item["conditions"]] == [
        "Temperature 9.2 °C", "Relative humidity 48 %",
    ]  # fmt: skip
    assert item["conditions"][0]["value"] == 9.2 and item["conditions"][0]["uom"] == "CEL"
    [excursion] = item["excursions"]
    assert excursion["text"] == f"Temperature 9.2 °C (limit 2–8 °C) — excursion {nc}"
    # The other unit was not in this event: nothing on its timeline.
    assert _sensor_items(trace.unit_timeline(id=other, user=None)) == []


def test_a_unit_in_a_scanned_case_sees_the_readings_and_its_excursion(
    w: f.World, warehouse_clerk: User
) -> None:
    units = cf.commission(w, "TC1", "TC2")
    case = cf.pack(w, w.sscc(601), units)
    cf.profile(w.device, "storage", humidity_max=60)
    done = _record(w, warehouse_clerk, [case], "2026-03-05T10:00:00+08:00", humidity=75)

    [item] = _sensor_items(trace.unit_timeline(id=units[1], user=None))

    assert item["via"] == f"container:{case}"
    assert [x["nonconformance"] for x in item["excursions"]] == done.nonconformances
    [on_case] = _sensor_items(trace.unit_timeline(id=case, user=None))
    assert on_case["excursions"][0]["text"].startswith("Relative humidity 75 %RH (limit ≤ 60 %RH)")


def test_the_unit_page_shows_readings_and_excursions(
    w: f.World, warehouse_clerk: User, client: Client
) -> None:
    [unit] = cf.commission(w, "TP1")
    cf.profile(w.device, "storage", temperature_max=8)
    done = _record(w, warehouse_clerk, [unit], "2026-03-05T10:00:00+08:00", temperature=9.2)
    client.force_login(warehouse_clerk)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the texts below are the sources

    page = client.get("/trace/", {"id": unit})

    html = page.content.decode()
    assert page.status_code == 200
    assert "Temperature 9.2 °C" in html
    assert f"(limit ≤ 8 °C) — excursion {done.nonconformances[0]}" in html


def _queries(epc: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        trace.unit_timeline(id=epc, user=None)
    return len(ctx.captured_queries)


def test_the_timeline_query_count_does_not_grow_with_the_readings(
    w: f.World, warehouse_clerk: User
) -> None:
    [few, many] = cf.commission(w, "TQ1", "TQ2")
    cf.profile(w.device, "storage", temperature_max=8)
    _record(w, warehouse_clerk, [few], "2026-03-05T10:00:00+08:00", temperature=9)
    for day in range(5, 25):
        _record(w, warehouse_clerk, [many], f"2026-03-{day:02d}T10:00:00+08:00", temperature=9)

    assert len(_sensor_items(trace.unit_timeline(id=many, user=None))) == 20
    assert _queries(few) == _queries(many)


def test_a_partner_event_with_only_aggregates_is_summarised() -> None:
    elements = [
        {
            "sensorMetadata": {"startTime": "2019-04-01T15:00:00.000+01:00",
                               "endTime": "2019-04-02T14:59:59.999+01:00"},
            "sensorReport": [
                {"type": "Temperature", "minValue": 12.4, "maxValue": 13.8, "uom": "CEL"},
                {"type": "AbsoluteHumidity", "minValue": 69.2, "maxValue": 72.5, "uom": "A93",
                 "exception": "ALARM_CONDITION"},
            ],
        }
    ]  # fmt: skip

    texts = [c["text"] for c in summarize(elements)]

    assert texts == [
        "Temperature 12.4–13.8 °C",
        "Absolute humidity 69.2–72.5 g/m³ (ALARM_CONDITION)",
    ]
