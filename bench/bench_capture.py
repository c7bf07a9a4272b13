"""EPCIS capture benchmarks (DESIGN §10).

    .venv/bin/python bench/bench_capture.py http    --db medtrace_bench_10k [--trials 3]
    .venv/bin/python bench/bench_capture.py single  --db medtrace_bench_10k [--requests 500]
    .venv/bin/python bench/bench_capture.py profile --db medtrace_bench_10k [--events 10000]
    .venv/bin/python bench/bench_capture.py memory  --db medtrace_bench_10k [--mb 100]
    .venv/bin/python bench/bench_capture.py commission --db medtrace_bench_10k [--serials 10000]
    .venv/bin/python bench/bench_capture.py seal    --db medtrace_bench_10k [--trials 3]

http:    POST /epcis/capture of a 10k-event EPCISDocument to gunicorn (2 sync workers), poll the
         Location until running is false; events/s end to end (client clock, body already
         serialised). Twice: with client eventIDs (urn:uuid) and without (GS1 event hash).
profile: the same capture in process under cProfile, inside a transaction that is rolled back;
         phase times and the top functions (results/profile_capture_*.txt).
single:  POST /epcis/events, one ObjectEvent per request, sequential: over HTTP (new TCP
         connection per request, as gunicorn sync workers close it) and in process through
         Django's test Client (server-side time, no network).
seal:    the ledger seal's cost: the same capture in process, alternately with the seal and with
         it stubbed out (this process only); replay of the digests under cProfile.
memory:  write a ~100 MB EPCISDocument (generator events) and a 100k-event one (the capture
         limit), run `medtrace ledger capture FILE` under /usr/bin/time -v, peak RSS.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    BIN,
    ROOT,
    bench_env,
    create_token,
    machine,
    now_iso,
    request,
    save,
    server,
    setup_django,
    summary_ms,
)
from events import document, fresh_events, iter_fresh, run_tag


def cmd_http(args: argparse.Namespace) -> None:
    token = create_token(args.db, ["epcis:capture", "epcis:query"])
    runs = []
    # First with medtrace's own settings: does a 10k-event document get through at all?
    body = json.dumps(
        document(fresh_events(args.events, run_tag())), separators=(",", ":")
    ).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
    with server(args.db) as port:
        try:
            status, _, data = request(port, "POST", "/epcis/capture", body, headers)
            default = {"status": status, "body": data[:300].decode(errors="replace")}
        except OSError as exc:  # the server answered early and closed while we were sending
            default = {"status": None, "error": repr(exc)}
    default["bytes"] = len(body)
    print("medtrace.settings:", json.dumps(default), flush=True)
    settings = None if default.get("status") == 202 else "settings_bench"
    with server(args.db, settings=settings) as port:
        for trial in range(args.trials):
            for with_ids in (True, False):
                tag = run_tag()
                body = json.dumps(
                    document(fresh_events(args.events, tag, with_ids=with_ids)),
                    separators=(",", ":"),
                ).encode()
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/ld+json",
                }
                t0 = time.perf_counter()
                status, hdrs, data = request(port, "POST", "/epcis/capture", body, headers)
                t_post = time.perf_counter() - t0
                if status != 202:
                    raise SystemExit(f"capture answered {status}: {data[:2000]!r}")
                location = hdrs["location"]
                polls = 0
                while True:
                    polls += 1
                    _, _, job = request(port, "GET", location, None, headers)
                    doc = json.loads(job)
                    if not doc["running"]:
                        break
                    time.sleep(0.05)
                took = time.perf_counter() - t0
                run = {
                    "trial": trial,
                    "eventIDs": "client" if with_ids else "event hash",
                    "events": args.events,
                    "bytes": len(body),
                    "post_s": round(t_post, 3),
                    "total_s": round(took, 3),
                    "polls": polls,
                    "events_per_s": round(args.events / took),
                    "captured": doc["capturedCount"],
                    "success": doc["success"],
                }
                print(json.dumps(run), flush=True)
                runs.append(run)
    best = {}
    for mode in ("client", "event hash"):
        rates = sorted(r["events_per_s"] for r in runs if r["eventIDs"] == mode)
        best[mode] = {"median_events_per_s": rates[len(rates) // 2], "all": rates}
    save(
        f"capture_http_{args.db}",
        {
            "command": f"bench/bench_capture.py http --db {args.db} --events {args.events} "
            f"--trials {args.trials}",
            "date": now_iso(),
            "machine": machine(),
            "server": "gunicorn 2 sync workers",
            "with_medtrace_settings": default,
            "settings_used": settings or "medtrace.settings",
            "runs": runs,
            "summary": best,
        },
    )
    print(json.dumps(best, indent=2))


def _phases(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile)
    wanted = {
        "_parse": "parse+validate (epcis.parse_document)",
        "_prepare": "prepare",
        "event_hash": "GS1 event hash",
        "_plan": "dedup lookup (_plan)",
        "_write": "ledger rows (COPY)",
        "project": "projections",
        "_finish": "job update",
        "loads": "json.loads",
        "dumps": "json.dumps",
    }
    out: dict[str, float] = {}
    for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func in wanted and ("medtrace" in path or func in ("loads", "dumps")):
            key = wanted[func]
            out[key] = round(out.get(key, 0.0) + ct, 3)
    return out


def _timed_phases(n_events: int) -> dict:
    """Phase times without cProfile: perf_counter wrappers around the capture's own functions
    (module attributes of medtrace.ledger.services, patched in this process only)."""
    from django.db import transaction

    from medtrace.ledger import services
    from medtrace.lib.epcis import event_hash as eh

    out = {}
    for with_ids in (True, False):
        acc: dict[str, float] = {}
        originals = {}

        def wrap(name, fn, acc=acc):
            def inner(*a, **kw):
                t = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    acc[name] = acc.get(name, 0.0) + time.perf_counter() - t

            return inner

        for name in ("_parse", "_prepare", "_plan", "_write", "project", "event_hash"):
            originals[name] = getattr(services, name)
            setattr(services, name, wrap(name, originals[name]))
        body = json.dumps(document(fresh_events(n_events, run_tag(), with_ids=with_ids)))
        t0 = time.perf_counter()
        data = json.loads(body)
        acc["json.loads"] = time.perf_counter() - t0

        class Rollback(Exception):
            pass

        import psutil
        from django.db import connection

        with connection.cursor() as c:
            c.execute("SELECT pg_backend_pid()")
            backend = psutil.Process(c.fetchone()[0])
        try:
            with transaction.atomic():
                b0 = sum(backend.cpu_times()[:2])
                c0 = time.process_time()
                t1 = time.perf_counter()
                services.capture_document(data=data, user=None)
                total = time.perf_counter() - t1
                py_cpu = time.process_time() - c0
                db_cpu = sum(backend.cpu_times()[:2]) - b0
                raise Rollback
        except Rollback:
            pass
        finally:
            for name, fn in originals.items():
                setattr(services, name, fn)
        acc["(prepare includes event_hash)"] = 0.0
        mode = "client" if with_ids else "event hash"
        out[mode] = {
            "capture_document_s": round(total, 3),
            "python_cpu_s": round(py_cpu, 3),
            "postgres_backend_cpu_s": round(db_cpu, 3),
            "events_per_cpu_s": round(n_events / (py_cpu + db_cpu)),
            "events_per_s_in_process": round(n_events / total),
            "phases_s": {k: round(v, 3) for k, v in acc.items()},
        }
        print("unprofiled", mode, json.dumps(out[mode]), flush=True)
    del eh
    return out


def cmd_profile(args: argparse.Namespace) -> None:
    setup_django(args.db)
    from django.db import transaction

    from medtrace.ledger.services import capture_document

    class Rollback(Exception):
        pass

    report = {
        "command": f"bench/bench_capture.py profile --db {args.db} --events {args.events}",
        "date": now_iso(),
        "machine": machine(),
        "runs": {},
    }
    for with_ids in (True, False):
        body = json.dumps(document(fresh_events(args.events, run_tag(), with_ids=with_ids)))
        profile = cProfile.Profile()
        t0 = time.perf_counter()
        try:
            with transaction.atomic():
                profile.enable()
                capture_document(data=json.loads(body), user=None)
                profile.disable()
                took = time.perf_counter() - t0
                raise Rollback
        except Rollback:
            pass
        mode = "client" if with_ids else "event hash"
        buf = io.StringIO()
        pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(45)
        buf2 = io.StringIO()
        pstats.Stats(profile, stream=buf2).sort_stats("tottime").print_stats(30)
        name = "ids" if with_ids else "hash"
        (ROOT / "bench" / "results" / f"profile_capture_{name}.txt").write_text(
            f"{args.events} events, eventIDs={mode}, {took:.2f} s under cProfile\n\n"
            + buf.getvalue()
            + "\n\n"
            + buf2.getvalue()
        )
        report["runs"][mode] = {"profiled_s": round(took, 2), "phases_s": _phases(profile)}
        print(mode, json.dumps(report["runs"][mode], indent=2), flush=True)
    report["unprofiled"] = _timed_phases(args.events)
    save(f"capture_profile_{args.db}", report)


def _single_events(n: int, tag: str) -> list[dict]:
    base = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=hash(tag) % 300)
    out = []
    for i in range(n):
        moment = base + timedelta(seconds=i)
        out.append(
            {
                "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "ObjectEvent",
                "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventTimeZoneOffset": "+08:00",
                "epcList": [f"urn:epc:id:sgtin:6901234.010001.{tag}S{i:08d}"],
                "action": "OBSERVE",
                "bizStep": "inspecting",
                "disposition": "conformant",
                "readPoint": {"id": "urn:epc:id:sgln:6901234.00006.0"},
                "bizLocation": {"id": "urn:epc:id:sgln:6901234.00006.0"},
            }
        )
    return out


def cmd_single(args: argparse.Namespace) -> None:
    token = create_token(args.db, ["epcis:capture"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
    result = {
        "command": f"bench/bench_capture.py single --db {args.db} --requests {args.requests}",
        "date": now_iso(),
        "machine": machine(),
    }
    lat = []
    with server(args.db) as port:
        for i, event in enumerate(_single_events(args.requests + 20, run_tag())):
            body = json.dumps(event).encode()
            t0 = time.perf_counter()
            status, _, data = request(port, "POST", "/epcis/events", body, headers)
            took = time.perf_counter() - t0
            if status != 201:
                raise SystemExit(f"POST /epcis/events answered {status}: {data[:1000]!r}")
            if i >= 20:  # warm-up
                lat.append(took)
    result["http_gunicorn"] = summary_ms(lat)
    print("http", result["http_gunicorn"], flush=True)
    setup_django(args.db)
    from django.test import Client

    client = Client()
    lat = []
    for i, event in enumerate(_single_events(args.requests + 20, run_tag())):
        body = json.dumps(event)
        t0 = time.perf_counter()
        resp = client.post(
            "/epcis/events",
            body,
            content_type="application/ld+json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        took = time.perf_counter() - t0
        assert resp.status_code == 201, resp.content[:500]
        if i >= 20:
            lat.append(took)
    result["in_process_test_client"] = summary_ms(lat)
    print("in process", result["in_process_test_client"], flush=True)
    # Where the time goes: one profiled batch of 100 requests.
    profile = cProfile.Profile()
    events = _single_events(100, run_tag())
    profile.enable()
    for event in events:
        client.post(
            "/epcis/events",
            json.dumps(event),
            content_type="application/ld+json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    profile.disable()
    buf = io.StringIO()
    pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(40)
    (ROOT / "bench" / "results" / "profile_single_event.txt").write_text(buf.getvalue())
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    batch = _single_events(50, run_tag())
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        for event in batch:
            client.post(
                "/epcis/events",
                json.dumps(event),
                content_type="application/ld+json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
    wall = time.perf_counter() - t0
    result["queries_per_request"] = round(len(ctx.captured_queries) / len(batch), 1)
    db = sum(float(q["time"]) for q in ctx.captured_queries)
    result["db_time_share"] = {
        "requests": len(batch),
        "wall_ms_per_request": round(wall / len(batch) * 1000, 2),
        "sql_ms_per_request": round(db / len(batch) * 1000, 2),
    }
    stmts: dict[str, list[float]] = {}
    for q in ctx.captured_queries:
        key = re.sub(r"'[^']*'(::\w+)?", "?", " ".join(q["sql"].split()))
        key = re.sub(r'"s\d+_x\d+"', "sp", key)
        key = re.sub(r"\b\d+\b", "N", key)[:100]
        stmts.setdefault(key, []).append(float(q["time"]) * 1000)
    result["queries"] = {
        k: {"per_request": round(len(v) / len(batch), 2), "mean_ms": round(sum(v) / len(v), 3)}
        for k, v in stmts.items()
    }
    reset_queries()
    save(f"capture_single_{args.db}", result)
    print(json.dumps({k: v for k, v in result.items() if k != "queries"}, indent=2))


def _write_document(path: Path, *, max_bytes: int | None, max_events: int | None) -> int:
    """Stream generator events into an EPCISDocument file; returns the number of events."""
    head = json.dumps(document([]), separators=(",", ":"))
    prefix, suffix = head.split('"eventList":[]')
    count = 0
    size = 0
    with path.open("w") as f:
        f.write(prefix + '"eventList":[')
        for event in iter_fresh(run_tag()):
            text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            f.write(("," if count else "") + text)
            count += 1
            size += len(text) + 1
            if (max_bytes and size >= max_bytes) or (max_events and count >= max_events):
                break
        f.write("]" + suffix)
    return count


def _timed_capture(db: str, path: Path) -> dict:
    env = bench_env(db)
    proc = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN / "medtrace"), "ledger", "capture", str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr)[1]
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    tail = (proc.stdout + proc.stderr.split("\tCommand being timed")[0]).strip()[-600:]
    return {
        "exit": proc.returncode,
        "peak_rss_mb": round(rss_kb / 1024),
        "wall_s": seconds,
        "output": tail,
    }


def cmd_memory(args: argparse.Namespace) -> None:
    result = {
        "command": f"bench/bench_capture.py memory --db {args.db} --mb {args.mb}",
        "date": now_iso(),
        "machine": machine(),
        "runs": [],
    }
    baseline = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN / "medtrace"), "ledger", "stats"],
        env=bench_env(args.db),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    base_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", baseline.stderr)[1])
    result["baseline_rss_mb_ledger_stats"] = round(base_kb / 1024)
    for label, max_bytes, max_events in (
        (f"{args.mb} MB", args.mb * 1_000_000, None),
        ("100k events (capture limit)", None, 100_000),
    ):
        path = Path(f"/tmp/bench_capture_{label.split()[0]}.json")
        count = _write_document(path, max_bytes=max_bytes, max_events=max_events)
        size = path.stat().st_size
        print(f"{label}: {count} events, {size / 1e6:.1f} MB written to {path}", flush=True)
        run = {
            "document": label,
            "events": count,
            "file_mb": round(size / 1e6, 1),
            **_timed_capture(args.db, path),
        }
        print(json.dumps(run, indent=2), flush=True)
        result["runs"].append(run)
        path.unlink()
    save(f"capture_memory_{args.db}", result)


def cmd_commission(args: argparse.Namespace) -> None:
    """Commission 10,000 serials in one work order: one ObjectEvent ADD (bizStep commissioning)
    whose epcList holds 10k new pump serials, with the work order as bizTransaction. Captured
    in process (capture_document) three times, and once over HTTP (POST /epcis/capture)."""
    setup_django(args.db)
    from medtrace.ledger.services import capture_document

    def doc(tag: str) -> dict:
        return document(
            [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-03-02T01:00:00.000Z",
                    "eventTimeZoneOffset": "+08:00",
                    "action": "ADD",
                    "bizStep": "commissioning",
                    "disposition": "active",
                    "epcList": [
                        f"urn:epc:id:sgtin:6901234.010001.{tag}P{n:08d}"
                        for n in range(args.serials)
                    ],
                    "readPoint": {"id": "urn:epc:id:sgln:6901234.00006.0"},
                    "bizLocation": {"id": "urn:epc:id:sgln:6901234.00006.0"},
                    "bizTransactionList": [
                        {"type": "prodorder", "bizTransaction": f"urn:medtrace:wo:{tag}"}
                    ],
                    "ilmd": {"cbvmda:lotNumber": tag, "cbvmda:itemExpirationDate": "2036-03-01"},
                }
            ]
        )

    result = {
        "command": f"bench/bench_capture.py commission --db {args.db} --serials {args.serials}",
        "date": now_iso(),
        "machine": machine(),
        "in_process_s": [],
    }
    for _ in range(3):
        body = json.dumps(doc(run_tag()))
        t0 = time.perf_counter()
        capture_document(data=body.encode(), user=None)
        result["in_process_s"].append(round(time.perf_counter() - t0, 3))
        print("in process", result["in_process_s"][-1], flush=True)
    token = create_token(args.db, ["epcis:capture"])
    body = json.dumps(doc(run_tag())).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
    with server(args.db) as port:
        t0 = time.perf_counter()
        status, _, _ = request(port, "POST", "/epcis/capture", body, headers)
        result["http_s"] = round(time.perf_counter() - t0, 3)
        result["http_status"] = status
        result["http_bytes"] = len(body)
    print("http", result["http_s"], status, flush=True)
    save(f"capture_commission_{args.db}", result)


def cmd_seal(args: argparse.Namespace) -> None:
    """What the ledger seal (medtrace/ledger/seal.py, since e6d7de9) costs a 10k-event capture.

    In process, client eventIDs, each capture rolled back. Alternates two variants in one
    process: the real code ("seal"), and the seal stubbed out in this process only
    (`seal.event_digest` returns a constant, `services._seal_job` does nothing: "no seal").
    Wall, Python CPU and PostgreSQL backend CPU per capture, plus the time inside
    `event_digest` and `_seal_job` (wall and thread CPU). Then the digest inputs of one capture
    are replayed (CPU seconds): under cProfile (results/profile_seal_digest.txt), and against
    the C `json.dumps(sort_keys=True)` of the same values, to size what a faster canonical
    encoder would save. Last, single-event POST /epcis/events in process, seal vs stubbed
    (--requests each); the stubbed ones commit events with no seal, which `audit verify` on
    this database reports from then on.
    """
    setup_django(args.db)
    import psutil
    from django.db import connection, transaction

    from medtrace.ledger import seal, services
    from medtrace.lib import hashing

    real_digest, real_seal_job = seal.event_digest, services._seal_job
    spent: dict[str, float] = {}
    recorded: list[tuple[tuple, dict]] = []

    def timed(name, fn, record=False):
        def inner(*a, **kw):
            if record:
                recorded.append((a, {k: list(v) for k, v in kw.items()}))
                kw = recorded[-1][1]
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
                spent[f"{name}_cpu"] = spent.get(f"{name}_cpu", 0.0) + time.thread_time() - c

        return inner

    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(c.fetchone()[0])

    class Rollback(Exception):
        pass

    def one(variant: str, record: bool = False) -> dict:
        spent.clear()
        if variant == "seal":
            seal.event_digest = timed("event_digest", real_digest, record)
            services._seal_job = timed("_seal_job", real_seal_job)
        else:
            seal.event_digest = lambda *a, **kw: "0" * 64
            services._seal_job = lambda job, user: None
        data = json.loads(json.dumps(document(fresh_events(args.events, run_tag(), with_ids=True))))
        try:
            with transaction.atomic():
                b0 = sum(backend.cpu_times()[:2])
                c0 = time.process_time()
                t0 = time.perf_counter()
                services.capture_document(data=data, user=None)
                wall = time.perf_counter() - t0
                py = time.process_time() - c0
                db = sum(backend.cpu_times()[:2]) - b0
                raise Rollback
        except Rollback:
            pass
        finally:
            seal.event_digest, services._seal_job = real_digest, real_seal_job
        run = {
            "variant": variant,
            "wall_s": round(wall, 3),
            "python_cpu_s": round(py, 3),
            "postgres_cpu_s": round(db, 3),
            "events_per_cpu_s": round(args.events / (py + db)),
            **{f"{k}_s": round(v, 3) for k, v in spent.items()},
            "load_avg_1min": round(os.getloadavg()[0], 1),
        }
        print(json.dumps(run), flush=True)
        return run

    result = {
        "command": f"bench/bench_capture.py seal --db {args.db} --events {args.events} "
        f"--trials {args.trials}",
        "date": now_iso(),
        "machine": machine(),
        "runs": [],
    }
    one("seal", record=True)  # warm-up (caches, imports) recording the digest inputs; not counted
    for trial in range(args.trials):
        order = ("seal", "no seal") if trial % 2 == 0 else ("no seal", "seal")
        for variant in order:
            result["runs"].append(one(variant))
    summary = {}
    for variant in ("seal", "no seal"):
        runs = [r for r in result["runs"] if r["variant"] == variant]
        summary[variant] = {
            key: sorted(r[key] for r in runs)[len(runs) // 2]
            for key in runs[0]
            if key not in ("variant",)
        }
    s, n = summary["seal"], summary["no seal"]
    cpu_s = s["python_cpu_s"] + s["postgres_cpu_s"]
    cpu_n = n["python_cpu_s"] + n["postgres_cpu_s"]
    summary["seal share of capture CPU (A/B medians)"] = round((cpu_s - cpu_n) / cpu_s, 3)
    summary["event_digest share of capture CPU"] = round(s["event_digest_cpu_s"] / cpu_s, 3)

    # Replay the recorded digest inputs: per-event cost, profile, and a C-encoder comparison.
    calls = recorded
    t0 = time.process_time()
    for a, kw in calls:
        real_digest(*a, **kw)
    replay = time.process_time() - t0
    profile = cProfile.Profile()
    profile.enable()
    for a, kw in calls:
        real_digest(*a, **kw)
    profile.disable()
    buf = io.StringIO()
    pstats.Stats(profile, stream=buf).sort_stats("tottime").print_stats(20)
    (ROOT / "bench" / "results" / "profile_seal_digest.txt").write_text(
        f"seal.event_digest replayed over the {len(calls)} events of one 10k-event capture "
        f"(client eventIDs), {replay:.3f} CPU-s unprofiled\n\n" + buf.getvalue()
    )
    values = []
    for a, kw in calls:
        values.append(
            [
                list(a[0]),
                sorted(f"{r}\x1f{e}" for r, e in kw["epcs"]),
                sorted(
                    f"{r}\x1f{c}\x1f{seal._quantity(q)}\x1f{u or ''}"
                    for r, c, q, u in kw["quantities"]
                ),
                sorted(f"{t or ''}\x1f{v}" for t, v in kw["biz_transactions"]),
                sorted(f"{k}\x1f{t}\x1f{v}" for k, t, v in kw["source_dests"]),
            ]
        )
    t0 = time.process_time()
    canon = [hashing.canonical_json(v) for v in values]
    t_canon = time.process_time() - t0
    t0 = time.process_time()
    fast = [
        json.dumps(
            v,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=hashing.jsonable,
        )
        for v in values
    ]
    t_fast = time.process_time() - t0
    t0 = time.process_time()
    for text in canon:
        hashlib.sha256(text.encode()).hexdigest()
    t_sha = time.process_time() - t0
    doc_bytes = sum(len(json.dumps(v[0][-1], ensure_ascii=False).encode()) for v in values)
    result["replay"] = {
        "events": len(calls),
        "event_digest_cpu_s": round(replay, 3),
        "us_per_event": round(replay / max(1, len(calls)) * 1e6, 1),
        "canonical_json_s": round(t_canon, 3),
        "c_json_dumps_sorted_s": round(t_fast, 3),
        "c_json_identical_to_canonical": sum(a == b for a, b in zip(canon, fast, strict=True)),
        "sha256_s": round(t_sha, 3),
        "stored_document_bytes_per_event": round(doc_bytes / max(1, len(calls))),
    }
    result["summary"] = summary
    result["single_event"] = _seal_single(args, real_digest, real_seal_job)
    save(f"capture_seal_{args.db}", result)
    print(json.dumps({"summary": summary, "replay": result["replay"]}, indent=2))


def _seal_single(args: argparse.Namespace, real_digest, real_seal_job) -> dict:
    """Single-event POST /epcis/events in process (test Client), seal vs seal stubbed out,
    alternating blocks of 50 requests; p50/p90/p99 per variant over --requests each."""
    from django.test import Client

    from medtrace.ledger import seal, services

    token = create_token(args.db, ["epcis:capture"])
    client = Client()
    lat: dict[str, list[float]] = {"seal": [], "no seal": []}
    events = iter(_single_events(2 * args.requests + 40, run_tag()))
    for block in range(2 * args.requests // 50 + 2):
        variant = "seal" if block % 2 == 0 else "no seal"
        if variant == "no seal":
            seal.event_digest = lambda *a, **kw: "0" * 64
            services._seal_job = lambda job, user: None
        try:
            for i in range(50 if block > 1 else 20):  # the first two blocks warm up
                body = json.dumps(next(events))
                t0 = time.perf_counter()
                resp = client.post(
                    "/epcis/events",
                    body,
                    content_type="application/ld+json",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                )
                took = time.perf_counter() - t0
                assert resp.status_code == 201, resp.content[:500]
                if block > 1 and i < 50:
                    lat[variant].append(took)
        finally:
            seal.event_digest, services._seal_job = real_digest, real_seal_job
    out = {variant: summary_ms(values) for variant, values in lat.items()}
    out["load_avg_1min"] = round(os.getloadavg()[0], 1)
    print("single event", json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("http", "single", "profile", "memory", "commission", "seal"):
        p = sub.add_parser(name)
        p.add_argument("--db", default="medtrace_bench_10k")
        p.add_argument("--events", type=int, default=10_000)
        p.add_argument("--trials", type=int, default=3)
        p.add_argument("--requests", type=int, default=500)
        p.add_argument("--mb", type=int, default=100)
        p.add_argument("--serials", type=int, default=10_000)
    args = ap.parse_args()
    {
        "http": cmd_http,
        "single": cmd_single,
        "profile": cmd_profile,
        "memory": cmd_memory,
        "commission": cmd_commission,
        "seal": cmd_seal,
    }[args.cmd](args)


if __name__ == "__main__":
    main()
