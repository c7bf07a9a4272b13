"""A partner's EPCIS subscription carries only what that partner may see (DESIGN §9): the same
events, redacted the same way, as the partner's own query over the REST binding."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from medtrace.accounts.models import User
from medtrace.alerts import outbox
from medtrace.ledger import epcis_push
from medtrace.ledger import epcis_query_subscriptions as subs
from medtrace.trace.tests import factories as f

from .epcis_receiver import epcis_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subs, "SUBSCRIPTION_SETTLE", timedelta(0))


def _session(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _subscribe(client: Client, name: str, dest: str) -> None:
    made = client.post(
        "/epcis/queries", {"name": name, "query": {}}, content_type="application/json"
    )
    assert made.status_code == 201, made.content
    subscribed = client.post(
        f"/epcis/queries/{name}/subscriptions",
        {"dest": dest, "stream": True, "signatureToken": f"token-{name}",
         "initialRecordTime": "2000-01-01T00:00:00Z"},
        content_type="application/json",
    )  # fmt: skip
    assert subscribed.status_code == 201, subscribed.content


def _queried(client: Client, name: str) -> list[dict[str, Any]]:
    response = client.get(f"/epcis/queries/{name}/events", {"perPage": 1000})
    assert response.status_code == 200, response.content
    events: list[dict[str, Any]] = response.json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return events


def test_each_partner_receives_only_its_own_events_redacted_as_its_queries_are(
    hospital_a: User, hospital_b: User, qa_manager: User
) -> None:
    assert hospital_a.party is not None and hospital_b.party is not None
    w = f.world()
    a1, b1, d1 = w.device_sn("SUB-A1"), w.device_sn("SUB-B1"), w.device_sn("SUB-D1")
    maker = w.pgln(w.maker)
    hosp_a, hosp_b = w.pgln(hospital_a.party), w.pgln(hospital_b.party)
    clients = {"a": _session(hospital_a), "b": _session(hospital_b), "qa": _session(qa_manager)}
    with epcis_receiver() as receiver:
        for name, client in clients.items():
            _subscribe(client, f"{name}-everything", f"{receiver.url}?for={name}")

        # One event names every party's devices; then A's and B's own shipments and receipts.
        f.capture(
            f.transform(f.t(2), input_lots=[(w.resin_lot("R1"), 3)], outputs=[a1, b1, d1],
                        location=w.plant.sgln),
            f.obj([a1], f.t(6), biz_step="shipping", sources=[("possessing_party", maker)],
                  destinations=[("possessing_party", hosp_a)]),
            f.obj([a1], f.t(7), biz_step="receiving",
                  destinations=[("possessing_party", hosp_a)]),
            f.obj([b1], f.t(6), biz_step="shipping", sources=[("possessing_party", maker)],
                  destinations=[("possessing_party", hosp_b)]),
            f.obj([b1], f.t(7), biz_step="receiving",
                  destinations=[("possessing_party", hosp_b)]),
        )  # fmt: skip

        assert epcis_push.push_due() == {epcis_push.SENT: 3}
        assert outbox.dispatch_due() == 3

    assert len(receiver.pushes) == 3
    received: dict[str, list[dict[str, Any]]] = {}
    for push in receiver.pushes:
        name = push.document["epcisBody"]["queryResults"]["queryName"].split("-")[0]
        received[name] = push.document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    # Each partner's push is exactly its own query's answer: same events, same redaction.
    for name in ("a", "b", "qa"):
        assert received[name] == _queried(clients[name], f"{name}-everything"), name
    assert len(received["qa"]) == 5  # internal staff: everything, unredacted
    assert len(received["a"]) == 3 and len(received["b"]) == 3
    text = {name: json.dumps(events) for name, events in received.items()}
    assert b1 not in text["a"] and hosp_b not in text["a"]
    assert a1 not in text["b"] and hosp_a not in text["b"]
    made_for_a = received["a"][0]
    assert made_for_a["type"] == "TransformationEvent" and made_for_a["outputEPCList"] == [a1]
