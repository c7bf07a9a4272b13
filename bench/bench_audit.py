"""`medtrace audit verify` benchmark (audit trail, e6d7de9 and later).

    .venv/bin/python bench/bench_audit.py verify --db medtrace_bench_verify [--repeat 2]
        [--add-single N]

For the database given: the store's shape (audit entries, capture entries, events, events per
capture job), then `medtrace audit verify` and `medtrace audit verify --no-ledger` as
subprocesses under /usr/bin/time -v (wall, user+sys CPU, peak RSS, exit code and the first
problem it reports), then the same `verify()` in process with the PostgreSQL backend's CPU
(psutil) and once under cProfile (results/profile_audit_verify_<db>.txt). Events per second
are sealed events / wall seconds of the full verify. --add-single N then captures N single
events (POST /epcis/events makes one capture job, hence one seal, per event) and verifies again:
the difference is verify's cost per one-event job.

A store loaded by `medtrace demo` (dataset.py) went through `capture_document`, so every event
is sealed; rows inserted by SQL (amplify.py) are not, and verify reports them (exit 1) while
still doing the whole walk.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import subprocess
import time

import psycopg
from common import BIN, ROOT, bench_env, db_url, machine, now_iso, save, setup_django


def _store(db: str) -> dict:
    with psycopg.connect(db_url(db)) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        jobs = conn.execute(
            "SELECT count(*), coalesce(max(n), 0), coalesce(percentile_disc(0.5) WITHIN GROUP "
            "(ORDER BY n), 0) FROM (SELECT count(*) n FROM ledger_event GROUP BY "
            "capture_job_id) j"
        ).fetchone()
        return {
            "audit_entries": one("SELECT count(*) FROM audit_auditentry"),
            "capture_entries": one(
                "SELECT count(*) FROM audit_auditentry WHERE action = 'capture'"
            ),
            "events": one("SELECT count(*) FROM ledger_event"),
            "event_epcs": one("SELECT count(*) FROM ledger_eventepc"),
            "jobs_with_events": jobs[0],
            "events_per_job_max": jobs[1],
            "events_per_job_median": jobs[2],
            "ledger_event_bytes": one("SELECT pg_total_relation_size('ledger_event')"),
        }


def _timed(db: str, args: list[str]) -> dict:
    proc = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN / "medtrace"), "audit", "verify", "--json", *args],
        env=bench_env(db),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    err = proc.stderr

    def field(pattern: str) -> str:
        return re.search(pattern, err)[1]

    wall = [
        float(p)
        for p in field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)").split(":")
    ]
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = {"unparsed_stdout": proc.stdout[-500:]}
    return {
        "command": "medtrace audit verify --json " + " ".join(args),
        "exit": proc.returncode,
        "wall_s": round(sum(p * 60**i for i, p in enumerate(reversed(wall))), 2),
        "cpu_s": round(
            float(field(r"User time \(seconds\): ([\d.]+)"))
            + float(field(r"System time \(seconds\): ([\d.]+)")),
            2,
        ),
        "peak_rss_mb": round(int(field(r"Maximum resident set size \(kbytes\): (\d+)")) / 1024),
        "ok": report.get("ok"),
        "entries": report.get("entries"),
        "sealed_jobs": report.get("sealed_jobs"),
        "sealed_events": report.get("sealed_events"),
        "problems": len(report.get("problems", [])),
        "first_problem": (report.get("problems") or [{}])[0].get("message"),
        "load_avg_1min": round(os.getloadavg()[0], 1),
    }


def _in_process(backend) -> dict:
    from medtrace.audit.verify import verify

    b0 = sum(backend.cpu_times()[:2])
    c0 = time.process_time()
    t0 = time.perf_counter()
    report = verify()
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "python_cpu_s": round(time.process_time() - c0, 2),
        "postgres_cpu_s": round(sum(backend.cpu_times()[:2]) - b0, 2),
        "sealed_events": report.sealed_events,
        "sealed_jobs": report.sealed_jobs,
        "ok": report.ok,
    }


def _single_jobs(count: int, backend) -> dict:
    """What a capture job of one event (POST /epcis/events) adds to verify: capture `count`
    single events through `capture_event` (each its own sealed job), verify again, and divide
    the difference (in process, so no process start-up in it)."""
    from bench_capture import _single_events
    from events import run_tag

    from medtrace.ledger.services import capture_event

    before = _in_process(backend)
    for event in _single_events(count, run_tag()):
        capture_event(data=event, user=None)
    after = _in_process(backend)
    out = {"added_single_event_jobs": count, "before": before, "after": after}
    for key in ("wall_s", "python_cpu_s", "postgres_cpu_s"):
        out[f"{key.removesuffix('_s')}_ms_per_single_event_job"] = round(
            (after[key] - before[key]) / count * 1000, 2
        )
    print("single-event jobs", json.dumps(out), flush=True)
    return out


def cmd_verify(args: argparse.Namespace) -> None:
    result = {
        "command": f"bench/bench_audit.py verify --db {args.db} --repeat {args.repeat}"
        + (f" --add-single {args.add_single}" if args.add_single else ""),
        "date": now_iso(),
        "machine": machine(),
        "store": _store(args.db),
        "cli": [],
    }
    print(json.dumps(result["store"]), flush=True)
    for _ in range(args.repeat):
        for extra in ([], ["--no-ledger"]):
            run = _timed(args.db, extra)
            if run["sealed_events"] and not extra:
                run["events_per_s"] = round(run["sealed_events"] / run["wall_s"])
            print(json.dumps(run), flush=True)
            result["cli"].append(run)

    setup_django(args.db)
    import psutil
    from django.db import connection

    from medtrace.audit.verify import verify

    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(c.fetchone()[0])
    b0 = sum(backend.cpu_times()[:2])
    c0 = time.process_time()
    t0 = time.perf_counter()
    report = verify()
    wall = time.perf_counter() - t0
    result["in_process"] = {
        "wall_s": round(wall, 2),
        "python_cpu_s": round(time.process_time() - c0, 2),
        "postgres_cpu_s": round(sum(backend.cpu_times()[:2]) - b0, 2),
        "sealed_events": report.sealed_events,
        "sealed_jobs": report.sealed_jobs,
        "events_per_s": round(report.sealed_events / wall) if report.sealed_events else None,
    }
    print("in process", json.dumps(result["in_process"]), flush=True)
    if args.add_single:
        result["single_event_jobs"] = _single_jobs(args.add_single, backend)
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    verify()
    profile.disable()
    took = time.perf_counter() - t0
    buf = io.StringIO()
    pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(30)
    buf.write("\n")
    pstats.Stats(profile, stream=buf).sort_stats("tottime").print_stats(25)
    (ROOT / "bench" / "results" / f"profile_audit_verify_{args.db}.txt").write_text(
        f"medtrace.audit.verify.verify() on {args.db}, {took:.2f} s under cProfile\n\n"
        + buf.getvalue()
    )
    save(f"audit_verify_{args.db}", result)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("verify")
    p.add_argument("--db", default="medtrace_bench_verify")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument(
        "--add-single",
        type=int,
        default=0,
        metavar="N",
        help="then capture N single events (one job each) and measure verify's cost per job",
    )
    args = ap.parse_args()
    {"verify": cmd_verify}[args.cmd](args)


if __name__ == "__main__":
    main()
