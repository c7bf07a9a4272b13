"""Distribution writes: sales orders, shipments, partner receipts (DESIGN §4: one transaction).

Events written to the ledger (CBV 2.0 terms):

- shipping: ObjectEvent OBSERVE, bizStep ``shipping``, disposition ``in_transit`` over the
  scanned units and SSCCs (the ledger carries it to what is packed inside), readPoint our
  warehouse; sourceList owning_party + possessing_party = us and ``location`` = our warehouse,
  destinationList owning_party + possessing_party = the consignee and ``location`` = the ship-to.
  bizTransactionList: ``po`` = the customer's purchase order (in the customer's GLN namespace,
  when they gave one), ``poc`` = our sales order (CBV "purchase order confirmation": the seller's
  acceptance of the buyer's order, which is what a sales order is), ``desadv`` = the shipment
  (despatch advice).
- receiving (partner receipt): ObjectEvent OBSERVE, bizStep ``receiving``, disposition
  ``in_progress``, readPoint + bizLocation the ship-to location; source us, destination the
  consignee (owning + possessing + location); bizTransactionList ``desadv`` = the shipment and
  ``recadv`` = the receipt (receiving advice).

Returns are in ``returns.py``; a partner's receipt captured through EPCIS in
``epcis_receipt.py``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.scoping import party_identifiers
from medtrace.alerts.models import AlertSeverity
from medtrace.alerts.services import alert_raise
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import NotFound, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.selectors import contents
from medtrace.lifecycle.services import next_number, own_party
from medtrace.masterdata.models import (
    LicenceKind,
    Location,
    Party,
    PartyLicence,
    PartyRole,
    Product,
    TrackingMode,
)

from .models import (
    ReceiptChannel,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Shipment,
    ShipmentItem,
    ShipmentReceipt,
    ShipmentStatus,
)

PERM_ORDER_ADD = "distribution.add_salesorder"
PERM_ORDER_CHANGE = "distribution.change_salesorder"
PERM_SHIP = "distribution.add_shipment"
PERM_RECEIVE_FOR = "distribution.receive_shipment"

CUSTOMER_ROLES = (PartyRole.DISTRIBUTOR, PartyRole.HOSPITAL)
# Which licence lets a party buy medical devices: a distributor needs its 医疗器械经营许可证
# (class III) or 经营备案凭证 (class II); a hospital its 医疗机构执业许可证.
LICENCES_FOR_BUYING: dict[str, tuple[str, ...]] = {
    PartyRole.DISTRIBUTOR: (LicenceKind.DISTRIBUTION, LicenceKind.DISTRIBUTION_FILING),
    PartyRole.HOSPITAL: (LicenceKind.MEDICAL_INSTITUTION,),
}
RECEIVING_DISPOSITION = "in_progress"
_CHUNK = 500


def _require(user: User | None, perm: str, what: str) -> None:
    if user is None:
        return  # the CLI and the demo loader
    if user.party_id is not None or not user.has_perm(perm):
        raise PermissionDenied(f"You may not {what} (needs {perm!r})")


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# Licences --------------------------------------------------------------------------------------


def customer_licence(
    party: Party, *, today: date | None = None, field: str = "customer_id"
) -> PartyLicence:
    """The licence that lets ``party`` buy devices today, or a ValidationFailed saying which
    licence is missing or expired (the order cannot be confirmed or shipped)."""
    today = today or timezone.localdate()
    kinds = LICENCES_FOR_BUYING.get(party.role)
    if kinds is None:
        raise ValidationFailed(
            f"{field}: {party.name} is a {party.get_role_display().lower()}; sales orders go to "
            "a distributor or a hospital",
            field=field,
        )
    names = " or ".join(str(LicenceKind(k).label) for k in kinds)
    held = list(PartyLicence.objects.filter(party=party, kind__in=kinds))
    valid = [lic for lic in held if lic.expires_on is None or lic.expires_on >= today]
    if valid:
        # The one valid longest: a licence without expiry (a filing) first.
        return max(valid, key=lambda lic: (lic.expires_on is None, lic.expires_on or today))
    if not held:
        raise ValidationFailed(
            f"{field}: {party.name} has no {names} on file; add it to the party's licences in "
            "master data before selling to them",
            field=field,
            details={"party_id": party.pk, "licence_kinds": list(kinds)},
        )
    latest = max(held, key=lambda lic: lic.expires_on or today)
    raise ValidationFailed(
        f"{field}: {party.name}'s {latest.get_kind_display()} {latest.number} expired on "
        f"{latest.expires_on.isoformat() if latest.expires_on else '?'}; record the renewed "
        "licence in master data before selling to them",
        field=field,
        details={
            "party_id": party.pk,
            "licence": latest.number,
            "expired_on": str(latest.expires_on),
        },
    )


# Sales orders ----------------------------------------------------------------------------------


def party_or_422(value: Any, field: str) -> Party:
    """The party with id ``value``, or a 422 naming ``field``."""
    party = Party.objects.filter(pk=value).first() if isinstance(value, int) else None
    if party is None:
        raise ValidationFailed(f"{field}: no party with id {value!r}", field=field)
    return party


def _lines(raw: Any) -> list[tuple[Product, int]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed(
            "lines: an order needs at least one line (product_id and quantity)", field="lines"
        )
    ids = [line.get("product_id") for line in raw if isinstance(line, Mapping)]
    products = Product.objects.in_bulk([i for i in ids if isinstance(i, int)])
    out: list[tuple[Product, int]] = []
    seen: set[int] = set()
    for index, line in enumerate(raw):
        where = f"lines[{index}]"
        if not isinstance(line, Mapping):
            raise ValidationFailed(f"{where}: expected product_id and quantity", field=where)
        product = products.get(line.get("product_id"))  # type: ignore[arg-type]
        if product is None:
            raise ValidationFailed(
                f"{where}.product_id: no product with id {line.get('product_id')!r}",
                field=f"{where}.product_id",
            )
        if not product.active:
            raise ValidationFailed(
                f"{where}.product_id: {product.name} {product.model} is inactive",
                field=f"{where}.product_id",
            )
        if product.tracking != TrackingMode.SERIAL:
            raise ValidationFailed(
                f"{where}.product_id: {product.name} {product.model} is lot-tracked; a shipment "
                "here is made by scanning serialized units or their SSCCs",
                field=f"{where}.product_id",
            )
        if product.pk in seen:
            raise ValidationFailed(
                f"{where}.product_id: {product.model} is already on line "
                f"{[p.pk for p, _q in out].index(product.pk)}; one line per product",
                field=f"{where}.product_id",
            )
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ValidationFailed(
                f"{where}.quantity: {quantity!r} is not a quantity; expected a whole number of "
                "units, at least 1",
                field=f"{where}.quantity",
            )
        seen.add(product.pk)
        out.append((product, quantity))
    return out


def sales_order_create(*, data: Mapping[str, Any], user: User | None) -> SalesOrder:
    """A draft sales order. ``data``: customer_id, ship_to_id, lines [{product_id, quantity}],
    customer_po (optional), note (optional)."""
    _require(user, PERM_ORDER_ADD, "create sales orders")
    allowed = {"customer_id", "ship_to_id", "lines", "customer_po", "note"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]}: unknown field; expected one of {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    customer = party_or_422(data.get("customer_id"), "customer_id")
    if customer.role not in CUSTOMER_ROLES:
        raise ValidationFailed(
            f"customer_id: {customer.name} is a {customer.get_role_display().lower()}; sales "
            "orders go to a distributor or a hospital",
            field="customer_id",
        )
    if not customer.active:
        raise ValidationFailed(f"customer_id: {customer.name} is inactive", field="customer_id")
    ship_to_id = data.get("ship_to_id")
    ship_to = (
        Location.objects.filter(pk=ship_to_id).first() if isinstance(ship_to_id, int) else None
    )
    if ship_to is None:
        raise ValidationFailed(
            f"ship_to_id: no location with id {ship_to_id!r}", field="ship_to_id"
        )
    if ship_to.party_id != customer.pk:
        raise ValidationFailed(
            f"ship_to_id: {ship_to.name} belongs to {ship_to.party.name}, not to the customer "
            f"{customer.name}; choose one of the customer's locations",
            field="ship_to_id",
        )
    if not ship_to.active:
        raise ValidationFailed(f"ship_to_id: {ship_to.name} is inactive", field="ship_to_id")
    lines = _lines(data.get("lines"))
    customer_po = str(data.get("customer_po") or "").strip()
    if len(customer_po) > 64:
        raise ValidationFailed("customer_po: at most 64 characters", field="customer_po")
    with transaction.atomic():
        order = SalesOrder.objects.create(
            number=next_number("SO"),
            customer=customer,
            ship_to=ship_to,
            customer_po=customer_po,
            note=str(data.get("note") or "").strip(),
            created_by=user,
        )
        rows = SalesOrderLine.objects.bulk_create(
            [SalesOrderLine(order=order, product=p, quantity=q) for p, q in lines]
        )
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(order),
            object_id=order.pk,
            object_repr=str(order),
            changes={
                **audit.snapshot(order),
                "lines": [{"product_id": r.product_id, "quantity": r.quantity} for r in rows],
            },
            user=user,
        )
    return order


def _locked(order: SalesOrder) -> SalesOrder:
    return SalesOrder.objects.select_for_update().select_related("customer").get(pk=order.pk)


def sales_order_confirm(*, order: SalesOrder, user: User | None) -> SalesOrder:
    """draft -> confirmed, after checking the customer's licence (missing or expired: refused)."""
    _require(user, PERM_ORDER_CHANGE, "confirm sales orders")
    with transaction.atomic():
        locked = _locked(order)
        if locked.status != SalesOrderStatus.DRAFT:
            raise ValidationFailed(
                f"status: {locked.number} is {locked.get_status_display().lower()}; only a "
                "draft order can be confirmed",
                field="status",
            )
        licence = customer_licence(locked.customer)
        before = audit.snapshot(locked)
        locked.status = SalesOrderStatus.CONFIRMED
        locked.confirmed_at = timezone.now()
        locked.confirmed_by = user
        locked.licence_number = licence.number
        locked.save()
        audit.record_update(
            locked, before, user=user, reason=f"customer licence {licence.number} checked"
        )
    return locked


