"""Production pages: work orders, commissioning, the assembly station, process records, DHR.

Thin: parse the form, call one service or selector, render. Every page is for our own staff
with ``production.view_workorder`` (every department); writing needs the service's permission
(checked by the service, refusals shown next to their field). The assembly station is in
``views_station``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Bom, BomStatus, Location, LocationKind, Product

from . import selectors_dhr as selectors
from . import services_orders, services_records
from .models import WorkOrder, WorkOrderStatus
from .pdf import dhr_pdf

View = Callable[..., HttpResponse]


def staff_page(view: View) -> View:
    """Signed in, internal, allowed to read work orders; refusals render the forbidden page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        assert isinstance(user, User)
        if scoping.is_partner(user) or not user.has_perm(selectors.PERM_VIEW):
            message = _("The production pages are for our own departments.")
            return render(request, "web/forbidden.html", {"message": message}, status=403)
        try:
            return view(request, user, *args, **kwargs)
        except NotFound as exc:
            return render(request, "web/forbidden.html", {"message": exc.message}, status=404)
        except PermissionDenied as exc:
            return render(request, "web/forbidden.html", {"message": exc.message}, status=403)

    return wrapper


def errors_of(exc: MedtraceError) -> dict[str, str]:
    """The message keyed by its field (``components[1].quantity`` also as ``components``)."""
    field = exc.field or "general"
    out = {field: exc.message}
    base = field.split(".", 1)[0].split("[", 1)[0]
    out.setdefault(base, exc.message)
    return out


def get_order(user: User, pk: int, perm: str = selectors.PERM_VIEW) -> WorkOrder:
    return selectors.work_order_get(user=user, pk=pk, perm=perm)


def need(user: User, perm: str) -> None:
    """A work page (a form that writes) is shown only to who may use it."""
    if not user.has_perm(perm):
        raise PermissionDenied(
            _("This page needs the permission %(perm)s") % {"perm": perm},
            details={"required": perm},
        )


# List and create --------------------------------------------------------------------------------


@staff_page
@require_GET
def home(request: HttpRequest, user: User) -> HttpResponse:
    status = request.GET.get("status", "")
    q = request.GET.get("q", "").strip()
    error = None
    try:
        qs = selectors.work_order_list(user=user, status=status or None, q=q or None)
    except ValidationFailed as exc:
        qs, error = selectors.work_order_list(user=user), exc.message
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "production/home.html",
        {
            "page": page,
            "status": status,
            "q": q,
            "statuses": WorkOrderStatus.choices,
            "error": error,
            "can_create": user.has_perm(services_orders.PERM_ADD),
            "active": "home",
        },
    )


def _form_choices() -> dict[str, Any]:
    boms = Bom.objects.filter(status=BomStatus.RELEASED).select_related("product")
    products = Product.objects.filter(active=True, pk__in=boms.values("product_id")).order_by(
        "name", "model"
    )
    lines = Location.objects.filter(kind=LocationKind.PRODUCTION_LINE, active=True).order_by("code")
    return {"products": products, "boms": boms.order_by("product__name", "version"), "lines": lines}


def _int_or_none(value: str) -> int | str | None:
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() else value


@staff_page
@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest, user: User) -> HttpResponse:
    need(user, services_orders.PERM_ADD)
    errors: dict[str, str] = {}
    post = request.POST
    if request.method == "POST":
        data: dict[str, Any] = {
            "product_id": _int_or_none(post.get("product_id", "")),
            "bom_id": _int_or_none(post.get("bom_id", "")),
            "quantity": _int_or_none(post.get("quantity", "")),
            "line_id": _int_or_none(post.get("line_id", "")),
            "lot": post.get("lot", ""),
            "production_date": post.get("production_date") or None,
            "expiry": post.get("expiry") or None,
            "planned_start": post.get("planned_start") or None,
            "planned_end": post.get("planned_end") or None,
            "notes": post.get("notes", ""),
        }
        try:
            order = services_orders.work_order_create(data=data, user=user)
        except MedtraceError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            errors = errors_of(exc)
        else:
            messages.success(request, _("%(number)s planned.") % {"number": order.number})
            return redirect("production:order_detail", pk=order.pk)
    return render(
        request,
        "production/order_new.html",
        {"errors": errors, "post": post, "active": "new", **_form_choices()},
        status=422 if errors else 200,
    )


