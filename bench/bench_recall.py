"""Open a recall whose scope holds N units still in our warehouse (issue 6 item 4).

    ../.venv/bin/python bench_recall.py --db medtrace_bench_recall --units 10000 --trials 3

End to end, committed: ``recalls.services.recall_open(kind="lot")`` on a lot of N released units
in our finished-goods store, as QA: resolve the scope, walk the forward trace from the lot (one
recursive query), freeze N AffectedUnit rows, and place a recall hold on every unit in our
hands (Hold rows, one HOLDING ObjectEvent with the N EPCs through the ledger's capture path,
the audit chain) - all in one transaction. Each trial commissions a fresh lot of N units first
(not timed). Writes ``results/recall_<db>.json``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from typing import Any

from common import BIN, bench_env, machine, now_iso, save, setup_django


def _world() -> tuple[Any, Any, Any]:
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User
    from medtrace.masterdata.tests import factories as md

    maker = md.party(role="manufacturer", prefix="6901234", name="苏州康迈医疗科技 (bench)")
    store = md.location(owner=maker, kind="warehouse", ref=4, name="成品仓库")
    product = md.product(
        manufacturer=maker,
        name="输液泵",
        model="IP-300-RECALL",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 10002)}],
    )
    qa = User.objects.create_user("bench_qa", password="pw-bench-qa-long")
    qa.groups.add(Group.objects.get(name="qa_ra"))
    return product, store, qa


def _lot(product: Any, store: Any, lot: str, count: int) -> None:
    """N units of one lot commissioned into the store (one event), not timed."""
    from medtrace.lib.udi.epc import sgtin_urn
    from medtrace.lifecycle import events as ev

    di = product.identifiers.get(packaging_level="unit").di
    epcs = [sgtin_urn(di, f"{lot}S{n:07d}", 7) for n in range(count)]
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=epcs,
                biz_step="commissioning",
                disposition="active",
                biz_location=store.sgln,
                ilmd={"cbvmda:lotNumber": lot},
            )
        ],
        user=None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="medtrace_bench_recall")
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    subprocess.run(["dropdb", "--if-exists", args.db], check=True, capture_output=True)
    subprocess.run(["createdb", args.db], check=False, capture_output=True)
    subprocess.run(
        [str(BIN / "medtrace"), "migrate", "--noinput", "-v0"], env=bench_env(args.db), check=True
    )
    setup_django(args.db)
    from django.db import transaction

    from medtrace.quality.models import Hold
    from medtrace.recalls import services
    from medtrace.recalls.models import AffectedUnit

    product, store, qa = _world()
    di = product.identifiers.get(packaging_level="unit").di
    seconds: list[float] = []
    for trial in range(args.trials):
        lot = f"RL{trial:03d}"
        with transaction.atomic():
            _lot(product, store, lot, args.units)
        started = time.perf_counter()
        with transaction.atomic():
            campaign = services.recall_open(
                title=f"bench {lot}",
                reason="benchmark",
                kind="lot",
                params={"lot": f"(01){di}(10){lot}"},
                user=qa,
            )
        seconds.append(time.perf_counter() - started)
        held = Hold.objects.filter(kind="recall", source=campaign.number).count()
        frozen = AffectedUnit.objects.filter(campaign=campaign).count()
        assert frozen == args.units, (frozen, args.units)
        assert held == args.units, (held, args.units)
        print(f"trial {trial}: {seconds[-1]:.2f} s for {frozen} units, {held} held")
    result = {
        "benchmark": "recall_open",
        "when": now_iso(),
        "machine": machine(),
        "units": args.units,
        "trials_s": [round(s, 3) for s in seconds],
        "median_s": round(statistics.median(seconds), 3),
    }
    path = save(f"recall_{args.db}", result)
    print(f"median {result['median_s']} s -> {path}")


if __name__ == "__main__":
    main()
