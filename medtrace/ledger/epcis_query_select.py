"""Selectors for the EPCIS query side: events by keyset page, value collections, documents.

Paging is keyset, never OFFSET: a page is "the next N rows after this (sort key, id)", so page
1000 costs what page 1 costs and a capture between two pages cannot shift rows into a gap or a
duplicate. The position travels in a signed ``nextPageToken`` together with the query itself.

A retracted event is returned as declared in error (EPCIS 2.0 §7.4.1.2): the stored document
with the ``errorDeclaration`` of its ``EventRetraction``. Its effective recordTime is when the
declaration was recorded, so a client polling ``GE_recordTime`` (or a subscription) learns of
the retraction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import signing
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.lib.epcis import cbv
from medtrace.lib.epcis.jsonld import KNOWN_CONTEXTS, STANDARD_CONTEXT_PREFIXES

from .epcis_query_params import EventQuery, QueryError
from .models import Event, EventEpc, EventRetraction, EventType, UnitCustody

__all__ = [
    "EPCIS_CONTEXT",
    "PER_PAGE_DEFAULT",
    "PER_PAGE_MAX",
    "TOKEN_TTL",
    "EventPage",
    "collection_page",
    "event_by_id",
    "event_count_exceeds",
    "event_document",
    "event_page",
    "events_exist",
    "iso",
    "query_document",
    "standard_member",
    "token_dump",
    "token_load",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 1000
TOKEN_TTL = timedelta(hours=24)
_TOKEN_SALT = "medtrace.ledger.epcis.nextPageToken"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- tokens -------------------------------------------------------------------------------------


def token_dump(state: dict[str, Any]) -> str:
    """An opaque, signed and compressed page token: it cannot be forged or edited."""
    return signing.dumps(state, salt=_TOKEN_SALT, compress=True)


def token_load(token: str) -> dict[str, Any]:
    try:
        state = signing.loads(token, salt=_TOKEN_SALT, max_age=TOKEN_TTL)
    except signing.SignatureExpired:
        raise QueryError(
            "nextPageToken", "nextPageToken has expired; run the query again from the first page"
        ) from None
    except signing.BadSignature:
        raise QueryError(
            "nextPageToken",
            "nextPageToken is not one this server issued (or it was altered); use the URL of "
            "the previous response's Link header",
        ) from None
    if not isinstance(state, dict):
        raise QueryError("nextPageToken", "nextPageToken is malformed")
    return state


# -- events -------------------------------------------------------------------------------------


@dataclass
class EventPage:
    events: list[Event]
    next_key: list[Any] | None  # keyset position after the last event, when more follow


def _filtered(query: EventQuery) -> QuerySet[Event]:
    qs = Event.objects.filter(query.q).select_related("retraction")
    # Effective recordTime = the declaration's, when retracted (it is always the later one).
    if query.record_ge is not None:
        qs = qs.filter(
            Q(record_time__gte=query.record_ge) | Q(retraction__record_time__gte=query.record_ge)
        )
    if query.record_lt is not None:
        qs = qs.filter(record_time__lt=query.record_lt).filter(
            Q(retraction__isnull=True) | Q(retraction__record_time__lt=query.record_lt)
        )
    return qs


def _ordered(qs: QuerySet[Event], query: EventQuery) -> tuple[QuerySet[Event], str | None, bool]:
    """The queryset in keyset order: (queryset, time field or None, descending)."""
    if query.order_by == "eventTime":
        time_field: str | None = "event_time"
    elif query.order_by == "recordTime":
        qs = qs.annotate(
            effective_record_time=Coalesce(F("retraction__record_time"), F("record_time"))
        )
        time_field = "effective_record_time"
    else:
        return qs.order_by("id"), None, False
    sign = "-" if query.descending else ""
    return qs.order_by(f"{sign}{time_field}", f"{sign}id"), time_field, query.descending


def _after(
    qs: QuerySet[Event], time_field: str | None, descending: bool, key: list[Any]
) -> QuerySet[Event]:
    further = "lt" if descending else "gt"
    if time_field is None:
        return qs.filter(id__gt=int(key[0]))
    moment = datetime.fromisoformat(key[0])
    return qs.filter(
        Q(**{f"{time_field}__{further}": moment})
        | Q(**{time_field: moment, f"id__{further}": int(key[1])})
    )


def event_page(query: EventQuery, *, after: list[Any] | None, size: int) -> EventPage:
    """One page of matching events: a single SQL statement (events joined to retractions)."""
    qs, time_field, descending = _ordered(_filtered(query), query)
    if after is not None:
        qs = _after(qs, time_field, descending, after)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_key = None
    if more and rows:
        last = rows[-1]
        if time_field is None:
            next_key = [last.pk]
        else:
            next_key = [getattr(last, time_field).isoformat(), last.pk]
    return EventPage(rows, next_key)


def event_count_exceeds(query: EventQuery, limit: int) -> bool:
    """True when more than ``limit`` events match (counts at most limit + 1 rows)."""
    return _filtered(query).order_by()[: limit + 1].count() > limit


def event_by_id(event_id: str, *, user: User | None = None) -> Event | None:
    """The event, or None when unknown or outside a partner ``user``'s scope."""
    qs = Event.objects.select_related("retraction").filter(event_id=event_id)
    return scoping.scope_events(user, qs).first()


