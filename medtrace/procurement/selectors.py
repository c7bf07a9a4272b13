"""Procurement reads: resolving a scanned supplier label to its MaterialLot, lists for pages/API."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.scoping import is_partner
from medtrace.errors import NotFound, ValidationFailed
from medtrace.lib import udi
from medtrace.masterdata.models import LicenceKind, Material, PartyLicence, TrackingMode

from .models import (
    OPEN_PO_STATUSES,
    GoodsReceipt,
    MaterialLot,
    MaterialLotStatus,
    PurchaseOrder,
    PurchaseOrderStatus,
)

SUPPLIER_CERTIFICATE_KINDS = (
    LicenceKind.BUSINESS_LICENCE,
    LicenceKind.PRODUCTION,
    LicenceKind.PRODUCTION_FILING,
    LicenceKind.DISTRIBUTION,
    LicenceKind.DISTRIBUTION_FILING,
    LicenceKind.ISO13485,
)


def _describe(material: Material) -> str:
    return f"{material.code} ({material.name})"


def _check_material(lot: MaterialLot, material: Material | None, text: str, field: str) -> None:
    if material is not None and lot.material_id != material.pk:
        raise ValidationFailed(
            f"{field}: {text!r} is {lot.identifier} of {_describe(lot.material)}, not of "
            f"{_describe(material)}",
            field=field,
        )


def _by_identifier(material: Material, ident: str) -> MaterialLot | None:
    return (
        MaterialLot.objects.select_related("material", "supplier")
        .filter(material=material, identifier=ident)
        .first()
    )


def material_lot_resolve(
    text: str, *, material: Material | None = None, field: str = "material_lot"
) -> MaterialLot:
    """The received MaterialLot a scan or typed text names.

    Accepted: the lot's ``epc`` (class URN of a lot, EPC of a serial); a GS1 element string, raw
    scan (with GS separators / symbology identifier) or Digital Link with (01) the material's
    GTIN and (10) lot or (21) serial; ``<part number>/<lot or serial>``; and, when ``material``
    is given, the bare lot or serial of that material. With ``material``, a lot of another
    material is refused. Raises ValidationFailed (unreadable, wrong material) or NotFound.
    """
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(
            f"{field}: scan the supplier label, or type <part number>/<lot or serial>",
            field=field,
        )
    qs = MaterialLot.objects.select_related("material", "supplier")
    lot = qs.filter(epc=text).first()
    if lot is not None:
        _check_material(lot, material, text, field)
        return lot

    # "<part number>/<lot or serial>" (a part number or lot may itself contain "/").
    if "/" in text and not text.startswith(("urn:", "http://", "https://", "(")):
        cuts = [i for i, ch in enumerate(text) if ch == "/"]
        codes = {text[:i]: text[i + 1 :] for i in cuts}
        found = {m.code: m for m in Material.objects.filter(code__in=list(codes))}
        for code, ident in codes.items():
            if code in found:
                lot = _by_identifier(found[code], ident)
                if lot is None:
                    raise NotFound(
                        f"{field}: no received lot or serial {ident!r} of {_describe(found[code])}",
                        field=field,
                    )
                _check_material(lot, material, text, field)
                return lot

    try:
        identity = udi.parse(text)
    except udi.UdiError as exc:
        if material is not None:
            lot = _by_identifier(material, text)
            if lot is not None:
                return lot
            raise NotFound(
                f"{field}: no received lot or serial {text!r} of {_describe(material)}",
                field=field,
            ) from exc
        raise ValidationFailed(
            f"{field}: {text!r} is not a supplier label we can read ({exc}); expected a GS1 "
            "label with (01) GTIN and (10) lot or (21) serial, the lot's EPC URN, or "
            "<part number>/<lot or serial>",
            field=field,
        ) from exc
    if not identity.gtin:
        raise ValidationFailed(
            f"{field}: {text!r} carries no GTIN (01); a supplier label names the material by "
            "its GTIN, or type <part number>/<lot or serial>",
            field=field,
        )
    mat = Material.objects.filter(gtin=identity.gtin).first()
    if mat is None:
        raise NotFound(
            f"{field}: GTIN {identity.gtin} is not the GTIN of any material in master data",
            field=field,
        )
    if mat.tracking == TrackingMode.SERIAL:
        ident = identity.serial or ""
        if not ident:
            raise ValidationFailed(
                f"{field}: {_describe(mat)} is serial-tracked; scan a label with its serial (21)",
                field=field,
            )
    else:
        ident = identity.lot or ""
        if not ident:
            raise ValidationFailed(
                f"{field}: {_describe(mat)} is lot-tracked; scan a label with its lot (10)",
                field=field,
            )
    lot = _by_identifier(mat, ident)
    if lot is None:
        raise NotFound(
            f"{field}: {ident!r} of {_describe(mat)} was never received (no goods receipt)",
            field=field,
        )
    _check_material(lot, material, text, field)
    return lot


# Lists -----------------------------------------------------------------------------------------


def purchase_orders_for(user: User | None) -> QuerySet[PurchaseOrder]:
    """POs ``user`` may see: all for our staff; a supplier's partner user sees the POs addressed
    to its own party (anyone else outside sees none)."""
    qs = PurchaseOrder.objects.select_related("supplier")
    if user is not None and is_partner(user):
        return qs.filter(supplier_id=user.party_id, status__in=_PARTNER_STATUSES)
    return qs


# A supplier never sees our drafts (not yet sent to them).
_PARTNER_STATUSES = [
    PurchaseOrderStatus.RELEASED,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
    PurchaseOrderStatus.RECEIVED,
    PurchaseOrderStatus.CLOSED,
    PurchaseOrderStatus.CANCELLED,
]


def purchase_order_list(
    *, user: User | None, status: str | None = None, supplier_id: int | None = None
) -> QuerySet[PurchaseOrder]:
    qs = purchase_orders_for(user)
    if status == "open":
        qs = qs.filter(status__in=OPEN_PO_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    return qs.order_by("-id")


def receipts_for(user: User | None) -> QuerySet[GoodsReceipt]:
    qs = GoodsReceipt.objects.select_related("order", "supplier", "location", "coc")
    if user is not None and is_partner(user):
        return qs.filter(supplier_id=user.party_id)
    return qs


def material_lot_list(
    *, user: User | None, status: str | None = None, material: str | int | None = None
) -> QuerySet[MaterialLot]:
    qs = MaterialLot.objects.select_related("material", "supplier", "receipt_line__receipt")
    if user is not None and is_partner(user):
        qs = qs.filter(supplier_id=user.party_id)
    if status:
        qs = qs.filter(status=status)
    if material not in (None, ""):
        value = str(material)
        match = Q(material__code=value)
        if value.isascii() and value.isdigit():
            match |= Q(material_id=int(value))
        qs = qs.filter(match)
    return qs.order_by("-id")


def lots_awaiting_inspection() -> QuerySet[MaterialLot]:
    return material_lot_list(user=None, status=MaterialLotStatus.AWAITING_INSPECTION)


def certificates_expiring(*, days: int = 30, today: date | None = None) -> QuerySet[PartyLicence]:
    """Supplier certificates that expired or expire within ``days`` days."""
    today = today or timezone.localdate()
    return (
        PartyLicence.objects.select_related("party")
        .filter(
            party__role__in=["supplier", "manufacturer", "distributor"],
            party__material_sources__isnull=False,
            kind__in=SUPPLIER_CERTIFICATE_KINDS,
            expires_on__isnull=False,
            expires_on__lte=today + timedelta(days=days),
        )
        .distinct()
        .order_by("expires_on", "pk")
    )


def supplier_label_read(text: str, *, order: PurchaseOrder) -> dict[str, Any]:
    """What a scanned supplier label says for receiving against ``order``: the PO line (by the
    material's GTIN, or ``<part number>/<lot or serial>``), lot, serial, expiry and quantity
    (AI 30/37). Raises ValidationFailed on field "scan" when the label is unreadable or names
    a material that is not on the PO."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("scan: scan the supplier's label", field="scan")
    lines = list(order.lines.select_related("material").order_by("position"))
    out: dict[str, Any] = {"lot": "", "serial": "", "expires_on": None, "quantity": None}
    material = None
    if "/" in text and not text.startswith(("urn:", "http://", "https://", "(")):
        for line in lines:
            prefix = line.material.code + "/"
            if text.startswith(prefix):
                material, ident = line.material, text[len(prefix) :]
                out["serial" if material.tracking == TrackingMode.SERIAL else "lot"] = ident
                break
    if material is None:
        try:
            identity = udi.parse(text)
        except udi.UdiError as exc:
            raise ValidationFailed(
                f"scan: {text!r} is not a label we can read ({exc}); scan the GS1 label, or "
                "type <part number>/<lot or serial>",
                field="scan",
            ) from exc
        if not identity.gtin:
            raise ValidationFailed(
                f"scan: {text!r} carries no GTIN (01); type <part number>/<lot or serial>",
                field="scan",
            )
        material = next((x.material for x in lines if x.material.gtin == identity.gtin), None)
        if material is None:
            raise ValidationFailed(
                f"scan: GTIN {identity.gtin} is not the GTIN of any material on {order.number}",
                field="scan",
            )
        out["lot"] = identity.lot or ""
        out["serial"] = identity.serial or ""
        out["expires_on"] = identity.expiry
        count = identity.get("30") or identity.get("37")
        out["quantity"] = Decimal(count) if count else None
    line = next(x for x in lines if x.material_id == material.pk)
    out.update(line=line.position, material=material)
    if material.tracking == TrackingMode.SERIAL and not out["serial"]:
        raise ValidationFailed(
            f"scan: {material.code} is serial-tracked; scan the label with its serial (21)",
            field="scan",
        )
    return out
