"""Complaints, adverse events and complaint signals: /api/v1/complaints, /adverse-events, ...

Reads need the ``complaints:read`` scope; handling a complaint (investigation, decision, CAPA,
closure, adverse events, signal rules) ``complaints:write``. A hospital's own staff (partner
users) report complaints about devices their hospital holds or held, with ``complaints:submit``
(partner tokens cannot carry ``complaints:write``), and read the complaints their hospital
reported; another hospital's complaint is not found (404). The device is named by its UDI in any
form (GS1 element string, raw scan, Digital Link, HIBC, EPC URN, bare serial).
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination

from . import common, selectors, services
from .models import AdverseEvent, Complaint, SignalRule

router = Router(tags=["complaints and adverse events"])

READ, WRITE, SUBMIT = "complaints:read", "complaints:write", "complaints:submit"

StatusName = Literal["open", "investigating", "decided", "closed"]
SeverityName = Literal["death", "serious_injury", "malfunction", "other"]
JurisdictionName = Literal["CN", "US", "EU"]


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _writer(request: HttpRequest, *, partners: bool = False) -> User:
    """``complaints:write``; for a hospital partner's own report, ``complaints:submit``."""
    assert isinstance(request.user, User)
    partner = partners and common.is_partner(request.user)
    return _user(request, SUBMIT if partner else WRITE)


# Complaints ------------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class ProductRef(Schema):
    id: int
    name: str
    model: str


class ComplaintIn(StrictIn):
    udi: str = Field(
        "",
        description="The device's UDI in any form (GS1 element string, raw scan, Digital Link, "
        "HIBC, EPC URN, or a bare serial). It must parse; a UDI the ledger does not know is "
        "recorded with a warning (staff only; a hospital must name a device it holds or held).",
    )
    description: str = Field(description="What happened")
    received_at: datetime | None = Field(
        None, description="When we became aware (the regulatory clocks start here); default now"
    )
    event_date: date | None = None
    complainant_party_id: int | None = Field(
        None, description="The complaining party (a hospital partner: always its own)"
    )
    complainant_name: str = ""
    complainant_contact: str = ""
    injury: bool = False
    death: bool = False


class ComplaintSummary(Schema):
    number: str
    status: StatusName
    channel: str
    received_at: datetime
    complainant: str
    udi: str
    serial: str
    lot: str
    product: ProductRef | None
    injury: bool
    death: bool
    reportable: bool | None


class InvestigationOut(Schema):
    id: int
    entry: str
    findings: str
    author: str | None
    recorded_at: datetime


class DeadlineOut(Schema):
    key: str
    jurisdiction: JurisdictionName
    label: str
    basis: str
    due_at: datetime
    reported_at: datetime | None
    reported_by: str | None
    reference: str
    state: Literal["open", "overdue", "reported", "reported_late"]
    overdue: bool = Field(description="Past due and not reported, or reported after the due time")
    seconds_left: int | None = Field(description="Until the due time (negative when overdue)")


class AdverseEventOut(Schema):
    number: str
    complaint: str
    awareness_at: datetime
    severity: SeverityName
    group_event: bool
    public_health_threat: bool
    five_day: bool
    jurisdictions: list[JurisdictionName]
    status: Literal["open", "reported", "closed"]
    created_by: str | None
    created_at: datetime
    deadlines: list[DeadlineOut]
    overdue: bool


class NcRef(Schema):
    id: int
    number: str
    status: str


class MissingOut(Schema):
    field: str
    message: str


class SignalRef(Schema):
    id: int
    dimension: str
    key: str
    status: str


class TraceLinks(Schema):
    timeline: str | None = Field(description="The unit's timeline page")
    timeline_api: str | None
    backward_api: str | None


class ComponentOut(Schema):
    epc: str
    level: int | None
    relation: str | None
    serial: str | None
    lot: str | None
    is_lot: bool
    what: str
    supplier: str | None
    supplier_gln: str | None


