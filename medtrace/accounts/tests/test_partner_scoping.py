"""Partner scoping (DESIGN §9, accounts/scoping.py) through every door: the trace API, the
EPCIS query binding, the web pages and master data, with session logins and bearer tokens.

The ledger: one TransformationEvent makes four devices from a supplier's resin lot (one event
naming every party's units). Two go in case 1 to the distributor, which passes the case on to
hospital A; one goes in case 2 straight to hospital B; one stays at the maker.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from medtrace.accounts.models import ApiToken, User
from medtrace.accounts.services import hash_token, token_create
from medtrace.errors import ValidationFailed
from medtrace.ledger.models import UnitCustody
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db

EPCIS_NOT_FOUND = "epcisException:NoSuchResourceException"


class Ledger:
    def __init__(self, w: f.World, hospital_a: User, hospital_b: User) -> None:
        assert hospital_a.party is not None and hospital_b.party is not None
        self.w = w
        self.lot = w.resin_lot("PS-L1")
        self.a1, self.a2 = w.device_sn("PS-A1"), w.device_sn("PS-A2")
        self.b1, self.d1 = w.device_sn("PS-B1"), w.device_sn("PS-D1")
        self.case1, self.case2 = w.sscc(801), w.sscc(802)
        maker, dist = w.pgln(w.maker), w.pgln(w.distributor)
        hosp_a, hosp_b = w.pgln(hospital_a.party), w.pgln(hospital_b.party)
        self.events = {
            "supplied": f.obj_lots([(self.lot, 50)], f.t(1), biz_step="receiving",
                                   sources=[("owning_party", w.pgln(w.supplier))],
                                   destinations=[("owning_party", maker)]),
            "made": f.transform(f.t(2), input_lots=[(self.lot, 4)],
                                outputs=[self.a1, self.a2, self.b1, self.d1],
                                location=w.plant.sgln),
            "pack1": f.aggregate(self.case1, [self.a1, self.a2], f.t(3)),
            "pack2": f.aggregate(self.case2, [self.b1], f.t(3)),
            "to_dist": f.obj([self.case1], f.t(4), biz_step="shipping",
                             sources=[("possessing_party", maker)],
                             destinations=[("possessing_party", dist)]),
            "dist_in": f.obj([self.case1], f.t(5), biz_step="receiving",
                             destinations=[("possessing_party", dist)]),
            "to_a": f.obj([self.case1], f.t(6), biz_step="shipping",
                          sources=[("possessing_party", dist)],
                          destinations=[("possessing_party", hosp_a)]),
            "a_in": f.obj([self.case1], f.t(7), biz_step="receiving",
                          destinations=[("possessing_party", hosp_a)]),
            "to_b": f.obj([self.case2], f.t(6), biz_step="shipping",
                          sources=[("possessing_party", maker)],
                          destinations=[("possessing_party", hosp_b)]),
            "b_in": f.obj([self.case2], f.t(7), biz_step="receiving",
                          destinations=[("possessing_party", hosp_b)]),
        }  # fmt: skip
        f.capture(*self.events.values())

    def id(self, name: str) -> str:
        return str(self.events[name]["eventID"])


@pytest.fixture
def w() -> f.World:
    return f.world()


@pytest.fixture
def ledger(w: f.World, hospital_a: User, hospital_b: User) -> Ledger:
    return Ledger(w, hospital_a, hospital_b)


def _partner(username: str, party: Any) -> User:
    return User.objects.create_user(username=username, password="pw", party=party)


def bearer(user: User, *scopes: str) -> Client:
    """A client with a bearer token from ``token_create``.

    Which scopes a partner's token may carry is the tokens module's policy; where that policy
    refuses a scope, the token is stored the way ``token_create`` stores one, so these tests
    check the scoping of the endpoints whatever that policy says.
    """
    try:
        _token, raw = token_create(user=user, scopes=list(scopes))
    except ValidationFailed:
        raw = "mt_test_" + user.username
        ApiToken.objects.create(
            user=user, prefix=raw[:10], token_hash=hash_token(raw), scopes=list(scopes)
        )
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def session(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _clients(user: User, *scopes: str) -> list[Client]:
    return [bearer(user, *scopes), session(user)]


def _timeline(epc: str) -> str:
    return f"/api/v1/units/{quote(epc, safe='')}/timeline"


def _event_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    body = response.json()
    return [e["eventID"] for e in body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def _events(response: Any) -> dict[str, dict[str, Any]]:
    body = response.json()
    return {e["eventID"]: e for e in body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]}


# Trace API -------------------------------------------------------------------------------------


def test_hospital_b_gets_404_for_hospital_a_units_on_every_trace_endpoint(
    ledger: Ledger, hospital_b: User
) -> None:
    for client in _clients(hospital_b, "trace:read"):
        responses = [
            client.get(_timeline(ledger.a1)),
            client.get("/api/v1/trace/backward", {"id": ledger.a1}),
            client.get("/api/v1/trace/forward", {"id": ledger.a1}),
            client.get("/api/v1/trace/backward", {"id": ledger.case1}),
            client.get("/api/v1/trace/backward", {"id": "PS-A1"}),  # a bare serial
        ]
        assert [r.status_code for r in responses] == [404] * 5
        assert {r.json()["error"] for r in responses} == {"not_found"}
        # The same answer as for a unit that never existed.
        unknown = client.get(_timeline(ledger.w.device_sn("PS-NEVER")))
        assert unknown.status_code == 404


def test_each_hospital_sees_its_own_units_and_the_lot_only_through_them(
    ledger: Ledger, hospital_a: User, hospital_b: User
) -> None:
    for client in _clients(hospital_a, "trace:read"):
        timeline = client.get(_timeline(ledger.a1))
        assert timeline.status_code == 200
        assert ledger.id("a_in") in {e["eventID"] for e in timeline.json()["events"]}
        forward = client.get("/api/v1/trace/forward", {"id": ledger.lot}).json()
        assert sorted(u["epc"] for u in forward["units"]) == sorted([ledger.a1, ledger.a2])
    forward_b = session(hospital_b).get("/api/v1/trace/forward", {"id": ledger.lot}).json()
    assert [u["epc"] for u in forward_b["units"]] == [ledger.b1]


def test_a_lot_that_reached_none_of_a_partners_units_is_404(
    ledger: Ledger, w: f.World, hospital_a: User
) -> None:
    other = w.resin_lot("PS-OTHER")
    f.capture(f.obj_lots([(other, 5)], f.t(8), biz_step="receiving"))

    response = session(hospital_a).get("/api/v1/trace/forward", {"id": other})

    assert response.status_code == 404


def test_the_distributor_still_sees_what_it_passed_on_inside_a_case(
    ledger: Ledger, w: f.World
) -> None:
    distributor = _partner("dist_clerk", w.distributor)
    client = bearer(distributor, "trace:read")

    assert client.get(_timeline(ledger.a1)).status_code == 200  # unit inside the case
    assert client.get(_timeline(ledger.b1)).status_code == 404  # went straight to hospital B
    assert UnitCustody.objects.filter(epc=ledger.a2, party=w.pgln(w.distributor)).exists()


def test_a_supplier_reads_its_lot_but_not_the_devices_made_from_it(
    ledger: Ledger, w: f.World
) -> None:
    supplier = _partner("resin_rep", w.supplier)
    client = bearer(supplier, "trace:read", "epcis:query")

    assert client.get(_timeline(ledger.lot)).status_code == 200
    assert client.get(_timeline(ledger.a1)).status_code == 404
    events = _events(client.get("/epcis/events", {"perPage": 100}))
    assert set(events) == {ledger.id("supplied"), ledger.id("made")}
    made = events[ledger.id("made")]
    assert made["outputEPCList"] == []  # the maker's devices are not the supplier's business
    assert [q["epcClass"] for q in made["inputQuantityList"]] == [ledger.lot]


# EPCIS query -----------------------------------------------------------------------------------


def test_hospital_b_cannot_read_hospital_a_events_through_epcis(
    ledger: Ledger, hospital_b: User
) -> None:
    a_only = {ledger.id(n) for n in ("pack1", "to_dist", "dist_in", "to_a", "a_in")}
    for client in _clients(hospital_b, "epcis:query"):
        listed = set(_event_ids(client.get("/epcis/events", {"perPage": 100})))
        assert listed == {ledger.id(n) for n in ("made", "pack2", "to_b", "b_in")}
        assert not listed & a_only
        for name in ("a_in", "to_a", "pack1"):
            response = client.get(f"/epcis/events/{quote(ledger.id(name), safe='')}")
            assert response.status_code == 404
            assert response.json()["type"] == EPCIS_NOT_FOUND
        for path in (f"/epcis/epcs/{quote(ledger.a1, safe='')}",
                     f"/epcis/epcs/{quote(ledger.a1, safe='')}/events"):  # fmt: skip
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["type"] == EPCIS_NOT_FOUND
        by_match = client.get("/epcis/events", {"MATCH_anyEPC": ledger.a1})
        assert _event_ids(by_match) == []
        members = client.get("/epcis/epcs").json()["member"]
        assert ledger.a1 not in members and ledger.b1 in members


def test_an_event_naming_several_parties_units_is_redacted_to_the_partners_own(
    ledger: Ledger, hospital_a: User, hospital_b: User, qa_manager: User
) -> None:
    path = f"/epcis/events/{quote(ledger.id('made'), safe='')}"

    seen_by_a = _events(bearer(hospital_a, "epcis:query").get(path))[ledger.id("made")]
    seen_by_b = _events(session(hospital_b).get(path))[ledger.id("made")]
    seen_inside = _events(session(qa_manager).get(path))[ledger.id("made")]

    assert seen_by_a["outputEPCList"] == [ledger.a1, ledger.a2]
    assert seen_by_b["outputEPCList"] == [ledger.b1]
    assert seen_by_a["inputQuantityList"] == []  # the lot is the maker's and supplier's
    assert seen_inside["outputEPCList"] == [ledger.a1, ledger.a2, ledger.b1, ledger.d1]
    assert len(seen_inside["inputQuantityList"]) == 1


def test_hospital_a_reads_its_units_events_through_the_epc_resource(
    ledger: Ledger, hospital_a: User
) -> None:
    for client in _clients(hospital_a, "epcis:query"):
        ids = _event_ids(client.get(f"/epcis/epcs/{quote(ledger.a1, safe='')}/events"))
        assert ledger.id("made") in ids and ledger.id("pack1") in ids
        events = _events(client.get("/epcis/events", {"perPage": 100}))
        # Case 1's events are hers (she received the case); its parentID stays visible.
        assert events[ledger.id("a_in")]["epcList"] == [ledger.case1]
        assert events[ledger.id("pack1")]["parentID"] == ledger.case1


def test_internal_users_see_the_whole_ledger_unredacted(ledger: Ledger, qa_manager: User) -> None:
    ids = _event_ids(bearer(qa_manager, "epcis:query").get("/epcis/events", {"perPage": 100}))
    assert set(ids) == {ledger.id(n) for n in ledger.events}


def test_partners_may_not_capture(ledger: Ledger, hospital_a: User) -> None:
    event = f.obj([ledger.a1], f.t(9), biz_step="receiving")
    client = bearer(hospital_a, "epcis:capture")

    response = client.post("/epcis/events", event, content_type="application/json")

    assert response.status_code == 403


def test_a_partners_named_query_and_subscription_results_are_scoped(
    ledger: Ledger, hospital_b: User, qa_manager: User
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from medtrace.ledger.epcis_query_subscriptions import subscription_results
    from medtrace.ledger.models_queries import QuerySubscription

    internal = session(qa_manager)
    created = internal.post(
        "/epcis/queries",
        {"name": "internal-shipping", "query": {"EQ_bizStep": ["shipping"]}},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    client = bearer(hospital_b, "epcis:query")
    assert client.get("/epcis/queries/internal-shipping").status_code == 404
    mine = client.post(
        "/epcis/queries",
        {"name": "b-shipping", "query": {"EQ_bizStep": ["shipping"]}},
        content_type="application/json",
    )
    assert mine.status_code == 201, mine.content
    assert _event_ids(client.get("/epcis/queries/b-shipping/events")) == [ledger.id("to_b")]
    subscribed = client.post(
        "/epcis/queries/b-shipping/subscriptions",
        {"dest": "https://example.org/hook", "stream": True,
         "initialRecordTime": "2000-01-01T00:00:00Z"},
        content_type="application/json",
    )  # fmt: skip
    assert subscribed.status_code == 201, subscribed.content
    subscription = QuerySubscription.objects.select_related("query", "created_by").get(
        pk=subscribed.json()["subscriptionID"]
    )
    document = subscription_results(subscription, now=timezone.now() + timedelta(minutes=1))
    delivered = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in delivered] == [ledger.id("to_b")]


# Web -------------------------------------------------------------------------------------------


def test_the_unit_page_is_404_for_another_hospitals_unit(
    ledger: Ledger, hospital_a: User, hospital_b: User
) -> None:
    assert session(hospital_a).get("/trace/", {"id": ledger.a1}).status_code == 200
    assert session(hospital_b).get("/trace/", {"id": ledger.a1}).status_code == 404
    assert session(hospital_b).get("/trace/", {"id": ledger.b1}).status_code == 200


def test_product_pages_show_only_products_in_scope(
    ledger: Ledger, w: f.World, hospital_b: User
) -> None:
    client = session(hospital_b)

    assert client.get(f"/products/{w.device.pk}/").status_code == 200
    assert client.get(f"/products/{w.board.pk}/").status_code == 404
    assert w.board.name not in client.get("/products/").content.decode()


# Master data -----------------------------------------------------------------------------------


def test_master_data_is_scoped_and_out_of_scope_is_404_even_for_writes(
    ledger: Ledger, w: f.World, hospital_a: User, hospital_b: User
) -> None:
    assert hospital_a.party is not None and hospital_b.party is not None
    for client in _clients(hospital_b, "masterdata:read", "masterdata:write", "labels:read"):
        parties = client.get("/api/v1/parties").json()["items"]
        assert [p["id"] for p in parties] == [hospital_b.party.pk]
        products = client.get("/api/v1/products").json()["items"]
        assert [p["id"] for p in products] == [w.device.pk]
        assert client.get("/api/v1/materials").json()["items"] == []
        assert client.get(f"/api/v1/parties/{hospital_a.party.pk}").status_code == 404
        assert client.get(f"/api/v1/products/{w.board.pk}").status_code == 404
        assert client.get(f"/api/v1/products/{w.board.pk}/label").status_code == 404
        assert client.get(f"/api/v1/materials/{w.resin.pk}").status_code == 404
        other = client.patch(
            f"/api/v1/parties/{hospital_a.party.pk}",
            {"name": "taken over"},
            content_type="application/json",
        )
        own = client.patch(
            f"/api/v1/parties/{hospital_b.party.pk}",
            {"name": "renamed"},
            content_type="application/json",
        )
        assert (other.status_code, own.status_code) == (404, 403)
        identified = client.get("/api/v1/identify", {"udi": ledger.a1}).json()
        assert identified["product"]["id"] == w.device.pk  # her own device's model


def test_internal_users_without_a_role_still_get_403(db: None) -> None:
    nobody = User.objects.create_user(username="no_role", password="pw")

    response = session(nobody).get("/api/v1/parties")

    assert response.status_code == 403


class Loaner:
    """A loaner pump: the maker ships it to hospital A, which uses it on its ward and returns
    it; after refurbishment it goes to hospital B. Each hospital may see the maker's events and
    its own, never the other hospital's."""

    def __init__(self, w: f.World, hospital_a: User, hospital_b: User) -> None:
        from medtrace.masterdata.tests import factories as md

        assert hospital_a.party is not None and hospital_b.party is not None
        maker = w.pgln(w.maker)
        hosp_a, hosp_b = w.pgln(hospital_a.party), w.pgln(hospital_b.party)
        ward_a = md.location(owner=hospital_a.party, kind="site", ref=5, name="ICU A")
        self.unit = w.device_sn("LOAN-1")
        u = [self.unit]
        self.events = {
            "made": f.commission(u, f.t(1), location=w.plant.sgln),
            "to_a": f.obj(u, f.t(2), biz_step="shipping", sources=[("possessing_party", maker)],
                          destinations=[("possessing_party", hosp_a)]),
            "a_in": f.obj(u, f.t(3), biz_step="receiving",
                          destinations=[("possessing_party", hosp_a)]),
            "a_ward": f.obj(u, f.t(4), biz_step="inspecting", location=ward_a.sgln),
            "a_back": f.obj(u, f.t(5), biz_step="shipping", sources=[("possessing_party", hosp_a)],
                            destinations=[("possessing_party", maker)]),
            "refurb": f.obj(u, f.t(6), biz_step="repairing", location=w.plant.sgln),
            "to_b": f.obj(u, f.t(7), biz_step="shipping", sources=[("possessing_party", maker)],
                          destinations=[("possessing_party", hosp_b)]),
            "b_in": f.obj(u, f.t(8), biz_step="receiving",
                          destinations=[("possessing_party", hosp_b)]),
        }  # fmt: skip
        f.capture(*self.events.values())

    def ids(self, *names: str) -> set[str]:
        return {str(self.events[name]["eventID"]) for name in names}


