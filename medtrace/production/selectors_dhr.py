"""Production reads: work orders, their progress, assembly checklists and the device history
record (DHR) per work order and per unit (21 CFR 820.184; 医疗器械生产质量管理规范 第五十六条).

A DHR holds: what was planned and made (dates, quantities made, approved by QC release,
scrapped, on hold), the BOM version, the components consumed per unit (lots and serials, with
supplier, or the work order that made an in-house sub-assembly), the process records
(parameters with units, station/equipment, operator), the commissioning events, the
inspections (``quality.selectors.inspections_for``) and the QC releases with their signatures.
Every list is read set-based: a 10,000-unit order costs a fixed number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.accounts.scoping import is_partner
from medtrace.audit.signatures import signatures_for
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.ledger.models import EventEpc, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.rules import SCRAPPED_DISPOSITIONS, SCRAPPED_STEPS
from medtrace.masterdata.models import BomLine, ProductIdentifier, TrackingMode
from medtrace.quality.models import Hold, Release, ReleaseItem

from . import materials
from .models import (
    AllocatedSerial,
    ProcessRecord,
    UnitComponent,
    WorkOrder,
    WorkOrderCommissioning,
    WorkOrderStatus,
)

PERM_VIEW = "production.view_workorder"
PERM_DHR = "production.view_dhr"


# Access ----------------------------------------------------------------------------------------


def require_read(user: User | None, perm: str = PERM_VIEW) -> None:
    """Work orders and DHRs are the maker's production records: a partner is answered "not
    found" (as for anything outside its scope); staff need the permission."""
    if user is None:
        return
    if is_partner(user):
        raise NotFound(_("No such work order"), field="id")
    if not user.has_perm(perm):
        raise PermissionDenied(
            _("You may not read this: it needs the permission %(perm)s") % {"perm": perm},
            details={"required": perm},
        )


def work_order_list(
    *,
    user: User | None,
    status: str | None = None,
    product_id: int | None = None,
    q: str | None = None,
) -> QuerySet[WorkOrder]:
    qs = WorkOrder.objects.select_related("product", "bom", "line")
    if user is not None and is_partner(user):
        return qs.none()
    require_read(user)
    if status:
        if status not in WorkOrderStatus.values:
            raise ValidationFailed(
                _("status: expected one of %(values)s")
                % {"values": ", ".join(WorkOrderStatus.values)},
                field="status",
            )
        qs = qs.filter(status=status)
    if product_id:
        qs = qs.filter(product_id=product_id)
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(lot=q)
            | Q(product__name__icontains=q)
            | Q(product__model__icontains=q)
        )
    return qs.order_by("-id")


def work_order_get(*, user: User | None, pk: int, perm: str = PERM_VIEW) -> WorkOrder:
    require_read(user, perm)
    wo = WorkOrder.objects.select_related("product", "bom", "line").filter(pk=pk).first()
    if wo is None:
        raise NotFound(_("No work order with id %(id)s") % {"id": pk}, field="id")
    return wo


# Units and progress ----------------------------------------------------------------------------


def unit_epcs_query(wo: WorkOrder) -> QuerySet[EventEpc]:
    """The EPCs the order's commissioning events named (a subquery, never a list)."""
    return EventEpc.objects.filter(
        event_id__in=WorkOrderCommissioning.objects.filter(work_order=wo).values("event_id"),
        role="epc",
    )


def work_order_units(wo: WorkOrder) -> list[str]:
    return list(unit_epcs_query(wo).order_by("id").values_list("epc", flat=True))


def _lot_key(wo: WorkOrder) -> tuple[str, str] | None:
    if not wo.lot:
        return None
    base = ProductIdentifier.objects.filter(product=wo.product, packaging_level="unit").first()
    return (base.di, wo.lot) if base is not None else None


def _scrapped(state: dict[str, Any]) -> bool:
    return (state.get("disposition") or "") in SCRAPPED_DISPOSITIONS or (
        state.get("biz_step") or ""
    ) in SCRAPPED_STEPS


