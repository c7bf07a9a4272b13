"""The assembly station: exact per-unit genealogy (issue 5, item 2).

The operator scans one produced unit, then each component that goes into it: component lots
(with the quantity consumed, by default what the BOM line asks per unit) and serialized
components (supplier serials, and sub-assemblies we made ourselves, e.g. a control board that
is itself a unit of another work order). One call writes, in one transaction:

- lots: ONE TransformationEvent per unit (inputQuantityList = the lot classes with the quantity
  consumed, outputEPCList = the unit), bizStep ``assembling``;
- serials: ONE AssociationEvent ADD (parentID = the unit, childEPCs = the components), bizStep
  ``assembling``;
- both with the line as readPoint/bizLocation and the work order as ``prodorder``;
- the material consumption (procurement's stock, which refuses uninspected, rejected, expired,
  held or short material), one ``UnitComponent`` row per component and one audit entry.

Genealogy is never shared out in proportion: each unit records exactly what was scanned for it.
The BOM version of the work order is the checklist: a component not on it is refused by name,
and more than its line asks per unit is refused; less is allowed (the rest may come in a later
scan) but completing the work order needs every critical line complete for every unit.

A lot-tracked work order has no units: its components go into the order's lot (a
TransformationEvent with the lot class as outputQuantityList), for ``quantity`` units of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import MedtraceError, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.masterdata.models import BomLine, Material, Product, TrackingMode
from medtrace.quality.models import Hold

from . import materials
from .materials import MaterialRef
from .models import (
    AllocatedSerial,
    ComponentTracking,
    UnitComponent,
    WorkOrder,
    WorkOrderStatus,
)
from .services_orders import PERM_CHANGE, locked, moment, require, require_status

MAX_COMPONENTS = 200
STATION_MAX = 64


@dataclass
class ComponentScan:
    """One scan at the station: any UDI form; ``quantity`` only for a lot (default: what the
    BOM line still asks for this unit)."""

    scan: str
    quantity: Decimal | None = None


@dataclass
class Resolved:
    index: int
    scan: str
    ref: MaterialRef
    line: BomLine
    quantity: Decimal | None = None  # set by _quantities

    @property
    def amount(self) -> Decimal:
        assert self.quantity is not None
        return self.quantity


@dataclass
class UnitRef:
    """The produced unit (or, for a lot-tracked order, its lot) the components go into."""

    epc: str
    label: str  # serial, or the lot
    units: int = 1  # how many product units the components are for


@dataclass
class Assembled:
    work_order: WorkOrder
    unit: UnitRef
    components: list[UnitComponent]
    events: list[Event]
    checklist: list[dict[str, Any]] = field(default_factory=list)


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def bom_lines(wo: WorkOrder) -> dict[int, BomLine]:
    """The work order's BOM lines by material id (material loaded)."""
    return {
        line.material_id: line
        for line in BomLine.objects.filter(bom=wo.bom).select_related("material").order_by("id")
    }


