"""REST endpoints of the procurement app (mounted at /api/v1/).

Reads need the token scope ``lifecycle:read``, writes ``procurement:write``. Our staff read
every PO, receipt and material lot (view permissions); a supplier's partner user reads the POs
addressed to its own party (not drafts), the receipts of its deliveries and the lots it
supplied, and its own qualification; anything else is 404 for a partner, as if it did not exist.

Goods receipts are multipart: a ``receipt`` part holding the JSON of ``ReceiptIn`` and a ``coc``
file part (the supplier's certificate of conformity), stored with its SHA-256.
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import File, Form, Router, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import ValidationError

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.lifecycle.models import Attachment
from medtrace.lifecycle.services import attachment_read
from medtrace.masterdata.models import Party, PartyLicence

from . import selectors, services
from .models import GoodsReceipt, GoodsReceiptLine, MaterialLot, PurchaseOrder
from .qualification import qualification_summary
from .receiving import PERM_RECEIVE
from .schemas import (
    CertificateOut,
    GoodsReceiptOut,
    InspectionIn,
    InspectionOut,
    MaterialLotOut,
    PurchaseOrderIn,
    PurchaseOrderListOut,
    PurchaseOrderOut,
    QualificationOut,
    ReasonIn,
    ReceiptIn,
    SerialInspectionIn,
)

router = Router(tags=["procurement"])

READ, WRITE = "lifecycle:read", "procurement:write"
# Optional file parts: a missing file is the service's clear 422 (after the permission checks),
# not a schema error.
_COC_FILE: Any = File(None, description="The supplier's certificate of conformity")
_SCAN_FILE: Any = File(None, description="The certificate scan")


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _reader(request: HttpRequest, model: str) -> User:
    user = _user(request, READ)
    if not scoping.is_partner(user) and not user.has_perm(f"procurement.view_{model}"):
        raise PermissionDenied(f"Your role cannot view {model} records")
    return user


# Output shaping ------------------------------------------------------------------------------


def _po(order: PurchaseOrder) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number,
        "supplier_id": order.supplier_id,
        "supplier": order.supplier.name,
        "status": order.status,
        "expected_on": order.expected_on,
        "note": order.note,
        "created_at": order.created_at,
        "released_at": order.released_at,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "lines": [
            {
                "id": line.pk,
                "position": line.position,
                "material_id": line.material_id,
                "material": line.material.code,
                "material_name": line.material.name,
                "quantity": line.quantity,
                "uom": line.uom,
                "received_qty": line.received_qty,
            }
            for line in order.lines.select_related("material").order_by("position")
        ],
    }


def _attachment(att: Attachment) -> dict[str, Any]:
    return {
        "id": att.pk,
        "name": att.name,
        "content_type": att.content_type,
        "size": att.size,
        "sha256": att.sha256,
    }


def _lot(lot: MaterialLot, receipt_number: str | None = None) -> dict[str, Any]:
    return {
        "id": lot.pk,
        "epc": lot.epc,
        "material_id": lot.material_id,
        "material": lot.material.code,
        "supplier_id": lot.supplier_id,
        "tracking": lot.tracking,
        "identifier": lot.identifier,
        "lot": lot.lot,
        "expires_on": lot.expires_on,
        "uom": lot.uom,
        "received_qty": lot.received_qty,
        "accepted_qty": lot.accepted_qty,
        "rejected_qty": lot.rejected_qty,
        "consumed_qty": lot.consumed_qty,
        "available_qty": lot.available_qty,
        "status": lot.status,
        "receipt": receipt_number or lot.receipt_line.receipt.number,
    }


def _receipt(receipt: GoodsReceipt) -> dict[str, Any]:
    lines = (
        GoodsReceiptLine.objects.filter(receipt=receipt)
        .select_related("order_line__material")
        .prefetch_related(
            Prefetch(
                "material_lots",
                queryset=MaterialLot.objects.select_related("material").order_by("pk"),
            )
        )
        .order_by("pk")
    )
    return {
        "id": receipt.pk,
        "number": receipt.number,
        "order_id": receipt.order_id,
        "order": receipt.order.number,
        "supplier_id": receipt.supplier_id,
        "location_id": receipt.location_id,
        "location_sgln": receipt.location.sgln,
        "delivery_note": receipt.delivery_note,
        "note": receipt.note,
        "received_at": receipt.received_at,
        "coc": _attachment(receipt.coc),
        "lines": [
            {
                "id": line.pk,
                "order_line_id": line.order_line_id,
                "material": line.order_line.material.code,
                "lot": line.lot,
                "expires_on": line.expires_on,
                "quantity": line.quantity,
                "material_lots": [_lot(m, receipt.number) for m in line.material_lots.all()],
            }
            for line in lines
        ],
    }


def _inspection(inspection: Any) -> dict[str, Any]:
    return {
        "id": inspection.pk,
        "number": inspection.number,
        "material_lot_id": inspection.material_lot_id,
        "epc": inspection.material_lot.epc,
        "result": inspection.result,
        "accepted_qty": inspection.accepted_qty,
        "rejected_qty": inspection.rejected_qty,
        "note": inspection.note,
        "inspected_at": inspection.inspected_at,
    }


def _download(att: Attachment) -> HttpResponse:
    response = HttpResponse(attachment_read(att), content_type=att.content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(att.name)}"
    response["X-Content-SHA256"] = att.sha256
    return response


# Purchase orders -----------------------------------------------------------------------------


def _order(request: HttpRequest, user: User, order_id: int) -> PurchaseOrder:
    return scoping.visible_or_404(
        selectors.purchase_orders_for(user), "purchase order", pk=order_id
    )


@router.get("/purchase-orders", response=list[PurchaseOrderListOut])
@paginate(Pagination)
def list_purchase_orders(
    request: HttpRequest, status: str | None = None, supplier_id: int | None = None
) -> QuerySet[PurchaseOrder]:
    """POs, newest first; ``status`` is a status or ``open`` (draft, released, partly received)."""
    user = _reader(request, "purchaseorder")
    return selectors.purchase_order_list(user=user, status=status, supplier_id=supplier_id)


@router.post("/purchase-orders", response={201: PurchaseOrderOut})
def create_purchase_order(request: HttpRequest, payload: PurchaseOrderIn) -> Status:
    """Order from a qualified supplier; an unqualified supplier or unapproved material is 422."""
    user = _user(request, WRITE)
    supplier = Party.objects.filter(pk=payload.supplier_id).first()
    if supplier is None:
        raise ValidationFailed(
            f"supplier_id: no party with id {payload.supplier_id}", field="supplier_id"
        )
    order = services.purchase_order_create(
        supplier=supplier,
        lines=[line.model_dump(exclude_none=True) for line in payload.lines],
        expected_on=payload.expected_on,
        note=payload.note,
        release=payload.release,
        user=user,
    )
    return Status(201, _po(order))


@router.get("/purchase-orders/{order_id}", response=PurchaseOrderOut)
def get_purchase_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    user = _reader(request, "purchaseorder")
    return _po(_order(request, user, order_id))


@router.post("/purchase-orders/{order_id}/release", response=PurchaseOrderOut)
def release_purchase_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    user = _user(request, WRITE)
    order = services.purchase_order_release(order=_order(request, user, order_id), user=user)
    return _po(order)


@router.post("/purchase-orders/{order_id}/cancel", response=PurchaseOrderOut)
def cancel_purchase_order(request: HttpRequest, order_id: int, payload: ReasonIn) -> dict:
    user = _user(request, WRITE)
    order = services.purchase_order_cancel(
        order=_order(request, user, order_id), user=user, reason=payload.reason
    )
    return _po(order)


@router.post("/purchase-orders/{order_id}/close", response=PurchaseOrderOut)
def close_purchase_order(request: HttpRequest, order_id: int, payload: ReasonIn) -> dict:
    user = _user(request, WRITE)
    order = services.purchase_order_close(
        order=_order(request, user, order_id), user=user, reason=payload.reason
    )
    return _po(order)


# Goods receipts ------------------------------------------------------------------------------


@router.post("/purchase-orders/{order_id}/receipts", response={201: GoodsReceiptOut})
def create_goods_receipt(
    request: HttpRequest,
    order_id: int,
    receipt: Form[str] = "",
    coc: UploadedFile | None = _COC_FILE,
) -> Status:
    """Receive goods (multipart): ``receipt`` = JSON of ReceiptIn, ``coc`` = the supplier's
    certificate of conformity. Blocked (422) for an unqualified supplier or unapproved material,
    an over-receipt, a lot or serial received before, or an expiry date in the past."""
    user = _user(request, WRITE)
    order = _order(request, user, order_id)
    if not user.has_perm(PERM_RECEIVE):
        raise PermissionDenied(f"You may not receive goods (needs {PERM_RECEIVE!r})")
    try:
        data = ReceiptIn.model_validate(json.loads(receipt))
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed(
            f"receipt: expected the JSON of a receipt (location_id, lines[...]): {exc}",
            field="receipt",
        ) from exc
    created = services.goods_receipt_create(
        order=order,
        location=data.location_id,
        lines=[line.model_dump(exclude_none=True) for line in data.lines],
        coc_name=(coc.name if coc else "") or "coc",
        coc_content=coc.read() if coc else b"",
        coc_content_type=(coc.content_type if coc else "") or "",
        delivery_note=data.delivery_note,
        note=data.note,
        user=user,
    )
    return Status(201, _receipt(created))


def _receipt_of(user: User, receipt_id: int) -> GoodsReceipt:
    return scoping.visible_or_404(selectors.receipts_for(user), "goods receipt", pk=receipt_id)


@router.get("/goods-receipts/{receipt_id}", response=GoodsReceiptOut)
def get_goods_receipt(request: HttpRequest, receipt_id: int) -> dict[str, Any]:
    user = _reader(request, "goodsreceipt")
    return _receipt(_receipt_of(user, receipt_id))


@router.get("/goods-receipts/{receipt_id}/coc")
def get_goods_receipt_coc(request: HttpRequest, receipt_id: int) -> HttpResponse:
    """The certificate of conformity as uploaded (checked against its SHA-256, in the
    ``X-Content-SHA256`` header)."""
    user = _reader(request, "goodsreceipt")
    return _download(_receipt_of(user, receipt_id).coc)


@router.post("/goods-receipt-lines/{line_id}/inspection", response={201: list[InspectionOut]})
def inspect_receipt_line_serials(
    request: HttpRequest, line_id: int, payload: SerialInspectionIn
) -> Status:
    """Inspect every serial of a receipt line at once: ``rejected`` serials, the rest accepted."""
    user = _user(request, WRITE)
    line = scoping.visible_or_404(
        GoodsReceiptLine.objects.filter(receipt__in=selectors.receipts_for(user).values("pk")),
        "goods receipt line",
        pk=line_id,
    )
    inspections = services.inspection_record_serials(
        receipt_line=line, rejected=payload.rejected, note=payload.note, user=user
    )
    return Status(201, [_inspection(i) for i in inspections])


# Material lots -------------------------------------------------------------------------------


@router.get("/material-lots", response=list[MaterialLotOut])
@paginate(Pagination)
def list_material_lots(
    request: HttpRequest, status: str | None = None, material: str | None = None
) -> Any:
    """Received supplier lots and serials; ``status`` (awaiting_inspection, accepted,
    partly_accepted, rejected), ``material`` (part number or id)."""
    user = _reader(request, "materiallot")
    return _LotList(selectors.material_lot_list(user=user, status=status, material=material))


class _LotList:
    """A lazily shaped queryset, so the paginator slices in SQL."""

    def __init__(self, qs: QuerySet[MaterialLot]) -> None:
        self.qs = qs

    def __len__(self) -> int:
        return self.qs.count()

    def count(self) -> int:
        return self.qs.count()

    def __getitem__(self, index: Any) -> Any:
        rows = self.qs[index]
        if isinstance(index, slice):
            return [_lot(lot) for lot in rows]
        return _lot(rows)


@router.get("/material-lots/resolve", response=MaterialLotOut)
def resolve_material_lot(
    request: HttpRequest, scan: str, material_id: int | None = None
) -> dict[str, Any]:
    """The received lot or serial a scan names: its EPC, a GS1 label with (01) GTIN and (10)
    lot or (21) serial, ``<part number>/<lot or serial>``."""
    from medtrace.masterdata.models import Material

    user = _reader(request, "materiallot")
    material = Material.objects.filter(pk=material_id).first() if material_id else None
    lot = selectors.material_lot_resolve(scan, material=material, field="scan")
    scoping.visible_or_404(selectors.material_lot_list(user=user), "material lot", pk=lot.pk)
    return _lot(lot)


def _lot_of(user: User, lot_id: int) -> MaterialLot:
    return scoping.visible_or_404(selectors.material_lot_list(user=user), "material lot", pk=lot_id)


@router.get("/material-lots/{lot_id}", response=MaterialLotOut)
def get_material_lot(request: HttpRequest, lot_id: int) -> dict[str, Any]:
    user = _reader(request, "materiallot")
    return _lot(_lot_of(user, lot_id))


@router.post("/material-lots/{lot_id}/inspection", response={201: InspectionOut})
def inspect_material_lot(request: HttpRequest, lot_id: int, payload: InspectionIn) -> Status:
    """Incoming inspection: accept, reject or partly accept (accepted + rejected = received)."""
    user = _user(request, WRITE)
    inspection = services.inspection_record(
        lot=_lot_of(user, lot_id),
        accepted_qty=payload.accepted_qty,
        rejected_qty=payload.rejected_qty,
        note=payload.note,
        user=user,
    )
    return Status(201, _inspection(inspection))


# Supplier qualification ----------------------------------------------------------------------


@router.get("/suppliers/{party_id}/qualification", response=QualificationOut)
def get_supplier_qualification(request: HttpRequest, party_id: int) -> dict[str, Any]:
    """Certificates (with expiry and scan SHA-256), approved materials and every problem that
    blocks orders and receipts today."""
    user = _user(request, READ)
    party = scoping.visible_or_404(
        scoping.scope_parties(user, Party.objects.all()), "supplier", pk=party_id
    )
    summary = qualification_summary(party)
    return {
        "supplier_id": party.pk,
        "supplier": party.name,
        "on": summary["on"],
        "qualified": not summary["problems"],
        "problems": summary["problems"],
        "certificates": [
            {
                "id": row["licence"].pk,
                "kind": row["licence"].kind,
                "number": row["licence"].number,
                "expires_on": row["licence"].expires_on,
                "expired": row["expired"],
                "expiring": row["expiring"],
                "scan": _attachment(row["licence"].scan) if row["licence"].scan else None,
            }
            for row in summary["licences"]
        ],
        "materials": [
            {
                "material_id": source.material_id,
                "material": source.material.code,
                "approved": source.approved,
                "problems": summary["material_problems"][source.material.code],
            }
            for source in summary["sources"]
        ],
    }


def _licence(user: User, party_id: int, licence_id: int) -> PartyLicence:
    party = scoping.visible_or_404(
        scoping.scope_parties(user, Party.objects.all()), "party", pk=party_id
    )
    return scoping.visible_or_404(
        PartyLicence.objects.filter(party=party).select_related("scan"),
        "licence",
        pk=licence_id,
    )


@router.post(
    "/parties/{party_id}/licences/{licence_id}/scan",
    response={201: CertificateOut},
    tags=["procurement", "master data"],
)
def upload_licence_scan(
    request: HttpRequest,
    party_id: int,
    licence_id: int,
    scan: UploadedFile | None = _SCAN_FILE,
    reason: Form[str] = "",
) -> Status:
    """Attach the scan of a certificate (multipart ``scan``); its SHA-256 is kept and shown."""
    user = _user(request, WRITE)
    licence = services.licence_scan_upload(
        licence=_licence(user, party_id, licence_id),
        name=(scan.name if scan else "") or "scan",
        content=scan.read() if scan else b"",
        content_type=(scan.content_type if scan else "") or "",
        user=user,
        reason=reason,
    )
    today = timezone.localdate()
    return Status(
        201,
        {
            "id": licence.pk,
            "kind": licence.kind,
            "number": licence.number,
            "expires_on": licence.expires_on,
            "expired": bool(licence.expires_on and licence.expires_on < today),
            "expiring": bool(
                licence.expires_on and today <= licence.expires_on <= today + timedelta(days=30)
            ),
            "scan": _attachment(licence.scan) if licence.scan else None,
        },
    )


@router.get("/parties/{party_id}/licences/{licence_id}/scan", tags=["procurement", "master data"])
def download_licence_scan(request: HttpRequest, party_id: int, licence_id: int) -> HttpResponse:
    """The certificate scan as uploaded (``X-Content-SHA256`` header)."""
    user = _user(request, READ)
    licence = _licence(user, party_id, licence_id)
    if licence.scan is None:
        raise NotFound(
            f"licence {licence.number} has no scan yet; upload one with POST "
            f"/api/v1/parties/{party_id}/licences/{licence_id}/scan",
            field="scan",
        )
    return _download(licence.scan)
