"""Repair tickets: fault report, diagnosis, part swaps, test before return, resolution.

Status flow (each step refuses the others with the current status in the message)::

    open -> diagnosed -> in_repair (part swaps) -> testing -> resolved -> closed
    open / diagnosed -> closed (no repair: a closing note says why)

Events, each naming the ticket (company bizTransaction type ``service_ticket``) and its RMA
reference when one is set (``rma``):

- diagnosis: ObjectEvent OBSERVE ``repairing`` / ``in_progress`` on the unit;
- part swap: AssociationEvent DELETE (``removing``) of the old part from the unit, ObjectEvent
  OBSERVE ``removing`` / ``needs_replacement`` on the old part, AssociationEvent ADD
  (``repairing``) of the new part into the unit, so the genealogy stays true: the backward
  trace of the unit lists the new part (the old one only with history) and the forward trace of
  the old part no longer reaches the unit;
- test: ObjectEvent OBSERVE ``repairing`` / ``conformant`` or ``non_conformant``, with the test
  report (``testres`` = ticket number);
- resolution: ObjectEvent OBSERVE ``repairing`` / ``active`` (back in use).

The events happen at the unit's department when it is installed. A hospital's own staff
(partner user) may open a ticket for a unit their hospital holds; the rest is the service
department's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.scoping import party_identifiers
from medtrace.audit import services as audit
from medtrace.errors import Conflict, NotFound, SequenceViolation
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Party, PartyRole
from medtrace.quality.models import HoldKind

from . import common
from .common import PERM_TICKET, PERM_TICKET_CHANGE, invalid
from .lifecycle_selectors import fitted_in
from .models_lifecycle import (
    InstalledUnit,
    InstallStatus,
    PartSwap,
    ServiceTicket,
    TestResult,
    TicketStatus,
)

S = TicketStatus


def _installation(epc: str) -> InstalledUnit | None:
    return (
        InstalledUnit.objects.select_related("department", "hospital")
        .filter(unit_epc=epc, status=InstallStatus.IN_USE)
        .first()
    )


def _reporter(value: Any, installation: InstalledUnit | None) -> Party | None:
    if value in (None, ""):
        return installation.hospital if installation is not None else None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise invalid("reporter_id", "expected the id of a party") from None
    party = Party.objects.filter(pk=pk).first()
    if party is None:
        raise invalid("reporter_id", f"no party {pk}", "not_found")
    if party.role not in (PartyRole.HOSPITAL, PartyRole.DISTRIBUTOR, PartyRole.MANUFACTURER):
        raise invalid(
            "reporter_id",
            f"{party.name} is a {party.get_role_display()}; faults are reported by a hospital, "
            "a distributor or our own staff",
            "role",
        )
    return party


def ticket_open(
    *,
    unit: str,
    symptom: str,
    user: User | None,
    reporter_id: int | None = None,
    reporter_contact: str = "",
    rma_reference: str = "",
    opened_at: Any = None,
) -> ServiceTicket:
    """Open a repair ticket for ``unit`` (any UDI form). A hospital partner reports for its own
    units (the reporter is their hospital); staff name the reporter or default to the hospital
    where the unit is installed."""
    common.require(user, PERM_TICKET, "open service tickets", hospitals=True)
    state = common.resolve_unit(unit, user=user, field="unit")
    what = common.text("symptom", symptom, required=True, max_length=4000)
    contact = common.text("reporter_contact", reporter_contact, max_length=150)
    rma = common.text("rma_reference", rma_reference, max_length=64)
    at = common.moment("opened_at", opened_at)
    installation = _installation(state.epc)
    partner = common.partner_hospital(user)
    if partner is not None:
        holder = state.possessing_party or ""
        if holder not in party_identifiers(partner):
            # Visible to the partner (it once held it) but not theirs now.
            raise NotFound(
                f"unit: {common.label(state)} is not in your hospital's custody", field="unit"
            )
        reporter: Party | None = partner
        contact = contact or common.printed_name(user)
    else:
        reporter = _reporter(reporter_id, installation)
    with transaction.atomic():
        common.lock_units([state.epc])
        rules.check(rules.Step.SERVICE, [state.epc], field="unit")
        ticket = ServiceTicket.objects.create(
            number=next_number("ST"),
            unit_epc=state.epc,
            serial=state.serial or "",
            product=state.product,
            installation=installation,
            reporter=reporter,
            reporter_contact=contact,
            symptom=what,
            rma_reference=rma,
            opened_at=at,
            opened_by=user,
        )
        audit.record_create(ticket, user=user)
    return ticket


# Steps -------------------------------------------------------------------------------------


def _lock(ticket: ServiceTicket, allowed: tuple[str, ...], action: str) -> ServiceTicket:
    locked = ServiceTicket.objects.select_for_update().get(pk=ticket.pk)
    if locked.status not in allowed:
        names = ", ".join(str(S(a).label) for a in allowed)
        raise Conflict(
            f"status: ticket {locked.number} is {locked.get_status_display()}; it can be "
            f"{action} only when {names}",
            field="status",
            details={"status": locked.status, "allowed": list(allowed)},
        )
    return locked


def _when(ticket: ServiceTicket, field: str, value: Any) -> datetime:
    at = common.moment(field, value)
    if at < ticket.opened_at:
        raise invalid(
            field,
            f"{at:%Y-%m-%d %H:%M} is before the ticket was opened "
            f"({ticket.opened_at:%Y-%m-%d %H:%M})",
            "before_opened",
        )
    return at


def _documents(ticket: ServiceTicket) -> list[dict[str, str]]:
    out = [ev.bt(common.BTT_TICKET, ticket.number)]
    if ticket.rma_reference:
        out.append(ev.bt("rma", ticket.rma_reference))
    return out


def _where(ticket: ServiceTicket) -> str | None:
    installation = _installation(ticket.unit_epc)
    return installation.department.sgln if installation is not None else None


def _unit_event(
    ticket: ServiceTicket,
    *,
    disposition: str,
    at: datetime,
    user: User | None,
    extra: list[dict[str, str]] | None = None,
) -> None:
    where = _where(ticket)
    ev.emit(
        [
            ev.object_event(
                epcs=[ticket.unit_epc],
                biz_step="repairing",
                disposition=disposition,
                at=at,
                read_point=where,
                biz_location=where,
                transactions=[*_documents(ticket), *(extra or [])],
            )
        ],
        user=user,
    )


def _save(
    ticket: ServiceTicket,
    before: dict[str, Any],
    fields: list[str],
    user: User | None,
    reason: str = "",
) -> None:
    ticket.save(update_fields=fields)
    audit.record_update(ticket, before, user=user, reason=reason)


def ticket_diagnose(
    *,
    ticket: ServiceTicket,
    diagnosis: str,
    user: User | None,
    rma_reference: str | None = None,
    at: Any = None,
) -> ServiceTicket:
    """Record (or revise, before the repair starts) the diagnosis."""
    common.require(user, PERM_TICKET_CHANGE, "diagnose service tickets")
    text = common.text("diagnosis", diagnosis, required=True, max_length=4000)
    rma = (
        None
        if rma_reference is None
        else common.text("rma_reference", rma_reference, max_length=64)
    )
    with transaction.atomic():
        locked = _lock(ticket, (S.OPEN, S.DIAGNOSED), "diagnosed")
        when = _when(locked, "at", at)
        common.lock_units([locked.unit_epc])
        rules.check(rules.Step.SERVICE, [locked.unit_epc], field="unit")
        before = audit.snapshot(locked)
        locked.diagnosis = text
        locked.diagnosed_at = when
        locked.diagnosed_by = user
        locked.status = S.DIAGNOSED
        if rma is not None:
            locked.rma_reference = rma
        _save(
            locked,
            before,
            ["diagnosis", "diagnosed_at", "diagnosed_by", "status", "rma_reference"],
            user,
        )
        _unit_event(locked, disposition="in_progress", at=when, user=user)
    return locked


def _refuse_part(state: UnitState | None, epc: str, code: str, message: str) -> SequenceViolation:
    label = (state.serial if state is not None else None) or epc
    return SequenceViolation(
        f"installed: cannot fit {label}: it {message}",
        field="installed",
        details=[{"epc": epc, "serial": label, "reasons": [{"code": code, "message": message}]}],
    )


def _check_new_part(epc: str, unit_epc: str) -> None:
    """The part to fit is commissioned, not scrapped, held, recalled, expired or in transit,
    and not fitted in anything already."""
    loaded = rules.units([epc])[epc]
    state = loaded.state
    if state is None:
        raise _refuse_part(
            None, epc, "not_commissioned", "is not commissioned: the ledger has no record of it"
        )
    if loaded.scrapped:
        raise _refuse_part(
            state, epc, "scrapped", f"was scrapped ({state.disposition or state.biz_step})"
        )
    if loaded.holds:
        hold = loaded.holds[0]
        code = rules.HOLD_CODES.get(HoldKind(hold.kind), "held")
        raise _refuse_part(
            state, epc, code, f"is under {hold.get_kind_display()} {hold.number}: {hold.reason}"
        )
    if state.disposition == "recalled":
        raise _refuse_part(state, epc, "recalled", "is recalled")
    if loaded.in_transit:
        raise _refuse_part(state, epc, "in_transit", "is in transit; receive it first")
    if loaded.expired(timezone.localdate()):
        raise _refuse_part(state, epc, "expired", f"expired on {state.expiry}")
    if epc == unit_epc:
        raise _refuse_part(state, epc, "self", "is the unit under repair itself")
    parent = fitted_in([epc]).get(epc)
    if parent is not None:
        serial = UnitState.objects.filter(epc=parent).values_list("serial", flat=True).first()
        where = f"{serial} ({parent})" if serial else parent
        raise _refuse_part(state, epc, "fitted_elsewhere", f"is already fitted in {where}")


def ticket_swap_part(
    *, ticket: ServiceTicket, removed: str, installed: str, user: User | None, at: Any = None
) -> PartSwap:
    """Swap one part of the ticket's unit: ``removed`` must be fitted in it now, ``installed``
    must be free to fit (see ``_check_new_part``). Both in any UDI form. Any test recorded
    before the swap no longer counts: the unit is tested again before it is resolved."""
    common.require(user, PERM_TICKET_CHANGE, "swap parts")
    old = common.resolve_unit(removed, user=user, field="removed")
    new = common.resolve_unit(installed, user=user, field="installed")
    if old.epc == new.epc:
        raise invalid(
            "installed", "the installed part is the removed part; scan the new one", "same_part"
        )
    with transaction.atomic():
        locked = _lock(ticket, (S.DIAGNOSED, S.IN_REPAIR, S.TESTING), "repaired")
        when = _when(locked, "at", at)
        common.lock_units([locked.unit_epc, old.epc, new.epc])
        rules.check(rules.Step.FIT, [locked.unit_epc], field="unit")
        parent = fitted_in([old.epc]).get(old.epc)
        if parent != locked.unit_epc:
            where = f"is fitted in {parent}" if parent else "is not fitted in anything"
            raise SequenceViolation(
                f"removed: {common.label(old)} is not a part of {locked.serial or locked.unit_epc}"
                f" now: it {where}",
                field="removed",
                details=[
                    {
                        "epc": old.epc,
                        "serial": old.serial,
                        "reasons": [{"code": "not_fitted", "message": where}],
                    }
                ],
            )
        _check_new_part(new.epc, locked.unit_epc)
        where_sgln = _where(locked)
        documents = _documents(locked)
        removal, _part_event, fitting = ev.emit(
            [
                ev.association_event(
                    action="DELETE",
                    parent=locked.unit_epc,
                    children=[old.epc],
                    biz_step="removing",
                    at=when,
                    read_point=where_sgln,
                    biz_location=where_sgln,
                    transactions=documents,
                ),
                ev.object_event(
                    epcs=[old.epc],
                    biz_step="removing",
                    disposition="needs_replacement",
                    at=when,
                    read_point=where_sgln,
                    biz_location=where_sgln,
                    transactions=documents,
                ),
                ev.association_event(
                    action="ADD",
                    parent=locked.unit_epc,
                    children=[new.epc],
                    biz_step="repairing",
                    at=when,
                    read_point=where_sgln,
                    biz_location=where_sgln,
                    transactions=documents,
                ),
            ],
            user=user,
        )
        swap = PartSwap.objects.create(
            ticket=locked,
            removed_epc=old.epc,
            removed_serial=old.serial or "",
            installed_epc=new.epc,
            installed_serial=new.serial or "",
            swapped_at=when,
            swapped_by=user,
            remove_event=removal,
            add_event=fitting,
        )
        audit.record_create(swap, user=user)
        before = audit.snapshot(locked)
        locked.status = S.IN_REPAIR
        locked.test_result = ""
        locked.test_measurements = []
        locked.test_attachment = None
        locked.tested_at = None
        locked.tested_by = None
        _save(
            locked,
            before,
            [
                "status",
                "test_result",
                "test_measurements",
                "test_attachment",
                "tested_at",
                "tested_by",
            ],
            user,
        )
    return swap


def ticket_test(
    *,
    ticket: ServiceTicket,
    user: User | None,
    measurements: Any = None,
    attachment: Any = None,
    result: str | None = None,
    at: Any = None,
) -> ServiceTicket:
    """Record the function test before return: measurements judged against their limits
    and/or a test report file. A failed test leaves the ticket in testing (repair again)."""
    common.require(user, PERM_TICKET_CHANGE, "record repair tests")
    rows = common.evaluate(measurements)
    outcome = common.verdict(rows, result, evidence=attachment not in (None, ""))
    with transaction.atomic():
        locked = _lock(ticket, (S.DIAGNOSED, S.IN_REPAIR, S.TESTING), "tested")
        when = _when(locked, "at", at)
        common.lock_units([locked.unit_epc])
        rules.check(rules.Step.SERVICE, [locked.unit_epc], field="unit")
        stored = common.attachment_from(attachment, user=user, field="attachment")
        before = audit.snapshot(locked)
        locked.test_measurements = rows
        locked.test_attachment = stored
        locked.test_result = outcome
        locked.tested_at = when
        locked.tested_by = user
        locked.status = S.TESTING
        _save(
            locked,
            before,
            [
                "test_measurements",
                "test_attachment",
                "test_result",
                "tested_at",
                "tested_by",
                "status",
            ],
            user,
        )
        _unit_event(
            locked,
            disposition="conformant" if outcome == TestResult.PASS else "non_conformant",
            at=when,
            user=user,
            extra=[ev.bt("testres", locked.number)],
        )
    return locked


def ticket_resolve(
    *, ticket: ServiceTicket, resolution: str, user: User | None, at: Any = None
) -> ServiceTicket:
    """Return the unit to use: needs a passed test after the last part swap."""
    common.require(user, PERM_TICKET_CHANGE, "resolve service tickets")
    text = common.text("resolution", resolution, required=True, max_length=4000)
    with transaction.atomic():
        locked = _lock(ticket, (S.DIAGNOSED, S.IN_REPAIR, S.TESTING), "resolved")
        if locked.test_result != TestResult.PASS:
            state = "failed" if locked.test_result == TestResult.FAIL else "not been recorded"
            raise invalid(
                "test",
                f"ticket {locked.number}: the test before return has {state}; record a passing "
                "test (measurements or a test report) before resolving",
                "test_required",
            )
        when = _when(locked, "at", at)
        common.lock_units([locked.unit_epc])
        rules.check(rules.Step.SERVICE, [locked.unit_epc], field="unit")
        before = audit.snapshot(locked)
        locked.resolution = text
        locked.resolved_at = when
        locked.resolved_by = user
        locked.status = S.RESOLVED
        _save(locked, before, ["resolution", "resolved_at", "resolved_by", "status"], user)
        _unit_event(locked, disposition="active", at=when, user=user)
    return locked


def ticket_close(
    *, ticket: ServiceTicket, user: User | None, note: str = "", at: Any = None
) -> ServiceTicket:
    """Close a resolved ticket, or one that needs no repair (the note says why)."""
    common.require(user, PERM_TICKET_CHANGE, "close service tickets")
    text = common.text("note", note, max_length=300)
    with transaction.atomic():
        locked = _lock(ticket, (S.RESOLVED, S.OPEN, S.DIAGNOSED), "closed")
        if locked.status != S.RESOLVED and not text:
            raise invalid(
                "note",
                f"ticket {locked.number} was not repaired; say why it is closed (no fault "
                "found, duplicate, ...)",
                "required",
            )
        when = _when(locked, "at", at)
        before = audit.snapshot(locked)
        locked.status = S.CLOSED
        locked.closed_at = when
        locked.closed_by = user
        locked.close_note = text
        _save(locked, before, ["status", "closed_at", "closed_by", "close_note"], user, reason=text)
    return locked
