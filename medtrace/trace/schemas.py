"""Response shapes of the trace API (they document /api/v1/openapi.json)."""

from __future__ import annotations

from ninja import Field, Schema


class ProductRef(Schema):
    id: int
    name: str
    model: str


class MaterialRef(Schema):
    id: int
    code: str
    name: str


class HolderOut(Schema):
    id: str | None = Field(
        description="The identifier as the ledger has it (PGLN/SGLN URN, Digital Link...)"
    )
    gln: str | None
    name: str | None = Field(description="The Party's name; null if not in master data")
    role: str | None = Field(description="manufacturer, supplier, distributor, hospital, ...")


class SupplierOut(HolderOut):
    basis: str = Field(
        description="receiving_event: the source party of the object's receiving event; "
        "masterdata: the material's approved supplier"
    )


class UnitHeader(Schema):
    epc: str
    gtin: str | None
    serial: str | None
    lot: str | None
    expiry: str | None
    product: ProductRef | None
    disposition: str | None
    location: str | None = Field(description="bizLocation of the last event")
    holder: HolderOut | None = Field(description="Possessing party, else owning party")
    contained_in: str | None = Field(description="Current aggregation parent (case, pallet)")
    installed_in: str | None = Field(description="Current association parent (device)")


class BizTransactionOut(Schema):
    type: str | None
    bizTransaction: str


class SourceOut(Schema):
    type: str | None
    source: str


class DestinationOut(Schema):
    type: str | None
    destination: str


class ErrorDeclarationOut(Schema):
    declarationTime: str | None
    reason: str | None
    correctiveEventIDs: list[str]


class ConditionOut(Schema):
    type: str = Field(description="Measurement type as EPCIS writes it, e.g. Temperature")
    uom: str | None = Field(description="UN/CEFACT unit code, e.g. CEL, P1")
    unit: str | None = Field(description="The unit as people write it, e.g. °C, %")
    count: int = Field(description="Individual readings (0: the event carries only aggregates)")
    value: float | None = Field(description="The reading, when there is exactly one")
    min: float | None
    max: float | None
    mean: float | None
    start: str | None = Field(description="First reading time")
    end: str | None = Field(description="Last reading time")
    alerts: list[str] = Field(description="Sensor alert types reported (exception)")
    text: str = Field(description='e.g. "Temperature 9.2 °C"')


class ExcursionProductOut(Schema):
    id: int
    name: str
    model: str


class TimelineExcursionOut(Schema):
    record: str = Field(description="The condition record (COND-...)")
    measurement: str = Field(description="temperature or humidity")
    bound: str = Field(description="min or max: which limit was broken")
    limit: float
    limits: str = Field(description='The profile\'s range, e.g. "2–8 °C"')
    value: float = Field(description="The worst reading")
    unit: str
    at: str = Field(description="Time of the worst reading")
    readings: int = Field(description="Readings outside the limit")
    phase: str
    product: ExcursionProductOut
    location: str
    nonconformance: str | None = Field(description="The nonconformance it raised")
    text: str = Field(description='e.g. "Temperature 9.2 °C (limit 2–8 °C) — excursion NC-…"')


class TimelineEvent(Schema):
    eventID: str
    eventType: str
    action: str | None
    eventTime: str
    eventTimeZoneOffset: str
    recordTime: str
    bizStep: str | None
    disposition: str | None
    readPoint: str | None
    bizLocation: str | None
    phase: str = Field(
        description="procurement, production, quality, warehouse, distribution, use, service "
        "or end-of-life (table in medtrace/trace/phases.py)"
    )
    via: str = Field(
        description="self; container:<epc> (a case/pallet the unit was in, or the device it was "
        "installed in, only while inside); component:<epc> (a part installed into the unit, "
        "only while installed); origin:<epc> (the receipt and incoming inspection of a supplier "
        "lot or part the unit was made from, before it went in); bizTransaction:<value> (a "
        "TransactionEvent of the same business document)"
    )
    retracted: bool = Field(description="An errorDeclaration says this event is wrong")
    errorDeclaration: ErrorDeclarationOut | None
    corrected: bool = Field(
        description="This event is a correction: an errorDeclaration names it as corrective"
    )
    corrects: list[str] = Field(description="eventIDs of the retracted events it corrects")
    bizTransactionList: list[BizTransactionOut]
    sourceList: list[SourceOut]
    destinationList: list[DestinationOut]
    conditions: list[ConditionOut] = Field(
        description="The event's sensor data (sensorElementList), one entry per measurement"
    )
    excursions: list[TimelineExcursionOut] = Field(
        description="Limits of this unit's product the event's readings broke (conditions app)"
    )