# Detail and status changes ----------------------------------------------------------------------


def _detail(
    request: HttpRequest, user: User, order: WorkOrder, *, errors: dict[str, str], status: int
) -> HttpResponse:
    progress = selectors.progress(order)
    planned = max(order.quantity, 1)
    records = order.process_records.select_related("operator").order_by("-id")[:20]
    components = order.components.select_related("material", "supplier").order_by("-id")[:20]
    return render(
        request,
        "production/order_detail.html",
        {
            "order": order,
            "progress": progress,
            "pct": {k: round(100 * v / planned) for k, v in progress.items()},
            "records": records,
            "components": components,
            "errors": errors,
            "post": request.POST,
            "can_change": user.has_perm(services_orders.PERM_CHANGE),
            "can_close": user.has_perm(services_orders.PERM_CLOSE),
            "can_record": user.has_perm(services_records.PERM_RECORD),
            "can_dhr": user.has_perm(selectors.PERM_DHR),
            "remaining": order.quantity - order.commissioned_qty,
            "active": "detail",
        },
        status=status,
    )


@staff_page
@require_GET
def order_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    return _detail(request, user, get_order(user, pk), errors={}, status=200)


@staff_page
@require_POST
def order_action(request: HttpRequest, user: User, pk: int, action: str) -> HttpResponse:
    order = get_order(user, pk)
    try:
        if action == "release":
            order = services_orders.work_order_release(work_order=order, user=user)
            done = _("%(number)s released to the line.")
        elif action == "complete":
            order = services_orders.work_order_complete(work_order=order, user=user)
            done = _("%(number)s completed.")
        elif action == "cancel":
            order = services_orders.work_order_cancel(
                work_order=order, user=user, reason=request.POST.get("reason", "")
            )
            done = _("%(number)s cancelled.")
        elif action == "close":
            order = services_orders.work_order_close(
                work_order=order,
                user=user,
                password=request.POST.get("password", ""),
                reason=request.POST.get("reason", ""),
            )
            done = _("%(number)s closed; the DHR review is signed.")
        else:
            raise NotFound(_("No such action"))
    except MedtraceError as exc:
        if isinstance(exc, NotFound):
            raise
        errors = errors_of(exc)
        errors.setdefault(action, exc.message)
        errors["alert"] = exc.message
        return _detail(request, user, get_order(user, pk), errors=errors, status=exc.status)
    messages.success(request, done % {"number": order.number})
    return redirect("production:order_detail", pk=order.pk)


def parse_parameters(text: str) -> list[dict[str, Any]]:
    """One parameter per line: ``name = value unit`` (value a number when it reads as one)."""
    out = []
    for index, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if not line:
            continue
        name, sep, rest = line.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise ValidationFailed(
                _("parameters: line %(n)d: expected name = value unit, e.g. torque = 0.6 N·m")
                % {"n": index + 1},
                field="parameters",
            )
        value_text, _space, unit = rest.strip().partition(" ")
        value: Any = value_text
        try:
            value = float(value_text) if any(c in value_text for c in ".eE") else int(value_text)
        except ValueError:
            value = rest.strip()
            unit = ""
        out.append({"name": name.strip(), "value": value, "unit": unit.strip()})
    return out


