"""Trace reads (DESIGN §7): unit timeline, backward trace (composition), forward trace (recall).

Entry points take the identifier as a person or system typed it and the requesting user:

- ``unit_timeline(id=..., user=...)``
- ``trace_backward(id=..., user=..., include_history=False)``
- ``trace_forward(id=..., user=..., include_history=False)``

Each resolves the identifier once (``resolve_target``), checks that the user may trace
(``check_trace_access``) and sees the start object, then runs a constant number of set-based
queries, whatever the size of the answer. Partner custody comes from the one scoping module,
``medtrace.accounts.scoping`` (re-exported here as ``scope_units``); no code here decides on its
own what a party may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.accounts.roles import Role
from medtrace.accounts.scoping import party_identifiers, scope_units
from medtrace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medtrace.ledger.models import EventEpc, EventQuantity, GenealogyEdge, UnitState
from medtrace.lib import udi
from medtrace.masterdata.selectors import resolve_udi

from . import genealogy, timeline
from .genealogy import ForwardResult, holder_dict
from .kinds import epc_kind, is_class_level
from .sql import trace_reads

__all__ = [
    "ForwardResult",
    "Target",
    "check_trace_access",
    "epc_kind",
    "party_identifiers",
    "resolve_target",
    "scope_units",
    "trace_backward",
    "trace_forward",
    "unit_timeline",
]

# How many same-serial candidates a 409 lists.
_MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Target:
    """The object an ``id`` names, in the ledger's canonical spelling."""

    query: str
    epc: str
    kind: str
    state: dict[str, Any] | None  # UnitState values of an instance-level object


# Access --------------------------------------------------------------------------------------


def check_trace_access(user: User | None) -> None:
    """Who may trace: internal staff with a department role (or the ledger view permission),
    and partner users (scoped to their custody by ``scope_units``). ``None`` is the CLI."""
    if user is None or user.is_superuser or user.party_id is not None:
        return
    if user.has_perm("ledger.view_unitstate"):
        return
    if user.groups.filter(name__in=Role.values).exists():
        return
    raise PermissionDenied(
        "Your account has no department role, so it cannot trace units; ask an administrator "
        "for one (any department role may read traces)",
        details={"required": "a department role or ledger.view_unitstate"},
    )


def scope_sql(user: User | None, alias: str = "u") -> tuple[str, list[Any]]:
    """``scope_units`` as an SQL condition on ``alias.epc``, for the raw walks ("" if none)."""
    return scoping.custody_sql(user, f"{alias}.epc")


def _in_scope(user: User | None, epc: str) -> bool:
    return epc in scoping.epcs_in_scope(user, [epc])


# Identifier resolution -----------------------------------------------------------------------


