"""EPCIS 2.0 REST binding: named queries and their webhook subscriptions (/queries/...).

Named queries are shared by every internal client of the repository (EPCIS §8.2.5); only their
creator (or an administrator) may delete one. A partner user sees and runs only the queries its
own users created (another's is 404), and its results are scoped to its party (see
``epcis_query``). A subscription belongs to the user who made it: its callback URL is that
client's business, so others neither list nor see it; what it delivers is scoped to its creator.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from medtrace.accounts.models import User

from .epcis_http import gs1_headers, json_response, problem
from .epcis_query import (
    NOT_FOUND,
    SECURITY,
    events_response,
    negotiate,
    next_link,
    page_state,
    per_page,
    query_problem,
    query_view,
    resource,
)
from .epcis_query_params import QueryError
from .epcis_query_select import iso, token_dump
from .epcis_query_subscriptions import (
    named_query_create,
    named_query_delete,
    subscription_create,
    subscription_delete,
)
from .models_queries import NamedQuery, QuerySubscription

_JSON_TYPES = ("application/json", "application/ld+json", "")
# Query-string parameters of the REST binding's WebSocket subscriptions (/queries/{name}/events).
_WEBSOCKET = {
    "stream",
    "second",
    "minute",
    "hour",
    "dayOfMonth",
    "month",
    "dayOfWeek",
    "reportIfEmpty",
    "initialRecordTime",
}


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _json_body(request: HttpRequest) -> Any:
    media = request.content_type or ""
    if media not in _JSON_TYPES:
        raise QueryError(
            None,
            f"Unsupported media type {media!r}: send application/json",
            type_="epcisException:UnsupportedMediaTypeException",
            status=415,
        )
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QueryError(
            None, f"The body is not valid JSON: {exc}", type_="epcisException:ValidationException"
        ) from None


def _named_queries(request: HttpRequest) -> QuerySet[NamedQuery]:
    """The named queries the user may see: all of them, or a partner's own party's."""
    qs = NamedQuery.objects.all()
    user = _user(request)
    if user is not None and user.party_id is not None:
        qs = qs.filter(created_by__party_id=user.party_id)
    return qs


def _query_or_404(request: HttpRequest, name: str) -> NamedQuery | HttpResponse:
    query = _named_queries(request).filter(name=name).first()
    if query is None:
        return problem(
            404,
            "epcisException:NoSuchNameException",
            f"No query named {name!r}",
            detail="GET /epcis/queries lists the named queries",
        )
    return query


def _definition(query: NamedQuery) -> dict[str, Any]:
    return {"name": query.name, "query": query.query}


def _location(*parts: str) -> str:
    return "/epcis/" + "/".join(quote(p, safe="") for p in parts)


# -- /queries -----------------------------------------------------------------------------------


def _queries_get(request: HttpRequest) -> HttpResponse:
    media = negotiate(request, ld=False)
    if isinstance(media, HttpResponse):
        return media
    try:
        size = per_page(request)
        token = request.GET.get("nextPageToken")
        after = page_state(request, token)["a"] if token else None
    except QueryError as exc:
        return query_problem(exc)
    qs = _named_queries(request).order_by("name")
    if after is not None:
        qs = qs.filter(name__gt=after)
    rows = list(qs[: size + 1])
    headers: dict[str, str] = {}
    if len(rows) > size:
        rows = rows[:size]
        state = {"p": request.path, "u": getattr(request.user, "pk", None), "a": rows[-1].name}
        headers = next_link(request, size, token_dump(state))
    return json_response(
        [_definition(q) for q in rows], content_type="application/json", headers=headers
    )


def _queries_post(request: HttpRequest) -> HttpResponse:
    try:
        query = named_query_create(data=_json_body(request), user=_user(request))
    except QueryError as exc:
        return query_problem(exc)
    return json_response(
        _definition(query),
        status=201,
        content_type="application/json",
        headers={"Location": _location("queries", query.name)},
    )


queries = resource(
    ["GET", "POST"], {"GET": query_view(_queries_get), "POST": query_view(_queries_post)}
)


def _query_get(request: HttpRequest, name: str) -> HttpResponse:
    query = _query_or_404(request, name)
    if isinstance(query, HttpResponse):
        return query
    return json_response(_definition(query), content_type="application/json")


def _may_change(request: HttpRequest, owner_id: int | None) -> bool:
    user = _user(request)
    return user is not None and (user.is_superuser or user.pk == owner_id)


def _query_delete(request: HttpRequest, name: str) -> HttpResponse:
    query = _query_or_404(request, name)
    if isinstance(query, HttpResponse):
        return query
    if not _may_change(request, query.created_by_id):
        return problem(
            403, SECURITY, f"Only the creator of {name!r} or an administrator may delete it"
        )
    named_query_delete(query=query, user=_user(request))
    return gs1_headers(HttpResponse(status=204))


query_detail = resource(
    ["GET", "DELETE"], {"GET": query_view(_query_get), "DELETE": query_view(_query_delete)}
)


def _query_events_get(request: HttpRequest, name: str) -> HttpResponse:
    query = _query_or_404(request, name)
    if isinstance(query, HttpResponse):
        return query
    asked = sorted(_WEBSOCKET & set(request.GET))
    if asked or request.headers.get("Upgrade", "").lower() == "websocket":
        return problem(
            400,
            "epcisException:SubscriptionControlsException",
            "WebSocket subscriptions are not offered; subscribe with a webhook: POST "
            f"{_location('queries', name, 'subscriptions')}",
            parameter=asked[0] if asked else None,
        )
    return events_response(request, fixed=query.query, query_name=query.name, url_filters=False)


query_events = resource(["GET"], {"GET": query_view(_query_events_get)})


# -- /queries/{name}/subscriptions ------------------------------------------------------------


def subscription_document(subscription: QuerySubscription) -> dict[str, Any]:
    """The REST representation; the signatureToken (a shared secret) is never returned."""
    body: dict[str, Any] = {
        "subscriptionID": str(subscription.pk),
        "queryName": subscription.query.name,
        "dest": subscription.dest,
        "createdAt": iso(subscription.created_at),
        "initialRecordTime": iso(subscription.initial_record_time),
        "minRecordTime": iso(subscription.last_record_time),
    }
    if subscription.stream:
        body["stream"] = True
    else:
        body["reportIfEmpty"] = subscription.report_if_empty
        body["schedule"] = subscription.schedule
    if subscription.last_notified_at is not None:
        body["lastNotifiedAt"] = iso(subscription.last_notified_at)
    return body


def _visible(request: HttpRequest, query: NamedQuery) -> QuerySet[QuerySubscription]:
    qs = QuerySubscription.objects.filter(query=query, active=True).select_related("query")
    user = _user(request)
    if user is None or not user.is_superuser:
        qs = qs.filter(created_by=user)
    return qs


def _subscriptions_get(request: HttpRequest, name: str) -> HttpResponse:
    query = _query_or_404(request, name)
    if isinstance(query, HttpResponse):
        return query
    try:
        size = per_page(request)
        token = request.GET.get("nextPageToken")
        after = page_state(request, token)["a"] if token else None
    except QueryError as exc:
        return query_problem(exc)
    qs = _visible(request, query).order_by("id")
    if after is not None:
        qs = qs.filter(id__gt=UUID(after))
    rows = list(qs[: size + 1])
    headers: dict[str, str] = {}
    if len(rows) > size:
        rows = rows[:size]
        state = {"p": request.path, "u": getattr(request.user, "pk", None), "a": str(rows[-1].pk)}
        headers = next_link(request, size, token_dump(state))
    return json_response(
        [subscription_document(s) for s in rows], content_type="application/json", headers=headers
    )


def _subscriptions_post(request: HttpRequest, name: str) -> HttpResponse:
    query = _query_or_404(request, name)
    if isinstance(query, HttpResponse):
        return query
    try:
        subscription = subscription_create(
            query=query, data=_json_body(request), user=_user(request)
        )
    except QueryError as exc:
        return query_problem(exc)
    location = _location("queries", name, "subscriptions", str(subscription.pk))
    return json_response(
        subscription_document(subscription),
        status=201,
        content_type="application/json",
        headers={"Location": location},
    )


subscriptions = resource(
    ["GET", "POST"],
    {"GET": query_view(_subscriptions_get), "POST": query_view(_subscriptions_post)},
)


def _subscription_or_404(
    request: HttpRequest, name: str, subscription_id: str
) -> QuerySubscription | HttpResponse:
    query = _query_or_404(request, name)
    if isinstance(query, HttpResponse):
        return query
    try:
        key = UUID(subscription_id)
    except ValueError:
        key = None
    found = _visible(request, query).filter(pk=key).first() if key else None
    if found is None:
        return problem(404, NOT_FOUND, f"No subscription {subscription_id} to query {name!r}")
    return found


def _subscription_get(request: HttpRequest, name: str, subscription_id: str) -> HttpResponse:
    found = _subscription_or_404(request, name, subscription_id)
    if isinstance(found, HttpResponse):
        return found
    response = json_response(subscription_document(found), content_type="application/json")
    response["GS1-Query-Min-Record-Time"] = iso(found.last_record_time)
    return response


def _subscription_delete(request: HttpRequest, name: str, subscription_id: str) -> HttpResponse:
    found = _subscription_or_404(request, name, subscription_id)
    if isinstance(found, HttpResponse):
        return found
    subscription_delete(subscription=found, user=_user(request))
    return gs1_headers(HttpResponse(status=204))


subscription_detail = resource(
    ["GET", "DELETE"],
    {"GET": query_view(_subscription_get), "DELETE": query_view(_subscription_delete)},
)
