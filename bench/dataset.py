"""Create a throwaway PostgreSQL database and load N demo units through the real capture path.

    .venv/bin/python bench/dataset.py --name medtrace_bench_10k --units 10000
    .venv/bin/python bench/dataset.py --name medtrace_bench_1360k --units 1360000 \
        --plan per_mcu_lot=100000          # variant: one MCU lot feeds 100k pumps

Steps: DROP/CREATE DATABASE <name> on the local socket, `medtrace migrate`, then
`medtrace demo --units N` (master data + the generator's event story captured with
`capture_document`, one transaction per 200-unit work order). With --plan the same loader
(`load_demo`) runs with a generator Plan whose lot sizes are overridden (bench/_load_variant.py).

Then VACUUM ANALYZE (this server has autovacuum off). Writes bench/results/dataset_<name>.json:
load time, events, events/s, table sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
SOCKET = "%2Fvar%2Frun%2Fpostgresql"


def db_url(name: str) -> str:
    return f"postgresql://{SOCKET}/{name}"


def bench_env(name: str) -> dict[str, str]:
    """Environment for medtrace commands against the bench database.

    DEBUG stays off for timing (Django's DEBUG keeps every SQL string); the dev secret is allowed
    instead, which is what MEDTRACE_DEBUG=1 would otherwise provide.
    """
    env = dict(os.environ)
    env.update(
        MEDTRACE_DATABASE_URL=db_url(name),
        MEDTRACE_ALLOW_DEV_SECRET="1",
        MEDTRACE_DEBUG="0",
        MEDTRACE_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def recreate(name: str) -> None:
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop(name: str) -> None:
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table_stats(name: str) -> dict[str, dict[str, int]]:
    out = {}
    with psycopg.connect(db_url(name)) as conn:
        for table in (
            "ledger_event",
            "ledger_eventepc",
            "ledger_eventquantity",
            "ledger_unitstate",
            "ledger_genealogyedge",
        ):
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            size = conn.execute("SELECT pg_total_relation_size(%s)", [table]).fetchone()[0]
            out[table] = {"rows": rows, "bytes": size}
    return out


def stream(cmd: list[str], env: dict[str, str], log_every: float = 30.0) -> float:
    """Run cmd, echo progress lines at most every log_every seconds; return wall seconds."""
    started = time.perf_counter()
    last = 0.0
    with subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.perf_counter() - started
            if "events captured" not in line or now - last >= log_every:
                print(f"[{now:8.1f}s] {line.rstrip()}", flush=True)
                last = now
        if proc.wait() != 0:
            raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return time.perf_counter() - started


def record_partial(args: argparse.Namespace) -> None:
    """Record a load that was stopped before N units (the committed work orders stay)."""
    import re

    points = [
        (float(m[1]), int(m[2]))
        for m in re.finditer(
            r"\[\s*([\d.]+)s\]\s+… (\d+) events captured", Path(args.record_partial).read_text()
        )
    ]
    t0 = time.perf_counter()
    with psycopg.connect(db_url(args.name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    t_analyze = time.perf_counter() - t0
    stats = table_stats(args.name)
    rates = [
        {"at_s": t, "events": e, "events_per_s_since_previous": round((e - pe) / (t - pt))}
        for (pt, pe), (t, e) in zip(points[::10], points[10::10], strict=False)
    ]
    last_t, last_e = points[-1]
    result = {
        "name": args.name,
        "url": db_url(args.name),
        "units_planned": args.units,
        "plan": args.plan,
        "stopped_early": True,
        "unit_states": stats["ledger_unitstate"]["rows"],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_s_to_last_log_line": last_t,
        "events_at_last_log_line": last_e,
        "events": stats["ledger_event"]["rows"],
        "events_per_s": round(last_e / last_t),
        "rate_over_time": rates,
        "vacuum_analyze_s": round(t_analyze, 1),
        "tables": stats,
    }
    out = ROOT / "bench" / "results" / f"dataset_{args.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rate_over_time"}, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--units", type=int, help="required unless --drop")
    ap.add_argument(
        "--plan", nargs="*", default=[], help="generator Plan overrides, e.g. per_mcu_lot=100000"
    )
    ap.add_argument("--drop", action="store_true", help="only drop the database")
    ap.add_argument(
        "--record-partial",
        metavar="LOG",
        help="a load stopped early: VACUUM ANALYZE and record what its log shows",
    )
    args = ap.parse_args()
    if args.record_partial:
        record_partial(args)
        return
    if args.drop:
        drop(args.name)
        print(f"dropped {args.name}")
        return
    if args.units is None:
        ap.error("--units is required (unless --drop)")
    env = bench_env(args.name)
    recreate(args.name)
    t_migrate = stream([str(BIN / "medtrace"), "migrate", "-v", "0"], env)
    print(f"migrated in {t_migrate:.1f} s", flush=True)
    if args.plan:
        cmd = [
            str(BIN / "python"),
            str(ROOT / "bench" / "_load_variant.py"),
            str(args.units),
            *args.plan,
        ]
    else:
        cmd = [str(BIN / "medtrace"), "demo", "--units", str(args.units)]
    t_load = stream(cmd, env)
    # This server runs with autovacuum = off, so nothing ever gathers planner statistics; a
    # production server's autovacuum would. ANALYZE once, as autovacuum would after a bulk load.
    t0 = time.perf_counter()
    with psycopg.connect(db_url(args.name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    t_analyze = time.perf_counter() - t0
    print(f"VACUUM ANALYZE in {t_analyze:.1f} s", flush=True)
    stats = table_stats(args.name)
    events = stats["ledger_event"]["rows"]
    result = {
        "name": args.name,
        "url": db_url(args.name),
        "units": args.units,
        "plan": args.plan,
        "command": " ".join(sys.argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, {platform.python_version()}",
        "migrate_s": round(t_migrate, 1),
        "load_s": round(t_load, 1),
        "events": events,
        "events_per_s": round(events / t_load),
        "vacuum_analyze_s": round(t_analyze, 1),
        "load_average_end": os.getloadavg(),
        "tables": stats,
    }
    out = ROOT / "bench" / "results" / f"dataset_{args.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
