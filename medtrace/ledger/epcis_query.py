"""EPCIS 2.0 REST binding, query side: /events, /events/{eventID} and the top-level resources.

Views stay thin: parse the request, call a selector from ``epcis_query_select``, render. Every
error is an RFC 7807 problem with the EPCIS exception type the OpenAPI names; every response
carries the GS1 headers.

Partner users (a Party's staff) query through the same views, scoped by
``medtrace.accounts.scoping`` (DESIGN §9): events outside their party's scope are simply not in
the results, an out-of-scope event or EPC named in the path answers 404 (as if it did not
exist), and each returned event has its EPC lists cut to the objects in scope
(``scoping.redact_events``). Capture stays refused to partners (``epcis_capture``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from medtrace.accounts import scoping
from medtrace.accounts.models import User

from . import epcis_capture
from .epcis_http import authenticated, gs1_headers, json_response, problem
from .epcis_query_params import EventQuery, QueryError, parse_query
from .epcis_query_select import (
    EPCIS_CONTEXT,
    PER_PAGE_DEFAULT,
    PER_PAGE_MAX,
    TOKEN_TTL,
    collection_page,
    event_by_id,
    event_count_exceeds,
    event_document,
    event_page,
    events_exist,
    iso,
    query_document,
    standard_member,
    token_dump,
    token_load,
)

View = Callable[..., HttpResponse]
logger = logging.getLogger(__name__)

SIMPLE_EVENT_QUERY = "SimpleEventQuery"
TOP_LEVEL = [
    "queries", "capture", "events", "eventTypes", "epcs", "readPoints", "bizLocations",
    "dispositions", "bizSteps",
]  # fmt: skip
_PAGING = ("perPage", "nextPageToken")
NOT_FOUND = "epcisException:NoSuchResourceException"
SECURITY = "epcisException:SecurityException"


# -- plumbing shared by every EPCIS query view -------------------------------------------------


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Longer query strings are refused before parsing (REST binding: 414 URITooLongException);
# a query that needs more belongs in a named query's JSON body.
MAX_URL = 16 * 1024


def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """CSRF protection for a signed-in browser; a bearer token is not a cookie, so it is exempt.

    ``authenticated`` exempts every request from CSRF; without this a page elsewhere could make
    a signed-in user's browser create a subscription that sends ledger data to its own URL.
    """
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return None
    middleware = CsrfViewMiddleware(lambda _request: HttpResponse())
    middleware.process_request(request)
    if middleware.process_view(request, _csrf_checked, (), {}) is None:
        return None
    return problem(
        403, SECURITY, "CSRF verification failed: send the CSRF token, or use an API token"
    )


def _csrf_checked(request: HttpRequest) -> HttpResponse:  # a view that is not csrf_exempt
    return HttpResponse()


def resource(allow: list[str], handlers: Mapping[str, View]) -> View:
    """One URL, several methods: answers OPTIONS (Allow + GS1 headers), 405 and unexpected
    errors as problems, and checks CSRF for unsafe methods from a browser session."""
    allowed = ", ".join(["OPTIONS", *allow])

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            response = gs1_headers(HttpResponse(status=204))
            response["Allow"] = allowed
            return response
        handler = handlers.get(request.method or "")
        if handler is None:
            response = problem(
                405,
                "epcisException:ValidationException",
                f"{request.method} is not allowed on this resource; use {allowed}",
            )
            response["Allow"] = allowed
            return response
        if request.method in _UNSAFE and (refused := _csrf_refusal(request)) is not None:
            return refused
        if len(request.get_full_path()) > MAX_URL:
            return problem(
                414,
                "epcisException:URITooLongException",
                f"The URL is longer than {MAX_URL} characters; send a long query as a named "
                "query (POST /epcis/queries) and read its events",
            )
        try:
            return handler(request, *args, **kwargs)
        except Exception:
            logger.exception("EPCIS %s %s failed", request.method, request.path)
            return problem(
                500,
                "epcisException:ImplementationException",
                "The server failed to answer this request; the error is logged",
            )

    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


@csrf_exempt
def unknown(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other path under /epcis/: a problem, not Django's HTML page."""
    return not_found(f"EPCIS resource /epcis/{rest}; GET /epcis/ lists the top-level resources")


