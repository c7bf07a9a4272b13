"""Commission 10,000 serials in one work order (issue 5 item 2, DESIGN §10: ≤ 2 s).

    ../.venv/bin/python bench_commission.py --db medtrace_bench_commission --count 10000 --trials 5

End to end, committed: ``production.services_orders.work_order_commission(count=N)`` on a
released work order, as a user of the production role, which in ONE transaction allocates N
serials (serial rule, COPY), asks the unit state machine (rules.check COMMISSION), captures ONE
EPCIS ObjectEvent ADD with all N EPCs through the ledger's capture path (event row, EventEpc
index rows, UnitState and UnitCustody projections, ledger seal, audit chain), writes the
commissioning row and updates the work order — and COMMITS (the deferred foreign-key checks
of every row run at commit, so a rolled-back trial would flatter the figure). Each trial is a
fresh work order of the same product; the serials run on (the bench database keeps them).

Then ``--api`` trials do the same through ``POST /api/v1/work-orders/{id}/commission`` with
Django's test Client in process (ninja, token auth, JSON of the 10,000 serials). ``--phases``
times the main phases of one extra trial (wrappers in this process only).

Drops and recreates the database first (``--keep`` to reuse it). Writes
``results/commission_<db>.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from common import BIN, bench_env, machine, now_iso, save, setup_django


def _world() -> tuple[Any, Any, Any]:
    """Maker, product with serial rule, line, released BOM; a production user."""
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User
    from medtrace.masterdata import services as md_services
    from medtrace.masterdata.tests import factories as md
    from medtrace.production import services

    maker = md.party(role="manufacturer", prefix="6901234", name="苏州康迈医疗科技 (bench)")
    site = md.location(owner=maker, kind="site", ref=1, name="苏州工厂")
    line = md.location(
        owner=maker, kind="production_line", ref=6, name="输液泵装配线", parent_id=site.pk
    )
    product = md.product(
        manufacturer=maker,
        name="输液泵",
        model="IP-300-BENCH",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 10001)}],
    )
    motor = md.material(tracking="serial", name="24V 步进电机", critical=True)
    bom = md.bom(product_=product, lines=[(motor, "1")])
    md_services.bom_release(bom=bom, user=None)
    services.serial_rule_set(
        product=product,
        data={"prefix": "IP", "date_part": "YYMMDD", "sequence_width": 7},
        user=None,
        reason="bench",
    )
    user = User.objects.create_user(
        username="bench_production", password="pw-bench", printed_name="张生产 (bench)"
    )
    user.groups.add(Group.objects.get(name="production"))
    return product, line, user


def _order(product: Any, line: Any, count: int) -> Any:
    from medtrace.production import services_orders as orders

    order = orders.work_order_create(
        data={"product_id": product.pk, "quantity": count, "line_id": line.pk}, user=None
    )
    return orders.work_order_release(work_order=order, user=None)


def _check(order: Any, count: int) -> None:
    from medtrace.ledger.models import EventEpc, UnitState
    from medtrace.production.models import WorkOrderCommissioning

    order.refresh_from_db()
    assert order.commissioned_qty == count, order.commissioned_qty
    runs = list(WorkOrderCommissioning.objects.filter(work_order=order))
    assert len(runs) == 1 and runs[0].count == count
    epcs = EventEpc.objects.filter(event_id=runs[0].event_id, role="epc")
    assert epcs.count() == count
    assert UnitState.objects.filter(epc__in=epcs.values("epc"), disposition="active").count() == (
        count
    )


def _timers() -> tuple[dict[str, float], Callable[[], None]]:
    """Wrap the main phases with timers (this process only); returns (totals, undo)."""
    from medtrace.audit import services as audit
    from medtrace.ledger import projections
    from medtrace.ledger import services as ledger
    from medtrace.lifecycle import events, rules
    from medtrace.production import services, services_orders

    totals: dict[str, float] = defaultdict(float)
    undo: list[Callable[[], None]] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - began

        setattr(owner, name, timed)
        undo.append(lambda: setattr(owner, name, original))

    wrap(services_orders, "serials_allocate", "allocate serials (COPY)")
    wrap(services, "serials_allocate", "allocate serials (COPY) [inner]")
    wrap(rules, "check", "rules.check COMMISSION")
    wrap(events, "emit", "ledger capture (emit), all")
    wrap(ledger, "_parse", "  parse + validate the EPCIS document")
    wrap(ledger, "_write", "  Event + EventEpc rows (COPY)")
    wrap(projections.Projector, "load", "  projection: load states/edges")
    wrap(projections.Projector, "apply_all", "  projection: apply")
    wrap(projections, "_upsert_states", "  projection: UnitState upsert")
    wrap(projections, "_add_custody", "  projection: UnitCustody")
    wrap(ledger, "_seal_job", "  ledger seal (audit)")
    wrap(audit, "record", "audit entries (all)")

    def restore() -> None:
        for step in reversed(undo):
            step()

    return totals, restore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="medtrace_bench_commission")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--api", type=int, default=3, help="trials through the HTTP API")
    parser.add_argument("--phases", action="store_true", help="time the phases of one trial")
    parser.add_argument("--keep", action="store_true", help="reuse the database")
    args = parser.parse_args()
    if not args.keep:
        subprocess.run(["dropdb", "--if-exists", args.db], check=True, capture_output=True)
    subprocess.run(["createdb", args.db], check=False, capture_output=True)
    subprocess.run(
        [str(BIN / "medtrace"), "migrate", "--noinput", "-v0"], env=bench_env(args.db), check=True
    )
    setup_django(args.db)
    from django.db import connection, transaction
    from django.test import Client

    from medtrace.accounts.services import token_create
    from medtrace.production import services_orders as orders

    started = now_iso()
    product, line, user = _world()
    service_ms: list[float] = []
    for _ in range(args.trials):
        order = _order(product, line, args.count)
        began = time.perf_counter()
        done = orders.work_order_commission(work_order=order, count=args.count, user=user)
        service_ms.append((time.perf_counter() - began) * 1000)  # committed: autocommit mode
        assert connection.get_autocommit()
        _check(order, args.count)
        assert len(set(done.serials)) == args.count

    api_ms: list[float] = []
    if args.api:
        _token, raw = token_create(user=user, scopes=["production:write", "lifecycle:read"])
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        body = json.dumps({"count": args.count})
        for _ in range(args.api):
            order = _order(product, line, args.count)
            began = time.perf_counter()
            response = client.post(
                f"/api/v1/work-orders/{order.pk}/commission", body, content_type="application/json"
            )
            api_ms.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 201, response.content[:500]
            assert response.json()["count"] == args.count
            _check(order, args.count)

    phases: dict[str, float] = {}
    if args.phases:
        totals, restore = _timers()
        order = _order(product, line, args.count)
        began = time.perf_counter()
        with transaction.atomic():  # the outermost block: its exit is the COMMIT
            orders.work_order_commission(work_order=order, count=args.count, user=user)
            before_commit = time.perf_counter()
        total = time.perf_counter() - began
        restore()
        phases = {k: round(v * 1000, 1) for k, v in totals.items()}
        phases["COMMIT (deferred foreign-key checks, WAL flush)"] = round(
            (began + total - before_commit) * 1000, 1
        )
        phases["TOTAL with timers (incl. commit)"] = round(total * 1000, 1)

    result = {
        "benchmark": "commission one work order",
        "command": (
            f"../.venv/bin/python bench_commission.py --db {args.db} --count {args.count} "
            f"--trials {args.trials} --api {args.api}" + (" --phases" if args.phases else "")
        ),
        "started": started,
        "db": args.db,
        "count": args.count,
        "service_ms": [round(t, 1) for t in service_ms],
        "service_median_ms": round(statistics.median(service_ms), 1) if service_ms else None,
        "api_ms": [round(t, 1) for t in api_ms],
        "api_median_ms": round(statistics.median(api_ms), 1) if api_ms else None,
        "phases_ms": phases,
        "target_ms": 2000,
        "machine": machine(),
    }
    path = save(f"commission_{args.db}", result)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
