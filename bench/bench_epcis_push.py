"""EPCIS query subscriptions delivered (medtrace/ledger/epcis_push.py) on a bench database.

    .venv/bin/python bench/bench_epcis_push.py --db medtrace_bench_push [--subscriptions 1000]

In process, against a local HTTP callback (a thread answering 200 to every POST):

  backlog    a new subscription to every event of the ledger (initialRecordTime 2000): queue
             and deliver it all (500 events per document; each delivered full batch queues the
             next), as internal staff and as a hospital (partner-scoped and redacted)
  idle pass  --subscriptions stream subscriptions, one per pump (MATCH_epc), positioned now:
             the sweep's pass with nothing new, then after one event naming one pump
  capture    capture_event of one event, p50/p90, before any subscription exists and with those
             stream subscriptions (the capture's one EXISTS and its after-commit wake-up)

The plan of one subscription's batch query goes to results/explain_epcis_push_<db>.txt.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common import RESULTS, machine, now_iso, save, setup_django, summary_ms


class _Sink:
    def __init__(self) -> None:
        self.posts = 0
        self.bytes = 0
        self.lock = threading.Lock()


def _callback(sink: _Sink) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with sink.lock:
                sink.posts += 1
                sink.bytes += len(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}/cb"


def _drain() -> tuple[int, int]:
    """Queue and send until nothing is due; returns (documents queued, messages sent)."""
    from medtrace.alerts import outbox
    from medtrace.ledger import epcis_push

    queued = sent = 0
    while True:
        outcomes = epcis_push.push_due(streams=True, scheduled=False)
        queued += outcomes.get(epcis_push.SENT, 0)
        n = outbox.dispatch_due(budget_seconds=600)
        sent += n
        if not outcomes.get(epcis_push.SENT) and not n:
            return queued, sent


def _backlog(user: Any, dest: str, sink: _Sink, label: str) -> dict[str, Any]:
    from medtrace.alerts.models import OutboxMessage
    from medtrace.ledger.epcis_query_subscriptions import named_query_create, subscription_create

    name = f"bench-all-{'partner' if user is not None else 'internal'}-{time.time_ns()}"
    query = named_query_create(data={"name": name, "query": {}}, user=user)
    sub = subscription_create(
        query=query,
        data={"dest": dest, "stream": True, "initialRecordTime": "2000-01-01T00:00:00Z"},
        user=user,
    )
    before_posts, before_bytes = sink.posts, sink.bytes
    started = time.perf_counter()
    _drain()
    seconds = time.perf_counter() - started
    messages = OutboxMessage.objects.filter(key__startswith=f"epcis:{sub.pk}:")
    events = sum(m.payload["events"] for m in messages)
    sub.delete()
    return {
        "subscriber": label,
        "events": events,
        "documents": messages.count(),
        "posts": sink.posts - before_posts,
        "megabytes": round((sink.bytes - before_bytes) / 2**20, 1),
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
    }


def _capture_one(epc: str) -> float:
    from medtrace.ledger.services import capture_event

    event = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": "2026-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+08:00",
        "eventID": f"urn:uuid:{uuid.uuid4()}",
        "epcList": [epc],
        "action": "OBSERVE",
        "bizStep": "inspecting",
    }
    started = time.perf_counter()
    capture_event(data=event, user=None)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--captures", type=int, default=100)
    args = parser.parse_args()
    setup_django(args.db)

    from django.db import connection
    from django.utils import timezone

    from medtrace.accounts.models import User
    from medtrace.ledger import epcis_push
    from medtrace.ledger import epcis_query_subscriptions as subs
    from medtrace.ledger.models import Event, UnitState
    from medtrace.ledger.models_queries import NamedQuery, QuerySubscription

    result: dict[str, Any] = {
        "benchmark": "epcis_push",
        "db": args.db,
        "date": now_iso(),
        "machine": machine(),
        "events_in_store": Event.objects.count(),
    }
    sink = _Sink()
    server, dest = _callback(sink)
    try:
        hospital = User.objects.filter(party__isnull=False, party__role="hospital").first()
        result["backlog"] = [_backlog(None, dest, sink, "internal")]
        if hospital is not None:
            result["backlog"].append(_backlog(hospital, dest, sink, f"partner {hospital}"))

        # Capture of one event, no subscription at all (the backlogs deleted theirs).
        assert not QuerySubscription.objects.exists()
        some = list(UnitState.objects.values_list("epc", flat=True)[:100])
        without = [_capture_one(some[i % len(some)]) for i in range(args.captures)]

        pumps = list(
            UnitState.objects.filter(epc__startswith="urn:epc:id:sgtin:6901234.010001.P")
            .order_by("epc")
            .values_list("epc", flat=True)[: args.subscriptions]
        )
        now = timezone.now()
        queries = NamedQuery.objects.bulk_create(
            NamedQuery(name=f"bench-pump-{i}-{time.time_ns()}", query={"MATCH_epc": [epc]})
            for i, epc in enumerate(pumps)
        )
        QuerySubscription.objects.bulk_create(
            QuerySubscription(
                query=q, dest=dest, stream=True, initial_record_time=now, last_record_time=now
            )
            for q in queries
        )
        subs.SUBSCRIPTION_SETTLE = __import__("datetime").timedelta(0)  # one machine, one clock
        started = time.perf_counter()
        idle = epcis_push.push_due()
        idle_s = time.perf_counter() - started
        _capture_one(pumps[len(pumps) // 2])
        started = time.perf_counter()
        news = epcis_push.push_due()
        news_s = time.perf_counter() - started
        started = time.perf_counter()
        again = epcis_push.push_due()
        again_s = time.perf_counter() - started
        result["stream_pass"] = {
            "subscriptions": len(queries),
            "nothing_new": {"seconds": round(idle_s, 3), "outcomes": idle},
            "one_event_for_one_of_them": {"seconds": round(news_s, 3), "outcomes": news},
            "next_pass": {"seconds": round(again_s, 3), "outcomes": again},
        }

        # The plan of one subscription's batch query (recent cursor).
        sub = QuerySubscription.objects.select_related("query", "created_by").first()
        assert sub is not None
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            subs.subscription_batch(sub, cutoff=timezone.now())
        sql = max(ctx.captured_queries, key=lambda q: float(q["time"]))["sql"]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        (RESULTS / f"explain_epcis_push_{args.db}.txt").write_text(sql + "\n\n" + plan + "\n")

        # Capture of one event with the stream subscriptions (without: measured before them).
        with_subs = [_capture_one(pumps[i % len(pumps)]) for i in range(args.captures)]
        result["capture_event"] = {
            "with_stream_subscriptions": summary_ms(with_subs),
            "without": summary_ms(without),
        }
    finally:
        server.shutdown()
    path = save(f"epcis_push_{args.db}", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
