"""Projections: UnitState and GenealogyEdge, kept current by capture and rebuilt on demand.

One `Projector` handles one batch of facts in time order: it loads the state it needs in a few
set-based queries, applies the facts in memory and writes everything back in bulk. Capture uses
one projector per document; `rebuild()` replays the whole ledger through the same code in chunks,
so a rebuild gives exactly what incremental capture gave.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import bulk
from .facts import SHIPPING_STEPS, Fact, ilmd_value
from .identifiers import EpcResolver, products_by_di
from .models import EdgeKind, GenealogyEdge, UnitCustody, UnitState

CONTAINMENT = (EdgeKind.AGGREGATED, EdgeKind.ASSOCIATED)
_STATE_FIELDS = [
    "product_id", "gtin", "serial", "lot", "expiry", "disposition", "biz_location", "read_point",
    "possessing_party", "owning_party", "container", "installed_in", "biz_step",
    "last_event_id", "last_event_time", "first_event_time",
]  # fmt: skip
_CHUNK = 2000


def _chunks(items: list[str], size: int = _CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


class _Edge:
    __slots__ = (
        "child",
        "dirty",
        "end_event_id",
        "event_id",
        "id",
        "kind",
        "parent",
        "valid_from",
        "valid_to",
    )

    def __init__(
        self,
        *,
        parent: str,
        child: str,
        kind: str,
        event_id: int,
        valid_from: datetime,
        id: int | None = None,
        valid_to: datetime | None = None,
        end_event_id: int | None = None,
    ) -> None:
        self.id = id
        self.parent = parent
        self.child = child
        self.kind = kind
        self.event_id = event_id
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.end_event_id = end_event_id
        self.dirty = id is None


class Projector:
    def __init__(self, resolver: EpcResolver | None = None) -> None:
        self.resolver = resolver or EpcResolver()
        self.states: dict[str, dict[str, Any]] = {}
        self.dirty: set[str] = set()
        self.edges: list[_Edge] = []
        # open containment edges: parent -> {child: edge}, and (child, kind) -> edge
        self.children: dict[str, dict[str, _Edge]] = defaultdict(dict)
        self.holder: dict[tuple[str, str], _Edge] = {}
        self._new_dis: set[str] = set()
        # (epc, party) pairs for UnitCustody: who ever held, owned, sent or received what.
        self.custody: set[tuple[str, str]] = set()

    # Loading ----------------------------------------------------------------------------------

    def load(self, facts: list[Fact]) -> None:
        epcs = sorted({e for f in facts for e in f.instance_epcs()})
        self._load_states(epcs)
        # Open containment edges touching the batch, and everything below the batch's objects
        # (a shipping event on a pallet moves its cases and their units). Only objects with a
        # state can have edges (every edge end is touched, hence given a state, when the edge
        # opens), so the new serials of a commissioning event cost no edge lookups at all.
        self._load_open_edges([e for e in epcs if e in self.states])

    def _load_open_edges(self, epcs: list[str]) -> None:
        """Open containment edges touching the batch, and everything below the batch's objects.

        Walked one level at a time with an index lookup per level: one recursive CTE here let
        PostgreSQL's estimates balloon on a large store and scan the whole edge table (bench/).
        Packaging is shallow (pallet > case > unit > installed part), so the loop is short.
        """
        if not epcs:
            return
        rows = self._open_edges("child", epcs)
        seen: set[int] = {r[0] for r in rows}
        frontier = epcs
        for _depth in range(32):  # a cycle in bad data must not loop forever
            below = [r for r in self._open_edges("parent", frontier) if r[0] not in seen]
            if not below:
                break
            seen.update(r[0] for r in below)
            rows.extend(below)
            frontier = sorted({r[2] for r in below})
        for edge_id, parent, child, kind, event_id, valid_from in rows:
            if isinstance(valid_from, str):  # SQLite returns raw text from a raw query
                valid_from = parse_datetime(valid_from)
                if valid_from is not None and timezone.is_naive(valid_from):
                    valid_from = timezone.make_aware(valid_from, UTC)
            edge = _Edge(
                id=edge_id,
                parent=parent,
                child=child,
                kind=kind,
                event_id=event_id,
                valid_from=valid_from,
            )
            self.edges.append(edge)
            self.children[parent][child] = edge
            self.holder[(child, kind)] = edge
        self._load_states(sorted({e.child for e in self.edges} - set(self.states)))

    @staticmethod
    def _open_edges(column: str, values: list[str]) -> list[tuple[Any, ...]]:
        table = GenealogyEdge._meta.db_table
        # The value set is one parameter: a text array on PostgreSQL, a JSON array on SQLite.
        param: Any
        if bulk.is_postgresql():
            match, param = f"{column} = ANY(%s)", values
        else:
            match, param = f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(values)
        sql = (
            f"SELECT id, parent, child, kind, event_id, valid_from FROM {table} "
            f"WHERE {match} AND valid_to IS NULL AND kind IN ('aggregated', 'associated')"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [param])
            return list(cursor.fetchall())

    def _load_states(self, epcs: list[str]) -> None:
        if not epcs:
            return
        if bulk.is_postgresql():
            # One round trip with an array parameter instead of thousands of IN placeholders.
            cols = ", ".join(["epc", *_STATE_FIELDS])
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {cols} FROM {UnitState._meta.db_table} WHERE epc = ANY(%s)",
                    [epcs],
                )
                for row in cursor.fetchall():
                    self.states[row[0]] = dict(zip(_STATE_FIELDS, row[1:], strict=True))
            return
        for part in _chunks(epcs):
            for row in UnitState.objects.filter(epc__in=part).values("epc", *_STATE_FIELDS):
                self.states[row.pop("epc")] = row

    # Applying ---------------------------------------------------------------------------------

    def apply_all(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            self.apply(fact)

    def apply(self, fact: Fact) -> None:
        self._classes(fact)
        if fact.type == "ObjectEvent":
            self._object(fact)
        elif fact.type in ("AggregationEvent", "AssociationEvent"):
            self._containment(fact)
        elif fact.type == "TransformationEvent":
            self._transformation(fact)
        else:  # TransactionEvent
            for epc in fact.epcs + ([fact.parent] if fact.parent else []):
                self._touch(epc, fact, propagate=True)

    def _object(self, fact: Fact) -> None:
        for epc in fact.epcs:
            state = self._touch(epc, fact, propagate=True)
            if state is not None and fact.action == "ADD":
                self._ilmd(state, fact)

    def _containment(self, fact: Fact) -> None:
        kind = EdgeKind.AGGREGATED if fact.type == "AggregationEvent" else EdgeKind.ASSOCIATED
        field = "container" if kind == EdgeKind.AGGREGATED else "installed_in"
        parent = fact.parent
        if not parent:
            return
        self._touch(parent, fact, propagate=False)
        if fact.action == "DELETE":
            children = fact.children + fact.child_classes
            if not children:  # no list = everything currently inside (EPCIS 2.0 §7.4.3)
                children = [c for c, e in self.children.get(parent, {}).items() if e.kind == kind]
            for child in children:
                edge = self.children.get(parent, {}).get(child)
                if edge is not None and edge.kind == kind:
                    self._end(edge, fact)
                state = self.states.get(child)
                if state is not None and state.get(field) == parent:
                    state[field] = None
                    self._touch(child, fact, propagate=True)
            return
        for child in fact.children:
            current = self.holder.get((child, kind))
            if current is not None and current.parent == parent:
                self._touch(child, fact, propagate=True)
                continue
            if current is not None:
                # A unit is in one container (or installed in one device) at a time.
                self._end(current, fact)
            self._open(parent, child, kind, fact)
            state = self._touch(child, fact, propagate=True)
            if state is not None:
                state[field] = parent
        for cls in fact.child_classes:
            if cls not in self.children.get(parent, {}):
                self._open(parent, cls, kind, fact, track_holder=False)

    def _transformation(self, fact: Fact) -> None:
        inputs = fact.inputs + fact.input_classes
        outputs = fact.outputs + fact.output_classes
        for output in outputs:
            for source in inputs:
                edge = _Edge(
                    parent=output,
                    child=source,
                    kind=EdgeKind.TRANSFORMED,
                    event_id=fact.pk,
                    valid_from=fact.time,
                )
                self.edges.append(edge)
        for epc in fact.outputs:
            state = self._touch(epc, fact, propagate=False)
            if state is not None:
                self._ilmd(state, fact)
        for epc in fact.inputs:
            self._touch(epc, fact, propagate=False, what_only=True)

    # State ------------------------------------------------------------------------------------

    def _touch(
        self, epc: str, fact: Fact, *, propagate: bool, what_only: bool = False
    ) -> dict[str, Any] | None:
        state = self.states.get(epc)
        if state is None:
            # First sight of an object in any event gives it a state; refusing steps on unknown
            # objects is the capture services' sequencing rules' job, not the projection's.
            state = self._new_state(epc, fact)
            self.states[epc] = state
        self.dirty.add(epc)
        if not what_only:
            self._custody(epc, state, fact)
        if fact.time < state["last_event_time"]:
            return state  # a late-arriving older event does not change the current state
        state["last_event_id"] = fact.pk
        state["last_event_time"] = fact.time
        if what_only:
            return state
        self._where_why(state, fact)
        if propagate:
            for below in self._descendants(epc):
                target = self.states.get(below)
                if target is None or fact.time < target["last_event_time"]:
                    continue
                self._custody(below, target, fact)
                self._where_why(target, fact, carried=True)
                self.dirty.add(below)
        return state

    def _custody(self, epc: str, state: dict[str, Any] | None, fact: Fact) -> None:
        """Note the parties ``fact`` puts in custody of ``epc`` (see UnitCustody).

        The current holder and owner were noted when they were assigned, so an event that only
        repeats them (most of a unit's life) adds nothing.
        """
        current = (state.get("possessing_party"), state.get("owning_party")) if state else ()
        if fact.sources or fact.destinations:
            for _type, value in (*fact.sources, *fact.destinations):
                if value not in current:
                    self.custody.add((epc, value))
        elif fact.biz_location and fact.biz_location not in current:
            self.custody.add((epc, fact.biz_location))

    def _classes(self, fact: Fact) -> None:
        for cls in (*fact.epc_classes, *fact.child_classes, *fact.input_classes,
                    *fact.output_classes):  # fmt: skip
            self._custody(cls, None, fact)

    def _where_why(self, state: dict[str, Any], fact: Fact, *, carried: bool = False) -> None:
        if fact.biz_step:
            state["biz_step"] = fact.biz_step
        if fact.disposition:
            state["disposition"] = fact.disposition
        if fact.read_point:
            state["read_point"] = fact.read_point
        shipping = fact.biz_step in SHIPPING_STEPS
        if fact.biz_location:
            state["biz_location"] = fact.biz_location
        elif shipping:
            state["biz_location"] = None
        dest_possessor = fact.party("destination", "possessing_party")
        src_possessor = fact.party("source", "possessing_party")
        if dest_possessor and not shipping:
            state["possessing_party"] = dest_possessor
        elif src_possessor and not state.get("possessing_party"):
            state["possessing_party"] = src_possessor
        elif fact.biz_location and not (fact.sources or fact.destinations):
            state["possessing_party"] = fact.biz_location
        dest_owner = fact.party("destination", "owning_party")
        src_owner = fact.party("source", "owning_party")
        if dest_owner and not shipping:
            state["owning_party"] = dest_owner
        elif src_owner and not state.get("owning_party"):
            state["owning_party"] = src_owner

    def _new_state(self, epc: str, fact: Fact) -> dict[str, Any]:
        facts = self.resolver.facts(epc)
        if facts.di:
            self._new_dis.add(facts.di)
        return {
            "product_id": None, "gtin": facts.gtin, "serial": facts.serial, "lot": facts.lot,
            "expiry": None, "disposition": None, "biz_location": None, "read_point": None,
            "possessing_party": None, "owning_party": None, "container": None,
            "installed_in": None, "biz_step": None, "last_event_id": fact.pk,
            "last_event_time": fact.time, "first_event_time": fact.time, "_di": facts.di,
        }  # fmt: skip

    def _ilmd(self, state: dict[str, Any], fact: Fact) -> None:
        lot = ilmd_value(fact.ilmd, "lotNumber")
        if lot and not state.get("lot"):
            state["lot"] = str(lot)
        expiry = _as_date(ilmd_value(fact.ilmd, "itemExpirationDate"))
        if expiry:
            state["expiry"] = expiry

    def _descendants(self, epc: str) -> list[str]:
        out: list[str] = []
        stack = [epc]
        seen = {epc}
        while stack:
            node = stack.pop()
            for child, edge in self.children.get(node, {}).items():
                if edge.kind in CONTAINMENT and child not in seen:
                    seen.add(child)
                    out.append(child)
                    stack.append(child)
        return out

    # Edges ------------------------------------------------------------------------------------

    def _open(
        self, parent: str, child: str, kind: str, fact: Fact, *, track_holder: bool = True
    ) -> None:
        edge = _Edge(parent=parent, child=child, kind=kind, event_id=fact.pk, valid_from=fact.time)
        self.edges.append(edge)
        self.children[parent][child] = edge
        if track_holder:
            self.holder[(child, kind)] = edge

    def _end(self, edge: _Edge, fact: Fact) -> None:
        edge.valid_to = fact.time
        edge.end_event_id = fact.pk
        edge.dirty = True
        if self.children.get(edge.parent, {}).get(edge.child) is edge:
            del self.children[edge.parent][edge.child]
        if self.holder.get((edge.child, edge.kind)) is edge:
            del self.holder[(edge.child, edge.kind)]

    # Writing ----------------------------------------------------------------------------------

    def flush(self) -> None:
        products = products_by_di(self._new_dis) if self._new_dis else {}
        rows = []
        for epc in self.dirty:
            state = self.states[epc]
            di = state.pop("_di", None)
            if di and state.get("product_id") is None:
                state["product_id"] = products.get(di)
            rows.append((epc, *(state[f] for f in _STATE_FIELDS)))
        new = [
            (e.parent, e.child, e.kind, e.event_id, e.valid_from, e.valid_to, e.end_event_id)
            for e in self.edges
            if e.id is None
        ]
        ended = [
            (e.id, e.valid_to, e.end_event_id) for e in self.edges if e.id is not None and e.dirty
        ]
        with transaction.atomic():
            _upsert_states(rows)
            bulk.insert_rows(GenealogyEdge, _EDGE_COLUMNS, new)
            _end_edges(ended)
            _add_custody(sorted(self.custody))
        self.dirty.clear()
        self.custody.clear()


_EDGE_COLUMNS = ("parent", "child", "kind", "event_id", "valid_from", "valid_to", "end_event_id")


def _upsert_states(rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if not bulk.is_postgresql() or len(rows) < bulk.COPY_THRESHOLD:
        UnitState.objects.bulk_create(
            [
                UnitState(epc=row[0], **dict(zip(_STATE_FIELDS, row[1:], strict=True)))
                for row in rows
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["epc"],
            update_fields=[f for f in _STATE_FIELDS if f != "first_event_time"],
        )
        return
    table = UnitState._meta.db_table
    columns = ["epc", *_STATE_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS medtrace_unitstate_stage "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE medtrace_unitstate_stage")
        with cursor.cursor.copy(
            f"COPY medtrace_unitstate_stage ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _STATE_FIELDS if c != "first_event_time")
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(columns)} FROM medtrace_unitstate_stage "
            f"ON CONFLICT (epc) DO UPDATE SET {updates}"
        )


def _add_custody(rows: list[tuple[str, str]]) -> None:
    """Insert (epc, party) pairs, skipping those already known: one statement on PostgreSQL."""
    if not rows:
        return
    if not bulk.is_postgresql():
        UnitCustody.objects.bulk_create(
            [UnitCustody(epc=epc, party=party) for epc, party in rows],
            batch_size=1000,
            ignore_conflicts=True,
        )
        return
    table = UnitCustody._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (epc, party) SELECT * FROM unnest(%s::text[], %s::text[]) "
            "ON CONFLICT (epc, party) DO NOTHING",
            [[r[0] for r in rows], [r[1] for r in rows]],
        )


def _end_edges(rows: list[tuple[int, Any, Any]]) -> None:
    if not rows:
        return
    if not bulk.is_postgresql():
        GenealogyEdge.objects.bulk_update(
            [GenealogyEdge(id=i, valid_to=t, end_event_id=e) for i, t, e in rows],
            ["valid_to", "end_event_id"],
            batch_size=1000,
        )
        return
    table = GenealogyEdge._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS g SET valid_to = v.valid_to, end_event_id = v.end_event_id "
            f"FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[]) "
            f"AS v(id, valid_to, end_event_id) WHERE g.id = v.id",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
        )


def project(facts: list[Fact], resolver: EpcResolver | None = None) -> None:
    """Apply facts (in eventTime order) to the projections."""
    facts = sorted(facts, key=lambda f: (f.time, f.pk))
    projector = Projector(resolver)
    projector.load(facts)
    projector.apply_all(facts)
    projector.flush()
