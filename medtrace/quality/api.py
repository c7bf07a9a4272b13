"""REST endpoints of the quality app (mounted at /api/v1/): inspection plans, inspection
results, nonconformances, holds and releases. Thin: they parse, call one service or selector,
and render. Reads need the ``lifecycle:read`` scope, writes ``quality:write``; the role's model
permissions decide the rest (partners: quality records are the maker's internal records)."""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import limit_query, offset_query
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Location, Party

from . import selectors, services
from .models import InspectionPlan
from .plans import characteristics_data
from .schemas import (
    HoldIn,
    HoldLiftIn,
    HoldOut,
    InspectionIn,
    InspectionOut,
    NcCloseIn,
    NcDispositionIn,
    NcIn,
    NcOut,
    PlanIn,
    PlanOut,
    PlanPatch,
    ReleaseIn,
    ReleaseOut,
)

router = Router(tags=["quality"])
READ, WRITE = "lifecycle:read", "quality:write"


class PlanPage(Schema):
    count: int
    items: list[PlanOut]


class InspectionPage(Schema):
    count: int
    items: list[InspectionOut]


class NcPage(Schema):
    count: int
    items: list[NcOut]


class HoldPage(Schema):
    count: int
    items: list[HoldOut]


class ReleasePage(Schema):
    count: int
    items: list[ReleaseOut]


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _reader(request: HttpRequest, model: str, *, detail: bool = False) -> User:
    require_scope(request, READ)
    user = _actor(request)
    if scoping.is_partner(user):
        if detail:  # a partner must not learn that the record exists
            raise NotFound("Not found")
        raise PermissionDenied("Quality records are the manufacturer's internal records")
    if not user.has_perm(f"quality.view_{model}"):
        raise PermissionDenied(f"Your role cannot view {model} records")
    return user


def _writer(request: HttpRequest) -> User:
    require_scope(request, WRITE)
    user = _actor(request)
    if scoping.is_partner(user):
        raise PermissionDenied("Quality records are written by the manufacturer's staff")
    return user


def _page(rows: list[Any], total: int) -> dict[str, Any]:
    return {"count": total, "items": rows}