def _invalid(field_name: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(
        message,
        field=field_name,
        details=[{"field": field_name, "message": message, "code": code}],
    )


# The unit ---------------------------------------------------------------------------------------


def unit_of(wo: WorkOrder, text: str, *, field: str = "unit") -> UnitRef:
    """The commissioned unit of ``wo`` that ``text`` (any UDI form) names."""
    from medtrace.trace.selectors import resolve_target

    text = (text or "").strip()
    if not text:
        raise _invalid(field, _("%(field)s: scan the unit first") % {"field": field})
    try:
        target = resolve_target(text, user=None, allow_class=False)
    except MedtraceError as exc:
        raise _invalid(field, f"{field}: {exc.message}", "unknown") from exc
    state = target.state
    if state is None or not state.get("serial"):
        raise _invalid(
            field,
            _("%(field)s: %(text)s is not a commissioned unit") % {"field": field, "text": text},
            "not_commissioned",
        )
    allocated = AllocatedSerial.objects.filter(
        product_id=state["product_id"], serial=state["serial"]
    ).values_list("work_order__number", "work_order_id")
    numbers = list(allocated)
    if state["product_id"] != wo.product_id or not numbers or numbers[0][1] != wo.pk:
        other = numbers[0][0] if numbers and numbers[0][0] else None
        message = (
            _("%(field)s: %(serial)s is a unit of %(other)s, not of %(number)s")
            % {"field": field, "serial": state["serial"], "other": other, "number": wo.number}
            if other
            else _("%(field)s: %(serial)s is not a unit of %(number)s")
            % {"field": field, "serial": state["serial"], "number": wo.number}
        )
        raise _invalid(field, message, "other_order")
    return UnitRef(target.epc, state["serial"])


def _lot_unit(wo: WorkOrder, quantity: Any) -> UnitRef:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise _invalid(
            "quantity",
            _(
                "quantity: %(number)s makes a lot; give how many units of it these components "
                "are for (a whole number)"
            )
            % {"number": wo.number},
        )
    if quantity > wo.commissioned_qty:
        raise _invalid(
            "quantity",
            _("quantity: %(n)d units asked, but %(number)s has commissioned %(done)d")
            % {"n": quantity, "number": wo.number, "done": wo.commissioned_qty},
        )
    return UnitRef(ev.lot_class(wo.product, wo.lot), wo.lot, quantity)


# Components -------------------------------------------------------------------------------------


def _own_unit(text: str) -> tuple[MaterialRef | None, MedtraceError | None]:
    """A unit we made (a sub-assembly), as a component: (ref, None); (None, None) when ``text``
    is not one of our units; (None, error) when it is but cannot be a component."""
    from medtrace.trace.selectors import resolve_target

    try:
        target = resolve_target(text, user=None, allow_class=False)
    except MedtraceError:
        return None, None
    state = target.state
    if state is None or state.get("product_id") is None or not state.get("serial"):
        return None, None
    material = Material.objects.filter(gtin=state["gtin"]).first() if state["gtin"] else None
    if material is None:
        product = Product.objects.filter(pk=state["product_id"]).first()
        return None, ValidationFailed(
            _(
                "%(serial)s is a unit of %(product)s, which is no material: a sub-assembly is "
                "fitted as the material that carries its GTIN (%(gtin)s)"
            )
            % {"serial": state["serial"], "product": product, "gtin": state["gtin"]},
        )
    source = (
        AllocatedSerial.objects.filter(product_id=state["product_id"], serial=state["serial"])
        .select_related("work_order")
        .first()
    )
    ref = MaterialRef(
        material=material,
        tracking=TrackingMode.SERIAL,
        identifier=state["serial"],
        epc=target.epc,
        supplier=None,
        expiry=state.get("expiry"),
        source_work_order=source.work_order if source is not None else None,
    )
    return ref, None


def component_resolve(
    wo: WorkOrder,
    text: str,
    *,
    lines: Mapping[int, BomLine] | None = None,
    field: str = "components",
) -> tuple[MaterialRef, BomLine]:
    """What a component scan names, and the line of ``wo``'s BOM it fills (else refused)."""
    text = (text or "").strip()
    if not text:
        raise _invalid(field, _("%(field)s: the scan is empty") % {"field": field})
    lines = lines if lines is not None else bom_lines(wo)
    ref, problem = _own_unit(text)
    if problem is not None:
        raise _invalid(field, f"{field}: {problem.message}", "not_a_material")
    if ref is None:
        try:
            ref = materials.material_resolve(text)
        except MedtraceError as exc:
            message = exc.message
            for prefix in ("components: ", "material_lot: "):
                message = message.removeprefix(prefix)
            raise _invalid(field, f"{field}: {message}", "unknown") from exc
    line = lines.get(ref.material.pk)
    if line is None:
        allowed = ", ".join(f"{x.material.code} {x.material.name}" for x in lines.values())
        raise _invalid(
            field,
            _(
                "%(field)s: %(code)s %(name)s (%(identifier)s) is not on BOM %(version)s of "
                "%(product)s; its components are: %(allowed)s"
            )
            % {
                "field": field,
                "code": ref.material.code,
                "name": ref.material.name,
                "identifier": ref.identifier,
                "version": wo.bom.version,
                "product": wo.product,
                "allowed": allowed or _("none"),
            },
            "not_on_bom",
        )
    return ref, line


def _scans(components: Sequence[Any]) -> list[ComponentScan]:
    if not components:
        raise _invalid("components", _("components: scan at least one component"))
    if len(components) > MAX_COMPONENTS:
        raise _invalid(
            "components",
            _("components: at most %(n)d per unit in one call") % {"n": MAX_COMPONENTS},
        )
    out = []
    for index, item in enumerate(components):
        name = f"components[{index}]"
        scan: Any
        qty: Any
        if isinstance(item, ComponentScan):
            scan, qty = item.scan, item.quantity
        elif isinstance(item, str):
            scan, qty = item, None
        elif isinstance(item, Mapping):
            unknown = set(item) - {"scan", "quantity"}
            if unknown:
                raise _invalid(
                    f"{name}.{sorted(unknown)[0]}",
                    _("%(field)s: unknown field; expected scan and quantity")
                    % {"field": f"{name}.{sorted(unknown)[0]}"},
                )
            scan, qty = item.get("scan"), item.get("quantity")
        else:
            raise _invalid(name, _("%(field)s: expected a scan") % {"field": name})
        if not isinstance(scan, str) or not scan.strip():
            raise _invalid(
                f"{name}.scan", _("%(field)s: the scan is empty") % {"field": f"{name}.scan"}
            )
        if qty is not None:
            try:
                qty = Decimal(str(qty))
            except InvalidOperation as exc:
                raise _invalid(
                    f"{name}.quantity",
                    _("%(field)s: %(value)r is not a number")
                    % {"field": f"{name}.quantity", "value": qty},
                ) from exc
            if not qty.is_finite() or qty <= 0:
                raise _invalid(
                    f"{name}.quantity",
                    _("%(field)s: expected a quantity above 0") % {"field": f"{name}.quantity"},
                )
        out.append(ComponentScan(scan.strip(), qty))
    return out


def _recorded(wo: WorkOrder, unit: str) -> dict[int, Decimal]:
    return {
        row["material_id"]: row["total"]
        for row in UnitComponent.objects.filter(work_order=wo, unit=unit)
        .values("material_id")
        .annotate(total=Sum("quantity"))
    }


def _quantities(
    wo: WorkOrder, unit: UnitRef, resolved: list[Resolved], previous: Mapping[int, Decimal]
) -> None:
    """Set each component's quantity and refuse anything over the BOM line (per unit)."""
    used: dict[int, Decimal] = defaultdict(Decimal)
    seen: dict[str, int] = {}
    errors = []
    for item in resolved:
        name = f"components[{item.index}]"
        line = item.line
        required = line.quantity * unit.units
        already = previous.get(line.material_id, Decimal(0))
        if item.ref.is_serial:
            if item.ref.epc in seen:
                errors.append(
                    (
                        name,
                        _("%(field)s: %(identifier)s is scanned twice (also as components[%(i)d])")
                        % {
                            "field": name,
                            "identifier": item.ref.identifier,
                            "i": seen[item.ref.epc],
                        },
                        "duplicate",
                    )
                )
                continue
            seen[item.ref.epc] = item.index
            given = item.quantity
            if given is not None and given != 1:
                errors.append(
                    (
                        f"{name}.quantity",
                        _(
                            "%(field)s: %(identifier)s is one serialized component; its "
                            "quantity is 1"
                        )
                        % {"field": f"{name}.quantity", "identifier": item.ref.identifier},
                        "serial_quantity",
                    )
                )
                continue
            item.quantity = Decimal(1)
        else:
            left = required - already - used[line.material_id]
            item.quantity = item.quantity if item.quantity is not None else left
            if item.quantity <= 0:
                errors.append(
                    (
                        name,
                        _(
                            "%(field)s: %(code)s is complete for %(unit)s (%(required)s %(uom)s "
                            "per BOM %(version)s); nothing more of lot %(lot)s is needed"
                        )
                        % {
                            "field": name,
                            "code": line.material.code,
                            "unit": unit.label,
                            "required": _fmt(required),
                            "uom": line.material.uom,
                            "version": wo.bom.version,
                            "lot": item.ref.identifier,
                        },
                        "complete",
                    )
                )
                continue
        used[line.material_id] += item.amount
        total = already + used[line.material_id]
        if total > required:
            errors.append(
                (
                    name,
                    _(
                        "%(field)s: BOM %(version)s asks %(per)s %(uom)s of %(code)s %(name)s per "
                        "unit; %(unit)s would have %(total)s (%(already)s recorded before)"
                    )
                    % {
                        "field": name,
                        "version": wo.bom.version,
                        "per": _fmt(line.quantity),
                        "uom": line.material.uom,
                        "code": line.material.code,
                        "name": line.material.name,
                        "unit": unit.label,
                        "total": _fmt(total),
                        "already": _fmt(already),
                    },
                    "over_bom",
                )
            )
    if errors:
        raise ValidationFailed(
            errors[0][1],
            field=errors[0][0],
            details=[{"field": f, "message": m, "code": c} for f, m, c in errors],
        )


def _check_states(unit: UnitRef, resolved: list[Resolved], *, lock: bool = False) -> None:
    serial_epcs = [r.ref.epc for r in resolved if r.ref.is_serial]
    if lock and serial_epcs:
        # Two stations (of different orders) scanning the same board at once: the second waits
        # here for the first to commit, then the rule below sees the board fitted already.
        list(
            UnitState.objects.select_for_update()
            .filter(epc__in=sorted(serial_epcs))
            .order_by("epc")
            .values_list("epc", flat=True)
        )
    for item in resolved:
        if item.ref.epc == unit.epc:
            raise _invalid(
                f"components[{item.index}]",
                _("components[%(i)d]: a unit cannot be a component of itself") % {"i": item.index},
            )
    if serial_epcs:
        # Commissioned or received, not scrapped, held, expired, in transit or fitted elsewhere.
        rules.check(rules.Step.CONSUME, serial_epcs, field="components")
    classes = {r.ref.epc: r for r in resolved if not r.ref.is_serial}
    if classes:
        hold = (
            Hold.objects.filter(target__in=list(classes), lifted_at__isnull=True)
            .order_by("placed_at")
            .first()
        )
        if hold is not None:
            item = classes[hold.target]
            raise _invalid(
                f"components[{item.index}]",
                _("components[%(i)d]: lot %(lot)s of %(code)s is on %(kind)s %(hold)s: %(reason)s")
                % {
                    "i": item.index,
                    "lot": item.ref.identifier,
                    "code": item.ref.material.code,
                    "kind": hold.get_kind_display(),
                    "hold": hold.number,
                    "reason": hold.reason,
                },
                "held",
            )


def _uom(material: Material) -> str | None:
    # EPCIS: a quantity without uom counts instances (EA).
    return None if material.uom == "EA" else material.uom


def work_order_assemble(
    *,
    work_order: WorkOrder,
    components: Sequence[ComponentScan | Mapping[str, Any] | str],
    user: User | None,
    unit: str | None = None,
    quantity: int | None = None,
    station: str = "",
    at: datetime | None = None,
) -> Assembled:
    """Record what went into one produced unit (``unit``: any UDI form), or into the order's
    lot for ``quantity`` units (lot-tracked product). See the module docstring."""
    require(user, PERM_CHANGE, _("record assembly"))
    scans = _scans(components)
    station = (station or "").strip()
    if len(station) > STATION_MAX:
        raise _invalid("station", _("station: at most %(n)d characters") % {"n": STATION_MAX})
    when = moment(at)
    with transaction.atomic():
        # The order's row serialises stations working on it, so the per-unit totals are exact.
        wo = locked(work_order)
        target, resolved = _prepare(wo, unit, quantity, scans, lock=True)
        lot_order = wo.product.tracking == TrackingMode.LOT
        events = _events(wo, target, resolved, when)
        stored = ev.emit([e for _kind, e in events], user=user)
        by_kind = {kind: row for (kind, _e), row in zip(events, stored, strict=True)}
        materials.material_consume(
            items=[(r.ref, r.amount) for r in resolved],
            user=user,
            reference=f"{wo.number} {target.label}",
        )
        rows = [
            UnitComponent(
                work_order=wo,
                unit=target.epc,
                unit_serial=target.label[:64],
                material=r.ref.material,
                bom_line=r.line,
                tracking=ComponentTracking.SERIAL if r.ref.is_serial else ComponentTracking.LOT,
                identifier=r.ref.identifier[:64],
                epc=r.ref.epc,
                quantity=r.amount,
                uom=r.ref.material.uom,
                supplier=r.ref.supplier,
                source_work_order=r.ref.source_work_order,
                material_lot_ref=getattr(r.ref.lot, "pk", None),
                event=by_kind["serial" if r.ref.is_serial and not lot_order else "lot"],
                station=station,
                assembled_at=when,
                assembled_by=user,
            )
            for r in resolved
        ]
        UnitComponent.objects.bulk_create(rows)
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(UnitComponent),
            object_id=target.epc,
            object_repr=f"{wo.number}: {len(rows)} components into {target.label}",
            changes={
                "work_order": wo.number,
                "unit": target.epc,
                "units": target.units,
                "station": station,
                "components": [
                    {
                        "material": r.ref.material.code,
                        "tracking": r.ref.tracking,
                        "identifier": r.ref.identifier,
                        "epc": r.ref.epc,
                        "quantity": str(r.amount),
                        "uom": r.ref.material.uom,
                    }
                    for r in resolved
                ],
                "events": [e.event_id for e in stored],
            },
            user=user,
        )
    from .selectors_dhr import assembly_checklist

    return Assembled(wo, target, rows, stored, assembly_checklist(wo, target.epc, target.units))


