"""Returns (RMA): only what the customer holds comes back, and it comes back into quarantine."""

from __future__ import annotations

import pytest

from medtrace.accounts.scoping import party_identifiers
from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, EventBizTransaction, EventSourceDest, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.tests import factories as md
from medtrace.quality.models import Hold

from ..models import ReturnAuthorization, ReturnStatus
from ..services import rma_close, rma_create, rma_receive, shipment_create, shipment_receive
from .factories import Dist, user

pytestmark = pytest.mark.django_db


def at_hospital(d: Dist, *serials: str) -> list[str]:
    epcs = d.ready(*serials)
    shipment = shipment_create(order=d.order(len(epcs)), scans=epcs, user=d.sales)
    shipment_receive(shipment=shipment, scans=epcs, user=d.hospital_user)
    return epcs


@pytest.fixture
def quarantine(d: Dist):
    return md.location(owner=d.w.maker, kind="site", code="SZ-QRN", name="待检/隔离区", ref=5)


def test_a_return_comes_back_into_quarantine(d: Dist, quarantine) -> None:
    epcs = at_hospital(d, "A1", "A2")
    rma = rma_create(customer=d.w.hospital, scans=epcs[:1], reason="报警失灵", user=d.sales)
    assert rma.number.startswith("RMA-") and rma.status == ReturnStatus.AUTHORISED
    clerk = user("wh_returns", role="warehouse")
    received = rma_receive(rma=rma, user=clerk)
    assert received.status == ReturnStatus.RECEIVED and received.received_into == quarantine
    event = Event.objects.get(event_id=received.event_id)
    assert (event.biz_step, event.disposition) == ("receiving", "returned")
    assert event.biz_location == quarantine.sgln
    bt = EventBizTransaction.objects.get(event=event)
    assert bt.type == "rma" and bt.value.endswith(rma.number)
    us, them = ev.party_pgln(own_party()), ev.party_pgln(d.w.hospital)
    lists = set(EventSourceDest.objects.filter(event=event).values_list("kind", "type", "value"))
    assert {("source", "owning_party", them), ("source", "possessing_party", them)} <= lists
    assert {("destination", "owning_party", us), ("destination", "possessing_party", us)} <= lists
    (hold,) = Hold.objects.filter(target=epcs[0])
    assert hold.kind == "quarantine" and hold.source == rma.number and hold.lifted_at is None
    assert received.holds == [hold.number]
    state = UnitState.objects.get(epc=epcs[0])
    assert state.possessing_party in party_identifiers(own_party())  # ours again
    assert state.biz_location == quarantine.sgln
    with pytest.raises(SequenceViolation) as exc:  # quarantined: it does not ship again
        rules.check(rules.Step.SHIP, epcs[:1])
    assert "in quarantine" in exc.value.message
    closed = rma_close(rma=received, user=d.sales, note="repaired under warranty, RT-1")
    assert closed.status == ReturnStatus.CLOSED


def test_only_what_the_customer_holds_can_be_returned(d: Dist) -> None:
    (ours,) = d.ready("B1")
    with pytest.raises(ValidationFailed) as exc:
        rma_create(customer=d.w.hospital, scans=[ours], reason="x", user=d.sales)
    assert "B1 is not held by" in exc.value.message and exc.value.field == "epcs"
    epcs = at_hospital(d, "B2")
    with pytest.raises(ValidationFailed):  # the other hospital does not hold it
        rma_create(customer=d.other_hospital, scans=epcs, reason="x", user=d.sales)
    assert ReturnAuthorization.objects.count() == 0
    rma_create(customer=d.w.hospital, scans=epcs, reason="x", user=d.sales)
    with pytest.raises(Conflict):  # one open return per unit
        rma_create(customer=d.w.hospital, scans=epcs, reason="y", user=d.sales)


def test_a_refused_receipt_stores_nothing(d: Dist, quarantine) -> None:
    epcs = at_hospital(d, "C1", "C2")
    rma = rma_create(customer=d.w.hospital, scans=epcs[:1], reason="noisy motor", user=d.sales)
    counts = (Event.objects.count(), Hold.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ValidationFailed) as exc:  # not on the RMA
        rma_receive(rma=rma, user=None, scans=epcs[1:])
    assert "is not on RMA-" in exc.value.message
    with pytest.raises(PermissionDenied):  # sales authorises, the warehouse receives
        rma_receive(rma=rma, user=d.sales)
    assert counts == (Event.objects.count(), Hold.objects.count(), AuditEntry.objects.count())
    rma.refresh_from_db()
    assert rma.status == ReturnStatus.AUTHORISED


def test_without_a_quarantine_location_the_receipt_asks_for_one(d: Dist) -> None:
    epcs = at_hospital(d, "D1")
    rma = rma_create(customer=d.w.hospital, scans=epcs, reason="x", user=d.sales)
    with pytest.raises(ValidationFailed) as exc:
        rma_receive(rma=rma, user=None)
    assert exc.value.field == "location_id"
    assert rma_receive(rma=rma, user=None, location=d.w.warehouse).received_into == d.w.warehouse
