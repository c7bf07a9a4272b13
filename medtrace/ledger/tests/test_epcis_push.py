"""EPCIS 2.0 query subscriptions delivered (epcis_push): pushed to a real local callback that
verifies the GS1-Signature, through the outbox, in order, with nothing skipped.

The settle margin is 0 here (``no_settle``): a test process is one clock, and events captured
a moment ago are then deliverable at once (the margin is covered in test_epcis_query_named).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from jsonschema import Draft7Validator, FormatChecker

from medtrace.alerts import outbox
from medtrace.alerts.models import OutboxMessage, OutboxStatus
from medtrace.ledger import epcis_push
from medtrace.ledger import epcis_query_subscriptions as subs
from medtrace.ledger.epcis_query_subscriptions import named_query_create, subscription_create
from medtrace.ledger.models_queries import NamedQuery, QuerySubscription
from medtrace.ledger.tests import builders as b

from .epcis_receiver import Receiver, epcis_receiver
from .test_epcis_query_support import CONFORMANCE, capture

pytestmark = pytest.mark.django_db

SHIPPING_ONLY = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]}
TOKEN = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
SCHEMA = Draft7Validator(
    json.loads((CONFORMANCE / "json-schema" / "EPCIS-JSON-Schema.json").read_text()),
    format_checker=FormatChecker(),
)


def eid(n: int) -> str:
    return f"urn:uuid:30000000-0000-4000-8000-{n:012d}"


def ship(n: int) -> dict[str, Any]:
    return b.observe([b.sgtin(str(n))], "2025-03-01T00:00:00Z", eventID=eid(n), bizStep="shipping")


def receive(n: int) -> dict[str, Any]:
    return b.observe([b.sgtin(str(n))], "2025-03-01T00:00:00Z", eventID=eid(n), bizStep="receiving")


@pytest.fixture(autouse=True)
def no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subs, "SUBSCRIPTION_SETTLE", timedelta(0))


@pytest.fixture
def shipped(qa_manager: Any) -> NamedQuery:
    return named_query_create(data={"name": "shipped", "query": SHIPPING_ONLY}, user=qa_manager)


def subscribe(query: NamedQuery, user: Any, receiver: Receiver, **fields: Any) -> QuerySubscription:
    data = {"dest": receiver.url, **fields}
    if receiver.token:
        data["signatureToken"] = receiver.token
    return subscription_create(query=query, data=data, user=user)


def push_and_send(now: datetime | None = None) -> dict[str, int]:
    outcomes = epcis_push.push_due(now=now)
    outbox.dispatch_due()
    return outcomes


def assert_valid(document: dict[str, Any]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in SCHEMA.iter_errors(document)]
    assert not errors, errors[:5]


def messages() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(handler="epcis_subscription").order_by("pk"))


# -- stream -------------------------------------------------------------------------------------


def test_a_stream_subscription_receives_the_matching_events_of_a_capture_once_it_commits(
    shipped: NamedQuery, qa_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with epcis_receiver(TOKEN) as receiver:
        capture(ship(1), user=qa_manager)  # before the subscription: not its business
        subscription = subscribe(shipped, qa_manager, receiver, stream=True)

        # The capture's commit wakes the stream delivery, which queues and sends at once
        # (the immediate task backend of the tests).
        with django_capture_on_commit_callbacks(execute=True):
            capture(ship(2), receive(3), ship(4), user=qa_manager)

    (push,) = receiver.pushes
    assert push.verified and push.status == 200
    assert push.event_ids == [eid(2), eid(4)]
    document = push.document
    assert document["type"] == "EPCISQueryDocument"
    assert document["epcisBody"]["queryResults"]["subscriptionID"] == str(subscription.pk)
    assert document["epcisBody"]["queryResults"]["queryName"] == "shipped"
    assert_valid(document)
    assert push.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert push.headers["GS1-CBV-Version"] == "2.0.0"
    assert push.headers["Content-Type"].startswith("application/json")
    (message,) = messages()
    assert push.key == message.key and message.status == OutboxStatus.DELIVERED
    assert message.key.startswith(f"epcis:{subscription.pk}:")
    subscription.refresh_from_db()
    assert subscription.last_notified_at is not None


def test_a_capture_wakes_stream_delivery_only_when_a_stream_subscription_exists(
    shipped: NamedQuery, qa_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        capture(ship(1), user=qa_manager)
    assert epcis_push.queue_streams not in callbacks

    QuerySubscription.objects.create(
        query=shipped,
        dest="https://c.example.com/cb",
        stream=True,
        initial_record_time=timezone.now(),
        last_record_time=timezone.now(),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        capture(ship(2), user=qa_manager)
    assert callbacks.count(epcis_push.queue_streams) == 1


def test_a_stream_subscription_never_sends_an_empty_document(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    with epcis_receiver() as receiver:
        subscribe(shipped, qa_manager, receiver, stream=True)
        capture(receive(1), user=qa_manager)  # new, but not a match

        assert push_and_send() == {epcis_push.MOVED: 1}

    assert receiver.pushes == [] and messages() == []


def test_a_backlog_goes_out_in_batches_in_order_without_waiting_for_the_sweep(
    shipped: NamedQuery, qa_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subs, "SUBSCRIPTION_BATCH", 2)
    with epcis_receiver() as receiver:
        subscribe(shipped, qa_manager, receiver, stream=True)
        capture(*[ship(n) for n in range(5)], user=qa_manager)

        # One pass queues the first batch; each delivered full batch queues the next.
        assert epcis_push.push_due() == {epcis_push.SENT: 1}
        assert outbox.dispatch_due() == 3

    assert [p.event_ids for p in receiver.pushes] == [
        [eid(0), eid(1)],
        [eid(2), eid(3)],
        [eid(4)],
    ]
    assert [m.payload["more"] for m in messages()] == [True, True, False]
    assert len({p.key for p in receiver.pushes}) == 3


def test_a_retraction_comes_again_declared_in_error_in_record_time_order(
    shipped: NamedQuery, qa_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subs, "SUBSCRIPTION_BATCH", 2)
    with epcis_receiver() as receiver:
        subscribe(shipped, qa_manager, receiver, stream=True)
        capture(ship(1), user=qa_manager)
        push_and_send()
        capture(ship(2), user=qa_manager)
        declared = {"declarationTime": "2025-03-02T00:00:00Z", "reason": "did_not_occur"}
        capture(dict(ship(1), errorDeclaration=declared), user=qa_manager)
        capture(ship(3), user=qa_manager)

        push_and_send()

    assert [p.event_ids for p in receiver.pushes] == [[eid(1)], [eid(2), eid(1)], [eid(3)]]
    again = receiver.pushes[1].document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert "errorDeclaration" not in again[0]
    assert again[1]["errorDeclaration"]["reason"] == "did_not_occur"
    assert_valid(receiver.pushes[1].document)


# -- scheduled ----------------------------------------------------------------------------------


def test_a_scheduled_subscription_runs_at_its_query_time_and_then_waits_for_the_next(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    with epcis_receiver(TOKEN) as receiver:
        # The REST binding's example: every morning at 1.05 (server time zone).
        subscription = subscribe(
            shipped, qa_manager, receiver, schedule={"hour": "1", "minute": "5"}
        )
        run_at = subscription.next_run_at
        assert run_at is not None
        local = run_at.astimezone(ZoneInfo("Asia/Shanghai"))
        assert (local.hour, local.minute, local.second) == (1, 5, 0)
        assert timedelta(0) < run_at - timezone.now() <= timedelta(days=1)
        capture(ship(1), receive(2), user=qa_manager)

        assert push_and_send(now=run_at - timedelta(seconds=1)) == {}
        assert receiver.pushes == []

        assert push_and_send(now=run_at) == {epcis_push.SENT: 1}

    (push,) = receiver.pushes
    assert push.verified and push.event_ids == [eid(1)]
    assert_valid(push.document)
    subscription.refresh_from_db()
    assert subscription.next_run_at == run_at + timedelta(days=1)


def test_report_if_empty_sends_an_empty_document_at_each_query_time_and_only_if_asked(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    with epcis_receiver() as receiver:
        schedule = {"second": "0", "minute": "0"}  # the top of every hour
        reporting = subscribe(shipped, qa_manager, receiver, schedule=schedule, reportIfEmpty=True)
        quiet = subscribe(shipped, qa_manager, receiver, schedule=schedule)
        run_at = reporting.next_run_at
        assert run_at is not None and run_at == quiet.next_run_at

        outcomes = push_and_send(now=run_at)
        outcomes_next_hour = push_and_send(now=run_at + timedelta(hours=1))

    assert outcomes == outcomes_next_hour == {epcis_push.SENT: 1, epcis_push.MOVED: 1}
    assert len(receiver.pushes) == 2
    for push in receiver.pushes:
        assert push.event_ids == []
        assert push.document["epcisBody"]["queryResults"]["subscriptionID"] == str(reporting.pk)
        assert_valid(push.document)
    assert len({p.key for p in receiver.pushes}) == 2  # one message per query time


def test_a_scheduled_run_with_events_sends_them_even_without_report_if_empty(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    with epcis_receiver() as receiver:
        subscription = subscribe(shipped, qa_manager, receiver, schedule={"minute": "[0-59]"})
        capture(ship(1), user=qa_manager)
        assert subscription.next_run_at is not None

        push_and_send(now=subscription.next_run_at)

    assert [p.event_ids for p in receiver.pushes] == [[eid(1)]]


# -- failures -----------------------------------------------------------------------------------


def test_a_failing_receiver_gets_the_same_document_again_with_the_same_key_and_nothing_is_skipped(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    with epcis_receiver(TOKEN) as receiver:
        subscribe(shipped, qa_manager, receiver, stream=True)
        capture(ship(1), user=qa_manager)
        receiver.status = 503

        push_and_send()
        (message,) = messages()
        message.refresh_from_db()
        assert message.status == OutboxStatus.PENDING and message.attempts == 1
        assert "HTTP 503" in message.last_error

        # Meanwhile more events: they wait behind the undelivered document.
        capture(ship(2), user=qa_manager)
        assert epcis_push.push_due() == {}  # blocked: not even tried
        assert len(messages()) == 1

        # The receiver recovers; the retry falls due.
        receiver.status = 200
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        push_and_send()  # the retry goes out; the next batch follows it
        push_and_send()

    first, retry, second = receiver.pushes
    assert (first.status, retry.status, second.status) == (503, 200, 200)
    assert retry.body == first.body and retry.key == first.key  # byte for byte, same key
    assert all(p.verified for p in receiver.pushes)
    assert receiver.event_ids() == [eid(1), eid(2)]


def test_a_dead_letter_holds_the_subscription_until_an_administrator_replays_it(
    shipped: NamedQuery, qa_manager: Any, admin_user: Any, settings: Any
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 1
    with epcis_receiver() as receiver:
        subscribe(shipped, qa_manager, receiver, stream=True)
        capture(ship(1), user=qa_manager)
        receiver.status = 500
        push_and_send()
        (message,) = messages()
        message.refresh_from_db()
        assert message.status == OutboxStatus.DEAD

        capture(ship(2), user=qa_manager)
        assert push_and_send() == {}  # held: a gap would lose ship(1) for this subscriber

        receiver.status = 200
        outbox.replay(message.pk, user=admin_user, reason="callback fixed")
        outbox.dispatch_due()
        push_and_send()

    assert receiver.event_ids() == [eid(1), eid(2)]


def test_a_413_answer_sends_the_document_again_in_smaller_parts(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    with epcis_receiver() as receiver:
        receiver.max_events = 1
        subscribe(shipped, qa_manager, receiver, stream=True)
        capture(ship(1), ship(2), ship(3), user=qa_manager)

        push_and_send()

    (message,) = messages()
    message.refresh_from_db()
    assert message.status == OutboxStatus.DELIVERED
    assert [p.status for p in receiver.pushes] == [413, 200, 413, 200, 200]
    parts = receiver.accepted()
    assert [p.key for p in parts] == [f"{message.key}#{r}" for r in ("0-1", "1-2", "2-3")]
    assert receiver.event_ids() == [eid(1), eid(2), eid(3)]
    for part in parts:
        assert_valid(part.document)


def test_a_document_for_a_deleted_subscription_is_not_sent(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    with epcis_receiver() as receiver:
        subscription = subscribe(shipped, qa_manager, receiver, stream=True)
        capture(ship(1), user=qa_manager)
        epcis_push.push_due()
        subs.subscription_delete(subscription=subscription, user=qa_manager)

        outbox.dispatch_due()

    (message,) = messages()
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD and "unsubscribed" in message.last_error
    assert receiver.pushes == []


def test_a_deactivated_subscriber_receives_nothing_more(hospital_a: Any) -> None:
    query = named_query_create(data={"name": "a-all", "query": {}}, user=hospital_a)
    with epcis_receiver() as receiver:
        subscribe(query, hospital_a, receiver, stream=True)
        hospital_a.is_active = False
        hospital_a.save(update_fields=["is_active"])
        capture(ship(1))

        assert push_and_send() == {epcis_push.INACTIVE_OWNER: 1}

    assert receiver.pushes == []


def test_a_subscription_position_never_moves_back_for_a_future_initial_record_time(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    future = timezone.now() + timedelta(days=1)
    with epcis_receiver() as receiver:
        subscription = subscribe(
            shipped, qa_manager, receiver, stream=True, initialRecordTime=future.isoformat()
        )
        capture(ship(1), user=qa_manager)

        push_and_send()

    subscription.refresh_from_db()
    assert subscription.last_record_time == future and receiver.pushes == []


# -- the README's receiver ----------------------------------------------------------------------


def _readme_accept() -> Any:
    text = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### EPCIS query subscriptions") :]
    section = section[: section.index("\n### ")]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    namespace: dict[str, Any] = {"__name__": "readme_epcis_receiver"}
    exec(compile(block, "README.md", "exec"), namespace)
    return namespace["accept"]


def test_the_readme_receiver_accepts_a_real_push_once_and_refuses_a_tampered_one(
    shipped: NamedQuery, qa_manager: Any
) -> None:
    accept = _readme_accept()
    with epcis_receiver(TOKEN) as receiver:
        subscribe(shipped, qa_manager, receiver, stream=True)
        capture(ship(1), user=qa_manager)
        push_and_send()
    (push,) = receiver.pushes
    seen: set[str] = set()

    assert accept(TOKEN, push.body, push.headers, seen) is True
    assert accept(TOKEN, push.body, push.headers, seen) is True  # a retry: no second processing
    assert seen == {push.key}
    assert accept(TOKEN, push.body.replace(b"shipping", b"receiving"), push.headers, seen) is False
    assert accept("another token", push.body, push.headers, seen) is False
