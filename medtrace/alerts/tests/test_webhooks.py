"""Webhook subscriptions, signatures and delivery to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from medtrace.alerts import webhooks
from medtrace.alerts.models import WebhookSubscription
from medtrace.alerts.tests.receiver import webhook_receiver
from medtrace.audit.models import AuditEntry
from medtrace.errors import PermissionDenied, ValidationFailed

BODY = b'{"event":"recall.notice","id":"RN-1"}'


# sign / verify ---------------------------------------------------------------------------------


def test_a_signature_verifies_under_its_secret_and_timestamp() -> None:
    now = int(time.time())
    signature = webhooks.sign("s3cret", now, BODY)

    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhooks.verify("s3cret", str(now), BODY, signature)


def test_a_tampered_body_a_wrong_secret_or_a_moved_timestamp_does_not_verify() -> None:
    now = int(time.time())
    signature = webhooks.sign("s3cret", now, BODY)

    assert not webhooks.verify("s3cret", now, BODY.replace(b"RN-1", b"RN-2"), signature)
    assert not webhooks.verify("other", now, BODY, signature)
    assert not webhooks.verify("s3cret", now - 1, BODY, signature)
    assert not webhooks.verify("s3cret", "not-a-number", BODY, signature)


def test_a_replayed_message_outside_the_tolerance_is_refused_even_with_a_valid_hmac() -> None:
    old = int(time.time()) - 301
    signature = webhooks.sign("s3cret", old, BODY)

    assert not webhooks.verify("s3cret", old, BODY, signature)
    assert webhooks.verify("s3cret", old, BODY, signature, tolerance=600)
    future = int(time.time()) + 301
    assert not webhooks.verify("s3cret", future, BODY, webhooks.sign("s3cret", future, BODY))


def test_a_header_with_two_signatures_verifies_under_either_secret() -> None:
    now = int(time.time())
    header = f"{webhooks.sign('new', now, BODY)}, {webhooks.sign('old', now, BODY)}"

    assert webhooks.verify("new", now, BODY, header)
    assert webhooks.verify("old", now, BODY, header)
    assert webhooks.verify(["x", "old"], now, BODY, header)
    assert not webhooks.verify("neither", now, BODY, header)


# Subscriptions ---------------------------------------------------------------------------------


@pytest.fixture
def partner(db: None) -> Any:
    from medtrace.masterdata.tests import factories as md

    return md.party(role="hospital", prefix="6920311", contact_email="recall@hospital.example")


def test_creating_a_subscription_returns_its_secret_once_and_stores_it_encrypted(
    admin_user: Any, partner: Any
) -> None:
    sub, secret = webhooks.webhook_subscription_create(
        url="https://hospital.example/hooks",
        event_types=["recall.notice"],
        party=partner,
        user=admin_user,
    )

    assert secret.startswith("whsec_") and len(secret) > 40
    assert WebhookSubscription.objects.get(pk=sub.pk).secret == secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM alerts_webhooksubscription WHERE id = %s", [sub.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and stored.startswith("v1:")
    entry = AuditEntry.objects.get(object_type="alerts.webhooksubscription", object_id=str(sub.pk))
    assert secret not in str(entry.changes) and entry.changes["secret"] == "***"


def test_only_the_administrator_creates_subscriptions(qa_manager: Any, partner: Any) -> None:
    with pytest.raises(PermissionDenied, match=r"alerts\.add_webhooksubscription"):
        webhooks.webhook_subscription_create(
            url="https://x.example/h", event_types=["*"], party=partner, user=qa_manager
        )


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"url": "ftp://x.example/h"}, "url", "expected an http or https URL"),
        ({"event_types": []}, "event_types", "at least one event"),
        ({"event_types": ["recall.notise"]}, "event_types", "unknown event 'recall.notise'"),
        ({"party": None}, "party_id", "or give system_name"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(
    admin_user: Any, partner: Any, kwargs: dict[str, Any], field: str, text: str
) -> None:
    data: dict[str, Any] = {
        "url": "https://x.example/h",
        "event_types": ["recall.notice"],
        "party": partner,
    }
    data.update(kwargs)

    with pytest.raises(ValidationFailed, match=re.escape(text)) as exc:
        webhooks.webhook_subscription_create(user=admin_user, **data)
    assert exc.value.field == field


def test_rotation_keeps_the_old_secret_valid_for_the_grace_period_then_only_the_new(
    admin_user: Any, partner: Any
) -> None:
    sub, old = webhooks.webhook_subscription_create(
        url="https://x.example/h", event_types=["*"], party=partner, user=admin_user
    )

    sub, new = webhooks.webhook_subscription_rotate(
        subscription=sub, user=admin_user, grace=timedelta(hours=2)
    )

    assert new != old
    assert webhooks.signing_secrets(sub) == [new, old]
    later = timezone.now() + timedelta(hours=3)
    assert webhooks.signing_secrets(sub, at=later) == [new]
    now = int(time.time())
    header = webhooks.signature_header(sub, now, BODY)
    assert webhooks.verify(old, now, BODY, header) and webhooks.verify(new, now, BODY, header)
    entry = AuditEntry.objects.filter(object_id=str(sub.pk), action="update").get()
    assert old not in str(entry.changes) and new not in str(entry.changes)
    assert entry.reason == "webhook secret rotated"


def test_rotation_without_grace_revokes_the_old_secret_at_once(
    admin_user: Any, partner: Any
) -> None:
    sub, _old = webhooks.webhook_subscription_create(
        url="https://x.example/h", event_types=["*"], party=partner, user=admin_user
    )

    sub, new = webhooks.webhook_subscription_rotate(
        subscription=sub, user=admin_user, grace=timedelta(0)
    )

    assert webhooks.signing_secrets(sub) == [new]


def test_subscriptions_for_a_party_and_event_are_the_active_ones_naming_it_or_every_event(
    admin_user: Any, partner: Any
) -> None:
    def make(events: list[str]) -> WebhookSubscription:
        return webhooks.webhook_subscription_create(
            url="https://x.example/h", event_types=events, party=partner, user=admin_user
        )[0]

    named, star = make(["recall.notice"]), make(["*"])
    off = make(["recall.notice"])
    WebhookSubscription.objects.filter(pk=off.pk).update(active=False)

    found = webhooks.subscriptions_for(party=partner, event="recall.notice")

    assert [s.pk for s in found] == [named.pk, star.pk]


# post ------------------------------------------------------------------------------------------


def _sub(admin_user: Any, partner: Any, url: str) -> tuple[WebhookSubscription, str]:
    return webhooks.webhook_subscription_create(
        url=url, event_types=["recall.notice"], party=partner, user=admin_user
    )


def test_a_post_reaches_the_receiver_signed_with_event_timestamp_and_idempotency_key(
    admin_user: Any, partner: Any
) -> None:
    with webhook_receiver() as receiver:
        sub, secret = _sub(admin_user, partner, receiver.url)
        receiver.secrets.append(secret)

        result = webhooks.post(
            subscription=sub,
            event="recall.notice",
            payload={"event": "recall.notice", "notice": "RN-1", "名称": "输液泵"},
            idempotency_key="RN-1:webhook:1",
        )

    assert result.ok and result.status_code == 200, result
    (got,) = receiver.requests
    assert got.verified
    assert got.headers[webhooks.EVENT_HEADER] == "recall.notice"
    assert got.headers[webhooks.IDEMPOTENCY_HEADER] == "RN-1:webhook:1"
    assert got.json == {"event": "recall.notice", "notice": "RN-1", "名称": "输液泵"}
    assert abs(int(got.headers[webhooks.TIMESTAMP_HEADER]) - time.time()) < 5


def test_a_receiver_refusing_the_signature_is_a_failed_result(
    admin_user: Any, partner: Any
) -> None:
    with webhook_receiver("not-the-secret") as receiver:
        sub, _secret = _sub(admin_user, partner, receiver.url)

        result = webhooks.post(
            subscription=sub, event="recall.notice", payload={"x": 1}, idempotency_key="k"
        )

    assert not result.ok and result.status_code == 401
    assert "bad signature" in result.detail


def test_an_unreachable_or_slow_receiver_is_a_failed_result_not_an_exception(
    admin_user: Any, partner: Any
) -> None:
    with webhook_receiver() as receiver:
        url = receiver.url
    sub, _secret = _sub(admin_user, partner, url)  # the server is gone

    result = webhooks.post(
        subscription=sub, event="recall.notice", payload={}, idempotency_key="k", timeout=2
    )

    assert not result.ok and result.status_code is None
    assert "no answer from" in result.detail

    with webhook_receiver() as slow:
        slow.delay = 1.5
        sub2, secret = _sub(admin_user, partner, slow.url)
        slow.secrets.append(secret)
        result = webhooks.post(
            subscription=sub2, event="recall.notice", payload={}, idempotency_key="k", timeout=0.5
        )
    assert not result.ok and "timed out" in result.detail


# API -------------------------------------------------------------------------------------------


def test_the_api_shows_the_secret_on_create_and_rotate_only(
    admin_user: Any, partner: Any, api_client: Any
) -> None:
    client = api_client(admin_user, scopes=["webhooks:manage"])

    created = client.post(
        "/api/v1/webhook-subscriptions",
        {"url": "https://x.example/h", "event_types": ["recall.notice"], "party_id": partner.pk},
        content_type="application/json",
    )
    listed = client.get("/api/v1/webhook-subscriptions")
    rotated = client.post(
        f"/api/v1/webhook-subscriptions/{created.json()['id']}/rotate",
        {"grace_hours": 0},
        content_type="application/json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["secret"].startswith("whsec_")
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert "secret" not in item and item["party_id"] == partner.pk
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (created.json()["secret"], "")
