"""The transactional outbox: everything medtrace sends leaves through here (DESIGN §4).

Writing. A service calls ``emit`` (one message, one handler) or ``publish`` (a domain event to
every webhook subscription that takes it) inside its own ``transaction.atomic``: the message rows
commit with the change or not at all, so a change is never announced that did not happen, and
nothing that happened is left unannounced. After the commit a ``dispatch_outbox`` task is
enqueued (django-tasks): with the database backend ``medtrace worker`` runs it; with the
immediate backend (tests, a single-process install) it runs at once in the same process.

Sending. ``dispatch_due`` claims due messages one at a time under a lease (``lease_until``):
the claim is a short transaction of its own, the I/O (``deliver``) runs outside any transaction,
and the outcome is recorded in a second short transaction, with one ``OutboxAttempt`` row per
try. A handler returns a short detail on success and raises on failure; ``Permanent`` ends the
message at once (a receiver that can never accept it), anything else is retried after
``backoff(attempts)``: exponential, capped, with jitter. After ``max_attempts`` the message is a
dead letter: it stays, with every attempt, for an administrator to inspect and ``replay``.

A worker killed mid-attempt never records the end: its lease runs out, and the next claim takes
the message again. So delivery is at least once, and the message ``key`` (the same on every
attempt) is what the receiver gets as its idempotency key, to recognise the duplicate.

Handlers register by name with ``@handler("name")``; a message names its handler, so the row
alone says how to send it, and a new kind of message needs no change here.
"""

from __future__ import annotations

import importlib
import json
import logging
import random
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from .models import OutboxAttempt, OutboxMessage, OutboxStatus, WebhookSubscription

log = logging.getLogger(__name__)

Handler = Callable[[OutboxMessage], str]
_HANDLERS: dict[str, Handler] = {}
PERM_REPLAY = "alerts.change_outboxmessage"


class Permanent(Exception):
    """Raised by a handler when retrying cannot help (e.g. the subscription was removed)."""


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register ``function(message) -> detail`` as the sender of messages naming ``name``."""

    def register(function: Handler) -> Handler:
        _HANDLERS[name] = function
        return function

    return register


def handlers() -> dict[str, Handler]:
    _load_handlers()
    return dict(_HANDLERS)


# The modules whose ``@handler`` functions send outbox messages: they live with the apps that
# own what they send, and importing one registers its handlers.
HANDLER_MODULES = (
    "medtrace.alerts.channels",
    "medtrace.recalls.delivery",
)


def _load_handlers() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


# Writing ---------------------------------------------------------------------------------------


def emit(
    handler_name: str,
    *,
    event_type: str,
    payload: Mapping[str, Any],
    key: str | None = None,
    target: str = "",
    max_attempts: int | None = None,
) -> OutboxMessage:
    """Queue one message in the caller's transaction; it is sent after the commit."""
    return emit_many([(handler_name, event_type, payload, key, target)], max_attempts=max_attempts)[
        0
    ]


def emit_many(
    items: Iterable[tuple[str, str, Mapping[str, Any], str | None, str]],
    *,
    max_attempts: int | None = None,
) -> list[OutboxMessage]:
    """Queue several messages ``(handler, event_type, payload, key, target)`` in one insert.

    A ``key`` already queued is refused (``Conflict``): the same message twice is a caller's
    bug, and silently keeping one of two different payloads would lose the other."""
    known = handlers()
    now = timezone.now()
    rows = []
    for handler_name, event_type, payload, key, target in items:
        if handler_name not in known:
            raise ValueError(f"no outbox handler named {handler_name!r}")
        rows.append(
            OutboxMessage(
                key=key or f"{event_type}:{uuid.uuid4()}",
                handler=handler_name,
                event_type=event_type,
                target=target[:500],
                payload=_json(payload),
                max_attempts=max_attempts or settings.OUTBOX_MAX_ATTEMPTS,
                next_attempt_at=now,
            )
        )
    if not rows:
        return []
    keys = [r.key for r in rows]
    if len(set(keys)) != len(keys) or OutboxMessage.objects.filter(key__in=keys).exists():
        taken = sorted(
            {k for k in keys if keys.count(k) > 1}
            | set(OutboxMessage.objects.filter(key__in=keys).values_list("key", flat=True))
        )
        raise Conflict(f"outbox key already queued: {', '.join(taken)}", field="key")
    created = OutboxMessage.objects.bulk_create(rows)
    if any(r.pk is None for r in created):  # backends without RETURNING on bulk insert
        created = list(OutboxMessage.objects.filter(key__in=keys).order_by("pk"))
    transaction.on_commit(kick)
    return created


