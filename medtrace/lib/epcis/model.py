"""The normalised objects the ledger stores, built from validated EPCIS 2.0 JSON/JSON-LD."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["EpcisDocument", "ErrorDeclaration", "Event", "QuantityElement"]

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransformationEvent",
    "AssociationEvent",
    "TransactionEvent",
)


@dataclass(frozen=True, slots=True)
class QuantityElement:
    """A class-level object: ``role`` says which list it came from.

    quantity -> quantityList, child -> childQuantityList, input/output -> the transformation lists.
    """

    role: str
    epc_class: str
    quantity: Decimal | None
    uom: str | None


@dataclass(frozen=True, slots=True)
class ErrorDeclaration:
    declaration_time: datetime
    reason: str | None  # cbv.normalize form
    corrective_event_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Event:
    index: int
    type: str
    action: str | None
    event_id: str | None
    event_time: datetime
    event_time_zone_offset: str
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    epc_list: tuple[str, ...]
    parent_id: str | None
    child_epcs: tuple[str, ...]
    input_epcs: tuple[str, ...]
    output_epcs: tuple[str, ...]
    quantities: tuple[QuantityElement, ...]
    biz_transactions: tuple[tuple[str | None, str], ...]
    sources: tuple[tuple[str, str], ...]
    destinations: tuple[tuple[str, str], ...]
    transformation_id: str | None
    error_declaration: ErrorDeclaration | None
    persistent_disposition: dict[str, list[str]] | None
    sensor_element_list: list[Any] | None
    certification_info: list[str] | str | None
    ilmd: dict[str, Any] | None
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EpcisDocument:
    context: object
    schema_version: str | None
    creation_date: datetime | None
    header: dict[str, Any] | None
    events: list[Event]
    namespaces: dict[str, str]
    # "EPCISDocument", or "EPCISQueryDocument" for a query result read from elsewhere: the
    # capture interface takes only the former.
    type: str = "EPCISDocument"
