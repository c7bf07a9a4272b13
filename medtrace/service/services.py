"""Implant records: create, correct, reveal (DESIGN §4 and §8).

Every write validates in full, checks the permission and runs in one transaction with its audit
entry. Patient values never reach the audit trail: entries carry ``***`` and a keyed fingerprint
(HMAC, so the small space of phone and ID numbers cannot be searched for a match), and revealing
them writes a ``view-sensitive`` entry naming who, when and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.core.fields import blind_index, fingerprint
from medtrace.errors import Conflict, PermissionDenied, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lib import personal, udi
from medtrace.masterdata.models import Party, PartyRole, Product
from medtrace.masterdata.selectors import resolve_udi

from .models import PATIENT_FIELDS, ImplantRecord

PERM_ADD = "service.add_implantrecord"
PERM_CHANGE = "service.change_implantrecord"
PERM_VIEW = "service.view_implantrecord"
PERM_REVEAL = "service.reveal_implantrecord"

ID_INDEX_FIELD = "service.implantrecord.patient_id_number"
EDITABLE_FIELDS = {
    "udi",
    "hospital_id",
    "implanted_on",
    "patient_name",
    "patient_id_number",
    "patient_phone",
    "surgeon",
    "department",
}
REQUIRED_FIELDS = ("udi", "hospital_id", "implanted_on", "patient_name", "patient_id_number")
MAX_TEXT = 100


# Permissions ---------------------------------------------------------------------------------


def _refusals(action: str) -> tuple[str, str]:
    """(partner refusal, missing-permission refusal) for ``action``, as whole sentences so
    each language words them its own way."""
    if action == "add":
        return (
            _("Partner accounts cannot add implant records"),
            _("You need the permission %(perm)s to add implant records"),
        )
    if action == "change":
        return (
            _("Partner accounts cannot change implant records"),
            _("You need the permission %(perm)s to change implant records"),
        )
    return (
        _("Partner accounts cannot reveal the patient data of implant records"),
        _("You need the permission %(perm)s to reveal the patient data of implant records"),
    )


def require(user: User | None, perm: str, action: str) -> None:
    """Internal staff with ``perm``; the system (``None``: CLI, demo) for writes only."""
    if user is None:
        if perm == PERM_REVEAL:
            raise PermissionDenied("Revealing patient data needs a signed-in person")
        return
    partner, missing = _refusals(action)
    if user.party_id is not None:
        raise PermissionDenied(partner, details={"required": perm})
    if not user.has_perm(perm):
        raise PermissionDenied(missing % {"perm": perm}, details={"required": perm})


def patient_id_index(number: str) -> str:
    """The blind index of an ID number as typed (normalised first)."""
    return blind_index(personal.normalize_id_number(number), field=ID_INDEX_FIELD)


# Validation ----------------------------------------------------------------------------------


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}",
        field=field,
        details=[{"field": field, "message": message, "code": code}],
    )


def _unit(text: Any) -> dict[str, Any]:
    """The unit a UDI (any form, DESIGN §5) names: its EPC, readable UDI, serial, lot, product.

    The unit need not be in the ledger yet (hospitals record implants of devices shipped before
    medtrace), but the UDI must parse and name one serialized unit.
    """
    if not isinstance(text, str) or not text.strip():
        raise _invalid("udi", "scan or type the implant's UDI (with its serial number)", "required")
    text = text.strip()
    identity, product = resolve_udi(text)  # ValidationFailed with the parser's reason
    serial = identity.serial or (identity.hibc.serial if identity.hibc else None)
    if identity.sscc or not serial:
        raise _invalid(
            "udi",
            "an implant record names one unit: give the full UDI with its serial number "
            "(GS1 AI 21 or the HIBC serial)",
        )
    epc = identity.epc
    state = None
    if epc:
        state = UnitState.objects.filter(epc=epc).select_related("product").first()
    elif identity.gtin:
        state = (
            UnitState.objects.filter(gtin=identity.gtin, serial=serial)
            .select_related("product")
            .first()
        )
        epc = state.epc if state else None
    if not epc:
        raise _invalid(
            "udi",
            f"GTIN {identity.gtin}'s company prefix is not in master data and no ledger event "
            "names this unit, so its EPC cannot be formed; add the product first",
        )
    if product is None and state is not None:
        product = state.product
    if product is not None and not product.implantable:
        raise _invalid(
            "udi",
            f"{product.name} ({product.model}) is not an implantable product; implant records "
            "are kept for implantable devices only",
            "not_implantable",
        )
    readable = text
    if identity.ais:
        try:
            readable = identity.element_string()
        except udi.UdiError:  # pragma: no cover - every parsed GS1 identity renders
            readable = text
    return {
        "unit_epc": epc,
        "udi": readable[:512],
        "serial": serial[:64],
        "lot": (identity.lot or "")[:64],
        "product": product,
    }


def _hospital(value: Any) -> Party:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise _invalid("hospital_id", "expected the id of a hospital party") from None
    hospital = Party.objects.filter(pk=pk).first()
    if hospital is None:
        raise _invalid("hospital_id", f"no party with id {pk}", "not_found")
    if hospital.role != PartyRole.HOSPITAL:
        raise _invalid(
            "hospital_id",
            f"{hospital.name} is a {hospital.get_role_display()}, not a hospital",
            "not_hospital",
        )
    if not hospital.active:
        raise _invalid("hospital_id", f"{hospital.name} is deactivated", "inactive")
    return hospital


def _date(value: Any) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise _invalid("implanted_on", "expected a date, YYYY-MM-DD") from None
    if not isinstance(value, date):
        raise _invalid("implanted_on", "expected a date, YYYY-MM-DD", "required")
    if value > timezone.localdate():
        raise _invalid("implanted_on", "the implant date is in the future", "future")
    if value.year < 1950:
        raise _invalid("implanted_on", "the implant date is not plausible (before 1950)")
    return value


def _text(field: str, value: Any, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, "expected text")
    text = " ".join(value.split())
    if required and not text:
        raise _invalid(field, "this field is required", "required")
    if len(text) > MAX_TEXT:
        raise _invalid(field, f"at most {MAX_TEXT} characters", "max_length")
    return text


def _patient_id(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("patient_id_number", "expected text", "required")
    number = personal.normalize_id_number(value)
    problem = personal.id_number_problem(number)
    if problem:
        code = "required" if not number else "invalid"
        raise _invalid("patient_id_number", problem, code)
    return number


def _phone(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid("patient_phone", "expected text")
    phone = personal.normalize_phone(value)
    problem = personal.phone_problem(phone)
    if problem:
        raise _invalid("patient_phone", problem)
    return phone


def _apply(record: ImplantRecord, data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - EDITABLE_FIELDS)
    if unknown:
        raise _invalid(
            unknown[0], f"unknown field; expected one of {', '.join(sorted(EDITABLE_FIELDS))}"
        )
    if "udi" in data:
        unit = _unit(data["udi"])
        product: Product | None = unit.pop("product")
        for key, value in unit.items():
            setattr(record, key, value)
        record.product = product
    if "hospital_id" in data:
        record.hospital = _hospital(data["hospital_id"])
    if "implanted_on" in data:
        record.implanted_on = _date(data["implanted_on"])
    if "patient_name" in data:
        record.patient_name = _text("patient_name", data["patient_name"], required=True)
    if "patient_id_number" in data:
        record.patient_id_number = _patient_id(data["patient_id_number"])
        record.patient_id_index = blind_index(record.patient_id_number, field=ID_INDEX_FIELD)
    if "patient_phone" in data:
        record.patient_phone = _phone(data["patient_phone"])
    for field in ("surgeon", "department"):
        if field in data:
            setattr(record, field, _text(field, data[field]))


def _audit_snapshot(record: ImplantRecord) -> dict[str, Any]:
    """``audit.snapshot`` with keyed fingerprints instead of plain SHA-256 of patient values.

    A bare SHA-256 of a phone or ID number is reversed by trying every number; an HMAC under a
    key derived from MEDTRACE_FIELD_KEY is not. The blind index is left out (it says nothing
    the fingerprint does not).
    """
    data = audit.snapshot(record)
    data.pop("patient_id_index", None)
    for field in PATIENT_FIELDS:
        data.pop(f"{field}.sha256", None)
        value = getattr(record, field)
        data[field] = audit.MASK if value else value
        data[f"{field}.fingerprint"] = (
            fingerprint(value, field=f"service.implantrecord.{field}") if value else None
        )
    return data


def _save(record: ImplantRecord) -> None:
    clash = ImplantRecord.objects.filter(unit_epc=record.unit_epc).exclude(pk=record.pk).first()
    if clash is not None:
        raise Conflict(
            f"udi: {record.unit_epc} already has implant record {clash.pk}; correct that "
            "record instead of adding another",
            field="udi",
            details={"implant_record_id": clash.pk},
        )
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError as exc:  # a concurrent create of the same unit
        raise Conflict(
            f"udi: {record.unit_epc} already has an implant record", field="udi"
        ) from exc


# Services ------------------------------------------------------------------------------------


def implant_record_create(
    *, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> ImplantRecord:
    """Record an implantation. ``data``: udi, hospital_id, implanted_on, patient_name,
    patient_id_number, patient_phone (optional), surgeon, department (optional)."""
    require(user, PERM_ADD, "add")
    missing = [name for name in REQUIRED_FIELDS if data.get(name) in (None, "")]
    if missing:
        details = [
            {"field": name, "message": "this field is required", "code": "required"}
            for name in missing
        ]
        raise ValidationFailed(
            f"{missing[0]}: this field is required", field=missing[0], details=details
        )
    record = ImplantRecord(created_by=user)
    _apply(record, data)
    with transaction.atomic():
        _save(record)
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(record),
            object_id=record.pk,
            object_repr=str(record),
            changes=_audit_snapshot(record),
            user=user,
            reason=reason,
        )
    return record


def implant_record_update(
    *, record: ImplantRecord, data: Mapping[str, Any], user: User | None, reason: str
) -> ImplantRecord:
    """Correct a record; a reason is required (it is a regulated record)."""
    require(user, PERM_CHANGE, "change")
    text = audit.require_reason(record, reason)
    with transaction.atomic():
        locked = ImplantRecord.objects.select_for_update().get(pk=record.pk)
        before = _audit_snapshot(locked)
        _apply(locked, data)
        after = _audit_snapshot(locked)
        changes = audit.diff(before, after)
        if changes:
            _save(locked)
            audit.record(
                action=AuditAction.UPDATE,
                object_type=audit.label_of(locked),
                object_id=locked.pk,
                object_repr=str(locked),
                changes=changes,
                user=user,
                reason=text,
            )
    return locked


def implant_reveal(*, record: ImplantRecord, user: User | None, reason: str) -> dict[str, Any]:
    """The plain patient values, for a permitted person with a reason; audited every time."""
    require(user, PERM_REVEAL, "reveal")
    text = (reason or "").strip()
    if not text:
        raise _invalid(
            "reason",
            "say why you need the patient's data (it is written to the audit trail)",
            "reason_required",
        )
    with transaction.atomic():
        entry = audit.record(
            action=AuditAction.VIEW_SENSITIVE,
            object_type=audit.label_of(record),
            object_id=record.pk,
            object_repr=str(record),
            changes={"revealed": list(PATIENT_FIELDS)},
            user=user,
            reason=text,
        )
    return {
        "id": record.pk,
        "patient_name": record.patient_name,
        "patient_id_number": record.patient_id_number,
        "patient_phone": record.patient_phone,
        "audit_entry": entry.seq,
    }


# The installed base, maintenance, tickets and scrap (issue 5 item 6).
from .installed_base import installation_create, installation_remove  # noqa: E402, F401
from .maintenance import (  # noqa: E402, F401
    maintenance_plan_create,
    maintenance_plan_set_active,
    maintenance_visit_record,
)
from .scrap import scrap_create  # noqa: E402, F401
from .tickets import (  # noqa: E402, F401
    ticket_close,
    ticket_diagnose,
    ticket_open,
    ticket_resolve,
    ticket_swap_part,
    ticket_test,
)
