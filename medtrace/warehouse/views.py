"""Warehouse pages for people with a keyboard-wedge scanner: stock, put-away and moves, the
packing station, picking (FEFO) and stock counts.

Every page autofocuses its scan field and Enter submits it; a scan in any UDI form is accepted.
Scans collected before the final action (a move, closing a case) travel as hidden fields of the
form, so nothing is kept on the server between scans. Errors are shown next to the field, in
red, with the message of the service (which unit, and why).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import Conflict, MedtraceError, NotFound, SequenceViolation, ValidationFailed
from medtrace.masterdata.models import Product, TrackingMode

from . import selectors, services
from .common import Scanned, find_location, label_of, places, where_text
from .models import ContainerLevel, ContainerStatus, PickListStatus

View = Callable[..., HttpResponse]
# What a form shows next to its field; "not allowed" and "not found" are pages of their own.
FormError = (ValidationFailed, SequenceViolation, Conflict)


def staff_page(view: View) -> View:
    """Signed in, internal (partners do not see our warehouse), allowed to read it; a refusal
    is the forbidden page, a missing document 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        assert isinstance(user, User)
        if scoping.is_partner(user) or not user.has_perm("warehouse.view_container"):
            message = _("The warehouse pages are for the warehouse and the other departments.")
            return render(request, "web/forbidden.html", {"message": message}, status=403)
        try:
            return view(request, user, *args, **kwargs)
        except MedtraceError as exc:  # not found, not allowed, a bad identifier in the URL
            return render(
                request, "web/forbidden.html", {"message": exc.message}, status=exc.status
            )

    return wrapper


def _errors(exc: MedtraceError) -> dict[str, str]:
    return {exc.field or "general": exc.message}


def _item(scanned: Scanned) -> dict[str, str]:
    return {
        "epc": scanned.epc,
        "label": scanned.label,
        "where": where_text(scanned.state, places()) if scanned.state else "",
    }


def _collected(request: HttpRequest) -> list[str]:
    return [e for e in request.POST.getlist("item") if e.strip()]


