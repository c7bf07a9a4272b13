"""SimpleEventQuery parameters answered from the stored event JSON (``JsonMatch``).

persistentDisposition, sensor data (EPCIS 2.0 §7.3.8, TCR-53) and user extension fields live
only in ``Event.document``; each parameter becomes one ``EXISTS`` over it. Extension field
names are matched as the events wrote them (``prefix:name``, or a full IRI).
"""

from __future__ import annotations

import contextlib
import operator
import re
from collections.abc import Callable
from decimal import Decimal
from functools import reduce

from django.db.models import Q

from .epcis_query_json import All, AnyOf, Condition, JsonMatch, Test
from .epcis_query_parser import (
    CMP,
    GS1_VOC,
    OFFSET_SPACE,
    SCHEME,
    TIME,
    Parser,
    QueryError,
    Raw,
    normalize_terms,
    parse_number,
    parse_time,
    read_numbers,
    term_spellings,
)
from .epcis_query_units import compatible_units, convert
from .models import EventRetraction

__all__ = ["FAMILIES", "FIXED"]


def _persistent_disposition(p: Parser, name: str, raw: Raw) -> None:
    terms = normalize_terms(name, "disposition", p.values(name, raw, "word"))
    which = "set" if name.endswith("_set") else "unset"
    spellings = tuple(term_spellings("disposition", terms))
    p.add(
        JsonMatch(
            "document", ("persistentDisposition", which, "*"), Test(None, "str", values=spellings)
        )
    )


Steps = tuple[str, ...]
_SENSOR: Steps = ("sensorElementList", "*")
_METADATA: Steps = (*_SENSOR, "sensorMetadata")
_REPORT: Steps = (*_SENSOR, "sensorReport", "*")
_METADATA_OR_REPORT = (
    "time", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules",
)  # fmt: skip


def _sensor_match(p: Parser, paths: list[Steps], test: Condition) -> None:
    p.add(reduce(operator.or_, (Q(JsonMatch("document", path, test)) for path in paths)))


def _sensor_time(p: Parser, name: str, raw: Raw) -> None:
    attribute = name[3:]
    paths = [_METADATA, _REPORT] if attribute in _METADATA_OR_REPORT else [_METADATA]
    test = Test(attribute, "time", CMP[name[:2]], (p.time(name, raw),))
    _sensor_match(p, paths, test)


def _sensor_uri(p: Parser, name: str, raw: Raw) -> None:
    attribute = name[3:]
    paths = [_METADATA, _REPORT] if attribute in _METADATA_OR_REPORT else [_REPORT]
    kind = "text" if attribute in ("stringValue", "hexBinaryValue") else "uri"
    values = p.values(name, raw, kind)
    if attribute == "hexBinaryValue":  # xsd:hexBinary is case-insensitive
        values = sorted({v for value in values for v in (value, value.upper(), value.lower())})
    _sensor_match(p, paths, Test(attribute, "str", values=tuple(values)))


def _sensor_type(p: Parser, name: str, raw: Raw) -> None:
    spellings: list[str] = []
    for value in p.values(name, raw, "word"):
        bare = value.removeprefix(GS1_VOC).removeprefix("http://gs1.org/voc/")
        bare = bare.removeprefix("gs1:")
        if SCHEME.match(bare):
            spellings.append(value)
        else:
            spellings += [bare, f"gs1:{bare}", f"{GS1_VOC}{bare}"]
    _sensor_match(p, [_REPORT], Test("type", "str", values=tuple(spellings)))


def _sensor_boolean(p: Parser, name: str, raw: Raw) -> None:
    _sensor_match(
        p, [_REPORT], Test("booleanValue", "bool", values=(p.boolean(name, raw, empty=True),))
    )


def _sensor_number(p: Parser, name: str, raw: Raw) -> None:
    cmp = CMP[name[:2]]
    tests = tuple(Test(name[3:], "num", cmp, (n,)) for n in read_numbers(p, name, raw))
    _sensor_match(p, [_REPORT], AnyOf(tests))


