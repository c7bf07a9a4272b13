"""The genealogy of one unit for its graph: what it is made of below, what holds it above.

``unit_graph(id=..., user=...)`` is the backward trace with history (``trace_backward``: parts,
nested, with the dates each was installed and removed; a container's packed contents) plus one
``WITH RECURSIVE`` statement upwards: the containers (case, pallet) the unit is or was packed
in, and whatever it is or was built or installed into, each with its own dates. Past edges come
too: the graph draws them dashed.

Both walks are set-based, so the statement count does not grow with the history. The walk up is
bounded (``MAX_ABOVE`` rows): a lot or a popular component reaches thousands of products, which
is the forward trace's job (the lot page), not a graph's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.ledger.models import UnitState
from medtrace.masterdata.models import Material, Product, ProductIdentifier

from .genealogy import AGGREGATED
from .kinds import epc_kind, is_class_level
from .selectors import trace_backward
from .sql import EDGE, fetch, iso, trace_reads

# Levels above a unit worth drawing (unit -> case -> pallet -> ...), and rows read at most.
ABOVE_DEPTH = 6
MAX_ABOVE = 400


@dataclass
class GraphNode:
    """One object in the graph; ``children`` point away from the unit (down or up)."""

    epc: str
    type: str  # serial | lot | container | class | object
    name: str = ""
    serial: str | None = None
    lot: str | None = None
    relation: str | None = None  # transformed | associated | aggregated (the edge to its parent)
    valid_from: str | None = None
    valid_to: str | None = None
    current: bool = True
    disposition: str | None = None
    children: list[GraphNode] = field(default_factory=list)


@dataclass
class UnitGraph:
    root: GraphNode
    below: list[GraphNode]  # parts (or a container's contents)
    above: list[GraphNode]  # containers and what it went into
    is_container: bool


def _name(node: dict[str, Any]) -> str:
    if node.get("material"):
        return str(node["material"]["name"])
    if node.get("product"):
        product = node["product"]
        return f"{product['name']} {product['model']}".strip()
    return ""


def _from_backward(node: dict[str, Any]) -> GraphNode:
    return GraphNode(
        epc=node["epc"],
        type=node["type"],
        name=_name(node),
        serial=node.get("serial"),
        lot=node.get("lot"),
        relation=node.get("relation"),
        valid_from=node.get("valid_from"),
        valid_to=node.get("valid_to"),
        current=bool(node.get("current", True)),
        disposition=node.get("disposition"),
        children=[_from_backward(child) for child in node.get("children", [])],
    )


def _contents_tree(start: str, contents: list[dict[str, Any]]) -> list[GraphNode]:
    """A container's packed contents (a flat list with each edge's parent) as a tree."""
    nodes = {item["epc"]: _from_backward(item) for item in contents}
    top: list[GraphNode] = []
    for item in contents:
        parent = nodes.get(item.get("parent") or "")
        if parent is not None and parent is not nodes[item["epc"]]:
            parent.children.append(nodes[item["epc"]])
        elif item.get("parent") == start:
            top.append(nodes[item["epc"]])
    return top


def _above_sql(scope: str) -> str:
    """The walk alone: joined to UnitState in the same statement, PostgreSQL misjudges the
    recursive CTE's size and hashes the whole UnitState table (760 ms on the 100k bench store
    for a walk of two rows); the few objects found are read by primary key afterwards."""
    scope_clause = f"WHERE {scope}" if scope else ""
    return f"""
    WITH RECURSIVE up(epc, child, kind, vfrom, vto, depth, cur) AS (
        SELECT CAST(g.parent AS TEXT), CAST(g.child AS TEXT), g.kind, g.valid_from, g.valid_to,
               1, CASE WHEN g.valid_to IS NULL THEN 1 ELSE 0 END
          FROM {EDGE} g WHERE g.child = %s
        UNION
        SELECT CAST(g.parent AS TEXT), CAST(g.child AS TEXT), g.kind, g.valid_from, g.valid_to,
               w.depth + 1, CASE WHEN w.cur = 1 AND g.valid_to IS NULL THEN 1 ELSE 0 END
          FROM {EDGE} g JOIN up w ON g.child = w.epc
         WHERE w.depth < {ABOVE_DEPTH}
    )
    SELECT w.epc, w.child, w.kind, w.vfrom, w.vto, w.depth, w.cur
      FROM up w
     {scope_clause}
     ORDER BY w.depth, w.cur DESC, w.epc
     LIMIT {MAX_ABOVE}
    """


def _names(gtins: set[str], product_ids: set[int]) -> tuple[dict[int, str], dict[str, str]]:
    """Product names by id and names by GTIN (products' DIs, then materials), two queries."""
    by_id: dict[int, str] = {}
    by_gtin: dict[str, str] = {}
    if product_ids or gtins:
        rows = ProductIdentifier.objects.filter(di__in=gtins).values_list(
            "di", "product__name", "product__model"
        )
        for di, name, model in rows:
            by_gtin[di] = f"{name} {model}".strip()
        for pk, name, model in Product.objects.filter(pk__in=product_ids).values_list(
            "pk", "name", "model"
        ):
            by_id[pk] = f"{name} {model}".strip()
    missing = gtins - set(by_gtin)
    if missing:
        by_gtin.update(Material.objects.filter(gtin__in=missing).values_list("gtin", "name"))
    return by_id, by_gtin


def _above(start: str, user: User | None) -> list[GraphNode]:
    where, params = scoping.custody_sql(user, "w.epc")
    with trace_reads():
        rows = fetch(_above_sql(where), [start, *params])
    from .genealogy import _identity_facts

    states: dict[str, tuple[Any, ...]] = {}
    if rows:
        states = {
            row[0]: row
            for row in UnitState.objects.filter(epc__in={r[0] for r in rows}).values_list(
                "epc", "gtin", "serial", "lot", "product_id", "disposition"
            )
        }
    facts = {}
    for row in rows:
        state = states.get(row[0])
        gtin, serial, lot = state[1:4] if state else (None, None, None)
        if gtin is None and serial is None and lot is None:
            gtin, serial, lot = _identity_facts(row[0])
        facts[row[0]] = (gtin, serial, lot)
    by_id, by_gtin = _names(
        {f[0] for f in facts.values() if f[0]}, {s[4] for s in states.values() if s[4]}
    )
    nodes: dict[str, list[GraphNode]] = {}  # child epc -> what holds it
    seen: set[tuple[str, str, str, Any]] = set()
    for epc, child, kind, vfrom, vto, _depth, cur in rows:
        state = states.get(epc)
        product_id, disposition = (state[4], state[5]) if state else (None, None)
        key = (epc, child, kind, vfrom)
        if key in seen:
            continue
        seen.add(key)
        gtin, serial, lot = facts[epc]
        name = by_id.get(product_id) if product_id else None
        nodes.setdefault(child, []).append(
            GraphNode(
                epc=epc,
                type=epc_kind(epc),
                name=name or by_gtin.get(gtin or "", ""),
                serial=serial,
                lot=lot,
                relation=kind,
                valid_from=iso(vfrom),
                valid_to=iso(vto),
                current=bool(cur),
                disposition=disposition,
            )
        )

    def attach(epc: str, path: frozenset[str]) -> list[GraphNode]:
        out = []
        for node in nodes.get(epc, []):
            if node.epc in path:
                continue  # a cycle in bad data
            node.children = attach(node.epc, path | {node.epc})
            out.append(node)
        # Containers first (the graph's promise: cases and pallets above), current first.
        out.sort(key=lambda n: (n.relation != AGGREGATED, not n.current, n.valid_from or ""))
        return out

    return attach(start, frozenset({start}))


def unit_graph(*, id: str, user: User | None, backward: dict[str, Any] | None = None) -> UnitGraph:
    """The unit's graph: parts and contents below (with removed ones), holders above.

    ``backward``: the caller's ``trace_backward`` of the same unit for the same user, used when
    it was read with history (removed parts are part of the graph), else read again."""
    if backward is None or not backward.get("include_history"):
        backward = trace_backward(id=id, user=user, include_history=True)
    root = _from_backward(backward["root"])
    root.relation = None
    below = root.children
    if backward["is_container"] and backward["contents"]:
        below = below + _contents_tree(backward["epc"], backward["contents"])
    root.children = []
    # A lot's "above" is everything made from it: the lot page's forward trace, not a graph's.
    above = [] if is_class_level(backward["kind"]) else _above(backward["epc"], user)
    return UnitGraph(
        root=root,
        below=below,
        above=above,
        is_container=bool(backward["is_container"]),
    )
