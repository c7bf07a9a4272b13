"""REST endpoints of the distribution app (mounted at /api/v1/).

Scopes: ``lifecycle:read`` to read, ``distribution:write`` to write, ``partner:receive`` for a
receipt. Partner users see only the orders, shipments and returns addressed to their own party
(anything else: 404).
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import date, datetime

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.errors import ValidationFailed
from medtrace.masterdata.models import Location

from . import returns as rma_services
from . import selectors, services
from .models import ReceiptChannel, ReturnAuthorization, SalesOrder, Shipment, ShipmentReceipt
from .pdf import despatch_note_pdf

router = Router(tags=["distribution"])

READ, WRITE, RECEIVE = "lifecycle:read", "distribution:write", "partner:receive"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class LineIn(StrictIn):
    product_id: int
    quantity: int = Field(description="Units ordered (at least 1)")


class SalesOrderIn(StrictIn):
    customer_id: int = Field(description="A distributor or hospital")
    ship_to_id: int = Field(description="One of the customer's locations")
    lines: list[LineIn]
    customer_po: str = Field("", description="The customer's purchase order number")
    note: str = ""


class ReasonIn(StrictIn):
    reason: str = Field(description="Why (recorded in the audit trail)")


class LineOut(Schema):
    product_id: int
    product: str
    model: str
    quantity: int
    shipped: int
    remaining: int


class SalesOrderOut(Schema):
    id: int
    number: str
    status: str
    customer_id: int
    customer: str
    ship_to_id: int
    ship_to: str
    customer_po: str
    note: str
    licence_number: str
    created_at: datetime
    confirmed_at: datetime | None
    closed_reason: str
    lines: list[LineOut]


class ShipmentIn(StrictIn):
    sales_order_id: int
    epcs: list[str] = Field(
        description="What was scanned: units or SSCCs, in any UDI form (GS1 element string, raw "
        "scan, Digital Link, HIBC, EPC URN, bare serial)"
    )
    ship_from_id: int | None = Field(
        None, description="Our location (default: where the units are)"
    )
    note: str = ""


class ItemOut(Schema):
    epc: str
    udi: str
    scanned: bool
    container: str
    is_container: bool
    product_id: int | None
    serial: str
    lot: str
    expiry: date | None
    received: bool


class ConsigneeOut(Schema):
    party_id: int
    name: str
    address: str
    licence_kind: str
    licence_number: str
    licence_expires_on: date | None
    ship_to_id: int
    ship_to_name: str
    ship_to_address: str
    ship_to_sgln: str


class ShipmentOut(Schema):
    id: int
    number: str
    status: str
    sales_order_id: int
    sales_order: str
    customer_po: str
    consignee: ConsigneeOut
    ship_from_id: int
    unit_count: int
    shipped_at: datetime
    event_id: str
    received_at: datetime | None
    missing: list[str]
    extra: list[str]
    note: str
    items: list[ItemOut]


class ReceiptIn(StrictIn):
    epcs: list[str] = Field(description="What arrived: units or SSCCs, in any UDI form")


class ReceiptOut(Schema):
    number: str
    shipment_id: int
    shipment_status: str
    channel: str
    received_at: datetime
    event_id: str
    epcs: list[str]
    missing: list[str]
    extra: list[str]


class ReturnIn(StrictIn):
    customer_id: int
    epcs: list[str] = Field(description="The units coming back, in any UDI form")
    reason: str


class ReturnReceiveIn(StrictIn):
    epcs: list[str] = Field(
        default_factory=list, description="What arrived (default: every unit of the RMA)"
    )
    location_id: int | None = Field(None, description="Our quarantine location (default: QRN)")


class CloseIn(StrictIn):
    note: str = Field(description="How the return was settled")


class ReturnItemOut(Schema):
    epc: str
    serial: str
    product_id: int | None
    received: bool


class ReturnOut(Schema):
    id: int
    number: str
    status: str
    customer_id: int
    customer: str
    reason: str
    created_at: datetime
    received_at: datetime | None
    received_into_id: int | None
    event_id: str
    holds: list[str]
    closed_reason: str
    items: list[ReturnItemOut]


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _order_out(order: SalesOrder) -> dict[str, object]:
    return {
        "id": order.pk,
        "number": order.number,
        "status": order.status,
        "customer_id": order.customer_id,
        "customer": order.customer.name,
        "ship_to_id": order.ship_to_id,
        "ship_to": order.ship_to.name,
        "customer_po": order.customer_po,
        "note": order.note,
        "licence_number": order.licence_number,
        "created_at": order.created_at,
        "confirmed_at": order.confirmed_at,
        "closed_reason": order.closed_reason,
        "lines": [
            {
                "product_id": line.product_id,
                "product": line.product.name,
                "model": line.product.model,
                "quantity": line.quantity,
                "shipped": line.shipped,
                "remaining": line.remaining,
            }
            for line in selectors.order_lines(order)
        ],
    }


def _shipment_out(shipment: Shipment, *, items: bool = True) -> dict[str, object]:
    return {
        "id": shipment.pk,
        "number": shipment.number,
        "status": shipment.status,
        "sales_order_id": shipment.sales_order_id,
        "sales_order": shipment.sales_order.number,
        "customer_po": shipment.customer_po,
        "consignee": {
            "party_id": shipment.consignee_id,
            "name": shipment.consignee_name,
            "address": shipment.consignee_address,
            "licence_kind": shipment.consignee_licence_kind,
            "licence_number": shipment.consignee_licence_number,
            "licence_expires_on": shipment.consignee_licence_expires_on,
            "ship_to_id": shipment.ship_to_id,
            "ship_to_name": shipment.ship_to_name,
            "ship_to_address": shipment.ship_to_address,
            "ship_to_sgln": shipment.ship_to_sgln,
        },
        "ship_from_id": shipment.ship_from_id,
        "unit_count": shipment.unit_count,
        "shipped_at": shipment.shipped_at,
        "event_id": shipment.event_id,
        "received_at": shipment.received_at,
        "missing": shipment.missing,
        "extra": shipment.extra,
        "note": shipment.note,
        "items": [
            {
                "epc": i.epc,
                "udi": i.udi,
                "scanned": i.scanned,
                "container": i.container,
                "is_container": i.is_container,
                "product_id": i.product_id,
                "serial": i.serial,
                "lot": i.lot,
                "expiry": i.expiry,
                "received": i.received,
            }
            for i in (selectors.shipment_items(shipment) if items else [])
        ],
    }


def _receipt_out(receipt: ShipmentReceipt) -> dict[str, object]:
    return {
        "number": receipt.number,
        "shipment_id": receipt.shipment_id,
        "shipment_status": receipt.shipment.status,
        "channel": receipt.channel,
        "received_at": receipt.received_at,
        "event_id": receipt.event_id,
        "epcs": receipt.epcs,
        "missing": receipt.missing,
        "extra": receipt.extra,
    }


def _rma_out(rma: ReturnAuthorization) -> dict[str, object]:
    return {
        "id": rma.pk,
        "number": rma.number,
        "status": rma.status,
        "customer_id": rma.customer_id,
        "customer": rma.customer.name,
        "reason": rma.reason,
        "created_at": rma.created_at,
        "received_at": rma.received_at,
        "received_into_id": rma.received_into_id,
        "event_id": rma.event_id,
        "holds": rma.holds,
        "closed_reason": rma.closed_reason,
        "items": [
            {"epc": i.epc, "serial": i.serial, "product_id": i.product_id, "received": i.received}
            for i in rma.items.all()
        ],
    }


def _our_location(value: int | None, field: str) -> Location | None:
    if value is None:
        return None
    location = Location.objects.filter(pk=value).first()
    if location is None:
        raise ValidationFailed(f"{field}: no location with id {value}", field=field)
    return location


# Sales orders ----------------------------------------------------------------------------------


@router.get("/sales-orders", response=list[SalesOrderOut])
def list_sales_orders(request: HttpRequest, status: str | None = None) -> list[dict[str, object]]:
    user = _user(request, READ)
    orders = selectors.sales_orders(user=user, status=status).prefetch_related("lines__product")
    return [_order_out(o) for o in orders[:500]]


@router.post("/sales-orders", response={201: SalesOrderOut})
def create_sales_order(request: HttpRequest, payload: SalesOrderIn) -> Status:
    """A draft order; confirm it to check the customer's licence."""
    user = _user(request, WRITE)
    order = services.sales_order_create(data=payload.model_dump(), user=user)
    return Status(201, _order_out(order))