def _sensor_value(p: Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    """EQ_value_CEL, GE_minValue_KEL, ...: sensor values, compared across compatible units."""
    op, attribute, uom = match.groups()
    cmp = CMP[op]
    alternatives: list[Condition] = []
    for number in read_numbers(p, name, raw):
        for unit in compatible_units(uom):
            converted = convert(number, uom, unit)
            alternatives.append(
                All(
                    (
                        Test("uom", "str", values=(unit,)),
                        _number_test(attribute, cmp, converted, exact=unit == uom),
                    )
                )
            )
    _sensor_match(p, [_REPORT], AnyOf(tuple(alternatives)))


def _number_test(key: str, cmp: str, value: Decimal, *, exact: bool) -> Condition:
    if cmp != "=" or exact:
        return Test(key, "num", cmp, (value,))
    # A converted value is rarely exact in binary floating point: equal within 1e-9 relative.
    slack = abs(value) * Decimal("1e-9") + Decimal("1e-12")
    return All((Test(key, "num", ">=", (value - slack,)), Test(key, "num", "<=", (value + slack,))))


# Where extension fields live, by the qualifier in the parameter name.
_EXTENSION_PLACES: dict[str, tuple[str, ...]] = {
    "": (),
    "ILMD_": ("ilmd",),
    "ERROR_DECLARATION_": ("errorDeclaration",),
    "SENSORELEMENT_": _SENSOR,
    "SENSORMETADATA_": _METADATA,
    "SENSORREPORT_": _REPORT,
    "readPoint_": ("readPoint",),
    "bizLocation_": ("bizLocation",),
}


def _extension(p: Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    """EQ_/GT_/GE_/LT_/LE_/EXISTS_ on user extension fields (EPCIS 2.0 §8.2.7.1)."""
    op, inner, place, field_name = match.groups()
    if '"' in field_name or any(ord(c) < 32 for c in field_name):
        raise QueryError(name, f"{name}: a field name cannot contain quotes or control characters")
    base = _EXTENSION_PLACES[place or ""]
    steps = (*base, "ext", "**") if inner else base
    if op == "EXISTS":
        if not p.boolean(name, raw):
            return
        condition: Condition = Test(field_name, "exists")
    elif op == "EQ":
        condition = _equals(p, name, raw, field_name)
    else:
        condition = _compare(p, name, raw, field_name, CMP[op])
    if place == "ERROR_DECLARATION_":
        in_event = Q(JsonMatch("document", steps, condition))
        declared = EventRetraction.objects.filter(JsonMatch("document", steps, condition))
        p.add(in_event | Q(pk__in=declared.values("event_id")))
    else:
        p.add(JsonMatch("document", steps, condition))


def _equals(p: Parser, name: str, raw: Raw, key: str) -> Condition:
    if not p.from_url and isinstance(raw, int | float) and not isinstance(raw, bool):
        return Test(key, "num", "=", (Decimal(str(raw)),))
    if not p.from_url and isinstance(raw, str) and TIME.match(raw):
        return Test(key, "time", "=", (parse_time(name, raw),))
    values = p.values(name, raw, "text")
    tests: list[Condition] = [Test(key, "str", values=tuple(values))]
    for value in values:
        with contextlib.suppress(QueryError):
            tests.append(Test(key, "num", "=", (parse_number(name, value),)))
        if TIME.match(value):
            tests.append(Test(key, "time", "=", (parse_time(name, value),)))
    return AnyOf(tuple(tests))


def _compare(p: Parser, name: str, raw: Raw, key: str, cmp: str) -> Condition:
    value = p.scalar(name, raw)
    if isinstance(value, str) and TIME.match(OFFSET_SPACE.sub(r"\1+\2", value.strip())):
        return Test(key, "time", cmp, (parse_time(name, value),))
    try:
        return Test(key, "num", cmp, (parse_number(name, value),))
    except QueryError:
        raise QueryError(
            name, f"{name}: expected a number or an RFC 3339 date-time, got {value!r}"
        ) from None


def _master_data(p: Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    raise QueryError(
        name,
        f"{name}: HASATTR_ and EQ_ATTR_ query EPCIS master-data attributes; this repository "
        "holds no master-data vocabulary, so these parameters are not supported",
    )


FIXED: dict[str, Callable[[Parser, str, Raw], None]] = {
    "EQ_persistentDisposition_set": _persistent_disposition,
    "EQ_persistentDisposition_unset": _persistent_disposition,
    **{f"{op}_{attr}": _sensor_time for op in ("GE", "LT")
       for attr in ("time", "startTime", "endTime")},
    "EQ_type": _sensor_type,
    **{f"EQ_{attr}": _sensor_uri for attr in (
        "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules",
        "microorganism", "chemicalSubstance", "stringValue", "hexBinaryValue", "uriValue")},
    "EQ_booleanValue": _sensor_boolean,
    **{f"{op}_percRank": _sensor_number for op in ("GT", "GE", "LT", "LE")},
}  # fmt: skip

FAMILIES: list[tuple[re.Pattern[str], Callable[[Parser, str, Raw, re.Match[str]], None]]] = [
    (re.compile(
        r"(EQ|GT|GE|LT|LE)_(value|minValue|maxValue|meanValue|sDev|percValue)_([A-Z0-9]{2,4})\Z"
    ), _sensor_value),
    (re.compile(r"(HASATTR|EQ_ATTR)_(.+)\Z"), _master_data),
    (re.compile(
        r"(EQ|GT|GE|LT|LE|EXISTS)_(INNER_)?"
        r"(ILMD_|ERROR_DECLARATION_|SENSORELEMENT_|SENSORMETADATA_|SENSORREPORT_|readPoint_|"
        r"bizLocation_)?([^_:][^:]*:.+)\Z"
    ), _extension),
]  # fmt: skip
