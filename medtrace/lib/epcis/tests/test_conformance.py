"""The GS1 and OpenEPCIS conformance documents: every valid one is accepted, every invalid one
is refused with issues that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from medtrace.lib.epcis import EpcisValidationError, parse_document, parse_event
from medtrace.lib.epcis.tests.conftest import (
    CAPTURE_DOCUMENTS,
    CAPTURE_EVENTS,
    INVALID_DOCUMENTS,
    JSON_LD_EXAMPLES,
    SIMPLE_CONTEXT_DIR,
    SIMPLE_CONTEXT_EXAMPLES,
    load_json,
    relative_id,
)


def _event_count(document: dict) -> int:
    body = document["epcisBody"]
    if "queryResults" in body:
        return len(body["queryResults"]["resultsBody"]["eventList"])
    return len(body["eventList"])


def _assert_parses(path: Path) -> None:
    # given a valid document from the conformance material
    data = path.read_bytes()
    # when we parse it
    parsed = parse_document(data)
    # then every event comes back, in order, with its raw JSON kept
    expected = load_json(path)
    assert len(parsed.events) == _event_count(expected)
    assert [event.index for event in parsed.events] == list(range(len(parsed.events)))
    assert all(event.event_time.tzinfo is not None for event in parsed.events)


@pytest.mark.parametrize("path", JSON_LD_EXAMPLES, ids=relative_id)
def test_every_gs1_json_ld_example_is_accepted(path: Path) -> None:
    _assert_parses(path)


@pytest.mark.parametrize("path", CAPTURE_DOCUMENTS, ids=relative_id)
def test_every_openepcis_capture_document_is_accepted(path: Path) -> None:
    _assert_parses(path)


# SOURCE.md: the GS1 JSON Schema rejects these four simple-context examples; so do we, for the
# same reasons (index, field).
SIMPLE_CONTEXT_REJECTED = {
    "Example-TransactionEvents-2020_07_03y.jsonld": {(1, "sourceList"), (1, "destinationList")},
    # ilmd on an ObjectEvent whose action is OBSERVE: ilmd belongs to ADD only.
    "WithFullCombinationOfFields/object_event_all_possible_fields.jsonld": {(0, "ilmd")},
    "WithSensorData/SensorDataExample12.jsonld": {
        (None, "schemaVersion"),
        (None, "creationDate"),
    },
    # "schemaVersion": 2.0 is a number, not a string.
    "WithSensorData/SensorDataExample17.jsonld": {(None, "schemaVersion")},
}


def _simple_name(path: Path) -> str:
    return path.relative_to(SIMPLE_CONTEXT_DIR).as_posix()


@pytest.mark.parametrize(
    "path",
    [p for p in SIMPLE_CONTEXT_EXAMPLES if _simple_name(p) not in SIMPLE_CONTEXT_REJECTED],
    ids=relative_id,
)
def test_every_simple_context_example_the_schema_accepts_is_accepted(path: Path) -> None:
    _assert_parses(path)


@pytest.mark.parametrize("name", sorted(SIMPLE_CONTEXT_REJECTED))
def test_the_simple_context_examples_the_schema_rejects_are_rejected(name: str) -> None:
    # given one of the four simple-context examples the GS1 schema rejects
    data = (SIMPLE_CONTEXT_DIR / name).read_bytes()
    # when we parse it, then it is refused at the fields the schema objects to
    with pytest.raises(EpcisValidationError) as caught:
        parse_document(data)
    assert {(issue.index, issue.field) for issue in caught.value.issues} == (
        SIMPLE_CONTEXT_REJECTED[name]
    )


def test_the_simple_context_list_names_real_files() -> None:
    names = {_simple_name(path) for path in SIMPLE_CONTEXT_EXAMPLES}
    assert set(SIMPLE_CONTEXT_REJECTED) <= names
    assert len(names) == 46


@pytest.mark.parametrize("path", CAPTURE_EVENTS, ids=relative_id)
def test_every_openepcis_bare_event_is_accepted_by_parse_event(path: Path) -> None:
    # given a bare event as POST /events receives it
    raw = load_json(path)
    # when we parse it on its own
    event = parse_event(raw)
    # then it keeps its type and raw JSON
    assert event.type == raw["type"]
    assert event.raw is raw


# Each invalid OpenEPCIS document, with every (event index, field) we must report and a word the
# message must contain.
INVALID_EXPECTATIONS: dict[str, dict[tuple[int | None, str], str]] = {
    "Combination_of_events_with_missing_mandatory_fields.json": {
        (0, "action"): "required",
        (1, "eventTimeZoneOffset"): "required",
        (1, "action"): "required",
    },
    "Combination_of_multiple_invalid_fields.json": {
        (0, "bizStep"): "not a CBV 2.0 business step",
        (1, "disposition"): "not a CBV 2.0 disposition",
        (2, "sourceList[0].type"): "not a CBV 2.0 source/destination type",
        (3, "ilmd.materialType"): "without a namespace",
        (4, "eventTime"): "not an RFC 3339 date-time",
        (4, "action"): "not an action",
    },
    "Combination_of_non_standard_bizStep_and_disposition.json": {
        (0, "bizStep"): "'transforming' is not a CBV 2.0 business step",
        (1, "disposition"): "'in_transport' is not a CBV 2.0 disposition",
    },
    "EPCISDocument_without_context.json": {(None, "@context"): "@context is required"},
    "ObjectEvent_with_ilmd_field_without_namespace.json": {
        (0, "ilmd.materialType"): "extension field without a namespace",
    },
    "ObjectEvent_with_invalid_action.json": {(0, "action"): "'CREATE' is not an action"},
    "ObjectEvent_with_invalid_certificationInfo.json": {
        (0, "certificationInfo[0]"): "certificate URI",
        (0, "certificationInfo[1]"): "certificate URI",
    },
    "ObjectEvent_with_invalid_eventTime_format.json": {
        (0, "eventTime"): "'22-07-2026' is not an RFC 3339 date-time",
    },
    "ObjectEvent_with_non_standard_bizStep.json": {
        (0, "bizStep"): "'transforming' is not a CBV 2.0 business step",
    },
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json": {
        (1, "bizStep"): "'transforming' is not a CBV 2.0 business step",
    },
    "ObjectEvent_with_non_standard_disposition.json": {
        (0, "disposition"): "'in_transport' is not a CBV 2.0 disposition",
    },
    "ObjectEvent_with_quantity_as_text.json": {
        (0, "quantityList[0].quantity"): "'twenty' is not a number",
    },
    "ObjectEvent_with_unknown_field_in_quantityList.json": {
        (0, "quantityList[0].weight"): "unknown field 'weight'",
    },
    "ObjectEvent_without_action_and_eventTime.json": {
        (0, "eventTime"): "eventTime is required",
        (0, "eventTimeZoneOffset"): "eventTimeZoneOffset is required",
        (0, "action"): "action is required",
    },
    "ObjectEvent_without_identifier_list.json": {
        (0, "epcList"): "needs epcList, or quantityList",
    },
}


def test_every_invalid_openepcis_document_has_expectations() -> None:
    assert {path.name for path in INVALID_DOCUMENTS} == set(INVALID_EXPECTATIONS)


@pytest.mark.parametrize("path", INVALID_DOCUMENTS, ids=relative_id)
def test_every_invalid_openepcis_document_is_refused_naming_the_problem(path: Path) -> None:
    # given an OpenEPCIS document a repository must reject
    expected = INVALID_EXPECTATIONS[path.name]
    # when we parse it
    with pytest.raises(EpcisValidationError) as caught:
        parse_document(path.read_bytes())
    # then every problem is reported, at its event and field, and nothing else
    issues = {(issue.index, issue.field): issue.message for issue in caught.value.issues}
    assert set(issues) == set(expected)
    for where, words in expected.items():
        assert words in issues[where]
