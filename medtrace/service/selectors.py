"""Implant record reads: scoped to the requesting user, masked by default (DESIGN §8, §9).

Internal staff need ``service.view_implantrecord``. A partner user sees only the records of
their own hospital (a record of another hospital is "not found", never "forbidden", so its
existence does not leak); a partner that is not a hospital sees none. Partner scoping of units
lives in ``medtrace.trace.selectors.scope_units``; implant records are scoped by their
``hospital`` here, the one place that filters them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from medtrace.accounts.models import User
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.models import PartyRole
from medtrace.masterdata.selectors import resolve_udi

from .models import ImplantRecord
from .services import PERM_VIEW, patient_id_index


def scope_implants(user: User | None, qs: QuerySet[ImplantRecord]) -> QuerySet[ImplantRecord]:
    """The records ``user`` may see (``None`` is the CLI: all)."""
    if user is None:
        return qs
    if user.party_id is not None:
        party = user.party
        if party is None or party.role != PartyRole.HOSPITAL:
            return qs.none()
        return qs.filter(hospital_id=party.pk)
    if not user.has_perm(PERM_VIEW):
        raise PermissionDenied(
            f"You need the permission {PERM_VIEW} to see implant records",
            details={"required": PERM_VIEW},
        )
    return qs


def _unit_condition(text: str) -> Q:
    """Records of the unit ``text`` names: EPC URN, any UDI form, or a bare serial."""
    text = text.strip()
    condition = Q(unit_epc=text) | Q(serial=text)
    try:
        identity, _product = resolve_udi(text)
    except ValidationFailed:
        return condition
    if identity.epc:
        condition |= Q(unit_epc=identity.epc)
    serial = identity.serial or (identity.hibc.serial if identity.hibc else None)
    if serial and identity.di:
        condition |= Q(serial=serial, product__identifiers__di=identity.di)
    return condition


def implant_list(
    *,
    user: User | None,
    unit: str | None = None,
    patient_id_number: str | None = None,
    hospital_id: int | None = None,
) -> QuerySet[ImplantRecord]:
    """Records ``user`` may see, optionally of one unit, one patient (blind index) or hospital."""
    qs = scope_implants(
        user, ImplantRecord.objects.select_related("hospital", "product", "created_by")
    )
    if unit and unit.strip():
        qs = qs.filter(_unit_condition(unit)).distinct()
    if patient_id_number and patient_id_number.strip():
        qs = qs.filter(patient_id_index=patient_id_index(patient_id_number))
    if hospital_id is not None:
        qs = qs.filter(hospital_id=hospital_id)
    return qs.order_by("-implanted_on", "-id")


def implant_get(*, user: User | None, pk: int) -> ImplantRecord:
    record = implant_list(user=user).filter(pk=pk).first()
    if record is None:
        raise NotFound(f"No implant record {pk}", details={"id": pk})
    return record


def masked(record: ImplantRecord) -> dict[str, Any]:
    """A record as every default view shows it: patient values masked."""
    product = record.product
    return {
        "id": record.pk,
        "unit_epc": record.unit_epc,
        "udi": record.udi,
        "serial": record.serial,
        "lot": record.lot,
        "product": (
            {"id": product.pk, "name": product.name, "model": product.model} if product else None
        ),
        "hospital": {"id": record.hospital_id, "name": record.hospital.name},
        "implanted_on": record.implanted_on,
        "patient_name": record.patient_name_masked,
        "patient_id_number": record.patient_id_number_masked,
        "patient_phone": record.patient_phone_masked,
        "surgeon": record.surgeon,
        "department": record.department,
        "created_by": record.created_by.get_username() if record.created_by else None,
        "created_at": record.created_at,
        "masked": True,
    }


# The installed base, maintenance, tickets and scrap (issue 5 item 6).
from .lifecycle_selectors import (  # noqa: E402, F401
    Due,
    duration_text,
    fitted_in,
    installation_get,
    installation_list,
    maintenance_due,
    plan_get,
    plan_list,
    scrap_get,
    scrap_list,
    ticket_age,
    ticket_get,
    ticket_list,
    visit_get,
    visit_list,
)