def _prepare(
    wo: WorkOrder,
    unit: str | None,
    quantity: int | None,
    scans: list[ComponentScan],
    *,
    lock: bool = False,
) -> tuple[UnitRef, list[Resolved]]:
    """Everything an assembly checks before it writes: the order's status, the unit, each
    component against the BOM and its quantity, and the components' states."""
    require_status(wo, _("record assembly for"), (WorkOrderStatus.IN_PROGRESS,))
    if wo.product.tracking == TrackingMode.LOT:
        target = _lot_unit(wo, quantity)
    else:
        if quantity not in (None, 1):
            raise _invalid("quantity", _("quantity: components go into one unit at a time"))
        target = unit_of(wo, unit or "", field="unit")
        rules.check(rules.Step.FIT, [target.epc], field="unit")
    lines = bom_lines(wo)
    resolved: list[Resolved] = []
    errors: list[dict[str, str]] = []
    for index, scan in enumerate(scans):
        try:
            ref, line = component_resolve(wo, scan.scan, lines=lines, field=f"components[{index}]")
        except ValidationFailed as exc:
            errors.extend(exc.details if isinstance(exc.details, list) else [])
            continue
        resolved.append(Resolved(index, scan.scan, ref, line, scan.quantity))
    if errors:
        raise ValidationFailed(errors[0]["message"], field=errors[0]["field"], details=errors)
    _quantities(wo, target, resolved, _recorded(wo, target.epc))
    _check_states(target, resolved, lock=lock)
    return target, resolved


