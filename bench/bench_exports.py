"""Exports (issue 7 item 5): FHIR Device Bundles, DI exports and list downloads, in process.

    .venv/bin/python bench/dataset.py --name medtrace_bench_exports --units 10000
    .venv/bin/python bench/bench_exports.py --db medtrace_bench_exports [--runs 5]

Through Django's test Client (middleware, session or bearer auth, scoping, rendering), as the
demo's administrator and as a hospital's user:

  fhir_page     GET /api/v1/fhir/Device?_count=1000            (1,000 Devices, internal)
  fhir_holder   GET /api/v1/fhir/Device?holder=<GLN>&_count=1000 (a hospital's devices, internal)
  fhir_partner  the same as the hospital's own user (partner scoping)
  fhir_one      GET /api/v1/fhir/Device/{epc}
  cn_json       GET /api/v1/exports/cn-udi-di            (every product)
  gudid_xlsx    GET /api/v1/exports/gudid?format=xlsx
  audit_csv     GET /audit/?format=csv   (the whole audit trail, streamed)
  audit_xlsx    GET /audit/?format=xlsx

Each: one warm-up, then --runs timed ones (p50/max), the statements of one request and the
answer's size. Peak RSS of the process is recorded at the end (the CSV streams; the XLSX is
written row by row to a temporary file).
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any
from urllib.parse import quote

from common import machine, now_iso, save, setup_django, summary_ms


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="medtrace_bench_exports")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    setup_django(args.db)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from medtrace.accounts.models import User
    from medtrace.audit.models import AuditEntry
    from medtrace.ledger.models import UnitState
    from medtrace.masterdata.models import Party, Product

    admin = User.objects.get(username="admin")
    staff = Client(HTTP_HOST="localhost")
    staff.force_login(admin)
    hospital = Party.objects.filter(role="hospital").exclude(gln="").order_by("pk").first()
    assert hospital is not None
    partner_user, _created = User.objects.get_or_create(
        username="bench_exports_hospital", defaults={"party": hospital}
    )
    partner = Client(HTTP_HOST="localhost")
    partner.force_login(partner_user)
    epc = (
        UnitState.objects.filter(product__isnull=False)
        .order_by("epc")
        .values_list("epc", flat=True)[0]
    )
    cases = {
        "fhir_page": (staff, "/api/v1/fhir/Device?_count=1000"),
        "fhir_holder": (staff, f"/api/v1/fhir/Device?holder={hospital.gln}&_count=1000"),
        "fhir_partner": (partner, "/api/v1/fhir/Device?_count=1000"),
        "fhir_one": (staff, f"/api/v1/fhir/Device/{quote(epc, safe='')}"),
        "cn_json": (staff, "/api/v1/exports/cn-udi-di"),
        "gudid_xlsx": (staff, "/api/v1/exports/gudid?format=xlsx"),
        "audit_csv": (staff, "/audit/?format=csv"),
        "audit_xlsx": (staff, "/audit/?format=xlsx"),
    }
    result: dict[str, Any] = {
        "benchmark": "exports",
        "started": now_iso(),
        "machine": machine(),
        "db": args.db,
        "units": UnitState.objects.filter(product__isnull=False).count(),
        "products": Product.objects.count(),
        "audit_entries": AuditEntry.objects.count(),
        "cases": {},
    }
    for name, (client, url) in cases.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code, _body(response)[:300])
        size = len(_body(response))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get(url)
            _body(response)
            times.append(time.perf_counter() - start)
        with CaptureQueriesContext(connection) as queries:
            _body(client.get(url))
        result["cases"][name] = {
            "url": url,
            **summary_ms(times),
            "bytes": size,
            "statements": len(queries.captured_queries),
        }
        print(name, result["cases"][name], flush=True)
    # The helper alone on 100,000 generated rows (10 columns): rows per second of each format.
    from django.test import RequestFactory

    from medtrace.exports.tabular import Column, export_response

    columns = [Column(f"c{i}", f"c{i}") for i in range(10)]

    def rows() -> Any:
        for n in range(100_000):
            yield {f"c{i}": f"=value {n}-{i}" if i == 0 else n * i for i in range(10)}

    for fmt in ("csv", "xlsx"):
        start = time.perf_counter()
        response = export_response(RequestFactory().get("/", {"format": fmt}), rows(), columns, "x")
        size = len(_body(response))
        elapsed = time.perf_counter() - start
        result["cases"][f"tabular_100k_{fmt}"] = {
            "seconds": round(elapsed, 2),
            "rows_per_s": round(100_000 / elapsed),
            "bytes": size,
        }
        print(f"tabular_100k_{fmt}", result["cases"][f"tabular_100k_{fmt}"], flush=True)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print("peak RSS MB", result["peak_rss_mb"])
    save(f"exports_{args.db}", result)


if __name__ == "__main__":
    main()
