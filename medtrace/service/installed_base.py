"""The installed base: which unit is in use at which hospital department (issue 5 item 6).

``installation_create`` records that a unit was installed at a department of the hospital that
holds it: the InstalledUnit row, an ObjectEvent OBSERVE ``installing`` / ``active`` at the
department's SGLN (readPoint and bizLocation), and the audit entries, in one transaction
(DESIGN §4). Refused, with the unit and the reason: a unit the state machine refuses (scrapped,
still in transit, recalled, expired), and a unit another party holds.

A service engineer records installations at any hospital; a hospital's own staff (partner user)
at their own departments, for units their hospital holds.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from medtrace.accounts.models import User
from medtrace.accounts.scoping import party_identifiers
from medtrace.audit import services as audit
from medtrace.errors import Conflict, NotFound, SequenceViolation
from medtrace.ledger.identifiers import resolve_holders
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Location, LocationKind, Party, PartyRole

from . import common
from .common import PERM_INSTALL, PERM_INSTALL_CHANGE, invalid
from .models import ImplantRecord
from .models_lifecycle import InstalledUnit, InstallStatus


def _department(value: Any, *, user: User | None) -> Location:
    field = "department_id"
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise invalid(field, "expected the id of a hospital department (a location)") from None
    department = Location.objects.select_related("party").filter(pk=pk).first()
    partner = common.partner_hospital(user)
    if department is None or (partner is not None and department.party_id != partner.pk):
        # A partner must not learn that another hospital's department exists (DESIGN §9).
        raise NotFound(f"{field}: no location {pk}", field=field, details={"id": pk})
    if department.party.role != PartyRole.HOSPITAL:
        raise invalid(
            field,
            f"{department.code} {department.name} belongs to {department.party.name}, a "
            f"{department.party.get_role_display()}; units are installed at hospitals",
            "not_hospital",
        )
    if department.kind != LocationKind.HOSPITAL_DEPARTMENT:
        raise invalid(
            field,
            f"{department.code} {department.name} is a {department.get_kind_display()}; choose "
            "one of the hospital's departments",
            "not_department",
        )
    if not department.active:
        raise invalid(field, f"{department.code} {department.name} is deactivated", "inactive")
    return department


def _implant(value: Any, *, user: User | None, state: UnitState, hospital: Party) -> Any:
    """The unit's implant record, linked by id only: its patient data stays in its table."""
    if value in (None, ""):
        return None
    from .selectors import implant_get

    field = "implant_record_id"
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise invalid(field, "expected the id of an implant record") from None
    try:
        record: ImplantRecord = implant_get(user=user, pk=pk)
    except NotFound:
        raise NotFound(f"{field}: no implant record {pk}", field=field) from None
    if record.unit_epc != state.epc:
        raise invalid(
            field,
            f"implant record {pk} is of unit {record.serial or record.unit_epc}, not of "
            f"{common.label(state)}",
            "other_unit",
        )
    if record.hospital_id != hospital.pk:
        raise invalid(
            field, f"implant record {pk} was recorded at another hospital", "other_hospital"
        )
    return record


def check_held_by(state: UnitState, hospital: Party, *, field: str = "unit") -> None:
    """The unit must be in the hospital's possession (the ledger's current holder)."""
    holder = state.possessing_party
    if holder and holder in party_identifiers(hospital):
        return
    name = None
    if holder:
        found = resolve_holders({holder}).get(holder)
        name = found.name if found is not None else None
    where = f"{name} ({holder})" if name else (holder or "nobody on record")
    message = f"is held by {where}, not by {hospital.name}"
    raise SequenceViolation(
        f"Cannot install {common.label(state)}: it {message}; only the hospital holding a unit "
        "can have it installed (record its receipt first)",
        field=field,
        details=[
            {
                "epc": state.epc,
                "serial": state.serial,
                "reasons": [{"code": "not_held", "message": message}],
            }
        ],
    )


