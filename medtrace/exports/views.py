"""The exports page (/exports/): what can be exported, with download links and, for staff, how
complete each UDI database's data is. Thin: it reads the selectors and the DI engine; the
downloads themselves are the API endpoints (a signed-in browser may call them)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import PermissionDenied
from medtrace.masterdata.models import Party, PartyRole
from medtrace.trace.selectors import check_trace_access

from . import documents, selectors

_PROBLEMS_SHOWN = 100


def _di_formats(user: User) -> list[dict[str, Any]]:
    products = selectors.di_products(user=user)
    out = []
    for fmt in documents.FORMATS.values():
        export = documents.di_export(fmt, products)
        document = export.document()["report"]
        out.append(
            {
                "name": fmt.name,
                "title": fmt.title,
                "standard": fmt.standard,
                "count": len(export.records),
                "complete": document["complete"],
                "incomplete": document["incomplete"],
                "not_kept": document["not_in_master_data"],
                "problems": document["problems"][:_PROBLEMS_SHOWN],
                "more": max(0, len(document["problems"]) - _PROBLEMS_SHOWN),
                "json_url": f"/api/v1/exports/{fmt.name}",
                "xlsx_url": f"/api/v1/exports/{fmt.name}?format=xlsx",
            }
        )
    return out


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    try:
        check_trace_access(user)
    except PermissionDenied as exc:
        return render(request, "web/forbidden.html", {"message": exc.message}, status=403)
    partner = scoping.is_partner(user)
    formats: list[dict[str, Any]] = []
    if not partner:
        try:
            formats = _di_formats(user)
        except PermissionDenied:
            formats = []
    holders: list[Party] = []
    if partner:
        assert user.party is not None
        holders = [user.party]
    else:
        holders = list(
            Party.objects.filter(role__in=[PartyRole.HOSPITAL, PartyRole.DISTRIBUTOR], active=True)
            .exclude(gln="")
            .order_by("name")
        )
    context = {
        "formats": formats,
        "partner": partner,
        "holders": holders,
        "fhir_url": "/api/v1/fhir/Device",
    }
    return render(request, "exports/index.html", context)
