"""The unit state machine: which lifecycle step is possible for which unit now (21 CFR 11.10(f)).

Every lifecycle service asks ``check(step, epcs, ...)`` before it writes anything. The answer is
read set-based from the projections and the quality records, in a handful of queries whatever
the number of units:

- ``UnitState`` (the ledger projection): commissioned or not, disposition, expiry, holder;
- ``quality.Hold``: open QC holds, quarantines and recall holds on the unit or its lot;
- ``quality.ReleaseItem``: QC release of the unit or its lot;
- the last shipping event of the unit or a container it travels in (for receipts).

A refusal is a ``SequenceViolation`` (HTTP 409) whose message names the first unit and why, and
whose ``details`` list every refused unit with every reason, e.g.::

    {"epc": "urn:epc:id:sgtin:6901234.010001.P0001", "serial": "P0001",
     "reasons": [{"code": "held", "message": "on QC hold HOLD-2026-000004 since 2026-11-02: ..."}]}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from medtrace.errors import SequenceViolation
from medtrace.ledger.models import Event, EventEpc, EventSourceDest, UnitState
from medtrace.quality.models import Hold, HoldKind, ReleaseItem


class Step(StrEnum):
    COMMISSION = "commission"
    RELEASE = "release"
    HOLD = "hold"
    MOVE = "move"
    PACK = "pack"
    PICK = "pick"
    SHIP = "ship"
    RECEIVE = "receive"
    RETURN = "return"
    INSTALL = "install"
    FIT = "fit"  # fit a component into a parent unit (the parent is checked)
    CONSUME = "consume"  # use a unit as a component of another (the component is checked)
    SERVICE = "service"  # maintenance, calibration, repair
    SCRAP = "scrap"


CONTAINER_SCHEMES = ("urn:epc:id:sscc:",)
SCRAPPED_DISPOSITIONS = frozenset({"destroyed", "disposed"})
SCRAPPED_STEPS = frozenset({"decommissioning", "destroying"})
HOLD_CODES = {
    HoldKind.HOLD: "held",
    HoldKind.QUARANTINE: "quarantined",
    HoldKind.RECALL: "recalled",
}


@dataclass
class Unit:
    """What the state machine knows about one object."""

    epc: str
    state: UnitState | None
    holds: list[Hold] = field(default_factory=list)
    released: bool = False
    shipped_to: set[str] | None = None  # destinations of its last shipping event

    @property
    def label(self) -> str:
        if self.state is not None and self.state.serial:
            return self.state.serial
        return self.epc

    @property
    def commissioned(self) -> bool:
        return self.state is not None

    @property
    def scrapped(self) -> bool:
        s = self.state
        return s is not None and (
            (s.disposition or "") in SCRAPPED_DISPOSITIONS or (s.biz_step or "") in SCRAPPED_STEPS
        )

    @property
    def in_transit(self) -> bool:
        return self.state is not None and self.state.disposition == "in_transit"

    def expired(self, today: date) -> bool:
        return (
            self.state is not None and self.state.expiry is not None and (self.state.expiry < today)
        )


@dataclass
class Refusal:
    epc: str
    label: str
    reasons: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"epc": self.epc, "serial": self.label, "reasons": self.reasons}


def _states(wanted: list[str]) -> dict[str, UnitState]:
    qs = UnitState.objects.all()
    if connection.vendor == "postgresql" and len(wanted) > 100:
        # One array parameter instead of thousands of IN placeholders (a 10,000-serial
        # commissioning spent ~0.25 s binding them).
        qs = qs.extra(where=["epc = ANY(%s)"], params=[wanted])
    else:
        qs = qs.filter(epc__in=wanted)
    return {s.epc: s for s in qs}


def units(epcs: Iterable[str], *, shipping: bool = False, quality: bool = True) -> dict[str, Unit]:
    """Everything the rules read about ``epcs``, set-based. ``shipping`` also loads the last
    shipment's destinations (for receipts); ``quality=False`` skips holds and releases (no
    step that ignores them needs them)."""
    wanted = list(dict.fromkeys(epcs))
    states = _states(wanted)
    out = {epc: Unit(epc, states.get(epc)) for epc in wanted}
    if not quality:
        return out
    lots = {(s.gtin, s.lot) for s in states.values() if s.gtin and s.lot}
    lot_q = Q()
    for gtin, lot in lots:
        lot_q |= Q(gtin=gtin, lot=lot)
    match = Q(target__in=wanted) | lot_q if lots else Q(target__in=wanted)
    for hold in Hold.objects.filter(match, lifted_at__isnull=True).order_by("placed_at"):
        for unit in out.values():
            s = unit.state
            if hold.target == unit.epc or (
                s is not None and hold.gtin and s.gtin == hold.gtin and s.lot == hold.lot
            ):
                unit.holds.append(hold)
    for target, gtin, lot in ReleaseItem.objects.filter(match).values_list("target", "gtin", "lot"):
        for unit in out.values():
            s = unit.state
            if target == unit.epc or (s is not None and gtin and s.gtin == gtin and s.lot == lot):
                unit.released = True
    if shipping:
        _last_shipments(out, states)
    return out


def _containers(states: dict[str, UnitState]) -> dict[str, list[str]]:
    """Each EPC with the chain of containers it currently sits in (nearest first)."""
    chains: dict[str, list[str]] = {epc: [] for epc in states}
    current: dict[str, str] = {epc: s.container for epc, s in states.items() if s.container}
    for _level in range(8):  # item -> case -> pallet -> ...: a few levels at most
        if not current:
            break
        parents: dict[str, str | None] = dict(
            UnitState.objects.filter(epc__in=set(current.values())).values_list("epc", "container")
        )
        following: dict[str, str] = {}
        for epc, container in current.items():
            chains[epc].append(container)
            above = parents.get(container)
            if above:
                following[epc] = above
        current = following
    return chains


def _last_shipments(out: dict[str, Unit], states: dict[str, UnitState]) -> None:
    chains = _containers(states)
    carriers = {c for epc in states for c in [epc, *chains[epc]]}
    latest: dict[str, tuple[Any, int]] = {}
    rows = (
        EventEpc.objects.filter(epc__in=carriers, event__biz_step__in=("shipping", "departing"))
        .values_list("epc", "event_id", "event__event_time")
        .order_by()
    )
    for epc, event_id, when in rows:
        if epc not in latest or when > latest[epc][0]:
            latest[epc] = (when, event_id)
    destinations: dict[int, set[str]] = defaultdict(set)
    for event_id, value in EventSourceDest.objects.filter(
        event_id__in={e for _w, e in latest.values()}, kind="destination"
    ).values_list("event_id", "value"):
        destinations[event_id].add(value)
    for event_id, location in Event.objects.filter(
        pk__in={e for _w, e in latest.values()}
    ).values_list("pk", "biz_location"):
        if location:
            destinations[event_id].add(location)
    for epc in states:
        found = [latest[c] for c in [epc, *chains[epc]] if c in latest]
        if found:
            _when, event_id = max(found, key=lambda item: item[0])
            out[epc].shipped_to = destinations.get(event_id, set())


def _date(value: Any) -> str:
    return timezone.localtime(value).date().isoformat() if value else "?"


def _hold_reasons(unit: Unit) -> list[dict[str, str]]:
    out = []
    for hold in unit.holds:
        code = HOLD_CODES.get(HoldKind(hold.kind), "held")
        what = {
            "held": "is on QC hold",
            "quarantined": "is in quarantine",
            "recalled": "is under recall",
        }[code]
        out.append(
            {
                "code": code,
                "message": f"{what} {hold.number} since {_date(hold.placed_at)}: {hold.reason}",
            }
        )
    return out


def _reasons(
    step: Step, unit: Unit, *, today: date, our_ids: set[str], party_ids: set[str]
) -> list[dict[str, str]]:
    s = unit.state
    r: list[dict[str, str]] = []

    def no(code: str, message: str) -> None:
        r.append({"code": code, "message": message})

    if step == Step.COMMISSION:
        if s is not None:
            no(
                "already_commissioned",
                f"already commissioned on {_date(s.first_event_time)}; a serial is commissioned "
                "once",
            )
        return r
    if s is None:
        if step == Step.RECEIVE:
            no("never_shipped", "was never shipped to you: the ledger has no record of it")
        else:
            no("not_commissioned", "is not commissioned: the ledger has no record of it")
        return r
    if unit.scrapped:
        no(
            "scrapped",
            f"was scrapped ({s.disposition or s.biz_step}) on {_date(s.last_event_time)}",
        )
        return r
    if step == Step.RECEIVE:
        if not unit.in_transit or unit.shipped_to is None:
            no(
                "not_in_transit",
                "is not in transit: it was never shipped, or its receipt is already recorded",
            )
        elif party_ids and not (unit.shipped_to & party_ids):
            no("not_shipped_to_you", "was shipped to another party, not to you")
        return r
    if step in (Step.PICK, Step.SHIP):
        if unit.in_transit:
            no("in_transit", "is already shipped and in transit")
        if s.disposition == "recalled" and not any(h.kind == HoldKind.RECALL for h in unit.holds):
            no("recalled", "is recalled (disposition recalled)")
        r.extend(_hold_reasons(unit))
        if unit.expired(today):
            no("expired", f"expired on {s.expiry.isoformat() if s.expiry else '?'}")
        # A case or pallet (SSCC) needs no QC release of its own: its contents do, and a
        # shipment checks them one by one.
        if not unit.released and not unit.epc.startswith(CONTAINER_SCHEMES):
            no("not_released", "is not released by QC; release it before it ships")
        holder = s.possessing_party
        if our_ids and holder and holder not in our_ids:
            no("not_ours", f"is held by {holder}, not by us")
        return r
    if step in (Step.MOVE, Step.PACK):
        if unit.in_transit:
            no("in_transit", "is in transit; receive it first")
        return r
    if step == Step.INSTALL:
        if unit.in_transit:
            no("in_transit", "is still in transit; confirm its receipt first")
        r.extend(h for h in _hold_reasons(unit) if h["code"] == "recalled")
        if unit.expired(today):
            no("expired", f"expired on {s.expiry.isoformat() if s.expiry else '?'}")
        return r
    if step == Step.RELEASE:
        r.extend(_hold_reasons(unit))
        return r
    if step == Step.CONSUME:
        if unit.in_transit:
            no("in_transit", "is in transit; receive it first")
        r.extend(_hold_reasons(unit))
        if unit.expired(today):
            no("expired", f"expired on {s.expiry.isoformat() if s.expiry else '?'}")
        if s.installed_in:
            no("fitted", f"is already fitted in {s.installed_in}; remove it there first")
        return r
    # FIT, SERVICE, SCRAP, HOLD, RETURN: only a scrapped unit refuses them (checked above).
    return r


def refusals(
    step: Step | str,
    epcs: Iterable[str],
    *,
    party_ids: Iterable[str] = (),
    today: date | None = None,
) -> list[Refusal]:
    """Every unit of ``epcs`` that ``step`` is impossible for, with every reason."""
    step = Step(step)
    today = today or timezone.localdate()
    # Commissioning asks only whether the ledger knows the unit already.
    loaded = units(epcs, shipping=step == Step.RECEIVE, quality=step != Step.COMMISSION)
    our_ids: set[str] = set()
    if step in (Step.PICK, Step.SHIP):
        from medtrace.accounts.scoping import party_identifiers

        from .services import own_party

        our_ids = party_identifiers(own_party())
    wanted = set(party_ids)
    out = []
    for unit in loaded.values():
        reasons = _reasons(step, unit, today=today, our_ids=our_ids, party_ids=wanted)
        if reasons:
            out.append(Refusal(unit.epc, unit.label, reasons))
    return out


STEP_VERBS = {
    Step.COMMISSION: "commission",
    Step.RELEASE: "release",
    Step.HOLD: "hold",
    Step.MOVE: "move",
    Step.PACK: "pack",
    Step.PICK: "pick",
    Step.SHIP: "ship",
    Step.RECEIVE: "receive",
    Step.RETURN: "take back",
    Step.INSTALL: "install",
    Step.FIT: "fit parts into",
    Step.CONSUME: "use as a component",
    Step.SERVICE: "service",
    Step.SCRAP: "scrap",
}


def check(
    step: Step | str,
    epcs: Iterable[str],
    *,
    party_ids: Iterable[str] = (),
    today: date | None = None,
    field: str = "epcs",
) -> None:
    """Raise SequenceViolation if ``step`` is impossible for any of ``epcs``.

    ``party_ids``: for RECEIVE, every identifier of the receiving party
    (``accounts.scoping.party_identifiers``); the unit must have been shipped to one of them.
    """
    step = Step(step)
    refused = refusals(step, epcs, party_ids=party_ids, today=today)
    if not refused:
        return
    first = refused[0]
    more = f" (and {len(refused) - 1} more units)" if len(refused) > 1 else ""
    raise SequenceViolation(
        f"Cannot {STEP_VERBS[step]} {first.label}: it {first.reasons[0]['message']}{more}",
        field=field,
        details=[x.as_dict() for x in refused],
    )