def _json(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON data (dates as ISO 8601, decimals as strings): stored exactly
    as it will be sent, whatever types the caller used."""
    return json.loads(json.dumps(dict(payload), cls=DjangoJSONEncoder))


def publish(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    parties: Iterable[Any] = (),
    event_id: str | None = None,
) -> list[OutboxMessage]:
    """Queue domain event ``event_type`` for every active webhook subscription that takes it:
    our own systems' subscriptions always, a partner's only when the event concerns it (its
    party is among ``parties``). One message per subscription, so one slow receiver never
    holds up another; the receiver's idempotency key is ``<event id>:<subscription id>``."""
    from . import webhooks

    event_id = event_id or f"{event_type}:{uuid.uuid4()}"
    party_ids = {getattr(p, "pk", p) for p in parties if p is not None}
    subs = WebhookSubscription.objects.filter(active=True).filter(
        Q(party__isnull=True) | Q(party_id__in=party_ids)
    )
    wanted = [
        s
        for s in subs.order_by("pk")
        if event_type in s.event_types or webhooks.ANY_EVENT in s.event_types
    ]
    body = {"event": event_type, "id": event_id, **payload}
    return emit_many(
        (
            "webhook",
            event_type,
            {"subscription_id": s.pk, "body": body},
            f"{event_id}:{s.pk}",
            s.url,
        )
        for s in wanted
    )


def kick() -> None:
    """Ask a worker to dispatch now (after commit). Never fails the caller: if the task
    cannot be enqueued, the worker's periodic sweep still finds the due messages."""
    from .tasks import queue_dispatch

    try:
        queue_dispatch()
    except Exception:
        log.exception("could not enqueue the outbox dispatch; the worker's sweep will send it")


# Sending ---------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: base * 2^(attempts-1), capped, ±20% jitter."""
    base = settings.OUTBOX_BACKOFF_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.OUTBOX_BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def due(now: datetime | None = None) -> Any:
    now = now or timezone.now()
    return OutboxMessage.objects.filter(
        status=OutboxStatus.PENDING, next_attempt_at__lte=now
    ).filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))


@dataclass(frozen=True)
class Claim:
    message: OutboxMessage
    attempt: OutboxAttempt


