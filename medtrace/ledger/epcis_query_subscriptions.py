"""Named queries and webhook subscriptions: the writes, and what a subscription delivers.

Delivery itself belongs to the worker: it calls ``subscription_results``, POSTs the document
to ``subscription.dest`` with the ``GS1-Signature`` header from ``subscription_signature``, and
after a 2xx answer calls ``subscription_advance``. Until then the same events are offered
again, so a failed delivery loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.audit import services as audit

from .epcis_query_params import EventQuery, QueryError, parse_query, parse_time
from .epcis_query_select import event_document, event_page, query_document
from .models import Event
from .models_queries import NamedQuery, QuerySubscription

__all__ = [
    "SUBSCRIPTION_SETTLE",
    "SubscriptionError",
    "named_query_create",
    "named_query_delete",
    "subscription_advance",
    "subscription_create",
    "subscription_delete",
    "subscription_results",
    "subscription_signature",
]

# Capture stamps recordTime when its transaction starts and commits later, so an event can
# become visible with a recordTime a little in the past. Results stop this long before "now"
# so such an event is not skipped by a subscription that already moved past its recordTime.
SUBSCRIPTION_SETTLE = timedelta(seconds=5)
SUBSCRIPTION_BATCH = 500

QUERY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-~]{0,199}\Z")
SUBSCRIPTION_EXCEPTION = "epcisException:SubscriptionControlsException"
VALIDATION_EXCEPTION = "epcisException:ValidationException"

# EPCIS 2.0 §8.2.5.3 query schedule: field -> inclusive range of its numbers.
SCHEDULE_FIELDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),
}
_SCHEDULE_ELEMENT = re.compile(r"(\d+)\Z|\[(\d+)-(\d+)\]\Z")


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


def _schedule(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise SubscriptionError(
            "schedule", 'schedule: expected an object such as {"hour": "1", "minute": "5"}'
        )
    out: dict[str, str] = {}
    for key, spec in value.items():
        bounds = SCHEDULE_FIELDS.get(key)
        if bounds is None:
            raise SubscriptionError(
                f"schedule.{key}",
                f"schedule.{key}: unknown field; expected {', '.join(SCHEDULE_FIELDS)}",
            )
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = str(spec)
        if not isinstance(spec, str) or not spec:
            raise SubscriptionError(f"schedule.{key}", f"schedule.{key}: expected a string")
        low, high = bounds
        for element in spec.split(","):
            match = _SCHEDULE_ELEMENT.match(element.strip())
            numbers = [int(n) for n in match.groups() if n is not None] if match else []
            if (
                not numbers
                or any(not low <= n <= high for n in numbers)
                or (len(numbers) == 2 and numbers[0] > numbers[1])
            ):
                raise SubscriptionError(
                    f"schedule.{key}",
                    f"schedule.{key}: {spec!r} is not a schedule; expected numbers from {low} "
                    f"to {high} or ranges [a-b], separated by commas (e.g. '0,30' or '[1-5]')",
                )
        out[key] = spec
    return out


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
    schedule = None if stream else _schedule(data["schedule"])
    if stream and report_if_empty:
        raise SubscriptionError(
            "reportIfEmpty",
            "reportIfEmpty applies to scheduled subscriptions; a stream reports only new events",
        )
    now = timezone.now()
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
            created_by=user,
        )
        audit.record_create(subscription, user=user)
    return subscription


def subscription_delete(*, subscription: QuerySubscription, user: User | None = None) -> None:
    with transaction.atomic():
        _delete_audited(subscription, user)


def subscription_results(
    subscription: QuerySubscription,
    *,
    limit: int = SUBSCRIPTION_BATCH,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The EPCISQueryDocument to POST: the query's events recorded since the subscription's
    position, oldest first, with its subscriptionID and queryName.

    At most ``limit`` events (the REST binding asks for manageable batches: a worker calls
    again until the list comes back empty), all recorded before ``now - SUBSCRIPTION_SETTLE``.
    A retracted event comes again, as declared in error, when its declaration is recorded.
    The query's own orderBy / eventCountLimit / maxEventCount do not apply: a subscription
    delivers every new match, in recordTime order. The list may be empty; whether to send it
    then is the subscription's ``report_if_empty``.

    A subscription made by a partner user delivers only what that user may query, redacted
    (``medtrace.accounts.scoping``). Load the subscription with
    ``select_related("query", "created_by")`` to keep this to one statement.
    """
    owner = subscription.created_by
    stored = parse_query(
        subscription.query.query, from_url=False, epc_scope=scoping.custody_epcs(owner)
    )
    query = EventQuery(
        q=stored.q,
        order_by="recordTime",
        descending=False,
        record_ge=stored.record_ge,
        record_lt=stored.record_lt,
    )
    cutoff = (now or timezone.now()) - SUBSCRIPTION_SETTLE
    query.record_lt = min(filter(None, (query.record_lt, cutoff)))
    after = None
    if subscription.last_event_pk is None:
        query.record_ge = max(filter(None, (query.record_ge, subscription.last_record_time)))
    else:
        after = [subscription.last_record_time.isoformat(), subscription.last_event_pk]
    # A partner's subscription delivers what its creator may query, redacted the same way.
    if scoping.is_partner(owner):
        query.q &= scoping.event_q(owner)
    page = event_page(query, after=after, size=limit)
    return query_document(
        scoping.redact_events(owner, [event_document(e) for e in page.events]),
        query_name=subscription.query.name,
        subscription_id=str(subscription.pk),
    )


def subscription_advance(*, subscription: QuerySubscription, document: dict[str, Any]) -> None:
    """Record that ``document`` (from ``subscription_results``) was delivered: the next
    results start after its last event. Call it only after the subscriber answered 2xx."""
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    now = timezone.now()
    changes: dict[str, Any] = {"last_notified_at": now}
    if events:
        last = events[-1]
        # The keyset is (effective recordTime, event pk): the document carries both, the
        # recordTime exactly (microseconds, UTC) and the pk through the unique eventID.
        changes["last_record_time"] = datetime.fromisoformat(last["recordTime"])
        changes["last_event_pk"] = Event.objects.only("pk").get(event_id=last["eventID"]).pk
    QuerySubscription.objects.filter(pk=subscription.pk).update(**changes)
    for name, value in changes.items():
        setattr(subscription, name, value)


def subscription_signature(subscription: QuerySubscription, body: bytes) -> str | None:
    """The ``GS1-Signature`` header value: HMAC-SHA256 of the exact body with the client's
    signatureToken, as ``sha256=<hex>``; None when the client gave no token."""
    if not subscription.signature_token:
        return None
    digest = hmac.new(subscription.signature_token.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
