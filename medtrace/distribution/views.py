"""Distribution pages: the home board, sales orders, the shipping station, shipments, returns.

The shipping station and the receipt pages are made for a keyboard-wedge scanner: the scan field
has the focus, Enter submits it, any UDI form is accepted. Scans collected so far travel as
hidden fields of the form (nothing is kept on the server between scans), and each new scan is
checked at once against the state machine and the order, so a blocked unit is refused when it
is scanned, naming the unit and why, next to the scan field.

Partner users (a distributor's or hospital's staff) see only their incoming shipments and
returns (``views_partner``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import Conflict, MedtraceError, SequenceViolation, ValidationFailed
from medtrace.masterdata.models import Location, Party, Product, TrackingMode
from medtrace.masterdata.models import PartyRole as Role

from . import selectors, services
from .models import ReturnStatus, SalesOrder
from .pdf import despatch_note_pdf
from .shipping import ShipmentPlan

View = Callable[..., HttpResponse]
FormError = (ValidationFailed, SequenceViolation, Conflict)
LINE_ROWS = 5


def page(*, staff: bool) -> Callable[[View], View]:
    """Signed in; ``staff``: internal users with the distribution view permission only (a
    partner is sent to its incoming shipments). A service error (not found, not allowed)
    renders the forbidden page with its status."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            assert isinstance(user, User)
            if staff and scoping.is_partner(user):
                message = _("These pages are for our own staff; see your incoming shipments.")
                return render(request, "web/forbidden.html", {"message": message}, status=403)
            if not scoping.is_partner(user) and not user.has_perm("distribution.view_shipment"):
                message = _("The distribution pages need the distribution view permission.")
                return render(request, "web/forbidden.html", {"message": message}, status=403)
            try:
                return view(request, user, *args, **kwargs)
            except MedtraceError as exc:
                return render(
                    request, "web/forbidden.html", {"message": exc.message}, status=exc.status
                )

        return wrapper

    return decorate


def _errors(exc: MedtraceError) -> dict[str, str]:
    return {exc.field or "general": exc.message}


def collected(request: HttpRequest) -> list[str]:
    return [e for e in request.POST.getlist("item") if e.strip()]


def add_scan(
    request: HttpRequest, items: list[str], check: Callable[[list[str]], Any]
) -> tuple[list[str], Any, dict[str, str]]:
    """The collected scans with the new one if it passes ``check`` (which raises the service's
    error); the error goes next to the scan field and the scan is not added."""
    scan = request.POST.get("scan", "").strip()
    errors: dict[str, str] = {}
    plan = None
    if items:
        try:
            plan = check(items)
        except FormError as exc:
            errors["scan"] = exc.message
    if scan and not errors:
        try:
            candidate = check([*items, scan])
        except FormError as exc:
            errors["scan"] = exc.message
        else:
            if plan is not None and len(candidate.everything) == len(plan.everything):
                errors["scan"] = _("%(scan)s is scanned already") % {"scan": scan}
            else:
                items, plan = [*items, scan], candidate
    return items, plan, errors


# Home ------------------------------------------------------------------------------------------


@page(staff=False)
def home(request: HttpRequest, user: User) -> HttpResponse:
    if scoping.is_partner(user):
        return redirect("distribution:incoming")
    return render(request, "distribution/home.html", selectors.dashboard(user=user))


# Sales orders ----------------------------------------------------------------------------------


def _order_form_context(post: Any = None) -> dict[str, Any]:
    customers = Party.objects.filter(
        role__in=(Role.DISTRIBUTOR, Role.HOSPITAL), active=True
    ).order_by("role", "name")
    return {
        "customers": customers,
        "locations": Location.objects.filter(party__in=customers, active=True)
        .select_related("party")
        .order_by("party__name", "code"),
        "products": Product.objects.filter(tracking=TrackingMode.SERIAL, active=True).order_by(
            "model"
        ),
        "rows": [
            {
                "product": (post.get(f"product_{i}", "") if post else ""),
                "quantity": (post.get(f"quantity_{i}", "") if post else ""),
            }
            for i in range(LINE_ROWS)
        ],
        "values": post or {},
    }


