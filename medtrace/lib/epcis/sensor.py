"""sensorElementList (EPCIS 2.0 sensor data): sensorMetadata and sensorReport structures."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from medtrace.lib.epcis import cbv
from medtrace.lib.epcis.jsonld import Scope, check_extension
from medtrace.lib.epcis.values import (
    Sink,
    check_date_time,
    check_number,
    check_uri,
    check_vocabulary,
    describe,
)

__all__ = ["check_sensor_element_list"]


def _uri(value: Any, field: str, sink: Sink) -> None:
    check_uri(value, field, sink)


def _time(value: Any, field: str, sink: Sink) -> None:
    check_date_time(value, field, sink)


def _number(value: Any, field: str, sink: Sink) -> None:
    check_number(value, field, sink)


def _string(value: Any, field: str, sink: Sink) -> None:
    if type(value) is not str:
        sink.add(field, f"expected a string, got {describe(value)}")


def _boolean(value: Any, field: str, sink: Sink) -> None:
    if type(value) is not bool:
        sink.add(field, f"expected true or false, got {describe(value)}")


_HEX = re.compile(r"[A-Fa-f0-9]+\Z")


def _hex_binary(value: Any, field: str, sink: Sink) -> None:
    if type(value) is not str or _HEX.match(value) is None:
        sink.add(field, f"{describe(value)} is not hexBinary; expected hex digits such as '0A1B'")


# A GS1 Web Vocabulary term written bare (gs1:Temperature is written "Temperature").
_BARE_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_GS1_VOC_WEB = re.compile(r"https?://(www\.)?gs1\.org/voc/", re.IGNORECASE)


def _gs1_term(value: Any, field: str, sink: Sink, what: str, terms: frozenset[str] | None) -> None:
    """A measurement type or alert type: a bare GS1 term, or a URI outside the GS1 vocabulary.

    Measurement types (terms None) are not held to a closed list: the GS1 Web Vocabulary keeps
    adding them, and valid capture documents use terms newer than the 2.0 JSON Schema's list.
    """
    if type(value) is not str:
        sink.add(field, f"expected a {what} as a string, got {describe(value)}")
        return
    if not cbv.is_uri(value):
        if terms is None and _BARE_TERM.match(value):
            return
        if terms is not None and value in terms:
            return
        expected = (
            f"one of {', '.join(sorted(terms))}" if terms else "a GS1 term such as 'Temperature'"
        )
        sink.add(field, f"{describe(value)} is not a {what}; expected {expected} or a URI")
        return
    web = _GS1_VOC_WEB.match(value)
    if web is not None:
        sink.add(
            field,
            f"{describe(value)}: write GS1 vocabulary terms bare in EPCIS 2.0 JSON, "
            f"e.g. {value[web.end() :]!r}",
        )
        return
    check_uri(value, field, sink)


def _measurement_type(value: Any, field: str, sink: Sink) -> None:
    _gs1_term(value, field, sink, "measurement type", None)


def _alert_type(value: Any, field: str, sink: Sink) -> None:
    _gs1_term(value, field, sink, "sensor alert type", cbv.SENSOR_ALERT_TYPES)


def _component(value: Any, field: str, sink: Sink) -> None:
    check_vocabulary("component", value, field, sink)


_Check = Callable[[Any, str, Sink], None]

_METADATA: dict[str, _Check] = {
    "time": _time,
    "deviceID": _uri,
    "deviceMetadata": _uri,
    "rawData": _uri,
    "startTime": _time,
    "endTime": _time,
    "dataProcessingMethod": _uri,
    "bizRules": _uri,
}

_REPORT: dict[str, _Check] = {
    "type": _measurement_type,
    "exception": _alert_type,
    "deviceID": _uri,
    "deviceMetadata": _uri,
    "rawData": _uri,
    "dataProcessingMethod": _uri,
    "bizRules": _uri,
    "time": _time,
    "microorganism": _uri,
    "chemicalSubstance": _uri,
    "coordinateReferenceSystem": _uri,
    "value": _number,
    "component": _component,
    "stringValue": _string,
    "booleanValue": _boolean,
    "hexBinaryValue": _hex_binary,
    "uriValue": _uri,
    "minValue": _number,
    "maxValue": _number,
    "meanValue": _number,
    "sDev": _number,
    "percRank": _number,
    "percValue": _number,
    "uom": _string,
}


def _check_object(
    value: Any, field: str, checks: dict[str, _Check], scope: Scope, sink: Sink, what: str
) -> None:
    if not isinstance(value, dict):
        sink.add(field, f"expected {what} as an object, got {describe(value)}")
        return
    for key, item in value.items():
        check = checks.get(key)
        if check is not None:
            check(item, f"{field}.{key}", sink)
        else:
            check_extension(key, f"{field}.{key}", scope, sink)


def check_sensor_element_list(value: Any, field: str, scope: Scope, sink: Sink) -> None:
    if not isinstance(value, list):
        sink.add(field, f"expected an array of sensor elements, got {describe(value)}")
        return
    for position, element in enumerate(value):
        where = f"{field}[{position}]"
        if not isinstance(element, dict):
            sink.add(where, f"expected a sensor element object, got {describe(element)}")
            continue
        if "sensorReport" not in element:
            sink.add(
                f"{where}.sensorReport",
                "sensorReport is required: a sensor element carries at least one report",
            )
        for key, item in element.items():
            path = f"{where}.{key}"
            if key == "sensorMetadata":
                _check_object(item, path, _METADATA, scope, sink, "sensorMetadata")
            elif key == "sensorReport":
                _check_reports(item, path, scope, sink)
            elif key in ("type", "@type"):
                # The EPCIS context aliases "type" to @type: a JSON-LD node type such as
                # "epcis:SensorElement", as GS1's own examples write it.
                check_uri(item, path, sink, "a JSON-LD type (URI or prefix:name)")
            else:
                check_extension(key, path, scope, sink)


def _check_reports(value: Any, field: str, scope: Scope, sink: Sink) -> None:
    if not isinstance(value, list) or not value:
        sink.add(field, f"expected a non-empty array of sensor reports, got {describe(value)}")
        return
    for position, report in enumerate(value):
        # sensorReport.type is optional: the EPCIS 2.0 XSD declares it use="optional" (a report may
        # carry only an exception or a stringValue); the JSON Schema alone requires it.
        _check_object(report, f"{field}[{position}]", _REPORT, scope, sink, "a sensor report")