def _looks_structured(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith(("(", "]", "+", "urn:", "http://", "https://")) or "\x1d" in text


def _state(epc: str) -> dict[str, Any] | None:
    row = (
        UnitState.objects.filter(epc=epc)
        .values("epc", "gtin", "serial", "lot", "expiry", "disposition", "biz_location",
                "possessing_party", "owning_party", "container", "installed_in", "product_id",
                "product__name", "product__model")
        .first()
    )  # fmt: skip
    return dict(row) if row is not None else None


def _by_serial(
    text: str,
    user: User | None,
    parse_error: ValidationFailed | None,
    product_only: udi.Identity | None = None,
) -> str:
    serial = text.strip()
    qs = scope_units(user, UnitState.objects.filter(serial=serial))
    candidates = list(qs.order_by("epc").values_list("epc", flat=True)[: _MAX_CANDIDATES + 1])
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise Conflict(
            f"Serial {serial!r} belongs to {len(candidates)}"
            f"{'+' if len(candidates) > _MAX_CANDIDATES else ''} units of different products; "
            "scan the full UDI or give the EPC URN of one of them",
            field="id",
            details={"candidates": candidates[:_MAX_CANDIDATES]},
        )
    if parse_error is not None and _looks_structured(text):
        raise ValidationFailed(parse_error.message, field="id", details=parse_error.details)
    if product_only is not None:
        raise ValidationFailed(
            f"{text!r} names a product (DI {product_only.di}), not one unit, lot or container: "
            "add its serial (21), lot (10) or give an SSCC (00)",
            field="id",
            details={"di": product_only.di},
        )
    raise NotFound(
        f"Nothing is known as {serial!r}: it is not the serial of any unit"
        + (f", nor a valid UDI ({parse_error.message})" if parse_error else ""),
        field="id",
        details={"id": text},
    )


def _epc_from_identity(identity: udi.Identity, text: str) -> str | None:
    hibc = identity.hibc
    named = (
        identity.serial
        or identity.lot
        or identity.sscc
        or (hibc is not None and (hibc.serial or hibc.lot))
    )
    if not named:
        return None
    if identity.epc:
        return identity.epc
    if text.startswith("urn:"):
        return text
    # No company-prefix length known for this GTIN: find the unit by its GTIN and serial.
    if identity.gtin and identity.serial:
        found = UnitState.objects.filter(gtin=identity.gtin, serial=identity.serial).values_list(
            "epc", flat=True
        )[:1]
        if found:
            return found[0]
    raise NotFound(
        f"No unit is known as {text!r}: the company prefix of GTIN {identity.gtin} is not in "
        "master data and no event names this unit",
        field="id",
        details={"gtin": identity.gtin, "serial": identity.serial, "lot": identity.lot},
    )


def resolve_target(text: str, *, user: User | None, allow_class: bool = True) -> Target:
    """The ledger object ``text`` names, in any form of DESIGN §5.

    EPC URN, Digital Link, bracketed element string, raw scan (with symbology identifier and GS
    separators), HIBC; (01)+(10) names the lot (``urn:epc:class:lgtin:...``), (01)+(21) the unit;
    otherwise the bare serial of a known unit (409 if several products share it). 404 when the
    ledger has never seen the object, or when a partner user may not see it.
    """
    if not text or not text.strip():
        raise ValidationFailed("id is empty: scan or type a UDI, EPC URN or serial", field="id")
    identity: udi.Identity | None = None
    parse_error: ValidationFailed | None = None
    try:
        if text.startswith("urn:"):
            # An EPC URN carries its company-prefix length: no master data to consult (the
            # product comes with the unit's state), which keeps the timeline's queries down.
            identity = udi.parse(text)
        else:
            identity, _product = resolve_udi(text)
    except udi.UdiError as exc:
        parse_error = ValidationFailed(str(exc), field="id", details={"ai": exc.field})
    except ValidationFailed as exc:
        parse_error = exc
    epc: str | None = None
    if identity is not None:
        epc = _epc_from_identity(identity, text)
        if epc is None and identity.gln and not identity.gtin:
            raise ValidationFailed(
                f"{text!r} names a location (GLN {identity.gln}), not a unit, lot or container",
                field="id",
            )
    elif text.startswith("urn:"):
        epc = text  # an EPC scheme the UDI parser does not build (GIAI, GRAI...)
    if epc is None:
        # Not a UDI, or only a DI: a numeric serial can read as a GTIN-8/12/13 (or as scan data).
        epc = _by_serial(text, user, parse_error, identity)
    return _known(text, epc, user=user, allow_class=allow_class)


def _class_known(epc: str) -> bool:
    """A lot the ledger knows: counted in an event, consumed into something, or carried by
    serialized units (a lot of serialized devices: (01)+(10) of a pump names its units' lot,
    though no event names the lot class itself)."""
    if EventQuantity.objects.filter(epc_class=epc).exists():
        return True
    if GenealogyEdge.objects.filter(child=epc).exists():
        return True
    gtin, _serial, lot = genealogy._identity_facts(epc)
    return bool(gtin and lot and UnitState.objects.filter(gtin=gtin, lot=lot).exists())


def _known(text: str, epc: str, *, user: User | None, allow_class: bool) -> Target:
    kind = epc_kind(epc)
    missing = NotFound(
        f"No event in the ledger names {epc}" + (f" ({text!r})" if text != epc else ""),
        field="id", details={"epc": epc},
    )  # fmt: skip
    partner = scoping.is_partner(user)
    if is_class_level(kind):
        # A partner reads a lot it supplied or received; a forward trace (allow_class) may
        # start from any lot, and answers only with the partner's own units (404 if none).
        if partner and not allow_class and not _in_scope(user, epc):
            raise missing
        if not _class_known(epc):
            raise missing
        return Target(text, epc, kind, None)
    if partner and not _in_scope(user, epc):
        raise missing  # a partner must not learn that another party's unit exists
    state = _state(epc)
    if state is None:
        if not EventEpc.objects.filter(epc=epc).exists():
            raise missing
        return Target(text, epc, kind, None)
    return Target(text, epc, kind, state)


# Entry points --------------------------------------------------------------------------------


def _unit_header(target: Target, holders: dict[str, Any]) -> dict[str, Any] | None:
    state = target.state
    if state is None:
        return None
    holder_id = state["possessing_party"] or state["owning_party"]
    product = None
    if state["product_id"] is not None:
        product = {
            "id": state["product_id"],
            "name": state["product__name"],
            "model": state["product__model"],
        }
    return {
        "epc": state["epc"], "gtin": state["gtin"], "serial": state["serial"],
        "lot": state["lot"], "expiry": state["expiry"].isoformat() if state["expiry"] else None,
        "product": product, "disposition": state["disposition"],
        "location": state["biz_location"],
        "holder": holder_dict(holder_id, holders.get(holder_id)) if holder_id else None,
        "contained_in": state["container"], "installed_in": state["installed_in"],
    }  # fmt: skip


def _attach_excursions(events: list[dict[str, Any]], rows: list[Any], epc: str) -> None:
    """Condition excursions (conditions app) on the events carrying sensor data: one query,
    and only when the timeline has such events."""
    with_sensors = {item["eventID"] for item in events if item["conditions"]}
    if not with_sensors:
        return
    from medtrace.conditions.selectors import excursions_for_timeline

    pks = {row[2]: row[1] for row in rows if row[2] in with_sensors}
    found = excursions_for_timeline(pks.values(), epc)
    for item in events:
        pk = pks.get(item["eventID"])
        if pk in found:
            item["excursions"] = found[pk]


def unit_timeline(*, id: str, user: User | None) -> dict[str, Any]:
    """Every event touching the unit, oldest first, each with its phase and path (``via``)."""
    check_trace_access(user)
    target = resolve_target(id, user=user, allow_class=False)
    with trace_reads():
        rows = timeline.fetch_timeline_rows(target.epc)
    # A partner sees the maker's events and its own, not another outside party's.
    visible = scoping.visible_event_pks(user, (row[1] for row in rows))
    if visible is not None:
        rows = [row for row in rows if row[1] in visible]
    holder_id = None
    if target.state is not None:
        holder_id = target.state["possessing_party"] or target.state["owning_party"]
    events, holders = timeline.build_timeline(
        rows, extra_holders={holder_id} if holder_id else None
    )
    _attach_excursions(events, rows, target.epc)
    return {
        "id": id, "epc": target.epc, "kind": target.kind,
        "unit": _unit_header(target, holders), "count": len(events), "events": events,
    }  # fmt: skip


def trace_backward(*, id: str, user: User | None, include_history: bool = False) -> dict[str, Any]:
    """What the object is made of, as a tree; a container's packed contents as a flat list."""
    check_trace_access(user)
    target = resolve_target(id, user=user, allow_class=False)
    with trace_reads():
        result = genealogy.backward(
            target.epc,
            kind=target.kind,
            state=target.state,
            include_history=include_history,
            contents_scope=scope_sql(user, alias="w"),
        )
    return {
        "id": id,
        "epc": target.epc,
        "kind": target.kind,
        "include_history": include_history,
        **result,
    }


def trace_forward(*, id: str, user: User | None, include_history: bool = False) -> ForwardResult:
    """Recall impact: every instance-level object the start object reached (see ForwardOut)."""
    check_trace_access(user)
    target = resolve_target(id, user=user, allow_class=True)
    where, params = scope_sql(user)
    with trace_reads():
        result = genealogy.forward(
            target.epc,
            query=id,
            kind=target.kind,
            include_history=include_history,
            scope=(where, params),
            show_classes=not scoping.is_partner(user),
        )
    if scoping.is_partner(user) and not result.rows and not _in_scope(user, target.epc):
        # A lot that reached none of the partner's units: the same answer as an unknown lot.
        raise NotFound(
            f"No event in the ledger names {target.epc}", field="id", details={"epc": target.epc}
        )
    return result