def assembly_preview(
    *,
    work_order: WorkOrder,
    components: Sequence[ComponentScan | Mapping[str, Any] | str],
    unit: str | None = None,
    quantity: int | None = None,
) -> tuple[UnitRef, list[Resolved], list[dict[str, Any]]]:
    """What ``work_order_assemble`` would record, without writing anything: the unit, the
    resolved components and the BOM checklist with the pending scans counted. Raises exactly
    what the assembly would (the station shows it next to the scan)."""
    from .selectors_dhr import assembly_checklist

    scans = _scans(components) if components else []
    wo = WorkOrder.objects.select_related("product", "bom", "line").get(pk=work_order.pk)
    if scans:
        target, resolved = _prepare(wo, unit, quantity, scans)
    else:
        target, resolved = _prepare_unit_only(wo, unit, quantity), []
    checklist = assembly_checklist(wo, target.epc, target.units)
    pending: dict[int, Decimal] = defaultdict(Decimal)
    names: dict[int, list[str]] = defaultdict(list)
    for item in resolved:
        pending[item.line.material_id] += item.amount
        names[item.line.material_id].append(item.ref.identifier)
    for row in checklist:
        extra = pending.get(row["material_id"], Decimal(0))
        row["pending"] = format(extra.normalize(), "f") if extra else ""
        row["pending_identifiers"] = names.get(row["material_id"], [])
        row["complete"] = Decimal(row["recorded"]) + extra >= Decimal(row["required"])
    return target, resolved, checklist


