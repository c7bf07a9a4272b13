"""Warehouse writes (issue 5, item 4; DESIGN §4): SSCCs, packing, moves; picking and stock
counts live in ``picking`` and ``counting`` and are re-exported here, so callers import one place.

Every step checks the unit state machine (``lifecycle.rules``) on everything it touches, locks
the ledger state rows of what it changes, and writes its document, its EPCIS events (through the
ledger's capture path: projections and seal included) and its audit entries in one transaction.
A refusal stores nothing.

Events:

- put-away and moves: ObjectEvent OBSERVE, bizStep ``storing``, readPoint = bizLocation = the
  target location's SGLN; the projection carries the move to what is packed inside a container;
- packing: AggregationEvent ADD, parentID = the SSCC, bizStep ``packing``, disposition
  ``in_progress`` (``container_closed`` when the case is closed with it);
- closing a case: ObjectEvent OBSERVE on the SSCC, bizStep ``packing``, ``container_closed``;
- unpacking: AggregationEvent DELETE, bizStep ``unpacking``, disposition ``in_progress``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import Conflict, ValidationFailed
from medtrace.ledger.models import EdgeKind, EventEpc, GenealogyEdge, UnitState
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.selectors import contents, with_contents
from medtrace.lifecycle.services import next_number, own_party
from medtrace.masterdata.models import Location

from .common import (
    PERM_MOVE,
    PERM_PACK,
    PERM_UNPACK,
    STORAGE_KINDS,
    Scanned,
    check_step,
    label_of,
    lock_states,
    places,
    refuse,
    require,
    require_scans,
    resolve_scans,
    sscc_digits,
    storage_location,
    untyped_bt,
    where_text,
)
from .counting import stock_count_create, stock_count_reconcile, stock_count_scan
from .models import (
    Container,
    ContainerLevel,
    ContainerStatus,
    MoveKind,
    SsccCounter,
    StockMove,
    StockMoveItem,
)
from .picking import pick, pick_list_cancel, pick_list_close, pick_list_create

__all__ = [
    "PackResult",
    "container_close",
    "container_create",
    "container_pack",
    "container_unpack",
    "pack_precheck",
    "pick",
    "pick_list_cancel",
    "pick_list_close",
    "pick_list_create",
    "sscc_allocate",
    "stock_count_create",
    "stock_count_reconcile",
    "stock_count_scan",
    "stock_move",
]

DEFAULT_EXTENSION_DIGIT = "0"
_BLOCK = 256  # candidate serial references checked against the ledger per query


# SSCC ------------------------------------------------------------------------------------------


def _sscc(extension: str, prefix: str, reference: int, width: int) -> str:
    body = f"{extension}{prefix}{reference:0{width}d}"
    return body + udi.gs1_check_digit(body)


def sscc_allocate(*, count: int = 1, extension_digit: str = DEFAULT_EXTENSION_DIGIT) -> list[str]:
    """``count`` new SSCCs: extension digit + our GS1 company prefix + serial reference + check
    digit (GS1 General Specifications §2.2.1).

    The counter row is locked until the caller's transaction commits, so two stations queue on
    it and never read the same reference. An SSCC is never reused: references already in the
    container register or anywhere in the ledger (e.g. captured from another system under our
    prefix) are skipped.
    """
    if not (isinstance(extension_digit, str) and len(extension_digit) == 1
            and extension_digit.isdigit()):  # fmt: skip
        raise ValidationFailed(
            _("extension_digit: expected one digit 0-9, got %(value)r")
            % {"value": extension_digit},
            field="extension_digit",
        )
    if count < 1:
        raise ValidationFailed(_("count: at least 1"), field="count")
    prefix = own_party().gs1_company_prefix or ""
    if not (prefix.isdigit() and 6 <= len(prefix) <= 12):
        raise ValidationFailed(
            _(
                "Our company has no valid GS1 company prefix (%(prefix)r); set it in master data "
                "before making SSCCs"
            )
            % {"prefix": prefix},
            field="party",
        )
    width = 16 - len(prefix)
    limit = 10**width
    with transaction.atomic():
        SsccCounter.objects.get_or_create(company_prefix=prefix, extension_digit=extension_digit)
        counter = SsccCounter.objects.select_for_update().get(
            company_prefix=prefix, extension_digit=extension_digit
        )
        value = counter.next_value
        out: list[str] = []
        while len(out) < count:
            stop = min(value + max(count - len(out), _BLOCK), limit)
            if value >= stop:
                raise Conflict(
                    _(
                        "Every SSCC serial reference of prefix %(prefix)s with extension digit "
                        "%(ext)s is used; use another extension digit"
                    )
                    % {"prefix": prefix, "ext": extension_digit}
                )
            block = {_sscc(extension_digit, prefix, v, width): v for v in range(value, stop)}
            urns = {udi.sscc_urn(s, len(prefix)): s for s in block}
            used = set(Container.objects.filter(sscc__in=block).values_list("sscc", flat=True))
            used |= {
                urns[e] for e in EventEpc.objects.filter(epc__in=urns).values_list("epc", flat=True)
            }
            for sscc, reference in block.items():
                value = reference + 1
                if sscc not in used:
                    out.append(sscc)
                    if len(out) == count:
                        break
        counter.next_value = value
        counter.save(update_fields=["next_value"])
    return out


def container_create(
    *,
    level: str = ContainerLevel.CASE,
    user: User | None,
    location: Location | int | str | None = None,
    extension_digit: str = DEFAULT_EXTENSION_DIGIT,
    at: datetime | None = None,
) -> Container:
    """A new, empty case or pallet with a new SSCC (audited). It enters the ledger when
    something is packed into it."""
    require(user, PERM_PACK, _("pack cases and pallets"))
    if level not in ContainerLevel.values:
        raise ValidationFailed(
            _("level: %(level)r is not a container level; expected case or pallet")
            % {"level": level},
            field="level",
        )
    place = storage_location(location) if location not in (None, "") else None
    with transaction.atomic():
        (sscc,) = sscc_allocate(extension_digit=extension_digit)
        prefix = own_party().gs1_company_prefix or ""
        container = Container.objects.create(
            sscc=sscc,
            epc=udi.sscc_urn(sscc, len(prefix)),
            level=level,
            location=place,
            created_at=at or timezone.now(),
            created_by=user,
        )
        audit.record_create(container, user=user)
    return container


# Packing ---------------------------------------------------------------------------------------


@dataclass
class PackResult:
    container: Container
    epcs: list[str] = field(default_factory=list)  # what the event named (direct children)
    event_id: str = ""


def _lock_container(container: Container) -> Container:
    return Container.objects.select_for_update().get(pk=container.pk)


def _refuse_children(
    container: Container, scanned: list[Scanned], states: dict[str, UnitState]
) -> None:
    """Level, self-containment and "already in another container" checks, one message per
    first problem, naming the unit and the container."""
    if container.epc:
        me = label_of(container.epc)
    else:
        me = _("the new pallet") if container.level == ContainerLevel.PALLET else _("the new case")
    kids = [s.epc for s in scanned if s.is_container]
    inside_kids = contents(kids) if kids else {}
    levels = (
        dict(Container.objects.filter(epc__in=kids).values_list("epc", "level")) if kids else {}
    )
    for s in scanned:
        state = states.get(s.epc)
        name = label_of(s.epc, state)
        if s.epc == container.epc:
            raise refuse(
                _("Cannot pack %(me)s into itself") % {"me": me},
                field="children", epc=s.epc, code="into_itself", label=name,
            )  # fmt: skip
        if container.epc in inside_kids.get(s.epc, []):
            raise refuse(
                _("Cannot pack %(kid)s into %(me)s: %(me)s is inside %(kid)s")
                % {"kid": name, "me": me},
                field="children", epc=s.epc, code="into_own_content", label=name,
            )  # fmt: skip
        if container.level == ContainerLevel.CASE and s.is_container:
            raise refuse(
                _("Cannot pack %(kid)s into %(me)s: a case holds units; put cases on a "
                  "pallet") % {"kid": name, "me": me},
                field="children", epc=s.epc, code="wrong_level", label=name,
            )  # fmt: skip
        if container.level == ContainerLevel.PALLET:
            if not s.is_container:
                raise refuse(
                    _("Cannot put unit %(kid)s onto %(me)s: a pallet holds cases; pack "
                      "the unit into a case first") % {"kid": name, "me": me},
                    field="children", epc=s.epc, code="wrong_level", label=name,
                )  # fmt: skip
            if levels.get(s.epc) == ContainerLevel.PALLET:
                raise refuse(
                    _("Cannot put pallet %(kid)s onto %(me)s") % {"kid": name, "me": me},
                    field="children", epc=s.epc, code="wrong_level", label=name,
                )  # fmt: skip
            if state is None or not inside_kids.get(s.epc):
                raise refuse(
                    _("Cannot put %(kid)s onto %(me)s: the case is empty")
                    % {"kid": name, "me": me},
                    field="children", epc=s.epc, code="empty", label=name,
                )  # fmt: skip
        parent = state.container if state is not None else None
        if parent == container.epc:
            raise refuse(
                _("%(kid)s is already packed in %(me)s") % {"kid": name, "me": me},
                field="children", epc=s.epc, code="already_inside", label=name,
            )  # fmt: skip
        if parent:
            raise refuse(
                _("Cannot pack %(kid)s into %(me)s: it is already packed in %(other)s; unpack "
                  "it from there first")
                % {"kid": name, "me": me, "other": label_of(parent)},
                field="children", epc=s.epc, code="in_other_container", label=name,
            )  # fmt: skip
        if state is not None and state.installed_in:
            raise refuse(
                _("Cannot pack %(kid)s: it is installed in %(parent)s")
                % {"kid": name, "parent": label_of(state.installed_in)},
                field="children", epc=s.epc, code="installed", label=name,
            )  # fmt: skip


def _packing_location(
    location: Location | int | str | None, container: Container, states: list[UnitState]
) -> Location | None:
    if location not in (None, ""):
        return storage_location(location)
    if container.location is not None:
        return container.location
    where = {s.biz_location for s in states}
    if len(where) == 1 and (only := where.pop()):
        found = Location.objects.filter(sgln=only, party=own_party(), kind__in=STORAGE_KINDS)
        return found.first()
    return None


def container_pack(
    *,
    container: Container,
    children: Sequence[str],
    user: User | None,
    location: Location | int | str | None = None,
    close: bool = False,
    at: datetime | None = None,
) -> PackResult:
    """Pack units into a case, or cases onto a pallet (AggregationEvent ADD ``packing``).

    Refused, naming the unit and why: a unit already in another container, a container into
    itself or into what it contains, a case on a case or a unit on a pallet, anything the state
    machine refuses to pack (in transit, scrapped, not commissioned); a closed container.
    """
    require(user, PERM_PACK, _("pack cases and pallets"))
    scanned = resolve_scans(children, field="children")
    require_scans(scanned, field="children")
    now = at or timezone.now()
    with transaction.atomic():
        box = _lock_container(container)
        if box.status == ContainerStatus.CLOSED:
            raise Conflict(
                _("%(me)s is closed; unpack it to reopen it before packing more")
                % {"me": label_of(box.epc)},
                field="container",
            )
        epcs = [s.epc for s in scanned]
        everything = with_contents(epcs)
        states = lock_states([*everything, box.epc])
        _refuse_children(box, scanned, states)
        check_step(rules.Step.PACK, everything, field="children")
        place = _packing_location(location, box, [states[e] for e in epcs if e in states])
        (event,) = ev.emit(
            [
                ev.aggregation_event(
                    action="ADD",
                    parent=box.epc,
                    children=epcs,
                    biz_step="packing",
                    disposition="container_closed" if close else "in_progress",
                    at=now,
                    read_point=place.sgln if place else None,
                    biz_location=place.sgln if place else None,
                )
            ],
            user=user,
        )
        before = audit.snapshot(box)
        if close:
            box.status = ContainerStatus.CLOSED
            box.closed_at = now
        if box.location is None and place is not None:
            box.location = place
        box.save()
        changes = audit.diff(before, audit.snapshot(box))
        changes["packed"] = [None, epcs]
        audit.record(
            action=AuditAction.UPDATE,
            object_type=audit.label_of(box),
            object_id=box.pk,
            object_repr=str(box),
            changes=changes,
            user=user,
        )
    return PackResult(box, epcs, event.event_id)


def pack_precheck(*, level: str, children: Sequence[str]) -> list[Scanned]:
    """The checks of ``container_pack`` for a packing station's scans, before the case exists
    (nothing is written): each scan is shown, or refused in red, as it is made."""
    if level not in ContainerLevel.values:
        raise ValidationFailed(
            _("level: %(level)r is not a container level; expected case or pallet")
            % {"level": level},
            field="level",
        )
    scanned = resolve_scans(children, field="children")
    epcs = [s.epc for s in scanned]
    everything = with_contents(epcs)
    states = {s.epc: s for s in UnitState.objects.filter(epc__in=everything)}
    _refuse_children(Container(level=level, epc="", sscc=""), scanned, states)
    check_step(rules.Step.PACK, everything, field="children")
    return scanned


def container_close(
    *, container: Container, user: User | None, at: datetime | None = None
) -> Container:
    """Close a case or pallet (ObjectEvent OBSERVE ``packing`` / ``container_closed``)."""
    require(user, PERM_PACK, _("pack cases and pallets"))
    now = at or timezone.now()
    with transaction.atomic():
        box = _lock_container(container)
        if box.status == ContainerStatus.CLOSED:
            raise Conflict(
                _("%(me)s is already closed") % {"me": label_of(box.epc)}, field="container"
            )
        inside = contents([box.epc])[box.epc]
        if not inside:
            raise ValidationFailed(
                _("%(me)s is empty: pack something into it before closing it")
                % {"me": label_of(box.epc)},
                field="container",
            )
        lock_states([box.epc, *inside])
        check_step(rules.Step.PACK, [box.epc, *inside], field="container")
        ev.emit(
            [
                ev.object_event(
                    epcs=[box.epc], biz_step="packing", disposition="container_closed", at=now
                )
            ],
            user=user,
        )
        before = audit.snapshot(box)
        box.status = ContainerStatus.CLOSED
        box.closed_at = now
        box.save(update_fields=["status", "closed_at"])
        audit.record_update(box, before, user=user)
    return box


def container_unpack(
    *,
    container: Container,
    children: Sequence[str] = (),
    user: User | None,
    at: datetime | None = None,
) -> PackResult:
    """Take units out of a case or cases off a pallet (AggregationEvent DELETE ``unpacking``);
    no ``children`` = everything directly inside. The container is open again afterwards."""
    require(user, PERM_UNPACK, _("unpack cases and pallets"))
    scanned = resolve_scans(children, field="children") if children else []
    now = at or timezone.now()
    with transaction.atomic():
        box = _lock_container(container)
        me = label_of(box.epc)
        direct = list(
            GenealogyEdge.objects.filter(
                parent=box.epc, kind=EdgeKind.AGGREGATED, valid_to__isnull=True
            )
            .order_by("id")
            .values_list("child", flat=True)
        )
        if not direct:
            raise ValidationFailed(
                _("%(me)s is empty: there is nothing to unpack") % {"me": me}, field="container"
            )
        epcs = [s.epc for s in scanned] or direct
        states = lock_states([*with_contents(epcs), box.epc])
        by_sgln = places()
        for epc in epcs:
            if epc not in direct:
                state = states.get(epc)
                where = (
                    _("it is packed in %(other)s") % {"other": label_of(state.container)}
                    if state is not None and state.container
                    else _("it is not packed (%(where)s)") % {"where": where_text(state, by_sgln)}
                )
                raise refuse(
                    _("Cannot unpack %(kid)s from %(me)s: %(why)s")
                    % {"kid": label_of(epc, state), "me": me, "why": where},
                    field="children", epc=epc, code="not_inside", label=label_of(epc, state),
                )  # fmt: skip
        check_step(rules.Step.PACK, with_contents(epcs), field="children")
        (event,) = ev.emit(
            [
                ev.aggregation_event(
                    action="DELETE",
                    parent=box.epc,
                    children=epcs,
                    biz_step="unpacking",
                    disposition="in_progress",
                    at=now,
                )
            ],
            user=user,
        )
        before = audit.snapshot(box)
        box.status = ContainerStatus.OPEN
        box.closed_at = None
        box.save(update_fields=["status", "closed_at"])
        changes = audit.diff(before, audit.snapshot(box))
        changes["unpacked"] = [epcs, None]
        audit.record(
            action=AuditAction.UPDATE,
            object_type=audit.label_of(box),
            object_id=box.pk,
            object_repr=str(box),
            changes=changes,
            user=user,
        )
    return PackResult(box, epcs, event.event_id)


def container_get(value: str | Container, *, field: str = "sscc") -> Container:
    """One of our containers, named by its SSCC in any form (18 digits, (00)…, URN, Digital
    Link, raw scan)."""
    from medtrace.errors import NotFound

    if isinstance(value, Container):
        return value
    text = (value or "").strip()
    digits: str | None = None
    if text.isdigit() and len(text) == 18:
        digits = text
    else:
        try:
            identity = udi.parse(text)
        except udi.UdiError as exc:
            raise ValidationFailed(f"{field}: {exc}", field=field) from exc
        digits = identity.sscc or (sscc_digits(identity.epc) if identity.epc else None)
    if not digits:
        raise ValidationFailed(
            _("%(field)s: %(text)r is not an SSCC") % {"field": field, "text": text}, field=field
        )
    found = Container.objects.filter(sscc=digits).select_related("location").first()
    if found is None:
        raise NotFound(
            _("No case or pallet with SSCC %(sscc)s was made here") % {"sscc": digits},
            field=field,
        )
    return found


# Moves -----------------------------------------------------------------------------------------


def stock_move(
    *,
    scans: Sequence[str],
    to_location: Location | int | str,
    user: User | None,
    note: str = "",
    at: datetime | None = None,
) -> StockMove:
    """Put away or move units and containers to one of our warehouse or bin locations.

    A put-away when something comes from outside our storage (a production line, receiving),
    a move otherwise. Refused: a unit packed in a container that is not moved with it, anything
    already at the target, anything the state machine refuses to move.
    """
    require(user, PERM_MOVE, _("move stock"))
    target = storage_location(to_location, field="to_location")
    scanned = resolve_scans(scans, field="scans")
    require_scans(scanned, field="scans")
    now = at or timezone.now()
    with transaction.atomic():
        epcs = [s.epc for s in scanned]
        everything = with_contents(epcs)
        states = lock_states(everything)
        by_sgln = places()
        moved = set(everything)
        top: list[str] = []
        for s in scanned:
            state = states.get(s.epc)
            name = label_of(s.epc, state)
            if state is not None and state.container:
                if s.epc in moved and state.container in moved:
                    continue  # it travels inside a container that is moved too
                raise refuse(
                    _("Cannot move %(kid)s on its own: it is packed in %(other)s; move the "
                      "container, or unpack it first")
                    % {"kid": name, "other": label_of(state.container)},
                    field="scans", epc=s.epc, code="in_container", label=name,
                )  # fmt: skip
            if state is not None and state.installed_in:
                raise refuse(
                    _("Cannot move %(kid)s on its own: it is installed in %(parent)s")
                    % {"kid": name, "parent": label_of(state.installed_in)},
                    field="scans", epc=s.epc, code="installed", label=name,
                )  # fmt: skip
            if state is not None and state.biz_location == target.sgln:
                raise refuse(
                    _("%(kid)s is already at %(loc)s") % {"kid": name, "loc": target},
                    field="scans", epc=s.epc, code="already_there", label=name,
                )  # fmt: skip
            top.append(s.epc)
        check_step(rules.Step.MOVE, everything, field="scans")
        origins = [states[e].biz_location if e in states else None for e in top]
        storage = {
            loc.sgln for loc in by_sgln.values()
            if loc.party_id == target.party_id and loc.kind in STORAGE_KINDS
        }  # fmt: skip
        kind = MoveKind.MOVE if all(o in storage for o in origins) else MoveKind.PUT_AWAY
        distinct = set(origins)
        from_location = by_sgln.get(distinct.pop() or "") if len(distinct) == 1 else None
        move = StockMove.objects.create(
            number=next_number("SM"),
            kind=kind,
            from_location=from_location,
            to_location=target,
            note=(note or "").strip(),
            created_at=now,
            created_by=user,
        )
        (event,) = ev.emit(
            [
                ev.object_event(
                    epcs=top,
                    biz_step="storing",
                    at=now,
                    read_point=target.sgln,
                    biz_location=target.sgln,
                    transactions=[untyped_bt(move.number)],
                )
            ],
            user=user,
        )
        move.event_id = event.event_id
        move.save(update_fields=["event_id"])
        StockMoveItem.objects.bulk_create(
            [
                StockMoveItem(
                    move=move,
                    epc=epc,
                    serial=(states[epc].serial or "") if epc in states else "",
                    product_id=states[epc].product_id if epc in states else None,
                    is_container=epc.startswith("urn:epc:id:sscc:"),
                    from_sgln=origin or "",
                )
                for epc, origin in zip(top, origins, strict=True)
            ]
        )
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(move),
            object_id=move.pk,
            object_repr=str(move),
            changes={
                **audit.snapshot(move),
                "items": top,
                "units": len([e for e in everything if not e.startswith("urn:epc:id:sscc:")]),
            },
            user=user,
        )
    return move