@router.get("/sales-orders/{order_id}", response=SalesOrderOut)
def get_sales_order(request: HttpRequest, order_id: int) -> dict[str, object]:
    user = _user(request, READ)
    return _order_out(selectors.sales_order_get(user=user, pk=order_id))


@router.post("/sales-orders/{order_id}/confirm", response=SalesOrderOut)
def confirm_sales_order(request: HttpRequest, order_id: int) -> dict[str, object]:
    """draft -> confirmed; refused (422, field customer_id) when the customer's licence
    (经营许可证/备案 for a distributor, 医疗机构执业许可证 for a hospital) is missing or expired."""
    user = _user(request, WRITE)
    order = selectors.sales_order_get(user=user, pk=order_id)
    return _order_out(services.sales_order_confirm(order=order, user=user))


@router.post("/sales-orders/{order_id}/cancel", response=SalesOrderOut)
def cancel_sales_order(request: HttpRequest, order_id: int, payload: ReasonIn) -> dict[str, object]:
    user = _user(request, WRITE)
    order = selectors.sales_order_get(user=user, pk=order_id)
    return _order_out(services.sales_order_cancel(order=order, user=user, reason=payload.reason))


@router.post("/sales-orders/{order_id}/close", response=SalesOrderOut)
def close_sales_order(request: HttpRequest, order_id: int, payload: ReasonIn) -> dict[str, object]:
    """Nothing more ships on a (partially) shipped order."""
    user = _user(request, WRITE)
    order = selectors.sales_order_get(user=user, pk=order_id)
    return _order_out(services.sales_order_close(order=order, user=user, reason=payload.reason))


