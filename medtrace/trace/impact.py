"""Where a lot or a container went: the forward trace behind the lot and container pages.

``lot_impact(id=..., user=...)`` walks forward from every object a lot or a case names at
once, in one ``WITH RECURSIVE`` statement (the edge rules of ``genealogy.forward``: up through
transformation edges and current association edges, down through current aggregation edges):

- a lot class (``urn:epc:class:lgtin:``, HIBC and material lots) and, for a lot of serialized
  devices, its units (``UnitState`` rows with the lot's GTIN and lot number), which are the lot
  as a person means it although no genealogy edge names the class;
- a container (SSCC): what is packed in it, nested.

An *affected unit* is what the recall scope calls one (``recalls.scope``): a reached
instance-level object that is not a container and is not built or installed into another
reached unit; a pump with a bad board is affected, the board goes back inside it. Each reached
object also keeps the object it went into (``part_of``) or the container it came out of
(``packed_in``), which is what the page's graph draws.

The statement count is constant (the walk, products, materials, holders, locations); a 10k-unit
lot costs one walk of 10k rows. Partners see only their own custody (``scoping.custody_sql``),
as in ``trace_forward``: a lot that reached none of their units is a 404.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import NotFound, ValidationFailed
from medtrace.ledger.identifiers import resolve_holders
from medtrace.lib import udi
from medtrace.lib.udi.epc import unescape_component
from medtrace.masterdata.models import Location, Material, Product, ProductIdentifier

from .genealogy import AGGREGATED, ASSOCIATED, TRANSFORMED, holder_dict
from .kinds import epc_kind, is_class_level
from .selectors import Target, check_trace_access, resolve_target
from .sql import EDGE, MAX_DEPTH, PRODUCT_ID, UNIT, fetch, trace_reads, values_table

PRODUCT, COMPONENT, CONTAINER, LOT = "product", "component", "container", "lot"
_MATERIAL_LOT = "urn:medtrace:lot:"


class Reached(NamedTuple):
    """One object the walk reached, as the ledger has it now."""

    epc: str
    kind: str  # product | component | container | lot
    layer: int  # 0 = the lot or container itself, 1 = the lot's units or what it went into
    current: bool  # every edge on the way is still in force
    part_of: str | None  # the reached unit it was built or installed into
    packed_in: str | None  # the reached container it is packed in (a container's page)
    was_in: str | None  # with history: the reached unit it was once in (a removed part)
    gtin: str | None
    serial: str | None
    lot: str | None
    expiry: str | None
    product_id: int | None
    disposition: str | None
    location: str | None
    holder: str | None  # the possessing (else owning) party as the ledger spells it
    container: str | None  # the case or pallet it is packed in now


@dataclass
class HolderGroup:
    """The affected units one party holds."""

    holder: dict[str, Any]
    count: int
    locations: list[str]
    units: list[Reached]  # the first ``units_per_holder`` of them

    @property
    def more(self) -> int:
        return self.count - len(self.units)


@dataclass
class LotFacts:
    """What the page's header says about the start object."""

    epc: str
    kind: str  # lot | container
    gtin: str | None = None
    lot: str | None = None
    sscc: str | None = None
    hri: str | None = None  # the human-readable UDI / SSCC, e.g. (01)...(10)...
    product: dict[str, Any] | None = None
    material: dict[str, Any] | None = None
    state: dict[str, Any] | None = None  # a container's own UnitState (holder, location...)
    lot_units: int = 0  # serialized units carrying the lot


