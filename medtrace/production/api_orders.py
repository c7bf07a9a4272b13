"""Work orders, commissioning, assembly, process records and the DHR: /api/v1/work-orders/...

Reads need the token scope ``lifecycle:read`` and the role's view permission (the DHR needs
``production.view_dhr``); writes need ``production:write`` and the production permissions
(checked by the services). Work orders are the maker's production records: a partner user gets
an empty list and 404 for any single one.
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Status
from ninja.pagination import paginate

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination

from . import selectors_dhr as selectors
from . import services_assembly, services_orders, services_records
from .api_router import router
from .models import ProcessRecord, WorkOrder
from .pdf import dhr_pdf
from .schemas import (
    AssembleIn,
    AssembleOut,
    CloseIn,
    CommissionIn,
    CommissionOut,
    ProcessRecordIn,
    ProcessRecordOut,
    ReasonIn,
    WorkOrderIn,
    WorkOrderOut,
)

TAGS = ["work orders"]

READ, WRITE = "lifecycle:read", "production:write"


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def order_out(wo: WorkOrder, *, progress: bool = False) -> dict[str, Any]:
    return {
        "id": wo.pk,
        "number": wo.number,
        "status": wo.status,
        "product": {"id": wo.product_id, "label": str(wo.product)},
        "bom": {"id": wo.bom_id, "label": wo.bom.version},
        "quantity": wo.quantity,
        "commissioned_qty": wo.commissioned_qty,
        "lot": wo.lot,
        "production_date": wo.production_date,
        "expiry": wo.expiry,
        "line": {"id": wo.line_id, "label": f"{wo.line.code} {wo.line.name}"},
        "planned_start": wo.planned_start,
        "planned_end": wo.planned_end,
        "notes": wo.notes,
        "created_at": wo.created_at,
        "released_at": wo.released_at,
        "started_at": wo.started_at,
        "completed_at": wo.completed_at,
        "closed_at": wo.closed_at,
        "cancelled_at": wo.cancelled_at,
        "cancel_reason": wo.cancel_reason,
        "progress": selectors.progress(wo) if progress else None,
    }


def _order(request: HttpRequest, user: User, order_id: int) -> WorkOrder:
    return selectors.work_order_get(user=user, pk=order_id)


@router.get("/work-orders", response=list[WorkOrderOut], tags=TAGS)
@paginate(Pagination)
def list_work_orders(
    request: HttpRequest,
    status: str | None = None,
    product_id: int | None = None,
    q: str | None = None,
) -> QuerySet[WorkOrder]:
    """Work orders, newest first; filter by ``status``, ``product_id``, or ``q`` (number, lot,
    product name or model)."""
    user = _user(request, READ)
    return selectors.work_order_list(user=user, status=status, product_id=product_id, q=q)


@router.post("/work-orders", response={201: WorkOrderOut}, tags=TAGS)
def create_work_order(request: HttpRequest, payload: WorkOrderIn) -> Status:
    """Plan a work order: a product, a released BOM version of it, quantity, line, lot."""
    user = _user(request, WRITE)
    order = services_orders.work_order_create(data=payload.model_dump(), user=user)
    return Status(201, order_out(order))


@router.get("/work-orders/{order_id}", response=WorkOrderOut, tags=TAGS)
def get_work_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    """One work order with its progress (made, approved, scrapped, on hold, assembled)."""
    user = _user(request, READ)
    return order_out(_order(request, user, order_id), progress=True)


@router.post("/work-orders/{order_id}/release", response=WorkOrderOut, tags=TAGS)
def release_work_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    """Release a planned order to the line (its BOM still released; a serial rule set)."""
    user = _user(request, WRITE)
    order = services_orders.work_order_release(
        work_order=_order(request, user, order_id), user=user
    )
    return order_out(order)


@router.post("/work-orders/{order_id}/commission", response={201: CommissionOut}, tags=TAGS)
def commission_work_order(request: HttpRequest, order_id: int, payload: CommissionIn) -> Status:
    """Commission units in ONE EPCIS ObjectEvent (ADD, commissioning, active, prodorder):
    ``count`` new serials, or ``serials`` already allocated to the order; a lot-tracked
    product commissions ``count`` units of the order's lot as a quantity."""
    user = _user(request, WRITE)
    done = services_orders.work_order_commission(
        work_order=_order(request, user, order_id),
        count=payload.count,
        serials=payload.serials,
        user=user,
    )
    return Status(
        201,
        {
            "work_order": order_out(done.work_order),
            "count": done.commissioning.count,
            "serials": done.serials,
            "epcs": done.epcs,
            "lot_class": done.lot_class,
            "event_id": done.event.event_id,
        },
    )


