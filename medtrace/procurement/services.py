"""Procurement writes: purchase orders, and the consumption contract production uses.

Goods receipts and incoming inspection are in ``receiving``; supplier qualification and
certificate alerts in ``qualification``. Every public write is importable from here.

Each write follows DESIGN §4: one transaction, rows locked (``select_for_update``, by primary
key), document rows + ledger events + audit entries together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import Conflict, ValidationFailed
from medtrace.lifecycle.events import material_lot_class
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Material, Party, TrackingMode
from medtrace.quality.models import Hold

from .common import as_quantity, fmt, require
from .models import (
    MaterialConsumption,
    MaterialLot,
    MaterialLotStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
)
from .qualification import (  # noqa: F401 - public API of the procurement services
    certificates_check,
    require_qualified,
    supplier_qualification,
)
from .receiving import (  # noqa: F401 - public API of the procurement services
    goods_receipt_create,
    inspection_record,
    inspection_record_serials,
    licence_scan_upload,
)

PERM_PO_ADD = "procurement.add_purchaseorder"
PERM_PO_CHANGE = "procurement.change_purchaseorder"


# Purchase orders -------------------------------------------------------------------------------


def _po_lines(lines: Sequence[Mapping[str, Any]]) -> list[tuple[Material, Decimal, str, str]]:
    if not lines:
        raise ValidationFailed("lines: a purchase order needs at least one line", field="lines")
    ids = [line.get("material_id") for line in lines]
    codes = [line.get("material") for line in lines]
    found_ids = {m.pk: m for m in Material.objects.filter(pk__in=[i for i in ids if i])}
    found_codes = {m.code: m for m in Material.objects.filter(code__in=[c for c in codes if c])}
    out = []
    for index, line in enumerate(lines):
        prefix = f"lines[{index}]"
        unknown = set(line) - {"material_id", "material", "quantity", "uom"}
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationFailed(
                f"{prefix}.{name}: unknown field; expected material_id or material, quantity, uom",
                field=f"{prefix}.{name}",
            )
        material = None
        if line.get("material_id"):
            material = found_ids.get(line["material_id"])
            if material is None:
                raise ValidationFailed(
                    f"{prefix}.material_id: no material with id {line['material_id']}",
                    field=f"{prefix}.material_id",
                )
        elif line.get("material"):
            material = found_codes.get(line["material"])
            if material is None:
                raise ValidationFailed(
                    f"{prefix}.material: no material with part number {line['material']!r}",
                    field=f"{prefix}.material_id",
                )
        else:
            raise ValidationFailed(
                f"{prefix}.material_id: name the material (material_id or part number)",
                field=f"{prefix}.material_id",
            )
        qty = as_quantity(line.get("quantity"), field=f"{prefix}.quantity")
        if material.tracking == TrackingMode.SERIAL and qty != int(qty):
            raise ValidationFailed(
                f"{prefix}.quantity: {material.code} is serial-tracked; order whole pieces, "
                f"got {qty}",
                field=f"{prefix}.quantity",
            )
        uom = (line.get("uom") or material.uom).strip()
        if uom != material.uom:
            raise ValidationFailed(
                f"{prefix}.uom: {material.code} is counted in {material.uom}, not {uom}",
                field=f"{prefix}.uom",
            )
        out.append((material, qty, uom, f"{prefix}.material_id"))
    return out


def purchase_order_create(
    *,
    supplier: Party,
    lines: Sequence[Mapping[str, Any]],
    user: User | None,
    expected_on: date | None = None,
    note: str = "",
    release: bool = False,
) -> PurchaseOrder:
    """Create a PO (status draft; ``release=True`` releases it at once) to a qualified supplier.

    ``lines``: ``{"material_id" or "material" (part number), "quantity", "uom" (optional)}``.
    Refused (422) when the supplier lacks a valid certificate or a material is not approved
    from it; nothing is stored then.
    """
    require(user, PERM_PO_ADD, "create purchase orders")
    parsed = _po_lines(lines)
    require_qualified(supplier, [(m, field) for m, _q, _u, field in parsed], action="order from it")
    with transaction.atomic():
        order = PurchaseOrder.objects.create(
            number=next_number("PO"),
            supplier=supplier,
            expected_on=expected_on,
            note=(note or "").strip(),
            created_by=user,
        )
        PurchaseOrderLine.objects.bulk_create(
            PurchaseOrderLine(
                order=order, position=index + 1, material=material, quantity=qty, uom=uom
            )
            for index, (material, qty, uom, _f) in enumerate(parsed)
        )
        audit.record_create(order, user=user)
        audit.record(
            action="create",
            object_type="procurement.purchaseorderline",
            object_id=order.pk,
            object_repr=f"{order.number} lines",
            changes={
                "lines": [
                    [index + 1, m.code, str(q), u] for index, (m, q, u, _f) in enumerate(parsed)
                ]
            },
            user=user,
        )
        if release:
            order = _set_status(order, PurchaseOrderStatus.RELEASED, user=user, reason="")
    return order


def _locked(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().select_related("supplier").get(pk=order.pk)


def _set_status(
    order: PurchaseOrder, status: str, *, user: User | None, reason: str
) -> PurchaseOrder:
    before = audit.snapshot(order)
    order.status = status
    now = timezone.now()
    if status == PurchaseOrderStatus.RELEASED:
        order.released_at = now
    if status == PurchaseOrderStatus.CANCELLED:
        order.cancelled_at = now
        order.cancel_reason = reason
    order.save()
    audit.record_update(order, before, user=user, reason=reason)
    return order


def purchase_order_release(*, order: PurchaseOrder, user: User | None) -> PurchaseOrder:
    """Send a draft PO to the supplier (qualification is checked again: certificates expire)."""
    require(user, PERM_PO_CHANGE, "release purchase orders")
    with transaction.atomic():
        order = _locked(order)
        if order.status != PurchaseOrderStatus.DRAFT:
            raise Conflict(
                f"{order.number} is {order.get_status_display()}; only a draft is released",
                field="status",
            )
        lines = list(order.lines.select_related("material"))
        require_qualified(
            order.supplier,
            [(line.material, f"lines[{i}].material_id") for i, line in enumerate(lines)],
            action=f"release {order.number}",
        )
        return _set_status(order, PurchaseOrderStatus.RELEASED, user=user, reason="")


def purchase_order_cancel(*, order: PurchaseOrder, user: User | None, reason: str) -> PurchaseOrder:
    """Cancel a PO nothing was received against yet (a reason is required and audited)."""
    require(user, PERM_PO_CHANGE, "cancel purchase orders")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the purchase order is cancelled", field="reason")
    with transaction.atomic():
        order = _locked(order)
        if order.status not in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.RELEASED):
            hint = (
                "; goods were received against it: close it instead"
                if order.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
                else ""
            )
            raise Conflict(
                f"{order.number} is {order.get_status_display()} and cannot be cancelled{hint}",
                field="status",
            )
        return _set_status(order, PurchaseOrderStatus.CANCELLED, user=user, reason=reason)


def purchase_order_close(*, order: PurchaseOrder, user: User | None, reason: str) -> PurchaseOrder:
    """Close a (partly) received PO: no more goods are expected against it."""
    require(user, PERM_PO_CHANGE, "close purchase orders")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the purchase order is closed", field="reason")
    with transaction.atomic():
        order = _locked(order)
        if order.status not in (
            PurchaseOrderStatus.PARTIALLY_RECEIVED,
            PurchaseOrderStatus.RECEIVED,
        ):
            raise Conflict(
                f"{order.number} is {order.get_status_display()}; only a received or partly "
                "received PO is closed (cancel a PO nothing was received against)",
                field="status",
            )
        return _set_status(order, PurchaseOrderStatus.CLOSED, user=user, reason=reason)


# Consumption (the contract production codes against) ------------------------------------------


def material_consume(
    *,
    items: Sequence[tuple[MaterialLot, Decimal]],
    user: User | None,
    reference: str,
) -> None:
    """Draw accepted material for production, inside the caller's transaction.

    Locks the lots (by primary key) and refuses, with ValidationFailed on field "components"
    naming each lot and why, a lot that is awaiting inspection, rejected, expired, on an open
    quality hold, or has less accepted and unconsumed quantity than asked (several items on the
    same lot add up). Otherwise records the draw and increments ``consumed_qty``. Writes no
    ledger event: production records what went into which unit.
    """
    reference = (reference or "").strip()
    if not reference:
        raise ValidationFailed(
            "reference: name the work order or unit the material is consumed for",
            field="reference",
        )
    wanted: dict[int, Decimal] = {}
    for index, (lot, qty) in enumerate(items):
        amount = as_quantity(qty, field=f"components[{index}].quantity")
        wanted[lot.pk] = wanted.get(lot.pk, Decimal(0)) + amount
    if not wanted:
        return
    with transaction.atomic():
        lots = list(
            MaterialLot.objects.select_for_update().filter(pk__in=list(wanted)).order_by("pk")
        )
        by_pk = {lot.pk: lot for lot in lots}
        missing = [pk for pk in wanted if pk not in by_pk]
        if missing:
            raise ValidationFailed(
                f"components: material lot {missing[0]} does not exist", field="components"
            )
        materials = {m.pk: m for m in Material.objects.filter(pk__in={x.material_id for x in lots})}
        targets: dict[str, list[MaterialLot]] = {}
        for lot in lots:
            targets.setdefault(lot.epc, []).append(lot)
            if lot.tracking == TrackingMode.SERIAL and lot.lot:
                targets.setdefault(
                    material_lot_class(materials[lot.material_id], lot.lot), []
                ).append(lot)
        holds: dict[int, list[Hold]] = {}
        for hold in Hold.objects.filter(lifted_at__isnull=True, target__in=list(targets)):
            for lot in targets[hold.target]:
                holds.setdefault(lot.pk, []).append(hold)
        today = timezone.localdate()
        problems: list[dict[str, Any]] = []
        for lot in lots:
            material = materials[lot.material_id]
            name = f"{material.code}/{lot.identifier}"
            qty = wanted[lot.pk]
            reasons: list[dict[str, str]] = []

            def no(code: str, message: str, reasons: list[dict[str, str]] = reasons) -> None:
                reasons.append({"code": code, "message": message})

            if lot.status == MaterialLotStatus.AWAITING_INSPECTION:
                no("not_inspected", "is awaiting incoming inspection; it cannot be used yet")
            elif lot.status == MaterialLotStatus.REJECTED:
                no("rejected", "was rejected at incoming inspection and can never be consumed")
            if lot.expires_on is not None and lot.expires_on < today:
                no("expired", f"expired on {lot.expires_on.isoformat()}")
            for hold in holds.get(lot.pk, []):
                no(
                    "held",
                    f"is on {hold.get_kind_display()} {hold.number} since "
                    f"{timezone.localdate(hold.placed_at).isoformat()}: {hold.reason}",
                )
            if lot.tracking == TrackingMode.SERIAL and qty != int(qty):
                no("fraction", f"is a serialized component; consume 1, not {fmt(qty)}")
            if lot.status in (MaterialLotStatus.ACCEPTED, MaterialLotStatus.PARTLY_ACCEPTED):
                available = lot.accepted_qty - lot.consumed_qty
                if available < qty:
                    no(
                        "insufficient",
                        f"has {fmt(available)} {lot.uom} accepted and not yet consumed; "
                        f"{fmt(qty)} asked",
                    )
            if reasons:
                problems.append(
                    {"material_lot_id": lot.pk, "epc": lot.epc, "lot": name, "reasons": reasons}
                )
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more lots)" if len(problems) > 1 else ""
            raise ValidationFailed(
                f"components: {first['lot']} {first['reasons'][0]['message']}{more}",
                field="components",
                details=problems,
            )
        now = timezone.now()
        for lot in lots:
            lot.consumed_qty += wanted[lot.pk]
        MaterialLot.objects.bulk_update(lots, ["consumed_qty"])
        MaterialConsumption.objects.bulk_create(
            MaterialConsumption(
                material_lot=lot,
                quantity=wanted[lot.pk],
                reference=reference[:128],
                consumed_at=now,
                consumed_by=user,
            )
            for lot in lots
        )
        audit.record(
            action="update",
            object_type="procurement.materiallot",
            object_id=",".join(str(lot.pk) for lot in lots)[:64],
            object_repr=f"material consumed for {reference}"[:300],
            changes={
                "consumed": [[lot.epc, fmt(wanted[lot.pk]), fmt(lot.consumed_qty)] for lot in lots]
            },
            user=user,
        )
