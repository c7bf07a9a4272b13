"""Delivery of EPCIS 2.0 query subscriptions: what is due, queued through the outbox.

One step, ``push_subscription``, in one transaction with the subscription row locked:

1. take the next batch of matching events after the subscription's position, recorded before
   the cutoff (``subscription_batch`` / ``subscription_cutoff``: nothing a capture still open
   could slip in before), scoped to what the subscriber may see;
2. queue it in the outbox as one message (handler ``epcis_subscription``, key
   ``epcis:<subscription>:<first position>-<last position>``, so the range names the message);
3. move the subscription past it.

Both commit together or not at all, so a worker that dies anywhere loses nothing and queues
nothing twice; the outbox then sends the document until the subscriber takes it (retries with
backoff, the same body and key each time, a dead letter for an administrator in the end).

Order, and nothing skipped: a subscription with a document still undelivered (pending, or a
dead letter) gets no new one. Later events wait in the ledger behind its position and follow
once it arrives (a dead letter: once an administrator replays it). A backlog flows without
waiting for the sweep: when a delivered batch was full, its handler queues the next at once.

When:

- **stream** subscriptions: after each capture that recorded events, if any stream subscription
  is active, ``capture_recorded`` (called in the capture's transaction: one EXISTS) queues the
  ``push_streams`` task for when those events are past the settle margin. With the database
  task backend ``medtrace worker`` runs it a couple of seconds after the capture; it schedules
  itself again while newer events are still inside the margin.
- **scheduled** subscriptions: at each query time of their schedule (``epcis_push_schedule``),
  found by the periodic job ``epcis.subscriptions``, which the worker's sweep runs every
  ``MEDTRACE_WORKER_SWEEP_SECONDS``. A run with nothing new sends an empty document only with
  ``reportIfEmpty``. A worker that was down runs a missed schedule once when it is back.
- The same periodic job also runs every stream subscription with something new: the safety net
  for a wake-up that was lost (the kick is a task, not an outbox row, because the sweep makes
  it redundant: it only saves latency).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django_tasks import task

from medtrace.alerts.models import OutboxMessage, OutboxStatus
from medtrace.alerts.outbox import emit
from medtrace.alerts.schedule import periodic

from . import epcis_query_subscriptions as subs
from .epcis_push_http import HANDLER, encode
from .epcis_push_schedule import next_run
from .models import Event, EventRetraction
from .models_queries import QuerySubscription

log = logging.getLogger(__name__)

__all__ = [
    "EVENT_TYPE",
    "capture_recorded",
    "push_due",
    "push_streams",
    "push_subscription",
    "queue_streams",
]

EVENT_TYPE = "epcis.subscription"
KEY_PREFIX = "epcis:"
# The wake-up after a capture comes this long after its events are past the settle margin.
KICK_MARGIN = timedelta(milliseconds=500)
PASS_BUDGET_SECONDS = 30.0
# Stream subscriptions probed per transaction (on SQLite it holds the write lock meanwhile).
PROBE_CHUNK = 100

# Outcomes of ``push_subscription``.
SENT = "sent"  # a document was queued
MOVED = "moved"  # nothing to send; the position moved up to the cutoff
IDLE = "idle"  # nothing to send, nothing to move
NOT_DUE = "not_due"  # a scheduled subscription before its time
BLOCKED = "blocked"  # an earlier document is still undelivered
INACTIVE_OWNER = "inactive_owner"  # the subscriber's account is deactivated
GONE = "gone"  # deleted, deactivated, or another worker holds it right now


def _prefix(subscription_id: Any) -> str:
    return f"{KEY_PREFIX}{subscription_id}:"


def _undelivered(subscription: QuerySubscription, *, exclude_key: str = "") -> bool:
    # The outbox has no selector for this yet: read its table for this handler's own rows.
    qs = OutboxMessage.objects.filter(
        handler=HANDLER,
        status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD],
        key__startswith=_prefix(subscription.pk),
    )
    if exclude_key:
        qs = qs.exclude(key=exclude_key)
    return qs.exists()


def _blocked_ids() -> set[str]:
    """The subscriptions with an undelivered document (one query for a whole pass)."""
    keys = OutboxMessage.objects.filter(
        handler=HANDLER, status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD]
    ).values_list("key", flat=True)
    return {k[len(KEY_PREFIX) :].split(":", 1)[0] for k in keys if k.startswith(KEY_PREFIX)}


def _reschedule(subscription: QuerySubscription, now: datetime) -> None:
    assert subscription.schedule is not None
    subscription.next_run_at = next_run(subscription.schedule, now)
    QuerySubscription.objects.filter(pk=subscription.pk).update(
        next_run_at=subscription.next_run_at
    )


def push_subscription(
    subscription_id: Any, *, now: datetime | None = None, exclude_key: str = ""
) -> str:
    """Queue the next document of one subscription if it is due (module docstring); return
    the outcome. ``exclude_key``: a message being delivered right now, which does not hold
    the subscription back (its handler asks for the next batch)."""
    now = now or timezone.now()
    with transaction.atomic():
        subscription = (
            QuerySubscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("query", "created_by")
            .filter(pk=subscription_id, active=True)
            .first()
        )
        if subscription is None:
            return GONE
        scheduled = not subscription.stream
        run_at = subscription.next_run_at
        if scheduled and (run_at is None or run_at > now):
            if run_at is None:  # made before schedules were kept, or a schedule with no time
                _reschedule(subscription, now)
            return NOT_DUE
        owner = subscription.created_by
        if owner is not None and not owner.is_active:
            outcome = INACTIVE_OWNER
        elif _undelivered(subscription, exclude_key=exclude_key):
            outcome = BLOCKED
        else:
            outcome = _push(subscription, now=now, run_at=run_at if scheduled else None)
        if scheduled and outcome in (INACTIVE_OWNER, BLOCKED):
            _reschedule(subscription, now)  # this run is skipped; its events wait for the next
    return outcome


def _push(subscription: QuerySubscription, *, now: datetime, run_at: datetime | None) -> str:
    batch = subs.subscription_batch(
        subscription, cutoff=subs.subscription_cutoff(now), limit=subs.SUBSCRIPTION_BATCH
    )
    # A scheduled run sends at least one document when reportIfEmpty, even if empty (once:
    # a run continued after a full batch has notified already).
    notified_this_run = (
        run_at is not None
        and subscription.last_notified_at is not None
        and subscription.last_notified_at >= run_at
    )
    report_empty = run_at is not None and subscription.report_if_empty and not notified_this_run
    send = batch.count > 0 or report_empty
    if send:
        assert run_at is not None or batch.count
        key = batch.key if batch.count else f"run:{subs.Position(run_at or now).token}"
        emit(
            HANDLER,
            event_type=EVENT_TYPE,
            payload={
                "subscription_id": str(subscription.pk),
                "query": subscription.query.name,
                "events": batch.count,
                "more": not batch.complete,
                "body": encode(batch.document),
            },
            key=f"{_prefix(subscription.pk)}{key}",
            target=subscription.dest,
        )
    end = batch.end
    if send or end != batch.start:
        subs.subscription_move(
            subscription=subscription, position=end, notified_at=now if send else None
        )
    if run_at is not None and batch.complete:
        _reschedule(subscription, now)
    if send:
        return SENT
    return MOVED if end != batch.start else IDLE


def _newest_record_time() -> datetime | None:
    """The latest recordTime in the ledger, a retraction's included (two index lookups)."""
    times = [
        Event.objects.aggregate(t=Max("record_time"))["t"],
        EventRetraction.objects.aggregate(t=Max("record_time"))["t"],
    ]
    present = [t for t in times if t is not None]
    return max(present) if present else None


