"""Partner receipt: the consignee confirms what arrived (partner page, API or EPCIS).

Event (CBV 2.0): ObjectEvent OBSERVE, bizStep ``receiving``, disposition ``in_progress``,
readPoint + bizLocation the ship-to location; sourceList us, destinationList the consignee
(owning + possessing + location); bizTransactionList ``desadv`` = the shipment and ``recadv`` =
the receipt (receiving advice).

Discrepancies: units of the shipment not received are *missing*, units received against it that
are not on it *extra* (they must still be in transit to the consignee, else the state machine
refuses them: what was never shipped to you cannot be received). Either puts the shipment in
``received_with_discrepancies`` and alerts sales; a later receipt of the missing units completes
it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.scoping import party_identifiers
from medtrace.alerts.models import AlertSeverity
from medtrace.alerts.services import alert_raise
from medtrace.audit import services as audit
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number, own_party

from . import notify
from .models import (
    ReceiptChannel,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    ShipmentItem,
    ShipmentReceipt,
    ShipmentStatus,
)
from .orders import PERM_RECEIVE_FOR, RECEIVING_DISPOSITION, chunks
from .shipping import epcs_from_scans, expand, lock_units

# Receipts --------------------------------------------------------------------------------------


def _check_consignee(shipment: Shipment, user: User | None) -> None:
    if user is None:
        return
    if user.party_id is not None:
        if user.party_id != shipment.consignee_id:
            # Another party's shipment does not exist for this partner (scoping: 404, not 403).
            raise NotFound(f"No shipment {shipment.pk}")
        return
    if not user.has_perm(PERM_RECEIVE_FOR):
        raise PermissionDenied(
            f"Only the consignee records its receipt (or staff with {PERM_RECEIVE_FOR!r} on its "
            "behalf)"
        )


@dataclass
class ReceiptPlan:
    """What a receipt of the scans would record against a shipment (``receipt_check``)."""

    scanned: list[str]
    everything: list[str]
    received: list[str]  # items of the shipment the scans cover
    extra: list[str]  # scanned (or inside a scan), not on the shipment
    missing: list[str]  # units of the shipment still not received


def receipt_check(
    *, shipment: Shipment, scans: Sequence[str], user: User | None, field: str = "epcs"
) -> ReceiptPlan:
    """What ``shipment_receive`` would record, or the error it would give; writes nothing (the
    partner's page checks every scan as it comes)."""
    _check_consignee(shipment, user)
    scanned = epcs_from_scans(scans, field=field)
    everything, _containers = expand(scanned)
    rules.check(
        rules.Step.RECEIVE,
        everything,
        party_ids=party_identifiers(shipment.consignee),
        field=field,
    )
    items = list(shipment.items.values_list("epc", "is_container", "receipt_id"))
    on_it = {epc for epc, _c, _r in items}
    covered = set(everything)
    return ReceiptPlan(
        scanned=scanned,
        everything=everything,
        received=[e for e in everything if e in on_it],
        extra=[e for e in everything if e not in on_it],
        missing=[e for e, c, r in items if r is None and not c and e not in covered],
    )


def shipment_receive(
    *,
    shipment: Shipment,
    scans: Sequence[str],
    user: User | None,
    channel: str = ReceiptChannel.UI,
    at: datetime | None = None,
    field: str = "epcs",
) -> ShipmentReceipt:
    """The consignee confirms what arrived (units or SSCCs as scanned). Everything scanned must
    be in transit to the consignee (rules.RECEIVE: what was never shipped to them is refused);
    units of the shipment not scanned are flagged missing, scanned units that are not on it
    extra (they were shipped to the consignee on another shipment, which is reconciled too)."""
    _check_consignee(shipment, user)
    if shipment.status == ShipmentStatus.RECEIVED:
        raise ValidationFailed(
            f"shipment: {shipment.number} was received in full on "
            f"{timezone.localtime(shipment.received_at).date() if shipment.received_at else '?'}",
            field="shipment",
        )
    scanned = epcs_from_scans(scans, field=field)
    consignee = shipment.consignee
    now = at or timezone.now()
    with transaction.atomic():
        Shipment.objects.select_for_update().filter(pk=shipment.pk).first()
        everything, _containers = expand(scanned)
        lock_units(everything)
        rules.check(
            rules.Step.RECEIVE, everything, party_ids=party_identifiers(consignee), field=field
        )
        number = next_number("RCV")
        (event,) = ev.emit(
            [
                ev.object_event(
                    epcs=scanned,
                    biz_step="receiving",
                    disposition=RECEIVING_DISPOSITION,
                    at=now,
                    read_point=shipment.ship_to_sgln,
                    biz_location=shipment.ship_to_sgln,
                    transactions=[ev.bt("desadv", shipment.number), ev.bt("recadv", number)],
                    sources=ev.parties("source", owner=own_party(), holder=own_party()),
                    destinations=[
                        *ev.parties("destination", owner=consignee, holder=consignee),
                        {"type": "location", "destination": shipment.ship_to_sgln},
                    ],
                )
            ],
            user=user,
        )
        receipts = _reconcile(
            everything,
            user=user,
            channel=channel,
            event_id=event.event_id,
            at=now,
            context=shipment,
            number=number,
        )
    return next(r for r in receipts if r.shipment_id == shipment.pk)


def shipments_reconcile(
    epcs: Sequence[str],
    *,
    user: User | None = None,
    event_id: str = "",
    channel: str = ReceiptChannel.EPCIS,
    at: datetime | None = None,
) -> list[ShipmentReceipt]:
    """Mark shipment items received after a receiving event on ``epcs`` (and what they hold) was
    captured, e.g. by a partner through EPCIS: each shipment with an item among them gets a
    receipt, its status and discrepancies. Call it in the capture's transaction."""
    everything, _containers = expand(list(dict.fromkeys(epcs)))
    with transaction.atomic():
        return _reconcile(
            everything, user=user, channel=channel, event_id=event_id, at=at or timezone.now()
        )


def _open_items(epcs: Sequence[str]) -> list[ShipmentItem]:
    found: list[ShipmentItem] = []
    for part in chunks(list(epcs)):
        found.extend(
            ShipmentItem.objects.filter(
                epc__in=part,
                receipt__isnull=True,
                shipment__status__in=(
                    ShipmentStatus.IN_TRANSIT,
                    ShipmentStatus.RECEIVED_WITH_DISCREPANCIES,
                ),
            ).only("id", "shipment_id", "epc")
        )
    return found


def _reconcile(
    received: list[str],
    *,
    user: User | None,
    channel: str,
    event_id: str,
    at: datetime,
    context: Shipment | None = None,
    number: str | None = None,
) -> list[ShipmentReceipt]:
    by_shipment: dict[int, list[int]] = defaultdict(list)
    for item in _open_items(received):
        by_shipment[item.shipment_id].append(item.pk)
    ids = set(by_shipment) | ({context.pk} if context is not None else set())
    out = []
    for shipment in Shipment.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        is_context = context is not None and shipment.pk == context.pk
        receipt = ShipmentReceipt.objects.create(
            number=number if is_context and number else next_number("RCV"),
            shipment=shipment,
            channel=channel,
            received_at=at,
            received_by=user,
            event_id=event_id,
            epcs=received,
        )
        ShipmentItem.objects.filter(pk__in=by_shipment.get(shipment.pk, [])).update(receipt=receipt)
        _containers_received(shipment, receipt)
        items = list(shipment.items.values_list("epc", "is_container", "receipt_id"))
        on_it = {epc for epc, _c, _r in items}
        missing = [epc for epc, is_container, rid in items if rid is None and not is_container]
        extra = [e for e in received if e not in on_it] if is_context else []
        receipt.missing, receipt.extra = missing, extra
        receipt.save(update_fields=["missing", "extra"])
        audit.record_create(receipt, user=user)
        before = audit.snapshot(shipment)
        shipment.missing = missing
        shipment.extra = list(dict.fromkeys([*shipment.extra, *extra]))
        shipment.received_at = shipment.received_at or at
        shipment.status = (
            ShipmentStatus.RECEIVED_WITH_DISCREPANCIES
            if shipment.missing or shipment.extra
            else ShipmentStatus.RECEIVED
        )
        shipment.save(update_fields=["missing", "extra", "received_at", "status"])
        audit.record_update(shipment, before, user=user, reason=f"receipt {receipt.number}")
        if missing or extra:
            _discrepancy_alert(shipment, receipt)
        _order_closed_if_delivered(shipment.sales_order_id, user=user)
        notify.shipment_received(receipt)
        out.append(receipt)
    return out


def _containers_received(shipment: Shipment, receipt: ShipmentReceipt) -> None:
    """A case or pallet counts as received once everything packed in it on this shipment is."""
    for _level in range(8):  # pallet > case > unit: a few levels at most
        rows = list(shipment.items.values_list("epc", "container", "receipt_id", "is_container"))
        parents = {c for _e, c, _r, _k in rows if c}
        still_open = {c for _e, c, rid, _k in rows if c and rid is None}
        done = [
            epc
            for epc, _c, rid, is_container in rows
            if is_container and rid is None and epc in parents and epc not in still_open
        ]
        if not done:
            return
        shipment.items.filter(epc__in=done).update(receipt=receipt)


def _discrepancy_alert(shipment: Shipment, receipt: ShipmentReceipt) -> None:
    serials = dict(shipment.items.values_list("epc", "serial"))
    missing = [serials.get(e) or e for e in receipt.missing]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({', '.join(missing[:10])})")
    if receipt.extra:
        parts.append(f"{len(receipt.extra)} not on the shipment")
    alert_raise(
        kind="shipment_discrepancy",
        severity=AlertSeverity.WARNING,
        title=f"{shipment.number} to {shipment.consignee_name}: received with discrepancies",
        message=f"Receipt {receipt.number}: " + "; ".join(parts),
        recipient_role="sales",
        evidence={"shipment": shipment.number, "missing": receipt.missing, "extra": receipt.extra},
        object_type="distribution.shipment",
        object_id=str(shipment.pk),
    )


def _order_closed_if_delivered(order_id: int, *, user: User | None) -> None:
    order = SalesOrder.objects.select_for_update().get(pk=order_id)
    if order.status != SalesOrderStatus.SHIPPED:
        return
    if order.shipments.exclude(status=ShipmentStatus.RECEIVED).exists():
        return
    before = audit.snapshot(order)
    order.status = SalesOrderStatus.CLOSED
    order.closed_reason = "delivered: every shipment received in full"
    order.save(update_fields=["status", "closed_reason", "updated_at"])
    audit.record_update(order, before, user=user, reason=order.closed_reason)
