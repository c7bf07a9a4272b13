"""Procurement pages: the overview, purchase orders, supplier qualification, downloads.

Receiving and incoming inspection (the scanner stations) are in ``views_receive``. Every page is
for our staff (partners use the API, scoped to their own POs); reading needs the procurement view
permissions every department holds, writing the service's permission (checked by the service).
Errors are shown next to their field with the service's message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound, PermissionDenied, ValidationFailed
from medtrace.exports import lists
from medtrace.exports.tabular import wants_export
from medtrace.lifecycle.models import Attachment
from medtrace.lifecycle.services import attachment_read
from medtrace.masterdata.models import Material, MaterialSupplier, Party, PartyLicence

from . import selectors, services
from .common import require
from .models import GoodsReceipt, PurchaseOrder, PurchaseOrderStatus
from .qualification import qualification_summary

View = Callable[..., HttpResponse]
PO_LINES = 6


def staff_page(view: View) -> View:
    """Signed in, internal, allowed to read procurement records; a refusal is the forbidden
    page, a missing document 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        assert isinstance(user, User)
        if scoping.is_partner(user) or not user.has_perm("procurement.view_purchaseorder"):
            message = _("The procurement pages are for our own departments.")
            return render(request, "web/forbidden.html", {"message": message}, status=403)
        try:
            return view(request, user, *args, **kwargs)
        except NotFound as exc:
            return render(request, "web/forbidden.html", {"message": exc.message}, status=404)
        except PermissionDenied as exc:
            return render(request, "web/forbidden.html", {"message": exc.message}, status=403)

    return wrapper


def errors_of(exc: MedtraceError) -> dict[str, str]:
    """The message keyed by its field (``lines[1].quantity`` -> also ``lines[1]``)."""
    field = exc.field or "general"
    out = {field: exc.message}
    if "." in field:
        out.setdefault(field.split(".", 1)[0], exc.message)
    return out


def download(att: Attachment) -> HttpResponse:
    response = HttpResponse(attachment_read(att), content_type=att.content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(att.name)}"
    response["X-Content-SHA256"] = att.sha256
    return response


def get_order(pk: int) -> PurchaseOrder:
    order = selectors.purchase_orders_for(None).filter(pk=pk).first()
    if order is None:
        raise NotFound(_("No purchase order %(pk)s") % {"pk": pk})
    return order


# Overview --------------------------------------------------------------------------------------


@staff_page
@require_GET
def home(request: HttpRequest, user: User) -> HttpResponse:
    """Open POs, lots awaiting inspection, certificates expired or expiring within 30 days."""
    today = timezone.localdate()
    code = request.GET.get("code", "").strip()
    errors: dict[str, str] = {}
    if code:
        try:
            lot = selectors.material_lot_resolve(code, field="code")
            return redirect("procurement:lot_detail", pk=lot.pk)
        except (ValidationFailed, NotFound) as exc:
            errors = errors_of(exc)
    certificates = list(selectors.certificates_expiring(days=30, today=today)[:50])
    return render(
        request,
        "procurement/home.html",
        {
            "orders": list(selectors.purchase_order_list(user=user, status="open")[:50]),
            "awaiting": list(selectors.lots_awaiting_inspection()[:100]),
            "certificates": [
                (c, c.expires_on is not None and c.expires_on < today) for c in certificates
            ],
            "code": code,
            "errors": errors,
            "can_order": user.has_perm(services.PERM_PO_ADD),
        },
        status=422 if errors else 200,
    )


# Purchase orders -------------------------------------------------------------------------------


def _suppliers() -> list[Party]:
    ids = MaterialSupplier.objects.values("supplier_id")
    return list(Party.objects.filter(pk__in=ids, active=True).order_by("name"))


@staff_page
@require_http_methods(["GET", "POST"])
def po_create(request: HttpRequest, user: User) -> HttpResponse:
    errors: dict[str, str] = {}
    data = request.POST if request.method == "POST" else request.GET
    rows = [
        {"material": data.get(f"material_{i}", ""), "quantity": data.get(f"quantity_{i}", "")}
        for i in range(PO_LINES)
    ]
    if request.method == "POST":
        require(user, services.PERM_PO_ADD, _("create purchase orders"))
        try:
            supplier = Party.objects.filter(pk=int(data.get("supplier") or 0)).first()
            if supplier is None:
                raise ValidationFailed(_("Choose the supplier."), field="supplier")
            expected = data.get("expected_on", "").strip()
            expected_on = parse_date(expected) if expected else None
            if expected and expected_on is None:
                raise ValidationFailed(
                    _("%(value)s is not a date (YYYY-MM-DD).") % {"value": expected},
                    field="expected_on",
                )
            lines, index_of = [], []
            for i, row in enumerate(rows):
                if row["material"] or row["quantity"]:
                    lines.append(
                        {
                            "material_id": int(row["material"] or 0) or None,
                            "quantity": row["quantity"] or "0",
                        }
                    )
                    index_of.append(i)
            try:
                order = services.purchase_order_create(
                    supplier=supplier,
                    lines=lines,
                    expected_on=expected_on,
                    note=data.get("note", ""),
                    release=data.get("release") == "on",
                    user=user,
                )
            except ValidationFailed as exc:
                # lines[n] of the service is the n-th filled row of the form.
                if exc.field and exc.field.startswith("lines["):
                    n = int(exc.field[6 : exc.field.index("]")])
                    raise ValidationFailed(exc.message, field=f"row_{index_of[n]}") from exc
                raise
        except ValidationFailed as exc:
            errors = errors_of(exc)
        else:
            messages.success(request, _("Purchase order %(n)s created.") % {"n": order.number})
            return redirect("procurement:po_detail", pk=order.pk)
    return render(
        request,
        "procurement/po_form.html",
        {
            "suppliers": _suppliers(),
            "materials": list(Material.objects.filter(active=True).order_by("code")),
            "rows": [(i, row, errors.get(f"row_{i}")) for i, row in enumerate(rows)],
            "data": data,
            "errors": errors,
        },
        status=422 if errors else 200,
    )