# Shipments -------------------------------------------------------------------------------------


@router.get("/shipments", response=list[ShipmentOut])
def list_shipments(
    request: HttpRequest, status: str | None = None, sales_order_id: int | None = None
) -> list[dict[str, object]]:
    """Without items (GET /shipments/{id} lists them)."""
    user = _user(request, READ)
    qs = selectors.shipments(user=user, status=status)
    if sales_order_id is not None:
        qs = qs.filter(sales_order_id=sales_order_id)
    return [_shipment_out(s, items=False) for s in qs[:500]]


@router.post("/shipments", response={201: ShipmentOut})
def create_shipment(request: HttpRequest, payload: ShipmentIn) -> Status:
    """Ship scanned units and SSCCs on a confirmed order. Refused (409) when a unit inside is
    not released, held, quarantined, recalled, expired or already in transit (the unit and why);
    422 when a unit is not on the order or more than ordered."""
    user = _user(request, WRITE)
    order = selectors.sales_order_get(user=user, pk=payload.sales_order_id)
    shipment = services.shipment_create(
        order=order,
        scans=payload.epcs,
        user=user,
        ship_from=_our_location(payload.ship_from_id, "ship_from_id"),
        note=payload.note,
    )
    return Status(201, _shipment_out(shipment))


@router.get("/shipments/{shipment_id}", response=ShipmentOut)
def get_shipment(request: HttpRequest, shipment_id: int) -> dict[str, object]:
    user = _user(request, READ)
    return _shipment_out(selectors.shipment_get(user=user, pk=shipment_id))


@router.get("/shipments/{shipment_id}/despatch-note.pdf")
def get_despatch_note(request: HttpRequest, shipment_id: int) -> HttpResponse:
    """The despatch note (发货单) as PDF: consignee, licence, ship-to and every unit's UDI."""
    user = _user(request, READ)
    shipment = selectors.shipment_get(user=user, pk=shipment_id)
    language = getattr(request, "LANGUAGE_CODE", "zh-hans")
    response = HttpResponse(despatch_note_pdf(shipment, language=language), "application/pdf")
    response["Content-Disposition"] = f'inline; filename="{shipment.number}.pdf"'
    return response


@router.post("/shipments/{shipment_id}/receipt", response={201: ReceiptOut})
def receive_shipment(request: HttpRequest, shipment_id: int, payload: ReceiptIn) -> Status:
    """The consignee confirms what arrived. Units shipped but not named are flagged missing,
    units named but not on the shipment extra; a unit never shipped to the consignee is
    refused (409)."""
    user = _user(request, RECEIVE)
    shipment = selectors.shipment_get(user=user, pk=shipment_id)
    receipt = services.shipment_receive(
        shipment=shipment, scans=payload.epcs, user=user, channel=ReceiptChannel.API
    )
    return Status(201, _receipt_out(receipt))


# Returns ---------------------------------------------------------------------------------------


@router.get("/returns", response=list[ReturnOut])
def list_returns(request: HttpRequest, status: str | None = None) -> list[dict[str, object]]:
    user = _user(request, READ)
    rmas = selectors.returns(user=user, status=status).prefetch_related("items")
    return [_rma_out(r) for r in rmas[:500]]


@router.post("/returns", response={201: ReturnOut})
def create_return(request: HttpRequest, payload: ReturnIn) -> Status:
    """Authorise a customer to send units back (it must hold them now)."""
    user = _user(request, WRITE)
    customer = services.party_or_422(payload.customer_id, "customer_id")
    rma = rma_services.rma_create(
        customer=customer, scans=payload.epcs, reason=payload.reason, user=user
    )
    return Status(201, _rma_out(rma))


@router.get("/returns/{rma_id}", response=ReturnOut)
def get_return(request: HttpRequest, rma_id: int) -> dict[str, object]:
    user = _user(request, READ)
    return _rma_out(selectors.rma_get(user=user, pk=rma_id))


@router.post("/returns/{rma_id}/receive", response=ReturnOut)
def receive_return(
    request: HttpRequest, rma_id: int, payload: ReturnReceiveIn
) -> dict[str, object]:
    """The returned units arrived: received into quarantine (a quarantine hold per unit)."""
    user = _user(request, WRITE)
    rma = selectors.rma_get(user=user, pk=rma_id)
    received = rma_services.rma_receive(
        rma=rma,
        user=user,
        scans=payload.epcs,
        location=_our_location(payload.location_id, "location_id"),
    )
    return _rma_out(received)


@router.post("/returns/{rma_id}/close", response=ReturnOut)
def close_return(request: HttpRequest, rma_id: int, payload: CloseIn) -> dict[str, object]:
    user = _user(request, WRITE)
    rma = selectors.rma_get(user=user, pk=rma_id)
    return _rma_out(rma_services.rma_close(rma=rma, user=user, note=payload.note))
