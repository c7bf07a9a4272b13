"""Run `load_demo` (the code behind `medtrace demo --units N`) with a different generator Plan.

Used by dataset.py for variant datasets, e.g. one MCU lot feeding 100k pumps for the
forward-trace target. Only the lot sizes change; master data, events and the capture path
(`capture_document`, one transaction per work order) are exactly those of `medtrace demo`.
"""

from __future__ import annotations

import functools
import os
import sys
import time


def main() -> None:
    units = int(sys.argv[1])
    overrides = dict(arg.split("=", 1) for arg in sys.argv[2:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medtrace.settings")
    import django

    django.setup()
    from medtrace.ledger import generator
    from medtrace.masterdata.demo.load import load_demo

    generator.Plan = functools.partial(  # type: ignore[misc]
        generator.Plan, **{k: int(v) for k, v in overrides.items()}
    )
    started = time.perf_counter()
    summary = load_demo(units=units, log=lambda m: print(m, flush=True))
    print(f"Demo loaded: {summary.created} in {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