def unit_rows(wo: WorkOrder) -> list[dict[str, Any]]:
    """Each commissioned unit with its current state, release, hold and genealogy status."""
    if wo.product.tracking != TrackingMode.SERIAL:
        return []
    epcs = unit_epcs_query(wo).values("epc")
    states: dict[str, dict[str, Any]] = {
        row["epc"]: dict(row)
        for row in UnitState.objects.filter(epc__in=epcs).values(
            "epc", "serial", "disposition", "biz_step", "first_event_time", "installed_in"
        )
    }
    released = set(ReleaseItem.objects.filter(target__in=epcs).values_list("target", flat=True))
    held = set(
        Hold.objects.filter(target__in=epcs, lifted_at__isnull=True).values_list(
            "target", flat=True
        )
    )
    lot = _lot_key(wo)
    lot_released = lot_held = False
    if lot is not None:
        lot_released = ReleaseItem.objects.filter(gtin=lot[0], lot=lot[1]).exists()
        lot_held = Hold.objects.filter(gtin=lot[0], lot=lot[1], lifted_at__isnull=True).exists()
    gaps = {g["unit"] for g in genealogy_gaps(wo)}
    out = []
    for epc in work_order_units(wo):
        state: dict[str, Any] = states.get(epc, {})
        out.append(
            {
                "epc": epc,
                "serial": state.get("serial"),
                "commissioned_at": state.get("first_event_time"),
                "disposition": state.get("disposition"),
                "biz_step": state.get("biz_step"),
                "installed_in": state.get("installed_in"),
                "released": epc in released or lot_released,
                "held": epc in held or lot_held,
                "scrapped": _scrapped(state),
                "components_complete": epc not in gaps,
            }
        )
    return out


def progress(wo: WorkOrder, units: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """Planned, made (commissioned), approved (QC-released), scrapped, on hold, assembled."""
    made = wo.commissioned_qty
    if wo.product.tracking != TrackingMode.SERIAL:
        lot = _lot_key(wo)
        released = bool(lot) and ReleaseItem.objects.filter(gtin=lot[0], lot=lot[1]).exists()  # type: ignore[index]
        held = (
            bool(lot)
            and Hold.objects.filter(
                gtin=lot[0],  # type: ignore[index]
                lot=lot[1],  # type: ignore[index]
                lifted_at__isnull=True,
            ).exists()
        )
        complete = made and not genealogy_gaps(wo)
        return {
            "planned": wo.quantity,
            "made": made,
            "approved": made if released else 0,
            "scrapped": 0,
            "on_hold": made if held else 0,
            "assembled": made if complete else 0,
        }
    rows = unit_rows(wo) if units is None else units
    return {
        "planned": wo.quantity,
        "made": made,
        "approved": sum(1 for r in rows if r["released"] and not r["scrapped"]),
        "scrapped": sum(1 for r in rows if r["scrapped"]),
        "on_hold": sum(1 for r in rows if r["held"]),
        "assembled": sum(1 for r in rows if r["components_complete"]),
    }


# Genealogy completeness -------------------------------------------------------------------------


def _critical_lines(wo: WorkOrder) -> list[BomLine]:
    return [
        line
        for line in BomLine.objects.filter(bom=wo.bom).select_related("material").order_by("id")
        if line.material.critical
    ]


def genealogy_gaps(wo: WorkOrder) -> list[dict[str, Any]]:
    """Units (or the lot) of ``wo`` that lack critical BOM components, with what is missing."""
    critical = _critical_lines(wo)
    if not critical or not wo.commissioned_qty:
        return []
    recorded: dict[str, dict[int, Decimal]] = defaultdict(dict)
    for row in (
        UnitComponent.objects.filter(work_order=wo)
        .values("unit", "material_id")
        .annotate(total=Sum("quantity"))
    ):
        recorded[row["unit"]][row["material_id"]] = row["total"]
    if wo.product.tracking == TrackingMode.SERIAL:
        serials = dict(
            UnitState.objects.filter(epc__in=unit_epcs_query(wo).values("epc")).values_list(
                "epc", "serial"
            )
        )
        units = [(epc, serials.get(epc) or "", 1) for epc in work_order_units(wo)]
    else:
        units = [(ev.lot_class(wo.product, wo.lot), wo.lot, wo.commissioned_qty)]
    gaps = []
    for epc, label, count in units:
        have = recorded.get(epc, {})
        missing = []
        for line in critical:
            required = line.quantity * count
            got = have.get(line.material_id, Decimal(0))
            if got < required:
                missing.append(
                    {
                        "material": line.material.code,
                        "name": line.material.name,
                        "required": _num(required),
                        "recorded": _num(got),
                        "uom": line.material.uom,
                    }
                )
        if missing:
            gaps.append({"unit": epc, "serial": label, "missing": missing})
    return gaps


def assembly_checklist(wo: WorkOrder, unit: str, units: int = 1) -> list[dict[str, Any]]:
    """The BOM as a checklist for one unit: each line with what is recorded against it."""
    by_material: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        UnitComponent.objects.filter(work_order=wo, unit=unit)
        .order_by("id")
        .values("material_id", "identifier", "quantity", "tracking")
    ):
        by_material[row["material_id"]].append(dict(row))
    out = []
    for line in BomLine.objects.filter(bom=wo.bom).select_related("material").order_by("id"):
        items = by_material.get(line.material_id, [])
        required = line.quantity * units
        got = sum((i["quantity"] for i in items), Decimal(0))
        out.append(
            {
                "material_id": line.material_id,
                "material": line.material.code,
                "name": line.material.name,
                "tracking": line.material.tracking,
                "critical": line.material.critical,
                "position": line.position,
                "required": _num(required),
                "recorded": _num(got),
                "uom": line.material.uom,
                "complete": got >= required,
                "identifiers": [i["identifier"] for i in items],
            }
        )
    return out


