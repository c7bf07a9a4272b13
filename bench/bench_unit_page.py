"""The unit page (issue 8 item 7: "the unit page renders in under 300 ms server-side on the
100k-unit benchmark dataset"), in process through Django's test Client.

    .venv/bin/python bench/dataset.py --name medtrace_bench_100k --units 100000
    .venv/bin/python bench/bench_unit_page.py --db medtrace_bench_100k [--samples 200]

The whole server side of ``GET /trace/?id=<unit>`` (session auth, middleware, resolving the
identifier, the timeline and composition walks, the names, documents, alerts/holds/recalls,
signatures and audit history, the templates), in Chinese (the default UI):

  staff          the demo's QA manager (``qa``) on --samples random pumps of the generator's
                 story (P00000000..P<units-1>, fixed seed): a first pass (cold: the pages of
                 these rows may not be in PostgreSQL's cache) and a second (warm)
  rich           the same user on the units with the longest lives in the store (the
                 department stories: receipt to repair; the most events per unit)
  partner        a hospital's user (``hospital_a``) on pumps in its custody
  datamatrix     GET /trace/datamatrix.svg?id=<pump> (the header's symbol; the browser caches it)

For each: wall p50/p90/p99/max, CPU time (this process plus its PostgreSQL backend: on the
shared 2-core machine wall time is mostly waiting for a core), the statements of each request
(min and max over the sample: the count must not grow with the history), the HTML size and the
events on the page. A cProfile of the slowest staff page goes to
results/profile_unit_page_<db>.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import re
import time
from typing import Any

from common import RESULTS, machine, now_iso, save, setup_django, summary_ms

PUMP = "urn:epc:id:sgtin:6901234.010001.P{:08d}"


def _pumps() -> int:
    from medtrace.ledger.models import UnitState

    def exists(n: int) -> bool:
        return UnitState.objects.filter(epc=PUMP.format(n)).exists()

    lo, hi = 0, 1
    while exists(hi):
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        if exists(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _client(username: str) -> Any:
    from django.test import Client

    from medtrace.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    client.cookies["django_language"] = "zh-hans"
    return client


_COUNT = re.compile(rb'id="unit-timeline-h">[^<]*<span class="count">(\d+)</span>')


def _backend() -> Any:
    """The PostgreSQL backend process of this connection (its CPU time counts too)."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return psutil.Process(cursor.fetchone()[0])


def _measure(client: Any, path: str, epcs: list[str]) -> dict[str, Any]:
    """Wall time, and CPU time of this process plus its PostgreSQL backend: on the shared
    machine wall time is mostly waiting for a core; CPU time is what a request costs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lat: list[float] = []
    cpu: list[float] = []
    queries: list[int] = []
    events: list[int] = []
    slowest = ("", 0.0)
    backend = _backend()
    for epc in epcs:
        connection.queries_log.clear()  # CaptureQueriesContext keeps 9,000 at most
        with CaptureQueriesContext(connection) as captured:
            pg, py = sum(backend.cpu_times()[:2]), time.process_time()
            t0 = time.perf_counter()
            response = client.get(path, {"id": epc})
            took = time.perf_counter() - t0
            cpu.append(time.process_time() - py + sum(backend.cpu_times()[:2]) - pg)
        assert response.status_code == 200, (epc, response.status_code, response.content[:300])
        lat.append(took)
        queries.append(len(captured.captured_queries))
        match = _COUNT.search(response.content)
        if match:
            events.append(int(match.group(1)))
        if took > slowest[1]:
            slowest = (epc, took)
    out: dict[str, Any] = {
        **summary_ms(lat),
        "cpu": summary_ms(cpu),
        "bytes": len(response.content),
        "queries": {"min": min(queries), "max": max(queries)},
        "slowest": slowest[0],
    }
    if events:
        out["events_on_page"] = {
            "min": min(events),
            "max": max(events),
            "mean": round(sum(events) / len(events), 1),
        }
    return out


def _rich_units(limit: int) -> list[str]:
    """The serialized finished units with the most events naming them."""
    from django.db.models import Count

    from medtrace.ledger.models import EventEpc, UnitState

    finished = UnitState.objects.filter(product__isnull=False, epc__startswith="urn:epc:id:sgtin:")
    rows = (
        EventEpc.objects.filter(epc__in=finished.values("epc"))
        .values("epc")
        .annotate(n=Count("id"))
        .order_by("-n", "epc")[:limit]
    )
    return [row["epc"] for row in rows]


def _partner_units(username: str, limit: int, seed: int) -> list[str]:
    from medtrace.accounts import scoping
    from medtrace.accounts.models import User
    from medtrace.ledger.models import UnitState

    user = User.objects.get(username=username)
    qs = scoping.scope_units(user, UnitState.objects.filter(epc__startswith=PUMP[:-8]))
    epcs = list(qs.order_by("epc").values_list("epc", flat=True)[:5000])
    return random.Random(seed).sample(epcs, min(limit, len(epcs)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    setup_django(args.db)

    pumps = _pumps()
    rng = random.Random(args.seed)
    epcs = [PUMP.format(rng.randrange(pumps)) for _ in range(args.samples)]
    staff = _client("qa")
    result: dict[str, Any] = {
        "command": f"bench/bench_unit_page.py --db {args.db} --samples {args.samples}"
        f" --seed {args.seed}",
        "date": now_iso(),
        "machine": machine(),
        "pumps": pumps,
        "samples": len(epcs),
        "target_ms": 300,
    }
    staff.get("/trace/", {"id": epcs[0]})  # templates, translations, permissions
    for label in ("staff_pass1_cold", "staff_pass2_warm"):
        result[label] = _measure(staff, "/trace/", epcs)
        print(label, result[label], flush=True)
    rich = _rich_units(20)
    result["rich_warm"] = _measure(staff, "/trace/", rich + rich)
    print("rich", result["rich_warm"], flush=True)
    partner_epcs = _partner_units("hospital_a", 50, args.seed)
    if partner_epcs:
        partner = _client("hospital_a")
        partner.get("/trace/", {"id": partner_epcs[0]})
        result["partner_hospital_a_warm"] = _measure(partner, "/trace/", partner_epcs)
        print("partner", result["partner_hospital_a_warm"], flush=True)
    symbols = epcs[:50]
    staff.get("/trace/datamatrix.svg", {"id": symbols[0]})
    result["datamatrix_svg"] = _measure(staff, "/trace/datamatrix.svg", symbols)
    print("datamatrix", result["datamatrix_svg"], flush=True)

    slowest = result["staff_pass2_warm"]["slowest"]
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(20):
        staff.get("/trace/", {"id": slowest})
    profile.disable()
    buf = io.StringIO()
    pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(40)
    (RESULTS / f"profile_unit_page_{args.db}.txt").write_text(
        f"20 x GET /trace/?id={slowest}\n\n" + buf.getvalue()
    )
    print(save(f"unit_page_{args.db}", result))


if __name__ == "__main__":
    main()
