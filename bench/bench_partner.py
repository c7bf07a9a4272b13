"""Partner-scoped reads (DESIGN §9, medtrace/accounts/scoping.py) against internal ones.

    .venv/bin/python bench/bench_partner.py --db medtrace_bench_10k [--requests 20]
        [--partner hospital_a] [--internal admin]

In process through Django's test Client (middleware, bearer-token auth, scoping, JSON), the
same requests as a partner user (a hospital's staff: ``user.party`` set, so every query is
limited to the party's custody) and as an internal user (no party, nothing added):

  EPCIS   GET /epcis/events?perPage=100
  unit    GET /api/v1/units/{epc}/timeline of a pump the partner's hospital received

Each: 3 warm-up requests, then --requests timed ones (p50/p90/max), the statements of one
request (CaptureQueriesContext: count and SQL time) and the answer size (events returned).
The plan of the partner EPCIS request's slowest statement goes to
results/explain_partner_events_<db>.txt. Tokens come from `medtrace create_token <user>` with
the scopes the endpoints need.
"""

from __future__ import annotations

import argparse
import json
import time
from urllib.parse import quote

from common import RESULTS, create_token, machine, now_iso, save, setup_django, summary_ms


def _pump_of(username: str) -> str:
    """A pump (finished unit) in the custody of ``username``'s party, received by it."""
    from medtrace.accounts import scoping
    from medtrace.accounts.models import User
    from medtrace.ledger.models import UnitCustody

    user = User.objects.get(username=username)
    ids = scoping.partner_ids(user)
    assert ids, f"{username} is not a partner user"
    epc = (
        UnitCustody.objects.filter(
            party__in=ids, epc__startswith="urn:epc:id:sgtin:6901234.010001.P"
        )
        .order_by("epc")
        .values_list("epc", flat=True)
        .first()
    )
    assert epc, f"no pump in the custody of {user.party}"
    return epc


def _measure(client, path: str, token: str, n: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(3):
        resp = client.get(path, **headers)
        assert resp.status_code == 200, (path, resp.status_code, resp.content[:300])
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(path, **headers)
        lat.append(time.perf_counter() - t)
        assert resp.status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(path, **headers)
    body = json.loads(resp.content)
    if "eventList" in body:
        returned = len(body["eventList"])
    elif "epcisBody" in body:
        returned = len(body["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
    elif "events" in body:
        returned = len(body["events"])
    else:
        returned = None
    slowest = max(ctx.captured_queries, key=lambda q: float(q["time"]))
    return {
        "lat_s": lat,
        "slowest_sql": slowest["sql"],
        "slowest_sql_ms": round(float(slowest["time"]) * 1000, 2),
        "queries": len(ctx.captured_queries),
        "sql_ms": round(sum(float(q["time"]) for q in ctx.captured_queries) * 1000, 2),
        "sql": [q["sql"][:400] for q in ctx.captured_queries],
        "events_returned": returned,
        "bytes": len(resp.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--partner", default="hospital_a")
    parser.add_argument("--internal", default="admin")
    args = parser.parse_args()
    setup_django(args.db)
    from django.test import Client

    from medtrace.accounts.models import User

    partner = User.objects.get(username=args.partner)
    epc = _pump_of(args.partner)
    scopes = ["epcis:query", "trace:read"]
    tokens = {
        "partner": create_token(args.db, scopes, user=args.partner),
        "internal": create_token(args.db, scopes, user=args.internal),
    }
    paths = {
        "epcis_events": "/epcis/events?perPage=100",
        "unit_timeline": f"/api/v1/units/{quote(epc, safe='')}/timeline",
    }
    result = {
        "command": f"bench/bench_partner.py --db {args.db} --requests {args.requests}"
        f" --partner {args.partner} --internal {args.internal}",
        "date": now_iso(),
        "machine": machine(),
        "partner": {"user": args.partner, "party": str(partner.party)},
        "internal": args.internal,
        "unit": epc,
        "paths": paths,
    }
    client = Client()
    # alternate who goes first so neither always reads the colder cache
    for name, path in paths.items():
        for who in ("internal", "partner", "internal", "partner"):
            r = _measure(client, path, tokens[who], args.requests // 2)
            result.setdefault(name, {}).setdefault(who, []).append(r)
        for who in ("internal", "partner"):
            runs = result[name][who]
            lat = [x for r in runs for x in r.pop("lat_s")]
            out = {**summary_ms(lat), **runs[-1]}
            result[name][who] = out
            print(
                f"{name:14} {who:8} p50 {out['p50_ms']} p90 {out['p90_ms']} ms (n={out['n']}), "
                f"{out['queries']} queries ({out['sql_ms']} ms SQL), "
                f"{out['events_returned']} events, {out['bytes']} bytes",
                flush=True,
            )
    # the plan of the partner EPCIS query's slowest statement (the scoped event list)
    from django.db import connection

    sql = result["epcis_events"]["partner"].pop("slowest_sql")
    with connection.cursor() as c:
        c.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(r[0] for r in c.fetchall())
    (RESULTS / f"explain_partner_events_{args.db}.txt").write_text(
        f"GET /epcis/events?perPage=100 as {args.partner}: its slowest statement\n\n"
        f"{sql}\n\n{plan}\n"
    )
    for name in paths:
        for who in ("internal", "partner"):
            result[name][who].pop("slowest_sql", None)
    print("end", machine(), flush=True)
    result["load_at_end"] = machine()
    save(f"partner_reads_{args.db}", result)


if __name__ == "__main__":
    main()
