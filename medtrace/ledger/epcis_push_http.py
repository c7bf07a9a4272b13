"""The POST of a subscription's EPCISQueryDocument to its ``dest`` (REST binding callback
``querySubscriptionResults``), and the outbox handler that makes it.

Each POST carries:

- ``Content-Type: application/json``, the body an EPCISQueryDocument (JSON-LD);
- ``GS1-Signature: sha256=<hex>`` when the client gave a ``signatureToken``: HMAC-SHA256 of the
  exact body under that token (``subscription_signature``);
- ``GS1-EPCIS-Version`` / ``GS1-CBV-Version`` (2.0.0) and ``GS1-EPC-Format: Never_Translates``
  (identifiers as captured, as the query API returns them);
- ``Idempotency-Key``: the outbox message key, the same on every retry of the same document.

A 2xx answer is success; anything else (or no answer) fails the attempt and the outbox retries
with backoff. A 413 means "send smaller batches" (REST binding): the document is sent again in
halves, each with its own key ``<key>#<first>-<end>`` (event indexes within the document),
until every part is taken or a single event is refused.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from medtrace.alerts.models import OutboxMessage
from medtrace.alerts.outbox import Permanent, handler

from .epcis_http import CBV_VERSION, EPCIS_VERSION
from .epcis_query_subscriptions import subscription_signature
from .models_queries import QuerySubscription

log = logging.getLogger(__name__)

HANDLER = "epcis_subscription"
SIGNATURE_HEADER = "GS1-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOO_LARGE = 413


class PushFailed(Exception):
    """The subscriber did not take the document this time; the outbox retries it."""


@dataclass(frozen=True)
class PushResult:
    ok: bool
    status: int | None
    detail: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would become a GET without the body: the callback must answer at the
    # URL it subscribed with, so a 3xx is the failure it is.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def encode(document: dict[str, Any]) -> str:
    """The body text queued in the outbox and sent (and signed) byte for byte on every try."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def post_document(
    subscription: QuerySubscription, body: bytes, *, key: str, timeout: float | None = None
) -> PushResult:
    """One POST of ``body`` to the subscription's ``dest``; never raises for a network or HTTP
    error (the result says what happened)."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "medtrace-epcis/1",
        "GS1-EPCIS-Version": EPCIS_VERSION,
        "GS1-CBV-Version": CBV_VERSION,
        "GS1-EPC-Format": "Never_Translates",
        IDEMPOTENCY_HEADER: key,
    }
    signature = subscription_signature(subscription, body)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    request = urllib.request.Request(subscription.dest, data=body, method="POST", headers=headers)
    seconds = timeout if timeout is not None else settings.WEBHOOK_TIMEOUT
    try:
        with _opener.open(request, timeout=seconds) as response:
            status = response.status
            answer = response.read(300).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        answer = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        what = "redirect (not followed)" if 300 <= exc.code < 400 else exc.reason
        return PushResult(False, exc.code, f"HTTP {exc.code} {what}: {answer}".strip(": "))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return PushResult(False, None, f"no answer from {subscription.dest}: {reason}")
    if 200 <= status < 300:
        return PushResult(True, status, f"HTTP {status}")
    return PushResult(False, status, f"HTTP {status}: {answer}".strip(": "))


def _part(document: dict[str, Any], first: int, end: int) -> bytes:
    results = document["epcisBody"]["queryResults"]
    body = results["resultsBody"]
    part = {
        **document,
        "epcisBody": {
            **document["epcisBody"],
            "queryResults": {
                **results,
                "resultsBody": {**body, "eventList": body["eventList"][first:end]},
            },
        },
    }
    return encode(part).encode("utf-8")


def _in_parts(subscription: QuerySubscription, text: str, key: str) -> PushResult:
    """The document in ever smaller parts, after a 413 for the whole (module docstring)."""
    document = json.loads(text)
    count = len(document["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
    pending = [(0, count // 2), (count // 2, count)]
    sent = 0
    while pending:
        first, end = pending.pop(0)
        result = post_document(
            subscription, _part(document, first, end), key=f"{key}#{first}-{end}"
        )
        if result.ok:
            sent += 1
            continue
        if result.status == TOO_LARGE and end - first > 1:
            middle = (first + end) // 2
            pending[:0] = [(first, middle), (middle, end)]
            continue
        return PushResult(False, result.status, f"events {first}-{end}: {result.detail}")
    return PushResult(True, 200, f"{count} events in {sent} parts (the subscriber answered 413)")


@handler(HANDLER)
def deliver_document(message: OutboxMessage) -> str:
    """POST the queued document (``payload["body"]``) to its subscription's ``dest``; when
    more events were waiting behind it (``payload["more"]``), queue the next batch at once."""
    from . import epcis_push

    payload = message.payload
    subscription = (
        QuerySubscription.objects.select_related("created_by")
        .filter(pk=payload.get("subscription_id"))
        .first()
    )
    if subscription is None or not subscription.active:
        raise Permanent("the EPCIS query subscription was deleted (unsubscribed): not sent")
    owner = subscription.created_by
    if owner is not None and not owner.is_active:
        raise Permanent(f"the subscriber's account {owner.username!r} is deactivated: not sent")
    text = str(payload.get("body", ""))
    result = post_document(subscription, text.encode("utf-8"), key=message.key)
    if not result.ok and result.status == TOO_LARGE and int(payload.get("events", 0)) > 1:
        result = _in_parts(subscription, text, message.key)
    if not result.ok:
        raise PushFailed(result.detail)
    if payload.get("more"):
        # Best effort: a failure here must not fail a delivered document (it would be sent
        # again); the worker's sweep queues the rest anyway.
        try:
            epcis_push.push_subscription(subscription.pk, exclude_key=message.key)
        except Exception:
            log.exception("could not queue the next batch of subscription %s", subscription.pk)
    return f"{result.detail}; {payload.get('events', 0)} events to {subscription.dest}"
