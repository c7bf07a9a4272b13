"""Implant record endpoints (patient-linked, DESIGN §8): masked by default, audited reveal.

A patient's ID number is looked up with ``POST /implants/search`` (in the body), never in a
query string, so it does not end up in access logs or browser history.
"""

# No `from __future__ import annotations`: ninja's paginate wrapper resolves the body schema of
# POST /implants/search from its own module, so annotations must be real classes.
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination

from . import selectors, services

router = Router(tags=["implant records"])

READ, WRITE, REVEAL = "implants:read", "implants:write", "implants:reveal"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class ImplantIn(StrictIn):
    udi: str = Field(description="The implant's UDI in any form (with its serial), or EPC URN")
    hospital_id: int = Field(description="Id of the hospital party")
    implanted_on: date
    patient_name: str
    patient_id_number: str = Field(
        description="Resident ID number (18 characters, check digit verified), or a passport or "
        "other document number"
    )
    patient_phone: str = ""
    surgeon: str = ""
    department: str = ""


class ImplantPatch(StrictIn):
    reason: str = Field(description="Why the record is corrected (required, audited)")
    udi: str | None = None
    hospital_id: int | None = None
    implanted_on: date | None = None
    patient_name: str | None = None
    patient_id_number: str | None = None
    patient_phone: str | None = None
    surgeon: str | None = None
    department: str | None = None


class SearchIn(StrictIn):
    patient_id_number: str | None = None
    unit: str | None = None


class RevealIn(StrictIn):
    reason: str = Field(description="Why the patient's data is needed (required, audited)")


class ProductRef(Schema):
    id: int
    name: str
    model: str


class HospitalRef(Schema):
    id: int
    name: str


class ImplantOut(Schema):
    id: int
    unit_epc: str
    udi: str
    serial: str
    lot: str
    product: ProductRef | None
    hospital: HospitalRef
    implanted_on: date
    patient_name: str = Field(description="Masked: first character + **")
    patient_id_number: str = Field(description="Masked: all but the last 4 characters")
    patient_phone: str = Field(description="Masked: first 3 and last 4 digits")
    surgeon: str
    department: str
    created_by: str | None
    created_at: datetime
    masked: bool


class RevealOut(Schema):
    id: int
    patient_name: str
    patient_id_number: str
    patient_phone: str
    audit_entry: int = Field(description="Sequence number of the view-sensitive audit entry")


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    # Every route is authenticated (session or bearer token), so this is a real user.
    assert isinstance(request.user, User)
    return request.user


@router.get("/implants", response=list[ImplantOut])
@paginate(Pagination)
def list_implants(
    request: HttpRequest, unit: str | None = None, hospital_id: int | None = None
) -> list[dict[str, Any]]:
    """Implant records, masked; ``unit`` takes a UDI in any form, an EPC URN or a serial."""
    user = _user(request, READ)
    qs = selectors.implant_list(user=user, unit=unit, hospital_id=hospital_id)
    return [selectors.masked(r) for r in qs]


@router.post("/implants/search", response=list[ImplantOut])
@paginate(Pagination)
def search_implants(request: HttpRequest, payload: SearchIn) -> list[dict[str, Any]]:
    """A patient's implants by ID number (exact match on a keyed blind index), masked."""
    user = _user(request, READ)
    qs = selectors.implant_list(
        user=user, unit=payload.unit, patient_id_number=payload.patient_id_number
    )
    return [selectors.masked(r) for r in qs]


@router.post("/implants", response={201: ImplantOut})
def create_implant(request: HttpRequest, payload: ImplantIn) -> Status:
    user = _user(request, WRITE)
    record = services.implant_record_create(data=payload.model_dump(), user=user)
    return Status(201, selectors.masked(selectors.implant_get(user=None, pk=record.pk)))


@router.get("/implants/{record_id}", response=ImplantOut)
def get_implant(request: HttpRequest, record_id: int) -> dict[str, Any]:
    user = _user(request, READ)
    return selectors.masked(selectors.implant_get(user=user, pk=record_id))


@router.patch("/implants/{record_id}", response=ImplantOut)
def update_implant(request: HttpRequest, record_id: int, payload: ImplantPatch) -> dict[str, Any]:
    """Correct a record; ``reason`` is required and written to the audit trail."""
    user = _user(request, WRITE)
    record = selectors.implant_get(user=user, pk=record_id)
    data = payload.model_dump(exclude_unset=True)
    reason = data.pop("reason")
    services.implant_record_update(record=record, data=data, user=user, reason=reason)
    return selectors.masked(selectors.implant_get(user=user, pk=record_id))


@router.post("/implants/{record_id}/reveal", response=RevealOut)
def reveal_implant(request: HttpRequest, record_id: int, payload: RevealIn) -> dict[str, Any]:
    """The patient's plain name, ID number and phone. Needs service.reveal_implantrecord (and
    the implants:reveal scope for tokens); every call writes a view-sensitive audit entry."""
    user = _user(request, REVEAL)
    record = selectors.implant_get(user=user, pk=record_id)
    return services.implant_reveal(record=record, user=user, reason=payload.reason)
