"""Distribution reads, scoped: staff need the view permission; a partner sees only the orders,
shipments and returns addressed to its own party (others do not exist for it: 404)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from medtrace.accounts.models import User
from medtrace.accounts.scoping import is_partner, scope_by_party, visible_or_404
from medtrace.errors import PermissionDenied

from .models import (
    ReturnAuthorization,
    ReturnStatus,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    ShipmentItem,
    ShipmentStatus,
)
from .orders import shipped_quantities


def _may_view(user: User | None, model: str) -> None:
    if user is None or is_partner(user):
        return
    perm = f"distribution.view_{model}"
    if not user.has_perm(perm):
        raise PermissionDenied(f"You may not see distribution documents (needs {perm!r})")


def sales_orders(*, user: User | None, status: str | None = None) -> QuerySet[SalesOrder]:
    _may_view(user, "salesorder")
    qs = scope_by_party(
        user, SalesOrder.objects.select_related("customer", "ship_to"), field="customer"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def sales_order_get(*, user: User | None, pk: int) -> SalesOrder:
    return visible_or_404(sales_orders(user=user), "sales order", pk=pk)


@dataclass
class LineFill:
    product_id: int
    product: Any
    quantity: int
    shipped: int

    @property
    def remaining(self) -> int:
        return max(0, self.quantity - self.shipped)

    @property
    def complete(self) -> bool:
        return self.shipped >= self.quantity


def order_lines(order: SalesOrder, *, pending: dict[int, int] | None = None) -> list[LineFill]:
    """The order's lines with what shipped so far (plus ``pending`` units per product, e.g. the
    ones scanned at the shipping station but not yet confirmed)."""
    shipped = shipped_quantities(order)
    extra = pending or {}
    return [
        LineFill(
            line.product_id,
            line.product,
            line.quantity,
            shipped.get(line.product_id, 0) + extra.get(line.product_id, 0),
        )
        for line in order.lines.select_related("product")
    ]


def shipments(
    *, user: User | None, status: str | None = None, order: SalesOrder | None = None
) -> QuerySet[Shipment]:
    _may_view(user, "shipment")
    qs = scope_by_party(
        user,
        Shipment.objects.select_related("sales_order", "consignee", "ship_to", "ship_from"),
        field="consignee",
    )
    if status:
        qs = qs.filter(status=status)
    if order is not None:
        qs = qs.filter(sales_order=order)
    return qs.order_by("-id")


def shipment_get(*, user: User | None, pk: int) -> Shipment:
    return visible_or_404(shipments(user=user), "shipment", pk=pk)


def shipment_items(shipment: Shipment) -> QuerySet[ShipmentItem]:
    return shipment.items.select_related("product", "receipt").order_by("id")


def incoming(*, user: User) -> QuerySet[Shipment]:
    """A partner's shipments still to confirm (in transit, or received with units missing)."""
    return shipments(user=user).filter(
        status__in=(ShipmentStatus.IN_TRANSIT, ShipmentStatus.RECEIVED_WITH_DISCREPANCIES)
    )


def returns(*, user: User | None, status: str | None = None) -> QuerySet[ReturnAuthorization]:
    _may_view(user, "returnauthorization")
    qs = scope_by_party(
        user, ReturnAuthorization.objects.select_related("customer"), field="customer"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def rma_get(*, user: User | None, pk: int) -> ReturnAuthorization:
    return visible_or_404(returns(user=user), "return", pk=pk)


def rma_by_number(number: str) -> ReturnAuthorization | None:
    """The RMA named ``number`` (e.g. on a repair ticket), unscoped: for services."""
    return ReturnAuthorization.objects.filter(number=number).first()


def dashboard(*, user: User) -> dict[str, Any]:
    """What the distribution home page shows: open orders, shipments in transit, discrepancies,
    returns not yet closed (at most 50 of each)."""
    open_statuses = (
        SalesOrderStatus.DRAFT,
        SalesOrderStatus.CONFIRMED,
        SalesOrderStatus.PARTIALLY_SHIPPED,
    )
    return {
        "orders": list(sales_orders(user=user).filter(status__in=open_statuses)[:50]),
        "in_transit": list(shipments(user=user, status=ShipmentStatus.IN_TRANSIT)[:50]),
        "discrepancies": list(
            shipments(user=user, status=ShipmentStatus.RECEIVED_WITH_DISCREPANCIES)[:50]
        ),
        "returns": list(
            returns(user=user).exclude(status=ReturnStatus.CLOSED).prefetch_related("items")[:50]
        ),
    }
