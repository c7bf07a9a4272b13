"""The unit page (GET /trace/?id=<a serialized unit>, DESIGN §11), its DataMatrix and the
attachments of its service records.

Every view resolves the identifier with the trace selectors first, so a partner login gets a 404
for a unit outside its custody, exactly as for an unknown one.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError
from medtrace.trace import selectors
from medtrace.trace.selectors import Target

from . import unit_page, unit_records
from .unit_symbol import symbol_svg


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def is_unit(target: Target) -> bool:
    """A serialized unit with a state: an SGTIN or HIBC serial the ledger commissioned."""
    return target.kind == "serial" and target.state is not None


def render_unit(
    request: HttpRequest, target: Target, context: dict[str, Any], *, include_history: bool
) -> HttpResponse:
    """The unit page; its composition is always read with history (removed parts are part of
    its life), ``include_history`` stays in the context for the links that keep it."""
    data = unit_page.unit_page(target=target, user=_user(request))
    context.update(target=target, **data)
    return render(request, "web/unit.html", context)


def _error(request: HttpRequest, ident: str, exc: MedtraceError) -> HttpResponse:
    context = {"scan_code": ident, "ident": ident, "error": exc.message}
    return render(request, "web/trace_error.html", context, status=exc.status)


@login_required
@require_GET
def unit_symbol(request: HttpRequest) -> HttpResponse:
    """The unit's UDI as a DataMatrix (SVG), cached by the browser: it never changes for a
    unit, except when its lot or expiry is corrected (the ETag follows the data)."""
    ident = request.GET.get("id", "").strip()
    user = _user(request)
    try:
        selectors.check_trace_access(user)
        target = selectors.resolve_target(ident, user=user, allow_class=False)
    except MedtraceError as exc:
        return _error(request, ident, exc)
    if not is_unit(target):
        raise Http404("not a serialized unit")
    udi = unit_page.label_udi(target)
    if udi is None:
        raise Http404("this unit has no valid UDI")
    etag = '"' + hashlib.sha256(udi.data.encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        try:
            svg = symbol_svg(udi.data, gs1=udi.gs1)
        except ValueError as exc:
            raise Http404(str(exc)) from exc
        response = HttpResponse(svg, content_type="image/svg+xml")
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def unit_attachment(request: HttpRequest, pk: int) -> HttpResponse:
    """A test report of one of the unit's maintenance visits or service tickets."""
    from medtrace.lifecycle.models import Attachment
    from medtrace.lifecycle.services import attachment_read

    ident = request.GET.get("id", "").strip()
    user = _user(request)
    if user is not None and user.party_id is not None:
        raise Http404("no such attachment")
    try:
        selectors.check_trace_access(user)
        target = selectors.resolve_target(ident, user=user, allow_class=False)
    except MedtraceError as exc:
        return _error(request, ident, exc)
    if pk not in unit_records.unit_attachments(target.epc):
        raise Http404("no such attachment of this unit")
    attachment = Attachment.objects.get(pk=pk)
    response = HttpResponse(attachment_read(attachment), content_type=attachment.content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(attachment.name)}"
    response["X-Content-SHA256"] = attachment.sha256
    return response