@dataclass
class Impact:
    target: Target
    facts: LotFacts
    include_history: bool
    reached: list[Reached]
    products: dict[int, dict[str, Any]]
    materials: dict[str, dict[str, Any]]  # by GTIN: materials, and products of reached lots
    holders: dict[str, dict[str, Any]]  # by the ledger's spelling
    locations: dict[str, str]  # SGLN -> "name (party)"
    partner: bool
    # Lot-tracked goods: quantities of the lot (and of reached lots of our own products)
    # shipped to each party, as the shipping events' destinations name them.
    quantities: list[dict[str, Any]] = field(default_factory=list)
    _affected: list[Reached] | None = field(default=None, repr=False)

    @property
    def affected(self) -> list[Reached]:
        """Affected units: current ones, plus (with history) the ones that no longer are."""
        if self._affected is None:
            self._affected = [
                r for r in self.reached if r.kind in (PRODUCT, COMPONENT) and r.part_of is None
            ]
        return self._affected

    @property
    def count(self) -> int:
        return sum(1 for r in self.affected if r.current)

    def holder_of(self, row: Reached) -> dict[str, Any]:
        if row.holder is None:
            return dict(_NO_HOLDER)
        return self.holders.get(row.holder) or holder_dict(row.holder, None)

    def name_of(self, row: Reached) -> str:
        """The product or material name of a reached object ("" when master data lacks it)."""
        if row.product_id is not None and row.product_id in self.products:
            product = self.products[row.product_id]
            return f"{product['name']} {product['model']}".strip()
        material = self.materials.get(row.gtin or "")
        return material["name"] if material else ""

    def holder_key(self, row: Reached) -> str:
        """One key per party: the ledger may name a hospital by its GLN, its PGLN or one of its
        locations; all of them are one holder on the page."""
        if row.holder is None:
            return ""
        info = self.holders.get(row.holder)
        return (info.get("gln") if info else None) or row.holder

    def groups(
        self, *, units_per_holder: int, holder: str | None = None, current: bool = True
    ) -> list[HolderGroup]:
        """Affected units grouped by holder, most units first; each group lists its first
        ``units_per_holder`` units (EPC order). ``holder`` keeps only that holder's group
        ("" = units without a known holder); ``current=False`` groups the units no longer
        affected (history) instead."""
        members: dict[str, list[Reached]] = defaultdict(list)
        for row in self.affected:
            if row.current == current:
                members[self.holder_key(row)].append(row)
        if holder is not None:
            members = {k: v for k, v in members.items() if k == holder}
        out = []
        for key, rows in members.items():
            info = self.holders.get(rows[0].holder or "") if key else None
            places: dict[str, int] = defaultdict(int)
            for row in rows:
                if row.location:
                    places[self.locations.get(row.location, row.location)] += 1
            rows.sort(key=lambda r: r.epc)
            out.append(
                HolderGroup(
                    holder={**(info or _NO_HOLDER), "key": key},
                    count=len(rows),
                    locations=sorted(places, key=lambda p: (-places[p], p)),
                    units=rows[:units_per_holder],
                )
            )
        out.sort(key=lambda g: (-g.count, g.holder.get("name") or g.holder.get("key") or ""))
        return out


_NO_HOLDER: dict[str, Any] = {"id": None, "gln": None, "name": None, "role": None}


# The walk --------------------------------------------------------------------------------------


def _walk_sql(*, history: bool, units_of_lot: bool, scope: str) -> str:
    """Rows (epc, depth, cur, src, via): the walk alone, no unit columns.

    ``up`` keeps one node row per object and depth (src NULL) and one link row per edge climbed
    (src = the object below), as ``genealogy._forward_sql`` does, so the object a unit went
    into comes out of the same statement. ``down`` rows carry ``via``, the container they were
    packed in. ``scope`` (partners) keeps the node rows of objects in the user's custody.

    Units are read afterwards for the affected ones only (``_states``): the boards inside the
    pumps of a capacitor lot are half the rows and need no holder, and each UnitState probe is
    a random heap read (10k of them cost more than the walk itself on the 100k bench store).
    """
    open_only = "" if history else "AND g.valid_to IS NULL"
    up_edges = f"g.kind IN ('{TRANSFORMED}', '{ASSOCIATED}') {open_only}"
    down_edges = f"g.kind = '{AGGREGATED}' {open_only}"
    lot_units = (
        f"UNION ALL SELECT CAST(u.epc AS TEXT), 1 FROM {UNIT} u WHERE u.gtin = %s AND u.lot = %s"
        if units_of_lot
        else ""
    )
    scope_clause = f"WHERE h.src IS NOT NULL OR {scope}" if scope else ""
    return f"""
    WITH RECURSIVE
    starts(epc, depth) AS (SELECT CAST(%s AS TEXT), 0 {lot_units}),
    up(epc, depth, cur, src) AS (
        SELECT s.epc, s.depth, 1, CAST(NULL AS TEXT) FROM starts s
        UNION
        SELECT CAST(g.parent AS TEXT), w.depth + 1,
               CASE WHEN w.cur = 1 AND g.valid_to IS NULL THEN 1 ELSE 0 END,
               CASE WHEN t.link = 1 THEN w.epc END
          FROM {EDGE} g
          JOIN up w ON g.child = w.epc
         CROSS JOIN (SELECT 0 AS link UNION ALL SELECT 1) t
         WHERE w.src IS NULL AND {up_edges} AND w.depth <= {MAX_DEPTH}
    ),
    down(epc, depth, cur, via) AS (
        SELECT CAST(g.child AS TEXT), s.depth + 1,
               CASE WHEN g.valid_to IS NULL THEN 1 ELSE 0 END, CAST(g.parent AS TEXT)
          FROM {EDGE} g JOIN starts s ON g.parent = s.epc
         WHERE {down_edges}
        UNION
        SELECT CAST(g.child AS TEXT), w.depth + 1,
               CASE WHEN w.cur = 1 AND g.valid_to IS NULL THEN 1 ELSE 0 END,
               CAST(g.parent AS TEXT)
          FROM {EDGE} g JOIN down w ON g.parent = w.epc
         WHERE {down_edges} AND w.depth <= {MAX_DEPTH}
    ),
    hit(epc, depth, cur, src, via) AS (
        SELECT epc, depth, cur, src, CAST(NULL AS TEXT) FROM up
        UNION ALL
        SELECT epc, depth, cur, CAST(NULL AS TEXT), via FROM down
    )
    SELECT h.epc, h.depth, h.cur, h.src, h.via FROM hit h {scope_clause}
    """