def query_view(view: View) -> View:
    """Bearer token with epcis:query (or a session); partners are scoped by the selectors."""
    return authenticated("epcis:query")(view)


def request_user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def scoped(query: EventQuery, user: User | None) -> EventQuery:
    """``query`` limited to the events ``user`` may see (unchanged for internal users)."""
    if scoping.is_partner(user):
        query.q &= scoping.event_q(user)
    return query


def documents(events: list[Any], user: User | None) -> list[dict[str, Any]]:
    """The events as ``user`` may read them: a partner's with other parties' EPCs removed."""
    return scoping.redact_events(user, [event_document(e) for e in events])


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.strip().split("."))
    except ValueError:
        return None


def negotiate(request: HttpRequest, *, ld: bool = True) -> str | HttpResponse:
    """The JSON media type to answer with, or a 406 problem.

    JSON-LD is the default; ``application/json`` when the client prefers it. The GS1 version
    headers are checked too: this server speaks EPCIS 2.0.0 and CBV 2.0.0 only.
    """
    for header, mine in (("GS1-EPCIS-Min", "2.0.0"), ("GS1-CBV-Min", "2.0.0")):
        wanted = request.headers.get(header)
        if wanted and (_version(wanted) or (0,)) > _version(mine):  # type: ignore[operator]
            return problem(
                406,
                "epcisException:NotAcceptableException",
                f"{header} {wanted} is above the {mine} this server supports",
            )
    for header, mine in (("GS1-EPCIS-Max", "2.0.0"), ("GS1-CBV-Max", "2.0.0")):
        wanted = request.headers.get(header)
        if wanted and (_version(wanted) or (99,)) < _version(mine):  # type: ignore[operator]
            return problem(
                406,
                "epcisException:NotAcceptableException",
                f"{header} {wanted} is below the {mine} this server supports",
            )
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return "application/ld+json" if ld else "application/json"
    best: tuple[float, int, str] | None = None
    for media_range in accept.split(","):
        kind, _, params = media_range.strip().partition(";")
        kind = kind.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind == "application/ld+json":
            offer = "application/ld+json"
        elif kind == "application/json":
            offer = "application/json"
        elif kind in ("*/*", "application/*"):
            offer = "application/ld+json" if ld else "application/json"
        else:
            continue
        # Highest quality wins; on a tie, an explicit type beats a wildcard, then JSON-LD.
        score = (quality, 0 if "*" in kind else 1, offer)
        if quality > 0 and (best is None or score[:2] > best[:2]):
            best = score
    if best is None:
        return problem(
            406,
            "epcisException:NotAcceptableException",
            f"Cannot answer with {accept!r}; this resource is available as application/ld+json "
            "or application/json",
        )
    return best[2]


def query_problem(exc: QueryError) -> HttpResponse:
    return problem(exc.status, exc.type, exc.message, parameter=exc.parameter)


def not_found(what: str) -> HttpResponse:
    return problem(404, NOT_FOUND, f"No {what}")


def per_page(request: HttpRequest) -> int:
    raw = request.GET.getlist("perPage")
    if not raw:
        return PER_PAGE_DEFAULT
    text = raw[0].strip()
    # isascii: "²".isdigit() is true, and int("²") fails.
    if (
        len(raw) > 1
        or not (text.isascii() and text.isdigit())
        or not 1 <= int(text) <= PER_PAGE_MAX
    ):
        raise QueryError("perPage", f"perPage: expected a whole number from 1 to {PER_PAGE_MAX}")
    return int(raw[0])


def next_link(request: HttpRequest, size: int, token: str) -> dict[str, str]:
    url = request.build_absolute_uri(
        f"{request.path}?{urlencode({'perPage': size, 'nextPageToken': token})}"
    )
    return {
        "Link": f'<{url}>; rel="next"',
        "GS1-Next-Page-Token-Expires": iso(timezone.now() + TOKEN_TTL),
    }


def _user_key(request: HttpRequest) -> int | None:
    return getattr(request.user, "pk", None)


def page_state(request: HttpRequest, token: str) -> dict[str, Any]:
    """The state a token carries, checked to belong to this resource and this user."""
    state = token_load(token)
    if state.get("p") != request.path or state.get("u") != _user_key(request):
        raise QueryError(
            "nextPageToken", "nextPageToken belongs to another resource or another user"
        )
    return state


