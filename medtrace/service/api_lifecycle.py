"""Installed base, maintenance, repair tickets and scrap: /api/v1/installations, ...

Reads need the ``lifecycle:read`` scope, writes ``service:write``. A hospital's own staff
(partner users) read their hospital's installed base, visits and tickets, and record
installations and report faults for units their hospital holds; their tokens carry
``partner:receive`` for these writes (partner tokens cannot carry ``service:write``). Units are
named in any UDI form (GS1 element string, raw scan, Digital Link, HIBC, EPC URN, bare serial).
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
from medtrace.audit.signatures import signatures_for
from medtrace.core.pagination import Pagination
from medtrace.service import common, selectors, services
from medtrace.service.models import (
    InstalledUnit,
    MaintenancePlan,
    MaintenanceVisit,
    ScrapRecord,
    ServiceTicket,
)

router = Router(tags=["installed base and service"])

READ, WRITE, PARTNER_WRITE = "lifecycle:read", "service:write", "partner:receive"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# Shared output parts ---------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class ProductRef(Schema):
    id: int
    name: str
    model: str


class LocationRef(Schema):
    id: int
    code: str
    name: str
    sgln: str


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str


class AttachmentIn(StrictIn):
    name: str
    content_base64: str = Field(description="The file's bytes, base64")
    content_type: str = ""


class MeasurementIn(StrictIn):
    name: str
    value: bool | float | str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    passed: bool | None = Field(
        None, alias="pass", description="For a check without limits: did it pass"
    )


class Measurement(Schema):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    value: bool | float | str | None
    unit: str
    min: float | None
    max: float | None
    passed: bool | None = Field(alias="pass", description="Within limits / check passed")


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _writer(request: HttpRequest, *, partners: bool = False) -> User:
    """``service:write``; for a hospital partner's own writes, ``partner:receive``."""
    assert isinstance(request.user, User)
    partner = partners and common.is_partner(request.user)
    return _user(request, PARTNER_WRITE if partner else WRITE)


def _product(product: Any) -> dict[str, Any] | None:
    if product is None:
        return None
    return {"id": product.pk, "name": product.name, "model": product.model}


def _attachment(att: Any) -> dict[str, Any] | None:
    if att is None:
        return None
    return {
        "id": att.pk,
        "name": att.name,
        "content_type": att.content_type,
        "size": att.size,
        "sha256": att.sha256,
    }