def _retraction(event: Event) -> EventRetraction | None:
    try:
        return event.retraction
    except EventRetraction.DoesNotExist:
        return None


def event_document(event: Event) -> dict[str, Any]:
    """The event as captured (plus eventID and recordTime), as declared in error if retracted."""
    document = dict(event.document)
    retraction = _retraction(event)
    if retraction is not None:
        declared = (
            retraction.document.get("errorDeclaration")
            if isinstance(retraction.document, dict)
            else None
        )
        if not isinstance(declared, dict):
            declared = {
                "declarationTime": iso(retraction.declaration_time),
                **({"reason": retraction.reason} if retraction.reason else {}),
                **(
                    {"correctiveEventIDs": retraction.corrective_event_ids}
                    if retraction.corrective_event_ids
                    else {}
                ),
            }
        document["errorDeclaration"] = declared
        document["recordTime"] = iso(retraction.record_time)
    return document


# -- documents ----------------------------------------------------------------------------------


def _is_standard(item: Any) -> bool:
    return isinstance(item, str) and KNOWN_CONTEXTS.get(item) is STANDARD_CONTEXT_PREFIXES


def _hoist(events: Iterable[dict[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Move each event's namespace definitions to the document @context where they agree.

    An event whose definitions clash with another's, or which names a remote context other than
    the standard one, keeps its own @context (JSON-LD allows one on any node).
    """
    terms: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    for event in events:
        context = event.get("@context")
        if context is None:
            out.append(event)
            continue
        items = context if isinstance(context, list) else [context]
        mine: dict[str, Any] = {}
        movable = True
        for item in items:
            if _is_standard(item):
                continue
            if isinstance(item, dict):
                mine.update(item)  # later definitions override earlier ones, as in JSON-LD
            else:
                movable = False
        if movable and all(terms.get(k, v) == v for k, v in mine.items()):
            terms.update(mine)
            event = {k: v for k, v in event.items() if k != "@context"}
        out.append(event)
    return ([EPCIS_CONTEXT, terms] if terms else [EPCIS_CONTEXT]), out


def query_document(
    events: Iterable[dict[str, Any]], *, query_name: str, subscription_id: str | None = None
) -> dict[str, Any]:
    """An EPCISQueryDocument (EPCIS 2.0 JSON-LD) holding ``events``."""
    context, event_list = _hoist(events)
    results: dict[str, Any] = {}
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    results["queryName"] = query_name
    results["resultsBody"] = {"eventList": event_list}
    return {
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(timezone.now()),
        "epcisBody": {"queryResults": results},
    }


# -- value collections (/eventTypes, /epcs, /bizSteps, ...) -----------------------------------


Fetch = Callable[[str | None, int, User | None], list[str]]


def _distinct_events(column: str) -> Fetch:
    def fetch(after: str | None, limit: int, user: User | None) -> list[str]:
        qs = scoping.scope_events(user, Event.objects.filter(**{f"{column}__isnull": False}))
        if after is not None:
            qs = qs.filter(**{f"{column}__gt": after})
        return list(qs.order_by(column).values_list(column, flat=True).distinct()[:limit])

    return fetch


def _distinct_epcs(after: str | None, limit: int, user: User | None) -> list[str]:
    qs: QuerySet[Any] = EventEpc.objects.all()
    ids = scoping.partner_ids(user)
    if ids is not None:
        # A partner's EPCs are those in its custody (EPC classes aside): read them from there.
        qs = UnitCustody.objects.filter(party__in=ids).exclude(epc__startswith="urn:epc:class:")
    if after is not None:
        qs = qs.filter(epc__gt=after)
    return list(qs.order_by("epc").values_list("epc", flat=True).distinct()[:limit])


_COLLECTIONS: dict[str, tuple[Fetch, frozenset[str]]] = {
    "eventTypes": (lambda after, limit, user: [], frozenset(EventType.values)),
    "epcs": (_distinct_epcs, frozenset()),
    "bizSteps": (_distinct_events("biz_step"), cbv.BIZ_STEPS),
    "dispositions": (_distinct_events("disposition"), cbv.DISPOSITIONS),
    "bizLocations": (_distinct_events("biz_location"), frozenset()),
    "readPoints": (_distinct_events("read_point"), frozenset()),
}


def collection_page(
    resource: str, *, after: str | None, size: int, user: User | None = None
) -> tuple[list[str], bool]:
    """Values of a top-level resource in code-point order: the standard ones (the five event
    types, CBV terms) merged with those the ledger holds (for a partner, those of the events
    in its scope). One query at most."""
    fetch, standard = _COLLECTIONS[resource]
    stored = fetch(after, size + 1, user)
    merged = sorted({v for v in standard if after is None or v > after} | set(stored))
    page = merged[: size + 1]
    return page[:size], len(page) > size


def standard_member(resource: str, value: str) -> bool:
    """Whether ``value`` is one of the standard members of a top-level resource: the five
    event types, or a CBV business step / disposition in any spelling."""
    if resource == "eventTypes":
        return value in EventType.values
    kind = {"bizSteps": "bizStep", "dispositions": "disposition"}.get(resource)
    return kind is not None and cbv.to_bare(kind, value) is not None


def events_exist(query: EventQuery) -> bool:
    return _filtered(query).exists()
