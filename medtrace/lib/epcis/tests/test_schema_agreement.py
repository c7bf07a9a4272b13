"""We agree with the GS1 EPCIS 2.0 JSON Schema: what it accepts we accept, what it rejects we
reject, except for the departures listed here, each for a stated reason.

The schema is applied with format assertions on ("uri", "date-time"), as its authors intend:
without them every string is a "uri", and the schema's namespace rule for extension names
(propertyNames: format uri) checks nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from medtrace.lib.epcis import EpcisValidationError, parse_document
from medtrace.lib.epcis.tests import factories
from medtrace.lib.epcis.tests.conftest import (
    CAPTURE_DOCUMENTS,
    CAPTURE_EVENTS,
    EPCIS_DIR,
    INVALID_DOCUMENTS,
    JSON_LD_EXAMPLES,
    SCHEMA_PATH,
    SIMPLE_CONTEXT_EXAMPLES,
    load_json,
    relative_id,
)
from medtrace.lib.epcis.values import Sink, check_date_time, check_offset

EVENT_HASH_DOCUMENTS = sorted((EPCIS_DIR / "event-hash").glob("**/*.jsonld"))
ALL_DOCUMENTS = (
    JSON_LD_EXAMPLES
    + SIMPLE_CONTEXT_EXAMPLES
    + CAPTURE_DOCUMENTS
    + INVALID_DOCUMENTS
    + EVENT_HASH_DOCUMENTS
)


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = load_json(SCHEMA_PATH)
    return schema


@cache
def _validator() -> Draft7Validator:
    return Draft7Validator(_schema(), format_checker=FormatChecker())


@cache
def _plain_validator() -> Draft7Validator:
    return Draft7Validator(_schema())


_BARE_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def _departure(error: ValidationError) -> str | None:
    """Which documented departure from the schema explains ``error``, if any."""
    path = list(error.absolute_path)
    schema_path = list(error.relative_schema_path)
    instance = error.instance
    if error.validator == "format" and path == ["id"] and str(instance).startswith("_:"):
        # JSON-LD blank node as the document's id ("_:document1" in GS1's own examples).
        return "blank-node document id"
    if error.validator == "anyOf" and "propertyNames" in schema_path:
        if instance == "persistentDisposition":
            # The EPCIS 2.0 XSD allows it on every event type; the JSON Schema forgot three.
            return "persistentDisposition on every event type"
        if instance == "id" and len(path) == 3:
            # The EPCIS context aliases id to @id, like eventID.
            return "event id alias"
        if instance == "type" and len(path) >= 2 and path[-2] == "sensorElementList":
            # "type" is aliased to @type: a JSON-LD node type such as epcis:SensorElement.
            return "sensorElement JSON-LD type"
    if (
        error.validator == "required"
        and len(path) >= 2
        and path[-2] == "sensorReport"
        and "'type'" in error.message
    ):
        # The EPCIS 2.0 XSD makes SensorReport/@type optional.
        return "sensorReport without type"
    if (
        len(path) >= 3
        and path[-1] == "type"
        and path[-3] == "sensorReport"
        and isinstance(instance, str)
        and _BARE_TERM.match(instance)
    ):
        # The GS1 Web Vocabulary's measurement types are an open list.
        return "bare measurement type outside the 2.0 list"
    return None


DEPARTURES = {
    "blank-node document id",
    "persistentDisposition on every event type",
    "event id alias",
    "sensorElement JSON-LD type",
    "sensorReport without type",
    "bare measurement type outside the 2.0 list",
}


def _schema_verdict(instance: Any) -> tuple[bool, set[str]]:
    """(the schema accepts once documented departures are set aside, departures used)."""
    used: set[str] = set()
    unexplained = False
    for error in _validator().iter_errors(instance):
        reason = _departure(error)
        if reason is None:
            unexplained = True
        else:
            used.add(reason)
    return not unexplained, used


def _we_accept(instance: Any) -> bool:
    try:
        parse_document(instance)
    except EpcisValidationError:
        return False
    return True


def test_the_format_checker_really_checks_uris_and_date_times() -> None:
    # given the format checker the agreement tests rely on (rfc3986-validator, rfc3339-validator)
    checker = FormatChecker()
    # then it refuses what is not a URI or an RFC 3339 date-time
    assert not checker.conforms("lotNumber", "uri")
    assert checker.conforms("example:lotNumber", "uri")
    assert not checker.conforms("22-07-2026", "date-time")


@pytest.mark.parametrize("path", ALL_DOCUMENTS, ids=relative_id)
def test_we_accept_a_document_exactly_when_the_schema_does(path: Path) -> None:
    # given a conformance document
    instance = load_json(path)
    # when the GS1 schema (less the documented departures) and we judge it
    schema_accepts, _ = _schema_verdict(instance)
    # then we agree
    assert _we_accept(instance) == schema_accepts


def test_each_documented_departure_is_needed_by_a_valid_conformance_document() -> None:
    # given every conformance document we accept
    used: set[str] = set()
    for path in ALL_DOCUMENTS:
        instance = load_json(path)
        if _we_accept(instance):
            used |= _schema_verdict(instance)[1]
    # then each departure from the schema is there because a valid document needs it
    assert used == DEPARTURES


# Without format assertions the schema accepts any string as a URI or date-time, so it accepts
# these invalid OpenEPCIS documents; we refuse them by the CBV rule (a bare word must be a CBV
# term), the namespace rule (an extension name needs a prefix) and RFC 3339.
ACCEPTED_BY_THE_PLAIN_SCHEMA = {
    "Combination_of_non_standard_bizStep_and_disposition.json",
    "ObjectEvent_with_ilmd_field_without_namespace.json",
    "ObjectEvent_with_invalid_eventTime_format.json",
    "ObjectEvent_with_non_standard_bizStep.json",
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json",
    "ObjectEvent_with_non_standard_disposition.json",
}


def test_the_invalid_documents_the_plain_schema_misses_are_the_cbv_namespace_and_time_cases() -> (
    None
):
    # given the invalid OpenEPCIS documents
    accepted = {
        path.name for path in INVALID_DOCUMENTS if _plain_validator().is_valid(load_json(path))
    }
    # then the plain schema lets exactly these through, and we refuse every one of them
    assert accepted == ACCEPTED_BY_THE_PLAIN_SCHEMA
    for path in INVALID_DOCUMENTS:
        assert not _we_accept(load_json(path))


# ---------------------------------------------------------------------------------------------
# Mutations: break one field of a valid event; the schema and we must both refuse it, and our
# issue must point at the broken field.

Mutation = Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Mutation:
    def mutate(event: dict[str, Any]) -> None:
        event[key] = value

    return mutate


def _drop(key: str) -> Mutation:
    def mutate(event: dict[str, Any]) -> None:
        event.pop(key, None)

    return mutate


def _duplicate_first_epc(event: dict[str, Any]) -> None:
    event["epcList"] = [event["epcList"][0], event["epcList"][0]]


_CLASS = "urn:epc:class:lgtin:4012345.012345.998877"
_ALL = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
_WITH_ACTION = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "AssociationEvent")

# name -> (event types it applies to, mutation, field our issue names)
MUTATIONS: dict[str, tuple[tuple[str, ...], Mutation, str]] = {
    "eventTime dropped": (_ALL, _drop("eventTime"), "eventTime"),
    "eventTime without offset": (_ALL, _set("eventTime", "2024-05-01T09:30:00"), "eventTime"),
    "eventTime as a date": (_ALL, _set("eventTime", "2024-05-01"), "eventTime"),
    "eventTime on 30 February": (_ALL, _set("eventTime", "2024-02-30T09:30:00Z"), "eventTime"),
    "eventTime as a number": (_ALL, _set("eventTime", 1714527000), "eventTime"),
    "offset dropped": (_ALL, _drop("eventTimeZoneOffset"), "eventTimeZoneOffset"),
    "offset +15:00": (_ALL, _set("eventTimeZoneOffset", "+15:00"), "eventTimeZoneOffset"),
    "offset without sign": (_ALL, _set("eventTimeZoneOffset", "08:00"), "eventTimeZoneOffset"),
    "offset minutes 60": (_ALL, _set("eventTimeZoneOffset", "+08:60"), "eventTimeZoneOffset"),
    "action CREATE": (_WITH_ACTION, _set("action", "CREATE"), "action"),
    "action lower case": (_WITH_ACTION, _set("action", "add"), "action"),
    "action dropped": (_WITH_ACTION, _drop("action"), "action"),
    "quantity as text": (
        ("ObjectEvent",),
        _set("quantityList", [{"epcClass": _CLASS, "quantity": "20"}]),
        "quantityList[0].quantity",
    ),
    "quantity as boolean": (
        ("ObjectEvent",),
        _set("quantityList", [{"epcClass": _CLASS, "quantity": True}]),
        "quantityList[0].quantity",
    ),
    "quantity element without epcClass": (
        ("ObjectEvent",),
        _set("quantityList", [{"quantity": 2}]),
        "quantityList[0].epcClass",
    ),
    "unknown field in a quantity element": (
        ("ObjectEvent",),
        _set("quantityList", [{"epcClass": _CLASS, "quantity": 2, "weight": 3}]),
        "quantityList[0].weight",
    ),
    "uom in lower case": (
        ("ObjectEvent",),
        _set("quantityList", [{"epcClass": _CLASS, "quantity": 2, "uom": "kg"}]),
        "quantityList[0].uom",
    ),
    "bizStep bare non-CBV word": (_ALL, _set("bizStep", "transforming"), "bizStep"),
    "bizStep 1.x URN": (_ALL, _set("bizStep", "urn:epcglobal:cbv:bizstep:shipping"), "bizStep"),
    "disposition bare non-CBV word": (_ALL, _set("disposition", "broken"), "disposition"),
    "readPoint without id": (_ALL, _set("readPoint", {}), "readPoint.id"),
    "readPoint id with spaces": (_ALL, _set("readPoint", {"id": "dock 4"}), "readPoint.id"),
    "bizLocation as a string": (
        _ALL,
        _set("bizLocation", "urn:epc:id:sgln:4012345.00001.0"),
        "bizLocation",
    ),
    "EPC that is not a URI": (("ObjectEvent",), _set("epcList", ["SN 0001"]), "epcList[0]"),
    "EPC listed twice": (("ObjectEvent",), _duplicate_first_epc, "epcList[1]"),
    "eventID that is not a URI": (_ALL, _set("eventID", "event 1"), "eventID"),
    "certificationInfo as a number": (_ALL, _set("certificationInfo", 5), "certificationInfo"),
    "errorDeclaration without declarationTime": (
        _ALL,
        _set("errorDeclaration", {"reason": "incorrect_data"}),
        "errorDeclaration.declarationTime",
    ),
    "errorDeclaration reason bare non-CBV word": (
        _ALL,
        _set("errorDeclaration", {"declarationTime": "2024-05-02T00:00:00Z", "reason": "oops"}),
        "errorDeclaration.reason",
    ),
    "persistentDisposition empty": (
        ("ObjectEvent", "TransformationEvent"),
        _set("persistentDisposition", {}),
        "persistentDisposition",
    ),
    "persistentDisposition set empty": (
        ("ObjectEvent", "TransformationEvent"),
        _set("persistentDisposition", {"set": []}),
        "persistentDisposition.set",
    ),
    "source without type": (
        _ALL,
        _set("sourceList", [{"source": "urn:epc:id:pgln:4012345.00001"}]),
        "sourceList[0].type",
    ),
    "destination type bare non-CBV word": (
        _ALL,
        _set("destinationList", [{"type": "warehouse", "destination": "urn:epc:id:pgln:1.2"}]),
        "destinationList[0].type",
    ),
    "bizTransaction without its URI": (
        _ALL,
        _set("bizTransactionList", [{"type": "po"}]),
        "bizTransactionList[0].bizTransaction",
    ),
    "extension field without a namespace": (_ALL, _set("lotNumber", "L1"), "lotNumber"),
    "ilmd field without a namespace": (
        ("TransformationEvent",),
        _set("ilmd", {"lotNumber": "L1"}),
        "ilmd.lotNumber",
    ),
    "empty sensorReport": (
        _ALL,
        _set("sensorElementList", [{"sensorReport": []}]),
        "sensorElementList[0].sensorReport",
    ),
    "sensor value as text": (
        _ALL,
        _set("sensorElementList", [{"sensorReport": [{"type": "Temperature", "value": "21"}]}]),
        "sensorElementList[0].sensorReport[0].value",
    ),
    "sensor alert type bare unknown word": (
        _ALL,
        _set(
            "sensorElementList", [{"sensorReport": [{"type": "Temperature", "exception": "HOT"}]}]
        ),
        "sensorElementList[0].sensorReport[0].exception",
    ),
    "TransactionEvent without bizTransactionList": (
        ("TransactionEvent",),
        _drop("bizTransactionList"),
        "bizTransactionList",
    ),
    "AssociationEvent without parentID": (("AssociationEvent",), _drop("parentID"), "parentID"),
    "AggregationEvent ADD without children": (
        ("AggregationEvent",),
        _set("childEPCs", []),
        "childEPCs",
    ),
    "type of another event's field": (("AggregationEvent",), _set("ilmd", {}), "ilmd"),
}


def _base_events() -> list[dict[str, Any]]:
    return [load_json(path) for path in CAPTURE_EVENTS]


def _cases() -> list[Any]:
    cases = []
    for name, (types, mutation, field) in MUTATIONS.items():
        for event in _base_events():
            if event["type"] in types:
                cases.append(pytest.param(event, mutation, field, id=f"{event['type']}: {name}"))
    return cases


def test_each_mutation_applies_to_some_base_event() -> None:
    types = {event["type"] for event in _base_events()}
    for name, (applies_to, _, _) in MUTATIONS.items():
        assert types & set(applies_to), name


@pytest.mark.parametrize(("event", "mutation", "field"), _cases())
def test_breaking_one_field_of_a_valid_event_is_refused_by_the_schema_and_by_us(
    event: dict[str, Any], mutation: Mutation, field: str
) -> None:
    # given a valid event in a valid document
    document = factories.document(copy.deepcopy(event))
    assert _validator().is_valid(document)
    assert _we_accept(document)
    # when one field is broken
    mutation(document["epcisBody"]["eventList"][0])
    # then the schema refuses the document, and so do we, naming that field
    assert not _validator().is_valid(document)
    with pytest.raises(EpcisValidationError) as caught:
        parse_document(document)
    assert (0, field) in {(issue.index, issue.field) for issue in caught.value.issues}


# ---------------------------------------------------------------------------------------------
# Property tests of the two patterns every event has.

_OFFSET_PATTERN = re.compile(
    _schema()["definitions"]["Event"]["properties"]["eventTimeZoneOffset"]["pattern"]
)


@given(st.one_of(st.from_regex(r"\A[+-]\d\d:\d\d\Z"), st.text(max_size=8)))
def test_our_offset_check_agrees_with_the_schema_pattern(text: str) -> None:
    issues: list[Any] = []
    ours = check_offset(text, "eventTimeZoneOffset", Sink(issues, 0)) is not None
    assert ours == (_OFFSET_PATTERN.search(text) is not None)


_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_OFFSETS),
    st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"]),
)
def test_any_rfc3339_date_time_is_read_as_the_same_instant_in_utc(
    moment: datetime, precision: str
) -> None:
    # given an RFC 3339 rendering of an instant, at any offset and precision
    text = moment.isoformat(timespec=precision)
    assert FormatChecker().conforms(text, "date-time")
    # when we read it
    issues: list[Any] = []
    parsed = check_date_time(text, "eventTime", Sink(issues, 0))
    # then it is that instant, in UTC
    assert issues == []
    assert parsed is not None and parsed.tzinfo is UTC
    assert parsed == datetime.fromisoformat(text)


@given(st.text(alphabet="0123456789-:T+Z.tz ", max_size=30))
def test_a_date_time_we_accept_is_one_the_schema_accepts(text: str) -> None:
    issues: list[Any] = []
    if check_date_time(text, "eventTime", Sink(issues, 0)) is not None:
        assert FormatChecker().conforms(text, "date-time")
