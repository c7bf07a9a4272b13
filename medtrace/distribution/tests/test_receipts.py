"""Partner receipt through the service, the API and EPCIS capture: discrepancies flagged and
alerted, what was never shipped to you refused, another partner can neither receive nor see it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from medtrace.accounts.services import token_create
from medtrace.alerts.models import Alert
from medtrace.errors import NotFound, SequenceViolation
from medtrace.ledger.models import Event, EventBizTransaction, UnitState
from medtrace.lifecycle import events as ev

from ..models import SalesOrderStatus, Shipment, ShipmentReceipt, ShipmentStatus
from ..services import shipment_create, shipment_receive
from .factories import Dist

pytestmark = pytest.mark.django_db


def shipped(d: Dist, *serials: str, pack: int | None = None, quantity: int | None = None):
    epcs = d.ready(*serials)
    scans = [d.pack(pack, epcs)] if pack else epcs
    order = d.order(quantity or len(serials))
    return shipment_create(order=order, scans=scans, user=d.sales), epcs


def client(user: Any, *scopes: str) -> Client:
    _token, raw = token_create(user=user, scopes=list(scopes) or ["partner:receive"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_full_receipt_marks_the_shipment_received_and_closes_the_order(d: Dist) -> None:
    shipment, epcs = shipped(d, "F1", "F2", pack=3)
    sscc = d.w.sscc(3)
    receipt = shipment_receive(shipment=shipment, scans=[sscc], user=d.hospital_user)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RECEIVED
    assert shipment.missing == [] and shipment.extra == []
    assert set(shipment.items.values_list("receipt_id", flat=True)) == {receipt.pk}
    event = Event.objects.get(event_id=receipt.event_id)
    assert (event.biz_step, event.disposition) == ("receiving", "in_progress")
    assert event.biz_location == d.w.ward.sgln
    bts = dict(EventBizTransaction.objects.filter(event=event).values_list("type", "value"))
    assert bts["desadv"].endswith(shipment.number) and bts["recadv"].endswith(receipt.number)
    them = ev.party_pgln(d.w.hospital)
    for state in UnitState.objects.filter(epc__in=[sscc, *epcs]):
        assert state.disposition == "in_progress" and state.possessing_party == them
    assert shipment.sales_order.status == SalesOrderStatus.CLOSED
    assert not Alert.objects.filter(kind="shipment_discrepancy").exists()


def test_a_missing_unit_is_flagged_alerted_and_can_still_arrive(d: Dist) -> None:
    shipment, epcs = shipped(d, "G1", "G2", "G3")
    receipt = shipment_receive(shipment=shipment, scans=epcs[:2], user=d.hospital_user)
    assert receipt.missing == [epcs[2]]
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RECEIVED_WITH_DISCREPANCIES
    assert shipment.missing == [epcs[2]]
    alert = Alert.objects.get(kind="shipment_discrepancy")
    assert alert.recipient_role == "sales" and "G3" in alert.message
    assert alert.object_id == str(shipment.pk)
    # the missing unit turns up a day later
    shipment_receive(shipment=shipment, scans=epcs[2:], user=d.hospital_user)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RECEIVED and shipment.missing == []


def test_a_unit_of_another_shipment_to_us_is_flagged_extra(d: Dist) -> None:
    first, epcs_a = shipped(d, "H1")
    second, epcs_b = shipped(d, "H2")
    receipt = shipment_receive(shipment=first, scans=[*epcs_a, *epcs_b], user=d.hospital_user)
    assert receipt.extra == epcs_b
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ShipmentStatus.RECEIVED_WITH_DISCREPANCIES and first.extra == epcs_b
    assert second.status == ShipmentStatus.RECEIVED  # reconciled with its own shipment


def test_receiving_what_was_never_shipped_to_you_is_refused(d: Dist) -> None:
    shipment, _epcs = shipped(d, "J1")
    (stray,) = d.ready("J2")  # in our warehouse, never shipped
    before = (ShipmentReceipt.objects.count(), Event.objects.filter(biz_step="receiving").count())
    with pytest.raises(SequenceViolation) as exc:
        shipment_receive(shipment=shipment, scans=[stray], user=d.hospital_user)
    assert "Cannot receive J2: it is not in transit" in exc.value.message
    assert before == (
        ShipmentReceipt.objects.count(),
        Event.objects.filter(biz_step="receiving").count(),
    )


def test_another_partner_can_neither_receive_nor_see_it(d: Dist) -> None:
    shipment, epcs = shipped(d, "K1")
    with pytest.raises(NotFound):
        shipment_receive(shipment=shipment, scans=epcs, user=d.other_user)
    other = client(d.other_user, "partner:receive", "lifecycle:read")
    assert other.get(f"/api/v1/shipments/{shipment.pk}").status_code == 404
    assert other.get("/api/v1/shipments").json() == []
    response = other.post(
        f"/api/v1/shipments/{shipment.pk}/receipt",
        {"epcs": epcs},
        content_type="application/json",
    )
    assert response.status_code == 404
    # its own shipment of the same goods would be refused by the state machine too
    with pytest.raises(SequenceViolation) as exc:
        from medtrace.accounts.scoping import party_identifiers
        from medtrace.lifecycle import rules

        rules.check(rules.Step.RECEIVE, epcs, party_ids=party_identifiers(d.other_hospital))
    assert "shipped to another party" in exc.value.message
    mine = client(d.hospital_user, "lifecycle:read")
    assert mine.get(f"/api/v1/shipments/{shipment.pk}").json()["number"] == shipment.number


def test_receipt_through_the_api(d: Dist) -> None:
    shipment, epcs = shipped(d, "L1", "L2")
    gtin = d.w.gtin(d.w.device)
    response = client(d.hospital_user).post(
        f"/api/v1/shipments/{shipment.pk}/receipt",
        {"epcs": [f"(01){gtin}(21)L1"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["shipment_status"] == "received_with_discrepancies"
    assert body["missing"] == [epcs[1]] and body["channel"] == "api"
    again = client(d.hospital_user).post(
        f"/api/v1/shipments/{shipment.pk}/receipt",
        {"epcs": [f"(01){gtin}(21)L1"]},
        content_type="application/json",
    )
    assert again.status_code == 409 and again.json()["error"] == "sequence_violation"


def test_a_token_without_partner_receive_cannot_record_a_receipt(d: Dist) -> None:
    shipment, epcs = shipped(d, "M1")
    response = client(d.hospital_user, "lifecycle:read").post(
        f"/api/v1/shipments/{shipment.pk}/receipt", {"epcs": epcs}, content_type="application/json"
    )
    assert response.status_code == 403 and "partner:receive" in response.json()["message"]


# EPCIS ----------------------------------------------------------------------------------------


def receiving(d: Dist, epcs: list[str], **over: Any) -> dict[str, Any]:
    """A receiving event as the hospital's WMS sends it (with its own @context, so that it can
    also go alone to POST /epcis/events)."""
    event = ev.object_event(
        epcs=epcs,
        biz_step="receiving",
        disposition="in_progress",
        read_point=d.w.ward.sgln,
        biz_location=d.w.ward.sgln,
        sources=ev.parties("source", owner=d.w.maker, holder=d.w.maker),
        destinations=ev.parties("destination", owner=d.w.hospital, holder=d.w.hospital),
    )
    event.update(over)
    return {"@context": [ev.CONTEXT], **event}


def post(user: Any, path: str, body: dict[str, Any], *scopes: str) -> Any:
    return client(user, *scopes).post(path, json.dumps(body), content_type="application/json")


def test_a_partner_captures_its_receipt_through_epcis(d: Dist) -> None:
    shipment, epcs = shipped(d, "N1", "N2", pack=4)
    sscc = d.w.sscc(4)
    response = post(d.hospital_user, "/epcis/capture", ev.document([receiving(d, [sscc])]))
    assert response.status_code == 202, response.content
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RECEIVED
    receipt = shipment.receipts.get()
    assert receipt.channel == "epcis" and receipt.received_by == d.hospital_user
    assert UnitState.objects.get(epc=epcs[0]).possessing_party == ev.party_pgln(d.w.hospital)


def test_a_partial_epcis_receipt_leaves_the_rest_missing(d: Dist) -> None:
    shipment, epcs = shipped(d, "P1", "P2")
    response = post(d.hospital_user, "/epcis/events", receiving(d, epcs[:1]))
    assert response.status_code == 201, response.content
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.RECEIVED_WITH_DISCREPANCIES
    assert shipment.missing == [epcs[1]]


@pytest.mark.parametrize("path", ["/epcis/capture", "/epcis/events"])
def test_epcis_receipt_of_what_was_never_shipped_to_you_is_refused(d: Dist, path: str) -> None:
    _shipment, epcs = shipped(d, "Q1")
    (stray,) = d.ready("Q2")
    events = Event.objects.count()
    for who, what in ((d.hospital_user, [stray]), (d.other_user, epcs)):
        event = receiving(d, what)
        if who is d.other_user:
            place = {"id": d.other_hospital.locations.get().sgln}
            event["readPoint"] = event["bizLocation"] = place
            event["destinationList"] = ev.parties(
                "destination", owner=d.other_hospital, holder=d.other_hospital
            )
        body = ev.document([event]) if path.endswith("capture") else event
        response = post(who, path, body)
        assert response.status_code == 403, response.content
        problem = response.json()
        assert problem["type"] == "epcisException:SecurityException"
        assert "Cannot receive" in problem["title"]
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"bizStep": "shipping"}, "bizStep shipping is not receiving or accepting"),
        ({"action": "ADD"}, "ObjectEvent ADD is not a receipt"),
        ({"bizLocation": {"id": "urn:epc:id:sgln:6920009.00001.0"}}, "not one of your own"),
    ],
)
def test_a_partner_may_capture_nothing_but_its_receipt(
    d: Dist, change: dict[str, Any], text: str
) -> None:
    _shipment, epcs = shipped(d, "R1")
    events = Event.objects.count()
    response = post(d.hospital_user, "/epcis/capture", ev.document([receiving(d, epcs, **change)]))
    assert response.status_code == 403 and text in response.json()["title"]
    assert Event.objects.count() == events


def test_a_partner_naming_another_party_as_destination_is_refused(d: Dist) -> None:
    _shipment, epcs = shipped(d, "S1")
    event = receiving(d, epcs)
    event["destinationList"] = ev.parties("destination", owner=d.other_hospital)
    response = post(d.hospital_user, "/epcis/events", event)
    assert response.status_code == 403 and "is not your party" in response.json()["title"]


def test_a_partner_token_needs_partner_receive_to_capture(d: Dist) -> None:
    _shipment, epcs = shipped(d, "T1")
    response = post(d.hospital_user, "/epcis/events", receiving(d, epcs), "epcis:query")
    assert response.status_code == 403 and "partner:receive" in response.json()["title"]
    assert Shipment.objects.get().status == ShipmentStatus.IN_TRANSIT
