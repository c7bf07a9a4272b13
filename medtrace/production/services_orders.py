"""Work orders (issue 5, item 2): create, release, commission, complete, cancel, close.

Each write follows DESIGN §4 in one transaction: the work order row (locked), the EPCIS events
through ``lifecycle.events.emit`` (projections and ledger seal included) and the audit entries.

Commissioning is built for volume: 10,000 serials in one call are allocated with one COPY,
checked by the unit state machine in a few set-based queries and written as ONE ObjectEvent
(ADD, bizStep ``commissioning``, disposition ``active``) with every EPC, the lot and expiry in
its ILMD, the line as readPoint and bizLocation and the work order as ``prodorder``
bizTransaction (bench/bench_commission.py measures it end to end).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.audit.signatures import signature_apply, signature_precheck
from medtrace.errors import Conflict, PermissionDenied, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lib import udi
from medtrace.lib.udi.epc import escape_component
from medtrace.lib.udi.gs1 import validate_element
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import (
    Bom,
    BomStatus,
    IssuingAgency,
    Location,
    LocationKind,
    Product,
    TrackingMode,
)

from .models import (
    LOT_MAX_LENGTH,
    AllocatedSerial,
    SerialRule,
    WorkOrder,
    WorkOrderCommissioning,
    WorkOrderStatus,
)
from .services import serials_allocate

PERM_ADD = "production.add_workorder"
PERM_CHANGE = "production.change_workorder"
PERM_CLOSE = "production.close_workorder"

MAX_QUANTITY = 1_000_000
ORDER_FIELDS = (
    "product_id",
    "bom_id",
    "quantity",
    "lot",
    "production_date",
    "expiry",
    "line_id",
    "planned_start",
    "planned_end",
    "notes",
)
OPEN = (WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS)


def require(user: User | None, perm: str, what: str) -> None:
    """People need ``perm`` (partners never have it); the CLI and demo act as the system."""
    if user is None:
        return
    if user.party_id is not None or not user.has_perm(perm):
        raise PermissionDenied(
            _("You may not %(what)s: it needs the permission %(perm)s")
            % {"what": what, "perm": perm},
            details={"required": perm},
        )


def moment(at: datetime | None) -> datetime:
    at = at or timezone.now()
    return timezone.make_aware(at) if timezone.is_naive(at) else at


def locked(work_order: WorkOrder) -> WorkOrder:
    """The work order's row, locked for the rest of the transaction (fresh values)."""
    return (
        WorkOrder.objects.select_for_update()
        .select_related("product", "bom", "line")
        .get(pk=work_order.pk)
    )


def _status_conflict(wo: WorkOrder, action: str, allowed: Sequence[str]) -> Conflict:
    labels = [str(WorkOrderStatus(s).label) for s in allowed]
    names = (
        labels[0]
        if len(labels) == 1
        else _("%(some)s or %(last)s")
        % {
            "some": ", ".join(labels[:-1]),
            "last": labels[-1],
        }
    )
    return Conflict(
        _(
            "Cannot %(action)s %(number)s: it is %(status)s; only a work order that is "
            "%(allowed)s can"
        )
        % {
            "action": action,
            "number": wo.number,
            "status": wo.get_status_display(),
            "allowed": names,
        },
        field="status",
        details={"status": wo.status, "allowed": list(allowed)},
    )


def require_status(wo: WorkOrder, action: str, allowed: Sequence[str]) -> None:
    if wo.status not in allowed:
        raise _status_conflict(wo, action, allowed)


# Create ---------------------------------------------------------------------------------------


