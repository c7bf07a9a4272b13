"""The unit timeline (DESIGN §7): every event touching a unit, oldest first, with its phase.

Three short SQL statements (walk, hits, events) gather the unit's own events (EventEpc /
EventQuantity, by the ``(epc, event_time)`` index), those of every container it sat in while
it was inside (the aggregation edges above it, nested, each window cut to the time the unit was
really inside), of the device it was installed in while installed, of the components installed
into it while they were installed (association edges below it, nested), and the
TransactionEvents that share a bizTransaction with any of those (the ERP documents: PO,
despatch advice, invoice...), and the receipt and incoming inspection of the supplier lots and
parts it was made from (transformation inputs and fitted parts, up to the moment they went
into it: the procurement phase of its life). Only TransactionEvents are linked through a
bizTransaction: a work order or PO is shared by thousands of other units' events, which are not
this unit's history.

Each item also carries ``conditions``: its ``sensorElementList`` (temperature, humidity, any
sensor data) summarised per measurement (``sensors.summarize``), read in the same statement.
"""

from __future__ import annotations

from typing import Any

from medtrace.ledger.identifiers import Holder, resolve_holders
from medtrace.lib.epcis import cbv

from . import phases, sensors
from .sql import (
    EDGE,
    EVENT,
    EVENT_BTT,
    EVENT_EPC,
    EVENT_QTY,
    MAX_DEPTH,
    RETRACTION,
    db_datetime,
    fetch,
    iso,
    json_key,
    json_text,
    loads,
    values_table,
)

SELF = "self"

# Lower wins when one event reaches the unit along several paths; then the nearer container or
# component (depth), then the identifier, so the answer is the same on every database.
_PRIO_SELF, _PRIO_COMPONENT, _PRIO_CONTAINER, _PRIO_ORIGIN, _PRIO_DOCUMENT = 0, 1, 2, 3, 4
# What the supplier lots and parts a unit was made from bring to its life: their receipt and
# incoming inspection, before they went into it (procurement, DESIGN §11 "timeline by phase").
ORIGIN_STEPS = ("receiving", "accepting", "inspecting")


def _walk_sql() -> str:
    """Containers above the unit and parts below it, each with the window it was linked in."""
    containment = "('aggregated', 'associated')"
    return f"""
    WITH RECURSIVE
    up(epc, vfrom, vto, depth) AS (
        SELECT g.parent, g.valid_from, g.valid_to, 1
          FROM {EDGE} g
         WHERE g.child = %s AND g.kind IN {containment}
        UNION
        SELECT g.parent,
               CASE WHEN g.valid_from > u.vfrom THEN g.valid_from ELSE u.vfrom END,
               CASE WHEN g.valid_to IS NULL THEN u.vto
                    WHEN u.vto IS NULL OR g.valid_to < u.vto THEN g.valid_to
                    ELSE u.vto END,
               u.depth + 1
          FROM {EDGE} g JOIN up u ON g.child = u.epc
         WHERE g.kind IN {containment} AND u.depth < {MAX_DEPTH}
           AND (g.valid_to IS NULL OR g.valid_to >= u.vfrom)
           AND (u.vto IS NULL OR g.valid_from <= u.vto)
    ),
    down(epc, vfrom, vto, depth) AS (
        SELECT g.child, g.valid_from, g.valid_to, 1
          FROM {EDGE} g
         WHERE g.parent = %s AND g.kind = 'associated'
        UNION
        SELECT g.child,
               CASE WHEN g.valid_from > d.vfrom THEN g.valid_from ELSE d.vfrom END,
               CASE WHEN g.valid_to IS NULL THEN d.vto
                    WHEN d.vto IS NULL OR g.valid_to < d.vto THEN g.valid_to
                    ELSE d.vto END,
               d.depth + 1
          FROM {EDGE} g JOIN down d ON g.parent = d.epc
         WHERE g.kind = 'associated' AND d.depth < {MAX_DEPTH}
           AND (g.valid_to IS NULL OR g.valid_to >= d.vfrom)
           AND (d.vto IS NULL OR g.valid_from <= d.vto)
    )
    SELECT epc, 'container:' || epc, {_PRIO_CONTAINER}, depth, vfrom, vto FROM up
    UNION ALL
    SELECT epc, 'component:' || epc, {_PRIO_COMPONENT}, depth, vfrom, vto FROM down
    UNION ALL
    SELECT g.child, 'origin:' || g.child, {_PRIO_ORIGIN}, 1, g.valid_from, g.valid_from
      FROM {EDGE} g
     WHERE g.parent = %s AND g.kind IN ('transformed', 'associated')
    """


