"""Webhook events of distribution, queued in the outbox in the shipping/receiving transaction.

- ``shipment.shipped``: an advance ship notice (DESADV) for a WMS or ERP: our own systems'
  subscriptions, and the consignee's (the partner it is shipped to; no other partner).
- ``shipment.received``: the consignee confirmed receipt; for our own systems and the consignee.

The payload carries what a receiving warehouse books against: the shipment and order numbers,
the ship-to location, and every unit and container with its UDI parts. No patient data.
"""

from __future__ import annotations

from typing import Any

from medtrace.alerts import outbox

from .models import Shipment, ShipmentItem, ShipmentReceipt

SHIPPED = "shipment.shipped"
RECEIVED = "shipment.received"


def _items(shipment: Shipment) -> list[dict[str, Any]]:
    return [
        {
            "epc": i.epc,
            "udi": i.udi,
            "gtin": i.gtin or None,
            "serial": i.serial or None,
            "lot": i.lot or None,
            "expiry": i.expiry,
            "container": i.container or None,
            "is_container": i.is_container,
            "scanned": i.scanned,
        }
        for i in ShipmentItem.objects.filter(shipment=shipment).order_by("pk")
    ]


def _shipment(shipment: Shipment) -> dict[str, Any]:
    return {
        "number": shipment.number,
        "id": shipment.pk,
        "sales_order": shipment.sales_order.number,
        "customer_po": shipment.customer_po or None,
        "consignee": {"name": shipment.consignee_name, "gln": shipment.consignee.gln},
        "ship_to": {
            "name": shipment.ship_to_name,
            "address": shipment.ship_to_address,
            "sgln": shipment.ship_to_sgln,
        },
        "shipped_at": shipment.shipped_at,
        "event_id": shipment.event_id,
        "unit_count": shipment.unit_count,
        "api": f"/api/v1/shipments/{shipment.pk}",
    }


def shipment_shipped(shipment: Shipment) -> None:
    outbox.publish(
        SHIPPED,
        {"shipment": _shipment(shipment), "items": _items(shipment)},
        parties=[shipment.consignee],
        event_id=f"{SHIPPED}:{shipment.number}",
    )


def shipment_received(receipt: ShipmentReceipt) -> None:
    shipment = receipt.shipment
    outbox.publish(
        RECEIVED,
        {
            "shipment": _shipment(shipment),
            "receipt": {
                "number": receipt.number,
                "received_at": receipt.received_at,
                "event_id": receipt.event_id,
                "status": shipment.status,
                "epcs": receipt.epcs,
                "missing": receipt.missing,
                "extra": receipt.extra,
            },
        },
        parties=[shipment.consignee],
        event_id=f"{RECEIVED}:{receipt.number}",
    )
