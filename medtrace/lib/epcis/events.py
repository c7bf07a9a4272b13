"""One EPCIS 2.0 event: the checks per event type, and the normalised Event it yields.

The required fields and "what" rules follow the GS1 EPCIS 2.0 JSON Schema; where we depart from
it, the comment says which rule of the standard we follow instead.
"""

from __future__ import annotations

from typing import Any

from medtrace.lib.epcis.errors import Issue
from medtrace.lib.epcis.fields import (
    read_biz_transactions,
    read_certification_info,
    read_error_declaration,
    read_location,
    read_persistent_disposition,
    read_quantity_list,
    read_source_dest_list,
    read_uri_list,
)
from medtrace.lib.epcis.jsonld import Scope, check_extension, read_context
from medtrace.lib.epcis.model import EVENT_TYPES, ErrorDeclaration, Event, QuantityElement
from medtrace.lib.epcis.sensor import check_sensor_element_list
from medtrace.lib.epcis.values import (
    Sink,
    check_date_time,
    check_offset,
    check_uri,
    check_vocabulary,
    describe,
)

__all__ = ["read_event"]

_COMMON = frozenset(
    {
        "@context",
        "type",
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "errorDeclaration",
        # The EPCIS context aliases "id" to @id, as it does eventID; GS1's simple-context
        # examples identify events that way.
        "id",
    }
)
# persistentDisposition is allowed on every event type, as in the EPCIS 2.0 XSD; the JSON Schema
# lists it for ObjectEvent and TransformationEvent only.
_WHY = frozenset(
    {
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
    }
)
_FIELDS: dict[str, frozenset[str]] = {
    "ObjectEvent": _COMMON | _WHY | {"action", "epcList", "quantityList", "ilmd"},
    "AggregationEvent": _COMMON | _WHY | {"action", "parentID", "childEPCs", "childQuantityList"},
    "TransactionEvent": _COMMON | _WHY | {"action", "parentID", "epcList", "quantityList"},
    "TransformationEvent": _COMMON
    | _WHY
    | {
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "ilmd",
    },
    "AssociationEvent": _COMMON | _WHY | {"action", "parentID", "childEPCs", "childQuantityList"},
}
_ALL_FIELDS = frozenset().union(*_FIELDS.values())
_ACTIONS = ("ADD", "OBSERVE", "DELETE")
_TYPE_LIST = ", ".join(EVENT_TYPES)


