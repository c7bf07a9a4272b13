"""The receiving and incoming-inspection stations, for a keyboard-wedge scanner.

Receiving: scan each supplier label (GS1 with (01) GTIN, (10) lot, (21) serial, (17) expiry,
(30) quantity, or type ``<part number>/<lot or serial>``); Enter adds the row. Rows collected
so far travel as hidden fields of the form, so nothing is kept on the server between scans.
When every label is scanned, pick the incoming location, attach the CoC and post the receipt.

Inspection: scan a received lot or serial (any form) to open it; accept, reject or partly
accept; serials of one receipt line are inspected together, the rejected ones scanned.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound, PermissionDenied, ValidationFailed
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.models import Location, TrackingMode

from . import selectors, services
from .common import as_quantity, fmt, require
from .models import (
    GoodsReceipt,
    GoodsReceiptLine,
    IncomingInspection,
    MaterialLot,
    MaterialLotStatus,
    PurchaseOrder,
)
from .receiving import PERM_INSPECT, PERM_RECEIVE
from .views import errors_of, get_order, staff_page

# Receiving -------------------------------------------------------------------------------------


def _rows(request: HttpRequest) -> list[dict[str, Any]]:
    out = []
    for raw in request.POST.getlist("row"):
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


def _new_row(request: HttpRequest, order: PurchaseOrder) -> dict[str, Any]:
    """The row a scan (or the typed fields) describes, checked enough to show it."""
    post = request.POST
    scan = post.get("scan", "").strip()
    qty_text = post.get("quantity", "").strip()
    expiry_text = post.get("expires_on", "").strip()
    expiry = parse_date(expiry_text) if expiry_text else None
    if expiry_text and expiry is None:
        raise ValidationFailed(
            _("%(value)s is not a date (YYYY-MM-DD).") % {"value": expiry_text},
            field="expires_on",
        )
    lines = {line.position: line for line in order.lines.select_related("material")}
    if scan:
        label = selectors.supplier_label_read(scan, order=order)
        position = label["line"]
        lot, serial = label["lot"], label["serial"]
        expiry = label["expires_on"] or expiry
        quantity = label["quantity"]
    else:
        position = int(post.get("line") or 0)
        lot, serial = post.get("lot", "").strip(), post.get("serial", "").strip()
        quantity = None
        if position not in lines:
            raise ValidationFailed(_("Scan a label, or choose the PO line."), field="scan")
    material = lines[position].material
    if material.tracking == TrackingMode.SERIAL:
        if not serial:
            raise ValidationFailed(
                _("%(code)s is serial-tracked: scan or type the serial.") % {"code": material.code},
                field="serial",
            )
        quantity = Decimal(1)
    else:
        if not lot:
            raise ValidationFailed(
                _("%(code)s is lot-tracked: scan or type the supplier's lot.")
                % {"code": material.code},
                field="lot",
            )
        if quantity is None:
            if not qty_text:
                raise ValidationFailed(
                    _("Enter the quantity received of lot %(lot)s, then scan again.")
                    % {"lot": lot},
                    field="quantity",
                )
            quantity = as_quantity(qty_text, field="quantity")
    return {
        "line": position,
        "material": material.code,
        "lot": lot,
        "serial": serial,
        "expires_on": expiry.isoformat() if isinstance(expiry, date) else "",
        "quantity": fmt(Decimal(quantity)),
    }


def _add(rows: list[dict[str, Any]], row: dict[str, Any]) -> None:
    for other in rows:
        if row["serial"] and other["serial"] == row["serial"] and other["line"] == row["line"]:
            raise ValidationFailed(
                _("Serial %(s)s is already scanned on this receipt.") % {"s": row["serial"]},
                field="scan",
            )
    rows.append(row)


def _receipt_lines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped into receipt lines: serials of one PO line, lot and expiry together; the
    quantities of one lot added up."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["line"], row["lot"], row["expires_on"], bool(row["serial"]))
        line = grouped.setdefault(
            key,
            {
                "line": row["line"],
                "lot": row["lot"],
                "expires_on": row["expires_on"] or None,
                "serials": [],
                "quantity": Decimal(0),
            },
        )
        if row["serial"]:
            line["serials"].append(row["serial"])
        line["quantity"] += Decimal(row["quantity"])
    out = []
    for line in grouped.values():
        if line["serials"]:
            line.pop("quantity")
        else:
            line.pop("serials")
        out.append(line)
    return out


def _incoming_locations() -> list[Location]:
    try:
        us = own_party()
    except ValidationFailed:
        return []
    return list(Location.objects.filter(party=us, active=True).order_by("code"))


@staff_page
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    order = get_order(pk)
    rows = _rows(request) if request.method == "POST" else []
    errors: dict[str, str] = {}
    action = request.POST.get("action", "add")
    if request.method == "POST":
        require(user, PERM_RECEIVE, _("receive goods"))
        try:
            if action.startswith("remove:"):
                index = int(action.split(":", 1)[1])
                if 0 <= index < len(rows):
                    rows.pop(index)
            elif action == "post":
                coc = request.FILES.get("coc")
                if not rows:
                    raise ValidationFailed(_("Scan at least one label."), field="scan")
                if coc is None:
                    raise ValidationFailed(
                        _("Attach the supplier's certificate of conformity (CoC)."), field="coc"
                    )
                receipt = services.goods_receipt_create(
                    order=order,
                    location=int(request.POST.get("location") or 0) or None,
                    lines=_receipt_lines(rows),
                    coc_name=coc.name or "coc",
                    coc_content=coc.read(),
                    coc_content_type=coc.content_type or "",
                    delivery_note=request.POST.get("delivery_note", ""),
                    note=request.POST.get("note", ""),
                    user=user,
                )
                messages.success(
                    request,
                    _("%(n)s posted: the goods await incoming inspection.") % {"n": receipt.number},
                )
                return redirect("procurement:receipt_detail", pk=receipt.pk)
            else:
                _add(rows, _new_row(request, order))
        except MedtraceError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            errors = errors_of(exc)
            if exc.field and exc.field.startswith("lines["):
                errors.setdefault("scan", exc.message)
    locations = _incoming_locations()
    chosen = request.POST.get("location") or next(
        (str(x.pk) for x in locations if "QRN" in x.code or "IN" in x.code), ""
    )
    return render(
        request,
        "procurement/receive.html",
        {
            "order": order,
            "lines": list(order.lines.select_related("material").order_by("position")),
            "rows": [(json.dumps(r, ensure_ascii=False), r) for r in rows],
            "locations": locations,
            "chosen_location": chosen,
            "post": request.POST,
            "errors": errors,
        },
        status=422 if errors else 200,
    )


@staff_page
@require_GET
def receipt_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    receipt = (
        GoodsReceipt.objects.select_related("order", "supplier", "location", "coc")
        .filter(pk=pk)
        .first()
    )
    if receipt is None:
        raise NotFound(_("No goods receipt %(pk)s") % {"pk": pk})
    lines = list(
        GoodsReceiptLine.objects.filter(receipt=receipt)
        .select_related("order_line__material")
        .prefetch_related("material_lots")
        .order_by("pk")
    )
    return render(request, "procurement/receipt_detail.html", {"receipt": receipt, "lines": lines})


# Incoming inspection ---------------------------------------------------------------------------


def _lot(pk: int) -> MaterialLot:
    lot = (
        MaterialLot.objects.select_related("material", "supplier", "receipt_line__receipt")
        .filter(pk=pk)
        .first()
    )
    if lot is None:
        raise NotFound(_("No material lot %(pk)s") % {"pk": pk})
    return lot


@staff_page
@require_GET
def inspection_list(request: HttpRequest, user: User) -> HttpResponse:
    code = request.GET.get("code", "").strip()
    errors: dict[str, str] = {}
    if code:
        try:
            lot = selectors.material_lot_resolve(code, field="code")
            return redirect("procurement:lot_detail", pk=lot.pk)
        except (ValidationFailed, NotFound) as exc:
            errors = errors_of(exc)
    return render(
        request,
        "procurement/inspection_list.html",
        {
            "awaiting": list(selectors.lots_awaiting_inspection()[:300]),
            "recent": list(
                IncomingInspection.objects.select_related("material_lot__material").order_by("-pk")[
                    :30
                ]
            ),
            "code": code,
            "errors": errors,
        },
        status=422 if errors else 200,
    )


@staff_page
@require_http_methods(["GET", "POST"])
def lot_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    lot = _lot(pk)
    errors: dict[str, str] = {}
    if request.method == "POST":
        require(user, PERM_INSPECT, _("record incoming inspections"))
        try:
            accepted = request.POST.get("accepted_qty", "").strip()
            if not accepted:
                raise ValidationFailed(_("Enter the accepted quantity."), field="accepted_qty")
            services.inspection_record(
                lot=lot,
                accepted_qty=accepted,
                rejected_qty=request.POST.get("rejected_qty", "").strip() or None,
                note=request.POST.get("note", ""),
                user=user,
            )
        except MedtraceError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            errors = errors_of(exc)
        else:
            messages.success(request, _("Inspection recorded."))
            return redirect("procurement:lot_detail", pk=lot.pk)
    inspection = IncomingInspection.objects.filter(material_lot=lot).first()
    return render(
        request,
        "procurement/lot_detail.html",
        {
            "lot": lot,
            "inspection": inspection,
            "consumptions": list(lot.consumptions.order_by("pk")[:100]),
            "can_inspect": user.has_perm(PERM_INSPECT)
            and lot.status == MaterialLotStatus.AWAITING_INSPECTION,
            "serial": lot.tracking == TrackingMode.SERIAL,
            "post": request.POST,
            "errors": errors,
        },
        status=422 if errors else 200,
    )


@staff_page
@require_http_methods(["GET", "POST"])
def line_inspect(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    """Serials of one receipt line: scan the rejected ones, then accept all the others."""
    line = (
        GoodsReceiptLine.objects.select_related("receipt", "order_line__material")
        .filter(pk=pk)
        .first()
    )
    if line is None:
        raise NotFound(_("No goods receipt line %(pk)s") % {"pk": pk})
    awaiting = list(
        line.material_lots.filter(status=MaterialLotStatus.AWAITING_INSPECTION).order_by("pk")
    )
    rejected = [r for r in request.POST.getlist("rejected") if r.strip()]
    errors: dict[str, str] = {}
    if request.method == "POST":
        require(user, PERM_INSPECT, _("record incoming inspections"))
        try:
            if request.POST.get("action") == "post":
                services.inspection_record_serials(
                    receipt_line=line,
                    rejected=rejected,
                    note=request.POST.get("note", ""),
                    user=user,
                )
                messages.success(request, _("Inspection recorded."))
                return redirect("procurement:receipt_detail", pk=line.receipt_id)
            scan = request.POST.get("scan", "").strip()
            if scan:
                found = next((x for x in awaiting if scan in (x.identifier, x.epc)), None)
                if found is None:
                    resolved = selectors.material_lot_resolve(
                        scan, material=line.order_line.material, field="scan"
                    )
                    found = next((x for x in awaiting if x.pk == resolved.pk), None)
                    if found is None:
                        raise ValidationFailed(
                            _("%(s)s is not awaiting inspection on this receipt line.")
                            % {"s": resolved.identifier},
                            field="scan",
                        )
                if found.identifier not in rejected:
                    rejected.append(found.identifier)
        except MedtraceError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            errors = errors_of(exc)
    return render(
        request,
        "procurement/line_inspect.html",
        {
            "line": line,
            "awaiting": awaiting,
            "rejected": rejected,
            "post": request.POST,
            "errors": errors,
            "can_inspect": user.has_perm(PERM_INSPECT),
        },
        status=422 if errors else 200,
    )