def _states_sql(source: str) -> str:
    return f"""
    WITH wanted(epc) AS ({source})
    SELECT u.epc, u.gtin, u.serial, u.lot, u.expiry, COALESCE(u.product_id, pi.product_id),
           u.disposition, u.biz_location, COALESCE(u.possessing_party, u.owning_party),
           u.container
      FROM wanted w
      JOIN {UNIT} u ON u.epc = w.epc
      LEFT JOIN {PRODUCT_ID} pi ON u.product_id IS NULL AND pi.di = u.gtin
    """


def _states(epcs: list[str]) -> dict[str, tuple[Any, ...]]:
    """UnitState of ``epcs`` by EPC, one statement whatever their number."""
    if not epcs:
        return {}
    source, params = values_table([("epc", "text")], [(epc,) for epc in epcs])
    return {row[0]: row for row in fetch(_states_sql(source), params)}


def _is_container(epc: str) -> bool:
    return epc_kind(epc) == "container"


def _kind(epc: str) -> str:
    # Nearly every reached object is an SGTIN: skip epc_kind's scheme tests for them.
    return "serial" if epc.startswith("urn:epc:id:sgtin:") else epc_kind(epc)


def _item(epc: str) -> str:
    """What every unit of one product shares in its EPC (the SGTIN without its serial)."""
    if epc.startswith("urn:epc:id:sgtin:"):
        return epc.rsplit(".", 1)[0]
    return epc


def _inner_facts(epcs: list[str]) -> dict[str, tuple[str | None, int | None]]:
    """(GTIN, product id) of the objects inside others, from their identifiers: one parse per
    product, one query for the products (no UnitState read: they need no holder)."""
    by_item: dict[str, str | None] = {}
    for epc in epcs:
        item = _item(epc)
        if item not in by_item:
            by_item[item] = _facts(epc)[0]
    gtins = {g for g in by_item.values() if g}
    products = (
        dict(ProductIdentifier.objects.filter(di__in=gtins).values_list("di", "product_id"))
        if gtins
        else {}
    )
    out = {}
    for epc in epcs:
        gtin = by_item[_item(epc)]
        out[epc] = (gtin, products.get(gtin) if gtin else None)
    return out