def installation_create(
    *,
    unit: str,
    department_id: int,
    user: User | None,
    installed_at: Any = None,
    engineer: str = "",
    implant_record_id: int | None = None,
    note: str = "",
    hospital_id: int | None = None,
) -> InstalledUnit:
    """Install ``unit`` (any UDI form) at the hospital department ``department_id``.

    A unit already installed elsewhere is moved: its previous installation ends as ``removed``.
    """
    common.require(user, PERM_INSTALL, "record installations", hospitals=True)
    department = _department(department_id, user=user)
    hospital = department.party
    if hospital_id is not None and int(hospital_id) != hospital.pk:
        raise invalid(
            "hospital_id",
            f"department {department.code} belongs to {hospital.name} (id {hospital.pk}), not "
            f"to party {hospital_id}",
            "mismatch",
        )
    state = common.resolve_unit(unit, user=user, field="unit")
    at = common.moment("installed_at", installed_at)
    engineer_name = common.text("engineer", engineer, max_length=100) or common.printed_name(user)
    note_text = common.text("note", note)
    implant = _implant(implant_record_id, user=user, state=state, hospital=hospital)
    with transaction.atomic():
        state = common.lock_units([state.epc])[0]
        rules.check(rules.Step.INSTALL, [state.epc], field="unit")
        if state.installed_in:
            raise SequenceViolation(
                f"Cannot install {common.label(state)}: it is fitted inside {state.installed_in}; "
                "install the device it is part of",
                field="unit",
                details=[
                    {
                        "epc": state.epc,
                        "serial": state.serial,
                        "reasons": [{"code": "fitted", "message": "is a fitted part"}],
                    }
                ],
            )
        check_held_by(state, hospital)
        current = (
            InstalledUnit.objects.select_for_update()
            .select_related("department")
            .filter(unit_epc=state.epc, status=InstallStatus.IN_USE)
            .first()
        )
        if current is not None:
            if current.department_id == department.pk:
                raise Conflict(
                    f"unit: {common.label(state)} is already installed at {department.code} "
                    f"{department.name} ({current.number}, since {current.installed_at:%Y-%m-%d})",
                    field="unit",
                    details={"installation": current.pk, "number": current.number},
                )
            if at < current.installed_at:
                raise invalid(
                    "installed_at",
                    f"{common.label(state)} was installed at {current.department.code} on "
                    f"{current.installed_at:%Y-%m-%d %H:%M}; a move cannot be dated earlier",
                    "before_previous",
                )
            _end(
                current,
                status=InstallStatus.REMOVED,
                at=at,
                user=user,
                reason=f"moved to {department.code} {department.name}",
            )
        number = next_number("IB")
        (event,) = ev.emit(
            [
                ev.object_event(
                    epcs=[state.epc],
                    biz_step="installing",
                    disposition="active",
                    at=at,
                    read_point=department.sgln,
                    biz_location=department.sgln,
                    transactions=[ev.bt(common.BTT_INSTALLATION, number)],
                )
            ],
            user=user,
        )
        try:
            with transaction.atomic():
                installation = InstalledUnit.objects.create(
                    number=number,
                    unit_epc=state.epc,
                    serial=state.serial or "",
                    lot=state.lot or "",
                    product=state.product,
                    hospital=hospital,
                    department=department,
                    installed_at=at,
                    installed_by=user,
                    engineer=engineer_name,
                    implant_record=implant,
                    note=note_text,
                    event=event,
                )
        except IntegrityError as exc:  # a concurrent installation of the same unit
            raise Conflict(
                f"unit: {common.label(state)} was installed by someone else just now",
                field="unit",
            ) from exc
        audit.record_create(installation, user=user)
    return installation


def _end(
    installation: InstalledUnit, *, status: str, at: Any, user: User | None, reason: str
) -> None:
    before = audit.snapshot(installation)
    installation.status = status
    installation.ended_at = at
    installation.ended_by = user
    installation.end_reason = reason[:300]
    installation.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
    audit.record_update(installation, before, user=user, reason=reason)


def installations_end(
    *, epcs: list[str], status: str, at: Any, user: User | None, reason: str
) -> list[InstalledUnit]:
    """End the current installations of ``epcs`` (inside the caller's transaction): the scrap
    service marks them scrapped. Returns the ended rows."""
    rows = list(
        InstalledUnit.objects.select_for_update()
        .filter(unit_epc__in=epcs, status=InstallStatus.IN_USE)
        .order_by("pk")
    )
    for row in rows:
        _end(row, status=status, at=at, user=user, reason=reason)
    return rows


def installation_remove(
    *, installation: InstalledUnit, user: User | None, reason: str, at: Any = None
) -> InstalledUnit:
    """Take a unit out of use at its department (returned, handed back, sent for repair): the
    installation ends as ``removed``. The movement itself (a return shipment, a receipt at our
    depot) is recorded by the document that moves the unit."""
    common.require(user, PERM_INSTALL_CHANGE, "end installations", hospitals=True)
    partner = common.partner_hospital(user)
    if partner is not None and installation.hospital_id != partner.pk:
        raise NotFound(f"No installation {installation.pk}", details={"id": installation.pk})
    why = common.text("reason", reason, required=True)
    when = common.moment("removed_at", at)
    with transaction.atomic():
        locked = InstalledUnit.objects.select_for_update().get(pk=installation.pk)
        if locked.status != InstallStatus.IN_USE:
            ended = f", {locked.ended_at:%Y-%m-%d}" if locked.ended_at else ""
            raise Conflict(
                f"installation: {locked.number} already ended ({locked.get_status_display()}"
                f"{ended}); only an installation in use can be ended",
                field="installation",
            )
        if when < locked.installed_at:
            raise invalid("removed_at", "the removal cannot be dated before the installation")
        _end(locked, status=InstallStatus.REMOVED, at=when, user=user, reason=why)
    return locked
