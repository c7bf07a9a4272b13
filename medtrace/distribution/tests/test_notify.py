"""Shipment webhooks: a WMS gets the advance ship notice and the receipt; the consignee's system
gets its own shipment; another partner gets nothing."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.alerts import webhooks
from medtrace.alerts.models import OutboxMessage, OutboxStatus, WebhookSubscription
from medtrace.alerts.tests.receiver import webhook_receiver

from ..services import shipment_create, shipment_receive
from .factories import Dist

pytestmark = pytest.mark.django_db


def _subscribe(url: str, events: list[str], *, party: Any = None, system: str = "") -> str:
    secret = webhooks.new_secret()
    WebhookSubscription.objects.create(
        url=url, secret=secret, event_types=events, party=party, system_name=system
    )
    return secret


def test_shipping_and_receiving_notify_the_wms_and_the_consignee_only(
    d: Dist, django_capture_on_commit_callbacks: Any
) -> None:
    epcs = d.ready("W1", "W2")
    order = d.order(2)
    with webhook_receiver() as receiver:
        receiver.secrets = [
            _subscribe(
                receiver.url + "?wms", ["shipment.shipped", "shipment.received"], system="WMS"
            ),
            _subscribe(receiver.url + "?hospital", ["shipment.shipped"], party=d.w.hospital),
            _subscribe(receiver.url + "?other", ["*"], party=d.other_hospital),
        ]
        with django_capture_on_commit_callbacks(execute=True):
            shipment = shipment_create(order=order, scans=epcs, user=d.sales)
        with django_capture_on_commit_callbacks(execute=True):
            receipt = shipment_receive(shipment=shipment, scans=epcs, user=d.hospital_user)

    got = [
        (r.path.split("?")[1], r.headers[webhooks.EVENT_HEADER], r.json)
        for r in receiver.accepted()
    ]
    assert sorted((who, event) for who, event, _ in got) == [
        ("hospital", "shipment.shipped"),
        ("wms", "shipment.received"),
        ("wms", "shipment.shipped"),
    ]
    asn = next(body for who, event, body in got if who == "wms" and event == "shipment.shipped")
    assert asn["shipment"]["number"] == shipment.number
    assert asn["shipment"]["ship_to"]["sgln"] == shipment.ship_to_sgln
    assert sorted(i["epc"] for i in asn["items"]) == sorted(epcs)
    assert all(i["serial"] in {"W1", "W2"} and i["udi"].startswith("(01)") for i in asn["items"])
    received = next(body for who, event, body in got if event == "shipment.received")
    assert received["receipt"]["number"] == receipt.number and received["receipt"]["missing"] == []
    assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED).count() == 3
    assert not any("other" in r.path for r in receiver.requests)


def test_a_refused_shipment_queues_no_notice(d: Dist) -> None:
    _subscribe("http://127.0.0.1:9/hook", ["*"], system="WMS")
    order = d.order(1)
    with pytest.raises(Exception):  # noqa: B017 - any refusal: the point is what was stored
        shipment_create(order=order, scans=["not-a-unit"], user=d.sales)
    assert not OutboxMessage.objects.exists()