_RELATED = [("epc", "text"), ("via", "text"), ("prio", "int"), ("depth", "int"),
            ("vfrom", "timestamptz"), ("vto", "timestamptz")]  # fmt: skip


def _hits_sql(related: str) -> str:
    """The unit's events and its containers'/parts' events in their windows: index range
    scans on EventEpc (epc, event_time), one per object."""
    windows = ""
    if related:
        steps = ", ".join(f"'{step}'" for step in ORIGIN_STEPS)
        windows = f"""
        UNION ALL
        SELECT ee.event_id, r.via, r.prio, r.depth
          FROM ({related}) r JOIN {EVENT_EPC} ee ON ee.epc = r.epc
         WHERE r.prio <> {_PRIO_ORIGIN}
           AND ee.event_time >= r.vfrom AND (r.vto IS NULL OR ee.event_time <= r.vto)
        UNION ALL
        SELECT ee.event_id, r.via, r.prio, r.depth
          FROM ({related}) r JOIN {EVENT_EPC} ee ON ee.epc = r.epc
          JOIN {EVENT} e ON e.id = ee.event_id
         WHERE r.prio = {_PRIO_ORIGIN} AND ee.event_time <= r.vto AND e.biz_step IN ({steps})
        UNION ALL
        SELECT q.event_id, r.via, r.prio, r.depth
          FROM ({related}) r JOIN {EVENT_QTY} q ON q.epc_class = r.epc
          JOIN {EVENT} e ON e.id = q.event_id
         WHERE r.prio = {_PRIO_ORIGIN} AND q.event_time <= r.vto AND e.biz_step IN ({steps})"""
    return f"""
    SELECT ee.event_id, '{SELF}', {_PRIO_SELF}, 0 FROM {EVENT_EPC} ee WHERE ee.epc = %s
    UNION ALL
    SELECT q.event_id, '{SELF}', {_PRIO_SELF}, 0 FROM {EVENT_QTY} q WHERE q.epc_class = %s
    {windows}
    """


_HITS = [("event_id", "bigint"), ("via", "text"), ("prio", "int"), ("depth", "int")]


def _events_sql(hits: str) -> str:
    """The events with their documents, and the TransactionEvents of the same documents.

    The hits come in as literal values, so the planner knows how few they are and follows
    them outwards (bizTransaction rows by event, then by value, then events by key); only then
    are linked events kept if they are TransactionEvents. Filtering ledger_event on its type
    first, or joining a CTE of unknown size, makes PostgreSQL scan the whole event table.
    """
    return f"""
    WITH hits(event_id, via, prio, depth) AS ({hits}),
    linked(event_id, via, prio, depth) AS (
        SELECT b2.event_id, 'bizTransaction:' || b2.value, {_PRIO_DOCUMENT}, 0
          FROM {EVENT_BTT} b1
          JOIN {EVENT_BTT} b2 ON b2.value = b1.value AND b2.event_id <> b1.event_id
         WHERE b1.event_id IN (SELECT event_id FROM hits)
    ),
    found(event_id, via, prio, depth) AS (
        SELECT event_id, via, prio, depth FROM hits
        UNION ALL
        SELECT event_id, via, prio, depth FROM linked
    )
    SELECT f.via, e.id, e.event_id, e.event_type, e.action, e.event_time,
           e.event_time_zone_offset, e.record_time, e.biz_step, e.disposition, e.read_point,
           e.biz_location,
           {json_key("e.document", "bizTransactionList")},
           {json_key("e.document", "sourceList")},
           {json_key("e.document", "destinationList")},
           CASE WHEN e.biz_step IN ('receiving', 'accepting')
                THEN (SELECT x.event_id FROM {EVENT_EPC} x WHERE x.event_id = e.id LIMIT 1)
                     IS NULL
                ELSE NULL END,
           r.declaration_time, r.reason, {json_text("r.corrective_event_ids")},
           {json_key("e.document", "sensorElementList")}
      FROM found f
      JOIN {EVENT} e ON e.id = f.event_id
      LEFT JOIN {RETRACTION} r ON r.event_id = e.id
     WHERE f.prio < {_PRIO_DOCUMENT} OR e.event_type = 'TransactionEvent'
     ORDER BY e.event_time, e.id, f.prio, f.depth, f.via
    """