def _add_scan(
    request: HttpRequest, items: list[str], check: Callable[[list[str]], list[Scanned]]
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The collected scans plus the new one (checked); the error goes next to the scan field."""
    errors: dict[str, str] = {}
    scan = request.POST.get("scan", "").strip()
    shown: list[dict[str, str]] = []
    try:
        shown = [_item(s) for s in check(items)] if items else []
    except FormError as exc:
        errors["scan"] = exc.message
    if scan and not errors:
        try:
            new = check([*items, scan])
        except FormError as exc:
            errors["scan"] = exc.message
        else:
            if len(new) == len(items):
                errors["scan"] = _("%(scan)s is scanned already") % {"scan": scan}
            shown = [_item(s) for s in new]
    return shown, errors


# Home ------------------------------------------------------------------------------------------


@staff_page
def home(request: HttpRequest, user: User) -> HttpResponse:
    product_id = request.GET.get("product", "")
    location_id = request.GET.get("location", "")
    product = Product.objects.filter(pk=product_id).first() if product_id.isdigit() else None
    location = None
    error = None
    if location_id:
        try:
            location = find_location(location_id)
        except MedtraceError as exc:
            error = exc.message
    return render(
        request,
        "warehouse/home.html",
        {
            "rows": selectors.stock_on_hand(product=product, location=location, limit=300),
            "products": Product.objects.filter(tracking=TrackingMode.SERIAL).order_by("model"),
            "locations": selectors.storage_locations(),
            "product_id": product_id,
            "location_id": location_id,
            "error": error,
            "pick_lists": selectors.open_pick_lists(),
            "counts": selectors.open_counts(),
            "moves": selectors.recent_moves(10),
            "containers": selectors.recent_containers(10),
        },
    )


# Put-away and moves ----------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "POST"])
def move(request: HttpRequest, user: User) -> HttpResponse:
    items: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    location = request.POST.get("to_location", request.GET.get("to_location", ""))
    note = request.POST.get("note", "")
    if request.method == "POST":
        collected = _collected(request)
        if request.POST.get("action") == "move":
            try:
                done = services.stock_move(
                    scans=collected, to_location=location, user=user, note=note
                )
            except FormError as exc:
                errors = _errors(exc)
                items, _unused = _add_scan(request, collected, _resolve)
            else:
                messages.success(
                    request,
                    _("%(number)s: %(n)d items to %(loc)s")
                    % {"number": done.number, "n": done.items.count(), "loc": done.to_location},
                )
                return redirect(f"{reverse('warehouse:move')}?to_location={location}")
        else:
            items, errors = _add_scan(request, collected, _resolve)
    return render(
        request,
        "warehouse/move.html",
        {
            "items": items,
            "errors": errors,
            "locations": selectors.storage_locations(),
            "to_location": location,
            "note": note,
        },
        status=422 if errors else 200,
    )


def _resolve(scans: list[str]) -> list[Scanned]:
    from .common import resolve_scans

    return resolve_scans(scans, field="scan")


# Packing station -------------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "POST"])
def pack(request: HttpRequest, user: User) -> HttpResponse:
    level = request.POST.get("level", request.GET.get("level", ContainerLevel.CASE))
    location = request.POST.get("location", request.GET.get("location", ""))
    items: list[dict[str, str]] = []
    errors: dict[str, str] = {}

    def check(scans: list[str]) -> list[Scanned]:
        return services.pack_precheck(level=level, children=scans)

    if request.method == "POST":
        collected = _collected(request)
        if request.POST.get("action") == "close":
            try:
                with transaction.atomic():
                    box = services.container_create(level=level, user=user, location=location)
                    services.container_pack(
                        container=box, children=collected, user=user, location=location, close=True
                    )
            except FormError as exc:
                errors = _errors(exc)
                items, _unused = _add_scan(request, collected, check)
            else:
                url = reverse("warehouse:container", kwargs={"sscc": box.sscc})
                return redirect(f"{url}?print=1")
        else:
            items, errors = _add_scan(request, collected, check)
    return render(
        request,
        "warehouse/pack.html",
        {
            "items": items,
            "errors": errors,
            "level": level,
            "levels": ContainerLevel.choices,
            "location": location,
            "locations": selectors.storage_locations(),
        },
        status=422 if errors else 200,
    )


@staff_page
@require_http_methods(["GET", "POST"])
def container(request: HttpRequest, user: User, sscc: str) -> HttpResponse:
    box = services.container_get(sscc)
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.POST.get("action")
        scan = request.POST.get("scan", "").strip()
        try:
            if action == "close":
                services.container_close(container=box, user=user)
                messages.success(request, _("%(box)s is closed.") % {"box": box})
            else:
                services.container_unpack(container=box, children=[scan] if scan else [], user=user)
                messages.success(request, _("Unpacked from %(box)s.") % {"box": box})
        except FormError as exc:
            errors = _errors(exc)
        else:
            return redirect("warehouse:container", sscc=box.sscc)
        box = services.container_get(box.sscc)
    view = selectors.container_view(box)
    return render(
        request,
        "warehouse/container.html",
        {
            "view": view,
            "box": box,
            "can_close": box.status == ContainerStatus.OPEN and view.children,
            "errors": errors,
            "print": request.GET.get("print") == "1",
            "labels": [(s.epc, label_of(s.epc, s)) for s in view.children],
        },
        status=422 if errors else 200,
    )


@staff_page
def container_label(request: HttpRequest, user: User, sscc: str, fmt: str) -> HttpResponse:
    box = services.container_get(sscc)
    if fmt not in ("pdf", "png"):
        raise NotFound(_("No label format %(fmt)s; use pdf or png") % {"fmt": fmt})
    content, media_type = selectors.container_label(box, fmt)
    response = HttpResponse(content, content_type=media_type)
    response["Content-Disposition"] = f'inline; filename="sscc-{box.sscc}.{fmt}"'
    return response


# Picking ---------------------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "POST"])
def pick_lists(request: HttpRequest, user: User) -> HttpResponse:
    errors: dict[str, str] = {}
    form = {k: request.POST.get(k, "") for k in ("product", "quantity", "location", "ref", "note")}
    if request.method == "POST":
        try:
            product = Product.objects.filter(pk=form["product"] or 0).first()
            if product is None:
                raise ValidationFailed(_("product: choose a product"), field="product")
            quantity = int(form["quantity"]) if form["quantity"].strip().isdigit() else -1
            created = services.pick_list_create(
                product=product,
                quantity=quantity,
                user=user,
                location=form["location"] or None,
                sales_order_ref=form["ref"],
                note=form["note"],
            )
        except FormError as exc:
            errors = _errors(exc)
        else:
            return redirect("warehouse:pick_list", pk=created.pk)
    status = request.GET.get("status", PickListStatus.OPEN)
    return render(
        request,
        "warehouse/pick_lists.html",
        {
            "lists": selectors.pick_lists(status=status or None),
            "status": status,
            "statuses": PickListStatus.choices,
            "products": Product.objects.filter(tracking=TrackingMode.SERIAL).order_by("model"),
            "locations": selectors.storage_locations(),
            "form": form,
            "errors": errors,
        },
        status=422 if errors else 200,
    )


@staff_page
@require_http_methods(["GET", "POST"])
def pick_list(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    plist = selectors.pick_list_get(pk)
    errors: dict[str, str] = {}
    fefo: dict[str, Any] | None = None
    scan = ""
    if request.method == "POST":
        scan = request.POST.get("scan", "").strip()
        try:
            if request.POST.get("action") == "cancel":
                services.pick_list_cancel(
                    pick_list=plist, user=user, reason=request.POST.get("reason", "")
                )
                messages.success(request, _("%(number)s is cancelled.") % {"number": plist})
            else:
                done = services.pick(
                    pick_list=plist,
                    scans=[scan],
                    user=user,
                    override_reason=request.POST.get("override_reason", ""),
                )
                messages.success(
                    request,
                    _("Picked: %(units)s") % {"units": ", ".join(p.serial or p.epc for p in done)},
                )
        except FormError as exc:
            errors = _errors(exc)
            codes = {
                r.get("code") for d in (exc.details or []) if isinstance(d, dict)
                for r in d.get("reasons", [])
            }  # fmt: skip
            if "not_fefo" in codes:
                fefo = {"scan": scan, "message": exc.message}
        else:
            return redirect("warehouse:pick_list", pk=plist.pk)
        plist = selectors.pick_list_get(pk)
    return render(
        request,
        "warehouse/pick_list.html",
        {"view": selectors.pick_list_view(plist), "errors": errors, "fefo": fefo, "scan": scan},
        status=409 if fefo else (422 if errors else 200),
    )


# Stock counts ----------------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "POST"])
def counts(request: HttpRequest, user: User) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            count = services.stock_count_create(
                location=request.POST.get("location", ""),
                user=user,
                note=request.POST.get("note", ""),
            )
        except FormError as exc:
            errors = _errors(exc)
        else:
            return redirect("warehouse:count", pk=count.pk)
    return render(
        request,
        "warehouse/counts.html",
        {
            "counts": selectors.stock_counts(),
            "locations": selectors.storage_locations(),
            "errors": errors,
        },
        status=422 if errors else 200,
    )


@staff_page
@require_http_methods(["GET", "POST"])
def count(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    stock_count = selectors.stock_count_get(pk)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            if request.POST.get("action") == "reconcile":
                stock_count = services.stock_count_reconcile(count=stock_count, user=user)
                messages.success(
                    request,
                    _("%(number)s is reconciled: %(m)d matched, %(x)d missing, %(u)d unexpected")
                    % {
                        "number": stock_count.number,
                        "m": stock_count.matched,
                        "x": stock_count.missing,
                        "u": stock_count.unexpected,
                    },
                )
            else:
                new = services.stock_count_scan(
                    count=stock_count, scans=[request.POST.get("scan", "")], user=user
                )
                if not new:
                    messages.info(request, _("Already counted."))
        except FormError as exc:
            errors = _errors(exc)
        else:
            return redirect("warehouse:count", pk=stock_count.pk)
    reconciled = stock_count.status != "open"
    return render(
        request,
        "warehouse/count.html",
        {
            "count": stock_count,
            "reconciled": reconciled,
            "lines": list(stock_count.lines.order_by("result", "serial", "epc"))
            if reconciled
            else [],
            "preview": None if reconciled else selectors.stock_count_preview(stock_count),
            "errors": errors,
        },
        status=422 if errors else 200,
    )
