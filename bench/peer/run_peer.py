"""Run inside the peer venv: capture an EPCIS 1.2 XML file with quartet-epcis, look up EPCs.

    cd bench/peer && QUARTET_DB=quartet_bench PYTHONPATH=. DJANGO_SETTINGS_MODULE=settings \
        /tmp/peer-venv/bin/python run_peer.py FILE.xml EPC[,EPC...] [--parser quartet|business]

Prints one JSON object: events stored, capture seconds, events/s, and the p50/p99 of
EPCISDBProxy().get_events_by_epc(epc) (the store's own "history of one EPC" call).
"""

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django

django.setup()

from quartet_epcis.db_api.queries import EPCISDBProxy  # noqa: E402
from quartet_epcis.models import events  # noqa: E402
from quartet_epcis.parsing.business_parser import BusinessEPCISParser  # noqa: E402
from quartet_epcis.parsing.parser import QuartetParser  # noqa: E402


def pct(values, q):
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def main():
    path, epcs = sys.argv[1], sys.argv[2].split(",")
    kind = sys.argv[sys.argv.index("--parser") + 1] if "--parser" in sys.argv else "quartet"
    before = events.Event.objects.count()
    cls = BusinessEPCISParser if kind == "business" else QuartetParser
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        cls(f).parse()
    took = time.perf_counter() - t0
    stored = events.Event.objects.count() - before
    proxy = EPCISDBProxy()
    lat, found = [], []
    for rnd in range(3):
        for epc in epcs:
            t = time.perf_counter()
            got = proxy.get_events_by_epc(epc)
            if rnd:  # first round warms up
                lat.append(time.perf_counter() - t)
            found.append(len(got))
    print(
        json.dumps(
            {
                "parser": cls.__name__,
                "events_stored": stored,
                "capture_s": round(took, 2),
                "events_per_s": round(stored / took),
                "lookups": len(lat),
                "events_per_lookup": round(sum(found) / len(found), 1),
                "lookup_p50_ms": round(pct(lat, 50) * 1000, 2),
                "lookup_p99_ms": round(pct(lat, 99) * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