def _bare(kind: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return cbv.to_bare(kind, value) or value


def _pairs(raw: Any, value_key: str, kind: str) -> list[dict[str, Any]]:
    items = loads(raw)
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(value_key), str):
            out.append({"type": _bare(kind, item.get("type")), value_key: item[value_key]})
    return out


def fetch_timeline_rows(epc: str) -> list[tuple[Any, ...]]:
    """The raw rows, one per (event, path); the first row of an event is its best path.

    Three small statements (the walk, the hits, the events), each fed the previous one's few
    results as literal values: every step is an index probe whatever the statistics say.
    """
    related = [
        (other, via, prio, depth, db_datetime(vfrom), db_datetime(vto))
        for other, via, prio, depth, vfrom, vto in fetch(_walk_sql(), [epc, epc, epc])
    ]
    source, params = values_table(_RELATED, related) if related else ("", [])
    # The related objects are read by three lanes (windows, origin instances, origin lots).
    hits = fetch(_hits_sql(source), [epc, epc, *params, *params, *params])
    source, params = values_table(_HITS, hits)
    return fetch(_events_sql(source), params)


def build_timeline(
    rows: list[tuple[Any, ...]], *, extra_holders: set[str] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Holder]]:
    """Turn timeline rows into items (see TimelineEvent); resolves parties in two queries."""
    seen: set[int] = set()
    events: list[dict[str, Any]] = []
    corrective: dict[str, list[str]] = {}
    class_only: dict[int, bool] = {}
    for (via, pk, event_id, event_type, action, event_time, offset, record_time, biz_step,
         disposition, read_point, biz_location, btts, sources, destinations, only_classes,
         declared_at, reason, corrective_ids, sensor_elements) in rows:  # fmt: skip
        if pk in seen:
            continue
        seen.add(pk)
        declaration = None
        if declared_at is not None:
            ids = [str(i) for i in (loads(corrective_ids) or [])]
            declaration = {
                "declarationTime": iso(declared_at),
                "reason": reason,
                "correctiveEventIDs": ids,
            }
            for corrective_id in ids:
                corrective.setdefault(corrective_id, []).append(event_id)
        class_only[len(events)] = bool(only_classes)
        events.append({
            "eventID": event_id, "eventType": event_type, "action": action,
            "eventTime": iso(event_time), "eventTimeZoneOffset": offset,
            "recordTime": iso(record_time), "bizStep": biz_step, "disposition": disposition,
            "readPoint": read_point, "bizLocation": biz_location, "phase": None, "via": via,
            "retracted": declaration is not None, "errorDeclaration": declaration,
            "corrected": False, "corrects": [],
            "bizTransactionList": _pairs(btts, "bizTransaction", "bizTransactionType"),
            "sourceList": _pairs(sources, "source", "sourceDestType"),
            "destinationList": _pairs(destinations, "destination", "sourceDestType"),
            "conditions": sensors.summarize(sensor_elements) if sensor_elements else [],
            "excursions": [],
        })  # fmt: skip
    wanted = set(extra_holders or ())
    for item in events:
        if item["bizStep"] in phases.RECEIVING_STEPS:
            wanted.update(s["source"] for s in item["sourceList"])
    holders = resolve_holders(wanted) if wanted else {}
    for index, item in enumerate(events):
        corrects = corrective.get(item["eventID"])
        if corrects:
            item["corrected"] = True
            item["corrects"] = corrects
        roles = [holders[s["source"]].role for s in item["sourceList"] if s["source"] in holders]
        item["phase"] = phases.phase_of(
            biz_step=item["bizStep"],
            event_type=item["eventType"],
            action=item["action"],
            disposition=item["disposition"],
            source_roles=roles,
            class_only=class_only[index],
            btt_types=[b["type"] for b in item["bizTransactionList"]],
        )
    return events, holders
