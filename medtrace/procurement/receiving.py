"""Goods receipt against a purchase order, incoming inspection, and certificate scans.

Goods receipt (one transaction): the receipt and its lines, one ``MaterialLot`` per supplier lot
or per serial, the PO's received quantities and status, the CoC attachment, the audit entries
and one EPCIS ObjectEvent per receipt line::

    action ADD, bizStep receiving, disposition in_progress (awaiting inspection),
    epcList (serials) or quantityList (lot class, quantity, uom),
    ilmd {cbvmda:lotNumber, cbvmda:itemExpirationDate}, readPoint/bizLocation = the incoming
    or quarantine location, sourceList = supplier (owning + possessing),
    destinationList = us, bizTransactionList = po (PO number) + recadv (receipt number).

Incoming inspection: per MaterialLot, accepted + rejected = received. The accepted part is an
ObjectEvent OBSERVE bizStep ``accepting`` disposition ``conformant`` (sourceList = supplier,
destinationList = us: CBV's hand-over step), the rejected part bizStep ``inspecting`` disposition
``non_conformant``, both with bizTransaction ``testres`` (the inspection number), ``po`` and
``recadv``. Rejected material can never be consumed (``services.material_consume``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import Conflict, ValidationFailed
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.models import Attachment
from medtrace.lifecycle.services import attachment_store, next_number, own_party
from medtrace.masterdata import services as masterdata
from medtrace.masterdata.models import Location, PartyLicence, TrackingMode

from .common import as_quantity, fmt, require
from .models import (
    RECEIVABLE_PO_STATUSES,
    GoodsReceipt,
    GoodsReceiptLine,
    IncomingInspection,
    MaterialLot,
    MaterialLotStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
)
from .qualification import require_qualified

PERM_RECEIVE = "procurement.add_goodsreceipt"
PERM_INSPECT = "procurement.add_incominginspection"
CBVMDA = "cbvmda"


# Certificate scans -----------------------------------------------------------------------------


def licence_scan_upload(
    *,
    licence: PartyLicence,
    name: str,
    content: bytes,
    content_type: str = "",
    user: User | None,
    reason: str = "",
) -> PartyLicence:
    """Store the scan of a supplier certificate and attach it to the licence (audited)."""
    require(user, "masterdata.change_partylicence", "attach certificate scans")
    with transaction.atomic():
        scan = attachment_store(
            name=name, content=content, content_type=content_type, user=user, field="scan"
        )
        return masterdata.licence_update(
            licence=licence,
            data={"scan_id": scan.pk},
            user=user,
            reason=reason or f"scan {scan.name} (SHA-256 {scan.sha256}) attached",
        )


# Goods receipt ---------------------------------------------------------------------------------


def _date(value: Any, *, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(str(value).strip()) if isinstance(value, str) else None
    if parsed is None:
        raise ValidationFailed(f"{field}: {value!r} is not a date (YYYY-MM-DD)", field=field)
    return parsed


def _text(value: Any, *, field: str, max_length: int = 64) -> str:
    text = str(value or "").strip()
    if len(text) > max_length:
        raise ValidationFailed(
            f"{field}: at most {max_length} characters, got {len(text)}", field=field
        )
    if any(ord(ch) < 32 for ch in text):
        raise ValidationFailed(f"{field}: control characters are not allowed", field=field)
    return text


class _Line:
    def __init__(
        self,
        index: int,
        order_line: PurchaseOrderLine,
        lot: str,
        serials: list[str],
        expires_on: date | None,
        quantity: Decimal,
    ) -> None:
        self.index = index
        self.order_line = order_line
        self.lot = lot
        self.serials = serials
        self.expires_on = expires_on
        self.quantity = quantity

    @property
    def prefix(self) -> str:
        return f"lines[{self.index}]"


LINE_KEYS = {"order_line_id", "line", "lot", "serials", "expires_on", "quantity"}


def _parse_lines(
    order: PurchaseOrder, lines: Sequence[Mapping[str, Any]], *, today: date
) -> list[_Line]:
    if not lines:
        raise ValidationFailed("lines: record at least one received line", field="lines")
    order_lines = list(order.lines.select_related("material").order_by("position"))
    by_id = {line.pk: line for line in order_lines}
    by_position = {line.position: line for line in order_lines}
    out: list[_Line] = []
    for index, raw in enumerate(lines):
        prefix = f"lines[{index}]"
        unknown = sorted(set(raw) - LINE_KEYS)
        if unknown:
            raise ValidationFailed(
                f"{prefix}.{unknown[0]}: unknown field; expected one of "
                f"{', '.join(sorted(LINE_KEYS))}",
                field=f"{prefix}.{unknown[0]}",
            )
        order_line = None
        if raw.get("order_line_id") not in (None, ""):
            order_line = by_id.get(int(raw["order_line_id"]))
        elif raw.get("line") not in (None, ""):
            order_line = by_position.get(int(raw["line"]))
        else:
            raise ValidationFailed(
                f"{prefix}.order_line_id: name the PO line received (order_line_id or line)",
                field=f"{prefix}.order_line_id",
            )
        if order_line is None:
            ref = raw.get("order_line_id") or raw.get("line")
            raise ValidationFailed(
                f"{prefix}.order_line_id: {order.number} has no line {ref}",
                field=f"{prefix}.order_line_id",
            )
        material = order_line.material
        lot = _text(raw.get("lot"), field=f"{prefix}.lot")
        serials_raw = raw.get("serials") or []
        if isinstance(serials_raw, str):
            serials_raw = serials_raw.split()
        serials = [_text(s, field=f"{prefix}.serials") for s in serials_raw]
        serials = [s for s in serials if s]
        expires_on = _date(raw.get("expires_on"), field=f"{prefix}.expires_on")
        if expires_on is not None and expires_on < today:
            raise ValidationFailed(
                f"{prefix}.expires_on: {material.code} lot {lot or '-'} expired on "
                f"{expires_on.isoformat()}; expired material is not received",
                field=f"{prefix}.expires_on",
            )
        if material.tracking == TrackingMode.SERIAL:
            if not serials:
                raise ValidationFailed(
                    f"{prefix}.serials: {material.code} is serial-tracked; scan every serial "
                    "received",
                    field=f"{prefix}.serials",
                )
            seen: set[str] = set()
            for serial in serials:
                if serial in seen:
                    raise ValidationFailed(
                        f"{prefix}.serials: serial {serial} of {material.code} is listed twice",
                        field=f"{prefix}.serials",
                    )
                seen.add(serial)
            quantity = Decimal(len(serials))
            if raw.get("quantity") not in (None, ""):
                given = as_quantity(raw["quantity"], field=f"{prefix}.quantity")
                if given != quantity:
                    raise ValidationFailed(
                        f"{prefix}.quantity: {fmt(given)} given but {len(serials)} serials "
                        "scanned; they must agree",
                        field=f"{prefix}.quantity",
                    )
        else:
            if serials:
                raise ValidationFailed(
                    f"{prefix}.serials: {material.code} is lot-tracked; give its lot, not serials",
                    field=f"{prefix}.serials",
                )
            if not lot:
                raise ValidationFailed(
                    f"{prefix}.lot: {material.code} is lot-tracked; give the supplier's lot",
                    field=f"{prefix}.lot",
                )
            quantity = as_quantity(raw.get("quantity"), field=f"{prefix}.quantity")
        out.append(_Line(index, order_line, lot, serials, expires_on, quantity))
    return out


def _check_lines(order: PurchaseOrder, parsed: list[_Line]) -> None:
    # Over-receipt: this receipt's quantities per PO line on top of what was already received.
    totals: dict[int, Decimal] = {}
    for line in parsed:
        ol = line.order_line
        totals[ol.pk] = totals.get(ol.pk, Decimal(0)) + line.quantity
        if ol.received_qty + totals[ol.pk] > ol.quantity:
            over = ol.received_qty + totals[ol.pk] - ol.quantity
            raise ValidationFailed(
                f"{line.prefix}.quantity: over-receipt: {order.number} line {ol.position} "
                f"({ol.material.code}) ordered {fmt(ol.quantity)} {ol.uom}, "
                f"{fmt(ol.received_qty)} already received; this receipt would be "
                f"{fmt(over)} over",
                field=f"{line.prefix}.quantity",
            )
    # Duplicates: within the receipt and against everything received before.
    wanted: dict[tuple[int, str, str], _Line] = {}
    for line in parsed:
        material = line.order_line.material
        idents = line.serials or [line.lot]
        for ident in idents:
            key = (material.pk, material.tracking, ident)
            if key in wanted:
                what = "serial" if line.serials else "lot"
                raise ValidationFailed(
                    f"{line.prefix}.{'serials' if line.serials else 'lot'}: {what} {ident} of "
                    f"{material.code} appears twice in this receipt",
                    field=f"{line.prefix}.{'serials' if line.serials else 'lot'}",
                )
            wanted[key] = line
    if not wanted:
        return
    material_ids = {k[0] for k in wanted}
    existing = MaterialLot.objects.filter(
        material_id__in=material_ids, identifier__in={k[2] for k in wanted}
    ).select_related("material", "receipt_line__receipt")
    for lot in existing:
        key = (lot.material_id, lot.tracking, lot.identifier)
        if key in wanted:
            line = wanted[key]
            field = f"{line.prefix}.{'serials' if line.serials else 'lot'}"
            what = "serial" if line.serials else "lot"
            raise ValidationFailed(
                f"{field}: {what} {lot.identifier} of {lot.material.code} was already received "
                f"on {lot.receipt_line.receipt.number}; a {what} is received once",
                field=field,
            )


def _own_location(location: Location | int | None) -> Location:
    us = own_party()
    pk = location.pk if isinstance(location, Location) else location
    found = (
        Location.objects.filter(pk=pk, party=us, active=True).first() if pk is not None else None
    )
    if found is None:
        raise ValidationFailed(
            f"location_id: pick the incoming / quarantine location, one of {us.name}'s active "
            "locations",
            field="location_id",
        )
    return found


def goods_receipt_create(
    *,
    order: PurchaseOrder,
    location: Location | int | None,
    lines: Sequence[Mapping[str, Any]],
    coc_name: str,
    coc_content: bytes,
    coc_content_type: str = "",
    user: User | None,
    delivery_note: str = "",
    note: str = "",
    at: datetime | None = None,
) -> GoodsReceipt:
    """Receive goods against a released PO, with the supplier's certificate of conformity.

    ``lines``: ``{"order_line_id" or "line" (PO line position), "lot", "serials" (list, for a
    serial-tracked material), "expires_on", "quantity"}``. Refused, storing nothing, when the
    supplier is not qualified on the day (certificate missing or expired, material not
    approved), the PO is not released, a line would exceed what was ordered, a lot or serial was
    received before, or an expiry date is in the past.
    """
    require(user, PERM_RECEIVE, "receive goods")
    now = at or timezone.now()
    today = timezone.localdate(now) if timezone.is_aware(now) else now.date()
    with transaction.atomic():
        order = (
            PurchaseOrder.objects.select_for_update().select_related("supplier").get(pk=order.pk)
        )
        if order.status not in RECEIVABLE_PO_STATUSES:
            hint = " (release it first)" if order.status == PurchaseOrderStatus.DRAFT else ""
            raise Conflict(
                f"{order.number} is {order.get_status_display()}; goods are received only "
                f"against a released PO{hint}",
                field="order",
            )
        # Lock the PO lines too: two clerks receiving the same PO cannot both over-receive.
        list(PurchaseOrderLine.objects.select_for_update().filter(order=order).order_by("pk"))
        parsed = _parse_lines(order, lines, today=today)
        supplier = order.supplier
        require_qualified(
            supplier,
            [(line.order_line.material, f"{line.prefix}.order_line_id") for line in parsed],
            on=today,
            action=f"receive goods against {order.number}",
        )
        _check_lines(order, parsed)
        location_row = _own_location(location)
        if not coc_content:
            raise ValidationFailed(
                "coc: attach the supplier's certificate of conformity (CoC)", field="coc"
            )
        coc = attachment_store(
            name=coc_name,
            content=coc_content,
            content_type=coc_content_type,
            user=user,
            field="coc",
        )
        receipt = GoodsReceipt.objects.create(
            number=next_number("GR"),
            order=order,
            supplier=supplier,
            location=location_row,
            delivery_note=_text(delivery_note, field="delivery_note"),
            coc=coc,
            note=(note or "").strip(),
            received_at=now,
            received_by=user,
        )
        receipt_lines = GoodsReceiptLine.objects.bulk_create(
            GoodsReceiptLine(
                receipt=receipt,
                order_line=line.order_line,
                lot=line.lot,
                expires_on=line.expires_on,
                quantity=line.quantity,
            )
            for line in parsed
        )
        lots: list[MaterialLot] = []
        for line, row in zip(parsed, receipt_lines, strict=True):
            material = line.order_line.material
            if line.serials:
                lots.extend(
                    MaterialLot(
                        material=material,
                        supplier=supplier,
                        receipt_line=row,
                        tracking=TrackingMode.SERIAL,
                        identifier=serial,
                        lot=line.lot,
                        epc=ev.material_serial_epc(material, serial),
                        expires_on=line.expires_on,
                        uom=material.uom,
                        received_qty=Decimal(1),
                    )
                    for serial in line.serials
                )
            else:
                lots.append(
                    MaterialLot(
                        material=material,
                        supplier=supplier,
                        receipt_line=row,
                        tracking=TrackingMode.LOT,
                        identifier=line.lot,
                        lot=line.lot,
                        epc=ev.material_lot_class(material, line.lot),
                        expires_on=line.expires_on,
                        uom=material.uom,
                        received_qty=line.quantity,
                    )
                )
        try:
            with transaction.atomic():
                MaterialLot.objects.bulk_create(lots)
        except IntegrityError as exc:
            # A concurrent receipt of the same serial or lot won the race.
            raise Conflict(
                "lines: a lot or serial of this receipt was received at the same moment by "
                "another receipt; reload and check",
                field="lines",
            ) from exc
        order_lines = {line.order_line.pk: line.order_line for line in parsed}
        for line in parsed:
            line.order_line.received_qty += line.quantity
        PurchaseOrderLine.objects.bulk_update(list(order_lines.values()), ["received_qty"])
        before = audit.snapshot(order)
        all_lines = list(order.lines.all())
        order.status = (
            PurchaseOrderStatus.RECEIVED
            if all(ol.received_qty >= ol.quantity for ol in all_lines)
            else PurchaseOrderStatus.PARTIALLY_RECEIVED
        )
        order.save(update_fields=["status", "updated_at"])
        audit.record_update(order, before, user=user)
        audit.record_create(receipt, user=user)
        audit.record(
            action="create",
            object_type="procurement.goodsreceiptline",
            object_id=receipt.pk,
            object_repr=f"{receipt.number} lines",
            changes={
                "lines": [
                    {
                        "po_line": line.order_line.position,
                        "material": line.order_line.material.code,
                        "lot": line.lot,
                        "serials": line.serials,
                        "expires_on": line.expires_on,
                        "quantity": fmt(line.quantity),
                    }
                    for line in parsed
                ],
                "coc_sha256": coc.sha256,
            },
            user=user,
        )
        ev.emit(_receipt_events(receipt, parsed, location_row, now), user=user)
    return receipt


def _ilmd(lot: str, expires_on: date | None) -> dict[str, Any] | None:
    ilmd: dict[str, Any] = {}
    if lot:
        ilmd[f"{CBVMDA}:lotNumber"] = lot
    if expires_on is not None:
        ilmd[f"{CBVMDA}:itemExpirationDate"] = expires_on.isoformat()
    return ilmd or None


def _receipt_events(
    receipt: GoodsReceipt, parsed: list[_Line], location: Location, at: datetime
) -> list[dict[str, Any]]:
    us = own_party()
    supplier = receipt.supplier
    sources = ev.parties("source", owner=supplier, holder=supplier)
    destinations = ev.parties("destination", owner=us, holder=us)
    transactions = [ev.bt("po", receipt.order.number), ev.bt("recadv", receipt.number)]
    events = []
    for line in parsed:
        material = line.order_line.material
        if line.serials:
            epcs = [ev.material_serial_epc(material, s) for s in line.serials]
            quantities: list[dict[str, Any]] = []
        else:
            epcs = []
            quantities = [
                ev.quantity(ev.material_lot_class(material, line.lot), line.quantity, material.uom)
            ]
        events.append(
            ev.object_event(
                action="ADD",
                epcs=epcs,
                quantities=quantities,
                biz_step="receiving",
                disposition="in_progress",
                at=at,
                read_point=location.sgln,
                biz_location=location.sgln,
                transactions=transactions,
                sources=sources,
                destinations=destinations,
                ilmd=_ilmd(line.lot, line.expires_on),
            )
        )
    return events


# Incoming inspection ---------------------------------------------------------------------------


def _inspect(
    items: list[tuple[MaterialLot, Decimal, Decimal]],
    *,
    note: str,
    user: User | None,
    at: datetime | None,
) -> list[IncomingInspection]:
    """Record the inspection of already locked, awaiting lots (accepted, rejected per lot)."""
    now = at or timezone.now()
    receipts = {
        r.pk: r
        for r in GoodsReceipt.objects.select_related("order", "location", "supplier").filter(
            lines__material_lots__in=[lot for lot, _a, _r in items]
        )
    }
    line_receipt = dict(
        GoodsReceiptLine.objects.filter(
            pk__in={lot.receipt_line_id for lot, _a, _r in items}
        ).values_list("pk", "receipt_id")
    )
    number = next_number("IQC")
    inspections = []
    groups: dict[tuple[int, str], list[tuple[MaterialLot, Decimal, str]]] = {}
    for lot, accepted, rejected in items:
        if rejected == 0:
            result = MaterialLotStatus.ACCEPTED
        elif accepted == 0:
            result = MaterialLotStatus.REJECTED
        else:
            result = MaterialLotStatus.PARTLY_ACCEPTED
        before = audit.snapshot(lot)
        lot.accepted_qty, lot.rejected_qty, lot.status = accepted, rejected, result
        lot.save(update_fields=["accepted_qty", "rejected_qty", "status"])
        inspection = IncomingInspection.objects.create(
            number=number,
            material_lot=lot,
            result=result,
            accepted_qty=accepted,
            rejected_qty=rejected,
            note=note,
            inspected_at=now,
            inspected_by=user,
        )
        audit.record_create(inspection, user=user, reason=note)
        audit.record_update(lot, before, user=user, reason=note)
        inspections.append(inspection)
        receipt_id = line_receipt[lot.receipt_line_id]
        if accepted > 0:
            groups.setdefault((receipt_id, "accepted"), []).append(
                (lot, accepted, inspection.number)
            )
        if rejected > 0:
            groups.setdefault((receipt_id, "rejected"), []).append(
                (lot, rejected, inspection.number)
            )
    events = []
    us = own_party() if groups else None
    for (receipt_id, part), members in groups.items():
        receipt = receipts[receipt_id]
        # CBV accepting: the step where the goods change possession and ownership; its source
        # (the supplier) also makes it procurement on a timeline (trace.phases), as the
        # receiving event is.
        handover: dict[str, Any] = {}
        if part == "accepted":
            handover = {
                "sources": ev.parties("source", owner=receipt.supplier, holder=receipt.supplier),
                "destinations": ev.parties("destination", owner=us, holder=us),
            }
        epcs = [lot.epc for lot, _q, _n in members if lot.tracking == TrackingMode.SERIAL]
        quantities = [
            ev.quantity(lot.epc, qty, lot.uom)
            for lot, qty, _n in members
            if lot.tracking != TrackingMode.SERIAL
        ]
        numbers = list(dict.fromkeys(n for _l, _q, n in members))
        events.append(
            ev.object_event(
                action="OBSERVE",
                epcs=epcs,
                quantities=quantities,
                biz_step="accepting" if part == "accepted" else "inspecting",
                disposition="conformant" if part == "accepted" else "non_conformant",
                at=now,
                read_point=receipt.location.sgln,
                biz_location=receipt.location.sgln,
                transactions=[
                    *(ev.bt("testres", n) for n in numbers),
                    ev.bt("po", receipt.order.number),
                    ev.bt("recadv", receipt.number),
                ],
                **handover,
            )
        )
    ev.emit(events, user=user)
    return inspections


def _awaiting(lot: MaterialLot) -> None:
    if lot.status != MaterialLotStatus.AWAITING_INSPECTION:
        done = IncomingInspection.objects.filter(material_lot=lot).first()
        raise Conflict(
            f"{lot.material.code}/{lot.identifier} was already inspected"
            + (f" ({done.number}, {done.get_result_display()})" if done else "")
            + "; an inspection decision is final (raise a nonconformance for a later finding)",
            field="material_lot",
        )


def inspection_record(
    *,
    lot: MaterialLot,
    accepted_qty: Any,
    rejected_qty: Any = None,
    note: str = "",
    user: User | None,
    at: datetime | None = None,
) -> IncomingInspection:
    """Accept, reject or partly accept one MaterialLot (accepted + rejected = received).

    ``rejected_qty`` defaults to the rest. Rejecting anything needs ``note`` (the finding).
    """
    require(user, PERM_INSPECT, "record incoming inspections")
    note = (note or "").strip()
    with transaction.atomic():
        lot = MaterialLot.objects.select_for_update().select_related("material").get(pk=lot.pk)
        _awaiting(lot)
        accepted = as_quantity(accepted_qty, field="accepted_qty", positive=False)
        rejected = (
            lot.received_qty - accepted
            if rejected_qty in (None, "")
            else as_quantity(rejected_qty, field="rejected_qty", positive=False)
        )
        if accepted + rejected != lot.received_qty:
            shown = fmt(max(rejected, Decimal(0)))
            name = f"{lot.material.code}/{lot.identifier}"
            raise ValidationFailed(
                f"accepted_qty: accepted {fmt(accepted)} + rejected {shown} must equal the "
                f"{fmt(lot.received_qty)} {lot.uom} received of {name}",
                field="accepted_qty",
            )
        if rejected > 0 and not note:
            raise ValidationFailed(
                "note: say what was found on the rejected material", field="note"
            )
        return _inspect([(lot, accepted, rejected)], note=note, user=user, at=at)[0]


def inspection_record_serials(
    *,
    receipt_line: GoodsReceiptLine,
    rejected: Sequence[str] = (),
    note: str = "",
    user: User | None,
    at: datetime | None = None,
) -> list[IncomingInspection]:
    """Inspect every serial of a receipt line still awaiting inspection at once: the serials
    in ``rejected`` (serials, EPCs or scanned labels) are rejected, all others accepted."""
    from .selectors import material_lot_resolve

    require(user, PERM_INSPECT, "record incoming inspections")
    note = (note or "").strip()
    with transaction.atomic():
        lots = list(
            MaterialLot.objects.select_for_update()
            .select_related("material")
            .filter(receipt_line=receipt_line, status=MaterialLotStatus.AWAITING_INSPECTION)
            .order_by("pk")
        )
        if not lots:
            raise Conflict(
                "receipt_line: nothing on this receipt line is awaiting inspection",
                field="receipt_line",
            )
        if lots[0].tracking != TrackingMode.SERIAL:
            raise ValidationFailed(
                "receipt_line: this line is lot-tracked; inspect the lot with its quantities",
                field="receipt_line",
            )
        by_ident = {lot.identifier: lot for lot in lots}
        by_epc = {lot.epc: lot for lot in lots}
        out: set[int] = set()
        for index, text in enumerate(t.strip() for t in rejected):
            if not text:
                continue
            lot = by_ident.get(text) or by_epc.get(text)
            if lot is None:
                found = material_lot_resolve(
                    text, material=lots[0].material, field=f"rejected[{index}]"
                )
                lot = by_ident.get(found.identifier)
                if lot is None:
                    raise ValidationFailed(
                        f"rejected[{index}]: {found.identifier} is not awaiting inspection on "
                        "this receipt line",
                        field=f"rejected[{index}]",
                    )
            out.add(lot.pk)
        if out and not note:
            raise ValidationFailed("note: say what was found on the rejected serials", field="note")
        items = [
            (lot, Decimal(0), Decimal(1)) if lot.pk in out else (lot, Decimal(1), Decimal(0))
            for lot in lots
        ]
        return _inspect(items, note=note, user=user, at=at)


def coc_of(receipt: GoodsReceipt) -> Attachment:
    return receipt.coc