class BackwardSummary(Schema):
    error: str | None
    components: list[ComponentOut]
    lots: list[ComponentOut] = Field(description="Component lots and supplier lots")


class ComplaintOut(Schema):
    number: str
    status: StatusName
    channel: str
    received_at: datetime
    complainant_party: Ref | None
    complainant_name: str
    complainant_contact: str
    udi: str = Field(description="The UDI exactly as given")
    udi_resolution: Literal["", "unit", "lot", "unresolved"]
    unit_epc: str
    lot_class: str
    gtin: str
    serial: str
    lot: str
    product: ProductRef | None
    event_date: date | None
    description: str
    injury: bool
    death: bool
    reported_by: str | None
    investigation_summary: str
    root_cause: str
    reportable: bool | None
    reportability_justification: str
    decided_by: str | None
    decided_at: datetime | None
    capa_reference: str
    nonconformance: NcRef | None
    closed_by: str | None
    closed_at: datetime | None
    closure_summary: str
    investigations: list[InvestigationOut]
    adverse_event: AdverseEventOut | None
    signatures: list[dict[str, Any]]
    closure_missing: list[MissingOut] = Field(description="What closing still needs")
    component_lots: list[str]
    signals: list[SignalRef]
    links: TraceLinks | None = None
    backward: BackwardSummary | None = None
    warnings: list[str] = Field(default_factory=list)


def _summary(c: Complaint) -> dict[str, Any]:
    party = c.complainant_party
    return {
        "number": c.number,
        "status": c.status,
        "channel": c.channel,
        "received_at": c.received_at,
        "complainant": party.name if party else c.complainant_name,
        "udi": c.udi_text,
        "serial": c.serial,
        "lot": c.lot,
        "product": selectors.product_ref(c.product),
        "injury": c.injury,
        "death": c.death,
        "reportable": c.reportable,
    }


def _links(c: Complaint) -> dict[str, Any] | None:
    from urllib.parse import quote

    from django.urls import reverse

    target = c.unit_epc or c.lot_class
    if not target or c.udi_resolution not in ("unit", "lot"):
        return None
    q = quote(target, safe="")
    return {
        "timeline": f"{reverse('web:trace')}?id={q}",
        "timeline_api": f"/api/v1/units/{q}/timeline" if c.unit_epc else None,
        "backward_api": f"/api/v1/trace/backward?id={q}" if c.unit_epc else None,
    }


def _detail(c: Complaint, user: User, *, warnings: list[str] | None = None) -> dict[str, Any]:
    out = selectors.complaint_view(c, user=user)
    if not common.is_partner(user):
        out["links"] = _links(c)
        out["backward"] = selectors.backward_summary(c, user=user)
    out["warnings"] = warnings or []
    return out


def _complaint(user: User, number: str) -> Complaint:
    return selectors.complaint_get(user=user, number=number)


@router.get("/complaints", response=list[ComplaintSummary])
@paginate(Pagination)
def list_complaints(
    request: HttpRequest,
    status: StatusName | None = None,
    q: str | None = None,
    unit: str | None = None,
    lot: str | None = None,
) -> list[dict[str, Any]]:
    """Complaints, newest first (a hospital partner: its own); ``q`` matches the number,
    serial, lot, UDI or complainant name; ``unit`` / ``lot`` take the EPC URN / class."""
    user = _user(request, READ)
    qs = selectors.complaint_list(user=user, status=status, q=q, unit=unit, lot=lot)
    return [_summary(c) for c in qs]


@router.post("/complaints", response={201: ComplaintOut})
def create_complaint(request: HttpRequest, payload: ComplaintIn) -> Status:
    """Record a complaint; the signal rules are evaluated in the same transaction (a signal
    alerts QA). 422 with field ``udi`` and the parser's message for a malformed UDI."""
    user = _writer(request, partners=True)
    done = services.complaint_create(user=user, channel="api", **payload.model_dump())
    complaint = selectors.complaint_get(user=user, number=done.complaint.number)
    return Status(201, _detail(complaint, user, warnings=done.warnings))


