"""A recall through /api/v1/: open, classify, approve, notify, a hospital answers, effectiveness,
close; error shapes, scopes and partner scoping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from medtrace.accounts.services import token_create

from .factories import HHE, QA_PASSWORD, R

pytestmark = pytest.mark.django_db

V = "/api/v1"
STAFF = ["recalls:read", "recalls:write"]


def client(user: Any, scopes: list[str]) -> Client:
    _token, raw = token_create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post(c: Client, url: str, body: Any = None) -> Any:
    return c.post(V + url, json.dumps(body or {}), content_type="application/json")


def test_a_recall_runs_end_to_end_through_the_api(
    r: R, django_capture_on_commit_callbacks: Any
) -> None:
    a = r.at(r.w.hospital, "H1", "H2", lot="LOT-A")
    r.at(r.hospital_b, "B1", lot="LOT-A")
    r.stock("S1", lot="LOT-A")
    qa = client(r.qa, STAFF)
    hospital = client(r.d.hospital_user, ["recall:ack"])
    other = client(r.d.other_user, ["recall:ack"])
    scope = {"kind": "lot", "params": {"lot": f"(01){r.w.gtin(r.w.device)}(10)LOT-A"}}

    preview = post(qa, "/recalls/preview", scope)
    assert preview.status_code == 200, preview.content
    assert preview.json()["count"] == 4 and preview.json()["under_control"] == 1

    opened = post(qa, "/recalls", {**scope, "title": "IP-9 alarm", "reason": "complaints"})
    assert opened.status_code == 201, opened.content
    number = opened.json()["number"]
    assert opened.json()["affected_count"] == 4 and opened.json()["status"] == "open"

    units = qa.get(f"{V}/recalls/{number}/units", {"holder": r.w.hospital.gln})
    assert units.status_code == 200 and units.json()["count"] == 2
    assert {u["serial"] for u in units.json()["items"]} == {"H1", "H2"}

    refused = post(qa, f"/recalls/{number}/notices/send")
    assert refused.status_code == 409 and refused.json()["error"] == "conflict"

    classified = post(
        qa,
        f"/recalls/{number}/classify",
        {"cn_level": 2, "fda_class": "II", "depth": "user", "hhe": HHE, "strategy": "notify"},
    )
    assert classified.status_code == 200, classified.content
    wrong = post(qa, f"/recalls/{number}/approve", {"password": "nope"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "password"
    approved = post(qa, f"/recalls/{number}/approve", {"password": QA_PASSWORD})
    assert approved.status_code == 200, approved.content
    assert approved.json()["signatures"][0]["meaning"] == "approved"
    assert {d["key"] for d in approved.json()["deadlines"]} >= {"cn_recall_notify", "fda_806"}

    created = post(qa, f"/recalls/{number}/notices")
    assert created.status_code == 201 and len(created.json()) == 2
    with django_capture_on_commit_callbacks(execute=True):
        sent = post(qa, f"/recalls/{number}/notices/send")
    assert sent.status_code == 200 and {n["status"] for n in sent.json()} == {"sent"}

    mine = hospital.get(f"{V}/recall-notices")
    assert mine.status_code == 200 and mine.json()["count"] == 1
    notice = mine.json()["items"][0]["number"]
    detail = hospital.get(f"{V}/recall-notices/{notice}")
    assert {u["epc"] for u in detail.json()["units"]} == set(a)
    assert other.get(f"{V}/recall-notices/{notice}").status_code == 404
    assert post(other, f"/recall-notices/{notice}/acknowledge").status_code == 404
    assert hospital.get(f"{V}/recalls/{number}").status_code == 403  # no recalls:read

    acked = post(hospital, f"/recall-notices/{notice}/acknowledge", {"note": "stopped using"})
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    bad = post(
        hospital,
        f"/recall-notices/{notice}/dispositions",
        {"items": [{"unit": "H1", "status": "lost"}]},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "items[0].status"
    done = post(
        hospital,
        f"/recall-notices/{notice}/dispositions",
        {"items": [{"unit": "H1", "status": "corrected"}, {"unit": "H2", "status": "used"}]},
    )
    assert done.status_code == 200, done.content
    assert done.json()["notice"]["status"] == "resolved"

    progress = qa.get(f"{V}/recalls/{number}/progress").json()
    assert (progress["affected"], progress["held"], progress["consignees"]) == (4, 1, 2)
    assert (progress["acknowledged"], progress["resolved"], progress["corrected"]) == (1, 1, 1)

    check = post(qa, f"/recalls/{number}/effectiveness-checks", {"level": "A"})
    assert check.status_code == 201 and check.json()["planned_count"] == 2
    for contact in check.json()["contacts"]:
        recorded = post(
            qa,
            f"/recalls/{number}/effectiveness-checks/{check.json()['id']}/contacts",
            {"notice": contact["notice"], "result": "confirmed"},
        )
        assert recorded.status_code == 200, recorded.content
    concluded = post(
        qa, f"/recalls/{number}/effectiveness", {"effective": True, "conclusion": "all confirmed"}
    )
    assert concluded.status_code == 200

    blocked = post(qa, f"/recalls/{number}/close", {"password": QA_PASSWORD, "summary": "x"})
    assert blocked.status_code == 409
    assert [m["code"] for m in blocked.json()["details"]["missing"]] == [
        "notices_not_acknowledged",
        "units_without_disposition",
    ]
    other_notice = qa.get(f"{V}/recall-notices", {"recall": number, "status": "sent"})
    (left,) = other_notice.json()["items"]
    post(qa, f"/recall-notices/{left['number']}/dispositions",
         {"items": [{"unit": "B1", "status": "returned"}]})  # fmt: skip
    closed = post(qa, f"/recalls/{number}/close", {"password": QA_PASSWORD, "summary": "done"})
    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == "closed"
    assert [s["meaning"] for s in closed.json()["signatures"]] == ["approved", "closed"]


def test_a_token_needs_the_recall_scopes(r: R) -> None:
    epcs = r.stock("S1")
    reader = client(r.qa, ["recalls:read"])

    refused = post(reader, "/recalls", {"kind": "serials", "params": {"serials": epcs},
                                        "title": "t", "reason": "r"})  # fmt: skip

    assert refused.status_code == 403 and "recalls:write" in refused.json()["message"]
    assert reader.get(f"{V}/recalls").status_code == 200


def test_an_unknown_scope_answers_in_the_error_shape(r: R) -> None:
    qa = client(r.qa, STAFF)

    answer = post(qa, "/recalls", {"kind": "lot", "params": {"lot": "(01)06901234000110"},
                                   "title": "t", "reason": "r"})  # fmt: skip

    assert answer.status_code == 422
    assert answer.json()["error"] == "validation_failed" and answer.json()["field"] == "lot"
    assert post(qa, "/recalls/RC-1999-000001/recompute").status_code == 404