def _window(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit: expected 1 to 500", field="limit")
    if offset < 0:
        raise ValidationFailed("offset: expected 0 or more", field="offset")
    return limit, offset


# Inspection plans ----------------------------------------------------------------------------


def _plan_out(plan: InspectionPlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "code": plan.code,
        "name": plan.name,
        "version": plan.version,
        "kind": plan.kind,
        "product_id": plan.product_id,
        "material_id": plan.material_id,
        "sampling": plan.sampling,
        "sample_size": plan.sample_size,
        "sample_percent": plan.sample_percent,
        "active": plan.active,
        "note": plan.note,
        "characteristics": characteristics_data(plan),
        "created_at": plan.created_at,
    }


@router.get("/inspection-plans", response=PlanPage)
def list_plans(
    request: HttpRequest,
    product_id: int | None = None,
    material_id: int | None = None,
    kind: str | None = None,
    active: bool | None = None,
    target: str | None = None,
    limit: int = limit_query(100, 500),
    offset: int = offset_query(),
) -> dict[str, Any]:
    """Plans, filtered; ``target`` (any UDI form) = the active plans that inspect it."""
    _reader(request, "inspectionplan")
    limit, offset = _window(limit, offset)
    if target:
        plans = selectors.plans_for_target(services.scan_target(target, field="target"))
        return _page([_plan_out(p) for p in plans], len(plans))
    qs = selectors.plan_list(
        product_id=product_id, material_id=material_id, kind=kind, active=active
    )
    return _page([_plan_out(p) for p in qs[offset : offset + limit]], qs.count())


@router.post("/inspection-plans", response={201: PlanOut})
def create_plan(request: HttpRequest, payload: PlanIn) -> Status:
    user = _writer(request)
    data = payload.model_dump()
    reason = data.pop("reason")
    plan = services.inspection_plan_create(data=data, user=user, reason=reason)
    return Status(201, _plan_out(selectors.plan_get(plan.pk)))


@router.get("/inspection-plans/{plan_id}", response=PlanOut)
def get_plan(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    _reader(request, "inspectionplan", detail=True)
    return _plan_out(selectors.plan_get(plan_id))


@router.patch("/inspection-plans/{plan_id}", response=PlanOut)
def patch_plan(request: HttpRequest, plan_id: int, payload: PlanPatch) -> dict[str, Any]:
    """Change a plan; ``reason`` (or the X-Change-Reason header) is required and audited."""
    user = _writer(request)
    plan = selectors.plan_get(plan_id)
    data = payload.model_dump(exclude_unset=True)
    reason = data.pop("reason", "")
    plan = services.inspection_plan_update(plan=plan, data=data, user=user, reason=reason)
    return _plan_out(selectors.plan_get(plan.pk))


# Inspection results --------------------------------------------------------------------------


def _result_out(number: str) -> dict[str, Any]:
    qs = selectors.results_queryset().filter(number=number)
    (row,) = selectors.result_rows(qs)
    nc = selectors.nc_list().filter(inspection__number=number).first()
    row["nonconformance"] = nc.number if nc else None
    return row


@router.post("/inspections", response={201: InspectionOut})
def create_inspection(request: HttpRequest, payload: InspectionIn) -> Status:
    """Record a result: measured values judged against the plan's limits (pass/fail); a
    failure opens a nonconformance with a QC hold."""
    user = _writer(request)
    plan = selectors.plan_get(payload.plan_id)
    target = services.scan_target(payload.target, field="target")
    samples = [s.model_dump() for s in payload.samples] if payload.samples is not None else None
    result = services.inspection_record(
        plan=plan,
        target=target,
        user=user,
        values=payload.values,
        samples=samples,
        lot_size=payload.lot_size,
        note=payload.note,
        password=payload.password,
    )
    return Status(201, _result_out(result.number))


@router.get("/inspections", response=InspectionPage)
def list_inspections(
    request: HttpRequest, target: str | None = None, limit: int = limit_query(50, 500)
) -> dict[str, Any]:
    """``target`` (any UDI form): every inspection of that unit (its own and its lot's) or lot;
    without it, the latest results."""
    _reader(request, "inspectionresult")
    limit, _offset = _window(limit, 0)
    if target:
        rows = selectors.inspections_for([services.scan_target(target, field="target")])
    else:
        rows = selectors.recent_results(limit=limit)
    for row in rows:
        row.setdefault("nonconformance", None)
    return _page(rows, len(rows))


# Nonconformances -----------------------------------------------------------------------------


def _nc_out(pk: int) -> dict[str, Any]:
    (row,) = selectors.nc_rows([selectors.nc_get(pk)], detail=True)
    return row


@router.get("/nonconformances", response=NcPage)
def list_nonconformances(
    request: HttpRequest,
    status: str | None = Query(None, description="open, dispositioned, closed or unclosed"),
    target: str | None = None,
    limit: int = limit_query(100, 500),
    offset: int = offset_query(),
) -> dict[str, Any]:
    _reader(request, "nonconformance")
    limit, offset = _window(limit, offset)
    epc = services.scan_target(target, field="target") if target else None
    qs = selectors.nc_list(status=status, target=epc)
    return _page(selectors.nc_rows(qs[offset : offset + limit]), qs.count())


@router.post("/nonconformances", response={201: NcOut})
def create_nonconformance(request: HttpRequest, payload: NcIn) -> Status:
    user = _writer(request)
    targets = services.scan_targets(payload.targets)
    nc = services.nonconformance_open(
        targets=targets,
        title=payload.title,
        description=payload.description,
        source=payload.source,
        category=payload.category,
        user=user,
        hold=payload.hold,
    )
    return Status(201, _nc_out(nc.pk))


@router.get("/nonconformances/{nc_id}", response=NcOut)
def get_nonconformance(request: HttpRequest, nc_id: int) -> dict[str, Any]:
    _reader(request, "nonconformance", detail=True)
    return _nc_out(nc_id)


@router.post("/nonconformances/{nc_id}/disposition", response=NcOut)
def disposition_nonconformance(
    request: HttpRequest, nc_id: int, payload: NcDispositionIn
) -> dict[str, Any]:
    """The e-signed disposition (meaning "approved"); use_as_is is a concession: QA/RA only."""
    user = _writer(request)
    nc = selectors.nc_get(nc_id)
    supplier = None
    if payload.supplier_id is not None:
        supplier = Party.objects.filter(pk=payload.supplier_id).first()
        if supplier is None:
            raise ValidationFailed(
                f"supplier_id: no party {payload.supplier_id}", field="supplier_id"
            )
    services.nonconformance_disposition(
        nc=nc,
        disposition=payload.disposition,
        reason=payload.reason,
        user=user,
        password=payload.password,
        supplier=supplier,
    )
    return _nc_out(nc_id)


@router.post("/nonconformances/{nc_id}/close", response=NcOut)
def close_nonconformance(request: HttpRequest, nc_id: int, payload: NcCloseIn) -> dict[str, Any]:
    user = _writer(request)
    services.nonconformance_close(nc=selectors.nc_get(nc_id), user=user, note=payload.note)
    return _nc_out(nc_id)


# Holds and releases --------------------------------------------------------------------------


@router.get("/holds", response=HoldPage)
def list_holds(
    request: HttpRequest,
    active: bool | None = True,
    target: str | None = None,
    limit: int = limit_query(100, 500),
    offset: int = offset_query(),
) -> dict[str, Any]:
    """Holds (open ones by default; ``active=false`` lifted ones)."""
    _reader(request, "hold")
    limit, offset = _window(limit, offset)
    epc = services.scan_target(target, field="target") if target else None
    qs = selectors.hold_list(active=active, target=epc)
    return _page([selectors.hold_row(h) for h in qs[offset : offset + limit]], qs.count())


@router.post("/holds", response={201: HoldPage})
def create_hold(request: HttpRequest, payload: HoldIn) -> Status:
    """Put units, containers or lots on QC hold or in quarantine (``location_id``: the
    quarantine location they move to). One hold per target."""
    user = _writer(request)
    if payload.kind not in ("hold", "quarantine"):
        raise ValidationFailed(
            "kind: expected hold or quarantine (recall holds come from a recall)", field="kind"
        )
    location = None
    if payload.location_id is not None:
        location = Location.objects.filter(pk=payload.location_id).first()
        if location is None:
            raise ValidationFailed(
                f"location_id: no location {payload.location_id}", field="location_id"
            )
    holds = services.hold_place(
        targets=services.scan_targets(payload.targets),
        kind=payload.kind,
        reason=payload.reason,
        user=user,
        source=payload.source,
        biz_location=location.sgln if location else None,
    )
    return Status(201, _page([selectors.hold_row(h) for h in holds], len(holds)))


@router.post("/holds/{hold_id}/lift", response=HoldOut)
def lift_hold(request: HttpRequest, hold_id: int, payload: HoldLiftIn) -> dict[str, Any]:
    user = _writer(request)
    hold = services.hold_lift(hold=selectors.hold_get(hold_id), user=user, reason=payload.reason)
    return selectors.hold_row(selectors.hold_get(hold.pk))


@router.get("/releases", response=ReleasePage)
def list_releases(
    request: HttpRequest, limit: int = limit_query(100, 500), offset: int = offset_query()
) -> dict[str, Any]:
    _reader(request, "release")
    limit, offset = _window(limit, offset)
    qs = selectors.release_list()
    return _page(selectors.release_rows(qs[offset : offset + limit]), qs.count())


@router.post("/releases", response={201: ReleaseOut})
def create_release(request: HttpRequest, payload: ReleaseIn) -> Status:
    """E-signed QC release (meaning "released"); refused for held units and for units whose
    final inspection failed or is missing."""
    user = _writer(request)
    release = services.release_create(
        targets=services.scan_targets(payload.targets),
        user=user,
        password=payload.password,
        note=payload.note,
    )
    (row,) = selectors.release_rows(selectors.release_list().filter(pk=release.pk))
    return Status(201, row)
