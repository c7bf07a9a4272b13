"""The events are standard EPCIS 2.0: checked against GS1's JSON Schema and sensor examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from medtrace.conditions import services
from medtrace.conditions.sensors import TYPES
from medtrace.lifecycle import events as ev
from medtrace.trace.tests import factories as f

from . import factories as cf

EPCIS = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "epcis"
SENSOR_EXAMPLES = sorted((EPCIS / "examples" / "json-ld-simple-context").glob("**/Sensor*.jsonld"))


def _validator() -> Draft7Validator:
    schema = json.loads((EPCIS / "json-schema" / "EPCIS-JSON-Schema.json").read_text())
    return Draft7Validator(schema, format_checker=FormatChecker())


def _reports(document: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for event in document["epcisBody"]["eventList"]:
        for element in event.get("sensorElementList", []):
            out.extend(element.get("sensorReport", []))
    return out


@pytest.mark.django_db
def test_a_station_event_and_a_logger_event_validate_against_the_epcis_json_schema(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "X1")
    lot = cf.lot(w, "LX1")
    station = services.readings_record(
        targets=[*units, lot],
        readings=[cf.reading("2026-03-05T10:00:00+08:00", "temperature", 4.5),
                  cf.reading("2026-03-05T10:00:00+08:00", "humidity", 40)],
        phase="storage", device="ST-1", location=w.warehouse.sgln, user=warehouse_clerk,
    )  # fmt: skip
    logger = services.readings_import(
        name="l.csv",
        content=b"time,temperature,humidity\n2026-03-06 08:00,5,41\n2026-03-06 08:05,6,42\n",
        phase="transport", device="urn:epc:id:giai:6901234.77", targets=units,
        user=warehouse_clerk,
    )  # fmt: skip
    events = []
    for event in (station.event, logger.recorded[0].event):
        stored = {k: v for k, v in event.document.items() if k != "@context"}
        events.append(stored)

    document = ev.document(events)
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))

    assert [f"{list(e.path)}: {e.message}" for e in errors] == []
    assert {r["type"] for r in _reports(document)} == {"Temperature", "RelativeHumidity"}


def test_our_measurement_types_are_gs1_terms_of_the_schema() -> None:
    schema = json.loads(
        (
            EPCIS / "json-schema" / "modular" / "schemas" / "measurement-type-JSON-Schema.json"
        ).read_text()
    )
    terms = set(schema["definitions"]["measurementType"]["anyOf"][1]["enum"])

    assert {kind for kind, _uom in TYPES.values()} <= terms


def test_gs1_examples_write_temperature_in_cel_and_a93_only_for_absolute_humidity() -> None:
    # Why %RH is P1 (percent, UN/CEFACT Rec. 20) and not A93: in GS1's sensor examples A93
    # (gram per cubic metre) goes only with AbsoluteHumidity, a different quantity.
    assert SENSOR_EXAMPLES
    pairs = set()
    for path in SENSOR_EXAMPLES:
        pairs |= {(r.get("type"), r.get("uom")) for r in _reports(json.loads(path.read_text()))}

    assert ("Temperature", "CEL") in pairs
    assert {t for t, uom in pairs if uom == "A93"} == {"AbsoluteHumidity"}
    assert TYPES["temperature"] == ("Temperature", "CEL")
    assert TYPES["humidity"] == ("RelativeHumidity", "P1")
