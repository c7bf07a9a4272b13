"""Trace endpoints (DESIGN §7): thin wrappers over the selectors.

``id`` takes any identifier form (DESIGN §5), URL-encoded: EPC URN, GS1 Digital Link, bracketed
element string, raw scan, HIBC, or the bare serial of a known unit.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from medtrace.accounts.models import User
from medtrace.api import require_scope

from . import kpi_series as kpi_series_selectors
from . import kpis as kpi_selectors
from . import rendering, selectors
from .schemas import BackwardOut, ForwardOut, TimelineOut

router = Router(tags=["trace"])

SCOPE = "trace:read"
KPI_SCOPE = "kpis:read"


def _user(request: HttpRequest) -> User:
    require_scope(request, SCOPE)
    # Every route is authenticated (session or bearer token), so this is a real user.
    assert isinstance(request.user, User)
    return request.user


def _json(body: str) -> HttpResponse:
    # The same bytes as `medtrace trace ... --json` (rendering.py); the response schemas
    # document the shapes in the OpenAPI document.
    return HttpResponse(body, content_type="application/json; charset=utf-8")


@router.get("/units/{path:id}/timeline", response=TimelineOut, url_name="unit_timeline")
def unit_timeline(request: HttpRequest, id: str) -> HttpResponse:
    """Every event touching the unit, oldest first, each with its lifecycle phase; also the
    events of the containers it was in (while inside), of the parts installed into it (while
    installed) and the TransactionEvents of the same business documents."""
    return _json(rendering.timeline_json(selectors.unit_timeline(id=id, user=_user(request))))


@router.get("/trace/backward", response=BackwardOut, url_name="trace_backward")
def trace_backward(request: HttpRequest, id: str, include_history: bool = False) -> HttpResponse:
    """What a unit is made of, as a tree (transformation and installed parts), with supplier,
    inspections and certificates per node; a container's contents as a flat list.
    include_history adds parts removed since, with valid_from/valid_to."""
    data = selectors.trace_backward(id=id, user=_user(request), include_history=include_history)
    return _json(rendering.backward_json(data))


@router.get("/trace/forward", response=ForwardOut, url_name="trace_forward")
def trace_forward(request: HttpRequest, id: str, include_history: bool = False) -> HttpResponse:
    """Recall impact: every unit made from the start object, containing it now (nested), or
    packed inside it now, with its holder; count and a summary by holder. include_history adds
    units that once contained it (current=false)."""
    result = selectors.trace_forward(id=id, user=_user(request), include_history=include_history)
    return _json(rendering.forward_json(result))


@router.get("/kpis", url_name="kpis", tags=["kpis"])
def kpis(
    request: HttpRequest,
    from_: Annotated[date | None, Query(alias="from", description="first day (YYYY-MM-DD)")] = None,
    to: Annotated[date | None, Query(description="last day (YYYY-MM-DD); default today")] = None,
) -> dict[str, Any]:
    """After-sales and recall KPIs of a period (default: the last 365 days), each with a monthly
    series: recall response time (complaint -> decision -> all notified -> all acknowledged),
    after-sales handling time, complaint closure time and the signal false-alarm rate. The
    definitions are in the README ("KPIs"). Internal staff only."""
    require_scope(request, KPI_SCOPE)
    assert isinstance(request.user, User)
    return kpi_selectors.kpis(user=request.user, start=from_, end=to)


@router.get("/kpis/series", url_name="kpi_series", tags=["kpis"])
def kpi_series(
    request: HttpRequest,
    from_: Annotated[date | None, Query(alias="from", description="first day (YYYY-MM-DD)")] = None,
    to: Annotated[date | None, Query(description="last day (YYYY-MM-DD); default today")] = None,
    granularity: Annotated[
        Literal["week", "month"], Query(description="ISO weeks or calendar months")
    ] = "month",
) -> dict[str, Any]:
    """Every KPI per week or month of a period (default: the last 365 days, by month), as the
    KPI dashboard charts them: trace-data completeness, serial-binding accuracy, recall
    response time, after-sales handling time, alert false-alarm rate and the audit chain's
    status. Definitions in the README ("KPIs"). Internal staff only."""
    require_scope(request, KPI_SCOPE)
    assert isinstance(request.user, User)
    return kpi_series_selectors.kpi_series(
        user=request.user, start=from_, end=to, granularity=granularity
    )
