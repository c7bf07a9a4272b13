"""Service pages (/service/): the installed base, maintenance due and open tickets; install, visit,
ticket (with the part-swap form) and the e-signed scrap.

Thin: each view parses the form, calls one service or selector and renders. Errors come back as
``MedtraceError`` and are shown next to their field. Every scan input is autofocused and Enter
submits it; the scrap page collects several scans in the URL (``?scans=...``), so a
keyboard-wedge scanner needs no script. A hospital's own staff (partner users) see their
hospital's installed base and tickets, and may install and report faults on their own units.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.accounts.models import User
from medtrace.audit.signatures import signatures_for
from medtrace.errors import MedtraceError, NotFound
from medtrace.masterdata.models import Location, LocationKind
from medtrace.web.pages import View, form_errors, staff_or_hospital_page

from . import common, selectors, services
from .models import PlanKind, ScrapMethod, TicketStatus

_LIMIT = 100


def page(perm: str, *, hospitals: bool = False) -> Callable[[View], View]:
    """Signed-in staff with ``perm``; hospital partners too when ``hospitals``."""
    return staff_or_hospital_page(
        perm,
        hospitals=hospitals,
        forbidden=lambda: _("Service pages are for the service department and hospital staff."),
    )


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


_errors = form_errors


def _departments(user: User) -> list[Location]:
    qs = Location.objects.select_related("party").filter(
        kind=LocationKind.HOSPITAL_DEPARTMENT, active=True
    )
    hospital = common.partner_hospital(user)
    if hospital is not None:
        qs = qs.filter(party=hospital)
    return list(qs.order_by("party__name", "code"))


# Home ------------------------------------------------------------------------------------------


@page(common.PERM_INSTALL_VIEW, hospitals=True)
def home(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    unit = request.GET.get("unit", "").strip()
    status = request.GET.get("status", "in_use")
    installed = selectors.installation_list(
        user=user, unit=unit or None, status=status if status != "all" else None
    )
    now = timezone.now()
    tickets = [
        (t, selectors.duration_text(selectors.ticket_age(t, now)))
        for t in selectors.ticket_list(user=user, open_only=True)[:_LIMIT]
    ]
    context = {
        "unit": unit,
        "status": status,
        "installed": list(installed[:_LIMIT]),
        "installed_count": installed.count(),
        "due": selectors.maintenance_due(within_days=30, user=user)[:_LIMIT],
        "tickets": tickets,
        "is_partner": common.is_partner(user),
    }
    return render(request, "service/home.html", context)


# Install ---------------------------------------------------------------------------------------

INSTALL_FIELDS = (
    "unit",
    "department_id",
    "installed_at",
    "engineer",
    "implant_record_id",
    "note",
    "hospital_id",
)


@page(common.PERM_INSTALL, hospitals=True)
@require_http_methods(["GET", "POST"])
def install(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    form = {name: request.POST.get(name, "").strip() for name in INSTALL_FIELDS}
    if request.method == "GET":
        form["unit"] = request.GET.get("unit", "").strip()
        form["department_id"] = request.GET.get("department", "").strip()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            row = services.installation_create(
                unit=form["unit"],
                department_id=form["department_id"],  # type: ignore[arg-type]
                user=user,
                installed_at=form["installed_at"] or None,
                engineer=form["engineer"],
                implant_record_id=form["implant_record_id"] or None,  # type: ignore[arg-type]
                note=form["note"],
            )
        except MedtraceError as exc:
            errors, status = _errors(exc, INSTALL_FIELDS), exc.status
        else:
            messages.success(
                request,
                _("%(number)s: %(unit)s installed at %(where)s.")
                % {
                    "number": row.number,
                    "unit": row.serial or row.unit_epc,
                    "where": f"{row.department.code} {row.department.name}",
                },
            )
            return redirect("service:installation", pk=row.pk)
    context = {"form": form, "errors": errors, "departments": _departments(user)}
    return render(request, "service/install.html", context, status=status)


@page(common.PERM_INSTALL_VIEW, hospitals=True)
@require_http_methods(["GET", "POST"])
def installation(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    row = selectors.installation_get(user=user, pk=pk)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            services.installation_remove(
                installation=row, user=user, reason=request.POST.get("reason", "")
            )
        except MedtraceError as exc:
            errors, status = _errors(exc, ("reason",)), exc.status
        else:
            messages.success(request, _("%(number)s ended.") % {"number": row.number})
            return redirect("service:installation", pk=row.pk)
    visits = selectors.visit_list(user=user).filter(unit_epc=row.unit_epc)[:50]
    tickets = selectors.ticket_list(user=user).filter(unit_epc=row.unit_epc)[:50]
    can_end = row.status == "in_use" and (
        common.partner_hospital(user) is not None or user.has_perm(common.PERM_INSTALL_CHANGE)
    )
    context = {
        "row": row,
        "visits": visits,
        "tickets": tickets,
        "errors": errors,
        "can_end": can_end,
    }
    return render(request, "service/installation.html", context, status=status)


# Maintenance -----------------------------------------------------------------------------------


def _measurements(request: HttpRequest) -> list[dict[str, Any]]:
    """The test-data rows of a form: m_name, m_value, m_unit, m_min, m_max, m_pass."""
    post = request.POST
    names = post.getlist("m_name")
    columns = {key: post.getlist(f"m_{key}") for key in ("value", "unit", "min", "max", "pass")}
    out: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        if not name.strip():
            continue
        row: dict[str, Any] = {"name": name.strip()}
        cell = {
            key: (values[index].strip() if index < len(values) else "")
            for key, values in columns.items()
        }
        value = cell["value"]
        if value:
            try:
                row["value"] = float(value.replace(",", "."))
            except ValueError:
                row["value"] = value
        for key in ("unit", "min", "max"):
            if cell[key]:
                row[key] = cell[key]
        if cell["pass"] in ("pass", "fail"):
            row["pass"] = cell["pass"] == "pass"
        out.append(row)
    return out


def _upload(request: HttpRequest, name: str = "report") -> tuple[str, bytes, str] | None:
    upload = request.FILES.get(name)
    if upload is None:
        return None
    return (upload.name or "report", upload.read(), upload.content_type or "")


VISIT_FIELDS = (
    "plan_id",
    "unit",
    "work_done",
    "performed_at",
    "measurements",
    "attachment",
    "result",
)


@page(common.PERM_VISIT)
@require_http_methods(["GET", "POST"])
def visit(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    plans = list(selectors.plan_list(user=user, active=True))
    source = request.POST if request.method == "POST" else request.GET
    plan_id = source.get("plan", "").strip()
    plan = next((p for p in plans if str(p.pk) == plan_id), None)
    form = {
        "unit": source.get("unit", "").strip(),
        "work_done": source.get("work_done", ""),
        "performed_at": source.get("performed_at", ""),
        "result": source.get("result", ""),
    }
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            if plan is None:
                raise common.invalid("plan_id", "choose the maintenance or calibration plan")
            row = services.maintenance_visit_record(
                plan=plan,
                unit=form["unit"],
                user=user,
                work_done=form["work_done"],
                performed_at=form["performed_at"] or None,
                measurements=_measurements(request),
                attachment=_upload(request),
                result=form["result"] or None,
            )
        except MedtraceError as exc:
            errors, status = _errors(exc, VISIT_FIELDS), exc.status
        else:
            messages.success(
                request,
                _("%(number)s recorded: %(result)s, next due %(due)s.")
                % {
                    "number": row.number,
                    "result": row.get_result_display(),
                    "due": row.next_due.isoformat(),
                },
            )
            target = f"{request.path}?plan={plan.pk}" if plan else request.path
            return redirect(target)
    context = {
        "plans": plans,
        "plan": plan,
        "form": form,
        "errors": errors,
        "blank_rows": range(3 if plan and plan.items else 5),
    }
    return render(request, "service/visit.html", context, status=status)


PLAN_FIELDS = ("name", "kind", "product_id", "unit", "interval_days", "items", "note")


def _plan_items(text: str) -> list[dict[str, Any]]:
    """One item a line: ``name; unit; min; max`` (unit and limits optional)."""
    items = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(";")]
        if not parts or not parts[0]:
            continue
        item: dict[str, Any] = {"name": parts[0]}
        for key, value in zip(("unit", "min", "max"), parts[1:4], strict=False):
            if value:
                item[key] = value
        items.append(item)
    return items


@page(common.PERM_PLAN_VIEW)
@require_http_methods(["GET", "POST"])
def plans(request: HttpRequest) -> HttpResponse:
    from medtrace.masterdata.models import Product

    user = _actor(request)
    form = {name: request.POST.get(name, "") for name in PLAN_FIELDS}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            data: dict[str, Any] = {k: v for k, v in form.items() if v.strip()}
            data["items"] = _plan_items(form["items"])
            plan = services.maintenance_plan_create(data=data, user=user)
        except MedtraceError as exc:
            errors, status = _errors(exc, PLAN_FIELDS), exc.status
        else:
            messages.success(request, _("%(number)s created.") % {"number": plan.number})
            return redirect("service:plans")
    context = {
        "plans": selectors.plan_list(user=user),
        "products": Product.objects.filter(active=True, tracking="serial").order_by("model"),
        "kinds": PlanKind.choices,
        "form": form,
        "errors": errors,
        "can_create": user.has_perm(common.PERM_PLAN),
    }
    return render(request, "service/plans.html", context, status=status)


# Tickets ---------------------------------------------------------------------------------------

TICKET_FIELDS = ("unit", "symptom", "reporter_id", "reporter_contact", "rma_reference", "opened_at")


@page(common.PERM_TICKET, hospitals=True)
@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    form = {name: request.POST.get(name, "").strip() for name in TICKET_FIELDS}
    if request.method == "GET":
        form["unit"] = request.GET.get("unit", "").strip()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            ticket = services.ticket_open(
                unit=form["unit"],
                symptom=form["symptom"],
                user=user,
                reporter_contact=form["reporter_contact"],
                rma_reference=form["rma_reference"],
                opened_at=form["opened_at"] or None,
            )
        except MedtraceError as exc:
            errors, status = _errors(exc, TICKET_FIELDS), exc.status
        else:
            messages.success(request, _("%(number)s opened.") % {"number": ticket.number})
            return redirect("service:ticket", pk=ticket.pk)
    return render(
        request, "service/ticket_new.html", {"form": form, "errors": errors}, status=status
    )


FORM_FIELDS = {
    "diagnose": ("diagnosis", "rma_reference"),
    "swap": ("removed", "installed"),
    "test": ("measurements", "attachment", "result"),
    "resolve": ("resolution", "test"),
    "close": ("note",),
}


def _ticket_page(
    request: HttpRequest,
    pk: int,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    action: str = "",
) -> HttpResponse:
    user = _actor(request)
    ticket = selectors.ticket_get(user=user, pk=pk)
    S = TicketStatus
    may = not common.is_partner(user) and user.has_perm(common.PERM_TICKET_CHANGE)
    can = {
        "diagnose": may and ticket.status in (S.OPEN, S.DIAGNOSED),
        "swap": may and ticket.status in (S.DIAGNOSED, S.IN_REPAIR, S.TESTING),
        "test": may and ticket.status in (S.DIAGNOSED, S.IN_REPAIR, S.TESTING),
        "resolve": may and ticket.status == S.TESTING,
        "close": may and ticket.status in (S.RESOLVED, S.OPEN, S.DIAGNOSED),
    }
    # An error of a form that is not shown (the step is not possible now) goes to the top.
    shown = {f for step, fields in FORM_FIELDS.items() if can[step] for f in fields}
    errors = {k if k in shown else "form": v for k, v in (errors or {}).items()}
    context = {
        "t": ticket,
        "age": selectors.duration_text(selectors.ticket_age(ticket)),
        "ttr": selectors.duration_text(ticket.time_to_resolve),
        "swaps": ticket.swaps.select_related("swapped_by"),
        "errors": errors,
        "action": action,
        "post": request.POST if request.method == "POST" else {},
        "can": can,
        "blank_rows": range(4),
    }
    return render(request, "service/ticket.html", context, status=status)


@page(common.PERM_TICKET_VIEW, hospitals=True)
def ticket(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_page(request, pk)


ACTION_FIELDS = (
    "diagnosis",
    "rma_reference",
    "removed",
    "installed",
    "measurements",
    "attachment",
    "result",
    "resolution",
    "note",
    "test",
    "at",
    "status",
    "unit",
)


@page(common.PERM_TICKET_CHANGE)
@require_POST
def ticket_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user = _actor(request)
    ticket = selectors.ticket_get(user=user, pk=pk)
    p = request.POST
    try:
        if action == "diagnose":
            services.ticket_diagnose(
                ticket=ticket,
                diagnosis=p.get("diagnosis", ""),
                user=user,
                rma_reference=p.get("rma_reference"),
            )
        elif action == "swap-part":
            services.ticket_swap_part(
                ticket=ticket,
                removed=p.get("removed", ""),
                installed=p.get("installed", ""),
                user=user,
            )
        elif action == "test":
            services.ticket_test(
                ticket=ticket,
                user=user,
                measurements=_measurements(request),
                attachment=_upload(request),
                result=p.get("result") or None,
            )
        elif action == "resolve":
            services.ticket_resolve(ticket=ticket, resolution=p.get("resolution", ""), user=user)
        elif action == "close":
            services.ticket_close(ticket=ticket, user=user, note=p.get("note", ""))
        else:
            raise NotFound(_("No such ticket action: %(action)s") % {"action": action})
    except NotFound:
        raise
    except MedtraceError as exc:
        return _ticket_page(
            request, pk, errors=_errors(exc, ACTION_FIELDS), status=exc.status, action=action
        )
    messages.success(request, _("%(number)s: done.") % {"number": ticket.number})
    return redirect("service:ticket", pk=pk)


# Scrap -----------------------------------------------------------------------------------------


def _scans(request: HttpRequest) -> list[str]:
    raw = [s.strip() for s in request.GET.getlist("scans") if s.strip()]
    new = request.GET.get("scan", "").strip()
    if new and new not in raw:
        raw.append(new)
    return raw


SCRAP_FIELDS = ("units", "reason", "method", "password", "scrapped_at")


@page(common.PERM_SCRAP)
@require_http_methods(["GET", "POST"])
def scrap(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        scans = [s for s in request.POST.getlist("units") if s.strip()]
        try:
            record = services.scrap_create(
                units=scans,
                reason=request.POST.get("reason", ""),
                method=request.POST.get("method", ""),
                user=user,
                password=request.POST.get("password", ""),
            )
        except MedtraceError as exc:
            errors, status = _errors(exc, SCRAP_FIELDS), exc.status
        else:
            messages.success(
                request,
                _("%(number)s signed: %(n)d units scrapped.")
                % {"number": record.number, "n": record.items.count()},
            )
            return redirect("service:scrap_detail", pk=record.pk)
    else:
        scans = _scans(request)
    scanned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for text in scans:
        try:
            state = common.resolve_unit(text, user=user, field="scan")
            if state.epc in seen:
                continue  # the same unit scanned again, or in another form
            seen.add(state.epc)
            scanned.append(
                {
                    "scan": text,
                    "epc": state.epc,
                    "serial": state.serial,
                    "disposition": state.disposition,
                    "error": "",
                }
            )
        except MedtraceError as exc:
            scanned.append(
                {"scan": text, "epc": "", "serial": "", "disposition": "", "error": exc.message}
            )
    context = {
        "scanned": scanned,
        "raw": scans,
        "methods": ScrapMethod.choices,
        "post": request.POST if request.method == "POST" else {},
        "errors": errors,
        "records": selectors.scrap_list(user=user)[:20],
    }
    return render(request, "service/scrap.html", context, status=status)


@page(common.PERM_SCRAP_VIEW)
def scrap_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = selectors.scrap_get(user=_actor(request), pk=pk)
    context = {"record": record, "items": record.items.all(), "signatures": signatures_for(record)}
    return render(request, "service/scrap_detail.html", context)