@router.post("/work-orders/{order_id}/assemble", response={201: AssembleOut}, tags=TAGS)
def assemble(request: HttpRequest, order_id: int, payload: AssembleIn) -> Status:
    """Record the component lots and serials scanned into one unit (exact genealogy):
    a TransformationEvent for the lots, an AssociationEvent for the serials (bizStep
    assembling). Components not on the order's BOM, or more than a line asks, are refused."""
    user = _user(request, WRITE)
    done = services_assembly.work_order_assemble(
        work_order=_order(request, user, order_id),
        unit=payload.unit,
        quantity=payload.quantity,
        components=[c.model_dump() for c in payload.components],
        station=payload.station,
        user=user,
    )
    return Status(
        201,
        {
            "unit": done.unit.epc,
            "label": done.unit.label,
            "components": [
                {
                    "material": c.material.code,
                    "tracking": c.tracking,
                    "identifier": c.identifier,
                    "epc": c.epc,
                    "quantity": c.quantity,
                    "uom": c.uom,
                    "supplier": c.supplier.name if c.supplier else None,
                    "made_by_work_order": (
                        c.source_work_order.number if c.source_work_order else None
                    ),
                    "event_id": c.event.event_id,
                }
                for c in done.components
            ],
            "event_ids": [e.event_id for e in done.events],
            "checklist": done.checklist,
        },
    )


def record_out(record: ProcessRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "work_order": record.work_order.number,
        "unit": record.unit,
        "unit_serial": record.unit_serial,
        "step": record.step,
        "station": record.station,
        "operator_name": record.operator_name,
        "parameters": record.parameters,
        "result": record.result,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "note": record.note,
        "recorded_at": record.recorded_at,
    }


@router.post("/work-orders/{order_id}/process-records", response={201: ProcessRecordOut}, tags=TAGS)
def add_process_record(request: HttpRequest, order_id: int, payload: ProcessRecordIn) -> Status:
    """Record how a step ran: station/equipment, operator, parameters with units, result."""
    user = _user(request, WRITE)
    data = payload.model_dump()
    data["parameters"] = [p.model_dump() for p in payload.parameters]
    record = services_records.process_record_add(
        work_order=_order(request, user, order_id), data=data, user=user
    )
    return Status(201, record_out(record))


@router.post("/work-orders/{order_id}/complete", response=WorkOrderOut, tags=TAGS)
def complete_work_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    """Complete production; refused (409) while a unit lacks a critical BOM component."""
    user = _user(request, WRITE)
    order = services_orders.work_order_complete(
        work_order=_order(request, user, order_id), user=user
    )
    return order_out(order)


@router.post("/work-orders/{order_id}/cancel", response=WorkOrderOut, tags=TAGS)
def cancel_work_order(request: HttpRequest, order_id: int, payload: ReasonIn) -> dict[str, Any]:
    """Cancel an order that has commissioned nothing, with a reason."""
    user = _user(request, WRITE)
    order = services_orders.work_order_cancel(
        work_order=_order(request, user, order_id), user=user, reason=payload.reason
    )
    return order_out(order)


@router.post("/work-orders/{order_id}/close", response=WorkOrderOut, tags=TAGS)
def close_work_order(request: HttpRequest, order_id: int, payload: CloseIn) -> dict[str, Any]:
    """Close a completed order after the DHR review, e-signed (QA/RA; meaning approved)."""
    user = _user(request, WRITE)
    order = services_orders.work_order_close(
        work_order=_order(request, user, order_id),
        user=user,
        password=payload.password,
        reason=payload.reason,
    )
    return order_out(order)


@router.get("/work-orders/{order_id}/dhr", tags=TAGS)
def work_order_dhr(request: HttpRequest, order_id: int) -> dict[str, Any]:
    """The device history record of the order (JSON): quantities, units, components
    consumed with supplier, process records, inspections, releases, signatures."""
    user = _user(request, READ)
    order = selectors.work_order_get(user=user, pk=order_id, perm=selectors.PERM_DHR)
    return selectors.work_order_dhr(work_order=order, user=user)


@router.get("/work-orders/{order_id}/dhr/pdf", tags=TAGS)
def work_order_dhr_pdf(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's DHR as PDF (Chinese or English, by the request's language)."""
    user = _user(request, READ)
    order = selectors.work_order_get(user=user, pk=order_id, perm=selectors.PERM_DHR)
    record = selectors.work_order_dhr(work_order=order, user=user)
    return _pdf(request, record, f"DHR-{order.number}.pdf")


@router.get("/units/{path:id}/dhr", tags=TAGS)
def unit_dhr(request: HttpRequest, id: str) -> dict[str, Any]:
    """The DHR of one unit (any UDI form, URL-encoded) or of a lot we made."""
    user = _user(request, READ)
    return selectors.unit_dhr(id=id, user=user)


@router.get("/units/{path:id}/dhr/pdf", tags=TAGS)
def unit_dhr_pdf(request: HttpRequest, id: str) -> HttpResponse:
    """The DHR of one unit as PDF."""
    user = _user(request, READ)
    record = selectors.unit_dhr(id=id, user=user)
    label = record.get("serial") or record["work_order"]["number"]
    return _pdf(request, record, f"DHR-{label}.pdf")


def _pdf(request: HttpRequest, record: dict[str, Any], filename: str) -> HttpResponse:
    from django.utils import translation

    content = dhr_pdf(record, language=translation.get_language() or "zh-hans")
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