def _walk(
    start: str, lot: tuple[str, str] | None, *, history: bool, user: User | None
) -> list[Reached]:
    where, scope_params = scoping.custody_sql(user, "h.epc")
    sql = _walk_sql(history=history, units_of_lot=lot is not None, scope=where)
    params: list[Any] = [start, *(lot or ()), *scope_params]
    best: dict[str, tuple[int, int]] = {}  # epc -> (shortest depth, current on some path)
    part_of: dict[str, str] = {}
    was_in: dict[str, str] = {}  # with history: what it was built or installed into once
    packed_in: dict[str, tuple[int, str]] = {}
    with trace_reads():
        rows = fetch(sql, params)
        for epc, depth, cur, src, via in rows:
            if src is not None:  # a link row: epc is what src was consumed into / installed in
                links = part_of if cur == 1 else was_in
                above = links.get(src)
                if above is None or epc < above:
                    links[src] = epc
                continue
            if via is not None:
                known_via = packed_in.get(epc)
                if known_via is None or cur > known_via[0]:
                    packed_in[epc] = (cur, via)
            known = best.get(epc)
            if known is None:
                best[epc] = (depth, cur)
            elif depth < known[0] or cur > known[1]:
                best[epc] = (min(depth, known[0]), max(cur, known[1]))
        best.pop(start, None)  # the page itself
        partner = scoping.is_partner(user)
        for epc in [e for e, above in part_of.items() if above not in best]:
            del part_of[epc]  # went into something the user may not see: theirs as it is
        kinds = {epc: _kind(epc) for epc in best}
        units = [e for e, k in kinds.items() if k != "container" and not is_class_level(k)]
        affected = sorted(e for e in units if e not in part_of)
        states = _states(affected)
    inner = _inner_facts([e for e in units if e in part_of])
    out = []
    for epc, (depth, cur) in best.items():
        kind = kinds[epc]
        gtin = serial = lot_no = location = holder = container = disposition = None
        expiry: Any = None
        product_id: int | None = None
        if is_class_level(kind):
            if partner:
                continue  # partners see units only
            kind = LOT
            gtin, serial, lot_no = _facts(epc)[:3]
        elif kind == "container":
            kind = CONTAINER
        elif epc in part_of:
            gtin, product_id = inner[epc]
            kind = PRODUCT if product_id is not None else COMPONENT
        else:
            state = states.get(epc)
            if state is None:
                continue  # named by an edge only, never by an event of its own
            (_e, gtin, serial, lot_no, expiry, product_id, disposition, location, holder,
             container) = state  # fmt: skip
            kind = PRODUCT if product_id is not None else COMPONENT
        once = was_in.get(epc) if epc not in part_of else None
        out.append(
            Reached(
                epc, kind, depth, bool(cur), part_of.get(epc),
                packed_in[epc][1] if epc in packed_in else None,
                once if once in best else None,
                gtin, serial, lot_no,
                expiry.isoformat() if hasattr(expiry, "isoformat") else expiry,
                product_id, disposition, location, holder, container,
            )
        )  # fmt: skip
    out.sort(key=lambda r: (r.layer, r.epc))
    return out


# Master data of the answer ---------------------------------------------------------------------


def _unescape(component: str) -> str:
    try:
        return unescape_component(component, what="component")
    except udi.UdiError:
        return component


