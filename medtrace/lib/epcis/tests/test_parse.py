"""parse_document / parse_event: the normalised Event the ledger stores, and how issues read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from medtrace.lib.epcis import (
    EpcisValidationError,
    ErrorDeclaration,
    Issue,
    QuantityElement,
    parse_document,
    parse_event,
)
from medtrace.lib.epcis.tests import factories
from medtrace.lib.epcis.tests.conftest import EPCIS_DIR, JSON_LD_EXAMPLES, load_json

_CLASS = "urn:epc:class:lgtin:4012345.012345.998877"


def _issues(data: object) -> list[Issue]:
    with pytest.raises(EpcisValidationError) as caught:
        parse_document(data)  # type: ignore[arg-type]
    return caught.value.issues


def _where(issues: list[Issue]) -> set[tuple[int | None, str]]:
    return {(issue.index, issue.field) for issue in issues}


def test_an_object_event_is_normalised_for_the_ledger() -> None:
    # given a commissioning event with every "why" list and lot master data
    raw = factories.object_event(
        eventID="urn:uuid:3b2c1f44-2c9e-4b53-9f7e-1a6f0f1d2e3f",
        quantityList=[{"epcClass": _CLASS, "quantity": 2.5, "uom": "KGM"}],
        bizLocation={"id": "urn:epc:id:sgln:9506000.00001.0"},
        bizTransactionList=[{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:1:PO-1"}],
        sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:9506000.00001"}],
        destinationList=[{"type": "location", "destination": "urn:epc:id:sgln:1.2.0"}],
        ilmd={"example:lot": "L1", "example:expiry": "2027-05-01"},
        certificationInfo="https://cert.example.org/c/1",
    )
    # when the document is parsed
    event = parse_document(factories.document(raw)).events[0]
    # then the fields are typed and normalised, and the raw JSON is the one we sent
    assert event.type == "ObjectEvent"
    assert event.action == "ADD"
    assert event.event_id == "urn:uuid:3b2c1f44-2c9e-4b53-9f7e-1a6f0f1d2e3f"
    assert event.event_time == datetime(2024, 5, 1, 1, 30, tzinfo=UTC)
    assert event.event_time.tzinfo is UTC
    assert event.event_time_zone_offset == "+08:00"
    assert (event.biz_step, event.disposition) == ("commissioning", "active")
    assert event.read_point == "urn:epc:id:sgln:9506000.00001.0"
    assert event.biz_location == "urn:epc:id:sgln:9506000.00001.0"
    assert event.epc_list == ("https://id.gs1.org/01/09506000134352/21/SN0001",)
    assert event.quantities == (QuantityElement("quantity", _CLASS, Decimal("2.5"), "KGM"),)
    assert event.biz_transactions == (("po", "urn:epcglobal:cbv:bt:1:PO-1"),)
    assert event.sources == (("owning_party", "urn:epc:id:pgln:9506000.00001"),)
    assert event.destinations == (("location", "urn:epc:id:sgln:1.2.0"),)
    assert event.ilmd == {"example:lot": "L1", "example:expiry": "2027-05-01"}
    assert event.certification_info == "https://cert.example.org/c/1"
    assert event.raw is raw
    assert (event.parent_id, event.transformation_id, event.error_declaration) == (None,) * 3


def test_cbv_web_uris_and_curies_are_stored_as_bare_terms_and_private_uris_unchanged() -> None:
    # given CBV terms spelled as Web URI and as cbv: CURIE, and a private business step
    events = [
        factories.object_event(
            bizStep="https://ref.gs1.org/cbv/BizStep-shipping", disposition="cbv:Disp-in_transit"
        ),
        factories.object_event(bizStep="https://example.com/bizStep/sterilising"),
    ]
    # when parsed
    parsed = parse_document(factories.document(*events)).events
    # then CBV terms are stored bare and the private URI as sent
    assert (parsed[0].biz_step, parsed[0].disposition) == ("shipping", "in_transit")
    assert parsed[1].biz_step == "https://example.com/bizStep/sterilising"


def test_a_cbv_namespace_uri_that_names_no_cbv_term_is_refused_with_a_suggestion() -> None:
    issues = _issues(
        factories.document(
            factories.object_event(bizStep="https://ref.gs1.org/cbv/BizStep-shiping")
        )
    )
    assert _where(issues) == {(0, "bizStep")}
    assert "did you mean 'shipping'?" in issues[0].message


def test_an_epcis_1x_cbv_urn_is_refused_with_the_bare_term_to_write_instead() -> None:
    issues = _issues(
        factories.document(factories.object_event(disposition="urn:epcglobal:cbv:disp:active"))
    )
    assert _where(issues) == {(0, "disposition")}
    assert "write the bare term 'active'" in issues[0].message


def test_transformation_quantities_keep_their_role_and_exact_decimal_value() -> None:
    # given a transformation with class-level inputs and outputs
    raw = factories.transformation_event(
        inputQuantityList=[{"epcClass": _CLASS, "quantity": 0.1, "uom": "KGM"}],
        outputQuantityList=[{"epcClass": _CLASS, "quantity": 3}, {"epcClass": _CLASS}],
        transformationID="urn:epc:id:gdti:0614141.12345.400",
    )
    # when parsed
    event = parse_document(factories.document(raw)).events[0]
    # then each element says which list it came from, and 0.1 stays exactly 0.1
    assert event.action is None
    assert event.input_epcs == ("urn:epc:id:sgtin:9506000.134352.IN1",)
    assert event.output_epcs == ("urn:epc:id:sgtin:9506000.134353.OUT1",)
    assert event.quantities == (
        QuantityElement("input", _CLASS, Decimal("0.1"), "KGM"),
        QuantityElement("output", _CLASS, Decimal(3), None),
        QuantityElement("output", _CLASS, None, None),
    )
    assert event.transformation_id == "urn:epc:id:gdti:0614141.12345.400"


def test_aggregation_children_and_parent_are_read() -> None:
    raw = factories.aggregation_event(
        childQuantityList=[{"epcClass": _CLASS, "quantity": 10, "uom": "EA"}]
    )
    event = parse_document(factories.document(raw)).events[0]
    assert event.parent_id == "urn:epc:id:sscc:9506000.0000000001"
    assert event.child_epcs == ("https://id.gs1.org/01/09506000134352/21/SN0001",)
    assert event.quantities == (QuantityElement("child", _CLASS, Decimal(10), "EA"),)


def test_an_aggregation_delete_may_name_only_the_parent() -> None:
    raw = factories.without(factories.aggregation_event(action="DELETE"), "childEPCs")
    assert parse_document(factories.document(raw)).events[0].child_epcs == ()


def test_an_error_declaration_is_read_from_the_gs1_example() -> None:
    # given GS1's example of an event declared in error
    path = EPCIS_DIR / "examples/json-ld/WithErrorDeclaration"
    path = path / "Example_9.6.1-ObjectEvent-with-error-declaration.jsonld"
    # when parsed
    event = parse_document(path.read_bytes()).events[0]
    # then the declaration is typed
    assert event.error_declaration == ErrorDeclaration(
        declaration_time=datetime(2021, 2, 1, 22, 46, 31, 117000, tzinfo=UTC),
        reason="incorrect_data",
        corrective_event_ids=(
            "ni:///sha-256;c6407ffcac52ec159528f2b556ba4ac3844c5aa48485c1fd61643e94f0a2d678"
            "?ver=CBV2.0",
            "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        ),
    )
    assert event.event_time == datetime(2005, 4, 4, 2, 33, 31, 116000, tzinfo=UTC)


def test_persistent_disposition_values_are_normalised() -> None:
    raw = factories.object_event(
        persistentDisposition={
            "set": ["https://ref.gs1.org/cbv/Disp-completeness_verified"],
            "unset": ["completeness_inferred"],
        }
    )
    event = parse_document(factories.document(raw)).events[0]
    assert event.persistent_disposition == {
        "set": ["completeness_verified"],
        "unset": ["completeness_inferred"],
    }


def test_every_issue_in_every_event_is_reported_not_just_the_first() -> None:
    # given three events, two of them broken in several ways
    document = factories.document(
        factories.object_event(action="CREATE", eventTimeZoneOffset="+8"),
        factories.object_event(),
        factories.object_event(bizStep="transforming", epcList=["not a uri"]),
    )
    # when parsed, then all four problems are reported with their event and field
    issues = _issues(document)
    assert _where(issues) == {
        (0, "action"),
        (0, "eventTimeZoneOffset"),
        (2, "bizStep"),
        (2, "epcList[0]"),
    }


def test_the_error_message_summarises_the_first_issues_and_counts_the_rest() -> None:
    # given seven events without an action
    document = factories.document(*[factories.without(factories.object_event(), "action")] * 7)
    # when parsed
    with pytest.raises(EpcisValidationError) as caught:
        parse_document(document)
    # then the message counts them all and spells out five
    text = str(caught.value)
    assert text.startswith("7 EPCIS validation issues: event 0, action: action is required")
    assert "event 4, action" in text
    assert "event 5, action" not in text
    assert text.endswith("and 2 more issues")


def test_a_document_without_type_is_accepted_when_it_carries_an_event_list() -> None:
    document = factories.without(factories.document(factories.object_event()), "type")
    assert len(parse_document(document).events) == 1


def test_a_document_without_type_or_event_list_is_refused() -> None:
    document = factories.without(factories.document(), "type", "epcisBody")
    assert _where(_issues(document)) == {(None, "type"), (None, "epcisBody")}


def test_a_query_document_is_read_and_says_it_is_one() -> None:
    # given GS1's query-result example (not a capture)
    path = next(p for p in JSON_LD_EXAMPLES if p.name == "EPCISQueryDocument.jsonld")
    # when parsed, then its events are read and its type tells the capture interface to refuse it
    parsed = parse_document(path.read_bytes())
    assert parsed.type == "EPCISQueryDocument"
    assert len(parsed.events) == 2


def test_a_capture_document_says_it_is_one_and_keeps_header_and_context() -> None:
    header: dict[str, Any] = {"epcisMasterData": {"vocabularyList": []}}
    document = factories.document(factories.object_event(), epcisHeader=header)
    parsed = parse_document(json.dumps(document))
    assert parsed.type == "EPCISDocument"
    assert parsed.header == header
    assert parsed.context == document["@context"]
    assert parsed.schema_version == "2.0"
    assert parsed.creation_date == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_text_that_is_not_json_is_refused_with_the_position() -> None:
    issues = _issues(b'{"type": "EPCISDocument",\n "epcisBody": }')
    assert len(issues) == 1
    assert issues[0].index is None
    assert "not valid JSON" in issues[0].message and "line 2" in issues[0].message


def test_a_json_value_that_is_not_an_object_is_refused() -> None:
    assert _issues("[1, 2]")[0].message == "expected an EPCISDocument object, got an array"


def test_any_mapping_is_accepted_as_a_document() -> None:
    document = MappingProxyType(factories.document(factories.object_event()))
    assert len(parse_document(document).events) == 1


def test_the_raw_events_round_trip_unchanged() -> None:
    # given every GS1 JSON-LD example
    for path in JSON_LD_EXAMPLES:
        original = load_json(path)
        body = original["epcisBody"]
        events = body.get("eventList") or body["queryResults"]["resultsBody"]["eventList"]
        # when parsed from bytes, then the raw events are equal to what was sent
        parsed = parse_document(path.read_bytes())
        assert [event.raw for event in parsed.events] == events, path.name


def test_an_event_sent_on_its_own_needs_its_own_context() -> None:
    # given an event without @context, as POST /events might receive it
    raw = factories.object_event()
    # when parsed on its own, then @context is asked for
    with pytest.raises(EpcisValidationError) as caught:
        parse_event(raw)
    assert _where(caught.value.issues) == {(0, "@context")}
    # and with its context it is accepted
    assert parse_event({"@context": factories.STANDARD_CONTEXT, **raw}).type == "ObjectEvent"


def test_an_event_read_with_the_documents_namespaces_may_use_them() -> None:
    raw = factories.object_event(**{"example:lot": "L1"})
    event = parse_event(raw, index=4, namespaces={"example": factories.EXAMPLE_NAMESPACE})
    assert event.index == 4
    with pytest.raises(EpcisValidationError) as caught:
        parse_event(raw, index=4, namespaces={})
    assert _where(caught.value.issues) == {(4, "example:lot")}


def test_an_unknown_event_type_is_refused_naming_the_five_types() -> None:
    issues = _issues(factories.document(factories.object_event(type="example:ServiceEvent")))
    assert _where(issues) == {(0, "type")}
    assert "ObjectEvent, AggregationEvent, TransformationEvent" in issues[0].message


def test_a_field_of_another_event_type_is_refused() -> None:
    issues = _issues(factories.document(factories.object_event(childEPCs=[])))
    assert _where(issues) == {(0, "childEPCs")}
    assert issues[0].message == "childEPCs is not a field of an ObjectEvent"


def test_the_json_ld_id_alias_serves_as_event_id() -> None:
    # given an event identified by "id" (the EPCIS context aliases it to @id, like eventID)
    raw = factories.object_event(id="urn:uuid:0b0c7f7e-0000-4000-8000-000000000001")
    assert parse_document(factories.document(raw)).events[0].event_id == raw["id"]
    # but an id that contradicts eventID is refused
    raw = factories.object_event(id="urn:uuid:1", eventID="urn:uuid:2")
    assert _where(_issues(factories.document(raw))) == {(0, "id")}


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-05-01t09:30:00z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),
        ("2024-05-01T09:30:00.123456789-06:00", datetime(2024, 5, 1, 15, 30, 0, 123456, UTC)),
        ("2024-05-01T09:30:00+14:00", datetime(2024, 4, 30, 19, 30, tzinfo=UTC)),
    ],
)
def test_rfc3339_variants_are_read_as_utc(text: str, utc: datetime) -> None:
    raw = factories.object_event(eventTime=text)
    assert parse_document(factories.document(raw)).events[0].event_time == utc


def test_ilmd_is_refused_on_an_object_event_that_does_not_add() -> None:
    raw = factories.object_event(action="OBSERVE", ilmd={"example:lot": "L1"})
    assert _where(_issues(factories.document(raw))) == {(0, "ilmd")}


def test_an_object_event_with_only_sensor_data_needs_a_read_point() -> None:
    # given an ObjectEvent that reports a temperature and names no object
    sensors = [{"sensorReport": [{"type": "Temperature", "value": 4.5, "uom": "CEL"}]}]
    raw = factories.without(factories.object_event(sensorElementList=sensors), "epcList")
    # then it is accepted with a read point, refused without
    assert parse_document(factories.document(raw)).events[0].sensor_element_list == sensors
    issues = _issues(factories.document(factories.without(raw, "readPoint")))
    assert _where(issues) == {(0, "epcList")}


def test_master_data_in_the_header_is_checked() -> None:
    header: dict[str, Any] = {
        "epcisMasterData": {"vocabularyList": [{"vocabularyElementList": [{}]}]}
    }
    issues = _issues(factories.document(factories.object_event(), epcisHeader=header))
    assert _where(issues) == {
        (None, "epcisHeader.epcisMasterData.vocabularyList[0].type"),
        (None, "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].id"),
    }