def _num(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


# DHR -------------------------------------------------------------------------------------------


def _user_name(user: Any) -> str | None:
    if user is None:
        return None
    return user.display_name() if hasattr(user, "display_name") else str(user)


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _header(wo: WorkOrder) -> dict[str, Any]:
    base = wo.product.base_identifier()
    return {
        "id": wo.pk,
        "number": wo.number,
        "status": wo.status,
        "status_label": str(wo.get_status_display()),
        "product": {
            "id": wo.product_id,
            "name": wo.product.name,
            "model": wo.product.model,
            "di": base.di if base else None,
            "tracking": wo.product.tracking,
            "nmpa_registration_no": wo.product.nmpa_registration_no,
        },
        "bom": {"id": wo.bom_id, "version": wo.bom.version, "status": wo.bom.status},
        "quantity": wo.quantity,
        "commissioned_qty": wo.commissioned_qty,
        "lot": wo.lot or None,
        "production_date": _when(wo.production_date),
        "expiry": _when(wo.expiry),
        "line": {
            "id": wo.line_id,
            "code": wo.line.code,
            "name": wo.line.name,
            "sgln": wo.line.sgln,
        },
        "planned_start": _when(wo.planned_start),
        "planned_end": _when(wo.planned_end),
        "notes": wo.notes,
        "created_at": _when(wo.created_at),
        "created_by": _user_name(wo.created_by),
        "released_at": _when(wo.released_at),
        "released_by": _user_name(wo.released_by),
        "started_at": _when(wo.started_at),
        "completed_at": _when(wo.completed_at),
        "completed_by": _user_name(wo.completed_by),
        "closed_at": _when(wo.closed_at),
        "closed_by": _user_name(wo.closed_by),
        "cancelled_at": _when(wo.cancelled_at),
        "cancel_reason": wo.cancel_reason or None,
    }


def _bom_lines(wo: WorkOrder) -> list[dict[str, Any]]:
    return [
        {
            "material": line.material.code,
            "name": line.material.name,
            "quantity": _num(line.quantity),
            "uom": line.material.uom,
            "tracking": line.material.tracking,
            "critical": line.material.critical,
            "position": line.position,
        }
        for line in BomLine.objects.filter(bom=wo.bom).select_related("material").order_by("id")
    ]


def _component_row(c: UnitComponent) -> dict[str, Any]:
    return {
        "unit": c.unit,
        "unit_serial": c.unit_serial,
        "material": c.material.code,
        "name": c.material.name,
        "position": c.bom_line.position,
        "tracking": c.tracking,
        "identifier": c.identifier,
        "epc": c.epc,
        "quantity": _num(c.quantity),
        "uom": c.uom,
        "supplier": (
            {"id": c.supplier_id, "name": c.supplier.name, "gln": c.supplier.gln}
            if c.supplier is not None
            else None
        ),
        "made_by_work_order": c.source_work_order.number if c.source_work_order else None,
        "station": c.station,
        "assembled_at": _when(c.assembled_at),
        "assembled_by": _user_name(c.assembled_by),
        "event_id": c.event.event_id,
    }


def _components(qs: QuerySet[UnitComponent]) -> list[dict[str, Any]]:
    return [
        _component_row(c)
        for c in qs.select_related(
            "material", "bom_line", "supplier", "source_work_order", "assembled_by", "event"
        ).order_by("id")
    ]


def _components_summary(wo: WorkOrder) -> list[dict[str, Any]]:
    """What the order consumed, per component lot or serial (units counted, never shared)."""
    rows = (
        UnitComponent.objects.filter(work_order=wo)
        .values(
            "material__code",
            "material__name",
            "tracking",
            "identifier",
            "epc",
            "uom",
            "supplier__name",
            "supplier__gln",
            "source_work_order__number",
        )
        .annotate(total=Sum("quantity"), units=Count("unit", distinct=True))
        .order_by("material__code", "identifier")
    )
    return [
        {
            "material": r["material__code"],
            "name": r["material__name"],
            "tracking": r["tracking"],
            "identifier": r["identifier"],
            "epc": r["epc"],
            "quantity": _num(r["total"]),
            "uom": r["uom"],
            "units": r["units"],
            "supplier": (
                {"name": r["supplier__name"], "gln": r["supplier__gln"]}
                if r["supplier__name"]
                else None
            ),
            "made_by_work_order": r["source_work_order__number"],
        }
        for r in rows
    ]


def _process_rows(qs: QuerySet[ProcessRecord]) -> list[dict[str, Any]]:
    return [
        {
            "id": p.pk,
            "unit": p.unit or None,
            "unit_serial": p.unit_serial or None,
            "step": p.step,
            "station": p.station,
            "operator": p.operator_name or _user_name(p.operator),
            "parameters": p.parameters,
            "result": p.result or None,
            "started_at": _when(p.started_at),
            "finished_at": _when(p.finished_at),
            "note": p.note,
            "recorded_at": _when(p.recorded_at),
            "recorded_by": _user_name(p.recorded_by),
        }
        for p in qs.select_related("operator", "recorded_by").order_by("started_at", "id")
    ]


def _inspections(targets: Iterable[str]) -> tuple[list[dict[str, Any]] | None, bool]:
    """Inspections from quality (None when quality's selector is not there)."""
    try:
        from medtrace.quality.selectors import inspections_for
    except ImportError:
        return None, False
    return [dict(row) for row in inspections_for(list(targets))], True


def _releases(
    wo: WorkOrder, epcs: QuerySet[Any] | list[str], lot_class: str | None
) -> list[dict[str, Any]]:
    match = Q(items__target__in=epcs)
    lot = _lot_key(wo)
    if lot is not None:
        match |= Q(items__gtin=lot[0], items__lot=lot[1])
    if lot_class:
        match |= Q(items__target=lot_class)
    out = []
    for release in (
        Release.objects.filter(match)
        .distinct()
        .select_related("released_by")
        .annotate(n=Count("items"))
        .order_by("released_at")
    ):
        out.append(
            {
                "number": release.number,
                "released_at": _when(release.released_at),
                "released_by": _user_name(release.released_by),
                "items": release.n,
                "note": release.note,
                "signatures": _signatures(release),
            }
        )
    return out


def _signatures(record: Any) -> list[dict[str, Any]]:
    return [
        {
            "meaning": view.signature.meaning,
            "printed_name": view.signature.printed_name,
            "signed_at": _when(view.signature.signed_at),
            "valid": view.valid,
        }
        for view in signatures_for(record)
    ]


def _commissionings(wo: WorkOrder, unit: str | None = None) -> list[dict[str, Any]]:
    qs = wo.commissionings.select_related("event", "commissioned_by").order_by("id")
    if unit is not None:
        qs = qs.filter(
            event_id__in=EventEpc.objects.filter(epc=unit, role="epc").values("event_id")
        )
    return [
        {
            "event_id": c.event.event_id,
            "at": _when(c.commissioned_at),
            "count": c.count,
            "first_serial": c.first_serial or None,
            "last_serial": c.last_serial or None,
            "by": _user_name(c.commissioned_by),
        }
        for c in qs
    ]


def work_order_dhr(*, work_order: WorkOrder, user: User | None) -> dict[str, Any]:
    """The device history record of a work order (batch DHR)."""
    require_read(user, PERM_DHR)
    wo = WorkOrder.objects.select_related("product", "bom", "line").get(pk=work_order.pk)
    lot_class = ev.lot_class(wo.product, wo.lot) if wo.lot else None
    units = unit_rows(wo)
    targets = [u["epc"] for u in units] + ([lot_class] if lot_class else [])
    inspections, available = _inspections(targets)
    return {
        "kind": "work_order",
        "generated_at": _when(timezone.now()),
        "work_order": _header(wo),
        "bom_lines": _bom_lines(wo),
        "quantities": progress(wo, units),
        "commissionings": _commissionings(wo),
        "units": units,
        "components": _components_summary(wo),
        "genealogy_gaps": genealogy_gaps(wo),
        "process_records": _process_rows(ProcessRecord.objects.filter(work_order=wo)),
        "inspections": inspections,
        "inspections_available": available,
        "releases": _releases(wo, unit_epcs_query(wo).values("epc"), lot_class),
        "signatures": _signatures(wo),
        "material_stock_checked": materials.procurement_available(),
    }


def _lot_order(text: str) -> tuple[WorkOrder, str] | None:
    """The work order whose lot ``text`` names ((01)+(10), or the lot class URN), if any.

    Read from master data, not the ledger: a serial-tracked order's lot is in the ILMD of its
    units, never a quantity the ledger indexes."""
    from medtrace.masterdata.selectors import resolve_udi

    try:
        identity, product = resolve_udi(text)
    except ValidationFailed:
        return None
    lot = identity.lot or (identity.hibc.lot if identity.hibc else None)
    serial = identity.serial or (identity.hibc.serial if identity.hibc else None)
    if not lot or serial or product is None:
        return None
    wo = WorkOrder.objects.filter(product=product, lot=lot).first()
    return (wo, ev.lot_class(product, lot)) if wo is not None else None


def _order_of_unit(text: str, user: User | None) -> tuple[WorkOrder, str, dict[str, Any] | None]:
    """The work order that made the unit (or lot) ``text`` names, with its EPC and state."""
    from medtrace.trace.selectors import resolve_target

    by_lot = _lot_order(text)
    if by_lot is not None:
        return by_lot[0], by_lot[1], None
    target = resolve_target(text, user=user, allow_class=True)
    state = target.state
    wo: WorkOrder | None = None
    if state is not None and state.get("product_id") and state.get("serial"):
        found = (
            AllocatedSerial.objects.filter(
                product_id=state["product_id"], serial=state["serial"], work_order__isnull=False
            )
            .select_related("work_order")
            .first()
        )
        wo = found.work_order if found is not None else None
    if wo is None:
        raise NotFound(
            _("%(id)s was not made by one of our work orders: it has no device history record")
            % {"id": text},
            field="id",
        )
    return wo, target.epc, state


def unit_dhr(*, id: str, user: User | None) -> dict[str, Any]:
    """The device history record of one unit (any UDI form), or of a lot we made."""
    require_read(user, PERM_DHR)
    wo, epc, state = _order_of_unit(id, user)
    wo = WorkOrder.objects.select_related("product", "bom", "line").get(pk=wo.pk)
    lot_class = ev.lot_class(wo.product, wo.lot) if wo.lot else None
    is_unit = state is not None
    targets = [epc] + ([lot_class] if lot_class and lot_class != epc else [])
    inspections, available = _inspections(targets)
    released = ReleaseItem.objects.filter(target__in=targets).exists()
    lot = _lot_key(wo)
    if lot is not None:
        released = released or ReleaseItem.objects.filter(gtin=lot[0], lot=lot[1]).exists()
    held = Hold.objects.filter(target__in=targets, lifted_at__isnull=True).exists()
    units = 1 if is_unit else wo.commissioned_qty
    return {
        "kind": "unit" if is_unit else "lot",
        "generated_at": _when(timezone.now()),
        "id": id,
        "epc": epc,
        "serial": state.get("serial") if state else None,
        "state": (
            {
                "disposition": state.get("disposition"),
                "location": state.get("biz_location"),
                "expiry": _when(state.get("expiry")),
                "installed_in": state.get("installed_in"),
                "scrapped": _scrapped(state),
            }
            if state
            else None
        ),
        "released": released,
        "held": held,
        "work_order": _header(wo),
        "bom_lines": _bom_lines(wo),
        "checklist": assembly_checklist(wo, epc, units),
        "commissionings": _commissionings(wo, epc if is_unit else None),
        "components": _components(UnitComponent.objects.filter(work_order=wo, unit=epc)),
        "process_records": _process_rows(
            ProcessRecord.objects.filter(work_order=wo).filter(Q(unit="") | Q(unit=epc))
        ),
        "inspections": inspections,
        "inspections_available": available,
        "releases": _releases(wo, [epc], lot_class),
        "material_stock_checked": materials.procurement_available(),
    }