def _who(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _measurements(items: list[MeasurementIn] | None) -> list[dict[str, Any]]:
    return [m.model_dump(by_alias=True, exclude_unset=True) for m in items or []]


# Installed base --------------------------------------------------------------------------------


class InstallationIn(StrictIn):
    unit: str = Field(description="The unit's UDI in any form, EPC URN or serial")
    department_id: int = Field(description="Id of the hospital department (a location)")
    hospital_id: int | None = Field(None, description="Optional check: the department's hospital")
    installed_at: datetime | None = Field(None, description="Default: now")
    engineer: str = Field("", description="Who installed it (default: the signed-in user)")
    implant_record_id: int | None = Field(None, description="Link to the unit's implant record")
    note: str = ""


class EndIn(StrictIn):
    reason: str
    removed_at: datetime | None = None


class InstallationOut(Schema):
    id: int
    number: str
    unit_epc: str
    serial: str
    lot: str
    product: ProductRef | None
    hospital: Ref
    department: LocationRef
    installed_at: datetime
    installed_by: str | None
    engineer: str
    status: Literal["in_use", "removed", "scrapped"]
    implant_record_id: int | None = Field(description="Only the link: patient data stays there")
    note: str
    ended_at: datetime | None
    end_reason: str
    event_id: str | None = Field(description="EPCIS eventID of the installing event")


def _installation(row: InstalledUnit) -> dict[str, Any]:
    d = row.department
    return {
        "id": row.pk,
        "number": row.number,
        "unit_epc": row.unit_epc,
        "serial": row.serial,
        "lot": row.lot,
        "product": _product(row.product),
        "hospital": {"id": row.hospital_id, "name": row.hospital.name},
        "department": {"id": d.pk, "code": d.code, "name": d.name, "sgln": d.sgln},
        "installed_at": row.installed_at,
        "installed_by": _who(row.installed_by),
        "engineer": row.engineer,
        "status": row.status,
        "implant_record_id": row.implant_record_id,
        "note": row.note,
        "ended_at": row.ended_at,
        "end_reason": row.end_reason,
        "event_id": row.event.event_id if row.event_id and row.event else None,
    }


@router.get("/installations", response=list[InstallationOut])
@paginate(Pagination)
def list_installations(
    request: HttpRequest,
    unit: str | None = None,
    hospital_id: int | None = None,
    department_id: int | None = None,
    status: Literal["in_use", "removed", "scrapped"] | None = None,
) -> list[dict[str, Any]]:
    """The installed base (a hospital partner: its own), newest first."""
    user = _user(request, READ)
    qs = selectors.installation_list(
        user=user, unit=unit, hospital_id=hospital_id, department_id=department_id, status=status
    )
    return [_installation(r) for r in qs]


@router.post("/installations", response={201: InstallationOut})
def create_installation(request: HttpRequest, payload: InstallationIn) -> Status:
    """Install a unit at a hospital department (ObjectEvent ``installing`` / ``active`` at the
    department). 409 for a unit the state machine refuses or the hospital does not hold."""
    user = _writer(request, partners=True)
    row = services.installation_create(user=user, **payload.model_dump())
    return Status(201, _installation(selectors.installation_get(user=user, pk=row.pk)))


@router.get("/installations/{installation_id}", response=InstallationOut)
def get_installation(request: HttpRequest, installation_id: int) -> dict[str, Any]:
    user = _user(request, READ)
    return _installation(selectors.installation_get(user=user, pk=installation_id))


@router.post("/installations/{installation_id}/remove", response=InstallationOut)
def remove_installation(
    request: HttpRequest, installation_id: int, payload: EndIn
) -> dict[str, Any]:
    """Take the unit out of use at its department (the installation ends as ``removed``)."""
    user = _writer(request, partners=True)
    row = selectors.installation_get(user=user, pk=installation_id)
    services.installation_remove(
        installation=row, user=user, reason=payload.reason, at=payload.removed_at
    )
    return _installation(selectors.installation_get(user=user, pk=installation_id))


# Maintenance -----------------------------------------------------------------------------------


class PlanItem(StrictIn):
    name: str
    unit: str = ""
    min: float | None = None
    max: float | None = None


class PlanIn(StrictIn):
    name: str
    kind: Literal["maintenance", "calibration"]
    product_id: int | None = Field(None, description="Every installed unit of this product")
    unit: str | None = Field(None, description="Or one unit (any UDI form)")
    interval_days: int
    items: list[PlanItem] = Field(default_factory=list, description="Checklist and test items")
    note: str = ""


class PlanOut(Schema):
    id: int
    number: str
    name: str
    kind: str
    product: ProductRef
    unit_epc: str
    interval_days: int
    items: list[PlanItem]
    active: bool
    note: str
    created_at: datetime


def _plan(plan: MaintenancePlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "number": plan.number,
        "name": plan.name,
        "kind": plan.kind,
        "product": _product(plan.product),
        "unit_epc": plan.unit_epc,
        "interval_days": plan.interval_days,
        "items": plan.items,
        "active": plan.active,
        "note": plan.note,
        "created_at": plan.created_at,
    }


@router.get("/maintenance-plans", response=list[PlanOut])
def list_plans(
    request: HttpRequest, product_id: int | None = None, active: bool | None = None
) -> list[dict[str, Any]]:
    user = _user(request, READ)
    return [_plan(p) for p in selectors.plan_list(user=user, product_id=product_id, active=active)]


@router.post("/maintenance-plans", response={201: PlanOut})
def create_plan(request: HttpRequest, payload: PlanIn) -> Status:
    """A maintenance or calibration plan for a product's installed units, or for one unit."""
    user = _writer(request)
    plan = services.maintenance_plan_create(data=payload.model_dump(), user=user)
    return Status(201, _plan(selectors.plan_get(user=user, pk=plan.pk)))


@router.get("/maintenance-plans/{plan_id}", response=PlanOut)
def get_plan(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    user = _user(request, READ)
    return _plan(selectors.plan_get(user=user, pk=plan_id))


class PlanActiveIn(StrictIn):
    active: bool = Field(description="false retires the plan (its visits stay); true restores it")
    reason: str = Field(description="Why (recorded in the audit trail)")


@router.patch("/maintenance-plans/{plan_id}", response=PlanOut)
def set_plan_active(request: HttpRequest, plan_id: int, payload: PlanActiveIn) -> dict[str, Any]:
    """Retire a plan that no longer applies, or bring it back."""
    user = _writer(request)
    plan = services.maintenance_plan_set_active(
        plan=selectors.plan_get(user=user, pk=plan_id),
        active=payload.active,
        user=user,
        reason=payload.reason,
    )
    return _plan(selectors.plan_get(user=user, pk=plan.pk))


class PlanRef(Schema):
    id: int
    number: str
    name: str
    kind: str
    interval_days: int


class VisitRef(Schema):
    id: int
    number: str
    performed_at: datetime
    result: str


class DueOut(Schema):
    installation_id: int
    unit_epc: str
    serial: str
    product: ProductRef | None
    hospital: Ref
    department: LocationRef
    plan: PlanRef
    last_visit: VisitRef | None
    due_on: date
    overdue: bool
    days_overdue: int = Field(description="Days past due; negative: days left")


@router.get("/maintenance/due", response=list[DueOut])
def maintenance_due(
    request: HttpRequest, within_days: int = 30, today: date | None = None
) -> list[dict[str, Any]]:
    """Installed units due for maintenance or calibration within ``within_days`` (or overdue),
    most overdue first."""
    user = _user(request, READ)
    within = common.positive_int("within_days", within_days, minimum=0, maximum=3660)
    out = []
    for due in selectors.maintenance_due(within_days=within, today=today, user=user):
        i, p, v = due.installation, due.plan, due.last_visit
        d = i.department
        out.append(
            {
                "installation_id": i.pk,
                "unit_epc": i.unit_epc,
                "serial": i.serial,
                "product": _product(i.product),
                "hospital": {"id": i.hospital_id, "name": i.hospital.name},
                "department": {"id": d.pk, "code": d.code, "name": d.name, "sgln": d.sgln},
                "plan": {
                    "id": p.pk,
                    "number": p.number,
                    "name": p.name,
                    "kind": p.kind,
                    "interval_days": p.interval_days,
                },
                "last_visit": (
                    {
                        "id": v.pk,
                        "number": v.number,
                        "performed_at": v.performed_at,
                        "result": v.result,
                    }
                    if v is not None
                    else None
                ),
                "due_on": due.due_on,
                "overdue": due.overdue,
                "days_overdue": due.days_overdue,
            }
        )
    return out


class VisitIn(StrictIn):
    plan_id: int
    unit: str = Field(description="The unit's UDI in any form, EPC URN or serial")
    work_done: str
    performed_at: datetime | None = None
    measurements: list[MeasurementIn] = Field(default_factory=list)
    attachment: AttachmentIn | None = Field(None, description="A test report file")
    result: Literal["pass", "fail"] | None = Field(
        None, description="Default: from the measurements (an out-of-limit value fails)"
    )
    engineer_name: str = ""


class VisitOut(Schema):
    id: int
    number: str
    plan: PlanRef
    installation_id: int | None
    unit_epc: str
    serial: str
    performed_at: datetime
    engineer: str
    work_done: str
    measurements: list[Measurement]
    attachment: AttachmentOut | None
    result: str
    next_due: date
    event_id: str | None


def _visit(v: MaintenanceVisit) -> dict[str, Any]:
    p = v.plan
    return {
        "id": v.pk,
        "number": v.number,
        "plan": {
            "id": p.pk,
            "number": p.number,
            "name": p.name,
            "kind": p.kind,
            "interval_days": p.interval_days,
        },
        "installation_id": v.installation_id,
        "unit_epc": v.unit_epc,
        "serial": v.serial,
        "performed_at": v.performed_at,
        "engineer": v.engineer_name,
        "work_done": v.work_done,
        "measurements": v.measurements,
        "attachment": _attachment(v.attachment),
        "result": v.result,
        "next_due": v.next_due,
        "event_id": v.event.event_id if v.event_id and v.event else None,
    }


@router.get("/maintenance-visits", response=list[VisitOut], by_alias=True)
@paginate(Pagination)
def list_visits(
    request: HttpRequest, unit: str | None = None, plan_id: int | None = None
) -> list[dict[str, Any]]:
    user = _user(request, READ)
    return [_visit(v) for v in selectors.visit_list(user=user, unit=unit, plan_id=plan_id)]


@router.post("/maintenance-visits", response={201: VisitOut}, by_alias=True)
def create_visit(request: HttpRequest, payload: VisitIn) -> Status:
    """Record a visit: work done and test data (ObjectEvent ``maintaining`` / ``calibrating``
    with the visit as its test report, ``testres``)."""
    user = _writer(request)
    visit = services.maintenance_visit_record(
        plan=payload.plan_id,
        unit=payload.unit,
        user=user,
        work_done=payload.work_done,
        performed_at=payload.performed_at,
        measurements=_measurements(payload.measurements),
        attachment=payload.attachment.model_dump() if payload.attachment else None,
        result=payload.result,
        engineer_name=payload.engineer_name,
    )
    return Status(201, _visit(selectors.visit_get(user=user, pk=visit.pk)))


@router.get("/maintenance-visits/{visit_id}", response=VisitOut, by_alias=True)
def get_visit(request: HttpRequest, visit_id: int) -> dict[str, Any]:
    user = _user(request, READ)
    return _visit(selectors.visit_get(user=user, pk=visit_id))


# Tickets ---------------------------------------------------------------------------------------


class TicketIn(StrictIn):
    unit: str = Field(description="The unit's UDI in any form, EPC URN or serial")
    symptom: str
    reporter_id: int | None = Field(None, description="Reporting party (default: its hospital)")
    reporter_contact: str = ""
    rma_reference: str = ""
    opened_at: datetime | None = None


class DiagnoseIn(StrictIn):
    diagnosis: str
    rma_reference: str | None = None
    at: datetime | None = None


class SwapIn(StrictIn):
    removed: str = Field(description="The part taken out (any UDI form)")
    installed: str = Field(description="The part put in (any UDI form)")
    at: datetime | None = None


class TestIn(StrictIn):
    measurements: list[MeasurementIn] = Field(default_factory=list)
    attachment: AttachmentIn | None = None
    result: Literal["pass", "fail"] | None = None
    at: datetime | None = None


class ResolveIn(StrictIn):
    resolution: str
    at: datetime | None = None


class CloseIn(StrictIn):
    note: str = Field("", description="Required when the ticket was not resolved")
    at: datetime | None = None


class SwapOut(Schema):
    removed_epc: str
    removed_serial: str
    installed_epc: str
    installed_serial: str
    swapped_at: datetime
    swapped_by: str | None


class TicketOut(Schema):
    id: int
    number: str
    unit_epc: str
    serial: str
    product: ProductRef | None
    installation_id: int | None
    reporter: Ref | None
    reporter_contact: str
    status: Literal["open", "diagnosed", "in_repair", "testing", "resolved", "closed"]
    symptom: str
    rma_reference: str
    opened_at: datetime
    opened_by: str | None
    diagnosis: str
    diagnosed_at: datetime | None
    swaps: list[SwapOut]
    test_measurements: list[Measurement]
    test_attachment: AttachmentOut | None
    test_result: str
    tested_at: datetime | None
    resolution: str
    resolved_at: datetime | None
    closed_at: datetime | None
    close_note: str
    age_hours: float = Field(description="Open for (until resolved)")
    time_to_resolve_hours: float | None
    time_to_resolve: str | None = Field(description='e.g. "2 d 4 h"')


def _ticket(t: ServiceTicket) -> dict[str, Any]:
    ttr = t.time_to_resolve
    return {
        "id": t.pk,
        "number": t.number,
        "unit_epc": t.unit_epc,
        "serial": t.serial,
        "product": _product(t.product),
        "installation_id": t.installation_id,
        "reporter": {"id": t.reporter.pk, "name": t.reporter.name} if t.reporter else None,
        "reporter_contact": t.reporter_contact,
        "status": t.status,
        "symptom": t.symptom,
        "rma_reference": t.rma_reference,
        "opened_at": t.opened_at,
        "opened_by": _who(t.opened_by),
        "diagnosis": t.diagnosis,
        "diagnosed_at": t.diagnosed_at,
        "swaps": [
            {
                "removed_epc": s.removed_epc,
                "removed_serial": s.removed_serial,
                "installed_epc": s.installed_epc,
                "installed_serial": s.installed_serial,
                "swapped_at": s.swapped_at,
                "swapped_by": _who(s.swapped_by),
            }
            for s in t.swaps.select_related("swapped_by")
        ],
        "test_measurements": t.test_measurements,
        "test_attachment": _attachment(t.test_attachment),
        "test_result": t.test_result,
        "tested_at": t.tested_at,
        "resolution": t.resolution,
        "resolved_at": t.resolved_at,
        "closed_at": t.closed_at,
        "close_note": t.close_note,
        "age_hours": round(selectors.ticket_age(t).total_seconds() / 3600, 2),
        "time_to_resolve_hours": round(ttr.total_seconds() / 3600, 2) if ttr else None,
        "time_to_resolve": selectors.duration_text(ttr) or None,
    }


@router.get("/service-tickets", response=list[TicketOut], by_alias=True)
@paginate(Pagination)
def list_tickets(
    request: HttpRequest,
    status: Literal["open", "diagnosed", "in_repair", "testing", "resolved", "closed"]
    | None = None,
    open_only: bool = False,
    unit: str | None = None,
    hospital_id: int | None = None,
) -> list[dict[str, Any]]:
    user = _user(request, READ)
    qs = selectors.ticket_list(
        user=user, status=status, open_only=open_only, unit=unit, hospital_id=hospital_id
    )
    return [_ticket(t) for t in qs]


@router.post("/service-tickets", response={201: TicketOut}, by_alias=True)
def create_ticket(request: HttpRequest, payload: TicketIn) -> Status:
    """Report a fault on a unit (a hospital partner: on its own units)."""
    user = _writer(request, partners=True)
    ticket = services.ticket_open(user=user, **payload.model_dump())
    return Status(201, _ticket(selectors.ticket_get(user=user, pk=ticket.pk)))


@router.get("/service-tickets/{ticket_id}", response=TicketOut, by_alias=True)
def get_ticket(request: HttpRequest, ticket_id: int) -> dict[str, Any]:
    user = _user(request, READ)
    return _ticket(selectors.ticket_get(user=user, pk=ticket_id))


def _ticket_for_write(request: HttpRequest, ticket_id: int) -> tuple[User, ServiceTicket]:
    user = _writer(request)
    return user, selectors.ticket_get(user=user, pk=ticket_id)


@router.post("/service-tickets/{ticket_id}/diagnose", response=TicketOut, by_alias=True)
def diagnose_ticket(request: HttpRequest, ticket_id: int, payload: DiagnoseIn) -> dict[str, Any]:
    user, ticket = _ticket_for_write(request, ticket_id)
    services.ticket_diagnose(ticket=ticket, user=user, **payload.model_dump())
    return _ticket(selectors.ticket_get(user=user, pk=ticket_id))


@router.post("/service-tickets/{ticket_id}/swap-part", response=TicketOut, by_alias=True)
def swap_part(request: HttpRequest, ticket_id: int, payload: SwapIn) -> dict[str, Any]:
    """Take ``removed`` out of the unit and fit ``installed`` (AssociationEvent DELETE + ADD)."""
    user, ticket = _ticket_for_write(request, ticket_id)
    services.ticket_swap_part(ticket=ticket, user=user, **payload.model_dump())
    return _ticket(selectors.ticket_get(user=user, pk=ticket_id))


@router.post("/service-tickets/{ticket_id}/test", response=TicketOut, by_alias=True)
def test_ticket(request: HttpRequest, ticket_id: int, payload: TestIn) -> dict[str, Any]:
    """The test before return: measurements judged against their limits, and/or a report."""
    user, ticket = _ticket_for_write(request, ticket_id)
    services.ticket_test(
        ticket=ticket,
        user=user,
        measurements=_measurements(payload.measurements),
        attachment=payload.attachment.model_dump() if payload.attachment else None,
        result=payload.result,
        at=payload.at,
    )
    return _ticket(selectors.ticket_get(user=user, pk=ticket_id))


@router.post("/service-tickets/{ticket_id}/resolve", response=TicketOut, by_alias=True)
def resolve_ticket(request: HttpRequest, ticket_id: int, payload: ResolveIn) -> dict[str, Any]:
    """Return the unit to use; needs a passed test after the last part swap (422 otherwise)."""
    user, ticket = _ticket_for_write(request, ticket_id)
    services.ticket_resolve(ticket=ticket, user=user, **payload.model_dump())
    return _ticket(selectors.ticket_get(user=user, pk=ticket_id))


@router.post("/service-tickets/{ticket_id}/close", response=TicketOut, by_alias=True)
def close_ticket(request: HttpRequest, ticket_id: int, payload: CloseIn) -> dict[str, Any]:
    user, ticket = _ticket_for_write(request, ticket_id)
    services.ticket_close(ticket=ticket, user=user, **payload.model_dump())
    return _ticket(selectors.ticket_get(user=user, pk=ticket_id))


# Scrap -----------------------------------------------------------------------------------------


class ScrapIn(StrictIn):
    units: list[str] = Field(description="The units, each in any UDI form")
    reason: str
    method: Literal["dismantled", "destroyed", "incinerated", "returned", "other"]
    password: str = Field(description="Your password: the scrap is e-signed (approved)")
    scrapped_at: datetime | None = None


class ScrapUnit(Schema):
    unit_epc: str
    serial: str
    installation_id: int | None


class SignatureOut(Schema):
    meaning: str
    printed_name: str
    username: str
    signed_at: datetime
    content_sha256: str
    valid: bool


class ScrapOut(Schema):
    id: int
    number: str
    reason: str
    method: str
    scrapped_at: datetime
    scrapped_by: str | None
    units: list[ScrapUnit]
    signatures: list[SignatureOut]
    event_id: str | None


def _scrap(r: ScrapRecord) -> dict[str, Any]:
    return {
        "id": r.pk,
        "number": r.number,
        "reason": r.reason,
        "method": r.method,
        "scrapped_at": r.scrapped_at,
        "scrapped_by": _who(r.scrapped_by),
        "units": [
            {"unit_epc": i.unit_epc, "serial": i.serial, "installation_id": i.installation_id}
            for i in r.items.all()
        ],
        "signatures": [s.as_dict() for s in signatures_for(r)],
        "event_id": r.event.event_id if r.event_id and r.event else None,
    }


@router.get("/scrap", response=list[ScrapOut])
@paginate(Pagination)
def list_scrap(request: HttpRequest, unit: str | None = None) -> list[dict[str, Any]]:
    user = _user(request, READ)
    return [_scrap(r) for r in selectors.scrap_list(user=user, unit=unit)]


@router.post("/scrap", response={201: ScrapOut})
def create_scrap(request: HttpRequest, payload: ScrapIn) -> Status:
    """Scrap units with a reason and method, e-signed with your password (meaning
    "approved"). A wrong password stores nothing (and counts towards the signing lock)."""
    user = _writer(request)
    record = services.scrap_create(user=user, **payload.model_dump())
    return Status(201, _scrap(selectors.scrap_get(user=user, pk=record.pk)))


@router.get("/scrap/{scrap_id}", response=ScrapOut)
def get_scrap(request: HttpRequest, scrap_id: int) -> dict[str, Any]:
    user = _user(request, READ)
    return _scrap(selectors.scrap_get(user=user, pk=scrap_id))
