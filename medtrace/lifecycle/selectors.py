"""Shared reads of the lifecycle apps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection

from medtrace.ledger.models import EdgeKind, GenealogyEdge


def contents(containers: Iterable[str]) -> dict[str, list[str]]:
    """What each container (SSCC case or pallet) holds now, at every depth: nested cases and
    their units, read from the open aggregation edges with one recursive CTE.

    Returns ``{container: [every EPC inside it, nearest first]}``; an EPC that contains nothing
    maps to ``[]``.
    """
    wanted = list(dict.fromkeys(containers))
    out: dict[str, list[str]] = {epc: [] for epc in wanted}
    if not wanted:
        return out
    table = GenealogyEdge._meta.db_table
    marks = ", ".join(["%s"] * len(wanted))
    sql = f"""
        WITH RECURSIVE inside(root, child, depth) AS (
            SELECT parent, child, 1 FROM {table}
             WHERE parent IN ({marks}) AND kind = %s AND valid_to IS NULL
            UNION ALL
            SELECT inside.root, g.child, inside.depth + 1
              FROM {table} g JOIN inside ON g.parent = inside.child
             WHERE g.kind = %s AND g.valid_to IS NULL AND inside.depth < 16
        )
        SELECT root, child FROM inside ORDER BY root, depth, child
    """
    found: dict[str, list[str]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*wanted, EdgeKind.AGGREGATED, EdgeKind.AGGREGATED])
        for root, child in cursor.fetchall():
            found[root].append(child)
    for epc in wanted:
        out[epc] = list(dict.fromkeys(found.get(epc, [])))
    return out


def with_contents(epcs: Iterable[str]) -> list[str]:
    """``epcs`` followed by everything packed inside them (a shipment or a stock count scans
    cases and pallets; the state machine and the documents need the units)."""
    scanned = list(dict.fromkeys(epcs))
    inside = contents(scanned)
    out = list(scanned)
    seen = set(out)
    for epc in scanned:
        for child in inside[epc]:
            if child not in seen:
                seen.add(child)
                out.append(child)
    return out
