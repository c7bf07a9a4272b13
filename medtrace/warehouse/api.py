"""REST endpoints of the warehouse app (mounted at /api/v1/): moves, containers (SSCC), stock,
pick lists (FEFO) and stock counts. Thin: parse, call one service or selector, render.

Reads need the ``lifecycle:read`` scope, writes ``warehouse:write``; the services check the
user's role. Warehouse documents are internal: a partner user gets 404 for a document and 403
for a list. Identifiers in paths accept any UDI form, URL-encoded (an SSCC as 18 digits,
``(00)…``, a Digital Link or an EPC URN); documents accept their id or number.
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Status
from pydantic import Field

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Location, Product

from . import selectors, services
from .common import find_location, label_of
from .models import Container, PickList, StockCount, StockMove
from .schemas import (
    ContainerIn,
    ContainerOut,
    EndIn,
    MoveIn,
    MoveOut,
    PackIn,
    PickIn,
    PickListIn,
    PickListOut,
    PickListSummaryOut,
    ScansIn,
    StockCountIn,
    StockCountOut,
    StockOut,
    StrictIn,
    UnpackIn,
)

router = Router(tags=["warehouse"])
READ, WRITE = "lifecycle:read", "warehouse:write"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _reader(request: HttpRequest, perm: str, *, document: bool) -> User:
    require_scope(request, READ)
    user = _user(request)
    if scoping.is_partner(user):
        if document:
            raise NotFound("Not found")  # a partner must not learn our documents exist
        raise PermissionDenied("Warehouse stock and documents are internal")
    if not user.has_perm(perm):
        raise PermissionDenied(f"Your role cannot view warehouse records (needs {perm!r})")
    return user


def _writer(request: HttpRequest) -> User:
    require_scope(request, WRITE)
    return _user(request)


def _loc(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"id": location.pk, "code": location.code, "name": location.name, "sgln": location.sgln}


def _product(product: Product | None) -> dict[str, Any] | None:
    if product is None:
        return None
    return {"id": product.pk, "name": product.name, "model": product.model}


def _who(user: Any) -> str | None:
    return user.get_username() if user is not None else None


# Moves -----------------------------------------------------------------------------------------


def _move_out(move: StockMove) -> dict[str, Any]:
    return {
        "id": move.pk,
        "number": move.number,
        "kind": move.kind,
        "from_location": _loc(move.from_location),
        "to_location": _loc(move.to_location),
        "note": move.note,
        "event_id": move.event_id,
        "created_at": move.created_at,
        "created_by": _who(move.created_by),
        "items": [
            {
                "epc": i.epc,
                "serial": i.serial,
                "is_container": i.is_container,
                "from_location": i.from_sgln,
            }
            for i in move.items.order_by("id")
        ],
    }


@router.post("/moves", response={201: MoveOut})
def create_move(request: HttpRequest, payload: MoveIn) -> Status:
    """Put away or move units and cases/pallets to one of our warehouse or bin locations
    (ObjectEvent OBSERVE, bizStep storing; what is packed inside moves with its container)."""
    user = _writer(request)
    move = services.stock_move(
        scans=payload.scans, to_location=payload.to_location, user=user, note=payload.note
    )
    return Status(201, _move_out(move))


@router.get("/moves/{id}", response=MoveOut)
def get_move(request: HttpRequest, id: str) -> dict[str, Any]:
    _reader(request, "warehouse.view_stockmove", document=True)
    return _move_out(selectors.stock_move_get(id))


# Containers ------------------------------------------------------------------------------------


def _container_out(
    container: Container, *, event_id: str | None = None, packed: list[str] | None = None
) -> dict[str, Any]:
    view = selectors.container_view(container)
    children = []
    for state in view.children:
        children.append(
            {
                "epc": state.epc,
                "serial": state.serial,
                "product": _product(state.product),
                "lot": state.lot,
                "expiry": state.expiry,
                "is_container": state.epc.startswith("urn:epc:id:sscc:"),
            }
        )
    base = reverse("api:container_label", kwargs={"sscc": container.sscc, "fmt": "pdf"})
    return {
        "sscc": container.sscc,
        "epc": container.epc,
        "level": container.level,
        "status": container.status,
        "packed_at": _loc(container.location),
        "where": view.where,
        "inside": view.parent,
        "created_at": container.created_at,
        "closed_at": container.closed_at,
        "unit_count": view.unit_count,
        "children": children,
        "summary": [
            {
                "product": _product(g["product"]),
                "lot": g["lot"],
                "count": g["count"],
                "expiry": g["expiry"],
            }
            for g in view.summary
        ],
        "label_pdf": base,
        "label_png": base[: -len("pdf")] + "png",
        "event_id": event_id,
        "packed": packed,
    }


@router.post("/containers", response={201: ContainerOut})
def create_container(request: HttpRequest, payload: ContainerIn) -> Status:
    """A new case or pallet with a new SSCC (extension digit + our GS1 company prefix + serial
    reference + check digit), packed with ``children`` when given (AggregationEvent ADD,
    bizStep packing)."""
    user = _writer(request)
    from django.db import transaction

    with transaction.atomic():
        container = services.container_create(
            level=payload.level,
            user=user,
            location=payload.location,
            extension_digit=payload.extension_digit,
        )
        if payload.children:
            result = services.container_pack(
                container=container,
                children=payload.children,
                user=user,
                location=payload.location,
                close=payload.close,
            )
            return Status(
                201, _container_out(result.container, event_id=result.event_id, packed=result.epcs)
            )
    return Status(201, _container_out(container))


# Longer paths first: "/containers/{path:sscc}" would also match ".../pack" and ".../label.pdf".
@router.get(
    "/containers/{path:sscc}/label.{fmt}",
    url_name="container_label",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The GS1 logistic label (GS1-128 and GS1 DataMatrix of the SSCC)",
                "content": {
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def container_label(request: HttpRequest, sscc: str, fmt: Literal["pdf", "png"]) -> HttpResponse:
    _reader(request, "warehouse.view_container", document=True)
    container = services.container_get(sscc)
    content, media_type = selectors.container_label(container, fmt)
    response = HttpResponse(content, content_type=media_type)
    response["Content-Disposition"] = f'inline; filename="sscc-{container.sscc}.{fmt}"'
    return response


@router.post("/containers/{path:sscc}/pack", response=ContainerOut)
def pack(request: HttpRequest, sscc: str, payload: PackIn) -> dict[str, Any]:
    """Pack units into a case, or cases onto a pallet (AggregationEvent ADD, packing)."""
    user = _writer(request)
    result = services.container_pack(
        container=services.container_get(sscc),
        children=payload.children,
        user=user,
        location=payload.location,
        close=payload.close,
    )
    return _container_out(result.container, event_id=result.event_id, packed=result.epcs)


@router.post("/containers/{path:sscc}/unpack", response=ContainerOut)
def unpack(request: HttpRequest, sscc: str, payload: UnpackIn) -> dict[str, Any]:
    """Take units out of a case or cases off a pallet (AggregationEvent DELETE, unpacking)."""
    user = _writer(request)
    result = services.container_unpack(
        container=services.container_get(sscc), children=payload.children, user=user
    )
    return _container_out(result.container, event_id=result.event_id, packed=None)


@router.post("/containers/{path:sscc}/close", response=ContainerOut)
def close(request: HttpRequest, sscc: str) -> dict[str, Any]:
    """Close a case or pallet (ObjectEvent, packing, container_closed)."""
    user = _writer(request)
    container = services.container_close(container=services.container_get(sscc), user=user)
    return _container_out(container)


@router.get("/containers/{path:sscc}", response=ContainerOut)
def get_container(request: HttpRequest, sscc: str) -> dict[str, Any]:
    """What a case or pallet holds now (at every depth), where it is, and its label links."""
    _reader(request, "warehouse.view_container", document=True)
    return _container_out(services.container_get(sscc))


# Stock -----------------------------------------------------------------------------------------


@router.get("/stock", response=StockOut)
def stock(
    request: HttpRequest, product: int | None = None, location: str | None = None
) -> dict[str, Any]:
    """Units on hand at our warehouse and bin locations, by product, location, lot and expiry
    (``location`` includes the bins inside a warehouse)."""
    _reader(request, "warehouse.view_stockmove", document=False)
    chosen = None
    if product is not None:
        chosen = Product.objects.filter(pk=product).first()
        if chosen is None:
            raise ValidationFailed(f"product: no product {product}", field="product")
    place = find_location(location) if location else None
    rows = selectors.stock_on_hand(product=chosen, location=place)
    items = [
        {
            "product": _product(r["product"]),
            "location": _loc(r["location"]),
            "lot": r["lot"],
            "expiry": r["expiry"],
            "on_hand": r["on_hand"],
            "available": r["available"],
            "held": r["held"],
            "expired": r["expired"],
            "unreleased": r["unreleased"],
        }
        for r in rows
    ]
    return {
        "on_hand": sum(i["on_hand"] for i in items),
        "available": sum(i["available"] for i in items),
        "items": items,
    }


# Picking ---------------------------------------------------------------------------------------


def _pick_list_out(pick_list: PickList) -> dict[str, Any]:
    view = selectors.pick_list_view(pick_list)
    return {
        "id": pick_list.pk,
        "number": pick_list.number,
        "product": _product(pick_list.product),
        "quantity": pick_list.quantity,
        "location": _loc(pick_list.location),
        "sales_order_ref": pick_list.sales_order_ref,
        "status": pick_list.status,
        "note": pick_list.note,
        "created_at": pick_list.created_at,
        "completed_at": pick_list.completed_at,
        "picked": len(view.picks),
        "remaining": view.remaining,
        "picks": [
            {
                "epc": p.epc,
                "serial": p.serial,
                "lot": p.lot,
                "expiry": p.expiry,
                "container": p.container,
                "fefo_better": p.fefo_better,
                "override_reason": p.override_reason,
                "picked_at": p.picked_at,
                "picked_by": _who(p.picked_by),
            }
            for p in view.picks
        ],
        "proposal": [
            {
                "epc": s.epc,
                "serial": s.serial,
                "lot": s.lot,
                "expiry": s.expiry,
                "where": view.where.get(s.epc, ""),
                "container": s.container,
            }
            for s in view.proposal
        ],
    }


@router.post("/pick-lists", response={201: PickListOut})
def create_pick_list(request: HttpRequest, payload: PickListIn) -> Status:
    """A pick list for a quantity of one product; the answer carries the FEFO proposal."""
    user = _writer(request)
    product = Product.objects.filter(pk=payload.product_id).first()
    if product is None:
        raise ValidationFailed(f"product_id: no product {payload.product_id}", field="product_id")
    pick_list = services.pick_list_create(
        product=product,
        quantity=payload.quantity,
        user=user,
        location=payload.location,
        sales_order_ref=payload.sales_order_ref,
        note=payload.note,
    )
    return Status(201, _pick_list_out(pick_list))


@router.get("/pick-lists", response=list[PickListSummaryOut])
def list_pick_lists(request: HttpRequest, status: str | None = None) -> list[dict[str, Any]]:
    _reader(request, "warehouse.view_picklist", document=False)
    return [
        {
            "id": p.pk,
            "number": p.number,
            "product": _product(p.product),
            "quantity": p.quantity,
            "picked": p.picked,  # type: ignore[attr-defined]
            "status": p.status,
            "sales_order_ref": p.sales_order_ref,
            "created_at": p.created_at,
        }
        for p in selectors.pick_lists(status=status)
    ]


@router.get("/pick-lists/{id}", response=PickListOut)
def get_pick_list(request: HttpRequest, id: str) -> dict[str, Any]:
    """The pick list, its picks and the FEFO proposal for what is still to pick."""
    _reader(request, "warehouse.view_picklist", document=True)
    return _pick_list_out(selectors.pick_list_get(id))


@router.post("/pick-lists/{id}/pick", response=PickListOut)
def pick(request: HttpRequest, id: str, payload: PickIn) -> dict[str, Any]:
    """Confirm picked units or cases. A held, quarantined, recalled or expired unit is refused
    (409, naming it and why); so is a later-expiring unit while an earlier one is available,
    unless ``override_reason`` says why (FEFO)."""
    user = _writer(request)
    pick_list = selectors.pick_list_get(id)
    services.pick(
        pick_list=pick_list, scans=payload.scans, user=user, override_reason=payload.override_reason
    )
    return _pick_list_out(selectors.pick_list_get(pick_list.pk))


@router.post("/pick-lists/{id}/cancel", response=PickListOut)
def cancel_pick_list(request: HttpRequest, id: str, payload: EndIn) -> dict[str, Any]:
    user = _writer(request)
    pick_list = services.pick_list_cancel(
        pick_list=selectors.pick_list_get(id), user=user, reason=payload.reason
    )
    return _pick_list_out(pick_list)


class CloseIn(StrictIn):
    reference: str = Field(
        "", description="What the picked units left under, e.g. the shipment number"
    )


@router.post("/pick-lists/{id}/close", response=PickListOut)
def close_pick_list(request: HttpRequest, id: str, payload: CloseIn) -> dict[str, Any]:
    """The picked units left (shipped by another way): the list stops reserving them."""
    user = _writer(request)
    pick_list = services.pick_list_close(
        pick_list=selectors.pick_list_get(id), user=user, reference=payload.reference
    )
    return _pick_list_out(pick_list)


# Stock counts ----------------------------------------------------------------------------------


def _count_out(count: StockCount) -> dict[str, Any]:
    scanned = list(count.scans.order_by("id").values_list("epc", flat=True))
    if count.status == "reconciled":
        lines = [
            {
                "epc": line.epc,
                "serial": line.serial or label_of(line.epc),
                "result": line.result,
                "where": line.ledger_where,
                "container": line.container,
                "note": line.note,
                "observed": line.observed,
            }
            for line in count.lines.order_by("result", "serial", "epc")
        ]
        numbers = (count.matched, count.missing, count.unexpected)
    else:
        rec = selectors.stock_count_preview(count)
        lines = [
            {
                "epc": r.epc,
                "serial": r.label,
                "result": r.result,
                "where": r.where,
                "container": r.container,
                "note": r.note,
                "observed": None,
            }
            for r in rec.rows
        ]
        numbers = (len(rec.matched), len(rec.missing), len(rec.unexpected))
    return {
        "id": count.pk,
        "number": count.number,
        "location": _loc(count.location),
        "status": count.status,
        "note": count.note,
        "created_at": count.created_at,
        "reconciled_at": count.reconciled_at,
        "scanned": scanned,
        "matched": numbers[0],
        "missing": numbers[1],
        "unexpected": numbers[2],
        "lines": lines,
    }


@router.post("/stock-counts", response={201: StockCountOut})
def create_stock_count(request: HttpRequest, payload: StockCountIn) -> Status:
    user = _writer(request)
    count = services.stock_count_create(location=payload.location, user=user, note=payload.note)
    return Status(201, _count_out(count))


@router.get("/stock-counts/{id}", response=StockCountOut)
def get_stock_count(request: HttpRequest, id: str) -> dict[str, Any]:
    """The count; before reconciling, a preview of matched, missing and unexpected."""
    _reader(request, "warehouse.view_stockcount", document=True)
    return _count_out(selectors.stock_count_get(id))


@router.post("/stock-counts/{id}/scans", response=StockCountOut)
def scan_stock_count(request: HttpRequest, id: str, payload: ScansIn) -> dict[str, Any]:
    """Record what was found at the location (cases and pallets count for their contents)."""
    user = _writer(request)
    count = selectors.stock_count_get(id)
    services.stock_count_scan(count=count, scans=payload.scans, user=user)
    return _count_out(count)


@router.post("/stock-counts/{id}/reconcile", response=StockCountOut)
def reconcile_stock_count(request: HttpRequest, id: str) -> dict[str, Any]:
    """Reconcile with the ledger and post: cycle_counting events for what was found; missing
    and unexpected objects listed and sent to the warehouse as an alert."""
    user = _writer(request)
    count = services.stock_count_reconcile(count=selectors.stock_count_get(id), user=user)
    return _count_out(count)
