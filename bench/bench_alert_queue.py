"""Alerts (issue 7 item 2): the work queue over a large alert table, fire() and a lifecycle step.

    cd bench && ../.venv/bin/python bench_alert_queue.py [--alerts 200000] [--db NAME]

Creates (or reuses) a throwaway database, migrates it and fills it with ``--alerts`` alerts
spread over the nine department roles and the rule kinds, 80 % of them concluded (resolved or
dismissed), plus a few hundred addressed to one user. Then measures, in process, with DEBUG off:

  queue        selectors.work_queue(user=<warehouse clerk>): the counts and the first page (50)
  nav_count    selectors.live_count(user): the menu badge, on every page
  all_live     work_queue(scope="all") for QA/RA: counts and first page over every alert
  fire         rules.fire() of a new alert to a role of 5 members with e-mail on and one webhook
               subscription: Alert + audit entry + 5 e-mail and 1 webhook outbox rows, committed
  acknowledge  lifecycle.alert_acknowledge of one of those alerts, committed

``--drop`` removes the database.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from typing import Any

from common import ROOT, bench_env, machine, now_iso, save, setup_django, summary_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="medtrace_bench_alertq")
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    if args.drop:
        subprocess.run(["dropdb", "--if-exists", args.db], check=True)
        return
    subprocess.run(["createdb", args.db], check=False, capture_output=True)
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "medtrace"), "migrate", "-v", "0"],
        env=bench_env(args.db),
        cwd=ROOT,
        check=True,
    )
    setup_django(args.db)

    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from medtrace.accounts.models import User
    from medtrace.alerts import lifecycle, rules, selectors, webhooks
    from medtrace.alerts.models import Alert, AlertRule, AlertRuleKind, WebhookSubscription

    roles = [g.name for g in Group.objects.order_by("name")]
    kinds = list(AlertRuleKind.values)
    statuses = ["resolved"] * 6 + ["dismissed"] * 2 + ["open", "acknowledged"]

    def user(name: str, role: str, email: str = "") -> User:
        found = User.objects.filter(username=name).first()
        if found is None:
            found = User.objects.create_user(name, password="pw-bench-alerts-1", email=email)
            found.groups.add(Group.objects.get(name=role))
        return found

    clerk = user("bench_clerk", "warehouse")
    qa = user("bench_qa", "qa_ra")
    members = [user(f"bench_qc_{i}", "qc", f"qc{i}@maker.example") for i in range(5)]
    have = Alert.objects.count()
    if have < args.alerts:
        started = time.perf_counter()
        batch = []
        for i in range(have, args.alerts):
            batch.append(
                Alert(
                    kind=kinds[i % len(kinds)],
                    title=f"bench alert {i}",
                    recipient_role=roles[i % len(roles)],
                    recipient_user=clerk if i % 997 == 0 else None,
                    status=statuses[i % len(statuses)],
                    dedupe_key=f"bench:{i}",
                )
            )
            if len(batch) == 10_000:
                Alert.objects.bulk_create(batch)
                batch = []
        Alert.objects.bulk_create(batch)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE alerts_alert")
        print(f"loaded {args.alerts - have} alerts in {time.perf_counter() - started:.1f} s")
    if not WebhookSubscription.objects.filter(system_name="bench QMS").exists():
        WebhookSubscription.objects.create(
            url="http://127.0.0.1:9/hook",
            secret=webhooks.new_secret(),
            event_types=["alert.raised"],
            system_name="bench QMS",
        )
    AlertRule.objects.filter(kind="qc_failure").update(email=True, recipient_role="qc")

    def measure(fn: Any, runs: int) -> dict[str, Any]:
        fn()  # warm-up
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        with CaptureQueriesContext(connection) as queries:
            fn()
        return {**summary_ms(times), "statements": len(queries)}

    def queue_page(u: User, scope: str = "mine") -> None:
        q = selectors.work_queue(user=u, scope=scope)
        list(q.alerts[:50])

    results: dict[str, Any] = {
        "queue": measure(lambda: queue_page(clerk), args.runs),
        "nav_count": measure(lambda: selectors.live_count(clerk), args.runs),
        "all_live": measure(lambda: queue_page(qa, "all"), args.runs),
    }
    fired: list[int] = []
    counter = [Alert.objects.count()]

    def fire() -> None:
        counter[0] += 1
        with transaction.atomic():
            alert = rules.fire(
                "qc_failure", dedupe_key=f"bench-fire:{counter[0]}", title="bench QC failure"
            )
        assert alert is not None
        fired.append(alert.pk)

    results["fire"] = measure(fire, args.runs)

    def acknowledge() -> None:
        lifecycle.alert_acknowledge(alert_id=fired.pop(), user=members[0])

    results["acknowledge"] = measure(acknowledge, min(args.runs, len(fired) - 2))
    out = {
        "benchmark": "bench_alert_queue",
        "command": f"bench_alert_queue.py --db {args.db} --alerts {args.alerts} --runs {args.runs}",
        "date": now_iso(),
        "machine": machine(),
        "alerts_in_table": Alert.objects.count(),
        "live_for_clerk": selectors.live_count(clerk),
        "results_ms": results,
    }
    print(save("bench_alert_queue", out))
    for name, r in results.items():
        p50, p99, n = r["p50_ms"], r["p99_ms"], r["statements"]
        print(f"{name:12} p50 {p50:.2f} ms  p99 {p99:.2f} ms  statements {n}")


if __name__ == "__main__":
    main()