def test_a_loaner_shows_each_hospital_only_the_makers_events_and_its_own(
    w: f.World, hospital_a: User, hospital_b: User, qa_manager: User
) -> None:
    loan = Loaner(w, hospital_a, hospital_b)
    a_side = loan.ids("to_a", "a_in", "a_ward", "a_back")
    b_side = loan.ids("to_b", "b_in")
    maker = loan.ids("made", "refurb")

    seen: dict[str, dict[str, set[str]]] = {}
    for name, user in (("a", hospital_a), ("b", hospital_b), ("qa", qa_manager)):
        client = session(user)
        timeline = client.get(_timeline(loan.unit))
        assert timeline.status_code == 200, timeline.content
        epcis = bearer(user, "epcis:query").get("/epcis/events", {"perPage": 100})
        seen[name] = {
            "timeline": {e["eventID"] for e in timeline.json()["events"]},
            "epcis": set(_event_ids(epcis)),
        }

    for door in ("timeline", "epcis"):
        assert seen["a"][door] == maker | a_side, door
        assert seen["b"][door] == maker | b_side, door
        assert seen["qa"][door] == maker | a_side | b_side, door
    # An event of the other hospital is not there, even by its ID.
    [a_ward] = loan.ids("a_ward")
    response = bearer(hospital_b, "epcis:query").get(f"/epcis/events/{quote(a_ward, safe='')}")
    assert response.status_code == 404
