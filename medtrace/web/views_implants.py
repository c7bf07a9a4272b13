"""Implant records page: masked list, search by patient ID number, audited reveal (DESIGN §8).

Revealed values are rendered only into the answer to the reveal form (never into a URL, a
redirect or a cache): the response is marked ``no-store``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError
from medtrace.exports import lists
from medtrace.exports.tabular import wants_export
from medtrace.service import selectors, services

_LIMIT = 200


def _render(
    request: HttpRequest,
    user: User,
    *,
    unit: str = "",
    patient_id_number: str = "",
    revealed: dict[str, Any] | None = None,
    error: MedtraceError | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "unit": unit,
        "searched_id": bool(patient_id_number),
        "revealed": revealed,
        "can_reveal": user.party_id is None and user.has_perm(services.PERM_REVEAL),
        "error": error.message if error else None,
    }
    try:
        records = selectors.implant_list(
            user=user, unit=unit or None, patient_id_number=patient_id_number or None
        )
        context["records"] = list(records[:_LIMIT])
        context["truncated"] = len(context["records"]) == _LIMIT
    except MedtraceError as exc:
        context.update(records=[], error=exc.message)
        status = exc.status
    return render(request, "web/implant_list.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def implant_list(request: HttpRequest) -> HttpResponse:
    """GET lists (optionally of one unit); POST searches by patient ID number (kept out of the
    URL, so it stays out of access logs and history)."""
    assert isinstance(request.user, User)
    unit = request.GET.get("unit", "").strip()
    if request.method == "GET" and wants_export(request):
        # The unit, hospital, date and department; never the patient (exports/lists.py).
        try:
            records = selectors.implant_list(user=request.user, unit=unit or None)
        except MedtraceError as exc:
            return _render(request, request.user, unit=unit, error=exc, status=exc.status)
        return lists.respond(request, "implant-records", records)
    patient_id = (
        request.POST.get("patient_id_number", "").strip() if request.method == "POST" else ""
    )
    return _render(request, request.user, unit=unit, patient_id_number=patient_id)


@login_required
@never_cache
@require_POST
def implant_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    assert isinstance(request.user, User)
    user = request.user
    try:
        record = selectors.implant_get(user=user, pk=pk)
        revealed = services.implant_reveal(
            record=record, user=user, reason=request.POST.get("reason", "")
        )
    except MedtraceError as exc:
        return _render(request, user, error=exc, status=exc.status)
    return _render(request, user, revealed=revealed)
