"""Small builders of EPCIS 2.0 JSON for tests: realistic, valid by default."""

from __future__ import annotations

from typing import Any

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def document(*events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return {
        "@context": context or CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-01-01T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _base(kind: str, time: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "eventTime": time, "eventTimeZoneOffset": "+08:00"}
    event.update({k: v for k, v in fields.items() if v is not None})
    return event


def sgtin(serial: str, item: str = "010001") -> str:
    return f"urn:epc:id:sgtin:6901234.{item}.{serial}"


def lgtin(lot: str, item: str = "030001") -> str:
    return f"urn:epc:class:lgtin:6901234.{item}.{lot}"


def sscc(ref: str) -> str:
    return f"urn:epc:id:sscc:6901234.{ref.rjust(10, '0')}"


def sgln(ref: str, ext: str = "0") -> str:
    return f"urn:epc:id:sgln:6901234.{ref.rjust(5, '0')}.{ext}"


def commission(
    epcs: list[str], time: str = "2025-01-01T08:00:00+08:00", **extra: Any
) -> dict[str, Any]:
    return _base(
        "ObjectEvent",
        time,
        epcList=epcs,
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        readPoint={"id": sgln("6")},
        **extra,
    )


def observe(epcs: list[str], time: str, **extra: Any) -> dict[str, Any]:
    return _base("ObjectEvent", time, epcList=epcs, action="OBSERVE", **extra)


def aggregate(
    parent: str, children: list[str], time: str, action: str = "ADD", **extra: Any
) -> dict[str, Any]:
    return _base(
        "AggregationEvent",
        time,
        parentID=parent,
        childEPCs=children,
        action=action,
        bizStep="packing",
        **extra,
    )


def associate(
    parent: str, children: list[str], time: str, action: str = "ADD", **extra: Any
) -> dict[str, Any]:
    return _base(
        "AssociationEvent",
        time,
        parentID=parent,
        childEPCs=children,
        action=action,
        bizStep="assembling",
        **extra,
    )


def transform(
    inputs: list[str],
    outputs: list[str],
    time: str,
    *,
    input_classes: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"bizStep": "commissioning", "disposition": "active"}
    if inputs:
        fields["inputEPCList"] = inputs
    if input_classes:
        fields["inputQuantityList"] = [
            {"epcClass": c, "quantity": 1, "uom": "EA"} for c in input_classes
        ]
    fields["outputEPCList"] = outputs
    fields.update(extra)
    return _base("TransformationEvent", time, **fields)
