"""Complaint intake (ISO 13485 8.2.2): from the UI, the API, or a hospital partner.

``complaint_create`` checks everything first (who, the device's UDI, the complainant, the
times), then in one transaction: the complaint with its number (``CMP-YYYY-NNNNNN``), the
component lots of the complained unit, the audit entry, and the signal evaluation
(``signals.signals_evaluate``), so a complaint and the alert it triggers are stored together or
not at all.

A hospital partner reports for its own hospital: the complainant is their party, the channel
``partner``, and the device must be one their hospital holds or held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Party

from . import common, device
from .common import PERM_INTAKE, invalid
from .models import Complaint, ComplaintChannel, ComplaintComponentLot


@dataclass(frozen=True)
class Intake:
    complaint: Complaint
    warnings: list[str]
    signals: list[Any]


def _event_date(value: Any, received_at: datetime) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise invalid("event_date", "expected a date, e.g. 2026-03-01") from None
    if not isinstance(value, date):
        raise invalid("event_date", "expected a date")
    if value > timezone.localdate(received_at):
        raise invalid(
            "event_date",
            f"{value.isoformat()} is after the complaint was received "
            f"({timezone.localdate(received_at).isoformat()}); an event happens before it is "
            "reported",
            "after_receipt",
        )
    return value


def _party(value: Any) -> Party | None:
    if value in (None, ""):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise invalid("complainant_party_id", "expected the id of a party") from None
    party = Party.objects.filter(pk=pk).first()
    if party is None:
        raise invalid("complainant_party_id", f"no party {pk}", "not_found")
    return party


def complaint_create(
    *,
    description: str,
    user: User | None,
    udi: str = "",
    channel: str = ComplaintChannel.UI,
    received_at: Any = None,
    event_date: Any = None,
    complainant_party_id: Any = None,
    complainant_name: str = "",
    complainant_contact: str = "",
    injury: Any = False,
    death: Any = False,
) -> Intake:
    """Record a complaint. Staff need ``complaints.add_complaint``; a hospital partner reports
    for their hospital (module docstring). ``received_at`` is the awareness time (default now,
    never in the future)."""
    common.require(user, PERM_INTAKE, "record complaints", hospitals=True)
    partner = common.partner_hospital(user)
    what = common.text("description", description, required=True, max_length=10_000)
    at = common.moment("received_at", received_at)
    happened = _event_date(event_date, at)
    name = common.text("complainant_name", complainant_name, max_length=150)
    contact = common.text("complainant_contact", complainant_contact, max_length=150)
    hurt = bool(common.yes_no("injury", injury))
    died = bool(common.yes_no("death", death))
    if partner is not None:
        party: Party | None = partner
        channel = ComplaintChannel.PARTNER
        name = name or common.printed_name(user)
    else:
        party = _party(complainant_party_id)
        if channel not in (ComplaintChannel.UI, ComplaintChannel.API):
            raise invalid("channel", f"{channel!r} is not a staff channel; expected ui or api")
        if party is None and not name:
            raise invalid(
                "complainant_name",
                "name the complainant: a party (complainant_party_id) or a name",
                "required",
            )
    found = device.device_resolve(udi, user=user)
    with transaction.atomic():
        complaint = Complaint.objects.create(
            number=next_number("CMP"),
            channel=channel,
            received_at=at,
            reported_by=user,
            complainant_party=party,
            complainant_name=name,
            complainant_contact=contact,
            event_date=happened,
            description=what,
            injury=hurt or died,
            death=died,
            **_device_fields(found),
        )
        _store_components(complaint, found)
        audit.record(
            action="create",
            object_type=audit.label_of(complaint),
            object_id=complaint.pk,
            object_repr=str(complaint),
            changes={**audit.snapshot(complaint), "components": found.components},
            user=user,
            reason=found.warning,
        )
        from .signals import signals_evaluate

        signals = signals_evaluate(complaint=complaint)
    return Intake(complaint, [found.warning] if found.warning else [], signals)


def _device_fields(found: device.Device) -> dict[str, Any]:
    return {
        "udi_text": found.udi_text,
        "udi_resolution": found.resolution,
        "unit_epc": found.unit_epc,
        "lot_class": found.lot_class,
        "gtin": found.gtin,
        "serial": found.serial,
        "lot": found.lot,
        "product_id": found.product_id,
    }


def _store_components(complaint: Complaint, found: device.Device) -> None:
    ComplaintComponentLot.objects.filter(complaint=complaint).delete()
    ComplaintComponentLot.objects.bulk_create(
        [ComplaintComponentLot(complaint=complaint, epc_class=c) for c in found.components]
    )


def complaint_set_device(
    *, complaint: Complaint, found: device.Device, user: User | None, reason: str
) -> list[Any]:
    """Name (or correct) the complained device during the investigation, inside the caller's
    transaction; the signals are evaluated again for the new lot and component lots."""
    before = audit.snapshot(complaint)
    for name, value in _device_fields(found).items():
        setattr(complaint, name, value)
    complaint.save()
    _store_components(complaint, found)
    audit.record_update(complaint, before, user=user, reason=reason)
    from .signals import signals_evaluate

    return signals_evaluate(complaint=complaint)