def sales_order_cancel(*, order: SalesOrder, user: User | None, reason: str) -> SalesOrder:
    """Cancel a draft or confirmed order that has not shipped anything (reason required)."""
    _require(user, PERM_ORDER_CHANGE, "cancel sales orders")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the order is cancelled", field="reason")
    with transaction.atomic():
        locked = _locked(order)
        if locked.status not in (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED):
            raise ValidationFailed(
                f"status: {locked.number} is {locked.get_status_display().lower()}; only a "
                "draft or confirmed order with nothing shipped can be cancelled (close it "
                "instead)",
                field="status",
            )
        before = audit.snapshot(locked)
        locked.status = SalesOrderStatus.CANCELLED
        locked.closed_reason = reason
        locked.save()
        audit.record_update(locked, before, user=user, reason=reason)
    return locked


def sales_order_close(*, order: SalesOrder, user: User | None, reason: str) -> SalesOrder:
    """Close a (partially) shipped order: nothing more will ship on it (reason required)."""
    _require(user, PERM_ORDER_CHANGE, "close sales orders")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the order is closed", field="reason")
    with transaction.atomic():
        locked = _locked(order)
        if locked.status not in (SalesOrderStatus.PARTIALLY_SHIPPED, SalesOrderStatus.SHIPPED):
            raise ValidationFailed(
                f"status: {locked.number} is {locked.get_status_display().lower()}; only a "
                "shipped or partially shipped order can be closed",
                field="status",
            )
        before = audit.snapshot(locked)
        locked.status = SalesOrderStatus.CLOSED
        locked.closed_reason = reason
        locked.save()
        audit.record_update(locked, before, user=user, reason=reason)
    return locked


