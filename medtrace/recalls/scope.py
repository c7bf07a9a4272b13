"""The scope of a recall: what it names, what that reached, and freezing it (DESIGN §7).

A scope names start objects: a lot (its lot class and its serialized units), a set of serials
(units or SSCCs), a supplier component lot (the procurement ``MaterialLot`` rows of that lot, or
the lot as the ledger knows it), a product over a production period (the units commissioned in
it), or a work order (the units or lot quantity its commissioning runs brought to life).

The impact is the forward trace of the start objects: one recursive CTE over ``GenealogyEdge``
for the whole start set, with the edge rules of ``trace.genealogy.forward`` (up through
transformation edges and current association edges - whatever was made from or now contains a
start object; down through current aggregation edges - whatever is packed in a start container).
``trace.genealogy.forward`` walks from one start; a work order or a lot of finished devices
starts from thousands of units, and walking from each would be one statement per unit, so the
recall walks the set at once. ``test_scope.py`` holds the two equal start by start.

An affected unit is an instance-level object the walk reached that is not itself inside another
reached unit: a pump that got a bad board is affected, and the board is recalled with it (it is
the pump that a hospital holds and returns). Cases and pallets are not units; what is packed in
them is. Scrapped units stay listed with their disposition.

Freezing writes the affected units as ``AffectedUnit`` rows with who held each one, where and in
what state at that moment. The frozen list is what the campaign works on and what the regulator
sees: ``recall_scope_recompute`` shows how the world moved since (added, removed, changed)
without touching it, and ``recall_scope_extend`` adds units explicitly (audited).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, ValidationFailed
from medtrace.ledger.identifiers import Holder, resolve_holders
from medtrace.ledger.models import (
    EventEpc,
    EventQuantity,
    EventSourceDest,
    GenealogyEdge,
    UnitState,
)
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.models import Material, Product, ProductIdentifier, TrackingMode
from medtrace.trace.kinds import epc_kind, is_class_level
from medtrace.trace.sql import EDGE, MAX_DEPTH, PRODUCT_ID, UNIT, fetch, trace_reads, values_table

from .common import GONE_DISPOSITIONS, invalid
from .models import AffectedUnit, RecallCampaign, ScopeKind, UnitKind, UnitSource

MAX_SERIALS = 10_000
IN_TRANSIT = "in_transit"
_UP = "g.kind IN ('transformed', 'associated') AND g.valid_to IS NULL"
_DOWN = "g.kind = 'aggregated' AND g.valid_to IS NULL"


# What a scope names ----------------------------------------------------------------------------


@dataclass
class Resolved:
    """The start objects of a scope, and what its parameters resolved to (kept on the
    campaign so a recompute walks from exactly the same starts)."""

    starts: list[str]
    facts: dict[str, Any]


def _param(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    return value.strip() if isinstance(value, str) else value


def _identity(text: str, field_name: str) -> udi.Identity:
    from medtrace.masterdata.selectors import resolve_udi

    try:
        identity, _product = resolve_udi(text)
    except ValidationFailed as exc:
        raise invalid(field_name, exc.message) from exc
    return identity


def _known_class(epc_class: str | None) -> bool:
    if not epc_class:
        return False
    return (
        EventQuantity.objects.filter(epc_class=epc_class).exists()
        or GenealogyEdge.objects.filter(child=epc_class).exists()
    )


def _product(params: Mapping[str, Any], field_name: str = "product_id") -> Product:
    pk = _param(params, field_name)
    if pk in (None, ""):
        raise invalid(field_name, _("name the product (its id)"), "required")
    try:
        product = Product.objects.prefetch_related("identifiers").get(pk=int(pk))
    except (TypeError, ValueError, Product.DoesNotExist):
        raise invalid(field_name, _("no product with id %(id)r") % {"id": pk}) from None
    return product


def _unit_di(product: Product) -> str | None:
    dis = sorted((i.packaging_level != "unit", i.di) for i in product.identifiers.all() if i.di)
    return dis[0][1] if dis else None


def _scope_lot(params: Mapping[str, Any]) -> Resolved:
    text = _param(params, "lot")
    if not text:
        raise invalid(
            "lot",
            _("name the lot: a UDI with (01) and (10), an LGTIN URN, or the lot number with "
              "product_id"),
            "required",
        )  # fmt: skip
    if _param(params, "product_id") not in (None, ""):
        product = _product(params)
        gtin, lot = _unit_di(product), text
        if not gtin:
            raise invalid("product_id", _("%(p)s has no DI") % {"p": product})
        epc_class: str | None = udi.lgtin_urn(gtin, lot, product.gcp_length)
    else:
        identity = _identity(text, "lot")
        hibc = identity.hibc
        if identity.serial or (hibc is not None and hibc.serial):
            raise invalid(
                "lot",
                _("%(text)r names one unit, not a lot; use the serials scope for units")
                % {"text": text},
            )
        gtin = identity.gtin or (hibc.di if hibc else None)
        lot = identity.lot or (hibc.lot if hibc else None)
        if not gtin or not lot:
            raise invalid(
                "lot", _("%(text)r names no lot: expected a DI with a lot (10)") % {"text": text}
            )
        epc_class = identity.epc if is_class_level(epc_kind(identity.epc or "")) else None
    units = list(
        UnitState.objects.filter(gtin=gtin, lot=lot).order_by("epc").values_list("epc", flat=True)
    )
    starts = ([epc_class] if epc_class and _known_class(epc_class) else []) + units
    if not starts:
        raise invalid(
            "lot",
            _("no unit of lot %(lot)s of DI %(gtin)s is known to the ledger")
            % {"lot": lot, "gtin": gtin},
            "not_found",
        )
    return Resolved(starts, {"gtin": gtin, "lot": lot, "class": epc_class, "units": len(units)})


def _scope_serials(params: Mapping[str, Any]) -> Resolved:
    from medtrace.trace.selectors import resolve_target

    scans = params.get("serials")
    if isinstance(scans, str) or not isinstance(scans, Sequence) or not scans:
        raise invalid("serials", _("expected a list of UDIs, EPC URNs or serials"), "required")
    if len(scans) > MAX_SERIALS:
        raise invalid("serials", _("at most %(n)s per recall") % {"n": f"{MAX_SERIALS:,}"})
    starts: list[str] = []
    errors = []
    for index, scan in enumerate(scans):
        name = f"serials[{index}]"
        if not isinstance(scan, str) or not scan.strip():
            errors.append({"field": name, "message": _("empty"), "code": "required"})
            continue
        try:
            target = resolve_target(scan.strip(), user=None, allow_class=False)
        except MedtraceError as exc:
            errors.append({"field": name, "message": exc.message, "code": exc.code})
            continue
        starts.append(target.epc)
    if errors:
        first = errors[0]
        raise ValidationFailed(
            f"{first['field']}: {first['message']}"
            + (_(" (and %(n)s more)") % {"n": len(errors) - 1} if len(errors) > 1 else ""),
            field=first["field"],
            details=errors,
        )
    return Resolved(list(dict.fromkeys(starts)), {"count": len(starts)})


def _material(params: Mapping[str, Any]) -> tuple[Material, str]:
    from medtrace.procurement.models import MaterialLot

    lot_id = _param(params, "material_lot_id")
    if lot_id not in (None, ""):
        try:
            row = MaterialLot.objects.select_related("material").get(pk=int(lot_id))
        except (TypeError, ValueError, MaterialLot.DoesNotExist):
            raise invalid(
                "material_lot_id", _("no material lot with id %(id)r") % {"id": lot_id}
            ) from None
        lot = row.identifier if row.tracking == TrackingMode.LOT else row.lot
        if not lot:
            raise invalid(
                "material_lot_id",
                _("%(serial)s is a component serial received without a supplier lot; use the "
                  "serials scope") % {"serial": row.identifier},
            )  # fmt: skip
        return row.material, lot
    lot = _param(params, "lot")
    if not lot:
        raise invalid(
            "lot",
            _("name the supplier lot: material_lot_id, material_id with lot, or the lot's UDI"),
            "required",
        )
    material_id = _param(params, "material_id")
    if material_id not in (None, ""):
        try:
            return Material.objects.get(pk=int(material_id)), lot
        except (TypeError, ValueError, Material.DoesNotExist):
            raise invalid(
                "material_id", _("no material with id %(id)r") % {"id": material_id}
            ) from None
    try:
        identity = _identity(lot, "lot")
    except ValidationFailed as exc:
        raise invalid(
            "lot",
            _("%(text)r names no supplier lot (%(why)s); give material_id with the lot number, "
              "or the lot's UDI with (01) of the material and (10)")
            % {"text": lot, "why": exc.message.removeprefix("lot: ")},
        ) from exc  # fmt: skip
    material = Material.objects.filter(gtin=identity.gtin).first() if identity.gtin else None
    if material is None or not identity.lot:
        raise invalid(
            "lot",
            _("%(text)r names no supplier lot of a known material: expected (01) of a material "
              "and (10), or material_id with the lot number") % {"text": lot},
        )  # fmt: skip
    return material, identity.lot


def _scope_supplier_lot(params: Mapping[str, Any]) -> Resolved:
    from medtrace.procurement.models import MaterialLot

    material, lot = _material(params)
    received = list(
        MaterialLot.objects.filter(material=material)
        .filter(Q(tracking=TrackingMode.LOT, identifier=lot) | Q(lot=lot))
        .order_by("epc")
        .values_list("epc", flat=True)
    )
    # Captured by a supplier's or our own system without a goods receipt: the ledger's own
    # names of the lot (its class) and of serialized components carrying it.
    epc_class = ev.material_lot_class(material, lot)
    ledger = [epc_class] if _known_class(epc_class) else []
    if material.gtin:
        ledger += list(
            UnitState.objects.filter(gtin=material.gtin, lot=lot).values_list("epc", flat=True)
        )
    starts = list(dict.fromkeys([*received, *ledger]))
    if not starts:
        raise invalid(
            "lot",
            _("no lot %(lot)s of %(material)s was received or is known to the ledger")
            % {"lot": lot, "material": material.name},
            "not_found",
        )
    return Resolved(
        starts,
        {"material_id": material.pk, "material": material.name, "lot": lot, "class": epc_class},
    )


def _date(params: Mapping[str, Any], name: str) -> date:
    value = _param(params, name)
    if isinstance(value, date):
        return value
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise invalid(name, _("expected a date YYYY-MM-DD; got %(v)r") % {"v": value})
    return parsed


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _scope_product_range(params: Mapping[str, Any]) -> Resolved:
    from medtrace.production.models_orders import WorkOrderCommissioning

    product = _product(params)
    first, last = _date(params, "from"), _date(params, "to")
    if last < first:
        raise invalid("to", _("%(to)s is before from (%(from)s)") % {"to": last, "from": first})
    start, end = _local_midnight(first), _local_midnight(last + timedelta(days=1))
    dis = [i.di for i in product.identifiers.all()]
    # A unit's first ledger event is its commissioning (the state machine refuses anything
    # else on an unknown serial).
    units = list(
        UnitState.objects.filter(Q(product=product) | Q(product__isnull=True, gtin__in=dis))
        .filter(first_event_time__gte=start, first_event_time__lt=end)
        .order_by("epc")
        .values_list("epc", flat=True)
    )
    lots = []
    if product.tracking == TrackingMode.LOT:
        lots = sorted(
            {
                ev.lot_class(product, lot)
                for lot in WorkOrderCommissioning.objects.filter(
                    work_order__product=product, commissioned_at__gte=start, commissioned_at__lt=end
                ).values_list("work_order__lot", flat=True)
                if lot
            }
        )
    starts = lots + units
    if not starts:
        raise invalid(
            "from",
            _("no %(product)s was commissioned from %(from)s to %(to)s")
            % {"product": product, "from": first, "to": last},
            "not_found",
        )
    return Resolved(
        starts,
        {"product_id": product.pk, "from": first.isoformat(), "to": last.isoformat(),
         "units": len(units), "lots": lots},
    )  # fmt: skip


def _scope_work_order(params: Mapping[str, Any]) -> Resolved:
    from medtrace.production.models_orders import WorkOrder, WorkOrderCommissioning

    number = _param(params, "work_order")
    if not number:
        raise invalid("work_order", _("name the work order (its number)"), "required")
    wo = WorkOrder.objects.filter(number=number).first()
    if wo is None:
        raise invalid("work_order", _("no work order %(n)s") % {"n": number}, "not_found")
    events = WorkOrderCommissioning.objects.filter(work_order=wo).values("event_id")
    units = list(
        EventEpc.objects.filter(event_id__in=events, role="epc")
        .order_by("epc")
        .values_list("epc", flat=True)
        .distinct()
    )
    lots = sorted(
        set(
            EventQuantity.objects.filter(event_id__in=events, role="quantity").values_list(
                "epc_class", flat=True
            )
        )
    )
    if not units and not lots:
        raise invalid(
            "work_order",
            _("%(n)s has commissioned nothing yet") % {"n": wo.number},
            "not_found",
        )
    return Resolved(lots + units, {"work_order": wo.number, "units": len(units), "lots": lots})


RESOLVERS = {
    ScopeKind.LOT: _scope_lot,
    ScopeKind.SERIALS: _scope_serials,
    ScopeKind.SUPPLIER_LOT: _scope_supplier_lot,
    ScopeKind.PRODUCT_RANGE: _scope_product_range,
    ScopeKind.WORK_ORDER: _scope_work_order,
}


def resolve(kind: str, params: Any) -> Resolved:
    if kind not in RESOLVERS:
        raise invalid(
            "kind",
            _("%(kind)r is not a scope; expected one of %(kinds)s")
            % {"kind": kind, "kinds": ", ".join(ScopeKind.values)},
        )
    if not isinstance(params, Mapping):
        raise invalid("params", _("expected an object with the scope's parameters"))
    return RESOLVERS[ScopeKind(kind)](params)


# The walk -------------------------------------------------------------------------------------


def _walk_sql(source: str) -> str:
    return f"""
    WITH RECURSIVE
    starts(epc) AS ({source}),
    up(epc, depth) AS (
        SELECT CAST(s.epc AS TEXT), 0 FROM starts s
        UNION
        SELECT CAST(g.parent AS TEXT), w.depth + 1
          FROM {EDGE} g JOIN up w ON g.child = w.epc
         WHERE {_UP} AND w.depth < {MAX_DEPTH}
    ),
    down(epc, depth) AS (
        SELECT CAST(g.child AS TEXT), 1
          FROM {EDGE} g JOIN starts s ON g.parent = s.epc
         WHERE {_DOWN}
        UNION
        SELECT CAST(g.child AS TEXT), w.depth + 1
          FROM {EDGE} g JOIN down w ON g.parent = w.epc
         WHERE {_DOWN} AND w.depth < {MAX_DEPTH}
    ),
    hit(epc) AS (SELECT epc FROM up UNION SELECT epc FROM down)
    SELECT h.epc, u.epc, u.gtin, u.serial, u.lot, u.disposition, u.biz_location,
           COALESCE(u.possessing_party, u.owning_party), u.container, u.installed_in,
           COALESCE(u.product_id, pi.product_id), u.last_event_id,
           CASE WHEN EXISTS (
               SELECT 1 FROM {EDGE} g JOIN hit p ON p.epc = g.parent
                WHERE g.child = h.epc AND {_UP}
           ) THEN 1 ELSE 0 END
      FROM hit h
      LEFT JOIN {UNIT} u ON u.epc = h.epc
      LEFT JOIN {PRODUCT_ID} pi ON u.product_id IS NULL AND pi.di = u.gtin
    """


@dataclass
class Found:
    """One affected unit as the ledger has it now."""

    epc: str
    kind: str
    gtin: str
    serial: str
    lot: str
    product_id: int | None
    holder_id: int | None
    holder_gln: str
    holder_name: str
    holder_role: str
    location: str
    disposition: str
    contained_in: str
    installed_in: str
    under_control: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Walk:
    units: list[Found]
    lots: list[str] = field(default_factory=list)  # reached lot classes of our own products


def _is_container(epc: str) -> bool:
    return epc_kind(epc) == "container"


def _destinations(event_ids: set[int]) -> dict[int, str]:
    """The party an in-transit unit is on its way to: the possessing (else owning) party of the
    destination list of its last event, the shipping event."""
    out: dict[int, tuple[int, str]] = {}
    rank = {"possessing_party": 0, "owning_party": 1}
    for event_id, kind, value in EventSourceDest.objects.filter(
        event_id__in=event_ids, kind="destination", type__in=list(rank)
    ).values_list("event_id", "type", "value"):
        if event_id not in out or rank[kind] < out[event_id][0]:
            out[event_id] = (rank[kind], value)
    return {event_id: value for event_id, (_r, value) in out.items()}


def walk(starts: Sequence[str]) -> Walk:
    """Every unit the start objects reach now (one statement), with holders in two queries."""
    if not starts:
        return Walk([])
    source, params = values_table([("epc", "text")], [(s,) for s in starts])
    with trace_reads():
        rows = fetch(_walk_sql(source), params)
    classes = sorted(
        {row[0] for row in rows if row[1] is None and is_class_level(epc_kind(row[0]))}
    )
    units = [
        row for row in rows if row[1] is not None and not _is_container(row[0]) and not row[12]
    ]
    transit = {row[11] for row in units if row[5] == IN_TRANSIT}
    heading = _destinations(transit) if transit else {}
    values = {row[7] for row in units if row[7]} | set(heading.values())
    holders: dict[str, Holder] = resolve_holders(values) if values else {}
    us = own_party().pk
    found = []
    for (epc, _u, gtin, serial, lot, disposition, location, holder_value, container,
         installed_in, product_id, last_event, _inside) in units:  # fmt: skip
        if disposition == IN_TRANSIT and last_event in heading:
            holder_value = heading[last_event]  # on its way to them: theirs to act on
        holder = holders.get(holder_value) if holder_value else None
        holder_id = holder.party_id if holder else None
        gone = disposition in GONE_DISPOSITIONS
        found.append(
            Found(
                epc=epc,
                kind=UnitKind.PRODUCT if product_id else UnitKind.COMPONENT,
                gtin=gtin or "",
                serial=serial or "",
                lot=lot or "",
                product_id=product_id,
                holder_id=holder_id,
                holder_gln=(holder.gln if holder else None) or "",
                holder_name=(holder.name if holder else None) or (holder_value or ""),
                holder_role=(holder.role if holder else None) or "",
                location=location or "",
                disposition=disposition or "",
                contained_in=container or "",
                installed_in=installed_in or "",
                under_control=holder_id == us and not gone and disposition != IN_TRANSIT,
            )
        )
    return Walk(found, _own_lots(classes))


def _own_lots(classes: list[str]) -> list[str]:
    """The reached lot classes that are lots of our own products (quantity-tracked goods)."""
    if not classes:
        return []
    gtins: dict[str, str] = {}
    for epc_class in classes:
        try:
            identity = udi.parse(epc_class)
        except udi.UdiError:
            continue
        if identity.gtin:
            gtins[epc_class] = identity.gtin
    ours = set(
        ProductIdentifier.objects.filter(di__in=set(gtins.values())).values_list("di", flat=True)
    )
    return [c for c in classes if gtins.get(c) in ours]


def summary(units: Sequence[Found]) -> list[dict[str, Any]]:
    """Affected units by holder, most first."""
    counts: Counter[tuple[Any, ...]] = Counter(
        (u.holder_id, u.holder_gln, u.holder_name, u.holder_role) for u in units
    )
    return [
        {"party_id": pid, "gln": gln, "name": name, "role": role, "count": n}
        for (pid, gln, name, role), n in sorted(
            counts.items(), key=lambda item: (-item[1], item[0][2] or "")
        )
    ]


# Reads: preview and recompute -----------------------------------------------------------------

PREVIEW_UNITS = 200
CHANGE_FIELDS = (
    ("holder", "holder_gln"),
    ("location", "location"),
    ("disposition", "disposition"),
)


def recall_scope_preview(*, kind: str, params: Any, user: User | None) -> dict[str, Any]:
    """What opening a recall with this scope would freeze: counts, holders, the first units."""
    from .common import PERM_VIEW, require

    require(user, PERM_VIEW, _("preview recall scopes"))
    resolved = resolve(kind, params)
    found = walk(resolved.starts)
    return {
        "kind": kind,
        "params": dict(params),
        "resolved": resolved.facts,
        "starts": len(resolved.starts),
        "count": len(found.units),
        "under_control": sum(1 for u in found.units if u.under_control),
        "lots": found.lots,
        "summary": summary(found.units),
        "units": [u.as_dict() for u in found.units[:PREVIEW_UNITS]],
        "truncated": len(found.units) > PREVIEW_UNITS,
    }


def recall_scope_recompute(*, campaign: RecallCampaign, user: User | None) -> dict[str, Any]:
    """How the world moved since the scope froze: units the same starts reach now that are not
    frozen (``added``), frozen units they no longer reach (``removed``: a bad part swapped out),
    and frozen units whose holder, location or disposition changed. The frozen set itself is
    not changed (``recall_scope_extend`` adds units explicitly)."""
    from .common import PERM_VIEW, require

    require(user, PERM_VIEW, _("recompute recall scopes"))
    now = {u.epc: u for u in walk(campaign.scope.get("starts", [])).units}
    frozen: dict[str, dict[str, Any]] = {
        row["epc"]: dict(row)
        for row in AffectedUnit.objects.filter(campaign=campaign).values(
            "epc", "serial", "source", "holder_gln", "location", "disposition"
        )
    }
    changed = []
    for epc in sorted(set(now) & set(frozen)):
        for name, attr in CHANGE_FIELDS:
            before, after = frozen[epc][attr], getattr(now[epc], attr)
            if before != after:
                changed.append({"epc": epc, "serial": frozen[epc]["serial"], "field": name,
                                "frozen": before, "now": after})  # fmt: skip
    return {
        "number": campaign.number,
        "frozen_at": campaign.frozen_at,
        "frozen": len(frozen),
        "now": len(now),
        "added": [now[e].as_dict() for e in sorted(set(now) - set(frozen))],
        # Units added by an extension were never reached by the starts: not "removed".
        "removed": [
            {"epc": e, "serial": frozen[e]["serial"]}
            for e in sorted(set(frozen) - set(now))
            if frozen[e]["source"] == UnitSource.TRACE
        ],
        "changed": changed,
    }
