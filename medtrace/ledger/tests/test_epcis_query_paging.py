"""Paging, the single-event resource, top-level resources, negotiation, OPTIONS and access."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing
from django.test import Client

from medtrace.ledger.models import Event
from medtrace.ledger.tests import builders as b

from .test_epcis_query_support import (
    capture,
    epcis_client,
    event_url,
    events_of,
    get,
    ids_of,
    next_url,
    problem_of,
    required_next_url,
)

PARAMETER = "epcisException:QueryParameterException"
NOT_FOUND = "epcisException:NoSuchResourceException"
SECURITY = "epcisException:SecurityException"


def eid(n: int) -> str:
    return f"urn:uuid:10000000-0000-4000-8000-{n:012d}"


@pytest.fixture
def many(qa_manager: Any) -> Any:
    """25 events in two captures; several share an eventTime so ties need the id."""
    first = [
        b.observe([b.sgtin(str(n))], f"2025-02-01T{n // 3:02d}:00:00Z", eventID=eid(n),
                  bizStep="shipping" if n % 2 else "receiving", readPoint={"id": b.sgln("6")})
        for n in range(15)
    ]  # fmt: skip
    second = [
        b.observe([b.sgtin(str(n))], f"2025-02-01T{n // 3:02d}:00:00Z", eventID=eid(n),
                  bizStep="shipping" if n % 2 else "receiving", readPoint={"id": b.sgln("6")})
        for n in range(15, 25)
    ]  # fmt: skip
    capture(*first, user=qa_manager)
    capture(*second, user=qa_manager)
    return epcis_client(qa_manager)


def walk(client: Client, first: str, params: dict[str, Any]) -> tuple[list[str], int]:
    """Follow Link rel=next to the end: (every eventID in order, pages)."""
    response = client.get(first, params)
    seen = ids_of(response)
    pages = 1
    while (url := next_url(response)) is not None:
        response = client.get(url)
        seen += ids_of(response)
        pages += 1
    return seen, pages


# -- paging -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "order",
    [
        {},
        {"orderBy": "eventTime"},
        {"orderBy": "eventTime", "orderDirection": "ASC"},
        {"orderBy": "recordTime"},
        {"orderBy": "recordTime", "orderDirection": "ASC"},
    ],
)
def test_pages_cover_every_event_once_in_order(many, order):
    # When all events are read 4 per page by following the Link header
    seen, pages = walk(many, "/epcis/events", {"perPage": 4, **order})
    # Then every event comes exactly once, in the requested order, in ceil(25 / 4) pages
    assert sorted(seen) == sorted(eid(n) for n in range(25))
    assert len(seen) == len(set(seen)) == 25
    assert pages == 7
    if order.get("orderBy") == "eventTime":
        times = [Event.objects.get(event_id=e).event_time for e in seen]
        assert times == sorted(times, reverse=order.get("orderDirection") != "ASC")


@pytest.mark.django_db
def test_the_link_header_carries_only_per_page_and_a_signed_token(many):
    response = get(many, perPage=10, EQ_bizStep="shipping")
    link = response["Link"]
    assert link.startswith("<http://testserver/epcis/events?perPage=10&nextPageToken=")
    assert link.endswith('>; rel="next"')
    assert response["GS1-Next-Page-Token-Expires"].endswith("Z")
    # The filter travels inside the token: the next page is still only shipping events
    rest = events_of(many.get(required_next_url(response)))
    assert {e["bizStep"] for e in rest} == {"shipping"}
    assert len(ids_of(response)) + len(rest) == 12


@pytest.mark.django_db
def test_an_event_captured_between_pages_causes_no_gap_or_duplicate(many, qa_manager):
    # Given the first page, oldest first by id
    response = get(many, perPage=10)
    first = ids_of(response)
    # When another event is captured before the next page is read
    capture(b.observe([b.sgtin("99")], "2020-01-01T00:00:00Z", eventID=eid(99)), user=qa_manager)
    rest, _pages = walk(many, required_next_url(response), {})
    # Then the pages continue exactly where they stopped
    assert len(set(first) | set(rest)) == len(first) + len(rest) == 26


@pytest.mark.django_db
def test_event_count_limit_spans_pages(many):
    seen, pages = walk(
        many, "/epcis/events", {"perPage": 4, "orderBy": "eventTime", "eventCountLimit": 10}
    )
    assert len(seen) == 10 and pages == 3


@pytest.mark.django_db
def test_a_forged_or_altered_token_is_refused(many):
    token = required_next_url(get(many, perPage=5)).split("nextPageToken=")[1]
    forged = signing.dumps({"p": "/epcis/events", "u": 1, "f": {}, "q": {}, "a": [0], "n": 0})
    for bad in (forged, token[:-3] + "abc", "garbage"):
        body = problem_of(get(many, nextPageToken=bad), 400, PARAMETER)
        assert body["parameter"] == "nextPageToken"


@pytest.mark.django_db
def test_a_token_is_valid_only_for_its_resource_its_user_and_its_query(many, auditor):
    url = required_next_url(get(many, perPage=5, EQ_bizStep="shipping"))
    token = url.split("nextPageToken=")[1]
    # another resource
    problem_of(
        many.get(f"/epcis/eventTypes/ObjectEvent/events?nextPageToken={token}"), 400, PARAMETER
    )
    # another user
    problem_of(epcis_client(auditor).get(url), 400, PARAMETER)
    # other parameters
    body = problem_of(many.get(f"{url}&EQ_bizStep=receiving"), 400, PARAMETER)
    assert "other parameters" in body["title"]
    # the same parameters again are fine
    assert many.get(f"{url}&EQ_bizStep=shipping").status_code == 200


@pytest.mark.django_db
def test_releasing_a_token_is_not_implemented_because_tokens_hold_nothing(many):
    token = required_next_url(get(many, perPage=5)).split("nextPageToken=")[1]
    body = problem_of(
        many.delete(f"/epcis/nextPageToken/{token}"), 501, "epcisException:ImplementationException"
    )
    assert "expires" in body["title"]


@pytest.mark.django_db
def test_a_page_is_one_statement(many, django_assert_max_num_queries):
    url = required_next_url(get(many, perPage=5, orderBy="recordTime"))
    # 2 for the API token (lookup, last-used stamp), 1 for the page of events
    with django_assert_max_num_queries(3):
        assert len(ids_of(many.get(url))) == 5


# -- /events/{eventID} -----------------------------------------------------------------------


@pytest.mark.django_db
def test_one_event_by_an_event_id_with_colons_slashes_and_a_query_mark(qa_manager):
    # Given an event identified by its GS1 event hash (ni:///sha-256;...?ver=CBV2.0)
    capture(b.observe([b.sgtin("5")], "2025-02-01T00:00:00Z"), user=qa_manager)
    event_id = Event.objects.get().event_id
    assert event_id.startswith("ni:///sha-256;") and "?ver=CBV2.0" in event_id
    client = epcis_client(qa_manager)
    # When it is read by its URL-encoded eventID
    response = client.get(event_url(event_id))
    # Then it is the only event of a query document
    assert ids_of(response) == [event_id]
    assert response["GS1-EPCIS-Version"] == "2.0.0"


@pytest.mark.django_db
def test_an_unknown_event_id_is_not_found(qa_manager):
    body = problem_of(epcis_client(qa_manager).get(event_url("urn:uuid:nope")), 404, NOT_FOUND)
    assert "urn:uuid:nope" in body["title"]


# -- top-level resources ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_root_lists_the_top_level_resources(qa_manager):
    body = epcis_client(qa_manager).get("/epcis/").json()
    assert body["type"] == "Collection"
    assert set(body["member"]) == {
        "queries",
        "capture",
        "events",
        "eventTypes",
        "epcs",
        "readPoints",
        "bizLocations",
        "dispositions",
        "bizSteps",
    }


@pytest.mark.django_db
def test_event_types_are_the_five_standard_types(qa_manager):
    body = epcis_client(qa_manager).get("/epcis/eventTypes").json()
    assert body["member"] == [
        "AggregationEvent",
        "AssociationEvent",
        "ObjectEvent",
        "TransactionEvent",
        "TransformationEvent",
    ]


@pytest.mark.django_db
def test_biz_steps_list_the_cbv_terms_and_custom_uris_in_use_page_by_page(qa_manager):
    # Given an event with a custom business step
    capture(
        b.observe(
            [b.sgtin("1")],
            "2025-02-01T00:00:00Z",
            bizStep="https://ns.example.com/epcis/sterilising",
        ),
        user=qa_manager,
    )
    client = epcis_client(qa_manager)
    # When every page of /bizSteps is read
    response = client.get("/epcis/bizSteps", {"perPage": 10})
    members = response.json()["member"]
    while (url := next_url(response)) is not None:
        response = client.get(url)
        members += response.json()["member"]
    # Then the 41 CBV steps and the custom one each appear once
    assert len(members) == len(set(members)) == 42
    assert "shipping" in members and "https://ns.example.com/epcis/sterilising" in members


@pytest.mark.django_db
def test_value_collections_list_what_the_events_use(many, qa_manager):
    capture(b.commission([b.sgtin("70")], bizLocation={"id": b.sgln("3")}), user=qa_manager)
    epcs = many.get("/epcis/epcs", {"perPage": 1000}).json()["member"]
    assert len(epcs) == 26 and epcs == sorted(epcs)
    assert many.get("/epcis/readPoints").json()["member"] == [b.sgln("6")]
    assert many.get("/epcis/bizLocations").json()["member"] == [b.sgln("3")]
    assert "active" in many.get("/epcis/dispositions").json()["member"]


@pytest.mark.django_db
def test_a_member_resource_lists_its_events_sub_resource_or_is_not_found(many):
    assert many.get("/epcis/eventTypes/ObjectEvent").json()["member"] == ["events"]
    assert many.get(f"/epcis/epcs/{b.sgtin('3')}").json()["member"] == ["events"]
    assert many.get("/epcis/bizSteps/urn:epcglobal:cbv:bizstep:shipping").status_code == 200
    assert many.get("/epcis/readPoints/" + b.sgln("6")).status_code == 200
    # A Digital Link spelling names the same member
    assert many.get("/epcis/readPoints/https://id.gs1.org/414/6901234000061").status_code == 200
    link = "https%3A%2F%2Fid.gs1.org%2F01%2F06901234100013%2F21%2F3"
    assert many.get(f"/epcis/epcs/{link}").json()["member"] == ["events"]
    problem_of(many.get("/epcis/eventTypes/QuantityEvent"), 404, NOT_FOUND)
    problem_of(many.get(f"/epcis/epcs/{b.sgtin('404')}"), 404, NOT_FOUND)
    problem_of(many.get("/epcis/bizSteps/teleporting"), 404, NOT_FOUND)
    problem_of(many.get("/epcis/bizLocations/" + b.sgln("9")), 404, NOT_FOUND)


@pytest.mark.django_db
def test_member_events_are_the_events_query_with_that_value(many):
    assert len(ids_of(many.get("/epcis/bizSteps/shipping/events", {"perPage": 100}))) == 12
    assert ids_of(many.get(f"/epcis/epcs/{b.sgtin('3')}/events")) == [eid(3)]
    # Digital Link spelling of the same EPC, URL-encoded into the path
    link = "https%3A%2F%2Fid.gs1.org%2F01%2F06901234100013%2F21%2F3"
    assert ids_of(many.get(f"/epcis/epcs/{link}/events")) == [eid(3)]
    # The path value and query parameters both apply
    assert ids_of(
        many.get(
            "/epcis/eventTypes/ObjectEvent/events",
            {"EQ_bizStep": "receiving", "MATCH_epc": b.sgtin("4")},
        )
    ) == [eid(4)]
    assert ids_of(many.get("/epcis/eventTypes/AggregationEvent/events")) == []
    assert ids_of(many.get("/epcis/readPoints/" + b.sgln("6") + "/events", {"perPage": 100})) == [
        eid(n) for n in range(25)
    ]
    problem_of(many.get("/epcis/dispositions/broken/events"), 404, NOT_FOUND)


# -- negotiation, OPTIONS, methods ---------------------------------------------------------------


@pytest.mark.django_db
def test_content_negotiation_between_json_ld_and_json(many):
    response = many.get("/epcis/events", HTTP_ACCEPT="application/json")
    assert response["Content-Type"] == "application/json"
    response = many.get("/epcis/events", HTTP_ACCEPT="application/json;q=0.5, application/ld+json")
    assert response["Content-Type"] == "application/ld+json"
    assert many.get("/epcis/events", HTTP_ACCEPT="*/*")["Content-Type"] == "application/ld+json"
    body = problem_of(
        many.get("/epcis/events", HTTP_ACCEPT="application/xml"),
        406,
        "epcisException:NotAcceptableException",
    )
    assert "application/ld+json" in body["title"]
    problem_of(
        many.get("/epcis/events", HTTP_GS1_EPCIS_MIN="3.0.0"),
        406,
        "epcisException:NotAcceptableException",
    )
    problem_of(
        many.get("/epcis/events", HTTP_GS1_CBV_MAX="1.2.0"),
        406,
        "epcisException:NotAcceptableException",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/epcis/", "OPTIONS, GET"),
        ("/epcis/capture", "OPTIONS, GET, POST"),
        ("/epcis/capture/0b7f8e0e-52f2-4a56-bb6b-1c4c9a6fd0c7", "OPTIONS, GET"),
        ("/epcis/events", "OPTIONS, GET, POST"),
        ("/epcis/events/urn:uuid:x", "OPTIONS, GET"),
        ("/epcis/eventTypes", "OPTIONS, GET"),
        ("/epcis/eventTypes/ObjectEvent", "OPTIONS, GET"),
        ("/epcis/eventTypes/ObjectEvent/events", "OPTIONS, GET"),
        ("/epcis/epcs/urn:epc:id:sgtin:6901234.010001.1/events", "OPTIONS, GET"),
        ("/epcis/bizSteps", "OPTIONS, GET"),
        ("/epcis/bizLocations/urn:epc:id:sgln:6901234.00001.0", "OPTIONS, GET"),
        ("/epcis/readPoints", "OPTIONS, GET"),
        ("/epcis/dispositions/active/events", "OPTIONS, GET"),
        ("/epcis/queries", "OPTIONS, GET, POST"),
        ("/epcis/queries/q1", "OPTIONS, GET, DELETE"),
        ("/epcis/queries/q1/events", "OPTIONS, GET"),
        ("/epcis/queries/q1/subscriptions", "OPTIONS, GET, POST"),
        ("/epcis/queries/q1/subscriptions/abc", "OPTIONS, GET, DELETE"),
        ("/epcis/nextPageToken/abc", "OPTIONS, DELETE"),
    ],
)
def test_options_answers_allow_and_the_gs1_headers(path, allow):
    response = Client().options(path)
    assert response.status_code == 204
    assert response["Allow"] == allow
    assert response["GS1-EPCIS-Version"] == "2.0.0"
    assert response["GS1-CBV-Version"] == "2.0.0"
    assert response["GS1-EPCIS-Capture-Limit"]


@pytest.mark.django_db
def test_a_method_a_resource_does_not_have_is_a_problem_with_allow(many):
    response = many.put("/epcis/events/urn:uuid:x")
    problem_of(response, 405, "epcisException:ValidationException")
    assert response["Allow"] == "OPTIONS, GET"


@pytest.mark.django_db
def test_post_events_captures_one_event_with_the_capture_scope(qa_manager):
    event = b.observe([b.sgtin("1")], "2025-02-01T00:00:00Z", eventID=eid(500))
    event["@context"] = b.CONTEXT
    query_only = epcis_client(qa_manager, scopes=("epcis:query",))
    problem_of(
        query_only.post("/epcis/events", event, content_type="application/json"), 403, SECURITY
    )
    client = epcis_client(qa_manager)
    response = client.post("/epcis/events", event, content_type="application/json")
    assert response.status_code == 201, response.content
    assert ids_of(client.get(response["Location"])) == [eid(500)]


# -- access ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queries_need_a_token_with_the_query_scope(qa_manager):
    problem_of(Client().get("/epcis/events"), 401, SECURITY)
    problem_of(Client(HTTP_AUTHORIZATION="Bearer nope").get("/epcis/events"), 401, SECURITY)
    capture_only = epcis_client(qa_manager, scopes=("epcis:capture",))
    body = problem_of(capture_only.get("/epcis/events"), 403, SECURITY)
    assert "epcis:query" in body["title"]


@pytest.mark.django_db
def test_a_partner_user_queries_only_its_own_scope(many, hospital_a):
    # Partner scoping (accounts/scoping.py; test_epcis_partner_scope.py covers it): nothing
    # in the party's custody, so none of the 25 events, and no 403 to tell them apart.
    client = Client()
    client.force_login(hospital_a)
    assert ids_of(client.get("/epcis/events")) == []
    problem_of(client.get(event_url(eid(1))), 404, NOT_FOUND)


@pytest.mark.django_db
def test_a_signed_in_internal_user_may_query_without_a_token(qa_manager):
    client = Client()
    client.force_login(qa_manager)
    assert client.get("/epcis/eventTypes").status_code == 200


@pytest.mark.django_db
def test_a_url_too_long_for_a_query_string_is_refused(qa_manager):
    epcs = "|".join(b.sgtin(str(n)) for n in range(600))
    response = epcis_client(qa_manager).get("/epcis/events", {"MATCH_epc": epcs})
    assert "named query" in problem_of(response, 414, "epcisException:URITooLongException")["title"]


@pytest.mark.django_db
def test_an_unknown_path_under_epcis_is_a_problem_not_a_page(qa_manager):
    for method in ("get", "post", "delete"):
        response = getattr(epcis_client(qa_manager), method)("/epcis/teleports/1")
        problem_of(response, 404, NOT_FOUND)


@pytest.mark.django_db
def test_a_browser_session_must_send_the_csrf_token_to_change_anything(qa_manager):
    # Given a signed-in browser whose request carries no CSRF token
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(qa_manager)
    body = {"name": "q", "query": {}}
    # When it creates a named query, then it is refused; reading still works
    response = browser.post("/epcis/queries", body, content_type="application/json")
    assert "CSRF" in problem_of(response, 403, SECURITY)["title"]
    assert browser.get("/epcis/queries").status_code == 200
    # With the token (cookie and header agree) it is accepted; an API token never needs one
    secret = "K" * 32
    browser.cookies["csrftoken"] = secret
    response = browser.post(
        "/epcis/queries", body, content_type="application/json", HTTP_X_CSRFTOKEN=secret
    )
    assert response.status_code == 201, response.content
    api = epcis_client(qa_manager)
    assert (
        api.post(
            "/epcis/queries", {"name": "r", "query": {}}, content_type="application/json"
        ).status_code
        == 201
    )