@router.get("/complaints/{number}", response=ComplaintOut)
def get_complaint(request: HttpRequest, number: str) -> dict[str, Any]:
    """One complaint with its investigation, decision, CAPA link, adverse event, signature and
    the unit's make-up (backward trace: components, component lots, supplier lots)."""
    user = _user(request, READ)
    return _detail(_complaint(user, number), user)


class InvestigationIn(StrictIn):
    entry: str = Field(description="What was done")
    findings: str = ""
    udi: str | None = Field(None, description="Name or correct the complained device's UDI")
    investigation_summary: str | None = None
    root_cause: str | None = None
    recorded_at: datetime | None = None


@router.post("/complaints/{number}/investigation", response={201: ComplaintOut})
def add_investigation(request: HttpRequest, number: str, payload: InvestigationIn) -> Status:
    user = _writer(request)
    complaint = _complaint(user, number)
    services.complaint_investigate(complaint=complaint, user=user, **payload.model_dump())
    return Status(201, _detail(_complaint(user, number), user))


class DecisionIn(StrictIn):
    reportable: bool
    justification: str = Field(description="Why (required either way)")
    severity: SeverityName | None = Field(
        None, description="Adverse event severity; default from the complaint (death / injury)"
    )
    jurisdictions: list[JurisdictionName] | None = Field(
        None, description="Default: CN, plus US or EU when the complainant is there"
    )
    group_event: bool = False
    public_health_threat: bool = False
    five_day: bool = Field(False, description="FDA 5-day report (21 CFR 803.53)")


@router.post("/complaints/{number}/decision", response=ComplaintOut)
def decide(request: HttpRequest, number: str, payload: DecisionIn) -> dict[str, Any]:
    """The reportability decision; ``reportable`` creates the adverse event with its
    deadlines (422 when a calendar year is missing for a working-day clock)."""
    user = _writer(request)
    complaint = _complaint(user, number)
    services.complaint_decide(complaint=complaint, user=user, **payload.model_dump())
    return _detail(_complaint(user, number), user)


class CapaIn(StrictIn):
    capa_reference: str = ""
    nonconformance: str | None = Field(None, description="Number of a quality nonconformance")
    open_nonconformance: bool = Field(
        False, description="Open a nonconformance from the complaint (no hold)"
    )


@router.post("/complaints/{number}/capa", response=ComplaintOut)
def link_capa(request: HttpRequest, number: str, payload: CapaIn) -> dict[str, Any]:
    user = _writer(request)
    complaint = _complaint(user, number)
    services.complaint_link_capa(complaint=complaint, user=user, **payload.model_dump())
    return _detail(_complaint(user, number), user)


class CloseIn(StrictIn):
    password: str = Field(description="Your password: the closure is e-signed (closed)")
    summary: str
    meaning: Literal["closed"] = "closed"


@router.post("/complaints/{number}/close", response=ComplaintOut)
def close(request: HttpRequest, number: str, payload: CloseIn) -> dict[str, Any]:
    """Close with an e-signature. 409 naming what is missing (UDI, reportability decision);
    422 for a wrong password (nothing stored)."""
    user = _writer(request)
    complaint = _complaint(user, number)
    services.complaint_close(
        complaint=complaint, password=payload.password, summary=payload.summary, user=user
    )
    return _detail(_complaint(user, number), user)


class AdverseEventIn(StrictIn):
    severity: SeverityName | None = None
    jurisdictions: list[JurisdictionName] | None = None
    group_event: bool = False
    public_health_threat: bool = False
    five_day: bool = False


def _ae(ae: AdverseEvent) -> dict[str, Any]:
    return selectors.adverse_event_view(ae)


@router.post("/complaints/{number}/adverse-event", response={201: AdverseEventOut})
def create_adverse_event(request: HttpRequest, number: str, payload: AdverseEventIn) -> Status:
    user = _writer(request)
    complaint = _complaint(user, number)
    ae = services.adverse_event_create(complaint=complaint, user=user, **payload.model_dump())
    return Status(201, _ae(selectors.adverse_event_get(user=user, number=ae.number)))