def _probe_streams(ids: list[Any], now: datetime) -> tuple[list[Any], Counter[str]]:
    """Stream subscriptions ``ids`` in one transaction: which have new matches (returned, for
    ``push_subscription``), and the others moved up to the cutoff together, in one UPDATE.

    Most stream subscriptions have nothing new in a given pass (a capture concerns few of
    them); a transaction and a commit each would cost more than their one query. The move is
    safe without locking them: nothing matched before the cutoff, and the condition
    ``last_record_time < cutoff`` leaves alone one that another worker moved further meanwhile.
    """
    outcomes: Counter[str] = Counter()
    busy: list[Any] = []
    idle: list[Any] = []
    with transaction.atomic():
        cutoff = subs.subscription_cutoff(now)
        # Retractions are rare: look for those after a subscription's position only if any
        # was recorded since then.
        retracted = EventRetraction.objects.aggregate(t=Max("record_time"))["t"]
        rows = QuerySubscription.objects.filter(pk__in=ids, active=True, stream=True)
        for subscription in rows.select_related("query", "created_by").order_by("pk"):
            owner = subscription.created_by
            if owner is not None and not owner.is_active:
                outcomes[INACTIVE_OWNER] += 1
                continue
            probe = subs.subscription_batch(
                subscription,
                cutoff=cutoff,
                limit=1,
                retractions=retracted is not None and retracted >= subscription.last_record_time,
            )
            if probe.count:
                busy.append(subscription.pk)
            elif probe.end != probe.start:
                idle.append(subscription.pk)
            else:
                outcomes[IDLE] += 1
        if idle:
            moved = QuerySubscription.objects.filter(
                pk__in=idle, last_record_time__lt=cutoff
            ).update(last_record_time=cutoff, last_event_pk=None)
            outcomes.update({MOVED: moved, IDLE: len(idle) - moved})
    outcomes = +outcomes  # drop the zero counts
    return busy, outcomes