@staff_page
@require_POST
def process_record(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    order = get_order(user, pk)
    post = request.POST
    try:
        data = {
            "step": post.get("step", ""),
            "station": post.get("station", ""),
            "unit": post.get("unit", ""),
            "parameters": parse_parameters(post.get("parameters", "")),
            "result": post.get("result", ""),
            "started_at": post.get("started_at") or None,
            "finished_at": post.get("finished_at") or None,
            "note": post.get("note", ""),
        }
        record = services_records.process_record_add(work_order=order, data=data, user=user)
    except MedtraceError as exc:
        if isinstance(exc, NotFound):
            raise
        errors = {f"record_{k}": v for k, v in errors_of(exc).items()}
        return _detail(request, user, order, errors=errors, status=exc.status)
    messages.success(request, _("Process record '%(step)s' saved.") % {"step": record.step})
    return redirect("production:order_detail", pk=order.pk)


# Commissioning ----------------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "POST"])
def commission(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    need(user, services_orders.PERM_CHANGE)
    order = get_order(user, pk)
    errors: dict[str, str] = {}
    post = request.POST
    if request.method == "POST":
        serials = [s.strip() for s in post.get("serials", "").split() if s.strip()]
        count_text = post.get("count", "").strip()
        try:
            if serials:
                done = services_orders.work_order_commission(
                    work_order=order, serials=serials, user=user
                )
            else:
                if not count_text.isdigit():
                    raise ValidationFailed(
                        _("count: type how many units to commission (a whole number)"),
                        field="count",
                    )
                done = services_orders.work_order_commission(
                    work_order=order, count=int(count_text), user=user
                )
        except MedtraceError as exc:
            if isinstance(exc, NotFound):
                raise
            errors = errors_of(exc)
        else:
            if done.serials:
                text = _("%(n)d units commissioned: %(first)s … %(last)s.") % {
                    "n": len(done.serials),
                    "first": done.serials[0],
                    "last": done.serials[-1],
                }
            else:
                text = _("%(n)d units of lot %(lot)s commissioned.") % {
                    "n": done.commissioning.count,
                    "lot": order.lot,
                }
            messages.success(request, text)
            return redirect("production:commission", pk=order.pk)
    order.refresh_from_db()
    return render(
        request,
        "production/commission.html",
        {
            "order": order,
            "errors": errors,
            "post": post,
            "remaining": order.quantity - order.commissioned_qty,
            "serial_tracked": order.product.tracking == "serial",
            "runs": order.commissionings.select_related("event", "commissioned_by").order_by("-id")[
                :20
            ],
            "active": "commission",
        },
        status=422 if errors else 200,
    )


# DHR ----------------------------------------------------------------------------------------------


@staff_page
@require_GET
def dhr(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    order = get_order(user, pk, selectors.PERM_DHR)
    record = selectors.work_order_dhr(work_order=order, user=user)
    return render(
        request, "production/dhr.html", {"order": order, "record": record, "active": "dhr"}
    )


@staff_page
@require_GET
def dhr_pdf_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    order = get_order(user, pk, selectors.PERM_DHR)
    record = selectors.work_order_dhr(work_order=order, user=user)
    return _pdf(record, f"DHR-{order.number}.pdf")


@staff_page
@require_GET
def unit_dhr(request: HttpRequest, user: User) -> HttpResponse:
    need(user, selectors.PERM_DHR)
    text = request.GET.get("id", "").strip()
    context: dict[str, Any] = {"id": text, "active": "unit_dhr"}
    status = 200
    if text:
        try:
            context["record"] = selectors.unit_dhr(id=text, user=user)
        except MedtraceError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            context["error"] = exc.message
            status = exc.status
    return render(request, "production/unit_dhr.html", context, status=status)


@staff_page
@require_GET
def unit_dhr_pdf(request: HttpRequest, user: User) -> HttpResponse:
    record = selectors.unit_dhr(id=request.GET.get("id", ""), user=user)
    return _pdf(record, f"DHR-{record.get('serial') or record['work_order']['number']}.pdf")


def _pdf(record: dict[str, Any], filename: str) -> HttpResponse:
    content = dhr_pdf(record, language=translation.get_language() or "zh-hans")
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