class TimelineOut(Schema):
    id: str = Field(description="The identifier as given")
    epc: str = Field(description="Its canonical form in the ledger")
    kind: str = Field(description="serial, container, object; lot or class (internal users)")
    unit: UnitHeader | None
    count: int
    events: list[TimelineEvent]


class InspectionOut(Schema):
    eventID: str
    eventTime: str
    disposition: str | None
    readPoint: str | None
    bizLocation: str | None
    retracted: bool


class CertificateOut(Schema):
    certificationInfo: str
    eventID: str
    eventTime: str
    retracted: bool


class _NodeBase(Schema):
    epc: str
    type: str = Field(description="serial, lot, class, container or object")
    gtin: str | None
    serial: str | None
    lot: str | None
    expiry: str | None
    product: ProductRef | None
    material: MaterialRef | None
    disposition: str | None
    location: str | None
    supplier: SupplierOut | None
    supplier_candidates: list[SupplierOut] = Field(
        description="Approved suppliers of the material when no receiving event says which"
    )
    inspections: list[InspectionOut] = Field(description="Events with bizStep inspecting")
    certificates: list[CertificateOut] = Field(description="certificationInfo of its events")
    parent: str | None
    relation: str | None = Field(description="transformed, associated or aggregated")
    eventID: str | None = Field(description="The event that made the link")
    valid_from: str | None
    valid_to: str | None = Field(description="Set when the part was removed (history only)")
    current: bool
    level: int


class BackwardNode(_NodeBase):
    children: list[BackwardNode]


class ContentItem(_NodeBase):
    pass


class BackwardOut(Schema):
    id: str
    epc: str
    kind: str
    include_history: bool
    root: BackwardNode
    count: int = Field(description="Nodes in the tree below the root")
    is_container: bool
    contents: list[ContentItem] = Field(
        description="What is packed inside a container (aggregation, nested), flat with level"
    )


class ForwardUnit(Schema):
    epc: str
    kind: str = Field(
        description="product (a unit of a product in master data), component (any other "
        "instance-level object, e.g. a serialized part) or container (SSCC)"
    )
    level: int = Field(
        description="Edges between the start object and this one: 0 = the start itself; "
        "intermediate sub-assemblies are listed too, each at its own level"
    )
    current: bool = Field(
        description="false only with include_history, for objects that once contained the "
        "start object (or were packed in it) but no longer do"
    )
    part_of: str | None = Field(
        description="The listed object this one was consumed into (transformation) or is "
        "installed in (association) on the way up from the start; null for the top of the "
        "walk, i.e. the finished units"
    )
    gtin: str | None
    serial: str | None
    lot: str | None
    expiry: str | None
    product: ProductRef | None
    disposition: str | None = Field(description="Decommissioned/destroyed units stay listed")
    location: str | None = Field(description="Current bizLocation")
    holder: HolderOut | None
    contained_in: str | None
    installed_in: str | None


class HolderCount(HolderOut):
    count: int


class ClassNode(Schema):
    epc: str
    type: str
    level: int
    current: bool


class ForwardOut(Schema):
    id: str
    epc: str
    kind: str
    include_history: bool
    count: int = Field(description="Number of objects in units (every level, every kind)")
    summary: list[HolderCount] = Field(
        description="Current holders of the affected physical items, most first: each item "
        "counted once, so sub-assemblies (part_of set), containers and history units "
        "(current=false) are not counted"
    )
    lots: list[ClassNode] = Field(
        description="Lots and classes on the way (quantity-tracked: no unit state of their own)"
    )
    units: list[ForwardUnit]


BackwardNode.model_rebuild()
