"""The dashboards (issue 8 item 5) on a benchmark dataset, in process through Django's test Client.

    .venv/bin/python bench/bench_dashboards.py --db medtrace_bench_100k [--runs 10]

The whole server side of each page, in Chinese (the default UI), DEBUG off, read-only:

  recalls        GET /recalls/dashboard/?status=all as QA/RA: every campaign with its notices,
                 clocks, units by holder and region, effectiveness
  kpis_12m       GET /kpis/ (the last 12 months by month) as QA/RA: six KPI series, the
                 units with a gap, the audit chain's status
  kpis_12w       the same over 12 weeks by week
  kpis_24m       the same over 24 months by month
  work_admin     GET /work/ as the administrator: every queue
  work_qa, work_warehouse, work_service   GET /work/ as a member of the role

For each: p50/p90/max of --runs requests after one warm-up, and the statements per request.
The time of each KPI's selector alone is measured as well (kpi_<name>), to show where a page
spends it, and trace-data completeness over ranges holding 1,000, 10,000 and every unit
(completeness_<n>_units: its cost grows with the units made in the range).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from common import machine, now_iso, save, setup_django, summary_ms

PAGES: list[tuple[str, str, str, dict[str, str]]] = [
    ("recalls", "qa", "/recalls/dashboard/", {"status": "all"}),
    ("kpis_12m", "qa", "/kpis/", {"range": "12m"}),
    ("kpis_12w", "qa", "/kpis/", {"range": "12w", "granularity": "week"}),
    ("kpis_24m", "qa", "/kpis/", {"range": "24m"}),
    ("work_admin", "admin", "/work/", {}),
    ("work_qa", "qa", "/work/", {}),
    ("work_warehouse", "warehouse", "/work/", {}),
    ("work_service", "service", "/work/", {}),
]


def _client(username: str) -> Any:
    from django.test import Client

    from medtrace.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    client.cookies["django_language"] = "zh-hans"
    return client


def _measure(client: Any, path: str, params: dict[str, str], runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path, params)  # warm-up: templates, translations, permissions
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    lat: list[float] = []
    queries: list[int] = []
    for _ in range(runs):
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            response = client.get(path, params)
            lat.append(time.perf_counter() - t0)
        assert response.status_code == 200
        queries.append(len(captured.captured_queries))
    return {**summary_ms(lat), "queries": {"min": min(queries), "max": max(queries)}}


def _kpi_parts(runs: int) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from medtrace.trace import kpi_audit, kpi_series, kpi_trace
    from medtrace.trace.kpis import period_from

    today = timezone.localdate()
    period = period_from(today - timedelta(days=364), today)
    bs = kpi_series.buckets(period, "month")
    parts = {
        "trace_completeness": lambda: kpi_trace.completeness(period, "month", bs),
        "incomplete_units": lambda: kpi_trace.incomplete_units(period),
        "serial_binding_accuracy": lambda: kpi_trace.binding_accuracy(period, "month", bs),
        "recall_response_time": lambda: kpi_series.recall_response(period, "month", bs),
        "after_sales_handling_time": lambda: kpi_series.after_sales(period, "month", bs),
        "alert_false_alarm_rate": lambda: kpi_series.false_alarms(period, "month", bs),
        "audit_chain": lambda: kpi_audit.audit_chain(period, "month", bs),
    }
    out = {}
    for name, run in parts.items():
        run()
        lat = []
        for _ in range(runs):
            t0 = time.perf_counter()
            run()
            lat.append(time.perf_counter() - t0)
        out[f"kpi_{name}"] = summary_ms(lat)
        print(name, out[f"kpi_{name}"], flush=True)
    return out


def _completeness_scaling(runs: int) -> dict[str, Any]:
    """Trace-data completeness (and the list of units with a gap) over ranges holding the
    first 1,000, 10,000 and every serialized unit, whatever their dates (the generator spreads
    its units over many years, so a 12-month range holds few of them)."""
    from datetime import timedelta

    from medtrace.ledger.models import UnitState
    from medtrace.trace import kpi_trace
    from medtrace.trace.kpis import Period

    units = UnitState.objects.filter(serial__isnull=False, product__isnull=False).order_by(
        "first_event_time"
    )
    times = units.values_list("first_event_time", flat=True)
    first = times.first()
    total = units.count()
    out: dict[str, Any] = {}
    for n in (1_000, 10_000, total):
        if first is None or n > total:
            continue
        last = times[n - 1]
        period = Period(first, last + timedelta(microseconds=1))
        lat, gaps = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            result = kpi_trace.completeness(period, "month", [])
            lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            kpi_trace.incomplete_units(period)
            gaps.append(time.perf_counter() - t0)
        out[f"completeness_{result['units']}_units"] = {
            **summary_ms(lat),
            "complete": result["complete"],
            "us_per_unit": round(1e6 * sorted(lat)[len(lat) // 2] / max(result["units"], 1), 1),
            "incomplete_units_p50_ms": summary_ms(gaps)["p50_ms"],
        }
        print(n, out[f"completeness_{result['units']}_units"], flush=True)
    return out


def _sizes() -> dict[str, int]:
    from medtrace.audit.models import AuditEntry
    from medtrace.ledger.models import Event, UnitState
    from medtrace.recalls.models import AffectedUnit, RecallCampaign, RecallNotice
    from medtrace.service.models_lifecycle import InstalledUnit

    return {
        "unit_states": UnitState.objects.count(),
        "serialized_products": UnitState.objects.filter(
            serial__isnull=False, product__isnull=False
        ).count(),
        "events": Event.objects.count(),
        "audit_entries": AuditEntry.objects.count(),
        "campaigns": RecallCampaign.objects.count(),
        "affected_units": AffectedUnit.objects.count(),
        "notices": RecallNotice.objects.count(),
        "installed_units": InstalledUnit.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated page labels")
    args = parser.parse_args()
    setup_django(args.db)

    result: dict[str, Any] = {
        "command": f"bench/bench_dashboards.py --db {args.db} --runs {args.runs}",
        "date": now_iso(),
        "machine": machine(),
        "sizes": _sizes(),
    }
    print(result["sizes"], flush=True)
    only = {x for x in args.only.split(",") if x}
    clients: dict[str, Any] = {}
    for label, username, path, params in PAGES:
        if only and label not in only:
            continue
        client = clients.setdefault(username, _client(username))
        result[label] = _measure(client, path, params, args.runs)
        print(label, result[label], flush=True)
    if not only or "kpi_parts" in only:
        result.update(_kpi_parts(max(3, args.runs // 2)))
    if not only or "completeness" in only:
        result.update(_completeness_scaling(3))
    result["machine_after"] = machine()
    print(save(f"dashboards_{args.db}", result))


if __name__ == "__main__":
    main()