def _date(data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(str(value)) if isinstance(value, str) else None
    if parsed is None:
        raise ValidationFailed(
            _("%(name)s: %(value)r is not a date; expected YYYY-MM-DD")
            % {"name": name, "value": value},
            field=name,
        )
    return parsed


def _int(data: Mapping[str, Any], name: str, *, low: int, high: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(
            _("%(name)s: expected a whole number from %(low)s to %(high)s; got %(got)r")
            % {"name": name, "low": low, "high": f"{high:,}", "got": value},
            field=name,
        )
    return value


def _product(data: Mapping[str, Any]) -> Product:
    pk = data.get("product_id")
    product = (
        Product.objects.filter(pk=pk).first()
        if isinstance(pk, int) and not isinstance(pk, bool)
        else None
    )
    if product is None:
        raise ValidationFailed(
            _("product_id: no product with id %(id)r") % {"id": pk}, field="product_id"
        )
    if not product.active:
        raise ValidationFailed(
            _("product_id: %(product)s is inactive; production needs an active product")
            % {"product": product},
            field="product_id",
        )
    if product.base_identifier() is None:
        raise ValidationFailed(
            _("product_id: %(product)s has no unit-level DI; add one before making units")
            % {"product": product},
            field="product_id",
        )
    return product


def _released_bom(product: Product, bom_id: Any) -> Bom:
    boms = list(Bom.objects.filter(product=product).order_by("version"))
    released = [b for b in boms if b.status == BomStatus.RELEASED]
    names = ", ".join(b.version for b in released) or _("none")
    if bom_id in (None, ""):
        if len(released) == 1:
            return released[0]
        raise ValidationFailed(
            _(
                "bom_id: %(product)s has %(n)d released BOM versions (%(names)s); name the one "
                "this work order builds to"
            )
            % {"product": product, "n": len(released), "names": names},
            field="bom_id",
        )
    bom = next((b for b in boms if b.pk == bom_id), None)
    if bom is None:
        other = (
            Bom.objects.filter(pk=bom_id).select_related("product").first()
            if isinstance(bom_id, int)
            else None
        )
        if other is not None:
            raise ValidationFailed(
                _("bom_id: BOM %(version)s belongs to %(other)s, not to %(product)s")
                % {"version": other.version, "other": other.product, "product": product},
                field="bom_id",
            )
        raise ValidationFailed(_("bom_id: no BOM with id %(id)r") % {"id": bom_id}, field="bom_id")
    if bom.status != BomStatus.RELEASED:
        raise ValidationFailed(
            _(
                "bom_id: BOM %(version)s of %(product)s is %(status)s; a work order needs a "
                "released BOM version (released: %(names)s)"
            )
            % {
                "version": bom.version,
                "product": product,
                "status": bom.get_status_display(),
                "names": names,
            },
            field="bom_id",
        )
    return bom


def _line(data: Mapping[str, Any]) -> Location:
    pk = data.get("line_id")
    line = (
        Location.objects.filter(pk=pk).first()
        if isinstance(pk, int) and not isinstance(pk, bool)
        else None
    )
    if line is None:
        raise ValidationFailed(
            _("line_id: no location with id %(id)r") % {"id": pk}, field="line_id"
        )
    if line.kind != LocationKind.PRODUCTION_LINE or not line.active:
        raise ValidationFailed(
            _("line_id: %(name)s (%(code)s) is a %(kind)s; expected an active production line")
            % {"name": line.name, "code": line.code, "kind": line.get_kind_display()},
            field="line_id",
        )
    return line


def _lot(product: Product, data: Mapping[str, Any]) -> str:
    lot = data.get("lot") or ""
    if not isinstance(lot, str):
        raise ValidationFailed(_("lot: expected text"), field="lot")
    lot = lot.strip()
    needs = product.tracking == TrackingMode.LOT or "lot" in (product.udi_pi_elements or [])
    if not lot:
        if needs:
            raise ValidationFailed(
                _(
                    "lot: %(product)s carries a lot number in its UDI-PI; give the lot this work "
                    "order makes"
                )
                % {"product": product},
                field="lot",
            )
        return ""
    if len(lot) > LOT_MAX_LENGTH:
        raise ValidationFailed(
            _("lot: at most %(n)d characters (GS1 AI 10)") % {"n": LOT_MAX_LENGTH}, field="lot"
        )
    try:
        validate_element("10", lot)
    except udi.UdiError as exc:
        raise ValidationFailed(_("lot: %(error)s") % {"error": exc}, field="lot") from exc
    taken = WorkOrder.objects.filter(product=product, lot=lot).values_list("number", flat=True)
    if taken:
        raise Conflict(
            _(
                "lot: %(lot)s of %(product)s is already made by %(number)s; a lot number is "
                "used once"
            )
            % {"lot": lot, "product": product, "number": taken[0]},
            field="lot",
        )
    return lot


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(ORDER_FIELDS))
    if unknown:
        raise ValidationFailed(
            _("%(field)s: unknown field; expected one of %(fields)s")
            % {"field": unknown[0], "fields": ", ".join(ORDER_FIELDS)},
            field=unknown[0],
        )
    product = _product(data)
    bom = _released_bom(product, data.get("bom_id"))
    quantity = _int(data, "quantity", low=1, high=MAX_QUANTITY)
    line = _line(data)
    planned_start = _date(data, "planned_start")
    planned_end = _date(data, "planned_end")
    if planned_start and planned_end and planned_end < planned_start:
        raise ValidationFailed(
            _("planned_end: %(end)s is before the planned start %(start)s")
            % {"end": planned_end, "start": planned_start},
            field="planned_end",
        )
    production_date = _date(data, "production_date") or planned_start or timezone.localdate()
    expiry = _date(data, "expiry")
    if expiry is None and product.shelf_life_days:
        expiry = production_date + timedelta(days=product.shelf_life_days)
    if expiry is not None and expiry <= production_date:
        raise ValidationFailed(
            _("expiry: %(expiry)s is not after the production date %(made)s")
            % {"expiry": expiry, "made": production_date},
            field="expiry",
        )
    if expiry is None and "expiry" in (product.udi_pi_elements or []):
        raise ValidationFailed(
            _(
                "expiry: %(product)s carries an expiry date in its UDI-PI and has no shelf life "
                "in master data; give the expiry date"
            )
            % {"product": product},
            field="expiry",
        )
    notes = data.get("notes") or ""
    if not isinstance(notes, str):
        raise ValidationFailed(_("notes: expected text"), field="notes")
    return {
        "product": product,
        "bom": bom,
        "quantity": quantity,
        "lot": _lot(product, data),
        "production_date": production_date,
        "expiry": expiry,
        "line": line,
        "planned_start": planned_start,
        "planned_end": planned_end,
        "notes": notes.strip(),
    }


def work_order_create(
    *, data: Mapping[str, Any], user: User | None, at: datetime | None = None
) -> WorkOrder:
    """Plan a work order: product, a released BOM version of it, quantity, line, lot/expiry.

    ``data``: product_id, bom_id (optional when the product has one released BOM), quantity,
    line_id, lot (required when the UDI-PI carries one), production_date, expiry (default:
    production date + the product's shelf life), planned_start, planned_end, notes.
    """
    require(user, PERM_ADD, _("create work orders"))
    values = _clean(data)
    with transaction.atomic():
        order = WorkOrder(
            number=next_number("WO"),
            created_at=moment(at),
            created_by=user,
            **values,
        )
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as exc:  # the same lot, planned at the same moment elsewhere
            raise Conflict(
                _("lot: %(lot)s was just used by another work order") % {"lot": values["lot"]},
                field="lot",
            ) from exc
        audit.record_create(order, user=user)
    return order


# Status changes --------------------------------------------------------------------------------


def _change(
    work_order: WorkOrder,
    *,
    user: User | None,
    action: str,
    allowed: Sequence[str],
    apply: Callable[[WorkOrder], None],
    reason: str = "",
) -> WorkOrder:
    with transaction.atomic():
        wo = locked(work_order)
        require_status(wo, action, allowed)
        before = audit.snapshot(wo)
        apply(wo)
        wo.save()
        audit.record_update(wo, before, user=user, reason=reason)
    return wo


def work_order_release(
    *, work_order: WorkOrder, user: User | None, at: datetime | None = None
) -> WorkOrder:
    """Release a planned work order to the line: its BOM must still be released and a
    serial-tracked product must have a serial rule."""
    require(user, PERM_CHANGE, _("release work orders"))
    when = moment(at)

    def apply(wo: WorkOrder) -> None:
        if wo.bom.status != BomStatus.RELEASED:
            raise Conflict(
                _("Cannot release %(number)s: BOM %(version)s is %(status)s now")
                % {
                    "number": wo.number,
                    "version": wo.bom.version,
                    "status": wo.bom.get_status_display(),
                },
                field="bom_id",
            )
        if (
            wo.product.tracking == TrackingMode.SERIAL
            and not SerialRule.objects.filter(product=wo.product, active=True).exists()
        ):
            raise Conflict(
                _(
                    "Cannot release %(number)s: %(product)s has no serial rule; set one first "
                    "(PUT /api/v1/products/%(id)s/serial-rule)"
                )
                % {"number": wo.number, "product": wo.product, "id": wo.product_id},
                field="product_id",
            )
        wo.status = WorkOrderStatus.RELEASED
        wo.released_at = when
        wo.released_by = user

    return _change(
        work_order,
        user=user,
        action=_("release"),
        allowed=(WorkOrderStatus.PLANNED,),
        apply=apply,
    )


def work_order_cancel(
    *, work_order: WorkOrder, user: User | None, reason: str, at: datetime | None = None
) -> WorkOrder:
    """Cancel a work order that has commissioned nothing (a cancellation keeps the row)."""
    require(user, PERM_CHANGE, _("cancel work orders"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("reason: say why the work order is cancelled"), field="reason")
    when = moment(at)

    def apply(wo: WorkOrder) -> None:
        if wo.commissioned_qty:
            raise Conflict(
                _(
                    "Cannot cancel %(number)s: %(n)d units are commissioned; complete it instead "
                    "(and scrap the units that are not wanted)"
                )
                % {"number": wo.number, "n": wo.commissioned_qty},
                field="status",
            )
        wo.status = WorkOrderStatus.CANCELLED
        wo.cancelled_at = when
        wo.cancelled_by = user
        wo.cancel_reason = reason

    return _change(
        work_order,
        user=user,
        action=_("cancel"),
        # In progress: refused with the reason (units are commissioned) rather than the status.
        allowed=(WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS),
        apply=apply,
        reason=reason,
    )


def work_order_complete(
    *, work_order: WorkOrder, user: User | None, at: datetime | None = None
) -> WorkOrder:
    """Complete production: every commissioned unit (or the lot) must have every critical BOM
    component recorded (exact genealogy is part of the device history record)."""
    from .selectors_dhr import genealogy_gaps

    require(user, PERM_CHANGE, _("complete work orders"))
    when = moment(at)

    def apply(wo: WorkOrder) -> None:
        if not wo.commissioned_qty:
            raise Conflict(
                _("Cannot complete %(number)s: nothing is commissioned yet; cancel it instead")
                % {"number": wo.number},
                field="status",
            )
        gaps = genealogy_gaps(wo)
        if gaps:
            first = gaps[0]
            lacking = ", ".join(
                f"{m['material']} ({m['recorded']} of {m['required']} {m['uom']})"
                for m in first["missing"]
            )
            more = _(" (and %(n)d more units)") % {"n": len(gaps) - 1} if len(gaps) > 1 else ""
            raise Conflict(
                _(
                    "Cannot complete %(number)s: %(unit)s lacks critical components %(lacking)s"
                    "%(more)s; record them at the assembly station"
                )
                % {
                    "number": wo.number,
                    "unit": first["serial"] or first["unit"],
                    "lacking": lacking,
                    "more": more,
                },
                field="components",
                details=gaps[:200],
            )
        wo.status = WorkOrderStatus.COMPLETED
        wo.completed_at = when
        wo.completed_by = user

    return _change(
        work_order,
        user=user,
        action=_("complete"),
        allowed=(WorkOrderStatus.IN_PROGRESS,),
        apply=apply,
    )


def work_order_close(
    *,
    work_order: WorkOrder,
    user: User | None,
    password: str,
    reason: str = "",
    at: datetime | None = None,
) -> WorkOrder:
    """Close a completed work order after the DHR review, e-signed (meaning "approved")."""
    require(user, PERM_CLOSE, _("close work orders (DHR review)"))
    signature_precheck(
        user=user,
        password=password,
        object_type=audit.label_of(WorkOrder),
        object_repr=str(work_order),
    )
    when = moment(at)
    with transaction.atomic():
        wo = locked(work_order)
        require_status(wo, _("close"), (WorkOrderStatus.COMPLETED,))
        before = audit.snapshot(wo)
        wo.status = WorkOrderStatus.CLOSED
        wo.closed_at = when
        wo.closed_by = user
        wo.save()
        audit.record_update(wo, before, user=user, reason=reason)
        signature_apply(
            record=wo,
            meaning="approved",
            user=user,
            password=password,
            reason=reason or _("Device history record reviewed; work order closed"),
        )
    return wo


# Commissioning ---------------------------------------------------------------------------------


@dataclass
class Commissioned:
    """What one commissioning run made: the row, the serials and EPCs, the ledger event."""

    commissioning: WorkOrderCommissioning
    work_order: WorkOrder
    event: Event
    serials: list[str] = field(default_factory=list)
    epcs: list[str] = field(default_factory=list)
    lot_class: str | None = None


def unit_epc_maker(product: Product) -> Callable[[str], str]:
    """``serial -> EPC`` for ``product``, reading its DI once (``events.unit_epc`` reads it
    for every serial)."""
    base = product.base_identifier()
    if base is None:
        raise ValidationFailed(
            _("product: %(product)s has no unit-level DI") % {"product": product}, field="product"
        )
    di = base.di
    if product.issuing_agency == IssuingAgency.HIBCC:
        return lambda serial: udi.hibc_urn(di, serial)
    gcp = product.gcp_length
    # The company.item part once (it checks the GTIN); per serial only the serial is checked.
    head = udi.sgtin_urn(di, "0", gcp)[:-1]

    def to_epc(serial: str) -> str:
        validate_element("21", serial)
        return head + escape_component(serial)

    return to_epc


def ilmd_of(wo: WorkOrder) -> dict[str, str] | None:
    ilmd: dict[str, str] = {}
    if wo.lot:
        ilmd["cbvmda:lotNumber"] = wo.lot
    if wo.expiry:
        ilmd["cbvmda:itemExpirationDate"] = wo.expiry.isoformat()
    return ilmd or None


def _count(wo: WorkOrder, count: Any, serials: Sequence[str] | None) -> int:
    serial_mode = wo.product.tracking == TrackingMode.SERIAL
    if serials is not None and not serial_mode:
        raise ValidationFailed(
            _("serials: %(product)s is tracked by lot; give the count made")
            % {"product": wo.product},
            field="serials",
        )
    if (count is None) == (serials is None):
        raise ValidationFailed(
            _(
                "count: give either count (new serials are allocated) or serials (already "
                "allocated to this order)"
            ),
            field="count",
        )
    name = "count" if serials is None else "serials"
    if serials is not None:
        if not serials:
            raise ValidationFailed(_("serials: give at least one serial"), field="serials")
        n = len(serials)
    else:
        n = _int({"count": count}, "count", low=1, high=MAX_QUANTITY)
    remaining = wo.quantity - wo.commissioned_qty
    if n > remaining:
        raise ValidationFailed(
            _(
                "%(field)s: %(number)s is for %(quantity)d units and %(done)d are commissioned, so "
                "at most %(left)d more; %(n)d asked"
            )
            % {
                "field": name,
                "number": wo.number,
                "quantity": wo.quantity,
                "done": wo.commissioned_qty,
                "left": remaining,
                "n": n,
            },
            field=name,
        )
    return n


def _preallocated(wo: WorkOrder, serials: Sequence[str]) -> list[str]:
    wanted = [s.strip() if isinstance(s, str) else s for s in serials]
    bad = [s for s in wanted if not isinstance(s, str) or not s]
    if bad:
        raise ValidationFailed(_("serials: every serial is non-empty text"), field="serials")
    if len(set(wanted)) != len(wanted):
        seen: set[str] = set()
        twice = next(s for s in wanted if s in seen or seen.add(s))  # type: ignore[func-returns-value]
        raise ValidationFailed(
            _("serials: %(serial)s is given twice") % {"serial": twice}, field="serials"
        )
    found = set(
        AllocatedSerial.objects.filter(work_order=wo, serial__in=wanted).values_list(
            "serial", flat=True
        )
    )
    missing = [s for s in wanted if s not in found]
    if missing:
        more = _(" (and %(n)d more)") % {"n": len(missing) - 1} if len(missing) > 1 else ""
        raise ValidationFailed(
            _(
                "serials: %(serial)s%(more)s was not allocated to %(number)s; commission serials "
                "allocated to this order, or give a count to allocate new ones"
            )
            % {"serial": missing[0], "more": more, "number": wo.number},
            field="serials",
            details={"not_allocated": missing[:100]},
        )
    return wanted


def work_order_commission(
    *,
    work_order: WorkOrder,
    count: int | None = None,
    serials: Sequence[str] | None = None,
    user: User | None,
    at: datetime | None = None,
) -> Commissioned:
    """Commission units of a released work order in one EPCIS event.

    Serial-tracked product: ``count`` allocates that many new serials to the order (its serial
    rule), or ``serials`` names serials already allocated to it. Lot-tracked product: ``count``
    units of the order's lot are commissioned as a quantity (quantityList of the lot class).
    The unit state machine refuses a serial commissioned before (nothing is stored then).
    """
    require(user, PERM_CHANGE, _("commission units"))
    when = moment(at)
    with transaction.atomic():
        wo = locked(work_order)
        require_status(wo, _("commission units of"), OPEN)
        n = _count(wo, count, serials)
        product = wo.product
        common: dict[str, Any] = {
            "action": "ADD",
            "biz_step": "commissioning",
            "disposition": "active",
            "at": when,
            "read_point": wo.line.sgln,
            "biz_location": wo.line.sgln,
            "transactions": [ev.bt("prodorder", wo.number)],
            "ilmd": ilmd_of(wo),
            # A client eventID: hashing a 10,000-EPC event costs ~0.1 s and buys nothing here.
            "extra": {"eventID": f"urn:uuid:{uuid.uuid4()}"},
        }
        made: list[str] = []
        epcs: list[str] = []
        lot_class = None
        if product.tracking == TrackingMode.SERIAL:
            if serials is None:
                made = list(
                    serials_allocate(product=product, count=n, user=user, work_order=wo, at=when)
                )
            else:
                made = _preallocated(wo, serials)
            to_epc = unit_epc_maker(product)
            epcs = [to_epc(s) for s in made]
            rules.check(rules.Step.COMMISSION, epcs, field="serials" if serials else "count")
            event = ev.object_event(epcs=epcs, **common)
        else:
            lot_class = ev.lot_class(product, wo.lot)
            event = ev.object_event(quantities=[ev.quantity(lot_class, n)], **common)
        [stored] = ev.emit([event], user=user)
        row = WorkOrderCommissioning.objects.create(
            work_order=wo,
            event=stored,
            count=n,
            first_serial=made[0] if made else "",
            last_serial=made[-1] if made else "",
            commissioned_at=when,
            commissioned_by=user,
        )
        before = audit.snapshot(wo)
        wo.commissioned_qty += n
        if wo.status == WorkOrderStatus.RELEASED:
            wo.status = WorkOrderStatus.IN_PROGRESS
            wo.started_at = when
        wo.save(update_fields=["commissioned_qty", "status", "started_at"])
        audit.record_update(wo, before, user=user)
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(row),
            object_id=row.pk,
            object_repr=f"{wo.number}: {n} commissioned",
            changes={
                "work_order": wo.number,
                "count": n,
                "first_serial": row.first_serial,
                "last_serial": row.last_serial,
                "lot": wo.lot,
                "event": stored.event_id,
            },
            user=user,
        )
    return Commissioned(row, wo, stored, made, epcs, lot_class)
