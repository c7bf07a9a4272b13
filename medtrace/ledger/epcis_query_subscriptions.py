"""Named queries and webhook subscriptions: the writes, and what a subscription delivers.

Delivery is ``epcis_push``: in one transaction it takes a ``subscription_batch`` (the next
matching events after the subscription's position), queues it in the outbox and moves the
position past it (``subscription_move``); the outbox then POSTs it, retrying until the
subscriber answers 2xx. So a document is queued once and sent until it arrives, and no event
is skipped: the position and the queued document commit together or not at all.

Which events are safe to hand out is ``subscription_cutoff``: only those recorded before every
capture still in progress began (a capture stamps its recordTime before it commits, so an open
one may still add events with an earlier recordTime than ones already visible).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.audit import services as audit

from .epcis_push_schedule import ScheduleError, next_run, parse_field
from .epcis_query_params import QueryError, parse_query, parse_time
from .epcis_query_select import event_document, query_document
from .models import Event, EventRetraction
from .models_queries import NamedQuery, QuerySubscription

__all__ = [
    "SUBSCRIPTION_BATCH",
    "SUBSCRIPTION_SETTLE",
    "Position",
    "SubscriptionBatch",
    "SubscriptionError",
    "named_query_create",
    "named_query_delete",
    "subscription_advance",
    "subscription_batch",
    "subscription_create",
    "subscription_cutoff",
    "subscription_delete",
    "subscription_move",
    "subscription_results",
    "subscription_signature",
]

# Capture stamps recordTime before its transaction commits, so an event can become visible with
# a recordTime in the past. ``subscription_cutoff`` stops before the oldest capture still open
# (PostgreSQL), or holds the write lock (SQLite); this margin on top covers the clocks of the
# application servers (which stamp recordTime) differing from each other and the database's.
SUBSCRIPTION_SETTLE = timedelta(seconds=2)
# The REST binding asks for "manageable batches": at most this many events per POST.
SUBSCRIPTION_BATCH = 500

QUERY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-~]{0,199}\Z")
SUBSCRIPTION_EXCEPTION = "epcisException:SubscriptionControlsException"
VALIDATION_EXCEPTION = "epcisException:ValidationException"


class SubscriptionError(QueryError):
    """A subscription request the server cannot honour (SubscriptionControlsException)."""

    def __init__(
        self,
        parameter: str | None,
        message: str,
        *,
        type_: str = SUBSCRIPTION_EXCEPTION,
        status: int = 400,
    ) -> None:
        super().__init__(parameter, message, type_=type_, status=status)


# -- named queries ------------------------------------------------------------------------------


def named_query_create(*, data: Any, user: User | None) -> NamedQuery:
    """Store a named query (REST ``POST /queries``): ``{"name": ..., "query": {...}}``."""
    if not isinstance(data, dict):
        raise QueryError(
            None, 'expected a JSON object {"name": ..., "query": {...}}', type_=VALIDATION_EXCEPTION
        )
    extra = sorted(set(data) - {"name", "query"})
    if extra:
        raise QueryError(
            extra[0],
            f"unknown field {extra[0]!r}; a named query has only name and query",
            type_=VALIDATION_EXCEPTION,
        )
    name = data.get("name")
    if not isinstance(name, str) or not QUERY_NAME.match(name):
        raise QueryError(
            "name",
            "name: expected 1 to 200 letters, digits, '_', '.', '-' or '~', starting with a "
            f"letter or digit (it becomes part of the URL), got {name!r}",
            type_=VALIDATION_EXCEPTION,
        )
    query = data.get("query")
    if not isinstance(query, dict):
        raise QueryError(
            "query",
            "query: expected an object of SimpleEventQuery parameters "
            'such as {"eventType": ["ObjectEvent"]}',
            type_=VALIDATION_EXCEPTION,
        )
    parse_query(query, from_url=False)  # refuse a query that could never run
    try:
        with transaction.atomic():
            named = NamedQuery.objects.create(name=name, query=query, created_by=user)
            audit.record_create(named, user=user)
            return named
    except IntegrityError:
        raise QueryError(
            "name",
            f"a query named {name!r} already exists; pick another name or delete it",
            type_="epcisException:ResourceAlreadyExistsException",
            status=409,
        ) from None


def named_query_delete(*, query: NamedQuery, user: User | None = None) -> None:
    """Delete a named query; its subscriptions end with it (REST: forcibly unsubscribed)."""
    with transaction.atomic():
        for subscription in query.subscriptions.all():
            subscription_delete(subscription=subscription, user=user)
        _delete_audited(query, user)


def _delete_audited(instance: Any, user: User | None) -> None:
    before, pk = audit.snapshot(instance), instance.pk
    instance.delete()
    audit.record_delete(instance, before, object_id=pk, user=user)


# -- subscriptions ------------------------------------------------------------------------------


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise SubscriptionError(
            key, f"{key}: expected true or false, got {value!r}", type_=VALIDATION_EXCEPTION
        )
    return value


def _schedule(value: Any, now: datetime) -> tuple[dict[str, str], datetime]:
    """The schedule as stored, and its first query time after ``now``."""
    if not isinstance(value, dict) or not value:
        raise SubscriptionError(
            "schedule", 'schedule: expected an object such as {"hour": "1", "minute": "5"}'
        )
    out: dict[str, str] = {}
    for key, spec in value.items():
        try:
            parse_field(key, spec)
        except ScheduleError as exc:
            raise SubscriptionError(f"schedule.{key}", f"schedule.{key}: {exc.message}") from None
        out[key] = str(spec)
    first = next_run(out, now)
    if first is None:
        raise SubscriptionError(
            "schedule",
            f"schedule: {out} matches no date at all (e.g. dayOfMonth 30 in month 2); "
            "check dayOfMonth against month",
        )
    return out, first


def _dest(value: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(value) > 2000
    ):
        raise SubscriptionError(
            "dest",
            f"dest: expected an http or https callback URL, got {value!r}",
            type_=VALIDATION_EXCEPTION,
        )
    return str(value)


def subscription_create(*, query: NamedQuery, data: Any, user: User | None) -> QuerySubscription:
    """A webhook subscription to ``query`` (REST ``POST /queries/{name}/subscriptions``)."""
    if not isinstance(data, dict):
        raise SubscriptionError(
            None,
            'expected a JSON object such as {"dest": '
            '"https://client.example.com/cb", "stream": true}',
            type_=VALIDATION_EXCEPTION,
        )
    known = {"dest", "signatureToken", "initialRecordTime", "reportIfEmpty", "stream", "schedule"}
    extra = sorted(set(data) - known)
    if extra:
        raise SubscriptionError(
            extra[0],
            f"unknown field {extra[0]!r}; expected {', '.join(sorted(known))}",
            type_=VALIDATION_EXCEPTION,
        )
    dest = _dest(data.get("dest"))
    token = data.get("signatureToken", "")
    if not isinstance(token, str) or len(token) > 512:
        raise SubscriptionError(
            "signatureToken",
            "signatureToken: expected a string of at most 512 characters",
            type_=VALIDATION_EXCEPTION,
        )
    stream = _bool(data, "stream")
    report_if_empty = _bool(data, "reportIfEmpty")
    if "stream" in data and not stream:
        raise SubscriptionError(
            "stream",
            "stream: only true is meaningful; for a timed subscription give a schedule instead",
        )
    if stream == ("schedule" in data):
        raise SubscriptionError(
            "schedule",
            'give either "stream": true or a "schedule" (not both, not neither): the server '
            "must know when to notify you",
        )
    now = timezone.now()
    schedule, next_run_at = (None, None) if stream else _schedule(data["schedule"], now)
    if stream and report_if_empty:
        raise SubscriptionError(
            "reportIfEmpty",
            "reportIfEmpty applies to scheduled subscriptions; a stream reports only new events",
        )
    initial = now
    if data.get("initialRecordTime") is not None:
        try:
            initial = parse_time("initialRecordTime", data["initialRecordTime"])
        except QueryError as exc:
            raise SubscriptionError(
                "initialRecordTime", exc.message, type_=VALIDATION_EXCEPTION
            ) from None
    with transaction.atomic():
        subscription = QuerySubscription.objects.create(
            query=query,
            dest=dest,
            signature_token=token,
            stream=stream,
            schedule=schedule,
            report_if_empty=report_if_empty,
            initial_record_time=initial,
            last_record_time=initial,
            next_run_at=next_run_at,
            created_by=user,
        )
        audit.record_create(subscription, user=user)
    return subscription


def subscription_delete(*, subscription: QuerySubscription, user: User | None = None) -> None:
    with transaction.atomic():
        _delete_audited(subscription, user)


# -- what a subscription delivers --------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_RETRACTION = Event.retraction.related  # the reverse one-to-one, to mark "none" on a row


@dataclass(frozen=True)
class Position:
    """Where a subscription stands: after every event whose (effective recordTime, pk) is at
    most (``record_time``, ``event_pk``); with ``event_pk`` None, before every event recorded
    at ``record_time`` or later. Events captured together share a recordTime, so the time
    alone cannot mark where a batch ended."""

    record_time: datetime
    event_pk: int | None = None

    @property
    def token(self) -> str:
        """Compact and exact (microseconds since 1970, pk): for idempotency keys."""
        micros = (self.record_time - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.event_pk or 0}"


@dataclass(frozen=True)
class SubscriptionBatch:
    """The next batch of a subscription: its EPCISQueryDocument, and the positions it spans.

    ``complete``: the batch holds every match recorded before ``cutoff``, so the subscription
    may move to ``cutoff`` itself (``end``), and the next query starts there rather than at
    the last event delivered (a subscription that matched nothing for a month does not scan
    that month again). Otherwise more matches follow and ``end`` is the last event's position.
    """

    document: dict[str, Any]
    count: int
    start: Position
    last: Position | None
    cutoff: datetime
    complete: bool

    @property
    def end(self) -> Position:
        if not self.complete:
            assert self.last is not None
            return self.last
        if self.cutoff <= self.start.record_time:
            return self.start  # never move back (an initialRecordTime in the future)
        return Position(self.cutoff)

    @property
    def key(self) -> str:
        """The range, for the idempotency key: the same events give the same key."""
        last = self.last or self.start
        return f"{self.start.token}-{last.token}"


def _oldest_open_write() -> datetime | None:
    """When the oldest other transaction still open on this database that has written began
    (PostgreSQL; None elsewhere, or when there is none). Its events, not visible yet, carry a
    recordTime after that."""
    if connection.vendor != "postgresql":
        # SQLite: the caller's transaction holds the database's write lock (transaction_mode
        # IMMEDIATE), so no other write is in progress while it reads.
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def subscription_cutoff(now: datetime | None = None) -> datetime:
    """The recordTime before which every event that will ever be recorded is visible now:
    ``now`` or the start of the oldest open writing transaction, whichever is earlier, less
    ``SUBSCRIPTION_SETTLE``. Call it inside the transaction that reads the events."""
    now = now or timezone.now()
    oldest = _oldest_open_write()
    return min(now, oldest or now) - SUBSCRIPTION_SETTLE


def _matches(
    condition: Q,
    *,
    retracted: bool,
    low: Position,
    high: datetime,
    limit: int,
) -> list[tuple[datetime, Event]]:
    """Up to ``limit`` events matching ``condition`` whose effective recordTime lies after
    ``low`` and before ``high``, in (effective recordTime, pk) order, with that time.

    The effective recordTime is the retraction's for a retracted event (it is when the client
    learns of it) and the event's own otherwise. Asking for each kind apart keeps each an
    ordered range read of one index (the event's (record_time, id)), which stops at ``limit``:
    one condition across both tables (``record_time >= t OR retraction.record_time >= t``)
    would read the whole ledger for an unselective query such as "every event".
    """
    if retracted:
        field = "retraction__record_time"
        qs = Event.objects.filter(condition, retraction__isnull=False).select_related("retraction")
    else:
        # NOT EXISTS, not a LEFT JOIN ... IS NULL: the planner then estimates the rows left
        # well, and reads the recordTime index in order up to the limit.
        field = "record_time"
        retracted_rows = EventRetraction.objects.filter(event_id=OuterRef("pk"))
        qs = Event.objects.filter(condition).filter(~Exists(retracted_rows))
    qs = qs.filter(**{f"{field}__gte": low.record_time, f"{field}__lt": high})
    if low.event_pk is not None:
        # After (t, pk): from t on, less the rows at t up to pk (a range read from t).
        qs = qs.exclude(**{field: low.record_time, "id__lte": low.event_pk})
    rows = list(qs.order_by(field, "id")[:limit])
    if retracted:
        return [(e.retraction.record_time, e) for e in rows]
    for event in rows:
        _NO_RETRACTION.set_cached_value(event, None)  # known: event_document asks no more
    return [(e.record_time, e) for e in rows]


def subscription_batch(
    subscription: QuerySubscription,
    *,
    cutoff: datetime,
    limit: int = SUBSCRIPTION_BATCH,
    retractions: bool = True,
) -> SubscriptionBatch:
    """The next events of ``subscription``: its query's events recorded since its position and
    before ``cutoff`` (from ``subscription_cutoff``), oldest first, at most ``limit``, as an
    EPCISQueryDocument with its subscriptionID and queryName. Two statements, each a bounded
    index range read (``_matches``), whatever the size of the ledger.

    A retracted event comes again, as declared in error, when its declaration is recorded.
    The query's own orderBy / eventCountLimit / maxEventCount do not apply: a subscription
    delivers every new match, in recordTime order. The list may be empty.

    A subscription made by a partner user delivers only what that user may query, redacted
    (``medtrace.accounts.scoping``). Load the subscription with
    ``select_related("query", "created_by")``. ``retractions=False``: the caller knows that no
    retraction was recorded since the subscription's position (one statement fewer).
    """
    owner = subscription.created_by
    stored = parse_query(
        subscription.query.query, from_url=False, epc_scope=scoping.custody_epcs(owner)
    )
    condition = stored.q
    # A partner's subscription delivers what its creator may query, redacted the same way.
    if scoping.is_partner(owner):
        condition &= scoping.event_q(owner)
    start = Position(subscription.last_record_time, subscription.last_event_pk)
    # The stored query's own GE_/LT_recordTime narrow the window further.
    low = start
    if stored.record_ge is not None and stored.record_ge > start.record_time:
        low = Position(stored.record_ge)
    high = min(filter(None, (stored.record_lt, cutoff)))
    found = sorted(
        [
            *_matches(condition, retracted=False, low=low, high=high, limit=limit + 1),
            *(
                _matches(condition, retracted=True, low=low, high=high, limit=limit + 1)
                if retractions
                else []
            ),
        ],
        key=lambda pair: (pair[0], pair[1].pk),
    )
    complete = len(found) <= limit
    found = found[:limit]
    last = Position(found[-1][0], found[-1][1].pk) if found else None
    document = query_document(
        scoping.redact_events(owner, [event_document(e) for _time, e in found]),
        query_name=subscription.query.name,
        subscription_id=str(subscription.pk),
    )
    return SubscriptionBatch(
        document=document,
        count=len(found),
        start=start,
        last=last,
        cutoff=cutoff,
        complete=complete,
    )


def subscription_results(
    subscription: QuerySubscription,
    *,
    limit: int = SUBSCRIPTION_BATCH,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The EPCISQueryDocument of ``subscription_batch`` with the cutoff of ``now``."""
    return subscription_batch(subscription, cutoff=subscription_cutoff(now), limit=limit).document


def subscription_move(
    *, subscription: QuerySubscription, position: Position, notified_at: datetime | None = None
) -> None:
    """Move ``subscription`` to ``position`` (and record when it was last notified). Called in
    the transaction that queues the batch the position moves past. Bookkeeping, like the
    outbox's own status: not audited (it would add an audit entry per subscription per run)."""
    changes: dict[str, Any] = {
        "last_record_time": position.record_time,
        "last_event_pk": position.event_pk,
    }
    if notified_at is not None:
        changes["last_notified_at"] = notified_at
    QuerySubscription.objects.filter(pk=subscription.pk).update(**changes)
    for name, value in changes.items():
        setattr(subscription, name, value)


def subscription_advance(*, subscription: QuerySubscription, document: dict[str, Any]) -> None:
    """Move past the last event of ``document`` (from ``subscription_results``)."""
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    position = Position(subscription.last_record_time, subscription.last_event_pk)
    if events:
        last = events[-1]
        # The document carries the recordTime exactly (microseconds, UTC) and the pk through
        # the unique eventID.
        position = Position(
            datetime.fromisoformat(last["recordTime"]),
            Event.objects.only("pk").get(event_id=last["eventID"]).pk,
        )
    subscription_move(subscription=subscription, position=position, notified_at=timezone.now())


def subscription_signature(subscription: QuerySubscription, body: bytes) -> str | None:
    """The ``GS1-Signature`` header value: HMAC-SHA256 of the exact body with the client's
    signatureToken, as ``sha256=<hex>``; None when the client gave no token."""
    if not subscription.signature_token:
        return None
    digest = hmac.new(subscription.signature_token.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
