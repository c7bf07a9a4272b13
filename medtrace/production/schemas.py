"""API schemas of work orders, commissioning, assembly, process records and the DHR."""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class WorkOrderIn(StrictIn):
    product_id: int
    bom_id: int | None = Field(
        None, description="A released BOM version of the product (default: its only one)"
    )
    quantity: int = Field(description="Units to make (1-1,000,000)")
    line_id: int = Field(description="The production line (a Location of kind production_line)")
    lot: str = Field("", description="GS1 AI (10); required when the UDI-PI carries a lot")
    production_date: date | None = Field(None, description="Default: planned start, else today")
    expiry: date | None = Field(
        None, description="Default: production date + the product's shelf life"
    )
    planned_start: date | None = None
    planned_end: date | None = None
    notes: str = ""


class Ref(Schema):
    id: int
    label: str


class ProgressOut(Schema):
    planned: int
    made: int = Field(description="Commissioned units")
    approved: int = Field(description="Released by QC (quality.ReleaseItem)")
    scrapped: int
    on_hold: int
    assembled: int = Field(description="Units with every critical BOM component recorded")


class WorkOrderOut(Schema):
    id: int
    number: str
    status: str
    product: Ref
    bom: Ref
    quantity: int
    commissioned_qty: int
    lot: str
    production_date: date | None
    expiry: date | None
    line: Ref
    planned_start: date | None
    planned_end: date | None
    notes: str
    created_at: datetime
    released_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    progress: ProgressOut | None = None

    # The list endpoint hands model instances to the schema, the others ready dicts.
    @staticmethod
    def resolve_product(obj: Any) -> Any:
        if isinstance(obj, dict):
            return obj["product"]
        return {"id": obj.product_id, "label": str(obj.product)}

    @staticmethod
    def resolve_bom(obj: Any) -> Any:
        if isinstance(obj, dict):
            return obj["bom"]
        return {"id": obj.bom_id, "label": obj.bom.version}

    @staticmethod
    def resolve_line(obj: Any) -> Any:
        if isinstance(obj, dict):
            return obj["line"]
        return {"id": obj.line_id, "label": f"{obj.line.code} {obj.line.name}"}


class CommissionIn(StrictIn):
    count: int | None = Field(None, description="Allocate and commission this many new serials")
    serials: list[str] | None = Field(
        None, description="Or: commission these serials, already allocated to this order"
    )


class CommissionOut(Schema):
    work_order: WorkOrderOut
    count: int
    serials: list[str]
    epcs: list[str]
    lot_class: str | None
    event_id: str = Field(description="The one EPCIS ObjectEvent (ADD, commissioning)")


class ReasonIn(StrictIn):
    reason: str


class CloseIn(StrictIn):
    password: str = Field(description="Your password, re-entered (e-signature, meaning approved)")
    reason: str = ""


class ComponentIn(StrictIn):
    scan: str = Field(description="Any UDI form of the component lot or serial")
    quantity: Decimal | None = Field(
        None, description="Lots only: the quantity consumed (default: what the BOM line asks)"
    )


class AssembleIn(StrictIn):
    unit: str | None = Field(None, description="The produced unit, any UDI form")
    quantity: int | None = Field(
        None, description="Lot-tracked product: how many units of the lot these components are for"
    )
    components: list[ComponentIn]
    station: str = ""


class ChecklistLine(Schema):
    material_id: int
    material: str
    name: str
    tracking: str
    critical: bool
    position: str
    required: str
    recorded: str
    uom: str
    complete: bool
    identifiers: list[str]


class ComponentOut(Schema):
    material: str
    tracking: str
    identifier: str
    epc: str
    quantity: Decimal
    uom: str
    supplier: str | None
    made_by_work_order: str | None
    event_id: str


class AssembleOut(Schema):
    unit: str
    label: str
    components: list[ComponentOut]
    event_ids: list[str]
    checklist: list[ChecklistLine]


class Parameter(StrictIn):
    name: str
    value: float | int | str
    unit: str = ""


class ProcessRecordIn(StrictIn):
    step: str = Field(description="e.g. 'torque screws', 'burn-in', 'final test'")
    station: str = Field("", description="Station or equipment id")
    unit: str = Field("", description="A unit of the order (any UDI form); empty: the order")
    parameters: list[Parameter] = []
    result: Literal["", "pass", "fail"] = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    note: str = ""
    operator_name: str = Field("", description="Default: your printed name")


class ProcessRecordOut(Schema):
    id: int
    work_order: str
    unit: str
    unit_serial: str
    step: str
    station: str
    operator_name: str
    parameters: list[dict[str, Any]]
    result: str
    started_at: datetime | None
    finished_at: datetime | None
    note: str
    recorded_at: datetime
