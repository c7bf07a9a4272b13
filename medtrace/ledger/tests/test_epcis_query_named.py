"""Named queries (/epcis/queries) and webhook subscriptions, and what a subscription delivers."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from medtrace.ledger.epcis_query_subscriptions import (
    SUBSCRIPTION_SETTLE,
    subscription_advance,
    subscription_results,
    subscription_signature,
)
from medtrace.ledger.models_queries import NamedQuery, QuerySubscription
from medtrace.ledger.tests import builders as b

from .test_epcis_query_support import (
    capture,
    epcis_client,
    ids_of,
    next_url,
    problem_of,
    required_next_url,
)

SHIPPING_ONLY = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]}
SUBSCRIPTION = "epcisException:SubscriptionControlsException"
VALIDATION = "epcisException:ValidationException"


def eid(n: int) -> str:
    return f"urn:uuid:20000000-0000-4000-8000-{n:012d}"


def ship(n: int, time: str = "2025-03-01T00:00:00Z") -> dict[str, Any]:
    return b.observe([b.sgtin(str(n))], time, eventID=eid(n), bizStep="shipping")


def receive(n: int) -> dict[str, Any]:
    return b.observe([b.sgtin(str(n))], "2025-03-01T00:00:00Z", eventID=eid(n), bizStep="receiving")


def post(client: Any, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def client(qa_manager: Any) -> Any:
    return epcis_client(qa_manager)


@pytest.fixture
def shipping_query(client: Any) -> str:
    response = post(client, "/epcis/queries", {"name": "shipped", "query": SHIPPING_ONLY})
    assert response.status_code == 201, response.content
    return "shipped"


# -- named queries ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_creating_a_named_query_answers_201_with_its_location(client):
    response = post(client, "/epcis/queries", {"name": "shipped", "query": SHIPPING_ONLY})
    assert response.status_code == 201
    assert response["Location"] == "/epcis/queries/shipped"
    assert response["GS1-EPCIS-Version"] == "2.0.0"
    assert client.get("/epcis/queries/shipped").json() == {
        "name": "shipped",
        "query": SHIPPING_ONLY,
    }


@pytest.mark.django_db
def test_a_named_query_runs_as_its_events_resource(client, shipping_query, qa_manager):
    capture(ship(1), receive(2), ship(3), user=qa_manager)
    response = client.get(f"/epcis/queries/{shipping_query}/events")
    assert set(ids_of(response)) == {eid(1), eid(3)}
    assert response.json()["epcisBody"]["queryResults"]["queryName"] == "shipped"


@pytest.mark.django_db
def test_a_named_query_pages_like_any_query(client, shipping_query, qa_manager):
    capture(*[ship(n) for n in range(7)], user=qa_manager)
    response = client.get(f"/epcis/queries/{shipping_query}/events", {"perPage": 3})
    seen = ids_of(response)
    while (url := next_url(response)) is not None:
        response = client.get(url)
        seen += ids_of(response)
    assert sorted(seen) == sorted(eid(n) for n in range(7))


@pytest.mark.django_db
def test_named_queries_are_listed_by_name_page_by_page(client):
    for name in ("c", "a", "b"):
        assert post(client, "/epcis/queries", {"name": name, "query": {}}).status_code == 201
    response = client.get("/epcis/queries", {"perPage": 2})
    assert [q["name"] for q in response.json()] == ["a", "b"]
    assert [q["name"] for q in client.get(required_next_url(response)).json()] == ["c"]


@pytest.mark.django_db
def test_a_second_query_with_the_same_name_is_a_conflict(client, shipping_query):
    response = post(client, "/epcis/queries", {"name": shipping_query, "query": {}})
    body = problem_of(response, 409, "epcisException:ResourceAlreadyExistsException")
    assert shipping_query in body["title"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "parameter", "expected"),
    [
        ({"name": "has space", "query": {}}, "name", "letters, digits"),
        ({"name": "ok", "query": []}, "query", "expected an object"),
        ({"name": "ok", "query": {}, "owner": "me"}, "owner", "unknown field"),
        ({"name": "ok", "query": {"EQ_bizStep": ["teleporting"]}}, "EQ_bizStep", "CBV"),
        ({"name": "ok", "query": {"GE_eventTime": 5}}, "GE_eventTime", "date-time"),
        ({"name": "ok", "query": {"EQ_colour": ["red"]}}, "EQ_colour", "unknown query"),
    ],
)
def test_a_named_query_that_could_not_run_is_refused(client, body, parameter, expected):
    response = post(client, "/epcis/queries", body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["parameter"] == parameter and expected in problem["title"]
    assert not NamedQuery.objects.exists()


@pytest.mark.django_db
def test_a_named_query_in_query_schema_json_form_with_numbers_and_context(client, qa_manager):
    capture(
        b._base(
            "ObjectEvent",
            "2025-03-01T00:00:00Z",
            eventID=eid(1),
            action="OBSERVE",
            quantityList=[{"epcClass": b.lgtin("L1"), "quantity": 12, "uom": "KGM"}],
            **{"example:temp": 4.5},
        ),
        user=qa_manager,
    )
    query = {
        "@context": [{"example": "https://ns.example.com/epcis/"}],
        "GE_quantity_KGM": 12,
        "LT_example:temp": 5,
        "EQ_quantity": [12],
        "EXISTS_quantityList": None,
        "orderBy": "eventTime",
    }
    assert post(client, "/epcis/queries", {"name": "heavy", "query": query}).status_code == 201
    assert ids_of(client.get("/epcis/queries/heavy/events")) == [eid(1)]


@pytest.mark.django_db
def test_a_named_query_results_take_no_extra_filters(client, shipping_query):
    response = client.get(f"/epcis/queries/{shipping_query}/events", {"EQ_bizStep": "x"})
    body = problem_of(response, 400, "epcisException:QueryParameterException")
    assert "change the query definition" in body["title"]


@pytest.mark.django_db
def test_websocket_subscription_is_refused_with_the_webhook_alternative(client, shipping_query):
    response = client.get(f"/epcis/queries/{shipping_query}/events", {"stream": "true"})
    body = problem_of(response, 400, SUBSCRIPTION)
    assert "POST /epcis/queries/shipped/subscriptions" in body["title"]


@pytest.mark.django_db
def test_an_unknown_query_name_is_no_such_name(client):
    for path in (
        "/epcis/queries/nope",
        "/epcis/queries/nope/events",
        "/epcis/queries/nope/subscriptions",
    ):
        problem_of(client.get(path), 404, "epcisException:NoSuchNameException")


@pytest.mark.django_db
def test_only_the_creator_or_an_administrator_deletes_a_named_query(
    client, shipping_query, auditor, admin_user
):
    problem_of(
        epcis_client(auditor).delete(f"/epcis/queries/{shipping_query}"),
        403,
        "epcisException:SecurityException",
    )
    response = epcis_client(admin_user).delete(f"/epcis/queries/{shipping_query}")
    assert response.status_code == 204
    assert response["GS1-EPCIS-Version"] == "2.0.0"
    assert not NamedQuery.objects.exists()


@pytest.mark.django_db
def test_deleting_a_named_query_ends_its_subscriptions(client, shipping_query):
    post(
        client,
        f"/epcis/queries/{shipping_query}/subscriptions",
        {"dest": "https://client.example.com/cb", "stream": True},
    )
    assert client.delete(f"/epcis/queries/{shipping_query}").status_code == 204
    assert not QuerySubscription.objects.exists()


# -- subscriptions ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stream_subscription_is_created_without_revealing_its_secret(client, shipping_query):
    response = post(
        client,
        f"/epcis/queries/{shipping_query}/subscriptions",
        {"dest": "https://client.example.com/cb", "signatureToken": "s3cret", "stream": True},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == (
        f"/epcis/queries/{shipping_query}/subscriptions/{body['subscriptionID']}"
    )
    assert body["stream"] is True and body["queryName"] == shipping_query
    assert body["dest"] == "https://client.example.com/cb"
    assert "s3cret" not in response.content.decode()
    detail = client.get(response["Location"])
    assert detail.json()["subscriptionID"] == body["subscriptionID"]
    assert detail["GS1-Query-Min-Record-Time"] == body["minRecordTime"]


@pytest.mark.django_db
def test_a_scheduled_subscription_keeps_its_schedule(client, shipping_query):
    response = post(
        client,
        f"/epcis/queries/{shipping_query}/subscriptions",
        {
            "dest": "http://client.example.com/cb",
            "reportIfEmpty": True,
            "initialRecordTime": "2025-01-01T00:00:00Z",
            "schedule": {"hour": "1", "minute": "5,35", "dayOfWeek": "[1-5]"},
        },
    )
    body = response.json()
    assert body["schedule"] == {"hour": "1", "minute": "5,35", "dayOfWeek": "[1-5]"}
    assert body["reportIfEmpty"] is True
    assert body["initialRecordTime"] == "2025-01-01T00:00:00Z"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "parameter", "type_"),
    [
        ({"dest": "ftp://client.example.com/cb", "stream": True}, "dest", VALIDATION),
        ({"dest": "not a url", "stream": True}, "dest", VALIDATION),
        ({"dest": "https://client.example.com/cb"}, "schedule", SUBSCRIPTION),
        (
            {"dest": "https://c.example.com/cb", "stream": True, "schedule": {"hour": "1"}},
            "schedule",
            SUBSCRIPTION,
        ),
        (
            {"dest": "https://c.example.com/cb", "schedule": {"hour": "24"}},
            "schedule.hour",
            SUBSCRIPTION,
        ),
        (
            {"dest": "https://c.example.com/cb", "schedule": {"minute": "*/5"}},
            "schedule.minute",
            SUBSCRIPTION,
        ),
        (
            {"dest": "https://c.example.com/cb", "schedule": {"fortnight": "1"}},
            "schedule.fortnight",
            SUBSCRIPTION,
        ),
        ({"dest": "https://c.example.com/cb", "stream": False}, "stream", SUBSCRIPTION),
        (
            {"dest": "https://c.example.com/cb", "stream": True, "reportIfEmpty": True},
            "reportIfEmpty",
            SUBSCRIPTION,
        ),
        (
            {"dest": "https://c.example.com/cb", "stream": True, "initialRecordTime": "soon"},
            "initialRecordTime",
            VALIDATION,
        ),
        (
            {"dest": "https://c.example.com/cb", "stream": True, "colour": "red"},
            "colour",
            VALIDATION,
        ),
    ],
)
def test_an_unusable_subscription_is_refused(client, shipping_query, body, parameter, type_):
    response = post(client, f"/epcis/queries/{shipping_query}/subscriptions", body)
    problem = problem_of(response, 400, type_)
    assert problem["parameter"] == parameter
    assert not QuerySubscription.objects.exists()


@pytest.mark.django_db
def test_subscriptions_are_visible_to_their_owner_only(client, shipping_query, auditor):
    mine = post(
        client,
        f"/epcis/queries/{shipping_query}/subscriptions",
        {"dest": "https://a.example.com/cb", "stream": True},
    ).json()
    other = epcis_client(auditor)
    theirs = post(
        other,
        f"/epcis/queries/{shipping_query}/subscriptions",
        {"dest": "https://b.example.com/cb", "stream": True},
    ).json()
    listed = client.get(f"/epcis/queries/{shipping_query}/subscriptions").json()
    assert [s["subscriptionID"] for s in listed] == [mine["subscriptionID"]]
    path = f"/epcis/queries/{shipping_query}/subscriptions/{theirs['subscriptionID']}"
    problem_of(client.get(path), 404, "epcisException:NoSuchResourceException")
    problem_of(client.delete(path), 404, "epcisException:NoSuchResourceException")
    assert other.delete(path).status_code == 204
    problem_of(other.get(path), 404, "epcisException:NoSuchResourceException")


@pytest.mark.django_db
def test_subscriptions_list_page_by_page(client, shipping_query):
    for n in range(3):
        post(
            client,
            f"/epcis/queries/{shipping_query}/subscriptions",
            {"dest": f"https://c.example.com/{n}", "stream": True},
        )
    response = client.get(f"/epcis/queries/{shipping_query}/subscriptions", {"perPage": 2})
    rest = client.get(required_next_url(response)).json()
    assert len(response.json()) == 2 and len(rest) == 1


# -- what a subscription delivers ---------------------------------------------------------------


def _subscribe(query_name: str, user: Any, **fields: Any) -> QuerySubscription:
    return QuerySubscription.objects.create(
        query=NamedQuery.objects.get(name=query_name),
        dest="https://c.example.com/cb",
        stream=True,
        initial_record_time=fields.get("since", timezone.now()),
        last_record_time=fields.get("since", timezone.now()),
        created_by=user,
        signature_token=fields.get("token", ""),
    )


def delivered_ids(document: dict[str, Any]) -> list[str]:
    return [e["eventID"] for e in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def _later() -> Any:
    return timezone.now() + SUBSCRIPTION_SETTLE + timedelta(seconds=1)


@pytest.mark.django_db
def test_subscription_results_are_the_matching_events_recorded_since_it_began(
    client, shipping_query, qa_manager
):
    # Given an event recorded before the subscription, and two after
    capture(ship(1), user=qa_manager)
    subscription = _subscribe(shipping_query, qa_manager)
    capture(ship(2), receive(3), ship(4), user=qa_manager)
    # When the worker asks for results
    document = subscription_results(subscription, now=_later())
    # Then it gets the new matching events, oldest first, as a query document for the query
    assert document["type"] == "EPCISQueryDocument"
    assert delivered_ids(document) == [eid(2), eid(4)]
    body = document["epcisBody"]["queryResults"]
    assert body["subscriptionID"] == str(subscription.pk)
    assert body["queryName"] == shipping_query


@pytest.mark.django_db
def test_subscription_results_resume_after_a_delivery_in_batches(
    client, shipping_query, qa_manager
):
    subscription = _subscribe(shipping_query, qa_manager)
    capture(*[ship(n) for n in range(5)], user=qa_manager)  # one capture: one recordTime
    delivered: list[str] = []
    while True:
        document = subscription_results(subscription, limit=2, now=_later())
        batch = delivered_ids(document)
        assert len(batch) <= 2
        delivered += batch
        if not batch:
            break
        subscription_advance(subscription=subscription, document=document)
    assert delivered == [eid(n) for n in range(5)]
    subscription.refresh_from_db()
    assert subscription.last_notified_at is not None
    assert client.get(f"/epcis/queries/{shipping_query}/subscriptions/{subscription.pk}").json()[
        "lastNotifiedAt"
    ]


@pytest.mark.django_db
def test_undelivered_results_are_offered_again(client, shipping_query, qa_manager):
    subscription = _subscribe(shipping_query, qa_manager)
    capture(ship(1), user=qa_manager)
    first = subscription_results(subscription, now=_later())
    again = subscription_results(subscription, now=_later())  # the POST failed: no advance
    assert delivered_ids(first) == delivered_ids(again) == [eid(1)]


@pytest.mark.django_db
def test_events_younger_than_the_settle_time_wait_for_the_next_run(
    client, shipping_query, qa_manager
):
    subscription = _subscribe(shipping_query, qa_manager)
    capture(ship(1), user=qa_manager)
    assert delivered_ids(subscription_results(subscription, now=timezone.now())) == []
    assert delivered_ids(subscription_results(subscription, now=_later())) == [eid(1)]


@pytest.mark.django_db
def test_a_retraction_is_delivered_again_as_declared_in_error(client, shipping_query, qa_manager):
    subscription = _subscribe(shipping_query, qa_manager)
    capture(ship(1), user=qa_manager)
    subscription_advance(
        subscription=subscription, document=subscription_results(subscription, now=_later())
    )
    declared = dict(
        ship(1),
        errorDeclaration={"declarationTime": "2025-03-02T00:00:00Z", "reason": "did_not_occur"},
    )
    capture(declared, user=qa_manager)
    document = subscription_results(subscription, now=_later())
    (event,) = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert event["eventID"] == eid(1)
    assert event["errorDeclaration"]["reason"] == "did_not_occur"


@pytest.mark.django_db
def test_an_empty_result_is_still_a_document_for_report_if_empty(
    client, shipping_query, qa_manager
):
    subscription = _subscribe(shipping_query, qa_manager)
    document = subscription_results(subscription, now=_later())
    assert delivered_ids(document) == []
    assert document["epcisBody"]["queryResults"]["subscriptionID"] == str(subscription.pk)


@pytest.mark.django_db
def test_the_gs1_signature_is_an_hmac_of_the_exact_body(client, shipping_query, qa_manager):
    signed = _subscribe(shipping_query, qa_manager, token="s3cret")
    body = json.dumps(subscription_results(signed, now=_later())).encode()
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert subscription_signature(signed, body) == f"sha256={expected}"
    assert subscription_signature(_subscribe(shipping_query, qa_manager), body) is None


@pytest.mark.django_db
def test_subscription_results_take_a_fixed_number_of_statements(
    client, shipping_query, qa_manager, django_assert_max_num_queries
):
    subscription = _subscribe(shipping_query, qa_manager)
    capture(*[ship(n) for n in range(20)], user=qa_manager)
    subscription = QuerySubscription.objects.select_related("query", "created_by").get(
        pk=subscription.pk
    )
    # The events (a statement for those not retracted, one for the retracted), and on
    # PostgreSQL the oldest write still open (the cutoff).
    with django_assert_max_num_queries(3):
        assert len(delivered_ids(subscription_results(subscription, now=_later()))) == 20
