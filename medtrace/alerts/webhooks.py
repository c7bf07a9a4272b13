"""Signed webhooks: subscriptions, signing and verifying, and one POST.

Every delivery is a JSON POST with these headers:

- ``X-Medtrace-Event``: the event type, e.g. ``recall.notice``;
- ``X-Medtrace-Timestamp``: Unix seconds when it was signed;
- ``X-Medtrace-Signature``: ``sha256=<hex>``, the HMAC-SHA256 under the subscription's secret of
  ``"<timestamp>.<body>"`` (the exact bytes sent). While a rotated-out secret is still valid the
  header carries one signature per secret, comma-separated, so a receiver that has not switched
  yet still verifies;
- ``Idempotency-Key``: the same for every retry of the same delivery, so a receiver that
  processed an attempt whose answer was lost can drop the retry.

The timestamp is signed with the body: a receiver refuses a message older than its tolerance
(``verify``, 5 minutes by default), so a captured request cannot be replayed later.

``post`` is plain I/O with no database writes, so a caller may run it after its transaction
commits, or a worker may run it from an outbox row (issue 7).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Party

from .models import WebhookSubscription

SIGNATURE_HEADER = "X-Medtrace-Signature"
TIMESTAMP_HEADER = "X-Medtrace-Timestamp"
EVENT_HEADER = "X-Medtrace-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE = 300  # seconds either side of the receiver's clock
ROTATION_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=30)
SECRET_PREFIX = "whsec_"
# The events a subscription may name; "*" is every event, present and future.
EVENT_TYPES = ("recall.notice", "alert.raised", "shipment.shipped", "shipment.received")
ANY_EVENT = "*"


# Signing ---------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 under ``secret`` of ``b"<timestamp>." + body``."""
    message = f"{timestamp}.".encode("ascii") + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str | Iterable[str],
    timestamp: int | str,
    body: bytes,
    signature: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` (one ``sha256=<hex>`` or several, comma-separated) signs ``body``
    at ``timestamp`` under ``secret`` (or one of several secrets), and ``timestamp`` lies within
    ``tolerance`` seconds of ``now``. A stale or future timestamp is refused even when the HMAC
    matches: that is what stops a replay."""
    try:
        stamp = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        return False
    keys = [secret] if isinstance(secret, str) else list(secret)
    given = [s.strip() for s in signature.split(",") if s.strip()]
    expected = [sign(key, stamp, body) for key in keys if key]
    # compare_digest for every pair: the time taken does not tell which prefix matched.
    return any(hmac.compare_digest(g, e) for g in given for e in expected)


def signing_secrets(subscription: WebhookSubscription, *, at: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one while
    its grace period lasts."""
    at = at or timezone.now()
    out = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and expires > at:
        out.append(subscription.previous_secret)
    return out


def signature_header(
    subscription: WebhookSubscription, timestamp: int, body: bytes, *, at: datetime | None = None
) -> str:
    return ", ".join(sign(s, timestamp, body) for s in signing_secrets(subscription, at=at))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# Subscriptions ---------------------------------------------------------------------------------


def _require(user: User, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(
            f"Managing webhook subscriptions needs the permission {permission} "
            "(the administrator's role)",
            details={"required_permission": permission},
        )


def _url(value: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(
            f"url: expected an http or https URL such as https://partner.example.com/hooks, "
            f"got {value!r}",
            field="url",
        )
    if len(value) > 2000:
        raise ValidationFailed("url: at most 2000 characters", field="url")
    return value


def _event_types(value: Iterable[str]) -> list[str]:
    types = list(dict.fromkeys(str(v).strip() for v in value))
    if not types:
        raise ValidationFailed(
            f"event_types: name at least one event ({', '.join(EVENT_TYPES)}) or {ANY_EVENT!r} "
            "for every event",
            field="event_types",
        )
    unknown = [t for t in types if t not in EVENT_TYPES and t != ANY_EVENT]
    if unknown:
        raise ValidationFailed(
            f"event_types: unknown event {unknown[0]!r}; expected one of "
            f"{', '.join(EVENT_TYPES)} or {ANY_EVENT!r}",
            field="event_types",
            details={"unknown": unknown, "known": [*EVENT_TYPES, ANY_EVENT]},
        )
    return types


def webhook_subscription_create(
    *,
    url: str,
    event_types: Iterable[str],
    user: User,
    party: Party | None = None,
    system_name: str = "",
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret. The secret is returned here once and never again:
    hand it to the receiver now (a lost secret is replaced by ``webhook_subscription_rotate``)."""
    _require(user, "alerts.add_webhooksubscription")
    system_name = (system_name or "").strip()
    if party is None and not system_name:
        raise ValidationFailed(
            "party_id: name the partner whose system receives the events, or give system_name "
            "for one of our own systems",
            field="party_id",
        )
    if party is not None and system_name:
        raise ValidationFailed(
            "system_name: a partner's subscription has no system name; give party_id or "
            "system_name, not both",
            field="system_name",
        )
    if party is not None and not party.active:
        raise ValidationFailed(
            f"party_id: {party} is inactive; reactivate it in master data first", field="party_id"
        )
    secret = new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            party=party,
            system_name=system_name[:100],
            url=_url(url),
            secret=secret,
            event_types=_event_types(event_types),
            created_by=user,
        )
        audit.record_create(subscription, user=user)
    return subscription, secret


def webhook_subscription_rotate(
    *, subscription: WebhookSubscription, user: User, grace: timedelta = ROTATION_GRACE
) -> tuple[WebhookSubscription, str]:
    """A new secret for ``subscription``, returned once. The old one stays valid for ``grace``
    (deliveries carry a signature under both meanwhile); ``grace=0`` revokes it at once (a
    leaked secret)."""
    _require(user, "alerts.change_webhooksubscription")
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise ValidationFailed(
            f"grace: expected between 0 and {MAX_GRACE.days} days, got {grace}",
            field="grace_hours",
        )
    secret = new_secret()
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().filter(pk=subscription.pk).first()
        if locked is None:
            raise NotFound(f"No webhook subscription {subscription.pk}")
        before = audit.snapshot(locked)
        now = timezone.now()
        if grace:
            locked.previous_secret = locked.secret
            locked.previous_secret_expires_at = now + grace
        else:
            locked.previous_secret = ""
            locked.previous_secret_expires_at = None
        locked.secret = secret
        locked.rotated_at = now
        locked.save(
            update_fields=["secret", "previous_secret", "previous_secret_expires_at", "rotated_at"]
        )
        audit.record_update(locked, before, user=user, reason="webhook secret rotated")
    return locked, secret


def subscriptions_for(*, party: Party, event: str) -> list[WebhookSubscription]:
    """The active subscriptions of ``party`` that receive ``event`` (the event named, or "*").
    A party has a handful at most, so the event filter runs in Python (JSON ``contains`` is
    not available on SQLite)."""
    subs = WebhookSubscription.objects.filter(party=party, active=True).order_by("pk")
    return [s for s in subs if event in s.event_types or ANY_EVENT in s.event_types]


# Delivery --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookResult:
    ok: bool
    status_code: int | None
    detail: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a GET without the body: a receiver must answer at the
    # URL it subscribed, so a 3xx is reported as the failure it is.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def encode(payload: Mapping[str, Any]) -> bytes:
    """The exact body bytes that are signed and sent (compact JSON, UTF-8, keys sorted)."""
    return json.dumps(
        payload, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def post(
    *,
    subscription: WebhookSubscription,
    event: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    timeout: float | None = None,
) -> WebhookResult:
    """POST ``payload`` to the subscription, signed; never raises for a network or HTTP error
    (the result says what happened, for the caller to record)."""
    body = encode(payload)
    timestamp = int(time.time())
    request = urllib.request.Request(
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "medtrace-webhooks/1",
            EVENT_HEADER: event,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(subscription, timestamp, body),
            IDEMPOTENCY_HEADER: idempotency_key,
        },
    )
    seconds = timeout if timeout is not None else settings.WEBHOOK_TIMEOUT
    try:
        with _opener.open(request, timeout=seconds) as response:
            status = response.status
            answer = response.read(300).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        answer = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        what = "redirect (not followed)" if 300 <= exc.code < 400 else exc.reason
        return WebhookResult(False, exc.code, f"HTTP {exc.code} {what}: {answer}".strip(": "))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return WebhookResult(False, None, f"no answer from {subscription.url}: {reason}")
    if 200 <= status < 300:
        return WebhookResult(True, status, f"HTTP {status}")
    return WebhookResult(False, status, f"HTTP {status}: {answer}".strip(": "))
