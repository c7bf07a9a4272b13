"""The complaint API: intake by staff and by a hospital's token, the error shapes (a bad UDI
names the field ``udi`` with the parser's message; closing without a decision is a 409 naming
it; a missing calendar year is a 422), the signed closure and the adverse-event deadlines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from medtrace.accounts.models import User
from medtrace.accounts.services import token_create
from medtrace.complaints.models import Complaint

from .factories import C, complaints_world

pytestmark = pytest.mark.django_db
V = "/api/v1"


@pytest.fixture
def c() -> C:
    return complaints_world()


def _client(user: User, scopes: list[str]) -> Client:
    _token, raw = token_create(user=user, scopes=scopes, name="test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _session(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(V + url, json.dumps(body), content_type="application/json")


def test_staff_record_a_complaint_over_the_api(c: C) -> None:
    epc = c.unit("SN-1", lot="L1")
    client = _client(c.service, ["complaints:write", "complaints:read"])

    response = _post(
        client,
        "/complaints",
        {
            "udi": f"]d201{c.gtin}21SN-1",
            "description": "Alarm",
            "complainant_party_id": c.w.hospital.pk,
            "event_date": "2025-03-01",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("CMP-") and body["channel"] == "api"
    assert (body["unit_epc"], body["lot_class"], body["udi"]) == (
        epc,
        c.lot_class("L1"),
        f"]d201{c.gtin}21SN-1",
    )
    assert body["links"]["timeline"].startswith("/trace/?id=urn")
    assert [m["field"] for m in body["closure_missing"]] == ["reportable"]
    listed = client.get(V + "/complaints?status=open").json()
    assert [row["number"] for row in listed["items"]] == [body["number"]]


def test_a_bad_udi_is_a_422_on_the_udi_field_with_the_parsers_message(c: C) -> None:
    client = _session(c.qa)

    response = _post(
        client,
        "/complaints",
        {"udi": "(01)12345(21)X", "description": "x", "complainant_name": "A"},
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "udi" and body["error"] == "validation_failed"
    assert body["message"].startswith("udi: ")
    assert not Complaint.objects.exists()


def test_a_hospital_reports_with_its_token_and_reads_only_its_own(c: C) -> None:
    c.unit("SN-2")
    c.unit("SN-3", hospital=c.s.hospital_b)
    client_a = _client(c.hospital_a, ["complaints:submit", "complaints:read"])
    client_b = _client(c.hospital_b, ["complaints:submit", "complaints:read"])

    mine = _post(client_a, "/complaints", {"udi": c.udi("SN-2"), "description": "Alarm"})
    refused = _post(client_b, "/complaints", {"udi": c.udi("SN-2"), "description": "Alarm"})

    assert mine.status_code == 201, mine.content
    number = mine.json()["number"]
    assert mine.json()["channel"] == "partner" and mine.json()["investigations"] == []
    assert (refused.status_code, refused.json()["field"]) == (404, "udi")
    assert client_b.get(f"{V}/complaints/{number}").status_code == 404
    assert client_b.get(V + "/complaints").json()["items"] == []
    assert client_a.get(f"{V}/complaints/{number}").status_code == 200
    assert client_a.get(V + "/adverse-events").status_code == 403
    # a partner token cannot carry complaints:write
    assert _post(client_a, f"/complaints/{number}/investigation", {"entry": "x"}).status_code == 403


def test_a_token_without_the_scope_is_refused(c: C) -> None:
    client = _client(c.qa, ["complaints:read"])

    response = _post(client, "/complaints", {"description": "x", "complainant_name": "A"})

    assert response.status_code == 403
    assert "complaints:write" in response.json()["message"]


def test_the_complaint_flow_to_a_signed_closure(c: C) -> None:
    c.unit("SN-4")
    client = _session(c.qa)
    number = _post(
        client, "/complaints", {"description": "Alarm", "complainant_name": "Ward 3"}
    ).json()["number"]

    refused = _post(client, f"/complaints/{number}/close", {"password": "pw-qa", "summary": "x"})
    assert refused.status_code == 409
    assert refused.json()["details"] == {"missing": ["udi", "reportable"]}

    entry = _post(
        client,
        f"/complaints/{number}/investigation",
        {"entry": "Serial read out", "udi": c.udi("SN-4"), "root_cause": "Cable"},
    )
    assert entry.status_code == 201 and entry.json()["status"] == "investigating"
    assert entry.json()["backward"] == {"error": None, "components": [], "lots": []}
    decided = _post(
        client, f"/complaints/{number}/decision", {"reportable": False, "justification": "No harm"}
    )
    assert decided.status_code == 200 and decided.json()["status"] == "decided"
    capa = _post(client, f"/complaints/{number}/capa", {"capa_reference": "CAPA-9"})
    assert capa.json()["capa_reference"] == "CAPA-9"
    wrong = _post(client, f"/complaints/{number}/close", {"password": "no", "summary": "x"})
    assert (wrong.status_code, wrong.json()["field"]) == (422, "password")

    closed = _post(client, f"/complaints/{number}/close", {"password": "pw-qa", "summary": "Fixed"})

    assert closed.status_code == 200, closed.content
    body = closed.json()
    assert body["status"] == "closed" and body["closed_by"] == "qa"
    (signature,) = body["signatures"]
    assert (signature["meaning"], signature["valid"]) == ("closed", True)


def test_a_reportable_decision_gives_the_deadlines_and_a_submission_is_recorded(c: C) -> None:
    client = _session(c.qa)
    aware = datetime(2025, 3, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    number = _post(
        client,
        "/complaints",
        {
            "description": "Patient harmed",
            "complainant_name": "Ward",
            "death": True,
            "received_at": aware.isoformat(),
        },
    ).json()["number"]

    decided = _post(
        client,
        f"/complaints/{number}/decision",
        {"reportable": True, "justification": "Death", "group_event": True},
    ).json()

    ae = decided["adverse_event"]
    assert [d["key"] for d in ae["deadlines"]] == ["cn_ae_group", "cn_ae_death"]
    assert all(d["state"] == "overdue" and d["overdue"] for d in ae["deadlines"])
    reported = _post(
        client, f"/adverse-events/{ae['number']}/deadlines/cn_ae_group/report", {"reference": "R1"}
    )
    assert reported.status_code == 200
    states = {d["key"]: d["state"] for d in reported.json()["deadlines"]}
    assert states == {"cn_ae_group": "reported_late", "cn_ae_death": "overdue"}
    listed = client.get(V + "/adverse-events?overdue=true").json()["items"]
    assert [row["number"] for row in listed] == [ae["number"]]


def test_a_missing_calendar_year_is_a_clear_422(c: C) -> None:
    client = _session(c.qa)
    number = _post(
        client,
        "/complaints",
        {
            "description": "Old event",
            "complainant_name": "Ward",
            "received_at": "2003-06-02T09:00:00+08:00",
        },
    ).json()["number"]

    response = _post(
        client,
        f"/complaints/{number}/adverse-event",
        {"jurisdictions": ["US"], "five_day": True},
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "jurisdictions" and "no data for 2003" in body["message"]


def test_qa_edits_the_signal_rules_and_reads_the_signals(c: C) -> None:
    client = _session(c.qa)
    rules = client.get(V + "/signal-rules").json()
    lot_rule = next(r for r in rules if r["dimension"] == "lot")

    patched = client.patch(
        f"{V}/signal-rules/{lot_rule['id']}",
        json.dumps({"threshold": 2, "window_days": 7, "reason": "faster"}),
        content_type="application/json",
    )
    created = _post(client, "/signal-rules", {"dimension": "lot", "threshold": 1, "window_days": 9})

    assert patched.status_code == 200 and patched.json()["window_days"] == 7
    assert (created.status_code, created.json()["field"]) == (422, "threshold")
    c.unit("SN-5", lot="L5")
    c.unit("SN-6", lot="L5")
    for serial in ("SN-5", "SN-6"):
        _post(
            client,
            "/complaints",
            {"udi": c.udi(serial), "description": "x", "complainant_name": "W"},
        )
    (signal,) = client.get(V + "/signals").json()["items"]
    assert signal["key"] == c.lot_class("L5") and len(signal["complaints"]) == 2
    assert signal["evidence"]["window"]["days"] == 7
    assert (
        _session(c.service)
        .post(
            V + "/signal-rules",
            json.dumps({"dimension": "lot", "threshold": 3, "window_days": 5}),
            content_type="application/json",
        )
        .status_code
        == 403
    )