def _facts(epc: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(gtin, serial, lot, sscc) an identifier carries, without a query."""
    if epc.startswith(_MATERIAL_LOT):
        _code, _sep, lot = epc[len(_MATERIAL_LOT) :].partition(":")
        return None, None, _unescape(lot) or None, None
    try:
        identity = udi.parse(epc)
    except udi.UdiError:
        return None, None, None, None
    hibc = identity.hibc
    return (identity.gtin or (hibc.di if hibc else None),
            identity.serial or (hibc.serial if hibc else None),
            identity.lot or (hibc.lot if hibc else None), identity.sscc)  # fmt: skip


def _products(ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = Product.objects.filter(pk__in=ids).values("id", "name", "model", "nmpa_registration_no")
    return {row["id"]: dict(row) for row in rows}


def _materials(gtins: set[str], codes: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """Materials by GTIN (and by ``code:<code>`` for material lots without a GTIN)."""
    codes = codes or set()
    if not gtins and not codes:
        return {}
    from django.db.models import Q

    out: dict[str, dict[str, Any]] = {}
    for row in Material.objects.filter(Q(gtin__in=gtins) | Q(code__in=codes)).values(
        "id", "code", "name", "gtin"
    ):
        material = dict(row)
        if row["gtin"]:
            out[row["gtin"]] = material
        out[f"code:{row['code']}"] = material
    return out


def _by_gtin(reached: list[Reached]) -> dict[str, dict[str, Any]]:
    """Names of what has no product id: components (materials) and reached lot classes (a lot
    of our own lot-tracked product, e.g. infusion sets made from a resin lot)."""
    out = _materials({r.gtin for r in reached if r.gtin and r.product_id is None})
    lots = {r.gtin for r in reached if r.kind == LOT and r.gtin and r.gtin not in out}
    if lots:
        for di, name, model in ProductIdentifier.objects.filter(di__in=lots).values_list(
            "di", "product__name", "product__model"
        ):
            out[di] = {"name": f"{name} {model}".strip()}
    return out


def _locations(values: set[str]) -> dict[str, str]:
    """Location names (with their party) by SGLN, one query."""
    if not values:
        return {}
    out = {}
    for sgln, name, party in Location.objects.filter(sgln__in=values).values_list(
        "sgln", "name", "party__name"
    ):
        out[sgln] = f"{party} · {name}" if party and party not in name else name
    return out


def _lot_facts(target: Target) -> tuple[LotFacts, tuple[str, str] | None]:
    """The header facts of a lot or container, and the (GTIN, lot) of its serialized units."""
    gtin, _serial, lot, sscc = _facts(target.epc)
    facts = LotFacts(target.epc, "container" if target.kind == "container" else "lot", gtin, lot)
    if facts.kind == "container":
        facts.sscc = sscc
        facts.hri = f"(00){sscc}" if sscc else None
        facts.state = target.state
        return facts, None
    if gtin and lot:
        facts.hri = f"(01){gtin}(10){lot}"
        product = (
            ProductIdentifier.objects.filter(di=gtin)
            .values("product_id", "product__name", "product__model",
                    "product__nmpa_registration_no")
            .first()
        )  # fmt: skip
        if product is not None:
            facts.product = {
                "id": product["product_id"],
                "name": product["product__name"],
                "model": product["product__model"],
                "nmpa_registration_no": product["product__nmpa_registration_no"],
            }
            return facts, (gtin, lot)
        facts.material = _materials({gtin}).get(gtin)
        return facts, None if facts.material else (gtin, lot)
    if target.epc.startswith(_MATERIAL_LOT):
        code = _unescape(target.epc[len(_MATERIAL_LOT) :].partition(":")[0])
        facts.material = _materials(set(), {code}).get(f"code:{code}")
    return facts, None


def _quantities(classes: list[str], user: User | None) -> list[dict[str, Any]]:
    """Quantities of lot classes shipped to each party: shipping events' quantity lists by
    destination (possessing party, else owning party), retracted events left out; one
    statement. A partner sees what was shipped to itself only."""
    if not classes:
        return []
    from django.db.models import Count, Sum

    from medtrace.ledger.models import EventQuantity

    rows = (
        EventQuantity.objects.filter(
            epc_class__in=classes,
            role="quantity",
            event__biz_step="shipping",
            event__retraction__isnull=True,
            event__source_dests__kind="destination",
            event__source_dests__type__in=("possessing_party", "owning_party"),
        )
        .values("epc_class", "uom", "event__source_dests__type", "event__source_dests__value")
        .annotate(total=Sum("quantity"), shipments=Count("event", distinct=True))
    )
    ids = scoping.partner_ids(user)
    found = [r for r in rows if ids is None or r["event__source_dests__value"] in ids]
    possessing = {
        r["epc_class"] for r in found if r["event__source_dests__type"] == "possessing_party"
    }
    return [
        {
            "epc_class": r["epc_class"],
            "holder": r["event__source_dests__value"],
            "quantity": r["total"],
            "uom": r["uom"] or "",
            "shipments": r["shipments"],
        }
        for r in found
        if r["event__source_dests__type"] == "possessing_party" or r["epc_class"] not in possessing
    ]


# Entry point -----------------------------------------------------------------------------------


def lot_impact(*, id: str, user: User | None, include_history: bool = False) -> Impact:
    """The forward trace of a lot or a container for its page (see the module docstring)."""
    check_trace_access(user)
    target = resolve_target(id, user=user, allow_class=True)
    if not (is_class_level(target.kind) or target.kind == "container"):
        raise ValidationFailed(
            f"{id!r} names one unit ({target.epc}), not a lot or a container; open its unit page",
            field="id",
            details={"epc": target.epc, "kind": target.kind},
        )
    facts, lot = _lot_facts(target)
    reached = _walk(target.epc, lot, history=include_history, user=user)
    partner = scoping.is_partner(user)
    if partner and not reached and target.epc not in scoping.epcs_in_scope(user, [target.epc]):
        # Nothing of theirs: the same answer as a lot the ledger does not know.
        raise NotFound(
            f"No event in the ledger names {target.epc}", field="id", details={"epc": target.epc}
        )
    if lot is not None:
        facts.lot_units = sum(1 for r in reached if r.layer == 1 and r.gtin == lot[0]
                              and r.lot == lot[1])  # fmt: skip
    classes = [target.epc] if is_class_level(target.kind) else []
    classes += [r.epc for r in reached if r.kind == LOT]
    quantities = _quantities(classes, user)
    holder_values = {r.holder for r in reached if r.holder} | {q["holder"] for q in quantities}
    if facts.state is not None:
        own = facts.state.get("possessing_party") or facts.state.get("owning_party")
        if own:
            holder_values.add(own)
    resolved = resolve_holders(holder_values) if holder_values else {}
    holders = {value: holder_dict(value, resolved.get(value)) for value in holder_values}
    places = {r.location for r in reached if r.location and r.part_of is None}
    if facts.state is not None and facts.state.get("biz_location"):
        places.add(facts.state["biz_location"])
    return Impact(
        target=target,
        facts=facts,
        include_history=include_history,
        reached=reached,
        products=_products({r.product_id for r in reached if r.product_id is not None}),
        materials=_by_gtin(reached),
        holders=holders,
        locations=_locations(places),
        partner=partner,
        quantities=quantities,
    )