def _int(value: str) -> int | str:
    value = (value or "").strip()
    return int(value) if value.isdigit() else value


@page(staff=True)
@require_http_methods(["GET", "POST"])
def order_create(request: HttpRequest, user: User) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        post = request.POST
        lines = [
            {
                "product_id": _int(post.get(f"product_{i}", "")),
                "quantity": _int(post.get(f"quantity_{i}", "")),
            }
            for i in range(LINE_ROWS)
            if post.get(f"product_{i}") or post.get(f"quantity_{i}")
        ]
        data = {
            "customer_id": _int(post.get("customer_id", "")),
            "ship_to_id": _int(post.get("ship_to_id", "")),
            "customer_po": post.get("customer_po", ""),
            "note": post.get("note", ""),
            "lines": lines,
        }
        try:
            order = services.sales_order_create(data=data, user=user)
        except FormError as exc:
            errors = _errors(exc)
        else:
            messages.success(
                request, _("Sales order %(n)s created as a draft.") % {"n": order.number}
            )
            return redirect("distribution:order", pk=order.pk)
    context = _order_form_context(request.POST if request.method == "POST" else None)
    context["errors"] = errors
    return render(request, "distribution/order_form.html", context, status=422 if errors else 200)


@page(staff=True)
@require_http_methods(["GET", "POST"])
def order_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    order = selectors.sales_order_get(user=user, pk=pk)
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        reason = request.POST.get("reason", "")
        try:
            if action == "confirm":
                order = services.sales_order_confirm(order=order, user=user)
            elif action == "cancel":
                order = services.sales_order_cancel(order=order, user=user, reason=reason)
            elif action == "close":
                order = services.sales_order_close(order=order, user=user, reason=reason)
            else:
                errors = {"general": _("Unknown action.")}
        except FormError as exc:
            errors = _errors(exc)
        else:
            if not errors:
                messages.success(
                    request,
                    _("%(n)s is now %(s)s.") % {"n": order.number, "s": order.get_status_display()},
                )
                return redirect("distribution:order", pk=order.pk)
    return render(
        request,
        "distribution/order_detail.html",
        {
            "order": order,
            "lines": selectors.order_lines(order),
            "shipments": selectors.shipments(user=user, order=order),
            "errors": errors,
            "can_change": user.has_perm(services.PERM_ORDER_CHANGE),
            "can_ship": user.has_perm(services.PERM_SHIP) and order.open,
        },
        status=422 if errors else 200,
    )


