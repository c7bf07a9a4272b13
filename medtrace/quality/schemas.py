"""Request and response schemas of the quality API."""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class CharacteristicIn(StrictIn):
    name: str
    type: str = Field("measured", description="measured (a value against limits) or attribute")
    nominal: Decimal | None = None
    lower: Decimal | None = Field(None, description="Lower limit (inclusive)")
    upper: Decimal | None = Field(None, description="Upper limit (inclusive)")
    unit: str = ""
    required: bool = True


class CharacteristicOut(Schema):
    name: str
    type: str
    nominal: Decimal | None
    lower: Decimal | None
    upper: Decimal | None
    unit: str
    required: bool


class PlanIn(StrictIn):
    code: str
    name: str
    kind: str = Field(description="incoming, in_process or final")
    product_id: int | None = None
    material_id: int | None = None
    sampling: str = Field("all", description="all (100 %), fixed (sample_size) or percent")
    sample_size: int | None = None
    sample_percent: Decimal | None = None
    active: bool = True
    note: str = ""
    characteristics: list[CharacteristicIn]
    reason: str = Field("", description="Why the plan is created (audited)")


class PlanPatch(StrictIn):
    name: str | None = None
    active: bool | None = None
    note: str | None = None
    sampling: str | None = None
    sample_size: int | None = None
    sample_percent: Decimal | None = None
    characteristics: list[CharacteristicIn] | None = Field(
        None, description="Replaces the list; raises the plan's version"
    )
    reason: str = Field("", description="Why the plan changes (required; audited)")


class PlanOut(Schema):
    id: int
    code: str
    name: str
    version: int
    kind: str
    product_id: int | None
    material_id: int | None
    sampling: str
    sample_size: int | None
    sample_percent: Decimal | None
    active: bool
    note: str
    characteristics: list[CharacteristicOut]
    created_at: datetime


class SampleIn(StrictIn):
    sample: str = Field("", description="Sample label, e.g. the serial of the sampled unit")
    values: dict[str, Any]


class InspectionIn(StrictIn):
    plan_id: int
    target: str = Field(description="The unit or lot, in any UDI form, EPC URN or serial")
    values: dict[str, Any] | None = Field(
        None, description="One unit: {characteristic: value}; attributes pass/fail"
    )
    samples: list[SampleIn] | None = Field(None, description="A lot: one entry per sample")
    lot_size: int | None = None
    note: str = ""
    password: str = Field("", description="Your password to e-sign the result (optional)")


class MeasurementOut(Schema):
    sample: str
    characteristic: str
    type: str
    value: str | None
    unit: str
    nominal: str | None
    lower: str | None
    upper: str | None
    passed: bool


class InspectionOut(Schema):
    id: int
    number: str
    plan: str
    plan_code: str
    plan_name: str
    plan_version: int
    kind: str
    target: str
    gtin: str
    lot: str
    serial: str
    lot_size: int | None
    samples: int
    result: str
    inspected_at: datetime
    inspector: str
    note: str
    measurements: list[MeasurementOut]
    signatures: list[dict[str, Any]]
    nonconformance: str | None = Field(None, description="The NC a failure opened")


class NcIn(StrictIn):
    targets: list[str] = Field(description="Units or lots, in any UDI form")
    title: str
    description: str
    category: str = "product"
    source: str = ""
    hold: bool = True


class NcDispositionIn(StrictIn):
    disposition: str = Field(description="rework, scrap, use_as_is or return_to_supplier")
    reason: str = Field(description="The justification (signed with the disposition)")
    password: str = Field(description="Your password: the disposition is e-signed")
    supplier_id: int | None = Field(None, description="For return_to_supplier")


class NcCloseIn(StrictIn):
    note: str = Field(description="How it was resolved")


class NcOut(Schema):
    id: int
    number: str
    title: str
    description: str
    category: str
    source: str
    status: str
    targets: list[str]
    opened_at: datetime
    opened_by: str
    inspection: str | None
    disposition: str | None
    disposition_reason: str
    supplier_id: int | None
    dispositioned_at: datetime | None
    dispositioned_by: str | None
    closed_at: datetime | None
    close_note: str
    closed_by: str | None = None
    holds: list[dict[str, Any]] | None = None
    signatures: list[dict[str, Any]] | None = None


class HoldIn(StrictIn):
    targets: list[str] = Field(description="Units, containers or lots, in any UDI form")
    kind: str = Field("hold", description="hold or quarantine")
    reason: str
    source: str = ""
    location_id: int | None = Field(
        None, description="Quarantine: the location the goods are moved to (bizLocation)"
    )


class HoldLiftIn(StrictIn):
    reason: str


class HoldOut(Schema):
    id: int
    number: str
    kind: str
    target: str
    gtin: str
    lot: str
    reason: str
    source: str
    placed_at: datetime
    placed_by: str
    active: bool
    lifted_at: datetime | None
    lifted_by: str
    lift_reason: str


class ReleaseIn(StrictIn):
    targets: list[str] = Field(description="Units or lots, in any UDI form")
    password: str = Field(description="Your password: the release is e-signed")
    note: str = ""


class ReleaseOut(Schema):
    id: int
    number: str
    released_at: datetime
    released_by: str
    note: str
    targets: list[str]
    signatures: list[dict[str, Any]]
