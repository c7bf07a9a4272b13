"""Returns (RMA): authorise a customer to send units back, receive them into quarantine.

Receiving a return writes, in one transaction: the RMA's status, an ObjectEvent OBSERVE with
bizStep ``receiving`` and disposition ``returned`` (bizTransaction ``rma``; sourceList the
customer, owning + possessing; destinationList us, owning + possessing; readPoint and
bizLocation our quarantine location), and a quarantine hold on every returned unit
(``quality.services.hold_place``, kind quarantine, source = the RMA number): a returned unit
ships again only after QC lifts the quarantine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.scoping import party_identifiers
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import Conflict, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number, own_party
from medtrace.masterdata.models import Location, Party
from medtrace.quality.models import HoldKind

from .models import ReturnAuthorization, ReturnItem, ReturnStatus
from .orders import CUSTOMER_ROLES, require
from .shipping import epcs_from_scans

PERM_RMA_ADD = "distribution.add_returnauthorization"
PERM_RMA_CHANGE = "distribution.change_returnauthorization"
PERM_RMA_RECEIVE = "distribution.receive_returnauthorization"


def _held_by(customer: Party, epcs: Sequence[str], field: str) -> dict[str, UnitState]:
    """The units' states; each must be held now by ``customer`` (at one of its places)."""
    ids = party_identifiers(customer)
    states = {s.epc: s for s in UnitState.objects.filter(epc__in=list(epcs))}
    for index, epc in enumerate(epcs):
        state = states.get(epc)
        if state is None:
            raise ValidationFailed(
                f"{field}[{index}]: {epc} is not known to the ledger", field=field
            )
        if state.possessing_party not in ids:
            raise ValidationFailed(
                f"{field}[{index}]: {state.serial or epc} is not held by {customer.name} "
                f"(the ledger has it at {state.possessing_party or 'no holder'}); only what the "
                "customer holds can come back on their return",
                field=field,
                details={"epc": epc, "holder": state.possessing_party},
            )
    return states


def rma_create(
    *, customer: Party, scans: Sequence[str], reason: str, user: User | None
) -> ReturnAuthorization:
    """Authorise ``customer`` to return the scanned units (they must hold them now)."""
    require(user, PERM_RMA_ADD, "authorise returns")
    if customer.role not in CUSTOMER_ROLES:
        raise ValidationFailed(
            f"customer_id: {customer.name} is a {customer.get_role_display().lower()}; returns "
            "come from a distributor or a hospital",
            field="customer_id",
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the goods come back", field="reason")
    epcs = epcs_from_scans(scans, field="epcs")
    rules.check(rules.Step.RETURN, epcs, field="epcs")
    with transaction.atomic():
        states = _held_by(customer, epcs, "epcs")
        open_rma = (
            ReturnItem.objects.filter(epc__in=epcs, received=False)
            .filter(rma__status=ReturnStatus.AUTHORISED)
            .select_related("rma")
            .first()
        )
        if open_rma is not None:
            raise Conflict(
                f"epcs: {open_rma.serial or open_rma.epc} is already on the open return "
                f"{open_rma.rma.number}",
                field="epcs",
                details={"rma": open_rma.rma.number, "epc": open_rma.epc},
            )
        rma = ReturnAuthorization.objects.create(
            number=next_number("RMA"), customer=customer, reason=reason, created_by=user
        )
        ReturnItem.objects.bulk_create(
            [
                ReturnItem(
                    rma=rma,
                    epc=epc,
                    product_id=states[epc].product_id,
                    serial=states[epc].serial or "",
                )
                for epc in epcs
            ]
        )
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(rma),
            object_id=rma.pk,
            object_repr=str(rma),
            changes={**audit.snapshot(rma), "epcs": epcs},
            user=user,
            reason=reason,
        )
    return rma


def quarantine_location() -> Location:
    """Our quarantine area: the own company's active location coded ``…QRN`` or named
    quarantine / 隔离 (the demo's 待检/隔离区 SZ-QRN)."""
    us = own_party()
    found = (
        Location.objects.filter(party=us, active=True)
        .filter(
            Q(code__iendswith="QRN") | Q(name__icontains="quarantine") | Q(name__contains="隔离")
        )
        .order_by("code")
        .first()
    )
    if found is None:
        raise ValidationFailed(
            "location_id: our company has no quarantine location (code ending in QRN, or named "
            "quarantine / 隔离); name the location the returned goods go to",
            field="location_id",
        )
    return found


