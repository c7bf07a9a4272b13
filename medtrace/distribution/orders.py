"""Sales orders to distributors and hospitals, and the licence check that guards them.

A device may only be sold to a licensed buyer (医疗器械经营监督管理办法: a distributor's
医疗器械经营许可证 or 备案凭证; 医疗器械使用质量监督管理办法: a hospital's 医疗机构执业许可证).
Confirming an order, and shipping on it, need that licence on file and not expired.

Workflow: draft -> confirmed -> partially_shipped -> shipped -> closed (automatically once every
shipment was received in full, or by hand with a reason); draft or confirmed -> cancelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import (
    LicenceKind,
    Location,
    Party,
    PartyLicence,
    PartyRole,
    Product,
    TrackingMode,
)

from .models import (
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    ShipmentItem,
)

PERM_ORDER_ADD = "distribution.add_salesorder"
PERM_ORDER_CHANGE = "distribution.change_salesorder"
PERM_SHIP = "distribution.add_shipment"
PERM_RECEIVE_FOR = "distribution.receive_shipment"

CUSTOMER_ROLES = (PartyRole.DISTRIBUTOR, PartyRole.HOSPITAL)
# Which licence lets a party buy medical devices: a distributor needs its 医疗器械经营许可证
# (class III) or 经营备案凭证 (class II); a hospital its 医疗机构执业许可证.
LICENCES_FOR_BUYING: dict[str, tuple[str, ...]] = {
    PartyRole.DISTRIBUTOR: (LicenceKind.DISTRIBUTION, LicenceKind.DISTRIBUTION_FILING),
    PartyRole.HOSPITAL: (LicenceKind.MEDICAL_INSTITUTION,),
}
RECEIVING_DISPOSITION = "in_progress"
_CHUNK = 500


def require(user: User | None, perm: str, what: str) -> None:
    if user is None:
        return  # the CLI and the demo loader
    if user.party_id is not None or not user.has_perm(perm):
        raise PermissionDenied(f"You may not {what} (needs {perm!r})")


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# Licences --------------------------------------------------------------------------------------


def customer_licence(
    party: Party, *, today: date | None = None, field: str = "customer_id"
) -> PartyLicence:
    """The licence that lets ``party`` buy devices today, or a ValidationFailed saying which
    licence is missing or expired (the order cannot be confirmed or shipped)."""
    today = today or timezone.localdate()
    kinds = LICENCES_FOR_BUYING.get(party.role)
    if kinds is None:
        raise ValidationFailed(
            f"{field}: {party.name} is a {party.get_role_display().lower()}; sales orders go to "
            "a distributor or a hospital",
            field=field,
        )
    names = " or ".join(str(LicenceKind(k).label) for k in kinds)
    held = list(PartyLicence.objects.filter(party=party, kind__in=kinds))
    valid = [lic for lic in held if lic.expires_on is None or lic.expires_on >= today]
    if valid:
        # The one valid longest: a licence without expiry (a filing) first.
        return max(valid, key=lambda lic: (lic.expires_on is None, lic.expires_on or today))
    if not held:
        raise ValidationFailed(
            f"{field}: {party.name} has no {names} on file; add it to the party's licences in "
            "master data before selling to them",
            field=field,
            details={"party_id": party.pk, "licence_kinds": list(kinds)},
        )
    latest = max(held, key=lambda lic: lic.expires_on or today)
    raise ValidationFailed(
        f"{field}: {party.name}'s {latest.get_kind_display()} {latest.number} expired on "
        f"{latest.expires_on.isoformat() if latest.expires_on else '?'}; record the renewed "
        "licence in master data before selling to them",
        field=field,
        details={
            "party_id": party.pk,
            "licence": latest.number,
            "expired_on": str(latest.expires_on),
        },
    )


# Sales orders ----------------------------------------------------------------------------------


def party_or_422(value: Any, field: str) -> Party:
    """The party with id ``value``, or a 422 naming ``field``."""
    party = Party.objects.filter(pk=value).first() if isinstance(value, int) else None
    if party is None:
        raise ValidationFailed(f"{field}: no party with id {value!r}", field=field)
    return party


def _lines(raw: Any) -> list[tuple[Product, int]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed(
            "lines: an order needs at least one line (product_id and quantity)", field="lines"
        )
    ids = [line.get("product_id") for line in raw if isinstance(line, Mapping)]
    products = Product.objects.in_bulk([i for i in ids if isinstance(i, int)])
    out: list[tuple[Product, int]] = []
    seen: set[int] = set()
    for index, line in enumerate(raw):
        where = f"lines[{index}]"
        if not isinstance(line, Mapping):
            raise ValidationFailed(f"{where}: expected product_id and quantity", field=where)
        product = products.get(line.get("product_id"))
        if product is None:
            raise ValidationFailed(
                f"{where}.product_id: no product with id {line.get('product_id')!r}",
                field=f"{where}.product_id",
            )
        if not product.active:
            raise ValidationFailed(
                f"{where}.product_id: {product.name} {product.model} is inactive",
                field=f"{where}.product_id",
            )
        if product.tracking != TrackingMode.SERIAL:
            raise ValidationFailed(
                f"{where}.product_id: {product.name} {product.model} is lot-tracked; a shipment "
                "here is made by scanning serialized units or their SSCCs",
                field=f"{where}.product_id",
            )
        if product.pk in seen:
            raise ValidationFailed(
                f"{where}.product_id: {product.model} is already on line "
                f"{[p.pk for p, _q in out].index(product.pk)}; one line per product",
                field=f"{where}.product_id",
            )
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ValidationFailed(
                f"{where}.quantity: {quantity!r} is not a quantity; expected a whole number of "
                "units, at least 1",
                field=f"{where}.quantity",
            )
        seen.add(product.pk)
        out.append((product, quantity))
    return out


def sales_order_create(*, data: Mapping[str, Any], user: User | None) -> SalesOrder:
    """A draft sales order. ``data``: customer_id, ship_to_id, lines [{product_id, quantity}],
    customer_po (optional), note (optional)."""
    require(user, PERM_ORDER_ADD, "create sales orders")
    allowed = {"customer_id", "ship_to_id", "lines", "customer_po", "note"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]}: unknown field; expected one of {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    customer = party_or_422(data.get("customer_id"), "customer_id")
    if customer.role not in CUSTOMER_ROLES:
        raise ValidationFailed(
            f"customer_id: {customer.name} is a {customer.get_role_display().lower()}; sales "
            "orders go to a distributor or a hospital",
            field="customer_id",
        )
    if not customer.active:
        raise ValidationFailed(f"customer_id: {customer.name} is inactive", field="customer_id")
    ship_to_id = data.get("ship_to_id")
    ship_to = (
        Location.objects.filter(pk=ship_to_id).first() if isinstance(ship_to_id, int) else None
    )
    if ship_to is None:
        raise ValidationFailed(
            f"ship_to_id: no location with id {ship_to_id!r}", field="ship_to_id"
        )
    if ship_to.party_id != customer.pk:
        raise ValidationFailed(
            f"ship_to_id: {ship_to.name} belongs to {ship_to.party.name}, not to the customer "
            f"{customer.name}; choose one of the customer's locations",
            field="ship_to_id",
        )
    if not ship_to.active:
        raise ValidationFailed(f"ship_to_id: {ship_to.name} is inactive", field="ship_to_id")
    lines = _lines(data.get("lines"))
    customer_po = str(data.get("customer_po") or "").strip()
    if len(customer_po) > 64:
        raise ValidationFailed("customer_po: at most 64 characters", field="customer_po")
    with transaction.atomic():
        order = SalesOrder.objects.create(
            number=next_number("SO"),
            customer=customer,
            ship_to=ship_to,
            customer_po=customer_po,
            note=str(data.get("note") or "").strip(),
            created_by=user,
        )
        rows = SalesOrderLine.objects.bulk_create(
            [SalesOrderLine(order=order, product=p, quantity=q) for p, q in lines]
        )
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(order),
            object_id=order.pk,
            object_repr=str(order),
            changes={
                **audit.snapshot(order),
                "lines": [{"product_id": r.product_id, "quantity": r.quantity} for r in rows],
            },
            user=user,
        )
    return order


def locked_order(order: SalesOrder) -> SalesOrder:
    # of=self: lock the order row only, not the customer's Party row it joins (that would make
    # every station shipping to one customer wait for the others).
    return (
        SalesOrder.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=order.pk)
    )


def sales_order_confirm(*, order: SalesOrder, user: User | None) -> SalesOrder:
    """draft -> confirmed, after checking the customer's licence (missing or expired: refused)."""
    require(user, PERM_ORDER_CHANGE, "confirm sales orders")
    with transaction.atomic():
        locked = locked_order(order)
        if locked.status != SalesOrderStatus.DRAFT:
            raise ValidationFailed(
                f"status: {locked.number} is {locked.get_status_display().lower()}; only a "
                "draft order can be confirmed",
                field="status",
            )
        licence = customer_licence(locked.customer)
        before = audit.snapshot(locked)
        locked.status = SalesOrderStatus.CONFIRMED
        locked.confirmed_at = timezone.now()
        locked.confirmed_by = user
        locked.licence_number = licence.number
        locked.save()
        audit.record_update(
            locked, before, user=user, reason=f"customer licence {licence.number} checked"
        )
    return locked