# -- events ------------------------------------------------------------------------------------


def _merge(fixed: EventQuery, given: EventQuery) -> EventQuery:
    """Both queries must hold: a path or named-query part AND the URL's parameters."""
    merged = EventQuery(q=fixed.q & given.q)
    for source in (fixed, given):
        if source.order_by is not None:
            merged.order_by, merged.descending = source.order_by, source.descending
        merged.event_count_limit = source.event_count_limit or merged.event_count_limit
        if source.max_event_count is not None:
            merged.max_event_count = source.max_event_count
        if source.record_ge is not None:
            merged.record_ge = max(filter(None, (merged.record_ge, source.record_ge)))
        if source.record_lt is not None:
            merged.record_lt = min(filter(None, (merged.record_lt, source.record_lt)))
    return merged


def events_response(
    request: HttpRequest,
    *,
    fixed: dict[str, Any],
    query_name: str = SIMPLE_EVENT_QUERY,
    url_filters: bool = True,
) -> HttpResponse:
    """Run a query (``fixed`` JSON parameters AND the URL's) and render one page of it."""
    media = negotiate(request)
    if isinstance(media, HttpResponse):
        return media
    try:
        size = per_page(request)
        given = {k: v for k, v in request.GET.lists() if k not in _PAGING}
        token = request.GET.get("nextPageToken")
        if token:
            state = page_state(request, token)
            if given and given != state["q"]:
                raise QueryError(
                    "nextPageToken",
                    "nextPageToken continues a query with other parameters; send it with "
                    "perPage only, as in the Link header",
                )
            given, fixed, after, served = state["q"], state["f"], state["a"], state["n"]
        else:
            after, served = None, 0
            if given and not url_filters:
                name = next(iter(given))
                raise QueryError(
                    name,
                    f"unknown query parameter {name!r}: a named query's results take only "
                    "perPage and nextPageToken; change the query definition instead",
                )
        user = request_user(request)
        epc_scope = scoping.custody_epcs(user)
        query = _merge(
            parse_query(fixed, from_url=False, epc_scope=epc_scope),
            parse_query(given, from_url=True, epc_scope=epc_scope),
        )
        query = scoped(query, user)
        if (
            not token
            and query.max_event_count is not None
            and event_count_exceeds(query, query.max_event_count)
        ):
            return problem(
                413,
                "epcisException:QueryTooLargeException",
                f"More than maxEventCount={query.max_event_count} events match; narrow the "
                "query or raise maxEventCount",
                parameter="maxEventCount",
            )
        limit = query.event_count_limit
        take = size if limit is None else max(0, min(size, limit - served))
        page = event_page(query, after=after, size=take) if take else None
    except QueryError as exc:
        return query_problem(exc)
    events = page.events if page else []
    headers: dict[str, str] = {"GS1-EPC-Format": "Never_Translates"}
    served += len(events)
    if page and page.next_key is not None and (limit is None or served < limit):
        state = {
            "p": request.path,
            "u": _user_key(request),
            "f": fixed,
            "q": given,
            "a": page.next_key,
            "n": served,
        }
        headers.update(next_link(request, size, token_dump(state)))
    body = query_document(documents(events, request_user(request)), query_name=query_name)
    return json_response(body, content_type=media, headers=headers)


@query_view
def _events_get(request: HttpRequest) -> HttpResponse:
    return events_response(request, fixed={})


events = resource(
    ["GET", "POST"],
    {
        "GET": _events_get,
        "POST": authenticated("epcis:capture", partner_scope=epcis_capture.PARTNER_RECEIVE)(
            epcis_capture.post_event
        ),
    },
)


@query_view
def _event_get(request: HttpRequest, event_id: str) -> HttpResponse:
    media = negotiate(request)
    if isinstance(media, HttpResponse):
        return media
    user = request_user(request)
    event = event_by_id(event_id, user=user)
    if event is None:  # or outside a partner's scope: the same answer
        return not_found(f"event with eventID {event_id}")
    body = query_document(documents([event], user), query_name=SIMPLE_EVENT_QUERY)
    return json_response(body, content_type=media, headers={"GS1-EPC-Format": "Never_Translates"})


event_detail = resource(["GET"], {"GET": _event_get})


# -- root and top-level resources ---------------------------------------------------------------