# Adverse events --------------------------------------------------------------------------------


@router.get("/adverse-events", response=list[AdverseEventOut])
@paginate(Pagination)
def list_adverse_events(
    request: HttpRequest,
    status: Literal["open", "reported", "closed"] | None = None,
    overdue: bool | None = None,
) -> list[dict[str, Any]]:
    user = _user(request, READ)
    return [
        _ae(ae) for ae in selectors.adverse_event_list(user=user, status=status, overdue=overdue)
    ]


@router.get("/adverse-events/{number}", response=AdverseEventOut)
def get_adverse_event(request: HttpRequest, number: str) -> dict[str, Any]:
    user = _user(request, READ)
    return _ae(selectors.adverse_event_get(user=user, number=number))


class ReportIn(StrictIn):
    reference: str = Field(description="The regulator's reference number of the submission")
    reported_at: datetime | None = Field(None, description="Default: now")


@router.post("/adverse-events/{number}/deadlines/{key}/report", response=AdverseEventOut)
def report_deadline(
    request: HttpRequest, number: str, key: str, payload: ReportIn
) -> dict[str, Any]:
    """Record the submission to the regulator for one deadline."""
    user = _writer(request)
    ae = selectors.adverse_event_get(user=user, number=number)
    services.adverse_event_report(
        adverse_event=ae,
        key=key,
        reference=payload.reference,
        reported_at=payload.reported_at,
        user=user,
    )
    return _ae(selectors.adverse_event_get(user=user, number=number))


# Signal rules and signals ----------------------------------------------------------------------


class RuleIn(StrictIn):
    dimension: Literal["lot", "component_lot"]
    threshold: int = Field(description="Complaints that make a signal (2 or more)")
    window_days: int = Field(description="Within this many days")
    active: bool = True


class RulePatch(StrictIn):
    threshold: int | None = None
    window_days: int | None = None
    active: bool | None = None
    reason: str = ""


class RuleOut(Schema):
    id: int
    dimension: str
    threshold: int
    window_days: int
    active: bool
    created_at: datetime


def _rule(rule: SignalRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "dimension": rule.dimension,
        "threshold": rule.threshold,
        "window_days": rule.window_days,
        "active": rule.active,
        "created_at": rule.created_at,
    }


@router.get("/signal-rules", response=list[RuleOut])
def list_rules(request: HttpRequest) -> list[dict[str, Any]]:
    user = _user(request, READ)
    return [_rule(r) for r in selectors.signal_rule_list(user=user)]


@router.post("/signal-rules", response={201: RuleOut})
def create_rule(request: HttpRequest, payload: RuleIn) -> Status:
    user = _writer(request)
    rule = services.signal_rule_create(user=user, **payload.model_dump())
    return Status(201, _rule(rule))


@router.patch("/signal-rules/{rule_id}", response=RuleOut)
def update_rule(request: HttpRequest, rule_id: int, payload: RulePatch) -> dict[str, Any]:
    user = _writer(request)
    rule = selectors.signal_rule_get(user=user, pk=rule_id)
    data = payload.model_dump(exclude_unset=True)
    reason = data.pop("reason", "")
    return _rule(services.signal_rule_update(rule=rule, data=data, user=user, reason=reason))


class SignalOut(Schema):
    id: int
    dimension: str
    key: str
    status: str
    rule_id: int
    complaints: list[str]
    alert_id: int | None
    alert_status: str | None
    evidence: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    closed_at: datetime | None


@router.get("/signals", response=list[SignalOut])
@paginate(Pagination)
def list_signals(
    request: HttpRequest, status: Literal["open", "closed"] | None = None
) -> list[dict[str, Any]]:
    """Complaint signals with their evidence (lot, supplier, complaints, units made with it)."""
    user = _user(request, READ)
    return [selectors.signal_view(s) for s in selectors.signal_list(user=user, status=status)]
