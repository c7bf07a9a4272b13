"""Alert rules (issue 7 item 2): the periodic evaluators against a loaded store, worst cases.

    .venv/bin/python bench/dataset.py --name medtrace_bench_alerts --units 20000
    .venv/bin/python bench/bench_alert_rules.py --db medtrace_bench_alerts [--runs 3]

In process, each run inside a transaction that is rolled back (the store stays as loaded):

  expiry_stock      threshold 100,000 days: every unit in our stock with an expiry is "expiring"
  expiry_installed  every pump held by a hospital installed (rows made in the transaction),
                    threshold 100,000 days: all of them expiring
  maintenance_due   a 30-day maintenance plan over those installations: all due or overdue
  duplicate_scan    "now" one minute after the load: every event of the load is "recently
                    recorded" (a sweep normally sees the last 2 hours of captures)
  audit_chain       the daily verification of the whole chain and the ledger seals

Each: the first sweep (finds everything and raises every alert: fire() with its audit entry and
outbox rows per alert) and the next sweep (finds the same, raises nothing: what a sweep costs in
the steady state), p50/max of --runs after one warm-up, with the statements each ran.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from common import machine, now_iso, save, setup_django, summary_ms


class Rollback(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="medtrace_bench_alerts")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setup_django(args.db)

    from django.db import connection, transaction
    from django.db.models import Max
    from django.utils import timezone

    from medtrace.accounts.scoping import party_identifiers
    from medtrace.alerts.models import Alert, AlertRule
    from medtrace.alerts.rules_audit import audit_chain_evaluate
    from medtrace.alerts.rules_expiry import expiry_installed_evaluate, expiry_stock_evaluate
    from medtrace.alerts.rules_maintenance import maintenance_due_evaluate
    from medtrace.alerts.rules_scans import duplicate_scan_evaluate
    from medtrace.ledger.models import Event, EventEpc, UnitState
    from medtrace.masterdata.models import Location, Party, Product
    from medtrace.service.models_lifecycle import InstalledUnit, MaintenancePlan

    def install_everything() -> int:
        """Installation rows for every pump held by a hospital (bench data, not measured)."""
        pump = Product.objects.filter(tracking="serial").order_by("pk").first()
        assert pump is not None
        rows = []
        now = timezone.now()
        for hospital in Party.objects.filter(role="hospital").order_by("pk"):
            department = Location.objects.filter(party=hospital).order_by("pk").first()
            if department is None:
                continue
            held = (
                UnitState.objects.filter(
                    product=pump, possessing_party__in=party_identifiers(hospital)
                )
                .exclude(epc__in=InstalledUnit.objects.values("unit_epc"))
                .values_list("epc", "serial", "lot")
            )
            for n, (epc, serial, lot) in enumerate(held):
                rows.append(
                    InstalledUnit(
                        number=f"B-{hospital.pk}-{n}",
                        unit_epc=epc,
                        serial=serial or "",
                        lot=lot or "",
                        product=pump,
                        hospital=hospital,
                        department=department,
                        installed_at=now - timedelta(days=40 + n % 30),
                    )
                )
        InstalledUnit.objects.bulk_create(rows, batch_size=5000)
        MaintenancePlan.objects.create(
            number="MP-BENCH", name="Monthly check", kind="maintenance", product=pump,
            interval_days=30,
        )  # fmt: skip
        return len(rows)

    class Counter:
        """Counts the statements run (Django's query log stops at 9,000)."""

        def __init__(self) -> None:
            self.n = 0

        def __call__(self, execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
            self.n += 1
            return execute(sql, params, many, context)

    def timed(run: Callable[[], str]) -> tuple[float, int, str]:
        counter = Counter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            result = run()
            return time.perf_counter() - started, counter.n, result

    def measure(name: str, setup: Callable[[], Any], run: Callable[[], str]) -> dict[str, Any]:
        """The first sweep (finds everything, raises every alert) and the next sweep (finds
        the same, raises nothing: the steady-state cost), in one rolled-back transaction."""
        first: list[float] = []
        steady: list[float] = []
        out: dict[str, Any] = {}
        for attempt in range(args.runs + 1):
            try:
                with transaction.atomic():
                    prepared = setup()
                    t1, n1, r1 = timed(run)
                    alerts = Alert.objects.count()
                    t2, n2, r2 = timed(run)
                    out = {
                        "setup": prepared,
                        "first_sweep": {"result": r1, "statements": n1},
                        "next_sweep": {"result": r2, "statements": n2},
                        "alerts_in_store": alerts,
                    }
                    raise Rollback
            except Rollback:
                pass
            if attempt:  # the first run warms the caches
                first.append(t1)
                steady.append(t2)
        out["first_sweep"].update(summary_ms(first))
        out["next_sweep"].update(summary_ms(steady))
        print(name, out, flush=True)
        return out

    def threshold(kind: str, days: int) -> None:
        AlertRule.objects.filter(kind=kind).update(threshold=days, enabled=True)

    loaded_until = Event.objects.aggregate(last=Max("record_time"))["last"]
    assert loaded_until is not None
    results: dict[str, Any] = {
        "benchmark": "alert_rules",
        "db": args.db,
        "started": now_iso(),
        "machine": machine(),
        "store": {
            "events": Event.objects.count(),
            "event_epcs": EventEpc.objects.count(),
            "unit_states": UnitState.objects.count(),
            "unit_states_with_expiry": UnitState.objects.filter(expiry__isnull=False).count(),
        },
        "command": f"bench_alert_rules.py --db {args.db} --runs {args.runs}",
    }
    results["expiry_stock"] = measure(
        "expiry_stock",
        lambda: threshold("expiry_stock", 100_000),
        lambda: expiry_stock_evaluate(),
    )

    def installed() -> dict[str, int]:
        threshold("expiry_installed", 100_000)
        return {"installed_units": install_everything()}

    results["expiry_installed"] = measure(
        "expiry_installed", installed, lambda: expiry_installed_evaluate()
    )

    def plan() -> dict[str, int]:
        threshold("maintenance_due", 14)
        return {"installed_units": install_everything()}

    results["maintenance_due"] = measure("maintenance_due", plan, maintenance_due_evaluate)
    results["duplicate_scan"] = measure(
        "duplicate_scan",
        lambda: threshold("duplicate_scan", 10),
        lambda: duplicate_scan_evaluate(now=loaded_until + timedelta(minutes=1)),
    )
    results["audit_chain"] = measure("audit_chain", lambda: None, audit_chain_evaluate)
    results["finished"] = now_iso()
    print(save(f"alert_rules_{args.db}", results))


if __name__ == "__main__":
    main()
