"""Recall notice pages: staff record a consignee's answer on its behalf (a phone call, an e-mail
reply) at /recalls/notices/<number>/; distributors' and hospitals' users answer their own
notices in the portal (/recalls/portal/).

One page serves both: the notice, its units, the acknowledgement and the disposition of each
unit (a row form for many units, or scan a unit's UDI in any form and Enter to set it quickly).
A consignee's user sees only its own real notices once sent; another party's notice, a drill's
or a draft is "not found" (404).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound

from . import common, responses
from .models import NoticeStatus, RecallNotice, UnitStatus
from .views_common import actor, countdown, errors_of, portal_page, staff_page

UNITS_PER_PAGE = 100
NOTICE_FIELDS = ("note", "items", "unit", "status", "scan", "form")
DISPOSITIONS = [c for c in UnitStatus.choices if c[0] != UnitStatus.PENDING]


def _portal_notice(number: str, user: User) -> RecallNotice:
    notice = common.notice_get(number=number, user=user)
    if notice.status == NoticeStatus.DRAFT:
        # Not sent yet: the consignee has not been told, so there is nothing to see.
        raise NotFound(_("No recall notice %(number)s") % {"number": number}, field="number")
    return notice


def _notice_page(
    request: HttpRequest,
    notice: RecallNotice,
    *,
    portal: bool,
    errors: dict[str, Any] | None = None,
    row_errors: dict[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = actor(request)
    units = notice.units.select_related("product", "rma").order_by("status", "serial", "epc")
    show = request.GET.get("show", "")
    if show == "pending":
        units = units.filter(status=UnitStatus.PENDING)
    page = Paginator(units, UNITS_PER_PAGE).get_page(request.GET.get("page"))
    counts = dict(notice.units.values_list("status").annotate(n=Count("pk")).order_by())
    is_open = notice.campaign.status == "open" and notice.status != NoticeStatus.DRAFT
    if portal:
        may_ack = may_report = is_open
    else:
        may_ack = is_open and user.has_perm(common.PERM_NOTICE)
        may_report = is_open and user.has_perm(common.PERM_REPORT)
    post = request.POST if request.method == "POST" else {}
    context = {
        "n": notice,
        "campaign": notice.campaign,
        "portal": portal,
        "units": page,
        "show": show,
        "counts": [(value, label, counts.get(value, 0)) for value, label in UnitStatus.choices],
        "pending": counts.get(UnitStatus.PENDING, 0),
        "clock": countdown(notice.deadline_at, done=notice.sent_at, now=timezone.now()),
        "deliveries": [] if portal else notice.deliveries.order_by("id"),
        "may_ack": may_ack and notice.acknowledged_at is None,
        "may_report": may_report,
        "dispositions": DISPOSITIONS,
        "scan_status": post.get("scan_status") or request.GET.get("scan_status", ""),
        "errors": errors or {},
        "row_errors": row_errors or {},
        "post": post,
        "self_url": request.path,
    }
    return render(request, "recalls/notice.html", context, status=status)


def _report_rows(
    request: HttpRequest, notice: RecallNotice
) -> tuple[list[dict[str, str]], list[int]]:
    """The disposition rows the form filled in (a status chosen), in page order, and the unit
    ids they belong to (so an ``items[i]`` error lands on its row)."""
    items: list[dict[str, str]] = []
    ids: list[int] = []
    wanted = {
        int(key[len("status_") :]): str(value)
        for key, value in request.POST.items()
        if key.startswith("status_") and key[len("status_") :].isdigit() and value
    }
    if not wanted:
        return [], []
    epcs = dict(notice.units.filter(pk__in=list(wanted)).values_list("pk", "epc"))
    for pk in request.POST.getlist("row"):
        if not pk.isdigit() or int(pk) not in wanted:
            continue
        unit_id = int(pk)
        items.append(
            {
                "unit": str(epcs.get(unit_id, pk)),
                "status": wanted[unit_id],
                "note": request.POST.get(f"note_{unit_id}", "").strip(),
            }
        )
        ids.append(unit_id)
    return items, ids


def _notice_post(request: HttpRequest, notice: RecallNotice, *, portal: bool) -> HttpResponse:
    user = actor(request)
    action = request.POST.get("action", "")
    back = request.path
    row_errors: dict[int, str] = {}
    try:
        if action == "acknowledge":
            responses.notice_acknowledge(
                notice=notice, user=user, note=request.POST.get("note", "")
            )
            message = _("%(number)s acknowledged.") % {"number": notice.number}
        elif action == "report":
            items, ids = _report_rows(request, notice)
            if not items:
                raise common.invalid(
                    "items", _("choose what became of at least one unit"), "required"
                )
            try:
                done = responses.unit_dispositions_report(notice=notice, items=items, user=user)
            except MedtraceError as exc:
                found = errors_of(exc, NOTICE_FIELDS).get("items_items", {})
                row_errors = {ids[i]: m for i, m in found.items() if i < len(ids)}
                raise
            message = _("%(number)s: %(n)s units reported.") % {
                "number": notice.number,
                "n": len(done),
            }
        elif action == "scan":
            scan = request.POST.get("scan", "").strip()
            disposition = request.POST.get("scan_status", "")
            if not scan:
                raise common.invalid("scan", _("scan or type the unit's UDI"), "required")
            (unit,) = responses.unit_dispositions_report(
                notice=notice,
                items=[
                    {
                        "unit": scan,
                        "status": disposition,
                        "note": request.POST.get("scan_note", "").strip(),
                    }
                ],
                user=user,
            )
            message = _("%(unit)s: %(status)s.") % {
                "unit": unit.serial or unit.epc,
                "status": unit.get_status_display(),
            }
            back += f"?scan_status={disposition}"
        else:
            raise NotFound(_("No such notice action: %(action)s") % {"action": action})
    except NotFound:
        raise
    except MedtraceError as exc:
        errors = errors_of(exc, NOTICE_FIELDS)
        if action == "scan":
            # "items[0].unit: ... is not on this notice": the scan box is the item.
            errors = {"scan": errors.get("items_items", {}).get(0) or exc.message}
        notice.refresh_from_db()
        return _notice_page(
            request,
            notice,
            portal=portal,
            errors={action: errors},
            row_errors=row_errors,
            status=exc.status,
        )
    messages.success(request, message)
    return redirect(back)


@staff_page(common.PERM_NOTICE_VIEW)
@require_http_methods(["GET", "POST"])
def notice_detail(request: HttpRequest, number: str) -> HttpResponse:
    notice = common.notice_get(number=number, user=actor(request))
    if request.method == "POST":
        return _notice_post(request, notice, portal=False)
    return _notice_page(request, notice, portal=False)


# The partner portal ----------------------------------------------------------------------------


@portal_page
def portal(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    show = request.GET.get("show", "open")
    qs = (
        common.notices_visible(user)
        .exclude(status=NoticeStatus.DRAFT)
        .annotate(pending=Count("units", filter=Q(units__status=UnitStatus.PENDING)))
        .order_by("-sent_at", "-id")
    )
    if show != "all":
        qs = qs.exclude(status=NoticeStatus.RESOLVED)
    return render(request, "recalls/portal.html", {"rows": list(qs[:200]), "show": show})


@portal_page
@require_http_methods(["GET", "POST"])
def portal_notice(request: HttpRequest, number: str) -> HttpResponse:
    notice = _portal_notice(number, actor(request))
    if request.method == "POST":
        return _notice_post(request, notice, portal=True)
    return _notice_page(request, notice, portal=True)


def notice_url(notice: RecallNotice, *, portal: bool) -> str:
    name = "recalls:portal_notice" if portal else "recalls:notice"
    return reverse(name, args=[notice.number])
