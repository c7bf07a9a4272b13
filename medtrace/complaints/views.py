"""Complaint pages (/complaints/): list, intake (with a UDI scan field), detail with the
investigation, decision, CAPA link, signed closure and the adverse-event panel; adverse events;
signal rules and signals. A hospital's own staff report complaints and see their hospital's.

Thin: each view parses the form, calls one service or selector and renders. A service error is
shown next to its field (the UDI field shows the parser's own message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound
from medtrace.exports import lists
from medtrace.exports.tabular import wants_export
from medtrace.masterdata.models import Party, PartyRole
from medtrace.web.pages import View, form_errors, staff_or_hospital_page

from . import common, selectors, services
from .models import ComplaintStatus, Jurisdiction, Severity, SignalDimension, SignalStatus

_LIMIT = 200


def page(perm: str, *, hospitals: bool = False) -> Callable[[View], View]:
    """Signed-in staff with ``perm``; hospital partners too when ``hospitals``."""
    return staff_or_hospital_page(
        perm,
        hospitals=hospitals,
        forbidden=lambda: _("Complaint pages are for our staff and hospital staff."),
    )


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


_errors = form_errors


# List and intake -------------------------------------------------------------------------------


@page(common.PERM_VIEW, hospitals=True)
def complaint_list(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    status = request.GET.get("status", "").strip()
    q = request.GET.get("q", "").strip()
    if status not in ComplaintStatus.values:
        status = ""
    qs = selectors.complaint_list(user=user, status=status or None, q=q or None)
    if wants_export(request):
        return lists.respond(request, "complaints", qs)
    context = {
        "rows": list(qs[:_LIMIT]),
        "count": qs.count(),
        "status": status,
        "q": q,
        "statuses": ComplaintStatus.choices,
        "is_partner": common.is_partner(user),
    }
    return render(request, "complaints/list.html", context)


INTAKE_FIELDS = (
    "udi",
    "description",
    "received_at",
    "event_date",
    "complainant_party_id",
    "complainant_name",
    "complainant_contact",
    "injury",
    "death",
)


@page(common.PERM_INTAKE, hospitals=True)
@require_http_methods(["GET", "POST"])
def complaint_new(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    form = {name: request.POST.get(name, "").strip() for name in INTAKE_FIELDS}
    if request.method == "GET":
        form["udi"] = request.GET.get("udi", "").strip()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            done = services.complaint_create(
                udi=form["udi"],
                description=form["description"],
                received_at=form["received_at"] or None,
                event_date=form["event_date"] or None,
                complainant_party_id=form["complainant_party_id"] or None,
                complainant_name=form["complainant_name"],
                complainant_contact=form["complainant_contact"],
                injury=bool(form["injury"]),
                death=bool(form["death"]),
                channel="ui",
                user=user,
            )
        except MedtraceError as exc:
            errors, status = _errors(exc, INTAKE_FIELDS), exc.status
        else:
            complaint = done.complaint
            messages.success(request, _("%(number)s recorded.") % {"number": complaint.number})
            for warning in done.warnings:
                messages.warning(request, warning)
            if done.signals and not common.is_partner(user):
                messages.warning(
                    request, _("This complaint is part of a complaint signal; QA has been alerted.")
                )
            return redirect("complaints:detail", number=complaint.number)
    parties: list[Party] = []
    if not common.is_partner(user):
        parties = list(
            Party.objects.filter(
                active=True, role__in=[PartyRole.HOSPITAL, PartyRole.DISTRIBUTOR]
            ).order_by("name")
        )
    context = {"form": form, "errors": errors, "parties": parties}
    return render(request, "complaints/new.html", context, status=status)


# Detail and its actions ------------------------------------------------------------------------


def _detail_context(user: User, number: str) -> dict[str, Any]:
    complaint = selectors.complaint_get(user=user, number=number)
    view = selectors.complaint_view(complaint, user=user)
    partner = common.is_partner(user)
    manage = not partner and user.has_perm(common.PERM_MANAGE)
    open_ = not complaint.is_closed
    return {
        "c": complaint,
        "v": view,
        "is_partner": partner,
        "backward": None if partner else selectors.backward_summary(complaint, user=user),
        "can": {
            "investigate": manage and open_,
            "decide": manage and open_,
            "capa": manage and open_,
            "close": manage and open_,
            "adverse_event": (
                not partner
                and user.has_perm(common.PERM_AE)
                and open_
                and view["adverse_event"] is None
                and complaint.reportable is not False
            ),
            "report": not partner and user.has_perm(common.PERM_AE_CHANGE),
        },
        "severities": Severity.choices,
        "jurisdictions": Jurisdiction.choices,
    }


@page(common.PERM_VIEW, hospitals=True)
def complaint_detail(request: HttpRequest, number: str) -> HttpResponse:
    context = _detail_context(_actor(request), number)
    context.update({"errors": {}, "post": {}, "action": ""})
    return render(request, "complaints/detail.html", context)


ACTIONS = ("investigate", "decide", "capa", "close", "adverse-event", "report")
ACTION_FIELDS = (
    "entry",
    "findings",
    "udi",
    "investigation_summary",
    "root_cause",
    "reportable",
    "justification",
    "severity",
    "jurisdictions",
    "capa_reference",
    "nonconformance",
    "password",
    "summary",
    "reference",
    "reported_at",
    "key",
)


def _ae_options(post: Any) -> dict[str, Any]:
    return {
        "severity": post.get("severity") or None,
        "jurisdictions": post.getlist("jurisdictions") or None,
        "group_event": bool(post.get("group_event")),
        "public_health_threat": bool(post.get("public_health_threat")),
        "five_day": bool(post.get("five_day")),
    }


def _run(action: str, user: User, number: str, post: Any) -> str:
    """Run one action; return the success message."""
    complaint = selectors.complaint_get(user=user, number=number)
    if action == "investigate":
        services.complaint_investigate(
            complaint=complaint,
            entry=post.get("entry", ""),
            findings=post.get("findings", ""),
            udi=post.get("udi") or None,
            investigation_summary=post.get("investigation_summary") or None,
            root_cause=post.get("root_cause") or None,
            user=user,
        )
        return _("Investigation entry recorded.")
    if action == "decide":
        done = services.complaint_decide(
            complaint=complaint,
            reportable=post.get("reportable", ""),
            justification=post.get("justification", ""),
            user=user,
            **_ae_options(post),
        )
        if done.adverse_event is not None:
            return _("Decided reportable; adverse event %(number)s created.") % {
                "number": done.adverse_event.number
            }
        return _("Reportability decided.")
    if action == "capa":
        services.complaint_link_capa(
            complaint=complaint,
            capa_reference=post.get("capa_reference", ""),
            nonconformance=post.get("nonconformance") or None,
            open_nonconformance=bool(post.get("open_nonconformance")),
            user=user,
        )
        return _("CAPA link saved.")
    if action == "close":
        services.complaint_close(
            complaint=complaint,
            password=post.get("password", ""),
            summary=post.get("summary", ""),
            user=user,
        )
        return _("%(number)s closed and signed.") % {"number": complaint.number}
    if action == "adverse-event":
        ae = services.adverse_event_create(complaint=complaint, user=user, **_ae_options(post))
        return _("Adverse event %(number)s created.") % {"number": ae.number}
    ae = selectors.adverse_event_get(user=user, number=post.get("adverse_event", ""))
    if ae.complaint_id != complaint.pk:
        raise NotFound(f"{complaint.number} has no adverse event {ae.number}")
    services.adverse_event_report(
        adverse_event=ae,
        key=post.get("key", ""),
        reference=post.get("reference", ""),
        reported_at=post.get("reported_at") or None,
        user=user,
    )
    return _("Submission recorded.")


@page(common.PERM_MANAGE)
@require_POST
def complaint_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(action)
    user = _actor(request)
    try:
        message = _run(action, user, number, request.POST)
    except NotFound:
        raise
    except MedtraceError as exc:
        context = _detail_context(user, number)
        post = {k: v for k, v in request.POST.items() if k != "password"}
        context.update({"errors": _errors(exc, ACTION_FIELDS), "post": post, "action": action})
        return render(request, "complaints/detail.html", context, status=exc.status)
    messages.success(request, message)
    return redirect("complaints:detail", number=number)


# Adverse events, signals -----------------------------------------------------------------------


@page(common.PERM_AE_VIEW)
def adverse_event_list(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    overdue = request.GET.get("overdue") == "1"
    if wants_export(request):
        found = selectors.adverse_event_list(user=user, overdue=overdue or None)
        return lists.respond(request, "adverse-events", found)
    rows = [
        selectors.adverse_event_view(ae)
        for ae in selectors.adverse_event_list(user=user, overdue=overdue or None)[:_LIMIT]
    ]
    return render(request, "complaints/adverse_events.html", {"rows": rows, "overdue": overdue})


@page(common.PERM_SIGNALS_VIEW)
@require_http_methods(["GET", "POST"])
def signals(request: HttpRequest) -> HttpResponse:
    """The signal rules (QA edits them here) and the signals they raised."""
    user = _actor(request)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        post = request.POST
        try:
            if post.get("rule"):
                rule = selectors.signal_rule_get(user=user, pk=int(post["rule"]))
                services.signal_rule_update(
                    rule=rule,
                    data={
                        "threshold": post.get("threshold", ""),
                        "window_days": post.get("window_days", ""),
                        "active": bool(post.get("active")),
                    },
                    user=user,
                    reason=post.get("reason", ""),
                )
            else:
                services.signal_rule_create(
                    dimension=post.get("dimension", ""),
                    threshold=post.get("threshold", ""),
                    window_days=post.get("window_days", ""),
                    user=user,
                )
        except (ValueError, MedtraceError) as exc:
            message = exc.message if isinstance(exc, MedtraceError) else str(exc)
            errors = {"form": message}
            status = exc.status if isinstance(exc, MedtraceError) else 422
        else:
            messages.success(request, _("Signal rule saved."))
            return redirect("complaints:signals")
    show = request.GET.get("status", SignalStatus.OPEN)
    rows = [
        selectors.signal_view(s)
        for s in selectors.signal_list(user=user, status=show or None)[:_LIMIT]
    ]
    context = {
        "rules": list(selectors.signal_rule_list(user=user)),
        "rows": rows,
        "show": show,
        "errors": errors,
        "dimensions": SignalDimension.choices,
        "can_edit": user.has_perm(common.PERM_RULES),
    }
    return render(request, "complaints/signals.html", context, status=status)
