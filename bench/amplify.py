"""Grow a bench database to a target number of stored events by SQL copies (read benchmarks only).

    .venv/bin/python bench/amplify.py --db medtrace_bench_1360k --copies 8

Capturing 10M events through the real path takes hours on this shared 2-core machine, so for
the timeline-at-10M target the events loaded by dataset.py (real capture path) are copied
in SQL: copy k renames every serial (sgtin serial -> "C<k>" + serial), lot (lgtin lot ->
"C<k>" + lot), SSCC (extension digit -> k), business transaction value (+ "#C<k>") and eventID
("C<k>#" + eventID), and maps event ids to fresh ones; Event, EventEpc, EventQuantity,
EventBizTransaction, EventSourceDest, GenealogyEdge and UnitState rows are copied. Each copy
is a separate, equally shaped population of units, so per-unit read paths see the same shape
of data with k+1 times as many rows in every table and index. The stored document JSON is
copied unchanged (same size; it still names the original objects, which no read path
benchmarked here uses to select rows). Write-path figures never come from amplified data.
Then VACUUM ANALYZE.
"""

from __future__ import annotations

import argparse
import json
import time

import psycopg
from common import db_url, now_iso, save


def rename(col: str, k: int) -> str:
    return (
        f"CASE WHEN {col} LIKE 'urn:epc:id:sgtin:%%' OR {col} LIKE 'urn:epc:class:lgtin:%%'"
        f" THEN regexp_replace({col}, '^(urn:epc:(id:sgtin|class:lgtin):[0-9]+\\.[0-9]+\\.)',"
        f" '\\1C{k}')"
        f" WHEN {col} LIKE 'urn:epc:id:sscc:%%'"
        f" THEN regexp_replace({col}, '^(urn:epc:id:sscc:[0-9]+\\.)[0-9]', '\\1{k}')"
        f" ELSE {col} END"
    )


def copy_once(conn: psycopg.Connection, k: int, max_id: int) -> dict[str, float]:
    t: dict[str, float] = {}

    def step(name: str, sql: str) -> None:
        t0 = time.perf_counter()
        conn.execute(sql)
        t[name] = round(time.perf_counter() - t0, 1)
        print(f"  copy {k}: {name} {t[name]} s", flush=True)

    with conn.transaction():
        step(
            "idmap",
            f"""CREATE TEMP TABLE idmap ON COMMIT DROP AS
            SELECT id AS old, nextval(pg_get_serial_sequence('ledger_event', 'id')) AS new
              FROM ledger_event WHERE id <= {max_id}""",
        )
        conn.execute("CREATE UNIQUE INDEX ON idmap (old)")
        conn.execute("ANALYZE idmap")
        step(
            "event",
            f"""INSERT INTO ledger_event (id, event_id, event_type, action, event_time,
                event_time_zone_offset, record_time, biz_step, disposition, read_point,
                biz_location, content_sha256, document, capture_job_id)
            SELECT m.new, 'C{k}#' || e.event_id, e.event_type, e.action, e.event_time,
                   e.event_time_zone_offset, e.record_time, e.biz_step, e.disposition,
                   e.read_point, e.biz_location, e.content_sha256, e.document, e.capture_job_id
              FROM ledger_event e JOIN idmap m ON m.old = e.id ORDER BY m.new""",
        )
        step(
            "eventepc",
            f"""INSERT INTO ledger_eventepc (epc, role, event_time, event_id)
            SELECT {rename("x.epc", k)}, x.role, x.event_time, m.new
              FROM ledger_eventepc x JOIN idmap m ON m.old = x.event_id ORDER BY x.id""",
        )
        step(
            "eventquantity",
            f"""INSERT INTO ledger_eventquantity (epc_class, quantity, uom, role,
                event_time, event_id)
            SELECT {rename("x.epc_class", k)}, x.quantity, x.uom, x.role, x.event_time, m.new
              FROM ledger_eventquantity x JOIN idmap m ON m.old = x.event_id ORDER BY x.id""",
        )
        step(
            "eventbiztransaction",
            f"""INSERT INTO ledger_eventbiztransaction (type, value, event_id)
            SELECT x.type, x.value || '#C{k}', m.new
              FROM ledger_eventbiztransaction x JOIN idmap m ON m.old = x.event_id ORDER BY x.id""",
        )
        step(
            "eventsourcedest",
            """INSERT INTO ledger_eventsourcedest (kind, type, value, event_id)
            SELECT x.kind, x.type, x.value, m.new
              FROM ledger_eventsourcedest x JOIN idmap m ON m.old = x.event_id ORDER BY x.id""",
        )
        step(
            "genealogyedge",
            f"""INSERT INTO ledger_genealogyedge (parent, child, kind, valid_from,
                valid_to, end_event_id, event_id)
            SELECT {rename("g.parent", k)}, {rename("g.child", k)}, g.kind, g.valid_from,
                   g.valid_to, me.new, m.new
              FROM ledger_genealogyedge g JOIN idmap m ON m.old = g.event_id
              LEFT JOIN idmap me ON me.old = g.end_event_id ORDER BY g.id""",
        )
        step(
            "unitstate",
            f"""INSERT INTO ledger_unitstate (epc, gtin, serial, lot, expiry,
                disposition, biz_location, read_point, possessing_party, owning_party, container,
                installed_in, biz_step, last_event_time, first_event_time, last_event_id,
                product_id)
            SELECT {rename("u.epc", k)}, u.gtin, 'C{k}' || u.serial, u.lot, u.expiry,
                   u.disposition, u.biz_location, u.read_point, u.possessing_party,
                   u.owning_party, {rename("u.container", k)}, {rename("u.installed_in", k)},
                   u.biz_step, u.last_event_time, u.first_event_time, m.new, u.product_id
              FROM ledger_unitstate u JOIN idmap m ON m.old = u.last_event_id
             WHERE u.epc NOT LIKE '%%#%%'""",
        )
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--copies", type=int, required=True)
    args = ap.parse_args()
    started = time.perf_counter()
    with psycopg.connect(db_url(args.db), autocommit=True) as conn:
        max_id, before = conn.execute("SELECT max(id), count(*) FROM ledger_event").fetchone()
        steps = []
        for k in range(1, args.copies + 1):
            t0 = time.perf_counter()
            steps.append(copy_once(conn, k, max_id))
            print(f"copy {k} done in {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        analyze = time.perf_counter() - t0
        after = conn.execute("SELECT count(*) FROM ledger_event").fetchone()[0]
    result = {
        "command": f"bench/amplify.py --db {args.db} --copies {args.copies}",
        "date": now_iso(),
        "events_captured": before,
        "events_after": after,
        "seconds": round(time.perf_counter() - started),
        "vacuum_analyze_s": round(analyze),
        "steps": steps,
    }
    save(f"amplify_{args.db}", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
