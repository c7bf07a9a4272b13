"""GET /epcis/events: every SimpleEventQuery parameter family, over events captured for real."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.ledger.tests import builders as b
from medtrace.masterdata.tests import factories

from .test_epcis_query_support import (
    EXAMPLE_NS,
    capture,
    epcis_client,
    events_of,
    get,
    ids_of,
    problem_of,
)

PARAMETER = "epcisException:QueryParameterException"


def eid(n: int) -> str:
    return f"urn:uuid:00000000-0000-4000-8000-{n:012d}"


COMMISSIONED, SHIPPED, PACKED, MADE, SENSED, SOLD, INSTALLED, MISTAKEN, CORRECTED = (
    eid(n) for n in range(1, 10)
)
ALL = [COMMISSIONED, SHIPPED, PACKED, MADE, SENSED, SOLD, INSTALLED, MISTAKEN, CORRECTED]
SENSOR_ELEMENT = {
    "sensorMetadata": {
        "time": "2025-01-05T07:00:00Z",
        "startTime": "2025-01-05T06:00:00Z",
        "endTime": "2025-01-05T07:00:00Z",
        "deviceID": "urn:epc:id:giai:6901234.SENSOR1",
        "deviceMetadata": "https://id.example.com/device/1",
        "rawData": "https://id.example.com/raw/1",
        "bizRules": "https://id.example.com/rules/1",
        "example:calibrated": "2024-06-01T00:00:00Z",
    },
    "sensorReport": [
        {
            "type": "Temperature",
            "value": 25,
            "uom": "CEL",
            "minValue": 20,
            "maxValue": 30,
            "meanValue": 25.5,
            "sDev": 0.5,
            "percRank": 50,
            "percValue": 24,
            "example:probe": "P1",
        },
        {
            "type": "example:Turbidity",
            "stringValue": "clear",
            "booleanValue": True,
            "hexBinaryValue": "A1B2",
            "uriValue": "https://id.example.com/u/1",
            "microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1919",
            "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN",
            "deviceID": "urn:epc:id:giai:6901234.SENSOR2",
            "dataProcessingMethod": "https://id.example.com/method/2",
            "time": "2025-01-05T07:30:00Z",
            "example:extra": {"example:level": 4},
        },
    ],
    "example:site": "lab-3",
}


def _events() -> list[dict[str, Any]]:
    return [
        b.commission(
            [b.sgtin("1"), b.sgtin("2")], time="2025-01-01T08:00:00+08:00", eventID=COMMISSIONED,
            bizLocation={"id": b.sgln("1")},
            ilmd={"cbvmda:lotNumber": "LOT1", "example:grade": 7,
                  "example:madeOn": "2024-12-31T10:00:00Z",
                  "example:spec": {"example:rev": "B"}},
        ),
        b.observe(
            [b.sgtin("1")], "2025-01-02T08:00:00+08:00", eventID=SHIPPED,
            bizStep="shipping", disposition="in_transit",
            readPoint={"id": b.sgln("7"), "example:dock": "D4"},
            bizLocation={"id": b.sgln("2", "5")},
            bizTransactionList=[{"type": "po",
                                 "bizTransaction": "urn:epcglobal:cbv:bt:6901234000004:PO-1"}],
            sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:6901234.00000"}],
            destinationList=[{"type": "owning_party",
                              "destination": "urn:epc:id:pgln:6901235.00000"}],
            persistentDisposition={"set": ["completeness_verified"],
                                   "unset": ["completeness_inferred"]},
            **{"example:temp": 5, "example:note": "fragile",
               "example:when": "2025-01-02T00:00:00Z", "example:box": {"example:depth": 3}},
        ),
        b.aggregate(
            b.sscc("1"), [b.sgtin("1"), b.sgtin("2")], "2025-01-03T08:00:00+08:00",
            eventID=PACKED,
            childQuantityList=[{"epcClass": b.lgtin("LOT9"), "quantity": 10, "uom": "KGM"}],
        ),
        b.transform(
            [b.sgtin("2")], [b.sgtin("3", item="020002")], "2025-01-04T08:00:00+08:00",
            input_classes=[b.lgtin("LOTA")], eventID=MADE, transformationID="urn:uuid:tx-1",
            outputQuantityList=[{"epcClass": "urn:epc:idpat:sgtin:6901234.020002.*",
                                 "quantity": 2500, "uom": "GRM"}],
        ),
        b.observe([b.sgtin("4")], "2025-01-05T08:00:00+08:00", eventID=SENSED,
                  sensorElementList=[SENSOR_ELEMENT]),
        b._base(
            "TransactionEvent", "2025-01-06T08:00:00+08:00", eventID=SOLD, action="ADD",
            epcList=[b.sgtin("5")], quantityList=[{"epcClass": b.lgtin("LOT2"), "quantity": 3}],
            bizTransactionList=[{"type": "inv",
                                 "bizTransaction": "urn:epcglobal:cbv:bt:6901234000004:INV-9"}],
        ),
        b.associate(b.sgtin("8"), [b.sgtin("9")], "2025-01-07T08:00:00+08:00", eventID=INSTALLED),
        b.observe([b.sgtin("1")], "2025-01-08T08:00:00+08:00", eventID=MISTAKEN,
                  bizStep="inspecting", disposition="non_conformant"),
        b.observe([b.sgtin("1")], "2025-01-09T08:00:00+08:00", eventID=CORRECTED,
                  bizStep="inspecting", disposition="conformant"),
    ]  # fmt: skip


def _declaration() -> dict[str, Any]:
    mistaken = _events()[7]
    return dict(mistaken, errorDeclaration={
        "declarationTime": "2025-01-10T00:00:00Z", "reason": "incorrect_data",
        "correctiveEventIDs": [CORRECTED], "example:ticket": "T-77",
    })  # fmt: skip


@pytest.fixture
def ledger(qa_manager: Any) -> Any:
    """The nine events above, then an errorDeclaration for MISTAKEN; returns a query client."""
    capture(*_events(), user=qa_manager)
    capture(_declaration(), user=qa_manager)
    return epcis_client(qa_manager)


def ids(client: Any, **params: Any) -> set[str]:
    return set(ids_of(get(client, **params)))


# -- what, when, why -------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_parameters_every_event_is_returned_as_an_epcis_query_document(ledger):
    # When all events are queried
    response = get(ledger)
    # Then the answer is an EPCISQueryDocument with the standard context and the GS1 headers
    body = response.json()
    assert response["Content-Type"] == "application/ld+json"
    assert response["GS1-EPCIS-Version"] == "2.0.0"
    assert body["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert body["@context"][1] == {"example": EXAMPLE_NS}
    assert body["schemaVersion"] == "2.0" and body["creationDate"]
    assert body["epcisBody"]["queryResults"]["queryName"] == "SimpleEventQuery"
    assert ids_of(response) == ALL


@pytest.mark.django_db
def test_event_type_selects_the_named_types(ledger):
    assert ids(ledger, eventType="AggregationEvent|TransformationEvent") == {PACKED, MADE}
    assert ids(ledger, eventType=["TransactionEvent", "AssociationEvent"]) == {SOLD, INSTALLED}
    assert ids(ledger, eventType="https://example.org/MyEvent") == set()


@pytest.mark.django_db
def test_event_time_bounds_compare_instants_across_utc_offsets(ledger):
    # 2025-01-02T08:00+08:00 is 2025-01-02T00:00Z
    assert ids(
        ledger,
        GE_eventTime="2025-01-02T00:00:00Z",
        LT_eventTime="2025-01-03T00:00:00Z",
    ) == {SHIPPED}
    assert ids(
        ledger, GE_eventTime="2025-01-01T19:00:00-05:00", LT_eventTime="2025-01-03T00:00:00.001Z"
    ) == {SHIPPED, PACKED}


@pytest.mark.django_db
def test_record_time_bounds_select_by_when_the_repository_recorded_the_event(ledger, qa_manager):
    # Given one more event recorded after a mark
    body = get(ledger).json()
    mark = max(
        e["recordTime"] for e in body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    )
    capture(b.observe([b.sgtin("77")], "2024-01-01T00:00:00Z", eventID=eid(77)), user=qa_manager)
    # Then GE_recordTime after the mark finds only it; LT_recordTime at the mark excludes it
    assert ids(ledger, GE_recordTime=mark) == {eid(77)} | {MISTAKEN}
    assert eid(77) not in ids(ledger, LT_recordTime=mark)


@pytest.mark.django_db
def test_eq_action_accepts_the_three_actions_only(ledger):
    assert ids(ledger, EQ_action="DELETE") == set()
    assert ids(ledger, EQ_action="ADD", eventType="ObjectEvent") == {COMMISSIONED}
    body = problem_of(get(ledger, EQ_action="CREATE"), 400, PARAMETER)
    assert body["parameter"] == "EQ_action" and "ADD, OBSERVE or DELETE" in body["title"]


@pytest.mark.django_db
def test_eq_biz_step_and_disposition_accept_any_cbv_spelling(ledger):
    for spelling in (
        "shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "cbv:BizStep-shipping",
    ):
        assert ids(ledger, EQ_bizStep=spelling) == {SHIPPED}
    assert ids(ledger, EQ_disposition="urn:epcglobal:cbv:disp:conformant|in_transit") == {
        SHIPPED,
        CORRECTED,
    }
    body = problem_of(get(ledger, EQ_bizStep="teleporting"), 400, PARAMETER)
    assert "teleporting" in body["title"] and body["parameter"] == "EQ_bizStep"


@pytest.mark.django_db
def test_persistent_disposition_set_and_unset_match_any_spelling(ledger):
    assert ids(ledger, EQ_persistentDisposition_set="completeness_verified") == {SHIPPED}
    assert ids(
        ledger,
        EQ_persistentDisposition_unset=("https://ref.gs1.org/cbv/Disp-completeness_inferred"),
    ) == {SHIPPED}
    assert ids(ledger, EQ_persistentDisposition_set="completeness_inferred") == set()


@pytest.mark.django_db
def test_eq_read_point_and_biz_location_accept_epc_urns_and_digital_links(ledger):
    assert ids(ledger, EQ_readPoint=b.sgln("7")) == {SHIPPED}
    assert ids(ledger, EQ_bizLocation=b.sgln("2", "5")) == {SHIPPED}
    # The same SGLN as a GS1 Digital Link URI (AI 414 + 254)
    assert ids(ledger, EQ_bizLocation="https://id.gs1.org/414/6901234000023/254/5") == {SHIPPED}


@pytest.mark.django_db
def test_wd_biz_location_includes_every_location_inside_it_by_master_data(ledger, qa_manager):
    # Given master data: a site with a warehouse inside, a bin inside that
    owner = factories.party(prefix="6901234")
    site = factories.location(owner=owner, kind="site", ref=50)
    warehouse = factories.location(owner=owner, kind="warehouse", ref=51, parent_id=site.pk)
    bin_ = factories.location(owner=owner, kind="bin", ref=52, parent_id=warehouse.pk)
    capture(
        b.observe(
            [b.sgtin("60")],
            "2025-02-01T00:00:00Z",
            eventID=eid(60),
            bizLocation={"id": bin_.sgln},
            readPoint={"id": warehouse.sgln},
        ),
        user=qa_manager,
    )
    # Then the site "with descendants" finds the event in the bin; EQ_ on the site does not
    assert ids(ledger, WD_bizLocation=site.sgln) == {eid(60)}
    assert ids(ledger, EQ_bizLocation=site.sgln) == set()
    assert ids(ledger, WD_readPoint=site.sgln) == {eid(60)}
    assert ids(ledger, WD_bizLocation=bin_.sgln) == {eid(60)}


@pytest.mark.django_db
def test_eq_transformation_id_selects_the_transformation(ledger):
    assert ids(ledger, EQ_transformationID="urn:uuid:tx-1") == {MADE}


@pytest.mark.django_db
def test_match_epc_parameters_look_in_their_own_lists(ledger):
    sgtin2 = b.sgtin("2")
    assert ids(ledger, MATCH_epc=sgtin2) == {COMMISSIONED, PACKED}
    assert ids(ledger, MATCH_parentID=b.sscc("1")) == {PACKED}
    assert ids(ledger, MATCH_inputEPC=sgtin2) == {MADE}
    assert ids(ledger, MATCH_outputEPC=b.sgtin("3", item="020002")) == {MADE}
    assert ids(ledger, MATCH_anyEPC=sgtin2) == {COMMISSIONED, PACKED, MADE}
    assert ids(ledger, MATCH_anyEPC=b.sgtin("8")) == {INSTALLED}


@pytest.mark.django_db
def test_match_epc_takes_epc_patterns_and_digital_link_uris(ledger):
    # An EPC pattern covers every serial of the product (EPCIS 2.0 §8.2.7.1.1)
    assert ids(ledger, MATCH_epc="urn:epc:idpat:sgtin:6901234.010001.*") == set(ALL) - {MADE}
    assert ids(ledger, MATCH_anyEPC="urn:epc:idpat:sgtin:6901234.020002.*") == {MADE}
    assert ids(ledger, MATCH_anyEPC="urn:epc:idpat:sgtin:6901234.*.*") == set(ALL)
    # A Digital Link URI names the same unit as its EPC URN
    assert ids(ledger, MATCH_epc="https://id.gs1.org/01/06901234100013/21/4") == {SENSED}
    body = problem_of(get(ledger, MATCH_epc="urn:epc:idpat:sgtin:6901234.*.5"), 400, PARAMETER)
    assert "every following field must be '*'" in body["title"]


@pytest.mark.django_db
def test_match_epc_class_parameters_take_classes_and_product_patterns(ledger):
    assert ids(ledger, MATCH_epcClass=b.lgtin("LOT9")) == {PACKED}
    assert ids(ledger, MATCH_epcClass=b.lgtin("LOT2")) == {SOLD}
    assert ids(ledger, MATCH_inputEPCClass=b.lgtin("LOTA")) == {MADE}
    assert ids(ledger, MATCH_outputEPCClass="urn:epc:idpat:sgtin:6901234.020002.*") == {MADE}
    # A product pattern covers its lots (LGTIN) and the product class itself
    assert ids(ledger, MATCH_anyEPCClass="urn:epc:idpat:sgtin:6901234.030001.*") == {
        PACKED,
        MADE,
        SOLD,
    }
    assert ids(ledger, MATCH_epcClass="https://id.gs1.org/01/06901234300017/10/LOT9") == {PACKED}


@pytest.mark.django_db
def test_quantity_comparisons_and_units_of_measure(ledger):
    assert ids(ledger, EQ_quantity="3") == {SOLD}
    assert ids(ledger, GT_quantity="10") == {MADE}
    assert ids(ledger, GE_quantity="10") == {PACKED, MADE}
    assert ids(ledger, LT_quantity="3") == {MADE}  # its input lot is 1 EA
    assert ids(ledger, LE_quantity="3") == {MADE, SOLD}
    # 10 KGM is 10000 GRM; 2500 GRM is 2.5 KGM
    assert ids(ledger, EQ_quantity_GRM="10000") == {PACKED}
    assert ids(ledger, GE_quantity_KGM="2.5") == {PACKED, MADE}
    assert ids(ledger, GT_quantity_KGM="2.5") == {PACKED}
    assert ids(ledger, LE_quantity_LBR="6") == {MADE}


@pytest.mark.django_db
def test_eq_event_id_selects_by_event_id(ledger):
    assert ids(ledger, EQ_eventID=f"{SOLD}|{PACKED}") == {SOLD, PACKED}


# -- errorDeclaration ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_retracted_event_is_returned_as_declared_in_error(ledger):
    # When the retracted event is queried
    (event,) = events_of(get(ledger, EQ_eventID=MISTAKEN))
    # Then it carries the errorDeclaration, and recordTime is when the declaration was recorded
    assert event["errorDeclaration"] == _declaration()["errorDeclaration"]
    assert event["bizStep"] == "inspecting"
    recorded = [e["recordTime"] for e in events_of(get(ledger))]
    assert event["recordTime"] == max(recorded)


@pytest.mark.django_db
def test_error_declaration_parameters(ledger):
    assert ids(ledger, EXISTS_errorDeclaration="") == {MISTAKEN}
    assert ids(ledger, EXISTS_errorDeclaration="false") == set(ALL)
    assert ids(ledger, GE_errorDeclarationTime="2025-01-10T00:00:00Z") == {MISTAKEN}
    assert ids(ledger, LT_errorDeclarationTime="2025-01-10T00:00:00Z") == set()
    assert ids(ledger, EQ_errorReason="urn:epcglobal:cbv:er:incorrect_data") == {MISTAKEN}
    assert ids(ledger, EQ_errorReason="did_not_occur") == set()
    assert ids(ledger, EQ_correctiveEventID=CORRECTED) == {MISTAKEN}
    assert ids(ledger, **{"EQ_ERROR_DECLARATION_example:ticket": "T-77"}) == {MISTAKEN}


# -- typed lists ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_biz_transaction_source_and_destination_by_type(ledger):
    assert ids(ledger, EQ_bizTransaction_po="urn:epcglobal:cbv:bt:6901234000004:PO-1") == {SHIPPED}
    assert ids(ledger, EQ_bizTransaction_inv="urn:epcglobal:cbv:bt:6901234000004:PO-1") == set()
    assert ids(ledger, **{"EQ_source_owning_party": "urn:epc:id:pgln:6901234.00000"}) == {SHIPPED}
    assert ids(ledger, **{"EQ_destination_owning_party": "urn:epc:id:pgln:6901235.00000"}) == {
        SHIPPED
    }
    assert (
        ids(
            ledger,
            **{"EQ_destination_possessing_party": "urn:epc:id:pgln:6901235.00000"},
        )
        == set()
    )
    body = problem_of(get(ledger, EQ_bizTransaction_bogus="urn:x:1"), 400, PARAMETER)
    assert "bogus" in body["title"]


# -- EXISTS_ and extension fields -------------------------------------------------------------


@pytest.mark.django_db
def test_exists_on_standard_fields(ledger):
    assert ids(ledger, EXISTS_bizLocation="true") == {COMMISSIONED, SHIPPED}
    assert ids(ledger, EXISTS_ilmd="") == {COMMISSIONED}
    assert ids(ledger, EXISTS_childQuantityList="") == {PACKED}
    assert ids(ledger, EXISTS_sensorElementList="") == {SENSED}
    assert ids(ledger, EXISTS_sensorElement="") == {SENSED}
    assert ids(ledger, EXISTS_persistentDisposition="") == {SHIPPED}


@pytest.mark.django_db
def test_extension_fields_compare_strings_numbers_and_times(ledger):
    assert ids(ledger, **{"EQ_example:note": "fragile|heavy"}) == {SHIPPED}
    assert ids(ledger, **{"EQ_example:temp": "5"}) == {SHIPPED}
    assert ids(ledger, **{"GT_example:temp": "4.5"}) == {SHIPPED}
    assert ids(ledger, **{"LT_example:temp": "5"}) == set()
    assert ids(ledger, **{"LE_example:temp": "5"}) == {SHIPPED}
    assert ids(ledger, **{"GE_example:when": "2025-01-02T08:00:00+08:00"}) == {SHIPPED}
    assert ids(ledger, **{"LT_example:when": "2025-01-01T23:59:59.999Z"}) == set()
    assert ids(ledger, **{"EXISTS_example:box": ""}) == {SHIPPED}
    # Nested fields are reached with INNER_, not with the top-level form
    assert ids(ledger, **{"EQ_example:depth": "3"}) == set()
    assert ids(ledger, **{"EQ_INNER_example:depth": "3"}) == {SHIPPED}
    body = problem_of(get(ledger, **{"GT_example:temp": "warm"}), 400, PARAMETER)
    assert "expected a number or an RFC 3339 date-time" in body["title"]


@pytest.mark.django_db
def test_ilmd_and_location_extension_fields(ledger):
    assert ids(ledger, **{"EQ_ILMD_cbvmda:lotNumber": "LOT1"}) == {COMMISSIONED}
    assert ids(ledger, **{"GE_ILMD_example:grade": "7"}) == {COMMISSIONED}
    assert ids(ledger, **{"GT_ILMD_example:grade": "7"}) == set()
    assert ids(ledger, **{"LT_ILMD_example:madeOn": "2025-01-01T00:00:00Z"}) == {COMMISSIONED}
    assert ids(ledger, **{"EQ_INNER_ILMD_example:rev": "B"}) == {COMMISSIONED}
    assert ids(ledger, **{"EXISTS_ILMD_example:spec": ""}) == {COMMISSIONED}
    assert ids(ledger, **{"EQ_readPoint_example:dock": "D4"}) == {SHIPPED}


# -- sensor data (TCR-53) ---------------------------------------------------------------------


@pytest.mark.django_db
def test_sensor_time_parameters_look_in_metadata_and_reports(ledger):
    assert ids(ledger, GE_time="2025-01-05T07:00:00Z", LT_time="2025-01-05T07:00:01Z") == {SENSED}
    assert ids(ledger, GE_time="2025-01-05T07:30:00Z") == {SENSED}  # the report's time
    assert ids(ledger, GE_time="2025-01-05T07:30:01Z") == set()
    assert ids(
        ledger,
        GE_startTime="2025-01-05T06:00:00Z",
        LT_endTime="2025-01-05T08:00:00Z",
    ) == {SENSED}
    assert ids(ledger, LT_startTime="2025-01-05T06:00:00Z") == set()


@pytest.mark.django_db
def test_sensor_attribute_parameters(ledger):
    assert ids(ledger, EQ_type="Temperature") == {SENSED}
    assert ids(ledger, EQ_type="gs1:Temperature") == {SENSED}
    assert ids(ledger, EQ_type="example:Turbidity") == {SENSED}
    assert ids(ledger, EQ_type="Pressure") == set()
    assert ids(ledger, EQ_deviceID="urn:epc:id:giai:6901234.SENSOR1") == {SENSED}
    assert ids(ledger, EQ_deviceID="urn:epc:id:giai:6901234.SENSOR2") == {SENSED}  # report
    assert ids(ledger, EQ_dataProcessingMethod="https://id.example.com/method/2") == {SENSED}
    assert ids(ledger, EQ_deviceMetadata="https://id.example.com/device/1") == {SENSED}
    assert ids(ledger, EQ_rawData="https://id.example.com/raw/1") == {SENSED}
    assert ids(ledger, EQ_bizRules="https://id.example.com/rules/1") == {SENSED}
    assert ids(ledger, EQ_microorganism="https://www.ncbi.nlm.nih.gov/taxonomy/1919") == {SENSED}
    assert ids(
        ledger,
        EQ_chemicalSubstance="https://identifiers.org/inchikey:CZMRCDWAGMRECN",
    ) == {SENSED}
    assert ids(ledger, EQ_stringValue="clear") == {SENSED}
    assert ids(ledger, EQ_stringValue="Clear") == set()
    assert ids(ledger, EQ_hexBinaryValue="a1b2") == {SENSED}
    assert ids(ledger, EQ_uriValue="https://id.example.com/u/1") == {SENSED}
    assert ids(ledger, EQ_booleanValue="true") == {SENSED}
    assert ids(ledger, EQ_booleanValue="false") == set()
    assert ids(ledger, GE_percRank="50", LT_percRank="51") == {SENSED}


@pytest.mark.django_db
def test_sensor_values_compare_across_units_of_the_same_kind(ledger):
    # The report says 25 CEL (298.15 K, 77 FAH)
    assert ids(ledger, EQ_value_CEL="25") == {SENSED}
    assert ids(ledger, EQ_value_KEL="298.15") == {SENSED}
    assert ids(ledger, GE_value_KEL="30") == {SENSED}  # TCR-53 step 26
    assert ids(ledger, GT_value_FAH="77") == set()
    assert ids(ledger, GE_value_FAH="77") == {SENSED}
    assert ids(ledger, GE_minValue_CEL="20", LE_maxValue_CEL="30") == {SENSED}
    assert ids(ledger, GT_meanValue_CEL="25.5") == set()
    assert ids(ledger, LT_sDev_CEL="1", GE_percValue_CEL="24") == {SENSED}
    assert ids(ledger, GE_value_KGM="0") == set()  # a mass is never a temperature


@pytest.mark.django_db
def test_sensor_extension_fields_at_each_level(ledger):
    assert ids(ledger, **{"EQ_SENSORELEMENT_example:site": "lab-3"}) == {SENSED}
    assert ids(ledger, **{"LT_SENSORMETADATA_example:calibrated": "2025-01-01T00:00:00Z"}) == {
        SENSED
    }
    assert ids(ledger, **{"EQ_SENSORREPORT_example:probe": "P1"}) == {SENSED}
    assert ids(ledger, **{"GE_INNER_SENSORREPORT_example:level": "4"}) == {SENSED}
    assert ids(ledger, **{"EQ_SENSORMETADATA_example:probe": "P1"}) == set()


# -- ordering and limits ----------------------------------------------------------------------


@pytest.mark.django_db
def test_order_by_event_time_defaults_to_descending(ledger):
    assert ids_of(get(ledger, orderBy="eventTime")) == list(reversed(ALL))
    assert ids_of(get(ledger, orderBy="eventTime", orderDirection="ASC")) == ALL


@pytest.mark.django_db
def test_order_by_record_time_puts_the_declaration_last(ledger):
    order = ids_of(get(ledger, orderBy="recordTime", orderDirection="ASC"))
    assert order[-1] == MISTAKEN


@pytest.mark.django_db
def test_event_count_limit_returns_the_first_events_in_order(ledger):
    assert ids_of(get(ledger, orderBy="eventTime", eventCountLimit="2")) == [CORRECTED, MISTAKEN]
    body = problem_of(get(ledger, eventCountLimit="2"), 400, PARAMETER)
    assert "orderBy" in body["title"]
    body = problem_of(
        get(ledger, orderBy="eventTime", eventCountLimit="2", maxEventCount="3"), 400, PARAMETER
    )
    assert "mutually exclusive" in body["title"]


@pytest.mark.django_db
def test_max_event_count_refuses_a_query_that_matches_more(ledger):
    assert len(ids(ledger, maxEventCount="9")) == 9
    body = problem_of(get(ledger, maxEventCount="8"), 413, "epcisException:QueryTooLargeException")
    assert body["parameter"] == "maxEventCount"


# -- list syntax and malformed input ----------------------------------------------------------


@pytest.mark.django_db
def test_list_values_are_separated_by_pipes_commas_or_repetition(ledger):
    expected = {PACKED, MADE}
    assert ids(ledger, eventType="AggregationEvent|TransformationEvent") == expected
    assert ids(ledger, eventType="AggregationEvent,TransformationEvent") == expected
    assert ids(ledger, eventType=["AggregationEvent", "TransformationEvent"]) == expected
    assert ids(ledger, MATCH_epc=f"{b.sgtin('4')},{b.sgtin('5')}") == {SENSED, SOLD}


@pytest.mark.django_db
def test_an_epc_whose_serial_holds_a_comma_is_not_split(ledger, qa_manager):
    odd = "urn:epc:id:sgtin:6901234.010001.A,B"
    capture(b.observe([odd], "2025-03-01T00:00:00Z", eventID=eid(90)), user=qa_manager)
    assert ids(ledger, MATCH_epc=odd) == {eid(90)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "parameter", "expected"),
    [
        ({"EQ_colour": "red"}, "EQ_colour", "unknown query parameter"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime", "RFC 3339 date-time with a UTC offset"),
        ({"GE_eventTime": "2025-01-01T00:00:00"}, "GE_eventTime", "UTC offset"),
        ({"EQ_quantity": "lots"}, "EQ_quantity", "expected a number"),
        ({"orderBy": "bizStep"}, "orderBy", "eventTime or recordTime"),
        ({"orderDirection": "UP"}, "orderDirection", "ASC or DESC"),
        ({"maxEventCount": "-1"}, "maxEventCount", "whole number"),
        ({"eventType": "Event"}, "eventType", "is not an event type"),
        ({"EQ_booleanValue": "maybe"}, "EQ_booleanValue", "true or false"),
        ({"HASATTR_example:x": "a"}, "HASATTR_example:x", "master-data"),
        ({"perPage": "0"}, "perPage", "from 1 to 1000"),
        ({"perPage": "1001"}, "perPage", "from 1 to 1000"),
        ({"orderBy": ["eventTime", "recordTime"]}, "orderBy", "give it once"),
        ({"EQ_errorReason": "oops"}, "EQ_errorReason", "not a CBV 2.0 error reason"),
    ],
)
def test_malformed_parameters_are_named_with_what_was_expected(ledger, params, parameter, expected):
    body = problem_of(get(ledger, **params), 400, PARAMETER)
    assert body["parameter"] == parameter
    assert expected in body["title"], body["title"]


@pytest.mark.django_db
def test_a_plus_sign_decoded_as_a_space_is_read_as_a_utc_offset(ledger):
    # A client that forgot to encode '+' sends "...+08:00" as "... 08:00"
    response = ledger.get("/epcis/events?GE_eventTime=2025-01-09T08:00:00+08:00")
    assert set(ids_of(response)) == {CORRECTED}


# -- one SQL statement --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_query_with_many_parameters_runs_as_one_statement(ledger, django_assert_max_num_queries):
    params = {
        "eventType": "ObjectEvent|AggregationEvent", "MATCH_anyEPC": b.sgtin("1"),
        "GE_eventTime": "2025-01-01T00:00:00Z", "EQ_bizStep": "shipping",
        "EQ_bizTransaction_po": "urn:epcglobal:cbv:bt:6901234000004:PO-1",
        "EQ_example:note": "fragile", "EQ_persistentDisposition_set": "completeness_verified",
        "GE_recordTime": "2020-01-01T00:00:00Z", "orderBy": "eventTime", "perPage": "5",
    }  # fmt: skip
    # 2 for the token check (the API token and its last-used stamp), 1 for the events
    with django_assert_max_num_queries(3):
        assert ids(ledger, **params) == {SHIPPED}
