"""The work-order API: /api/v1/work-orders/... and /api/v1/units/{id}/dhr."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from medtrace.accounts.models import User
from medtrace.accounts.services import token_create
from medtrace.masterdata.tests import factories as md
from medtrace.production.models import WorkOrder

from .factories import Prod, prod_world, released_bom, rule, work_order

pytestmark = pytest.mark.django_db

SCOPES = ["lifecycle:read", "production:write"]


def _client(role: str | None, party: Any = None, scopes: list[str] = SCOPES) -> Client:
    user = User.objects.create_user(
        username=f"api_{role or 'partner'}", password="pw", printed_name="API", party=party
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    _token, raw = token_create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def x() -> Prod:
    return prod_world()


def test_planning_releasing_and_commissioning_through_the_api(x: Prod) -> None:
    api = _client("production")

    created = _post(
        api,
        "/api/v1/work-orders",
        {"product_id": x.w.device.pk, "quantity": 3, "line_id": x.line.pk, "lot": "L1"},
    )
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["status"] == "planned" and order["bom"]["label"] == "A"
    released = api.post(f"/api/v1/work-orders/{order['id']}/release")
    assert released.json()["status"] == "released"

    done = _post(api, f"/api/v1/work-orders/{order['id']}/commission", {"count": 2})

    assert done.status_code == 201, done.content
    body = done.json()
    assert body["count"] == 2 and body["serials"] == ["D00001", "D00002"]
    assert body["event_id"].startswith("urn:uuid:")
    assert body["work_order"]["commissioned_qty"] == 2
    got = api.get(f"/api/v1/work-orders/{order['id']}").json()
    assert got["progress"]["made"] == 2 and got["status"] == "in_progress"
    listed = api.get("/api/v1/work-orders?status=in_progress").json()
    assert [o["number"] for o in listed["items"]] == [order["number"]]


def test_refusals_have_the_error_shape_with_the_field(x: Prod) -> None:
    api = _client("production")
    order = work_order(x, quantity=2, release=False)

    draft = _post(
        api,
        "/api/v1/work-orders",
        {"product_id": x.w.device.pk, "bom_id": x.board_bom.pk, "quantity": 3, "line_id": 0},
    )
    planned = _post(api, f"/api/v1/work-orders/{order.pk}/commission", {"count": 1})
    unknown = _post(api, "/api/v1/work-orders", {"product_id": 1, "colour": "red"})

    assert draft.status_code == 422 and draft.json()["field"] == "bom_id"
    assert planned.status_code == 409 and planned.json()["field"] == "status"
    assert "it is Planned" in planned.json()["message"]
    assert unknown.status_code == 422
    assert set(draft.json()) == {"error", "message", "field", "details"}


def test_assembling_process_records_and_the_dhr_through_the_api(x: Prod) -> None:
    api = _client("production")
    order = work_order(x, quantity=2)
    serials = _post(api, f"/api/v1/work-orders/{order.pk}/commission", {"count": 2}).json()[
        "serials"
    ]
    resin = f"(01){x.w.resin.gtin}(10)R-001"

    assembled = _post(
        api,
        f"/api/v1/work-orders/{order.pk}/assemble",
        {
            "unit": serials[0],
            "components": [
                {"scan": resin, "quantity": "2"},
                {"scan": f"(01){x.w.pump.gtin}(21)P-1"},
            ],
            "station": "ST-1",
        },
    )
    over = _post(
        api,
        f"/api/v1/work-orders/{order.pk}/assemble",
        {"unit": serials[0], "components": [{"scan": f"(01){x.w.pump.gtin}(21)P-2"}]},
    )
    record = _post(
        api,
        f"/api/v1/work-orders/{order.pk}/process-records",
        {
            "step": "torque screws",
            "unit": serials[0],
            "parameters": [{"name": "torque", "value": 0.6, "unit": "N·m"}],
            "result": "pass",
        },
    )

    assert assembled.status_code == 201, assembled.content
    body = assembled.json()
    assert [c["material"] for c in body["components"]] == [x.w.resin.code, x.w.pump.code]
    assert len(body["event_ids"]) == 2
    assert [c["complete"] for c in body["checklist"]] == [True, True, False]
    assert over.status_code == 422 and over.json()["field"] == "components[0]"
    assert record.status_code == 201 and record.json()["unit_serial"] == serials[0]
    gtin = x.w.gtin(x.w.device)
    unit = _client("qa_ra", scopes=["lifecycle:read"]).get(
        "/api/v1/units/" + quote(f"(01){gtin}(21){serials[0]}", safe="") + "/dhr"
    )
    assert unit.status_code == 200, unit.content
    assert {c["identifier"] for c in unit.json()["components"]} == {"R-001", "P-1"}
    whole = api.get(f"/api/v1/work-orders/{order.pk}/dhr").json()
    assert whole["quantities"]["made"] == 2
    pdf = api.get(f"/api/v1/work-orders/{order.pk}/dhr/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_completing_cancelling_and_closing(x: Prod) -> None:
    api = _client("production")
    qa = User.objects.create_user(username="qa_closer", password="pw-qa", printed_name="QA")
    qa.groups.add(Group.objects.get(name="qa_ra"))
    _token, raw = token_create(user=qa, scopes=SCOPES)
    qa_api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    planned = work_order(x, quantity=2, release=False)
    cancelled = _post(api, f"/api/v1/work-orders/{planned.pk}/cancel", {"reason": "plan"})
    order = work_order(x, quantity=2)
    _post(api, f"/api/v1/work-orders/{order.pk}/commission", {"count": 1})

    gaps = api.post(f"/api/v1/work-orders/{order.pk}/complete")
    assert gaps.status_code == 409 and "lacks critical components" in gaps.json()["message"]
    assert cancelled.json()["status"] == "cancelled"
    # Nothing critical on this product's BOM: completes at once, then QA closes it e-signed.
    simple = md.product(manufacturer=x.w.maker)
    released_bom(simple, [(md.material(tracking="lot", name="Label"), "1")])
    rule(simple, prefix="S")
    easy = work_order(x, simple, quantity=1)
    _post(api, f"/api/v1/work-orders/{easy.pk}/commission", {"count": 1})
    assert api.post(f"/api/v1/work-orders/{easy.pk}/complete").json()["status"] == "completed"
    denied = _post(api, f"/api/v1/work-orders/{easy.pk}/close", {"password": "pw-production"})
    wrong = _post(qa_api, f"/api/v1/work-orders/{easy.pk}/close", {"password": "nope"})
    closed = _post(qa_api, f"/api/v1/work-orders/{easy.pk}/close", {"password": "pw-qa"})
    assert denied.status_code == 403
    assert wrong.status_code == 422 and wrong.json()["field"] == "password"
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    dhr = qa_api.get(f"/api/v1/work-orders/{easy.pk}/dhr").json()
    assert dhr["signatures"][0]["meaning"] == "approved" and dhr["signatures"][0]["valid"]


def test_partners_see_no_work_orders(x: Prod, hospital_a: Any) -> None:
    order = work_order(x, quantity=2)
    _token, raw = token_create(user=hospital_a, scopes=["lifecycle:read"])
    partner = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert partner.get("/api/v1/work-orders").json()["items"] == []
    assert partner.get(f"/api/v1/work-orders/{order.pk}").status_code == 404
    assert partner.get(f"/api/v1/work-orders/{order.pk}/dhr").status_code == 404


def test_a_token_without_production_write_cannot_commission(x: Prod) -> None:
    order = work_order(x, quantity=2)
    reader = _client("production", scopes=["lifecycle:read"])

    response = _post(reader, f"/api/v1/work-orders/{order.pk}/commission", {"count": 1})

    assert response.status_code == 403 and "production:write" in response.json()["message"]
    assert WorkOrder.objects.get(pk=order.pk).commissioned_qty == 0
