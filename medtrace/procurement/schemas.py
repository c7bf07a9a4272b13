"""API schemas of procurement. Inputs forbid unknown fields: nothing is silently dropped."""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class POLineIn(StrictIn):
    material_id: int | None = Field(None, description="The material (or give `material`)")
    material: str | None = Field(None, description="The material's part number")
    quantity: Decimal = Field(description="Quantity ordered, in the material's unit")
    uom: str | None = Field(None, description="Defaults to the material's unit of measure")


class PurchaseOrderIn(StrictIn):
    supplier_id: int
    lines: list[POLineIn]
    expected_on: date | None = None
    note: str = ""
    release: bool = Field(False, description="Release (send) the PO at once")


class ReasonIn(StrictIn):
    reason: str = Field(description="Why (recorded in the audit trail)")


class POLineOut(Schema):
    id: int
    position: int
    material_id: int
    material: str = Field(description="part number")
    material_name: str
    quantity: Decimal
    uom: str
    received_qty: Decimal


class PurchaseOrderOut(Schema):
    id: int
    number: str
    supplier_id: int
    supplier: str
    status: str
    expected_on: date | None
    note: str
    created_at: datetime
    released_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    lines: list[POLineOut]


class PurchaseOrderListOut(Schema):
    id: int
    number: str
    supplier_id: int
    supplier: str
    status: str
    expected_on: date | None
    created_at: datetime

    @staticmethod
    def resolve_supplier(obj: Any) -> str:
        return str(obj.supplier.name)


class ReceiptLineIn(StrictIn):
    order_line_id: int | None = Field(None, description="The PO line (or give `line`)")
    line: int | None = Field(None, description="The PO line's position (1, 2, ...)")
    lot: str = Field("", description="The supplier's lot (required for lot-tracked material)")
    serials: list[str] = Field([], description="Every serial received (serial-tracked material)")
    expires_on: date | None = None
    quantity: Decimal | None = Field(
        None, description="Quantity received (serials: defaults to their count)"
    )


class ReceiptIn(StrictIn):
    location_id: int = Field(description="Our incoming / quarantine location")
    lines: list[ReceiptLineIn]
    delivery_note: str = Field("", description="The supplier's delivery note number")
    note: str = ""


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str


class MaterialLotOut(Schema):
    id: int
    epc: str
    material_id: int
    material: str = Field(description="part number")
    supplier_id: int
    tracking: str
    identifier: str = Field(description="lot (lot-tracked) or serial (serial-tracked)")
    lot: str
    expires_on: date | None
    uom: str
    received_qty: Decimal
    accepted_qty: Decimal
    rejected_qty: Decimal
    consumed_qty: Decimal
    available_qty: Decimal = Field(description="accepted and not yet consumed")
    status: str
    receipt: str = Field(description="goods receipt number")


class ReceiptLineOut(Schema):
    id: int
    order_line_id: int
    material: str
    lot: str
    expires_on: date | None
    quantity: Decimal
    material_lots: list[MaterialLotOut]


class GoodsReceiptOut(Schema):
    id: int
    number: str
    order_id: int
    order: str = Field(description="PO number")
    supplier_id: int
    location_id: int
    location_sgln: str
    delivery_note: str
    note: str
    received_at: datetime
    coc: AttachmentOut = Field(description="the supplier's certificate of conformity")
    lines: list[ReceiptLineOut]


class InspectionIn(StrictIn):
    accepted_qty: Decimal = Field(description="Accepted quantity (a serial: 1 or 0)")
    rejected_qty: Decimal | None = Field(None, description="Defaults to received - accepted")
    note: str = Field("", description="Findings (required when anything is rejected)")


class SerialInspectionIn(StrictIn):
    rejected: list[str] = Field([], description="Rejected serials (serial, EPC or label scan)")
    note: str = ""


class InspectionOut(Schema):
    id: int
    number: str
    material_lot_id: int
    epc: str
    result: str
    accepted_qty: Decimal
    rejected_qty: Decimal
    note: str
    inspected_at: datetime


class ProblemOut(Schema):
    code: str
    field: str
    message: str
    kind: str | None = None
    number: str | None = None
    expires_on: date | None = None
    material: str | None = None


class CertificateOut(Schema):
    id: int
    kind: str
    number: str
    expires_on: date | None
    expired: bool
    expiring: bool = Field(description="expires within 30 days")
    scan: AttachmentOut | None


class SourceOut(Schema):
    material_id: int
    material: str
    approved: bool
    problems: list[ProblemOut]


class QualificationOut(Schema):
    supplier_id: int
    supplier: str
    on: date
    qualified: bool
    problems: list[ProblemOut]
    certificates: list[CertificateOut]
    materials: list[SourceOut]