def read_event(
    raw: Any,
    index: int,
    outer: Scope,
    issues: list[Issue],
    *,
    require_context: bool = False,
) -> Event | None:
    """Check one event; on success return it normalised, else record issues and return None."""
    sink = Sink(issues, index)
    before = len(issues)
    if type(raw) is not dict:
        sink.add("", f"expected an event object, got {describe(raw)}")
        return None
    event_type = raw.get("type")
    allowed = _FIELDS.get(event_type) if type(event_type) is str else None
    if allowed is None:
        if "type" not in raw:
            sink.add("type", f"type is required: one of {_TYPE_LIST}")
        else:
            sink.add(
                "type",
                f"{describe(event_type)} is not an EPCIS 2.0 event type this ledger captures; "
                f"expected one of {_TYPE_LIST}",
            )
        return None
    assert isinstance(event_type, str)

    scope = outer
    if "@context" in raw:
        scope = read_context(raw["@context"], "@context", sink, outer)
    elif require_context:
        sink.add(
            "@context",
            "@context is required on an event sent on its own, e.g. "
            '["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"]',
        )

    if not allowed.issuperset(raw):
        for key in raw:
            if key in allowed:
                continue
            if key in _ALL_FIELDS:
                sink.add(key, f"{key} is not a field of an {event_type}")
            else:
                check_extension(key, key, scope, sink)

    get = raw.get
    # When.
    event_time = None
    if "eventTime" in raw:
        event_time = check_date_time(raw["eventTime"], "eventTime", sink)
    else:
        sink.add(
            "eventTime",
            "eventTime is required: when the event took place, e.g. '2024-05-01T09:30:00+08:00'",
        )
    offset = None
    if "eventTimeZoneOffset" in raw:
        offset = check_offset(raw["eventTimeZoneOffset"], "eventTimeZoneOffset", sink)
    else:
        sink.add(
            "eventTimeZoneOffset",
            "eventTimeZoneOffset is required: the local offset where the event took place, "
            "e.g. '+08:00'",
        )
    if "recordTime" in raw:
        check_date_time(raw["recordTime"], "recordTime", sink)

    event_id = _read_event_id(raw, sink)

    action = None
    if event_type != "TransformationEvent":
        action = get("action")
        if action is None:
            sink.add("action", "action is required: one of ADD, OBSERVE, DELETE")
        elif action not in _ACTIONS:
            sink.add(
                "action", f"{describe(action)} is not an action; expected ADD, OBSERVE or DELETE"
            )
            action = None

    # Why.
    biz_step = get("bizStep")
    if biz_step is not None or "bizStep" in raw:
        biz_step = check_vocabulary("bizStep", biz_step, "bizStep", sink)
    disposition = get("disposition")
    if disposition is not None or "disposition" in raw:
        disposition = check_vocabulary("disposition", disposition, "disposition", sink)
    persistent = None
    if "persistentDisposition" in raw:
        persistent = read_persistent_disposition(
            raw["persistentDisposition"], "persistentDisposition", sink
        )
    read_point = None
    if "readPoint" in raw:
        read_point = read_location(raw["readPoint"], "readPoint", scope, sink)
    biz_location = None
    if "bizLocation" in raw:
        biz_location = read_location(raw["bizLocation"], "bizLocation", scope, sink)
    biz_transactions: tuple[tuple[str | None, str], ...] = ()
    if "bizTransactionList" in raw:
        biz_transactions = read_biz_transactions(
            raw["bizTransactionList"],
            "bizTransactionList",
            sink,
            min_items=1 if event_type == "TransactionEvent" else 0,
        )
    elif event_type == "TransactionEvent":
        sink.add(
            "bizTransactionList",
            "bizTransactionList is required on a TransactionEvent: the transactions the objects "
            "are associated with or dissociated from",
        )
    sources: tuple[tuple[str, str], ...] = ()
    if "sourceList" in raw:
        sources = read_source_dest_list(raw["sourceList"], "sourceList", "source", sink)
    destinations: tuple[tuple[str, str], ...] = ()
    if "destinationList" in raw:
        destinations = read_source_dest_list(
            raw["destinationList"], "destinationList", "destination", sink
        )
    sensors = get("sensorElementList")
    if sensors is not None or "sensorElementList" in raw:
        check_sensor_element_list(sensors, "sensorElementList", scope, sink)
    certification = None
    if "certificationInfo" in raw:
        certification = read_certification_info(raw["certificationInfo"], "certificationInfo", sink)
    error_declaration: ErrorDeclaration | None = None
    if "errorDeclaration" in raw:
        error_declaration = read_error_declaration(
            raw["errorDeclaration"], "errorDeclaration", scope, sink
        )
    ilmd = get("ilmd")
    if ilmd is not None or "ilmd" in raw:
        ilmd = _read_ilmd(ilmd, scope, sink)

    # What.
    quantities: list[QuantityElement] = []
    epc_list: tuple[str, ...] = ()
    child_epcs: tuple[str, ...] = ()
    input_epcs: tuple[str, ...] = ()
    output_epcs: tuple[str, ...] = ()
    parent_id = None
    transformation_id = None
    if "parentID" in raw:
        parent_id = check_uri(raw["parentID"], "parentID", sink, "the parent's EPC URI")
    if event_type == "ObjectEvent" or event_type == "TransactionEvent":
        has_epcs = "epcList" in raw
        if has_epcs:
            epc_list = read_uri_list(
                raw["epcList"], "epcList", sink, unique=event_type == "ObjectEvent"
            )
        counted = 0
        if "quantityList" in raw:
            counted = read_quantity_list(
                raw["quantityList"], "quantityList", "quantity", sink, quantities
            )
        if not has_epcs and counted == 0:
            _check_what_present(event_type, action, raw, sink)
        if (
            event_type == "ObjectEvent"
            and ilmd is not None
            and action is not None
            and action != "ADD"
        ):
            sink.add(
                "ilmd",
                f"ilmd (instance/lot master data) is only allowed when action is ADD, not {action}",
            )
    elif event_type == "TransformationEvent":
        if "inputEPCList" in raw:
            input_epcs = read_uri_list(raw["inputEPCList"], "inputEPCList", sink, unique=True)
        if "outputEPCList" in raw:
            output_epcs = read_uri_list(raw["outputEPCList"], "outputEPCList", sink, unique=True)
        inputs = _length(raw, "inputEPCList")
        outputs = _length(raw, "outputEPCList")
        if "inputQuantityList" in raw:
            inputs += read_quantity_list(
                raw["inputQuantityList"], "inputQuantityList", "input", sink, quantities
            )
        if "outputQuantityList" in raw:
            outputs += read_quantity_list(
                raw["outputQuantityList"], "outputQuantityList", "output", sink, quantities
            )
        if "transformationID" in raw:
            transformation_id = check_uri(
                raw["transformationID"], "transformationID", sink, "a transformation URI"
            )
        _check_transformation_shape(inputs, outputs, "transformationID" in raw, raw, sink)
    else:  # AggregationEvent, AssociationEvent
        if "childEPCs" in raw:
            child_epcs = read_uri_list(raw["childEPCs"], "childEPCs", sink, unique=False)
        counted = 0
        if "childQuantityList" in raw:
            counted = read_quantity_list(
                raw["childQuantityList"], "childQuantityList", "child", sink, quantities
            )
        if (
            _length(raw, "childEPCs") == 0
            and counted == 0
            and action != "DELETE"
            and _lists_valid(raw, ("childEPCs", "childQuantityList"))
        ):
            sink.add(
                "childEPCs",
                f"an {event_type} with action {action or 'ADD/OBSERVE'} needs childEPCs or "
                "childQuantityList with at least one entry",
            )
        if event_type == "AssociationEvent" and "parentID" not in raw:
            sink.add("parentID", "parentID is required on an AssociationEvent: the parent object")

    if len(issues) != before:
        return None
    assert event_time is not None and offset is not None
    return Event(
        index=index,
        type=event_type,
        action=action,
        event_id=event_id,
        event_time=event_time,
        event_time_zone_offset=offset,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        epc_list=epc_list,
        parent_id=parent_id,
        child_epcs=child_epcs,
        input_epcs=input_epcs,
        output_epcs=output_epcs,
        quantities=tuple(quantities),
        biz_transactions=biz_transactions,
        sources=sources,
        destinations=destinations,
        transformation_id=transformation_id,
        error_declaration=error_declaration,
        persistent_disposition=persistent,
        sensor_element_list=sensors,
        certification_info=certification,
        ilmd=ilmd,
        raw=raw,
    )