def claim(worker_id: str, *, now: datetime | None = None) -> Claim | None:
    """Lease the oldest due message to ``worker_id`` and open its attempt row."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        message = (
            due(now).order_by("next_attempt_at", "pk").select_for_update(skip_locked=True).first()
        )
        if message is None:
            return None
        message.attempts += 1
        message.lease_until = now + lease
        message.worker_id = worker_id[:64]
        message.save(update_fields=["attempts", "lease_until", "worker_id"])
        attempt = OutboxAttempt.objects.create(
            message=message, number=message.attempts, worker_id=worker_id[:64], started_at=now
        )
    return Claim(message, attempt)


def deliver(claimed: Claim) -> OutboxMessage:
    """Run the handler of a claimed message and record the outcome."""
    message = claimed.message
    function = handlers().get(message.handler)
    permanent = False
    try:
        if function is None:
            raise Permanent(f"no handler named {message.handler!r} in this version of medtrace")
        detail = function(message) or "ok"
        ok = True
    except Permanent as exc:
        ok, permanent, detail = False, True, f"{exc}"
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
        log.warning("outbox message %s attempt %s failed: %s", message.pk, message.attempts, detail)
    return _record(claimed, ok=ok, permanent=permanent, detail=detail)


def _record(claimed: Claim, *, ok: bool, permanent: bool, detail: str) -> OutboxMessage:
    now = timezone.now()
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=claimed.message.pk)
        OutboxAttempt.objects.filter(pk=claimed.attempt.pk).update(
            finished_at=now, ok=ok, detail=detail[:4000]
        )
        if message.worker_id != claimed.attempt.worker_id or message.status != OutboxStatus.PENDING:
            # The lease ran out and another worker took the message over (or an admin acted):
            # its outcome is the one that counts; this attempt stays in the log.
            return message
        message.lease_until = None
        if ok:
            message.status = OutboxStatus.DELIVERED
            message.delivered_at = now
            message.last_error = ""
        else:
            message.last_error = detail[:4000]
            if permanent or message.attempts >= message.max_attempts:
                message.status = OutboxStatus.DEAD
            else:
                message.next_attempt_at = now + backoff(message.attempts)
        message.save(
            update_fields=["lease_until", "status", "delivered_at", "last_error", "next_attempt_at"]
        )
    if message.status == OutboxStatus.DEAD:
        _dead_letter_alert(message)
    return message


def _dead_letter_alert(message: OutboxMessage) -> None:
    from .services import alert_raise

    with transaction.atomic():
        alert_raise(
            kind="outbox_dead_letter",
            title=f"Could not deliver {message.event_type} to {message.target or message.handler}",
            message=(
                f"Gave up after {message.attempts} attempt(s). Last error: {message.last_error}"
            ),
            recipient_role="admin",
            evidence={"outbox_message": message.pk, "key": message.key},
            object_type="alerts.outboxmessage",
            object_id=str(message.pk),
        )


def dispatch_due(
    *, worker_id: str | None = None, limit: int | None = None, budget_seconds: float = 60.0
) -> int:
    """Send due messages until none is left, ``limit`` are done or the time budget is spent;
    return how many were attempted."""
    worker_id = worker_id or default_worker_id()
    started = timezone.now()
    done = 0
    while limit is None or done < limit:
        if (timezone.now() - started).total_seconds() > budget_seconds:
            break
        claimed = claim(worker_id)
        if claimed is None:
            break
        deliver(claimed)
        done += 1
    return done


def next_due_at() -> datetime | None:
    """When the earliest pending message falls due (or its lease runs out)."""
    row = (
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", "lease_until")
        .first()
    )
    if row is None:
        return None
    return max(t for t in row if t is not None)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"[:64]


# Dead letters ----------------------------------------------------------------------------------


def replay(message_id: int, *, user: User, reason: str = "") -> OutboxMessage:
    """Give a dead (or delivered) message a fresh set of attempts, e.g. after the receiver is
    fixed. The key stays, so a receiver that did get it recognises the replay."""
    if not user.has_perm(PERM_REPLAY):
        raise PermissionDenied("replaying outbox messages needs the administrator role")
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise NotFound(f"outbox message {message_id} does not exist")
        if message.status == OutboxStatus.PENDING:
            raise Conflict(
                f"outbox message {message_id} is still pending: it is retried by itself",
                field="status",
            )
        if not reason.strip():
            raise ValidationFailed("say why the message is replayed", field="reason")
        before = audit.snapshot(message)
        message.status = OutboxStatus.PENDING
        message.max_attempts = message.attempts + settings.OUTBOX_MAX_ATTEMPTS
        message.next_attempt_at = timezone.now()
        message.lease_until = None
        message.save(update_fields=["status", "max_attempts", "next_attempt_at", "lease_until"])
        audit.record_update(message, before, user=user, reason=reason.strip())
        transaction.on_commit(kick)
    return message
