"""Trace read benchmarks (DESIGN §7, §10): unit timeline and forward trace.

    .venv/bin/python bench/bench_trace.py timeline --db medtrace_bench_1360k [--samples 1000]
    .venv/bin/python bench/bench_trace.py forward  --db medtrace_bench_1360k [--repeat 5]

timeline: random pumps of the dataset (P00000000..P<units-1>, fixed seed). Three measurements:
  selector  medtrace.trace.selectors.unit_timeline(id=epc, user=None) in process: the SQL
            walk plus building the items (server-side work, no HTTP, no JSON encoding);
  api       GET /api/v1/units/{epc}/timeline through Django's test Client in process (the
            whole server side: middleware, token auth, JSON rendering), bearer token;
  http      the same GET over HTTP to gunicorn (2 sync workers), client clock.
  Each on a first pass over the sample (cold: pages may not be cached) and a second (warm).
forward:  medtrace.trace.selectors.trace_forward from supplier lots of the dataset's generator:
  a sensor lot (per_sensor_lot=1000 pumps), a capacitor lot (per_cap_lot=5000 boards -> pumps),
  an MCU lot (per_mcu_lot; 100k pumps in the variant dataset). selector + API + HTTP;
  EXPLAIN (ANALYZE, BUFFERS) of the walk and a cProfile of the largest in results/.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import time
from urllib.parse import quote

from common import (
    ROOT,
    create_token,
    machine,
    now_iso,
    request,
    save,
    server,
    setup_django,
    summary_ms,
)

RESULTS = ROOT / "bench" / "results"


def explain_calls(fn, *args) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) every statement fn(*args) runs (whatever SQL the code has now)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn(*args)
    out = []
    with connection.cursor() as c:
        for q in ctx.captured_queries:
            sql = q["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            c.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            out.append(
                f"-- query ({q['time']} s when captured):\n{sql}\n\n"
                + "\n".join(r[0] for r in c.fetchall())
            )
    return "\n\n".join(out) + "\n"


def _units(db: str) -> tuple[int, int]:
    """(pumps captured through the real path, SQL copies of them made by amplify.py).

    The pump count is found by binary search on UnitState (P00000000 .. P<n-1> exist)."""
    from medtrace.ledger.models import UnitState

    def exists(n: int) -> bool:
        return UnitState.objects.filter(epc=f"urn:epc:id:sgtin:6901234.010001.P{n:08d}").exists()

    lo, hi = 0, 1
    while exists(hi):
        hi *= 2
    while lo < hi:  # first n that does not exist
        mid = (lo + hi) // 2
        if exists(mid):
            lo = mid + 1
        else:
            hi = mid
    meta = RESULTS / f"amplify_{db}.json"
    copies = 0
    if meta.exists():
        copies = json.loads(meta.read_text())["command"].split("--copies")[1].split()[0]
    return lo, int(copies)


def _dataset_counts() -> dict:
    from django.db import connection

    with connection.cursor() as c:
        out = {}
        for table in (
            "ledger_event",
            "ledger_eventepc",
            "ledger_genealogyedge",
            "ledger_unitstate",
        ):
            c.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            out[table + " (estimate)"] = c.fetchone()[0]
    return out


def cmd_timeline(args: argparse.Namespace) -> None:
    setup_django(args.db)
    from django.test import Client

    from medtrace.trace import selectors, timeline

    units, copies = _units(args.db)
    rng = random.Random(args.seed)
    epcs = []
    for _ in range(args.samples):
        k = rng.randrange(copies + 1)
        epcs.append(
            f"urn:epc:id:sgtin:6901234.010001.{f'C{k}' if k else ''}P{rng.randrange(units):08d}"
        )
    token = create_token(args.db, ["trace:read"])
    result = {
        "command": f"bench/bench_trace.py timeline --db {args.db} --samples {args.samples}"
        f" --seed {args.seed}",
        "date": now_iso(),
        "machine": machine(),
        "units_captured": units,
        "sql_copies": copies,
        "units_total": units * (copies + 1),
        "store": _dataset_counts(),
        "samples": len(epcs),
    }
    # selector, cold then warm
    for label in ("selector_pass1_cold", "selector_pass2_warm"):
        lat, counts = [], []
        for epc in epcs:
            t0 = time.perf_counter()
            data = selectors.unit_timeline(id=epc, user=None)
            lat.append(time.perf_counter() - t0)
            counts.append(data["count"])
        result[label] = summary_ms(lat)
        print(label, result[label], flush=True)
    result["events_per_timeline"] = {
        "min": min(counts),
        "max": max(counts),
        "mean": round(sum(counts) / len(counts), 1),
    }
    lat = []
    for epc in epcs:
        t0 = time.perf_counter()
        timeline.fetch_timeline_rows(epc)
        lat.append(time.perf_counter() - t0)
    result["timeline_sql_only_warm"] = summary_ms(lat)
    print("sql only", result["timeline_sql_only_warm"], flush=True)
    from django.db import connection

    lat = []
    with connection.cursor() as c:
        for epc in epcs:
            t0 = time.perf_counter()
            c.execute("SELECT event_id FROM ledger_eventepc WHERE epc = %s", [epc])
            c.fetchall()
            lat.append(time.perf_counter() - t0)
    result["floor_one_index_lookup_warm"] = summary_ms(lat)
    print("floor", result["floor_one_index_lookup_warm"], flush=True)
    client = Client()
    lat = []
    for epc in epcs:
        t0 = time.perf_counter()
        resp = client.get(
            f"/api/v1/units/{quote(epc, safe='')}/timeline", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        lat.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.content[:300]
    result["api_test_client_warm"] = summary_ms(lat)
    print("api", result["api_test_client_warm"], flush=True)
    with server(args.db) as port:
        lat = []
        for epc in epcs:
            t0 = time.perf_counter()
            status, _, body = request(
                port,
                "GET",
                f"/api/v1/units/{quote(epc, safe='')}/timeline",
                None,
                {"Authorization": f"Bearer {token}"},
            )
            lat.append(time.perf_counter() - t0)
            assert status == 200, body[:300]
        result["http_gunicorn_warm"] = summary_ms(lat)
        print("http", result["http_gunicorn_warm"], flush=True)
    (RESULTS / f"explain_timeline_{args.db}.txt").write_text(
        explain_calls(timeline.fetch_timeline_rows, epcs[0])
    )
    profile = cProfile.Profile()
    profile.enable()
    for epc in epcs[:200]:
        selectors.unit_timeline(id=epc, user=None)
    profile.disable()
    buf = io.StringIO()
    pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(30)
    (RESULTS / f"profile_timeline_{args.db}.txt").write_text(buf.getvalue())
    save(f"timeline_{args.db}" + (f"_seed{args.seed}" if args.seed != 42 else ""), result)


LOTS = {
    "sensor lot (~1k pumps)": "urn:epc:class:lgtin:6920002.000005.PS00000",
    "capacitor lot (~5k pumps)": "urn:epc:class:lgtin:6920002.000004.CAP00000",
    "MCU lot (per_mcu_lot pumps)": "urn:epc:class:lgtin:6920002.000003.MCU00000",
}


def cmd_forward(args: argparse.Namespace) -> None:
    setup_django(args.db)
    from django.test import Client

    from medtrace.trace import rendering, selectors

    token = create_token(args.db, ["trace:read"])
    client = Client()
    result = {
        "command": f"bench/bench_trace.py forward --db {args.db} --repeat {args.repeat}",
        "date": now_iso(),
        "machine": machine(),
        "store": _dataset_counts(),
        "lots": {},
    }
    with server(args.db) as port:
        for label, lot in LOTS.items():
            row: dict = {"id": lot}
            lat = []
            for i in range(args.repeat + 1):
                t0 = time.perf_counter()
                res = selectors.trace_forward(id=lot, user=None)
                lat.append(time.perf_counter() - t0)
                if i == 0:
                    row["selector_first_s"] = round(lat[0], 3)
            row["selector"] = summary_ms(lat[1:])
            row["units"] = len(res.units)
            row["current_units"] = sum(1 for u in res.units if u["current"])
            row["pumps"] = sum(
                1 for u in res.units if u["epc"].startswith("urn:epc:id:sgtin:6901234.010001.")
            )
            kinds: dict[str, int] = {}
            for u in res.units:
                kinds[u["kind"]] = kinds.get(u["kind"], 0) + 1
            row["units_by_kind"] = kinds
            row["holders"] = len(res.summary)
            row["with_holder"] = sum(1 for u in res.units if u["holder"])
            lat = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                body = rendering.forward_json(selectors.trace_forward(id=lot, user=None))
                lat.append(time.perf_counter() - t0)
            row["selector_plus_json"] = summary_ms(lat)
            row["json_bytes"] = len(body)
            lat = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                resp = client.get(
                    f"/api/v1/trace/forward?id={quote(lot, safe='')}",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                )
                lat.append(time.perf_counter() - t0)
                assert resp.status_code == 200, resp.content[:300]
            row["api_test_client"] = summary_ms(lat)
            lat = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                status, _, data = request(
                    port,
                    "GET",
                    f"/api/v1/trace/forward?id={quote(lot, safe='')}",
                    None,
                    {"Authorization": f"Bearer {token}"},
                )
                lat.append(time.perf_counter() - t0)
                assert status == 200, data[:300]
            row["http_gunicorn"] = summary_ms(lat)
            print(label, json.dumps(row), flush=True)
            result["lots"][label] = row
            slug = label.split()[0]
            (RESULTS / f"explain_forward_{slug}_{args.db}.txt").write_text(
                explain_calls(lambda lot=lot: selectors.trace_forward(id=lot, user=None))
            )
    biggest = list(LOTS.values())[-1]
    profile = cProfile.Profile()
    profile.enable()
    rendering.forward_json(selectors.trace_forward(id=biggest, user=None))
    profile.disable()
    buf = io.StringIO()
    pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(35)
    (RESULTS / f"profile_forward_{args.db}.txt").write_text(buf.getvalue())
    save(f"forward_{args.db}", result)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("timeline", "forward"):
        p = sub.add_parser(name)
        p.add_argument("--db", default="medtrace_bench_10k")
        p.add_argument("--samples", type=int, default=1000)
        p.add_argument("--repeat", type=int, default=5)
        p.add_argument("--seed", type=int, default=42, help="sample seed (new seed: cold pages)")
    args = ap.parse_args()
    {"timeline": cmd_timeline, "forward": cmd_forward}[args.cmd](args)


if __name__ == "__main__":
    main()
