"""The assembly station, for a keyboard-wedge scanner.

Scan the produced unit (any UDI form); then scan each component, one per Enter: every scan is
checked at once against the work order's BOM (and the unit's components so far) and the
checklist fills up. An Enter on the empty scan field (or the button) records them all. The
scans so far travel as hidden fields, so nothing is kept on the server between scans. A
lot-tracked order has no units: type how many units of its lot the components are for.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound, ValidationFailed
from medtrace.masterdata.models import TrackingMode

from . import services_assembly as assembly
from .models import WorkOrder
from .services_orders import PERM_CHANGE
from .views import errors_of, get_order, need, staff_page


def _pending(request: HttpRequest) -> list[dict[str, Any]]:
    out = []
    for raw in request.POST.getlist("comp"):
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("scan"), str):
            out.append({"scan": item["scan"], "quantity": item.get("quantity")})
    return out


def _quantity(text: str) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationFailed(
            _("quantity: %(value)s is not a number") % {"value": text}, field="quantity"
        ) from exc
    return str(value)


def _lot_units(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


@staff_page
@require_http_methods(["GET", "POST"])
def assemble(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    need(user, PERM_CHANGE)
    order = get_order(user, pk)
    lot_order = order.product.tracking == TrackingMode.LOT
    post = request.POST
    unit = post.get("unit", "").strip()
    units_text = post.get("units", "").strip()
    station = post.get("station", "").strip()
    pending = _pending(request) if request.method == "POST" else []
    errors: dict[str, str] = {}
    action = post.get("action", "scan")
    scan = post.get("scan", "").strip()
    status = 200
    if request.method == "POST":
        try:
            if action.startswith("remove:"):
                index = int(action.split(":", 1)[1])
                if 0 <= index < len(pending):
                    pending.pop(index)
            elif action == "reset":
                return redirect("production:assemble", pk=order.pk)
            elif action == "submit" or (action == "scan" and not scan and pending):
                return _submit(request, user, order, unit, units_text, station, pending)
            elif scan:
                unit, pending = _add_scan(order, lot_order, unit, units_text, scan, post, pending)
            else:
                raise ValidationFailed(
                    _("scan: scan the unit first")
                    if not unit and not lot_order
                    else _("scan: scan a component"),
                    field="scan",
                )
        except MedtraceError as exc:
            if isinstance(exc, NotFound) and exc.field is None:
                raise
            errors = errors_of(exc)
            if "scan" not in errors:
                errors["scan"] = exc.message
            status = exc.status
    return _render(request, order, unit, units_text, station, pending, errors, status)


def _add_scan(
    order: WorkOrder,
    lot_order: bool,
    unit: str,
    units_text: str,
    scan: str,
    post: Any,
    pending: list[dict[str, Any]],
) -> tuple[str, list[dict[str, Any]]]:
    if not unit and not lot_order:
        target, _resolved, _checklist = assembly.assembly_preview(
            work_order=order, components=[], unit=scan
        )
        return target.epc, pending
    candidate = [*pending, {"scan": scan, "quantity": _quantity(post.get("quantity", ""))}]
    try:
        assembly.assembly_preview(
            work_order=order,
            components=candidate,
            unit=unit or None,
            quantity=_lot_units(units_text) if lot_order else None,
        )
    except ValidationFailed as exc:
        # Name the scan field: the refusal is about what was just scanned.
        raise ValidationFailed(
            exc.message.replace(f"components[{len(pending)}]", _("scan")),
            field="scan",
            details=exc.details,
        ) from exc
    return unit, candidate


def _submit(
    request: HttpRequest,
    user: User,
    order: WorkOrder,
    unit: str,
    units_text: str,
    station: str,
    pending: list[dict[str, Any]],
) -> HttpResponse:
    lot_order = order.product.tracking == TrackingMode.LOT
    try:
        done = assembly.work_order_assemble(
            work_order=order,
            unit=unit or None,
            quantity=_lot_units(units_text) if lot_order else None,
            components=pending,
            station=station,
            user=user,
        )
    except MedtraceError as exc:
        if isinstance(exc, NotFound) and exc.field is None:
            raise
        errors = errors_of(exc)
        errors.setdefault("scan", exc.message)
        return _render(request, order, unit, units_text, station, pending, errors, exc.status)
    messages.success(
        request,
        _("%(unit)s: %(n)d components recorded.")
        % {"unit": done.unit.label, "n": len(done.components)},
    )
    response = redirect("production:assemble", pk=order.pk)
    if station:
        response["Location"] += f"?station={station}"
    return response


def _render(
    request: HttpRequest,
    order: WorkOrder,
    unit: str,
    units_text: str,
    station: str,
    pending: list[dict[str, Any]],
    errors: dict[str, str],
    status: int,
) -> HttpResponse:
    lot_order = order.product.tracking == TrackingMode.LOT
    checklist: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    label = ""
    if unit or (lot_order and _lot_units(units_text)):
        try:
            target, resolved, checklist = assembly.assembly_preview(
                work_order=order,
                components=pending,
                unit=unit or None,
                quantity=_lot_units(units_text) if lot_order else None,
            )
            label = target.label
            rows = [
                {
                    "scan": r.scan,
                    "material": r.ref.material,
                    "identifier": r.ref.identifier,
                    "tracking": r.ref.tracking,
                    "quantity": r.amount,
                    "supplier": r.ref.supplier,
                    "made_by": r.ref.source_work_order,
                }
                for r in resolved
            ]
        except MedtraceError as exc:
            errors.setdefault("scan", exc.message)
    return render(
        request,
        "production/assemble.html",
        {
            "order": order,
            "lot_order": lot_order,
            "unit": unit,
            "label": label,
            "units": units_text,
            "station": station or request.GET.get("station", ""),
            "pending": [(json.dumps(p, ensure_ascii=False), p) for p in pending],
            "rows": rows,
            "checklist": checklist,
            "errors": errors,
            "active": "assemble",
        },
        status=status,
    )