@page(staff=True)
@require_http_methods(["GET", "POST"])
def ship(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    """The shipping station of one order: scan units or SSCCs, see the lines fill, confirm."""
    order: SalesOrder = selectors.sales_order_get(user=user, pk=pk)
    items: list[str] = []
    plan: ShipmentPlan | None = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        items = collected(request)

        def check(scans: list[str]) -> ShipmentPlan:
            return services.shipment_check(order=order, scans=scans, field="scan")

        if request.POST.get("action") == "ship" and items:
            try:
                shipment = services.shipment_create(
                    order=order,
                    scans=items,
                    user=user,
                    note=request.POST.get("note", ""),
                    field="scan",
                )
            except FormError as exc:
                errors = _errors(exc)
                try:
                    plan = check(items)
                except FormError:
                    plan = None
            else:
                messages.success(
                    request,
                    _("Shipment %(n)s is on its way: %(u)s units.")
                    % {"n": shipment.number, "u": shipment.unit_count},
                )
                return redirect("distribution:shipment", pk=shipment.pk)
        else:
            items, plan, errors = add_scan(request, items, check)
    lines = selectors.order_lines(order, pending=plan.per_product() if plan else None)
    rows = []
    if plan is not None:
        for epc in plan.everything:
            state = plan.states.get(epc)
            rows.append(
                {
                    "epc": epc,
                    "serial": (state.serial if state else "") or "",
                    "container": epc in plan.containers,
                    "inside": epc not in plan.scanned,
                }
            )
    return render(
        request,
        "distribution/ship.html",
        {
            "order": order,
            "lines": lines,
            "items": items,
            "rows": rows,
            "units": len(plan.units) if plan else 0,
            "errors": errors,
            "can_ship": user.has_perm(services.PERM_SHIP),
        },
        status=422 if errors and request.method == "POST" else 200,
    )


# Shipments -------------------------------------------------------------------------------------


@page(staff=False)
def shipment_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    shipment = selectors.shipment_get(user=user, pk=pk)
    return render(
        request,
        "distribution/shipment_detail.html",
        {
            "shipment": shipment,
            "items": selectors.shipment_items(shipment),
            "receipts": shipment.receipts.select_related("received_by"),
            "partner": scoping.is_partner(user),
        },
    )


@page(staff=False)
def despatch_note(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    shipment = selectors.shipment_get(user=user, pk=pk)
    language = getattr(request, "LANGUAGE_CODE", "zh-hans")
    response = HttpResponse(despatch_note_pdf(shipment, language=language), "application/pdf")
    response["Content-Disposition"] = f'inline; filename="{shipment.number}.pdf"'
    return response


# Returns ---------------------------------------------------------------------------------------


@page(staff=False)
@require_http_methods(["GET", "POST"])
def returns(request: HttpRequest, user: User) -> HttpResponse:
    """The returns list; staff authorise a new return here (scan the units coming back)."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    if request.method == "POST" and not scoping.is_partner(user):
        values = {k: request.POST.get(k, "") for k in ("customer_id", "scans", "reason")}
        try:
            customer = services.party_or_422(_int(values["customer_id"]), "customer_id")
            rma = services.rma_create(
                customer=customer,
                scans=values["scans"].split(),
                reason=values["reason"],
                user=user,
            )
        except FormError as exc:
            errors = _errors(exc)
            if errors.get("epcs"):
                errors["scans"] = errors.pop("epcs")
        else:
            messages.success(request, _("Return %(n)s authorised.") % {"n": rma.number})
            return redirect("distribution:return", pk=rma.pk)
    elif request.method == "POST":
        return render(
            request,
            "web/forbidden.html",
            {"message": _("Returns are authorised by us.")},
            status=403,
        )
    return render(
        request,
        "distribution/returns.html",
        {
            "returns": selectors.returns(user=user).prefetch_related("items")[:200],
            "customers": Party.objects.filter(
                role__in=(Role.DISTRIBUTOR, Role.HOSPITAL), active=True
            ).order_by("name"),
            "errors": errors,
            "values": values,
            "can_create": not scoping.is_partner(user)
            and user.has_perm("distribution.add_returnauthorization"),
        },
        status=422 if errors else 200,
    )


@page(staff=False)
@require_http_methods(["GET", "POST"])
def return_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    rma = selectors.rma_get(user=user, pk=pk)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if scoping.is_partner(user):
            message = _("The returned goods are received by us.")
            return render(request, "web/forbidden.html", {"message": message}, status=403)
        action = request.POST.get("action", "")
        try:
            if action == "receive":
                scans = request.POST.get("scans", "").split()
                rma = services.rma_receive(rma=rma, user=user, scans=scans)
            elif action == "close":
                rma = services.rma_close(rma=rma, user=user, note=request.POST.get("note", ""))
            else:
                errors = {"general": _("Unknown action.")}
        except FormError as exc:
            errors = _errors(exc)
            if errors.get("epcs"):
                errors["scans"] = errors.pop("epcs")
        else:
            if not errors:
                messages.success(
                    request,
                    _("%(n)s is now %(s)s.") % {"n": rma.number, "s": rma.get_status_display()},
                )
                return redirect("distribution:return", pk=rma.pk)
    return render(
        request,
        "distribution/return_detail.html",
        {
            "rma": rma,
            "items": rma.items.select_related("product"),
            "errors": errors,
            "partner": scoping.is_partner(user),
            "can_receive": rma.status == ReturnStatus.AUTHORISED
            and user.has_perm("distribution.receive_returnauthorization"),
            "can_close": rma.status == ReturnStatus.RECEIVED
            and user.has_perm("distribution.change_returnauthorization"),
        },
        status=422 if errors else 200,
    )