def rma_receive(
    *,
    rma: ReturnAuthorization,
    user: User | None,
    scans: Sequence[str] = (),
    location: Location | None = None,
    at: datetime | None = None,
) -> ReturnAuthorization:
    """The returned units arrived: they go into quarantine (see the module docstring).
    ``scans``: what arrived (default: every unit of the RMA); each must be on the RMA and
    still held by the customer."""
    require(user, PERM_RMA_RECEIVE, "receive returned goods")
    if rma.status != ReturnStatus.AUTHORISED:
        raise ValidationFailed(
            f"status: {rma.number} is {rma.get_status_display().lower()}; only an authorised "
            "return can be received",
            field="status",
        )
    listed = dict(rma.items.values_list("epc", "serial"))
    epcs = epcs_from_scans(scans, field="epcs") if scans else list(listed)
    for index, epc in enumerate(epcs):
        if epc not in listed:
            raise ValidationFailed(
                f"epcs[{index}]: {epc} is not on {rma.number}; it lists "
                f"{', '.join(s or e for e, s in listed.items())}",
                field="epcs",
                details={"epc": epc},
            )
    place = location or quarantine_location()
    us = own_party()
    if place.party_id != us.pk:
        raise ValidationFailed(
            f"location_id: {place.name} is not one of our locations", field="location_id"
        )
    now = at or timezone.now()
    from medtrace.quality.services import hold_place

    with transaction.atomic():
        locked = ReturnAuthorization.objects.select_for_update().get(pk=rma.pk)
        if locked.status != ReturnStatus.AUTHORISED:
            raise ValidationFailed(f"status: {locked.number} was already received", field="status")
        list(
            UnitState.objects.select_for_update()
            .filter(epc__in=sorted(epcs))
            .order_by("epc")
            .values_list("epc", flat=True)
        )
        rules.check(rules.Step.RETURN, epcs, field="epcs")
        customer = locked.customer
        _held_by(customer, epcs, "epcs")
        (event,) = ev.emit(
            [
                ev.object_event(
                    epcs=epcs,
                    biz_step="receiving",
                    disposition="returned",
                    at=now,
                    read_point=place.sgln,
                    biz_location=place.sgln,
                    transactions=[ev.bt("rma", locked.number)],
                    sources=ev.parties("source", owner=customer, holder=customer),
                    destinations=[
                        *ev.parties("destination", owner=us, holder=us),
                        {"type": "location", "destination": place.sgln},
                    ],
                )
            ],
            user=user,
        )
        holds = hold_place(
            targets=epcs,
            kind=HoldKind.QUARANTINE,
            reason=f"Return {locked.number}: {locked.reason}",
            user=user,
            source=locked.number,
            at=now,
            biz_location=place.sgln,
        )
        ReturnItem.objects.filter(rma=locked, epc__in=epcs).update(received=True)
        before = audit.snapshot(locked)
        locked.status = ReturnStatus.RECEIVED
        locked.received_at = now
        locked.received_by = user
        locked.received_into = place
        locked.event_id = event.event_id
        locked.holds = [h.number for h in holds]
        locked.save()
        audit.record_update(locked, before, user=user, reason="returned goods received")
    return locked


def rma_close(*, rma: ReturnAuthorization, user: User | None, note: str) -> ReturnAuthorization:
    """Close a received return (its units were dispositioned: repaired, scrapped, restocked)."""
    require(user, PERM_RMA_CHANGE, "close returns")
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("note: say how the return was settled", field="note")
    with transaction.atomic():
        locked = ReturnAuthorization.objects.select_for_update().get(pk=rma.pk)
        if locked.status != ReturnStatus.RECEIVED:
            raise ValidationFailed(
                f"status: {locked.number} is {locked.get_status_display().lower()}; only a "
                "received return can be closed",
                field="status",
            )
        before = audit.snapshot(locked)
        locked.status = ReturnStatus.CLOSED
        locked.closed_reason = note
        locked.save()
        audit.record_update(locked, before, user=user, reason=note)
    return locked
