"""Outbox handlers of the generic channels: signed webhooks and plain e-mail.

Each takes a claimed ``OutboxMessage`` and returns a short detail on success; it raises on
failure (``outbox.Permanent`` when retrying cannot help). They do I/O only: the outbox records
the outcome.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

from . import webhooks
from .models import OutboxMessage, WebhookSubscription
from .outbox import Permanent, handler


class DeliveryFailed(Exception):
    """The receiver did not take the message this time; the outbox retries it."""


@handler("webhook")
def webhook(message: OutboxMessage) -> str:
    """POST ``payload["body"]`` to subscription ``payload["subscription_id"]``, signed, with
    the message key as the idempotency key."""
    sub = WebhookSubscription.objects.filter(pk=message.payload.get("subscription_id")).first()
    if sub is None or not sub.active:
        raise Permanent("the webhook subscription was removed or deactivated")
    result = webhooks.post(
        subscription=sub,
        event=message.event_type,
        payload=message.payload.get("body", {}),
        idempotency_key=message.key,
    )
    if not result.ok:
        raise DeliveryFailed(result.detail)
    return result.detail


@handler("email")
def email(message: OutboxMessage) -> str:
    """Send ``payload`` = ``{"to": [...], "subject", "body"}`` through the configured mail
    backend; the message key travels as the ``X-Medtrace-Idempotency-Key`` header."""
    data = message.payload
    recipients = [a for a in data.get("to", []) if a]
    if not recipients:
        raise Permanent("the message names no recipient address")
    mail = EmailMessage(
        subject=str(data.get("subject", ""))[:250],
        body=str(data.get("body", "")),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Medtrace-Idempotency-Key": message.key, "X-Medtrace-Event": message.event_type},
    )
    try:
        sent = mail.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not sent:
        raise DeliveryFailed("the mail backend accepted no message")
    return f"handed to the mail server for {', '.join(recipients)}"