@staff_page
@require_http_methods(["GET", "POST"])
def po_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    order = get_order(pk)
    errors: dict[str, str] = {}
    if request.method == "POST":
        require(user, services.PERM_PO_CHANGE, _("change purchase orders"))
        action = request.POST.get("action", "")
        reason = request.POST.get("reason", "")
        try:
            if action == "release":
                order = services.purchase_order_release(order=order, user=user)
            elif action == "cancel":
                order = services.purchase_order_cancel(order=order, user=user, reason=reason)
            elif action == "close":
                order = services.purchase_order_close(order=order, user=user, reason=reason)
            else:
                raise ValidationFailed(_("Unknown action."), field="action")
        except MedtraceError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            errors = errors_of(exc)
        else:
            messages.success(
                request,
                _("%(n)s is now %(status)s.")
                % {"n": order.number, "status": order.get_status_display()},
            )
            return redirect("procurement:po_detail", pk=order.pk)
    receipts = list(order.receipts.select_related("coc", "location").order_by("pk"))
    return render(
        request,
        "procurement/po_detail.html",
        {
            "order": order,
            "lines": list(order.lines.select_related("material").order_by("position")),
            "receipts": receipts,
            "problems": services.supplier_qualification(order.supplier),
            "errors": errors,
            "can_change": user.has_perm(services.PERM_PO_CHANGE),
            "can_receive": user.has_perm("procurement.add_goodsreceipt")
            and order.status
            in (PurchaseOrderStatus.RELEASED, PurchaseOrderStatus.PARTIALLY_RECEIVED),
        },
        status=422 if errors else 200,
    )


@staff_page
@require_GET
def receipt_coc(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    receipt = GoodsReceipt.objects.select_related("coc").filter(pk=pk).first()
    if receipt is None:
        raise NotFound(_("No goods receipt %(pk)s") % {"pk": pk})
    return download(receipt.coc)


# Suppliers -------------------------------------------------------------------------------------


@staff_page
@require_GET
def supplier_list(request: HttpRequest, user: User) -> HttpResponse:
    today = timezone.localdate()
    suppliers = _suppliers()
    licences: dict[int, list[PartyLicence]] = {}
    for lic in PartyLicence.objects.filter(party__in=suppliers):
        licences.setdefault(lic.party_id, []).append(lic)
    rows = [
        (s, services.supplier_qualification(s, on=today, licences=licences.get(s.pk, [])))
        for s in suppliers
    ]
    if wants_export(request):
        return lists.respond(request, "suppliers", rows)
    return render(request, "procurement/supplier_list.html", {"rows": rows})


@staff_page
@require_http_methods(["GET", "POST"])
def supplier_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    party = Party.objects.filter(pk=pk).first()
    if party is None:
        raise NotFound(_("No supplier %(pk)s") % {"pk": pk})
    errors: dict[str, str] = {}
    if request.method == "POST":
        require(user, "masterdata.change_partylicence", _("attach certificate scans"))
        licence = PartyLicence.objects.filter(
            party=party, pk=int(request.POST.get("licence") or 0)
        ).first()
        upload = request.FILES.get("scan")
        try:
            if licence is None:
                raise ValidationFailed(_("Choose the certificate."), field="licence")
            if upload is None:
                raise ValidationFailed(_("Choose the scan file."), field=f"scan_{licence.pk}")
            services.licence_scan_upload(
                licence=licence,
                name=upload.name or "scan",
                content=upload.read(),
                content_type=upload.content_type or "",
                user=user,
            )
        except MedtraceError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            errors = errors_of(exc)
            if exc.field == "scan" and licence is not None:
                errors[f"scan_{licence.pk}"] = exc.message
        else:
            messages.success(request, _("Scan of %(n)s stored.") % {"n": licence.number})
            return redirect("procurement:supplier_detail", pk=party.pk)
    summary = qualification_summary(party)
    for row in summary["licences"]:
        row["error"] = errors.get(f"scan_{row['licence'].pk}")
    return render(
        request,
        "procurement/supplier_detail.html",
        {
            **summary,
            "errors": errors,
            "can_upload": user.has_perm("masterdata.change_partylicence"),
            "orders": list(party.purchase_orders.order_by("-pk")[:20]),
        },
        status=422 if errors else 200,
    )


@staff_page
@require_GET
def licence_scan(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    licence = PartyLicence.objects.select_related("scan").filter(pk=pk).first()
    if licence is None or licence.scan is None:
        raise NotFound(_("No scan of certificate %(pk)s") % {"pk": pk})
    return download(licence.scan)
