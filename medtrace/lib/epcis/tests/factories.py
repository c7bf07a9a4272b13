"""Small builders of EPCIS 2.0 JSON events and documents for the tests."""

from __future__ import annotations

from typing import Any

STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
EXAMPLE_NAMESPACE = "https://ns.example.com/epcis/"


def object_event(**fields: Any) -> dict[str, Any]:
    """A valid commissioning ObjectEvent; keyword arguments replace or add fields."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T09:30:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["https://id.gs1.org/01/09506000134352/21/SN0001"],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:9506000.00001.0"},
    }
    event.update(fields)
    return event


def aggregation_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "AggregationEvent",
        "eventTime": "2024-05-01T11:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "parentID": "urn:epc:id:sscc:9506000.0000000001",
        "childEPCs": ["https://id.gs1.org/01/09506000134352/21/SN0001"],
        "action": "ADD",
        "bizStep": "packing",
    }
    event.update(fields)
    return event


def transformation_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "TransformationEvent",
        "eventTime": "2024-05-01T12:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": ["urn:epc:id:sgtin:9506000.134352.IN1"],
        "outputEPCList": ["urn:epc:id:sgtin:9506000.134353.OUT1"],
    }
    event.update(fields)
    return event


def without(event: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in names}


def document(*events: dict[str, Any], context: Any = None, **fields: Any) -> dict[str, Any]:
    """An EPCISDocument holding ``events``, with the standard context and an example prefix."""
    doc: dict[str, Any] = {
        "@context": context
        if context is not None
        else [STANDARD_CONTEXT, {"example": EXAMPLE_NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-05-01T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }
    doc.update(fields)
    return doc