def _prepare_unit_only(wo: WorkOrder, unit: str | None, quantity: int | None) -> UnitRef:
    require_status(wo, _("record assembly for"), (WorkOrderStatus.IN_PROGRESS,))
    if wo.product.tracking == TrackingMode.LOT:
        return _lot_unit(wo, quantity)
    target = unit_of(wo, unit or "", field="unit")
    rules.check(rules.Step.FIT, [target.epc], field="unit")
    return target


def _events(
    wo: WorkOrder, target: UnitRef, resolved: list[Resolved], when: datetime
) -> list[tuple[str, dict[str, Any]]]:
    common: dict[str, Any] = {
        "biz_step": "assembling",
        "at": when,
        "read_point": wo.line.sgln,
        "biz_location": wo.line.sgln,
        "transactions": [ev.bt("prodorder", wo.number)],
    }
    lots = [
        ev.quantity(r.ref.epc, r.amount, _uom(r.ref.material))
        for r in resolved
        if not r.ref.is_serial
    ]
    serials = [r.ref.epc for r in resolved if r.ref.is_serial]
    if wo.product.tracking == TrackingMode.LOT:
        # Everything goes into the lot: inputs consumed, the lot class (a quantity) out.
        event = ev.transformation_event(
            inputs=serials,
            input_quantities=lots,
            output_quantities=[ev.quantity(target.epc, target.units)],
            disposition=None,
            **common,
        )
        return [("lot", event)]
    out: list[tuple[str, dict[str, Any]]] = []
    if lots:
        out.append(
            (
                "lot",
                ev.transformation_event(
                    input_quantities=lots, outputs=[target.epc], disposition=None, **common
                ),
            )
        )
    if serials:
        out.append(
            (
                "serial",
                ev.association_event(action="ADD", parent=target.epc, children=serials, **common),
            )
        )
    return out
