"""The service API: installations, maintenance, tickets and scrap through /api/v1/ (scopes,
error shape, partner scoping: another hospital's installed base is 404)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from medtrace.accounts.services import token_create
from medtrace.ledger.models import Event
from medtrace.service.models import ScrapRecord

from .lifecycle_factories import Scene, ago, partner, scene, staff

pytestmark = pytest.mark.django_db

V = "/api/v1"
STAFF_SCOPES = ["lifecycle:read", "service:write", "trace:read"]


@pytest.fixture
def s() -> Scene:
    return scene()


def client(user: Any, scopes: list[str]) -> Client:
    _token, raw = token_create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post(c: Client, url: str, body: dict[str, Any]) -> Any:
    return c.post(V + url, json.dumps(body), content_type="application/json")


@pytest.fixture
def engineer() -> Any:
    return staff("engineer", "service")


@pytest.fixture
def api(engineer: Any) -> Client:
    return client(engineer, STAFF_SCOPES)


def test_install_read_and_scope_by_hospital(s: Scene, api: Client) -> None:
    s.delivered("A1")
    theirs = s.delivered("A2", hospital=s.hospital_b)

    r = post(
        api, "/installations", {"unit": s.udi("A1"), "department_id": s.icu.pk, "note": "bed 2"}
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["serial"] == "A1" and body["status"] == "in_use"
    assert body["department"]["sgln"] == s.icu.sgln and body["event_id"]
    mine = body["id"]
    r = post(api, "/installations", {"unit": theirs, "department_id": s.icu_b.pk})
    other = r.json()["id"]

    hosp_a = client(partner("hosp_a_user", s.w.hospital), ["lifecycle:read"])
    assert [i["serial"] for i in hosp_a.get(V + "/installations").json()["items"]] == ["A1"]
    assert hosp_a.get(f"{V}/installations/{mine}").status_code == 200
    missing = hosp_a.get(f"{V}/installations/{other}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert api.get(f"{V}/installations?unit={quote(s.udi('A2'))}").json()["count"] == 1


def test_refusals_have_the_error_shape(s: Scene, api: Client) -> None:
    epc = s.make("A3")
    s.ship(epc, s.w.hospital)

    r = post(api, "/installations", {"unit": epc, "department_id": s.icu.pk})
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "sequence_violation" and body["field"] == "unit"
    assert "in transit" in body["message"] and body["details"][0]["serial"] == "A3"
    r = post(api, "/installations", {"unit": epc, "department_id": s.icu.pk, "colour": "red"})
    assert r.status_code == 422 and r.json()["field"] == "colour"


def test_a_hospital_token_installs_its_own_units(s: Scene) -> None:
    s.delivered("A4")
    user = partner("hosp_a_user", s.w.hospital)

    r = post(
        client(user, ["lifecycle:read", "partner:receive"]),
        "/installations",
        {"unit": "A4", "department_id": s.icu.pk},
    )
    assert r.status_code == 201, r.content
    r = post(
        client(user, ["lifecycle:read"]),
        "/installations",
        {"unit": "A4", "department_id": s.surgery.pk},
    )
    assert r.status_code == 403 and "partner:receive" in r.json()["message"]


def test_plans_visits_and_the_due_list(s: Scene, api: Client) -> None:
    s.delivered("A5")
    post(
        api,
        "/installations",
        {"unit": "A5", "department_id": s.icu.pk, "installed_at": ago(days=100).isoformat()},
    )
    r = post(
        api,
        "/maintenance-plans",
        {
            "name": "季度保养",
            "kind": "maintenance",
            "product_id": s.w.device.pk,
            "interval_days": 90,
            "items": [
                {"name": "flow rate", "unit": "mL/h", "min": 99, "max": 101},
                {"name": "alarm"},
            ],
        },
    )
    assert r.status_code == 201, r.content
    plan = r.json()

    due = api.get(V + "/maintenance/due?within_days=0").json()
    assert [(d["serial"], d["overdue"]) for d in due] == [("A5", True)]
    assert due[0]["days_overdue"] >= 9 and due[0]["plan"]["number"] == plan["number"]

    r = post(
        api,
        "/maintenance-visits",
        {
            "plan_id": plan["id"],
            "unit": s.udi("A5"),
            "work_done": "保养",
            "measurements": [
                {"name": "flow rate", "value": 100.4},
                {"name": "alarm", "pass": True},
            ],
        },
    )
    assert r.status_code == 201, r.content
    visit = r.json()
    assert visit["result"] == "pass" and visit["measurements"][1]["pass"] is True
    assert visit["measurements"][0]["min"] == 99.0
    assert api.get(V + "/maintenance/due?within_days=0").json() == []
    assert api.get(f"{V}/maintenance-visits?unit=A5").json()["count"] == 1

    r = post(api, "/maintenance-visits", {"plan_id": 999999, "unit": "A5", "work_done": "x"})
    assert r.status_code == 404 and r.json()["field"] == "plan_id"
    r = post(
        api,
        "/maintenance-visits",
        {
            "plan_id": plan["id"],
            "unit": "A5",
            "work_done": "x",
            "measurements": [{"name": "flow rate", "value": 90}, {"name": "alarm", "pass": True}],
            "result": "pass",
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "result"


def test_a_ticket_through_the_api(s: Scene, api: Client) -> None:
    s.delivered("A6", part="B1")
    s.receive_parts("B2")
    post(api, "/installations", {"unit": "A6", "department_id": s.icu.pk})

    r = post(api, "/service-tickets", {"unit": s.udi("A6"), "symptom": "电池报警"})
    assert r.status_code == 201, r.content
    t = r.json()
    assert t["status"] == "open" and t["reporter"]["id"] == s.w.hospital.pk
    url = f"/service-tickets/{t['id']}"
    assert post(api, url + "/diagnose", {"diagnosis": "电池老化"}).status_code == 200
    r = post(api, url + "/swap-part", {"removed": s.part("B1"), "installed": s.part("B2")})
    assert r.status_code == 200 and r.json()["swaps"][0]["installed_serial"] == "B2"
    r = post(api, url + "/resolve", {"resolution": "done"})
    assert r.status_code == 422 and r.json()["field"] == "test"
    r = post(
        api,
        url + "/test",
        {"measurements": [{"name": "run time", "value": 6.5, "unit": "h", "min": 6}]},
    )
    assert r.status_code == 200 and r.json()["test_measurements"][0]["pass"] is True
    r = post(api, url + "/resolve", {"resolution": "更换电池"})
    assert r.status_code == 200 and r.json()["time_to_resolve"] is not None
    r = post(api, url + "/close", {})
    assert r.json()["status"] == "closed"
    backward = api.get(f"{V}/trace/backward?id={quote(s.unit('A6'))}").json()
    assert [c["serial"] for c in backward["root"]["children"]] == ["B2"]

    hosp_b = client(partner("hosp_b_user", s.hospital_b), ["lifecycle:read"])
    assert hosp_b.get(V + url).status_code == 404
    assert hosp_b.get(V + "/service-tickets").json()["count"] == 0


def test_scrap_with_a_wrong_password_stores_nothing(s: Scene, engineer: Any, api: Client) -> None:
    s.delivered("A7")
    events = Event.objects.count()

    r = post(
        api,
        "/scrap",
        {"units": ["A7"], "reason": "损坏", "method": "dismantled", "password": "nope"},
    )
    assert r.status_code == 422 and r.json()["field"] == "password"
    assert not ScrapRecord.objects.exists() and Event.objects.count() == events

    r = post(
        api,
        "/scrap",
        {
            "units": [s.udi("A7")],
            "reason": "损坏",
            "method": "dismantled",
            "password": "pw-engineer",
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["units"][0]["serial"] == "A7"
    assert body["signatures"][0]["meaning"] == "approved" and body["signatures"][0]["valid"]
    assert api.get(f"{V}/scrap/{body['id']}").json()["number"] == body["number"]
    assert (
        client(partner("hosp_a_user", s.w.hospital), ["lifecycle:read"])
        .get(f"{V}/scrap/{body['id']}")
        .status_code
        == 404
    )