def _read_event_id(raw: dict[str, Any], sink: Sink) -> str | None:
    event_id = None
    if "eventID" in raw:
        event_id = check_uri(raw["eventID"], "eventID", sink, "an event ID URI")
    if "id" in raw:
        alias = raw["id"]
        if type(alias) is str and alias.startswith("_:"):
            return event_id  # A JSON-LD blank node names nothing outside the document.
        alias = check_uri(alias, "id", sink, "an event ID URI (JSON-LD @id)")
        if event_id is None and "eventID" not in raw:
            return alias
        if alias is not None and event_id is not None and alias != event_id:
            sink.add("id", "id and eventID both name the event (JSON-LD @id) but differ")
    return event_id


def _length(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key)
    return len(value) if type(value) is list else 0


def _lists_valid(raw: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """True unless one of ``keys`` is present but not an array (already reported)."""
    return all(type(raw[key]) is list for key in keys if key in raw)


def _check_what_present(event_type: str, action: Any, raw: dict[str, Any], sink: Sink) -> None:
    """ObjectEvent / TransactionEvent: what objects does the event concern?"""
    if not _lists_valid(raw, ("epcList", "quantityList")):
        return
    if event_type == "TransactionEvent":
        if action == "DELETE":
            return
        sink.add(
            "epcList",
            "a TransactionEvent needs epcList, or quantityList with at least one entry",
        )
        return
    # An ObjectEvent may, instead, carry only sensor data taken at a read point.
    sensors = raw.get("sensorElementList")
    if type(sensors) is list and sensors and "readPoint" in raw:
        return
    sink.add(
        "epcList",
        "an ObjectEvent needs epcList, or quantityList with at least one entry, "
        "or (for sensor data) sensorElementList with a readPoint",
    )


def _check_transformation_shape(
    inputs: int, outputs: int, has_id: bool, raw: dict[str, Any], sink: Sink
) -> None:
    if (inputs and outputs) or ((inputs or outputs) and has_id):
        return
    if not _lists_valid(
        raw, ("inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList")
    ):
        return
    if not inputs and not outputs:
        sink.add(
            "inputEPCList",
            "a TransformationEvent needs inputs (inputEPCList or inputQuantityList) and outputs "
            "(outputEPCList or outputQuantityList)",
        )
    else:
        missing = (
            "outputs (outputEPCList or outputQuantityList)"
            if inputs
            else "inputs (inputEPCList or inputQuantityList)"
        )
        sink.add(
            "outputEPCList" if inputs else "inputEPCList",
            f"a TransformationEvent needs {missing}, unless it carries a transformationID that "
            "links it to the other half",
        )


def _read_ilmd(value: Any, scope: Scope, sink: Sink) -> dict[str, Any] | None:
    if type(value) is not dict:
        sink.add("ilmd", f"expected an ilmd object of namespaced fields, got {describe(value)}")
        return None
    for key in value:
        check_extension(key, f"ilmd.{key}", scope, sink)
    return value