def sales_order_cancel(*, order: SalesOrder, user: User | None, reason: str) -> SalesOrder:
    """Cancel a draft or confirmed order that has not shipped anything (reason required)."""
    require(user, PERM_ORDER_CHANGE, "cancel sales orders")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the order is cancelled", field="reason")
    with transaction.atomic():
        locked = locked_order(order)
        if locked.status not in (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED):
            raise ValidationFailed(
                f"status: {locked.number} is {locked.get_status_display().lower()}; only a "
                "draft or confirmed order with nothing shipped can be cancelled (close it "
                "instead)",
                field="status",
            )
        before = audit.snapshot(locked)
        locked.status = SalesOrderStatus.CANCELLED
        locked.closed_reason = reason
        locked.save()
        audit.record_update(locked, before, user=user, reason=reason)
    return locked


def sales_order_close(*, order: SalesOrder, user: User | None, reason: str) -> SalesOrder:
    """Close a (partially) shipped order: nothing more will ship on it (reason required)."""
    require(user, PERM_ORDER_CHANGE, "close sales orders")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the order is closed", field="reason")
    with transaction.atomic():
        locked = locked_order(order)
        if locked.status not in (SalesOrderStatus.PARTIALLY_SHIPPED, SalesOrderStatus.SHIPPED):
            raise ValidationFailed(
                f"status: {locked.number} is {locked.get_status_display().lower()}; only a "
                "shipped or partially shipped order can be closed",
                field="status",
            )
        before = audit.snapshot(locked)
        locked.status = SalesOrderStatus.CLOSED
        locked.closed_reason = reason
        locked.save()
        audit.record_update(locked, before, user=user, reason=reason)
    return locked


def shipped_quantities(order: SalesOrder) -> dict[int, int]:
    """Units shipped so far per product id, over every shipment of ``order`` (one query)."""
    rows = (
        ShipmentItem.objects.filter(
            shipment__sales_order=order, is_container=False, product__isnull=False
        )
        .values("product_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["product_id"]: r["n"] for r in rows}
