"""Request and response schemas of the warehouse API."""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import date, datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

SCANS = "Units or SSCCs in any UDI form: EPC URN, (01)…(21)…, raw scan, Digital Link, HIBC, " \
    "18-digit SSCC, or a unit's bare serial"  # fmt: skip
LOCATION = "One of our warehouse or bin locations: its id, code, GLN or SGLN"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class LocationRef(Schema):
    id: int
    code: str
    name: str
    sgln: str


class ProductRef(Schema):
    id: int
    name: str
    model: str


# Moves -----------------------------------------------------------------------------------------


class MoveIn(StrictIn):
    scans: list[str] = Field(description=SCANS)
    to_location: int | str = Field(description=LOCATION)
    note: str = ""


class MoveItemOut(Schema):
    epc: str
    serial: str
    is_container: bool
    from_location: str = Field(description="The SGLN the ledger had it at before the move")


class MoveOut(Schema):
    id: int
    number: str
    kind: str = Field(description="put_away (from outside storage) or move")
    from_location: LocationRef | None
    to_location: LocationRef
    note: str
    event_id: str = Field(description="The ledger event (ObjectEvent, bizStep storing)")
    created_at: datetime
    created_by: str | None
    items: list[MoveItemOut]


# Containers ------------------------------------------------------------------------------------


class ContainerIn(StrictIn):
    level: Literal["case", "pallet"] = "case"
    children: list[str] = Field(default_factory=list, description=SCANS)
    location: int | str | None = Field(None, description="The packing location; " + LOCATION)
    close: bool = Field(False, description="Close the case with this packing")
    extension_digit: str = Field("0", description="SSCC extension digit (0-9)")


class PackIn(StrictIn):
    children: list[str] = Field(description=SCANS)
    location: int | str | None = Field(None, description="The packing location; " + LOCATION)
    close: bool = False


class UnpackIn(StrictIn):
    children: list[str] = Field(
        default_factory=list, description="What to take out (empty: everything directly inside)"
    )


class ContentOut(Schema):
    epc: str
    serial: str | None
    product: ProductRef | None
    lot: str | None
    expiry: date | None
    is_container: bool


class SummaryOut(Schema):
    product: ProductRef | None
    lot: str
    count: int
    expiry: date | None = Field(description="The earliest expiry in the group")


class ContainerOut(Schema):
    sscc: str
    epc: str
    level: str
    status: str
    packed_at: LocationRef | None
    where: str = Field(description="Where the ledger has it now")
    inside: str | None = Field(description="The container it is packed in (a pallet)")
    created_at: datetime
    closed_at: datetime | None
    unit_count: int
    children: list[ContentOut] = Field(description="What is directly inside")
    summary: list[SummaryOut]
    label_pdf: str
    label_png: str
    event_id: str | None = Field(None, description="The ledger event of this request, if any")
    packed: list[str] | None = None


# Stock -----------------------------------------------------------------------------------------


class StockRowOut(Schema):
    product: ProductRef | None
    location: LocationRef | None
    lot: str | None
    expiry: date | None
    on_hand: int
    available: int = Field(description="May be picked now (released, not held, not expired)")
    held: int = Field(description="Under an open hold, quarantine or recall")
    expired: int
    unreleased: int


class StockOut(Schema):
    on_hand: int
    available: int
    items: list[StockRowOut]


# Picking ---------------------------------------------------------------------------------------


class PickListIn(StrictIn):
    product_id: int
    quantity: int = Field(description="Units to pick (1-100,000)")
    location: int | str | None = Field(None, description="Pick only from here; " + LOCATION)
    sales_order_ref: str = Field("", description="The sales order it serves (free text)")
    note: str = ""


class PickIn(StrictIn):
    scans: list[str] = Field(description=SCANS)
    override_reason: str = Field(
        "", description="Why a later-expiring unit is picked although FEFO proposes another"
    )


class EndIn(StrictIn):
    reason: str


class ProposalOut(Schema):
    epc: str
    serial: str | None
    lot: str | None
    expiry: date | None
    where: str
    container: str | None


class PickOut(Schema):
    epc: str
    serial: str
    lot: str
    expiry: date | None
    container: str
    fefo_better: str
    override_reason: str
    picked_at: datetime
    picked_by: str | None


class PickListOut(Schema):
    id: int
    number: str
    product: ProductRef
    quantity: int
    location: LocationRef | None
    sales_order_ref: str
    status: str
    note: str
    created_at: datetime
    completed_at: datetime | None
    picked: int
    remaining: int
    picks: list[PickOut]
    proposal: list[ProposalOut] = Field(description="FEFO: what to pick next, in order")


class PickListSummaryOut(Schema):
    id: int
    number: str
    product: ProductRef
    quantity: int
    picked: int
    status: str
    sales_order_ref: str
    created_at: datetime


# Stock counts ----------------------------------------------------------------------------------


class StockCountIn(StrictIn):
    location: int | str = Field(description=LOCATION)
    note: str = ""


class ScansIn(StrictIn):
    scans: list[str] = Field(description=SCANS)


class CountLineOut(Schema):
    epc: str
    serial: str
    result: Literal["matched", "missing", "unexpected"]
    where: str = Field(description="Where the ledger has it")
    container: str
    note: str
    observed: bool | None = Field(None, description="Posted as cycle_counting (after reconcile)")


class StockCountOut(Schema):
    id: int
    number: str
    location: LocationRef
    status: str
    note: str
    created_at: datetime
    reconciled_at: datetime | None
    scanned: list[str]
    matched: int
    missing: int
    unexpected: int
    lines: list[CountLineOut]
