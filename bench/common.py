"""Shared helpers of the benchmarks: bench database URL/env, gunicorn server, tokens, stats."""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "results"
SOCKET = "%2Fvar%2Frun%2Fpostgresql"

sys.path.insert(0, str(ROOT))


def db_url(name: str) -> str:
    return f"postgresql://{SOCKET}/{name}"


def bench_env(name: str) -> dict[str, str]:
    """Environment for medtrace against a bench database, DEBUG off (see dataset.py)."""
    env = dict(os.environ)
    env.update(
        MEDTRACE_DATABASE_URL=db_url(name),
        MEDTRACE_ALLOW_DEV_SECRET="1",
        MEDTRACE_DEBUG="0",
        MEDTRACE_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    # The capture rate limit (120 requests/60 s per client since e6d7de9) would answer the
    # single-event benchmark's 520 sequential POSTs with 429: lift it for bench servers only.
    env.setdefault("MEDTRACE_RATE_CAPTURE", "1000000/60")
    return env


def setup_django(name: str) -> None:
    """Configure this process for in-process measurements against the bench database."""
    os.environ.update({k: v for k, v in bench_env(name).items() if k.startswith("MEDTRACE_")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medtrace.settings")
    import django

    django.setup()


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.platform()}; "
        f"load average at start {load} (the machine is shared with other sessions)"
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of values."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary_ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 2),
        "p90_ms": round(pct(ms, 90), 2),
        "p99_ms": round(pct(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def code_version() -> str:
    """The medtrace code measured: the last commit under medtrace/, plus the files under
    medtrace/ changed but uncommitted (other engineers commit to the tree while we measure)."""
    head = subprocess.run(
        ["git", "log", "-1", "--format=%h %s", "--", "medtrace"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "medtrace"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split("\n")
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted: {', '.join(changed)}" if changed else "")


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result.setdefault("code", code_version())
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


def create_token(name: str, scopes: list[str], user: str = "admin") -> str:
    cmd = [str(BIN / "medtrace"), "create_token", user, "--days", "1", "--name", "bench"]
    for s in scopes:
        cmd += ["--scope", s]
    out = subprocess.run(
        cmd, env=bench_env(name), cwd=ROOT, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(name: str, workers: int = 2, settings: str | None = None) -> Iterator[int]:
    """gunicorn (sync workers, one per core) serving medtrace against the bench database.

    settings: a Django settings module other than medtrace.settings (importable from bench/).
    """
    port = free_port()
    env = bench_env(name)
    if settings:
        env["DJANGO_SETTINGS_MODULE"] = settings
        env["PYTHONPATH"] = str(ROOT / "bench")
    log = open(f"/tmp/bench_gunicorn_{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "medtrace.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--timeout",
            "900",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _, _ = request(port, "GET", "/epcis/")
                if status:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise SystemExit(f"gunicorn did not come up, see {log.name}")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 900,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()
