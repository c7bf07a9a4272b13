"""The quality API: plans, results, nonconformances, holds and releases over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from medtrace.ledger.models import Event
from medtrace.quality.models import Hold, InspectionPlan, Release
from medtrace.trace.tests import factories as f

from .conftest import BAD, GOOD, commission

pytestmark = pytest.mark.django_db
SCOPES = ["lifecycle:read", "quality:write"]


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post("/api/v1" + url, json.dumps(body), content_type="application/json")


def patch(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.patch("/api/v1" + url, json.dumps(body), content_type="application/json")


PLAN = {
    "code": "FQ-API",
    "name": "Final",
    "kind": "final",
    "characteristics": [
        {"name": "Flow accuracy", "lower": -5, "upper": 5, "unit": "%"},
        {"name": "Occlusion pressure", "lower": 40, "upper": 120, "unit": "kPa"},
        {"name": "Leakage current", "upper": 100, "unit": "µA"},
    ],
}


def test_plan_inspect_fail_nc_rework_pass_release_over_the_api(
    w: f.World, qa_manager: Any, api_client: Any
) -> None:
    c = api_client(qa_manager, SCOPES)
    r = post(c, "/inspection-plans", {**PLAN, "product_id": w.device.pk})
    assert r.status_code == 201, r.content
    plan = r.json()
    assert plan["version"] == 1 and len(plan["characteristics"]) == 3
    r = patch(c, f"/inspection-plans/{plan['id']}", {"name": "Final IP-9"})
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = patch(c, f"/inspection-plans/{plan['id']}", {"name": "Final IP-9", "reason": "rename"})
    assert r.status_code == 200 and r.json()["name"] == "Final IP-9"

    (epc,) = commission(w, "A1")
    gtin = w.gtin(w.device)
    scan = f"(01){gtin}(21)A1"
    r = c.get("/api/v1/inspection-plans", {"target": scan})
    assert [p["code"] for p in r.json()["items"]] == ["FQ-API"]
    r = post(c, "/inspections", {"plan_id": plan["id"], "target": scan, "values": {}})
    assert r.status_code == 422
    assert r.json()["field"] == "values.Flow accuracy"
    r = post(c, "/inspections", {"plan_id": plan["id"], "target": scan, "values": BAD})
    assert r.status_code == 201, r.content
    failed = r.json()
    assert failed["result"] == "fail" and failed["nonconformance"].startswith("NC-")

    r = c.get("/api/v1/nonconformances", {"status": "open"})
    (nc,) = r.json()["items"]
    assert nc["targets"] == [epc] and nc["inspection"] == failed["number"]
    r = post(c, "/releases", {"targets": [scan], "password": "pw-qa_manager"})
    assert r.status_code == 409 and "on QC hold" in r.json()["message"]
    r = post(
        c,
        f"/nonconformances/{nc['id']}/disposition",
        {"disposition": "rework", "reason": "new sensor", "password": "wrong"},
    )
    assert r.status_code == 422 and r.json()["field"] == "password"
    r = post(
        c,
        f"/nonconformances/{nc['id']}/disposition",
        {"disposition": "rework", "reason": "new sensor", "password": "pw-qa_manager"},
    )
    assert r.status_code == 200 and r.json()["status"] == "dispositioned"
    assert r.json()["signatures"][0]["meaning"] == "approved"
    r = post(c, f"/nonconformances/{nc['id']}/close", {"note": "done"})
    assert r.status_code == 422 and r.json()["field"] == "nonconformance"
    r = post(c, "/inspections", {"plan_id": plan["id"], "target": epc, "values": GOOD})
    assert r.json()["result"] == "pass" and r.json()["nonconformance"] is None
    r = post(c, f"/nonconformances/{nc['id']}/close", {"note": "reworked, passed"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert r.json()["holds"][0]["active"] is False

    r = c.get("/api/v1/inspections", {"target": scan})
    assert [i["result"] for i in r.json()["items"]] == ["fail", "pass"]
    r = post(c, "/releases", {"targets": [scan], "password": "pw-qa_manager", "note": "ok"})
    assert r.status_code == 201, r.content
    assert r.json()["targets"] == [epc] and r.json()["signatures"][0]["meaning"] == "released"
    assert c.get("/api/v1/releases").json()["count"] == 1


def test_quarantine_moves_the_goods_to_the_quarantine_location(
    w: f.World, warehouse_clerk: Any, api_client: Any
) -> None:
    c = api_client(warehouse_clerk, SCOPES)
    (epc,) = commission(w, "Q1")
    r = post(
        c,
        "/holds",
        {
            "targets": [epc],
            "kind": "quarantine",
            "reason": "dented case",
            "location_id": w.plant.pk,
        },
    )
    assert r.status_code == 201, r.content
    (hold,) = r.json()["items"]
    assert hold["kind"] == "quarantine"
    event = Event.objects.get(biz_step="holding")
    assert event.biz_location == w.plant.sgln
    r = post(c, f"/holds/{hold['id']}/lift", {"reason": "checked"})
    assert r.status_code == 403  # the warehouse quarantines, QC lifts
    assert Hold.objects.get().active


def test_a_hold_lifted_by_qc(w: f.World, qa_manager: Any, api_client: Any) -> None:
    c = api_client(qa_manager, SCOPES)
    (epc,) = commission(w, "Q2")
    r = post(c, "/holds", {"targets": [epc], "reason": "check label"})
    hold = r.json()["items"][0]
    assert c.get("/api/v1/holds").json()["count"] == 1
    r = post(c, f"/holds/{hold['id']}/lift", {"reason": "label ok"})
    assert r.status_code == 200 and r.json()["active"] is False
    r = post(c, f"/holds/{hold['id']}/lift", {"reason": "again"})
    assert r.status_code == 422 and "already lifted" in r.json()["message"]
    assert c.get("/api/v1/holds").json()["count"] == 0
    assert c.get("/api/v1/holds", {"active": "false"}).json()["count"] == 1


def test_partners_see_no_quality_records(
    w: f.World, qa_manager: Any, hospital_a: Any, api_client: Any
) -> None:
    c = api_client(hospital_a, ["lifecycle:read"])
    assert c.get("/api/v1/nonconformances").status_code == 403
    assert c.get("/api/v1/nonconformances/1").status_code == 404


def test_a_token_without_quality_write_cannot_release(
    w: f.World, qa_manager: Any, api_client: Any
) -> None:
    c = api_client(qa_manager, ["lifecycle:read"])
    r = post(c, "/releases", {"targets": ["x"], "password": "pw-qa_manager"})
    assert r.status_code == 403 and "quality:write" in r.json()["message"]
    assert not Release.objects.exists() and not InspectionPlan.objects.exists()
