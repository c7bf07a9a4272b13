"""Picking, first expiry first out (issue 5, item 4).

A pick list asks for a quantity of one product (optionally from one location, optionally for a
sales order). The picker scans units, or whole cases; each scan is checked and confirmed:

- the hard blocks of the state machine (``rules.check(Step.PICK)``): held, quarantined,
  recalled, expired, not released, in transit, scrapped, not ours; the message names the unit
  and why;
- FEFO: a unit that expires later than an available unit not picked yet is refused, naming
  the better unit and where it is; ``override_reason`` lets it through, recorded on the pick
  and in the audit trail;
- the right product, not more than the list still needs, not picked for another list (a
  database constraint too), not packed in a case that was not scanned.

Event: ObjectEvent OBSERVE, bizStep ``picking``, readPoint = the pick list's location; the pick
list number (and the sales order reference) as bizTransactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import Conflict, SequenceViolation, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.selectors import contents
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Location, Product, TrackingMode

from . import selectors
from .common import (
    PERM_PICK,
    PERM_PICK_LIST,
    PERM_PICK_LIST_END,
    check_step,
    label_of,
    location_sglns,
    lock_states,
    places,
    refuse,
    require,
    require_scans,
    resolve_scans,
    storage_location,
    untyped_bt,
    where_text,
)
from .models import Pick, PickList, PickListStatus

MAX_QUANTITY = 100_000
SALES_ORDER_REF_MAX = 64


def pick_list_create(
    *,
    product: Product,
    quantity: int,
    user: User | None,
    location: Location | int | str | None = None,
    sales_order_ref: str = "",
    note: str = "",
    at: datetime | None = None,
) -> PickList:
    """A pick list for ``quantity`` units of ``product`` (audited); nothing is reserved until
    units are scanned. Callers (e.g. distribution's sales orders) show the FEFO proposal with
    ``selectors.pick_list_view``."""
    require(user, PERM_PICK_LIST, _("create pick lists"))
    if product.tracking != TrackingMode.SERIAL:
        raise ValidationFailed(
            _("product: %(product)s is tracked by lot; pick lists pick serialized units")
            % {"product": product},
            field="product",
        )
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not (1 <= quantity <= MAX_QUANTITY)
    ):
        raise ValidationFailed(
            _("quantity: expected a whole number from 1 to %(max)d, got %(value)r")
            % {"max": MAX_QUANTITY, "value": quantity},
            field="quantity",
        )
    ref = (sales_order_ref or "").strip()
    if len(ref) > SALES_ORDER_REF_MAX:
        raise ValidationFailed(
            _("sales_order_ref: at most %(n)d characters") % {"n": SALES_ORDER_REF_MAX},
            field="sales_order_ref",
        )
    place = storage_location(location) if location not in (None, "") else None
    with transaction.atomic():
        pick_list = PickList.objects.create(
            number=next_number("PL"),
            product=product,
            quantity=quantity,
            location=place,
            sales_order_ref=ref,
            note=(note or "").strip(),
            created_at=at or timezone.now(),
            created_by=user,
        )
        audit.record_create(pick_list, user=user)
    return pick_list


def _lock(pick_list: PickList) -> PickList:
    return (
        PickList.objects.select_for_update(of=("self",))
        .select_related("product", "location")
        .get(pk=pick_list.pk)
    )


def _later(expiry: date | None, than: date | None) -> bool:
    """Whether ``expiry`` is later than ``than`` (no expiry = never expires = latest)."""
    if than is None:
        return False
    return expiry is None or expiry > than


def pick(
    *,
    pick_list: PickList,
    scans: Sequence[str],
    user: User | None,
    override_reason: str = "",
    at: datetime | None = None,
) -> list[Pick]:
    """Confirm picked units (or whole cases) for ``pick_list``; see the module docstring."""
    require(user, PERM_PICK, _("pick"))
    scanned = resolve_scans(scans, field="scans")
    require_scans(scanned, field="scans")
    reason = (override_reason or "").strip()
    now = at or timezone.now()
    with transaction.atomic():
        plist = _lock(pick_list)
        if plist.status != PickListStatus.OPEN:
            raise Conflict(
                _("Pick list %(number)s is %(status)s; nothing more can be picked for it")
                % {"number": plist.number, "status": plist.get_status_display()},
                field="pick_list",
            )
        # Units, each with the scanned container it came in.
        boxes = [s.epc for s in scanned if s.is_container]
        inside = contents(boxes) if boxes else {}
        unit_box: dict[str, str] = {}
        for s in scanned:
            if s.is_container:
                for epc in inside.get(s.epc, []):
                    if not epc.startswith("urn:epc:id:sscc:"):
                        unit_box.setdefault(epc, s.epc)
            else:
                unit_box.setdefault(s.epc, "")
        if boxes and not any(unit_box.get(e) for e in unit_box):
            raise ValidationFailed(
                _("scans: %(box)s is empty") % {"box": label_of(boxes[0])}, field="scans"
            )
        units = list(unit_box)
        states = lock_states([*units, *boxes])
        check_step(rules.Step.PICK, [*units, *boxes], field="scans")
        _refuse(plist, units, unit_box, states)
        better = _fefo(plist, units, states, reason)
        picks = [
            Pick(
                pick_list=plist,
                epc=epc,
                serial=states[epc].serial or "",
                lot=states[epc].lot or "",
                expiry=states[epc].expiry,
                container=unit_box[epc],
                fefo_better=better.get(epc, ""),
                override_reason=reason if epc in better else "",
                picked_at=now,
                picked_by=user,
            )
            for epc in units
        ]
        Pick.objects.bulk_create(picks)
        top = [s.epc for s in scanned]
        transactions = [untyped_bt(plist.number)]
        if plist.sales_order_ref:
            transactions.append(untyped_bt(plist.sales_order_ref))
        ev.emit(
            [
                ev.object_event(
                    epcs=top,
                    biz_step="picking",
                    at=now,
                    read_point=plist.location.sgln if plist.location else None,
                    transactions=transactions,
                )
            ],
            user=user,
        )
        before = audit.snapshot(plist)
        if plist.picks.count() >= plist.quantity:
            plist.status = PickListStatus.PICKED
            plist.completed_at = now
            plist.save(update_fields=["status", "completed_at"])
        changes = audit.diff(before, audit.snapshot(plist))
        changes["picked"] = [None, top]
        if better:
            changes["fefo_overridden"] = [None, {e: b for e, b in better.items()}]
        audit.record(
            action=AuditAction.UPDATE,
            object_type=audit.label_of(plist),
            object_id=plist.pk,
            object_repr=str(plist),
            changes=changes,
            user=user,
            reason=reason if better else "",
        )
    return picks


def _refuse(
    plist: PickList, units: list[str], unit_box: dict[str, str], states: dict[str, UnitState]
) -> None:
    """Product, quantity, reservation, packing and location checks (not the state machine's)."""
    already = dict(
        Pick.objects.filter(epc__in=units, active=True).values_list("epc", "pick_list__number")
    )
    here = set(location_sglns(plist.location)) if plist.location else None
    by_sgln = places()
    for epc in units:
        state = states.get(epc)
        name = label_of(epc, state)
        if state is None:
            continue  # the state machine names it (not commissioned)
        if state.product_id != plist.product_id:
            raise refuse(
                _("%(unit)s is not %(product)s, the product of pick list %(number)s")
                % {"unit": name, "product": plist.product, "number": plist.number},
                field="scans", epc=epc, code="wrong_product", label=name,
            )  # fmt: skip
        if epc in already:
            text = (
                _("%(unit)s is already picked for this pick list")
                if already[epc] == plist.number
                else _("%(unit)s is already picked for pick list %(other)s")
            )
            raise refuse(
                text % {"unit": name, "other": already[epc]},
                field="scans", epc=epc, code="already_picked", label=name,
            )  # fmt: skip
        if state.container and not unit_box.get(epc):
            raise refuse(
                _("%(unit)s is packed in %(box)s: scan the case to pick it whole, or unpack "
                  "it first") % {"unit": name, "box": label_of(state.container)},
                field="scans", epc=epc, code="in_container", label=name,
            )  # fmt: skip
        if state.installed_in:
            raise refuse(
                _("%(unit)s is installed in %(parent)s")
                % {"unit": name, "parent": label_of(state.installed_in)},
                field="scans", epc=epc, code="installed", label=name,
            )  # fmt: skip
        if here is not None and state.biz_location not in here:
            assert plist.location is not None
            raise refuse(
                _("%(unit)s is at %(where)s; pick list %(number)s picks from %(loc)s")
                % {"unit": name, "where": where_text(state, by_sgln), "number": plist.number,
                   "loc": plist.location},
                field="scans", epc=epc, code="wrong_location", label=name,
            )  # fmt: skip
    remaining = plist.quantity - plist.picks.count()
    if len(units) > remaining:
        raise ValidationFailed(
            _("scans: pick list %(number)s needs %(remaining)d more; the scan holds %(n)d units")
            % {"number": plist.number, "remaining": remaining, "n": len(units)},
            field="scans",
        )


def _fefo(
    plist: PickList, units: list[str], states: dict[str, UnitState], reason: str
) -> dict[str, str]:
    """Units that are not FEFO's choice, each with the better unit; refused without a reason."""
    best = selectors.fefo_candidates(plist.product_id, 1, plist.location, exclude=units)
    if not best:
        return {}
    first = best[0]
    late = [e for e in units if _later(states[e].expiry, first.expiry)]
    if not late:
        return {}
    if reason:
        return {e: first.epc for e in late}
    worst = max(late, key=lambda e: (states[e].expiry is None, states[e].expiry or date.max))
    state = states[worst]
    where = where_text(first, places())
    inside = _(", in %(box)s") % {"box": label_of(first.container)} if first.container else ""
    message = _(
        "FEFO: %(unit)s expires %(expiry)s, but %(better)s expires earlier (%(better_expiry)s) "
        "and is available at %(where)s%(inside)s; pick %(better)s first, or give a reason to "
        "override"
    ) % {
        "unit": label_of(worst, state),
        "expiry": state.expiry.isoformat() if state.expiry else _("never"),
        "better": label_of(first.epc, first),
        "better_expiry": first.expiry.isoformat() if first.expiry else "-",
        "where": where,
        "inside": inside,
    }
    raise SequenceViolation(
        message,
        field="scans",
        details=[
            {
                "epc": e,
                "serial": label_of(e, states[e]),
                "reasons": [{"code": "not_fefo", "message": message}],
                "better": {
                    "epc": first.epc,
                    "serial": first.serial,
                    "expiry": first.expiry.isoformat() if first.expiry else None,
                    "where": where,
                    "container": first.container,
                },
            }
            for e in late
        ],
    )


def _end(
    pick_list: PickList, *, status: str, user: User | None, reason: str, at: datetime | None
) -> PickList:
    now = at or timezone.now()
    with transaction.atomic():
        plist = _lock(pick_list)
        if plist.status in (PickListStatus.CLOSED, PickListStatus.CANCELLED):
            raise Conflict(
                _("Pick list %(number)s is already %(status)s")
                % {"number": plist.number, "status": plist.get_status_display()},
                field="pick_list",
            )
        before = audit.snapshot(plist)
        plist.status = status
        plist.ended_at = now
        plist.end_reason = reason
        plist.save(update_fields=["status", "ended_at", "end_reason"])
        # The picked units are no longer held for this list.
        Pick.objects.filter(pick_list=plist, active=True).update(active=False)
        audit.record_update(plist, before, user=user, reason=reason)
    return plist


def pick_list_cancel(
    *, pick_list: PickList, user: User | None, reason: str, at: datetime | None = None
) -> PickList:
    """Cancel a pick list (with a reason): its picked units are free to be picked again."""
    require(user, PERM_PICK_LIST_END, _("cancel pick lists"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("reason: say why the pick list is cancelled"), field="reason")
    return _end(pick_list, status=PickListStatus.CANCELLED, user=user, reason=reason, at=at)


def pick_list_close(
    *, pick_list: PickList, user: User | None, reference: str = "", at: datetime | None = None
) -> PickList:
    """Close a pick list whose units left (e.g. shipped: ``reference`` = the shipment number);
    its picks stop reserving the units. Distribution calls this when it ships them."""
    require(user, PERM_PICK_LIST_END, _("close pick lists"))
    text = (reference or "").strip() or _("closed")
    return _end(pick_list, status=PickListStatus.CLOSED, user=user, reason=text, at=at)