def _collection(members: list[str], media: str) -> HttpResponse:
    body = {"@context": EPCIS_CONTEXT, "type": "Collection", "member": members}
    return json_response(body, content_type=media)


@query_view
def _root_get(request: HttpRequest) -> HttpResponse:
    media = negotiate(request)
    if isinstance(media, HttpResponse):
        return media
    return _collection(TOP_LEVEL, media)


root = resource(["GET"], {"GET": _root_get})

# The query parameter a path value stands for, per top-level resource.
_PATH_PARAMETER = {
    "eventTypes": "eventType",
    "epcs": "MATCH_anyEPC",
    "bizSteps": "EQ_bizStep",
    "bizLocations": "EQ_bizLocation",
    "readPoints": "EQ_readPoint",
    "dispositions": "EQ_disposition",
}


def _collection_get(request: HttpRequest, resource_name: str) -> HttpResponse:
    media = negotiate(request)
    if isinstance(media, HttpResponse):
        return media
    try:
        size = per_page(request)
        token = request.GET.get("nextPageToken")
        after = page_state(request, token)["a"] if token else None
        unknown = [k for k in request.GET if k not in _PAGING]
        if unknown:
            raise QueryError(
                unknown[0],
                f"unknown parameter {unknown[0]!r}: this collection "
                "takes only perPage and nextPageToken",
            )
    except QueryError as exc:
        return query_problem(exc)
    members, more = collection_page(
        resource_name, after=after, size=size, user=request_user(request)
    )
    headers: dict[str, str] = {}
    if more and members:
        state = {"p": request.path, "u": _user_key(request), "a": members[-1]}
        headers = next_link(request, size, token_dump(state))
    body = {"@context": EPCIS_CONTEXT, "type": "Collection", "member": members}
    return json_response(body, content_type=media, headers=headers)


def _hidden_epc(request: HttpRequest, resource_name: str, value: str) -> bool:
    """An EPC outside a partner's scope: 404, even where an event in scope names it (that
    event comes back with the EPC redacted)."""
    user = request_user(request)
    if resource_name != "epcs" or not scoping.is_partner(user):
        return False
    from .identifiers import EpcResolver

    return not scoping.epcs_in_scope(user, [EpcResolver().canonical(value)])


def _item_get(request: HttpRequest, resource_name: str, value: str) -> HttpResponse:
    media = negotiate(request)
    if isinstance(media, HttpResponse):
        return media
    try:
        # The member's events query: it accepts every spelling (CBV forms, Digital Link URIs).
        query = parse_query({_PATH_PARAMETER[resource_name]: [value]}, from_url=False)
    except QueryError:
        return not_found(f"{resource_name} member {value}")
    if _hidden_epc(request, resource_name, value):
        return not_found(f"{resource_name} member {value}")
    if not standard_member(resource_name, value) and not events_exist(
        scoped(query, request_user(request))
    ):
        return not_found(f"{resource_name} member {value}")
    return _collection(["events"], media)


def _item_events_get(request: HttpRequest, resource_name: str, value: str) -> HttpResponse:
    parameter = _PATH_PARAMETER[resource_name]
    try:
        parse_query({parameter: [value]}, from_url=False)
    except QueryError:
        return not_found(f"{resource_name} member {value}")
    if _hidden_epc(request, resource_name, value):
        return not_found(f"{resource_name} member {value}")
    return events_response(request, fixed={parameter: [value]})


def top_level(resource_name: str) -> tuple[View, View, View]:
    """The (collection, member, member events) views of one top-level resource."""
    collection = resource(
        ["GET"], {"GET": query_view(lambda request: _collection_get(request, resource_name))}
    )
    item = resource(
        ["GET"],
        {"GET": query_view(lambda request, value: _item_get(request, resource_name, value))},
    )
    item_events = resource(
        ["GET"],
        {"GET": query_view(lambda request, value: _item_events_get(request, resource_name, value))},
    )
    return collection, item, item_events


def _next_page_token_delete(request: HttpRequest, token: str) -> HttpResponse:
    return problem(
        501,
        "epcisException:ImplementationException",
        "nextPageToken holds no server-side resources to release; it simply expires "
        f"{int(TOKEN_TTL.total_seconds() // 3600)} hours after it was issued",
    )


next_page_token = resource(["DELETE"], {"DELETE": query_view(_next_page_token_delete)})
