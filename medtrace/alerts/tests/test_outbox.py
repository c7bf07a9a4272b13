"""The outbox: written with the change, sent after it, retried, dead-lettered and replayed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from medtrace.alerts import outbox, webhooks
from medtrace.alerts.models import (
    Alert,
    OutboxAttempt,
    OutboxMessage,
    OutboxStatus,
    WebhookSubscription,
)
from medtrace.alerts.tests.receiver import webhook_receiver
from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db


def _subscription(
    url: str, events: list[str], party: Any = None
) -> tuple[WebhookSubscription, str]:
    secret = webhooks.new_secret()
    sub = WebhookSubscription.objects.create(
        url=url, secret=secret, event_types=events, party=party, system_name="" if party else "QMS"
    )
    return sub, secret


def test_a_message_rolled_back_with_its_change_is_never_sent() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.emit("email", event_type="t.test", payload={"to": ["a@example.com"]})
        raise RuntimeError("the change failed")

    assert not OutboxMessage.objects.exists()


def test_an_unknown_handler_and_a_duplicate_key_are_refused() -> None:
    with pytest.raises(ValueError, match="no outbox handler named 'fax'"):
        outbox.emit("fax", event_type="t.test", payload={})
    outbox.emit("email", event_type="t.test", payload={}, key="k-1")
    with pytest.raises(Conflict, match="k-1"):
        outbox.emit("email", event_type="t.test", payload={}, key="k-1")


def test_publish_reaches_our_systems_and_only_the_partners_concerned(
    django_capture_on_commit_callbacks: Any, hospital_a: Any, hospital_b: Any
) -> None:
    with webhook_receiver() as receiver:
        ours, s1 = _subscription(receiver.url, ["shipment.shipped"])
        theirs, s2 = _subscription(receiver.url, ["*"], party=hospital_a.party)
        other, s3 = _subscription(receiver.url, ["*"], party=hospital_b.party)
        _subscription(receiver.url, ["recall.notice"])  # another event type
        receiver.secrets = [s1, s2, s3]

        with django_capture_on_commit_callbacks(execute=True):
            messages = outbox.publish(
                "shipment.shipped", {"shipment": "SH-1"}, parties=[hospital_a.party]
            )

    assert {m.payload["subscription_id"] for m in messages} == {ours.pk, theirs.pk}
    assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED).count() == 2
    assert len(receiver.accepted()) == 2
    keys = {r.headers[webhooks.IDEMPOTENCY_HEADER] for r in receiver.accepted()}
    assert keys == {m.key for m in messages}
    body = receiver.accepted()[0].json
    assert body["event"] == "shipment.shipped" and body["shipment"] == "SH-1"
    assert other.pk not in {m.payload["subscription_id"] for m in messages}


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered_and_replayed(
    settings: Any, admin_user: Any, qa_manager: Any
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 3
    with webhook_receiver() as receiver:
        _, secret = _subscription(receiver.url, ["*"])
        receiver.secrets = [secret]
        receiver.status = 503
        (message,) = outbox.publish("shipment.shipped", {"shipment": "SH-2"})

        assert outbox.dispatch_due() == 1
        message.refresh_from_db()
        assert message.status == OutboxStatus.PENDING and message.attempts == 1
        assert "HTTP 503" in message.last_error
        wait = message.next_attempt_at - timezone.now()
        assert timedelta(seconds=20) < wait < timedelta(seconds=40)  # 30 s ± 20 %
        assert outbox.dispatch_due() == 0  # not due yet

        for _ in range(2):
            OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
            outbox.dispatch_due()
        message.refresh_from_db()
        assert message.status == OutboxStatus.DEAD and message.attempts == 3
        attempts = list(OutboxAttempt.objects.filter(message=message))
        assert [a.number for a in attempts] == [1, 2, 3]
        assert all(a.ok is False and a.finished_at for a in attempts)
        alert = Alert.objects.get(kind="outbox_dead_letter")
        assert alert.recipient_role == "admin" and alert.object_id == str(message.pk)

        with pytest.raises(PermissionDenied):
            outbox.replay(message.pk, user=qa_manager, reason="receiver fixed")
        with pytest.raises(ValidationFailed, match="why"):
            outbox.replay(message.pk, user=admin_user, reason=" ")
        receiver.status = 200
        outbox.replay(message.pk, user=admin_user, reason="receiver fixed")
        assert outbox.dispatch_due() == 1

    message.refresh_from_db()
    assert message.status == OutboxStatus.DELIVERED and message.attempts == 4
    assert AuditEntry.objects.filter(object_id=str(message.pk), reason="receiver fixed").exists()
    # Every attempt carried the same idempotency key.
    assert {r.headers[webhooks.IDEMPOTENCY_HEADER] for r in receiver.requests} == {message.key}
    with pytest.raises(Conflict):
        outbox.emit("email", event_type="x", payload={}, key=message.key)


def test_a_removed_subscription_ends_the_message_at_once() -> None:
    sub, _ = _subscription("http://127.0.0.1:9/hook", ["*"])
    (message,) = outbox.publish("shipment.shipped", {"shipment": "SH-3"})
    WebhookSubscription.objects.filter(pk=sub.pk).update(active=False)

    outbox.dispatch_due()

    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD and message.attempts == 1
    assert "removed or deactivated" in message.last_error


def test_an_expired_lease_lets_another_worker_take_the_message_over() -> None:
    (message,) = [outbox.emit("email", event_type="t.test", payload={"to": ["x@example.com"]})]
    first = outbox.claim("worker-a")
    assert first is not None and outbox.claim("worker-b") is None  # leased

    later = timezone.now() + timedelta(hours=1)
    second = outbox.claim("worker-b", now=later)
    assert second is not None and second.message.pk == message.pk
    outbox.deliver(second)
    outbox.deliver(first)  # the first worker finishes late: its outcome does not count twice

    message.refresh_from_db()
    assert message.status == OutboxStatus.DELIVERED and message.worker_id == "worker-b"
    assert OutboxAttempt.objects.filter(message=message).count() == 2
