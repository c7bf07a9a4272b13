"""A partner's receipt captured through EPCIS (POST /epcis/capture or /epcis/events).

Partner accounts may not capture EPCIS events in general: an event writes custody
(UnitCustody) and so would widen what the partner sees. The one exception is the partner's own
receipt of goods we shipped to it, which is what a distributor's or hospital's WMS sends. A
partner's document is captured only if every event in it is:

- an ObjectEvent, action OBSERVE, bizStep ``receiving`` or ``accepting``, with no
  errorDeclaration;
- naming units or SSCCs in epcList only (no quantityList), every one of them, with what is
  packed inside, in transit to the partner's party (``rules.Step.RECEIVE``: what was never
  shipped to you is refused);
- at the partner's own places (readPoint, bizLocation), with a destinationList naming only the
  partner and a sourceList naming only us or the partner.

Anything else answers 403 and stores nothing. After the capture, in the same transaction,
``services.shipments_reconcile`` marks the matching shipments received (with discrepancies
when units of them are still missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from medtrace.accounts.models import User
from medtrace.accounts.scoping import party_identifiers
from medtrace.errors import PermissionDenied
from medtrace.ledger import services as ledger
from medtrace.ledger.identifiers import EpcResolver
from medtrace.ledger.models import CaptureJob, Event
from medtrace.lib import epcis
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import own_party

from .models import ReceiptChannel
from .receipts import shipments_reconcile
from .shipping import expand

RECEIPT_STEPS = frozenset({"receiving", "accepting"})


def _rejected(exc: epcis.EpcisValidationError) -> ledger.CaptureRejected:
    return ledger.CaptureRejected(
        [ledger.CaptureProblem(i.index, i.field, i.message) for i in exc.issues]
    )


def _refuse(index: int, message: str, details: Any = None) -> PermissionDenied:
    return PermissionDenied(
        f"event {index}: {message}. A partner account may capture only its receipt of goods "
        "shipped to it (ObjectEvent OBSERVE, bizStep receiving or accepting)",
        details=details,
    )


def _check(event: epcis.Event, *, ours: set[str], theirs: set[str]) -> list[str]:
    """The event's EPCs (canonical spelling not applied), or a PermissionDenied."""
    i = event.index
    if event.type != "ObjectEvent" or event.action != "OBSERVE":
        raise _refuse(i, f"{event.type} {event.action or ''} is not a receipt".replace("  ", " "))
    if event.biz_step not in RECEIPT_STEPS:
        raise _refuse(i, f"bizStep {event.biz_step or '(none)'} is not receiving or accepting")
    if event.error_declaration is not None:
        raise _refuse(i, "an errorDeclaration is for the maker's systems")
    if event.quantities:
        raise _refuse(i, "name the units or SSCCs you received in epcList, not a quantityList")
    if not event.epc_list:
        raise _refuse(i, "epcList is empty")
    for where, value in (("readPoint", event.read_point), ("bizLocation", event.biz_location)):
        if value and value not in theirs:
            raise _refuse(i, f"{where} {value} is not one of your own locations")
    for kind, value in event.destinations:
        if value not in theirs:
            raise _refuse(i, f"destinationList {kind} {value} is not your party")
    for kind, value in event.sources:
        if value not in theirs | ours:
            raise _refuse(i, f"sourceList {kind} {value} is neither us nor your party")
    return list(event.epc_list)


def partner_capture(*, user: User, data: Mapping[str, Any], single: bool) -> CaptureJob | Event:
    """Check and capture a partner's receipt (a document, or one event when ``single``).

    Raises PermissionDenied (403) for anything a partner may not capture, SequenceViolation
    (409 in the API; the EPCIS view answers it as 403 too) when a unit was not shipped to the
    partner, and the ledger's CaptureRejected for an invalid document."""
    assert user.party is not None
    try:
        events = (
            [epcis.parse_event(data, index=0)]
            if single
            else list(epcis.parse_document(data).events)
        )
    except epcis.EpcisValidationError as exc:
        raise _rejected(exc) from exc
    if not events:
        raise _refuse(0, "the document holds no event")
    theirs = party_identifiers(user.party)
    ours = party_identifiers(own_party())
    resolver = EpcResolver()
    received: list[str] = []
    for event in events:
        received.extend(resolver.canonical(e) for e in _check(event, ours=ours, theirs=theirs))
    received = list(dict.fromkeys(received))
    everything, _containers = expand(received)
    with transaction.atomic():
        rules.check(rules.Step.RECEIVE, everything, party_ids=theirs, field="epcList")
        result: CaptureJob | Event
        if single:
            result = ledger.capture_event(data=data, user=user)
            event_id = result.event_id
        else:
            result = ledger.capture_document(data=data, user=user, behaviour=ledger.ROLLBACK)
            event_id = (
                Event.objects.filter(capture_job=result)
                .order_by("pk")
                .values_list("event_id", flat=True)
                .first()
                or ""
            )
        shipments_reconcile(received, user=user, event_id=event_id, channel=ReceiptChannel.EPCIS)
    return result
