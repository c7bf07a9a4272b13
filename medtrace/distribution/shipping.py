"""Shipments: made by scanning units or SSCCs at the shipping station.

Every unit inside must pass the state machine (``rules.Step.SHIP``: released, not held,
quarantined, recalled, expired or already in transit) and match the sales order's lines. The
event written (CBV 2.0):

ObjectEvent OBSERVE, bizStep ``shipping``, disposition ``in_transit`` over the scanned units and
SSCCs (the ledger carries it to what is packed inside), readPoint our warehouse; sourceList
owning_party + possessing_party = us and ``location`` = our warehouse, destinationList
owning_party + possessing_party = the consignee and ``location`` = the ship-to.
bizTransactionList: ``po`` = the customer's purchase order (in the customer's GLN namespace, when
they gave one), ``poc`` = our sales order (CBV "purchase order confirmation": the seller's
acceptance of the buyer's order, which is what a sales order is), ``desadv`` = the shipment
(despatch advice).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import SequenceViolation, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.selectors import contents
from medtrace.lifecycle.services import next_number, own_party
from medtrace.masterdata.models import (
    Location,
    Party,
)

from . import notify
from .models import (
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    ShipmentItem,
)
from .orders import (
    PERM_SHIP,
    chunks,
    customer_licence,
    locked_order,
    require,
    shipped_quantities,
)

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


def expand(epcs: Sequence[str]) -> tuple[list[str], set[str]]:
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


def lock_units(epcs: Sequence[str]) -> None:
    """Lock the units' projection rows (in EPC order) before the state machine reads them: two
    stations scanning the same unit cannot both ship or receive it (the second one waits, then
    reads the first one's result and is refused)."""
    for part in chunks(sorted(epcs)):
        list(
            UnitState.objects.select_for_update()
            .filter(epc__in=part)
            .order_by("epc")
            .values_list("epc", flat=True)
        )


def _check_ship(epcs: list[str], field: str) -> None:
    """rules.SHIP over every object (a case or pallet needs no QC release of its own, its
    contents do: they are checked one by one)."""
    refused = rules.refusals(rules.Step.SHIP, epcs)
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


@dataclass
class ShipmentPlan:
    """What a shipment of the scans would hold (``shipment_check``)."""

    scanned: list[str]
    everything: list[str]  # the scans and everything packed inside them
    containers: set[str]
    states: dict[str, UnitState]
    units: list[str]  # everything but the cases and pallets

    def per_product(self) -> dict[int, int]:
        return dict(
            Counter(
                s.product_id
                for e in self.units
                if (s := self.states.get(e)) is not None and s.product_id is not None
            )
        )


def _shippable(order: SalesOrder) -> None:
    if not order.open:
        raise ValidationFailed(
            f"sales_order: {order.number} is {order.get_status_display().lower()}; only a "
            "confirmed order ships",
            field="sales_order",
        )


def _packed_elsewhere(everything: list[str], states: dict[str, UnitState], field: str) -> None:
    """A unit still packed in a case that is not scanned would leave while the ledger keeps it
    in the case: scan the case, or unpack the unit first."""
    on_it = set(everything)
    for epc in everything:
        state = states.get(epc)
        if state is not None and state.container and state.container not in on_it:
            raise ValidationFailed(
                f"{field}: {state.serial or epc} is packed in {state.container}; scan that case "
                "(or pallet), or unpack the unit at the packing station first",
                field=field,
                details={"epc": epc, "container": state.container},
            )


def _plan(order: SalesOrder, scanned: list[str], field: str, *, lock: bool) -> ShipmentPlan:
    everything, containers = expand(scanned)
    if lock:
        lock_units(everything)
    _check_ship(everything, field)
    states = {s.epc: s for s in UnitState.objects.filter(epc__in=everything)}
    _packed_elsewhere(everything, states, field)
    units = [e for e in everything if e not in containers]
    if not units:
        raise ValidationFailed(
            f"{field}: the scanned cases hold no units; scan the units or a full case",
            field=field,
        )
    _line_check(order, units, states, field)
    return ShipmentPlan(scanned, everything, containers, states, units)


def shipment_check(*, order: SalesOrder, scans: Sequence[str], field: str = "epcs") -> ShipmentPlan:
    """What ``shipment_create`` would ship for ``scans``, or the error it would give; writes
    nothing (the shipping station checks every scan as it comes)."""
    scanned = epcs_from_scans(scans, field=field)
    _shippable(order)
    return _plan(order, scanned, field, lock=False)


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
    require(user, PERM_SHIP, "ship goods")
    scanned = epcs_from_scans(scans, field=field)
    now = at or timezone.now()
    with transaction.atomic():
        locked = locked_order(order)
        _shippable(locked)
        customer = locked.customer
        licence = customer_licence(customer, field="sales_order")
        plan = _plan(locked, scanned, field, lock=True)
        everything, containers, states, units = (
            plan.everything,
            plan.containers,
            plan.states,
            plan.units,
        )
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
        top, on_it = set(scanned), set(everything)
        ShipmentItem.objects.bulk_create(
            [
                ShipmentItem(
                    shipment=shipment,
                    epc=epc,
                    scanned=epc in top,
                    container=(c if (c := _container(states.get(epc))) in on_it else ""),
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
        notify.shipment_shipped(shipment)
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