def push_due(
    *,
    now: datetime | None = None,
    streams: bool = True,
    scheduled: bool = True,
    budget_seconds: float = PASS_BUDGET_SECONDS,
) -> dict[str, int]:
    """Run every due subscription once: the scheduled ones whose time has come, and the stream
    ones that may have something new. Returns the count of each outcome."""
    now = now or timezone.now()
    started = time.monotonic()
    blocked = _blocked_ids()
    outcomes: Counter[str] = Counter()

    def run(pk: Any) -> None:
        try:
            outcomes[push_subscription(pk, now=now)] += 1
        except Exception:
            log.exception("EPCIS subscription %s: could not queue its results", pk)
            outcomes["failed"] += 1

    def spent() -> bool:
        return time.monotonic() - started > budget_seconds

    if scheduled:
        due = list(
            QuerySubscription.objects.filter(active=True, stream=False)
            .filter(Q(next_run_at__lte=now) | Q(next_run_at__isnull=True))
            .order_by("next_run_at")
            .values_list("pk", flat=True)
        )
        for index, pk in enumerate(due):
            if spent():
                outcomes["deferred"] += len(due) - index  # the next pass takes them
                break
            run(pk)
    newest = _newest_record_time() if streams else None
    if newest is not None:
        # A stream subscription positioned after the newest event has nothing new: no query.
        candidates = QuerySubscription.objects.filter(
            active=True, stream=True, last_record_time__lte=newest
        ).values_list("pk", flat=True)
        streaming = [pk for pk in candidates if str(pk) not in blocked]
        for first in range(0, len(streaming), PROBE_CHUNK):
            if spent():
                outcomes["deferred"] += len(streaming) - first
                break
            busy, probed = _probe_streams(streaming[first : first + PROBE_CHUNK], now)
            outcomes.update(probed)
            for pk in busy:
                run(pk)
    return dict(outcomes)


@periodic("epcis.subscriptions", every=timedelta(seconds=1))
def push_due_job() -> str:
    """The worker's sweep: due scheduled subscriptions, and stream ones with news."""
    outcomes = push_due()
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "nothing due"


# Stream wake-up --------------------------------------------------------------------------------


def capture_recorded() -> None:
    """Called by capture in its transaction once it has recorded events: wake the stream
    subscriptions after the commit, if there are any."""
    if QuerySubscription.objects.filter(active=True, stream=True).exists():
        transaction.on_commit(queue_streams)


def _stream_run_waiting() -> bool:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=push_streams.module_path, status="READY").exists()


# When the run this process last queued is due: until then a burst of captures here needs no
# further look at the queue (that run comes after their commits, so it sees their events).
_queued_run_at: datetime | None = None


def queue_streams(*, at: datetime | None = None) -> None:
    """Queue ``push_streams`` for ``at`` (default: when events recorded now are past the settle
    margin), unless one is already waiting: that one schedules a follow-up if it finds events
    too recent for it. Never fails the caller: the sweep delivers anyway."""
    global _queued_run_at
    from medtrace.alerts.tasks import queued_backend

    try:
        if not queued_backend():
            push_streams.enqueue()  # runs now, in this process (no worker to wait for)
            return
        now = timezone.now()
        if at is None and _queued_run_at is not None and now < _queued_run_at - KICK_MARGIN:
            return
        if _stream_run_waiting():
            return
        at = at or now + subs.SUBSCRIPTION_SETTLE + KICK_MARGIN
        push_streams.using(run_after=at).enqueue()
        _queued_run_at = at
    except Exception:
        log.exception("could not queue the EPCIS stream delivery; the worker's sweep will")


@task()
def push_streams() -> dict[str, int]:
    """Deliver every stream subscription's new events; run again for events still too recent."""
    from medtrace.alerts.tasks import queued_backend

    outcomes = push_due(scheduled=False)
    newest = _newest_record_time()
    now = timezone.now()
    if queued_backend() and newest is not None and newest >= subs.subscription_cutoff(now):
        later = max(newest + subs.SUBSCRIPTION_SETTLE + KICK_MARGIN, now + timedelta(seconds=1))
        queue_streams(at=later)
    return outcomes
