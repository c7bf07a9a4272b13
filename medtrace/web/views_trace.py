"""Unit, lot and container pages: "scan a serial, see its whole life" (DESIGN §11)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError
from medtrace.trace import selectors
from medtrace.trace.kinds import is_class_level

from . import views_lot, views_unit


def _recall_url(user: User | None, target: selectors.Target) -> str:
    """ "Open a recall" of what the forward trace starts from, for those who may open one: a lot
    by the lot scope, a unit, part or case by the serials scope."""
    if user is None or user.party_id is not None or not user.has_perm("recalls.add_recallcampaign"):
        return ""
    kinds = {"lot": "lot", "serial": "serials", "hibc": "serials", "container": "serials"}
    if target.kind not in kinds:
        return ""
    return reverse("recalls:new") + "?" + urlencode({"kind": kinds[target.kind], "id": target.epc})


@login_required
def trace_page(request: HttpRequest) -> HttpResponse:
    ident = request.GET.get("id", "").strip()
    history = request.GET.get("include_history") == "true"
    user = request.user if isinstance(request.user, User) else None
    context: dict[str, Any] = {"scan_code": ident, "ident": ident, "include_history": history}
    try:
        target = selectors.resolve_target(ident, user=user)
        if views_unit.is_unit(target):
            return views_unit.render_unit(request, target, context, include_history=history)
        if target.kind == "container" or is_class_level(target.kind):
            # A lot or a case: its trace page (graph, units by holder, downloads).
            page = "container" if target.kind == "container" else "lot"
            return views_lot.impact_page(request, page)
        forward = selectors.trace_forward(id=target.epc, user=user, include_history=history)
        context.update(target=target, forward=forward, units=forward.units)
        context["recall_url"] = _recall_url(user, target)
        return render(request, "web/forward.html", context)
    except MedtraceError as exc:
        context["error"] = exc.message
        return render(request, "web/trace_error.html", context, status=exc.status)


@login_required
def certificate_page(request: HttpRequest) -> HttpResponse:
    """Issue the unit's traceability certificate and open it as PDF."""
    from django.utils import translation

    from medtrace.lifecycle.certificate import certificate_issue
    from medtrace.lifecycle.certificate_pdf import certificate_pdf

    ident = request.GET.get("id", "").strip()
    user = request.user if isinstance(request.user, User) else None
    try:
        cert = certificate_issue(id=ident, user=user)
    except MedtraceError as exc:
        context = {"scan_code": ident, "ident": ident, "error": exc.message}
        return render(request, "web/trace_error.html", context, status=exc.status)
    body = certificate_pdf(cert, language=translation.get_language() or "zh-hans")
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{cert.number}.pdf"'
    response["X-Certificate-SHA256"] = cert.sha256
    return response
