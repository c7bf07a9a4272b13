"""Quality pages (/quality/): the QC desk, inspection entry for a scanner, nonconformances with
their signed disposition, holds and quarantine, and the e-signed release.

Thin: each view parses the form, calls one service or selector and renders. Errors come back
as ``MedtraceError`` and are shown next to their field with the service's message. Scans build
up in the URL (``?scans=...``) so a keyboard-wedge scanner only ever types into one autofocused
input and presses Enter; no script is needed.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.errors import MedtraceError, PermissionDenied
from medtrace.exports import lists
from medtrace.exports.tabular import wants_export
from medtrace.masterdata.models import Location, Party, PartyRole

from . import selectors, services
from .models import HoldKind, NcCategory, NcDisposition, NcStatus
from .views_common import actor, scans_of, staff_page


@staff_page("quality.view_nonconformance")
def home(request: HttpRequest) -> HttpResponse:
    unclosed = selectors.nc_list(status="unclosed")
    holds = selectors.hold_list(active=True)
    waiting = selectors.awaiting(limit=25)
    context = {
        "ncs": selectors.nc_rows(unclosed[:25]),
        "nc_count": unclosed.count(),
        "holds": [selectors.hold_row(h) for h in holds[:25]],
        "hold_count": holds.count(),
        "awaiting_inspection": waiting["inspection"],
        "awaiting_release": waiting["release"],
        "results": selectors.recent_results(limit=10),
    }
    return render(request, "quality/home.html", context)


# Nonconformances -----------------------------------------------------------------------------


@staff_page("quality.view_nonconformance")
@require_http_methods(["GET", "POST"])
def nc_list(request: HttpRequest) -> HttpResponse:
    status_filter = request.GET.get("status", "unclosed")
    error: MedtraceError | None = None
    form = {"targets": "", "title": "", "description": "", "category": "product", "hold": True}
    status = 200
    if request.method == "POST":
        form = {
            "targets": request.POST.get("targets", ""),
            "title": request.POST.get("title", ""),
            "description": request.POST.get("description", ""),
            "category": request.POST.get("category", "product"),
            "hold": request.POST.get("hold") == "on",
        }
        try:
            targets = services.scan_targets(str(form["targets"]).splitlines())
            nc = services.nonconformance_open(
                targets=targets,
                title=str(form["title"]),
                description=str(form["description"]),
                category=str(form["category"]),
                user=actor(request),
                hold=bool(form["hold"]),
            )
        except MedtraceError as exc:
            error, status = exc, exc.status
        else:
            messages.success(request, _("%(number)s opened.") % {"number": nc.number})
            return redirect("quality:nc_detail", pk=nc.pk)
    qs = selectors.nc_list(status=status_filter if status_filter != "all" else None)
    if request.method == "GET" and wants_export(request):
        return lists.respond(request, "nonconformances", qs)
    context = {
        "rows": selectors.nc_rows(qs[:200]),
        "status_filter": status_filter,
        "statuses": [("unclosed", _("Not closed")), *NcStatus.choices, ("all", _("All"))],
        "categories": NcCategory.choices,
        "form": form,
        "error": error,
        "can_open": actor(request).has_perm("quality.add_nonconformance"),
    }
    return render(request, "quality/nc_list.html", context, status=status)


@staff_page("quality.view_nonconformance")
@require_http_methods(["GET", "POST"])
def nc_detail(request: HttpRequest, pk: int) -> HttpResponse:
    nc = selectors.nc_get(pk)
    user = actor(request)
    error: MedtraceError | None = None
    status = 200
    form = {"disposition": "", "reason": "", "supplier_id": "", "note": ""}
    if request.method == "POST":
        step = request.POST.get("step")
        form.update({k: request.POST.get(k, "") for k in form})
        try:
            if step == "disposition":
                supplier = None
                if form["supplier_id"]:
                    supplier = Party.objects.filter(pk=form["supplier_id"]).first()
                services.nonconformance_disposition(
                    nc=nc,
                    disposition=form["disposition"],
                    reason=form["reason"],
                    user=user,
                    password=request.POST.get("password", ""),
                    supplier=supplier,
                )
                messages.success(request, _("Disposition signed."))
            elif step == "close":
                services.nonconformance_close(nc=nc, user=user, note=form["note"])
                messages.success(request, _("Nonconformance closed."))
            else:
                raise PermissionDenied("Unknown step")
        except MedtraceError as exc:
            error, status = exc, exc.status
        else:
            return redirect("quality:nc_detail", pk=nc.pk)
    (row,) = selectors.nc_rows([selectors.nc_get(pk)], detail=True)
    context = {
        "nc": row,
        "dispositions": NcDisposition.choices,
        "suppliers": Party.objects.filter(role=PartyRole.SUPPLIER, active=True).order_by("name"),
        "can_disposition": user.has_perm("quality.change_nonconformance"),
        "can_concede": user.has_perm("quality.approve_concession"),
        "inspections": selectors.inspections_for(row["targets"]) if row["targets"] else [],
        "form": form,
        "error": error,
    }
    return render(request, "quality/nc_detail.html", context, status=status)


# Holds ---------------------------------------------------------------------------------------


@staff_page("quality.view_hold")
@require_http_methods(["GET", "POST"])
def holds(request: HttpRequest) -> HttpResponse:
    """Open holds; scan units or lots (Enter after each) and hold or quarantine them."""
    user = actor(request)
    targets, scan_errors, raw = scans_of(request)
    error: MedtraceError | None = None
    status = 200
    if request.method == "POST":
        location = None
        if request.POST.get("location_id"):
            location = Location.objects.filter(pk=request.POST["location_id"]).first()
        try:
            placed = services.hold_place(
                targets=services.scan_targets(request.POST.getlist("targets")),
                kind=request.POST.get("kind", HoldKind.HOLD),
                reason=request.POST.get("reason", ""),
                user=user,
                biz_location=location.sgln if location else None,
            )
        except MedtraceError as exc:
            error, status = exc, exc.status
            targets = request.POST.getlist("targets")
        else:
            numbers = ", ".join(h.number for h in placed)
            messages.success(request, _("Placed: %(numbers)s") % {"numbers": numbers})
            return redirect("quality:holds")
    show = request.GET.get("show", "open")
    qs = selectors.hold_list(active=None if show == "all" else True)
    if request.method == "GET" and wants_export(request):
        return lists.respond(request, "holds", qs)
    context = {
        "rows": [selectors.hold_row(h) for h in qs[:200]],
        "show": show,
        "scanned": targets,
        "raw": raw,
        "scan_errors": scan_errors,
        "kinds": [(k, v) for k, v in HoldKind.choices if k != HoldKind.RECALL],
        "locations": Location.objects.filter(active=True, party__role=PartyRole.MANUFACTURER),
        "can_hold": user.has_perm("quality.add_hold"),
        "can_lift": user.has_perm("quality.change_hold"),
        "error": error,
        "post": request.POST if request.method == "POST" else {},
    }
    return render(request, "quality/holds.html", context, status=status)


@staff_page("quality.view_hold")
@require_POST
def hold_lift(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        hold = services.hold_lift(
            hold=selectors.hold_get(pk), user=actor(request), reason=request.POST.get("reason", "")
        )
    except PermissionDenied as exc:
        return render(request, "web/forbidden.html", {"message": exc.message}, status=403)
    except MedtraceError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("quality:holds") + "?show=all")
    messages.success(request, _("%(number)s lifted.") % {"number": hold.number})
    return redirect("quality:holds")


# Release -------------------------------------------------------------------------------------


@staff_page("quality.view_release")
@require_http_methods(["GET", "POST"])
def release(request: HttpRequest) -> HttpResponse:
    """Scan units or lots (Enter after each), then sign the release with your password."""
    user = actor(request)
    targets, scan_errors, raw = scans_of(request)
    error: MedtraceError | None = None
    status = 200
    if request.method == "POST":
        targets = request.POST.getlist("targets")
        try:
            done = services.release_create(
                targets=services.scan_targets(targets),
                user=user,
                password=request.POST.get("password", ""),
                note=request.POST.get("note", ""),
            )
        except MedtraceError as exc:
            error, status = exc, exc.status
        else:
            messages.success(
                request, _("%(number)s released and signed.") % {"number": done.number}
            )
            return redirect("quality:release")
    context = {
        "scanned": targets,
        "raw": raw,
        "scan_errors": scan_errors,
        "blockers": selectors.release_blockers(
            [t for t in targets if not services.is_lot_class(t)],
            [t for t in targets if services.is_lot_class(t)],
        )
        if targets and request.method == "GET"
        else [],
        "releases": selectors.release_rows(selectors.release_list()[:20]),
        "can_release": user.has_perm("quality.add_release"),
        "error": error,
    }
    return render(request, "quality/release.html", context, status=status)
