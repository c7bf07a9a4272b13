"""The inspection entry page: scan a unit or lot -> the plan's characteristics appear -> enter
the values (Tab between them, Enter submits) -> pass or fail is shown, and the scan box is ready
for the next unit."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from medtrace.errors import MedtraceError, ValidationFailed

from . import selectors, services
from .models import InspectionPlan, InspectionResult
from .views_common import actor, staff_page

MAX_ROWS = 50  # a sample table larger than this is entered through the API


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text and text.strip() else None
    except ValueError:
        return None


def _sample_rows(plan: InspectionPlan, target: str, lot_size: int | None) -> tuple[int, int | None]:
    """How many sample rows to show, and the lot size used."""
    if not services.is_lot_class(target):
        return 1, None
    if lot_size is None:
        from .inspections import _lot_size, _subject

        lot_size = _lot_size(_subject(plan, target), None)
    needed = services.required_samples(plan, lot_size)
    return min(needed or 1, MAX_ROWS), lot_size


def _posted_samples(request: HttpRequest, plan: InspectionPlan, rows: int) -> list[dict[str, Any]]:
    chars = list(plan.characteristics.all())
    samples = []
    for i in range(rows):
        values = {}
        for j, c in enumerate(chars):
            value = request.POST.get(f"v_{i}_{j}", "").strip()
            if value:
                values[c.name] = value
        samples.append({"sample": request.POST.get(f"sample_{i}", "").strip(), "values": values})
    return samples


@staff_page("quality.view_inspectionresult")
@require_http_methods(["GET", "POST"])
def inspect(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    data = request.POST if request.method == "POST" else request.GET
    scan = data.get("scan", "").strip()
    context: dict[str, Any] = {"scan": scan, "can_inspect": user.has_perm(services.PERM_INSPECT)}
    status = 200
    target = plan = None
    try:
        if scan:
            target = services.scan_target(scan, field="scan")
            plans = selectors.plans_for_target(target)
            context.update(target=target, plans=plans)
            if not plans:
                raise ValidationFailed(
                    "scan: no active inspection plan covers this product or material",
                    field="scan",
                )
            chosen = _int(data.get("plan"))
            plan = next((p for p in plans if p.pk == chosen), None)
            if plan is None and len(plans) == 1:
                plan = plans[0]
    except MedtraceError as exc:
        context["scan_error"] = exc.message
        status = exc.status
    if plan is not None and target is not None:
        lot_size = _int(data.get("lot_size"))
        try:
            rows, lot_size = _sample_rows(plan, target, lot_size)
        except MedtraceError as exc:
            context["error"] = exc
            rows = 1
        context.update(
            plan=plan,
            characteristics=list(plan.characteristics.all()),
            rows=range(rows),
            lot_size=lot_size,
            is_lot=services.is_lot_class(target),
        )
        if request.method == "POST":
            samples = _posted_samples(request, plan, rows)
            try:
                if services.is_lot_class(target):
                    result = services.inspection_record(
                        plan=plan,
                        target=target,
                        user=user,
                        samples=samples,
                        lot_size=lot_size,
                        note=request.POST.get("note", ""),
                        password=request.POST.get("password", ""),
                    )
                else:
                    result = services.inspection_record(
                        plan=plan,
                        target=target,
                        user=user,
                        values=samples[0]["values"],
                        note=request.POST.get("note", ""),
                        password=request.POST.get("password", ""),
                    )
            except MedtraceError as exc:
                context.update(error=exc, posted=request.POST)
                status = exc.status
            else:
                return _done(request, result, user)
        context["history"] = selectors.inspections_for([target])
    return render(request, "quality/inspect.html", context, status=status)


def _done(request: HttpRequest, result: InspectionResult, user: Any) -> HttpResponse:
    (row,) = selectors.result_rows(selectors.results_queryset().filter(pk=result.pk))
    nc = selectors.nc_list().filter(inspection=result).first()
    context = {
        "done": row,
        "nc": nc,
        "scan": "",
        "can_inspect": user.has_perm(services.PERM_INSPECT),
    }
    return render(request, "quality/inspect.html", context)