def shipped_quantities(order: SalesOrder) -> dict[int, int]:
    """Units shipped so far per product id, over every shipment of ``order`` (one query)."""
    rows = (
        ShipmentItem.objects.filter(
            shipment__sales_order=order, is_container=False, product__isnull=False
        )
        .values("product_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["product_id"]: r["n"] for r in rows}


# Scans -----------------------------------------------------------------------------------------


def epcs_from_scans(scans: Iterable[str], *, field: str = "epcs") -> list[str]:
    """Whatever was scanned (any UDI form, DESIGN §5) as instance EPCs, first scan first;
    a lot (no serial) is refused: a shipment names units and SSCCs."""
    from medtrace.quality.services import targets_from_scans

    texts = [s.strip() for s in scans if s and s.strip()]
    epcs = list(dict.fromkeys(targets_from_scans(texts, field=field)))
    for index, epc in enumerate(epcs):
        if epc.startswith(("urn:epc:class:", "urn:medtrace:lot:")):
            raise ValidationFailed(
                f"{field}[{index}]: {epc} names a lot, not one unit; scan the unit's own UDI "
                "(with its serial) or the SSCC of its case or pallet",
                field=field,
            )
    if not epcs:
        raise ValidationFailed(f"{field}: scan at least one unit or SSCC", field=field)
    return epcs


def _expand(epcs: Sequence[str]) -> tuple[list[str], set[str]]:
    """``epcs`` and everything inside them, and which of those are containers."""
    inside = contents(epcs)
    out = list(epcs)
    seen = set(out)
    containers = {epc for epc, children in inside.items() if children}
    for epc in epcs:
        for child in inside[epc]:
            if child not in seen:
                seen.add(child)
                out.append(child)
    nested = contents([e for e in out if e not in containers and e not in epcs])
    containers |= {epc for epc, children in nested.items() if children}
    containers |= {epc for epc in out if epc.startswith("urn:epc:id:sscc:")}
    return out, containers


def _lock_units(epcs: Sequence[str]) -> None:
    """Lock the units' projection rows (in EPC order) before the state machine reads them: two
    stations scanning the same unit cannot both ship or receive it (the second one waits, then
    reads the first one's result and is refused)."""
    for part in _chunks(sorted(epcs)):
        list(
            UnitState.objects.select_for_update()
            .filter(epc__in=part)
            .order_by("epc")
            .values_list("epc", flat=True)
        )


def _check_ship(epcs: list[str], containers: set[str], field: str) -> None:
    """rules.SHIP over every object; a case or pallet (SSCC) needs no QC release of its own, its
    contents do (they are checked one by one)."""
    refused = []
    for refusal in rules.refusals(rules.Step.SHIP, epcs):
        if refusal.epc in containers:
            refusal.reasons = [r for r in refusal.reasons if r["code"] != "not_released"]
        if refusal.reasons:
            refused.append(refusal)
    if not refused:
        return
    first = refused[0]
    more = f" (and {len(refused) - 1} more units)" if len(refused) > 1 else ""
    raise SequenceViolation(
        f"Cannot ship {first.label}: it {first.reasons[0]['message']}{more}",
        field=field,
        details=[x.as_dict() for x in refused],
    )


# Shipments -------------------------------------------------------------------------------------


def _ship_from(location: Location | None, states: dict[str, UnitState], us: Party) -> Location:
    if location is not None:
        if location.party_id != us.pk:
            raise ValidationFailed(
                f"ship_from_id: {location.name} is not one of our locations", field="ship_from_id"
            )
        return location
    where = Counter(s.biz_location for s in states.values() if s.biz_location)
    ours = {loc.sgln: loc for loc in Location.objects.filter(party=us, sgln__in=list(where))}
    for sgln, _n in where.most_common():
        if sgln in ours:
            return ours[sgln]
    fallback = Location.objects.filter(party=us, active=True).order_by("kind", "pk").first()
    if fallback is None:
        raise ValidationFailed(
            "ship_from_id: our company has no location to ship from; add one in master data",
            field="ship_from_id",
        )
    return fallback


def _customer_bt(order: SalesOrder) -> list[dict[str, str]]:
    if not order.customer_po:
        return []
    gln = order.customer.gln or "0000000000000"
    from urllib.parse import quote

    return [
        {
            "type": "po",
            "bizTransaction": f"urn:epcglobal:cbv:bt:{gln}:{quote(order.customer_po, safe='-_.~')}",
        }
    ]


def _line_check(
    order: SalesOrder, units: list[str], states: dict[str, UnitState], field: str
) -> None:
    lines = {line.product_id: line for line in order.lines.select_related("product")}
    count: Counter[int] = Counter()
    for epc in units:
        state = states.get(epc)
        product_id = state.product_id if state is not None else None
        label = (state.serial if state is not None else None) or epc
        if product_id is None:
            raise ValidationFailed(
                f"{field}: {label} is not a unit of one of our products; it cannot ship on "
                f"{order.number}",
                field=field,
                details={"epc": epc},
            )
        if product_id not in lines:
            names = ", ".join(f"{li.product.model}" for li in lines.values())
            raise ValidationFailed(
                f"{field}: {label} is not on {order.number}: the order is for {names}",
                field=field,
                details={"epc": epc, "product_id": product_id},
            )
        count[product_id] += 1
    before = shipped_quantities(order)
    for product_id, n in count.items():
        line = lines[product_id]
        done = before.get(product_id, 0)
        if done + n > line.quantity:
            raise ValidationFailed(
                f"{field}: {order.number} orders {line.quantity} × {line.product.model}, "
                f"{done} already shipped; this shipment has {n}, "
                f"{done + n - line.quantity} more than ordered",
                field=field,
                details={
                    "product_id": product_id,
                    "ordered": line.quantity,
                    "shipped": done,
                    "scanned": n,
                },
            )


def shipment_create(
    *,
    order: SalesOrder,
    scans: Sequence[str],
    user: User | None,
    ship_from: Location | None = None,
    note: str = "",
    at: datetime | None = None,
    field: str = "epcs",
) -> Shipment:
    """Ship scanned units and SSCCs on ``order``: every unit inside must pass the state machine
    (released, not held, recalled, expired or in transit) and match the order's lines."""
    _require(user, PERM_SHIP, "ship goods")
    scanned = epcs_from_scans(scans, field=field)
    now = at or timezone.now()
    with transaction.atomic():
        locked = _locked(order)
        if not locked.open:
            raise ValidationFailed(
                f"sales_order: {locked.number} is {locked.get_status_display().lower()}; only a "
                "confirmed order ships",
                field="sales_order",
            )
        customer = locked.customer
        licence = customer_licence(customer, field="sales_order")
        everything, containers = _expand(scanned)
        _lock_units(everything)
        _check_ship(everything, containers, field)
        states = {s.epc: s for s in UnitState.objects.filter(epc__in=everything)}
        units = [e for e in everything if e not in containers]
        if not units:
            raise ValidationFailed(
                f"{field}: the scanned cases hold no units; scan the units or a full case",
                field=field,
            )
        _line_check(locked, units, states, field)
        us = own_party()
        origin = _ship_from(ship_from, states, us)
        ship_to = locked.ship_to
        address = " ".join(x for x in (customer.province, customer.city, customer.address) if x)
        shipment = Shipment.objects.create(
            number=next_number("SHP"),
            sales_order=locked,
            consignee=customer,
            ship_to=ship_to,
            ship_from=origin,
            consignee_name=customer.name,
            consignee_address=address[:400],
            consignee_licence_kind=licence.kind,
            consignee_licence_number=licence.number,
            consignee_licence_expires_on=licence.expires_on,
            ship_to_name=ship_to.name,
            ship_to_address=ship_to.address or customer.address,
            ship_to_sgln=ship_to.sgln,
            customer_po=locked.customer_po,
            unit_count=len(units),
            note=(note or "").strip(),
            shipped_at=now,
            shipped_by=user,
        )
        top = set(scanned)
        ShipmentItem.objects.bulk_create(
            [
                ShipmentItem(
                    shipment=shipment,
                    epc=epc,
                    scanned=epc in top,
                    container=(c if (c := _container(states.get(epc))) in states else ""),
                    product_id=states[epc].product_id if epc in states else None,
                    gtin=(states[epc].gtin or "") if epc in states else "",
                    serial=(states[epc].serial or "") if epc in states else "",
                    lot=(states[epc].lot or "") if epc in states else "",
                    expiry=states[epc].expiry if epc in states else None,
                    is_container=epc in containers,
                )
                for epc in everything
            ],
            batch_size=1000,
        )
        (event,) = ev.emit(
            [
                ev.object_event(
                    epcs=scanned,
                    biz_step="shipping",
                    disposition="in_transit",
                    at=now,
                    read_point=origin.sgln,
                    transactions=[
                        *_customer_bt(locked),
                        ev.bt("poc", locked.number),
                        ev.bt("desadv", shipment.number),
                    ],
                    sources=[
                        *ev.parties("source", owner=us, holder=us),
                        {"type": "location", "source": origin.sgln},
                    ],
                    destinations=[
                        *ev.parties("destination", owner=customer, holder=customer),
                        {"type": "location", "destination": ship_to.sgln},
                    ],
                )
            ],
            user=user,
        )
        shipment.event_id = event.event_id
        shipment.save(update_fields=["event_id"])
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(shipment),
            object_id=shipment.pk,
            object_repr=str(shipment),
            changes={**audit.snapshot(shipment), "epcs": scanned, "units": len(units)},
            user=user,
        )
        _order_progress(locked, user=user)
    return shipment


def _container(state: UnitState | None) -> str:
    return (state.container or "") if state is not None else ""


def _order_progress(order: SalesOrder, *, user: User | None) -> None:
    shipped = shipped_quantities(order)
    lines = list(order.lines.all())
    complete = all(shipped.get(li.product_id, 0) >= li.quantity for li in lines)
    status = SalesOrderStatus.SHIPPED if complete else SalesOrderStatus.PARTIALLY_SHIPPED
    if order.status != status:
        before = audit.snapshot(order)
        order.status = status
        order.save(update_fields=["status", "updated_at"])
        audit.record_update(order, before, user=user, reason="shipment")


# Receipts --------------------------------------------------------------------------------------


def _check_consignee(shipment: Shipment, user: User | None) -> None:
    if user is None:
        return
    if user.party_id is not None:
        if user.party_id != shipment.consignee_id:
            # Another party's shipment does not exist for this partner (scoping: 404, not 403).
            raise NotFound(f"No shipment {shipment.pk}")
        return
    if not user.has_perm(PERM_RECEIVE_FOR):
        raise PermissionDenied(
            f"Only the consignee records its receipt (or staff with {PERM_RECEIVE_FOR!r} on its "
            "behalf)"
        )


def shipment_receive(
    *,
    shipment: Shipment,
    scans: Sequence[str],
    user: User | None,
    channel: str = ReceiptChannel.UI,
    at: datetime | None = None,
    field: str = "epcs",
) -> ShipmentReceipt:
    """The consignee confirms what arrived (units or SSCCs as scanned). Everything scanned must
    be in transit to the consignee (rules.RECEIVE: what was never shipped to them is refused);
    units of the shipment not scanned are flagged missing, scanned units that are not on it
    extra (they were shipped to the consignee on another shipment, which is reconciled too)."""
    _check_consignee(shipment, user)
    if shipment.status == ShipmentStatus.RECEIVED:
        raise ValidationFailed(
            f"shipment: {shipment.number} was received in full on "
            f"{timezone.localtime(shipment.received_at).date() if shipment.received_at else '?'}",
            field="shipment",
        )
    scanned = epcs_from_scans(scans, field=field)
    consignee = shipment.consignee
    now = at or timezone.now()
    with transaction.atomic():
        Shipment.objects.select_for_update().filter(pk=shipment.pk).first()
        everything, _containers = _expand(scanned)
        _lock_units(everything)
        rules.check(
            rules.Step.RECEIVE, everything, party_ids=party_identifiers(consignee), field=field
        )
        number = next_number("RCV")
        (event,) = ev.emit(
            [
                ev.object_event(
                    epcs=scanned,
                    biz_step="receiving",
                    disposition=RECEIVING_DISPOSITION,
                    at=now,
                    read_point=shipment.ship_to_sgln,
                    biz_location=shipment.ship_to_sgln,
                    transactions=[ev.bt("desadv", shipment.number), ev.bt("recadv", number)],
                    sources=ev.parties("source", owner=own_party(), holder=own_party()),
                    destinations=[
                        *ev.parties("destination", owner=consignee, holder=consignee),
                        {"type": "location", "destination": shipment.ship_to_sgln},
                    ],
                )
            ],
            user=user,
        )
        receipts = _reconcile(
            everything,
            user=user,
            channel=channel,
            event_id=event.event_id,
            at=now,
            context=shipment,
            number=number,
        )
    return next(r for r in receipts if r.shipment_id == shipment.pk)


def shipments_reconcile(
    epcs: Sequence[str],
    *,
    user: User | None = None,
    event_id: str = "",
    channel: str = ReceiptChannel.EPCIS,
    at: datetime | None = None,
) -> list[ShipmentReceipt]:
    """Mark shipment items received after a receiving event on ``epcs`` (and what they hold) was
    captured, e.g. by a partner through EPCIS: each shipment with an item among them gets a
    receipt, its status and discrepancies. Call it in the capture's transaction."""
    everything, _containers = _expand(list(dict.fromkeys(epcs)))
    with transaction.atomic():
        return _reconcile(
            everything, user=user, channel=channel, event_id=event_id, at=at or timezone.now()
        )


def _open_items(epcs: Sequence[str]) -> list[ShipmentItem]:
    found: list[ShipmentItem] = []
    for part in _chunks(list(epcs)):
        found.extend(
            ShipmentItem.objects.filter(
                epc__in=part,
                receipt__isnull=True,
                shipment__status__in=(
                    ShipmentStatus.IN_TRANSIT,
                    ShipmentStatus.RECEIVED_WITH_DISCREPANCIES,
                ),
            ).only("id", "shipment_id", "epc")
        )
    return found


def _reconcile(
    received: list[str],
    *,
    user: User | None,
    channel: str,
    event_id: str,
    at: datetime,
    context: Shipment | None = None,
    number: str | None = None,
) -> list[ShipmentReceipt]:
    by_shipment: dict[int, list[int]] = defaultdict(list)
    for item in _open_items(received):
        by_shipment[item.shipment_id].append(item.pk)
    ids = set(by_shipment) | ({context.pk} if context is not None else set())
    out = []
    for shipment in Shipment.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        is_context = context is not None and shipment.pk == context.pk
        receipt = ShipmentReceipt.objects.create(
            number=number if is_context and number else next_number("RCV"),
            shipment=shipment,
            channel=channel,
            received_at=at,
            received_by=user,
            event_id=event_id,
            epcs=received,
        )
        ShipmentItem.objects.filter(pk__in=by_shipment.get(shipment.pk, [])).update(receipt=receipt)
        _containers_received(shipment, receipt)
        items = list(shipment.items.values_list("epc", "is_container", "receipt_id"))
        on_it = {epc for epc, _c, _r in items}
        missing = [epc for epc, is_container, rid in items if rid is None and not is_container]
        extra = [e for e in received if e not in on_it] if is_context else []
        receipt.missing, receipt.extra = missing, extra
        receipt.save(update_fields=["missing", "extra"])
        audit.record_create(receipt, user=user)
        before = audit.snapshot(shipment)
        shipment.missing = missing
        shipment.extra = list(dict.fromkeys([*shipment.extra, *extra]))
        shipment.received_at = shipment.received_at or at
        shipment.status = (
            ShipmentStatus.RECEIVED_WITH_DISCREPANCIES
            if shipment.missing or shipment.extra
            else ShipmentStatus.RECEIVED
        )
        shipment.save(update_fields=["missing", "extra", "received_at", "status"])
        audit.record_update(shipment, before, user=user, reason=f"receipt {receipt.number}")
        if missing or extra:
            _discrepancy_alert(shipment, receipt)
        _order_closed_if_delivered(shipment.sales_order_id, user=user)
        out.append(receipt)
    return out


def _containers_received(shipment: Shipment, receipt: ShipmentReceipt) -> None:
    """A case or pallet counts as received once everything packed in it on this shipment is."""
    for _level in range(8):  # pallet > case > unit: a few levels at most
        rows = list(shipment.items.values_list("epc", "container", "receipt_id", "is_container"))
        parents = {c for _e, c, _r, _k in rows if c}
        still_open = {c for _e, c, rid, _k in rows if c and rid is None}
        done = [
            epc
            for epc, _c, rid, is_container in rows
            if is_container and rid is None and epc in parents and epc not in still_open
        ]
        if not done:
            return
        shipment.items.filter(epc__in=done).update(receipt=receipt)


def _discrepancy_alert(shipment: Shipment, receipt: ShipmentReceipt) -> None:
    serials = dict(shipment.items.values_list("epc", "serial"))
    missing = [serials.get(e) or e for e in receipt.missing]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({', '.join(missing[:10])})")
    if receipt.extra:
        parts.append(f"{len(receipt.extra)} not on the shipment")
    alert_raise(
        kind="shipment_discrepancy",
        severity=AlertSeverity.WARNING,
        title=f"{shipment.number} to {shipment.consignee_name}: received with discrepancies",
        message=f"Receipt {receipt.number}: " + "; ".join(parts),
        recipient_role="sales",
        evidence={"shipment": shipment.number, "missing": receipt.missing, "extra": receipt.extra},
        object_type="distribution.shipment",
        object_id=str(shipment.pk),
    )


def _order_closed_if_delivered(order_id: int, *, user: User | None) -> None:
    order = SalesOrder.objects.select_for_update().get(pk=order_id)
    if order.status != SalesOrderStatus.SHIPPED:
        return
    if order.shipments.exclude(status=ShipmentStatus.RECEIVED).exists():
        return
    before = audit.snapshot(order)
    order.status = SalesOrderStatus.CLOSED
    order.closed_reason = "delivered: every shipment received in full"
    order.save(update_fields=["status", "closed_reason", "updated_at"])
    audit.record_update(order, before, user=user, reason=order.closed_reason)
