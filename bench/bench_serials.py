"""Serial allocation: N serials for one product in one call (issue 5: commissioning 10,000
serials in one work order takes 2 s or less; allocation is its first step).

    ../.venv/bin/python bench_serials.py --db medtrace_bench_serials --count 10000 --trials 5

Creates the database if needed (migrate), a serial-tracked product with a rule, then times
``serials_allocate`` in process, each trial in a transaction that is rolled back so every trial
allocates the same serials into an empty table. Writes results/serials_<db>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

from common import BIN, RESULTS, bench_env, machine, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="medtrace_bench_serials")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    subprocess.run(["createdb", args.db], check=False, capture_output=True)
    subprocess.run(
        [str(BIN / "medtrace"), "migrate", "--noinput", "-v0"], env=bench_env(args.db), check=True
    )
    setup_django(args.db)
    from django.db import transaction

    from medtrace.masterdata.tests import factories as md
    from medtrace.production import services

    times = []
    for _ in range(args.trials):
        with transaction.atomic():
            product = md.product(tracking="serial")
            services.serial_rule_set(
                product=product,
                data={"prefix": "B", "date_part": "YYMMDD", "sequence_width": 6},
                user=None,
                reason="bench",
            )
            began = time.perf_counter()
            serials = services.serials_allocate(product=product, count=args.count, user=None)
            times.append((time.perf_counter() - began) * 1000)
            assert len(set(serials)) == args.count
            transaction.set_rollback(True)
    result = {
        "db": args.db,
        "count": args.count,
        "ms": [round(t, 1) for t in times],
        "median_ms": round(statistics.median(times), 1),
        "machine": machine(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"serials_{args.db}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
