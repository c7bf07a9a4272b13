"""The warehouse API: thin over the services; errors in the one shape, identifiers in any form."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import pytest
import zxingcpp
from PIL import Image

from medtrace.warehouse.models import Container, StockMove

from .factories import Site, in_days, make, site, stock

pytestmark = pytest.mark.django_db
SCOPES = ["lifecycle:read", "warehouse:write"]


@pytest.fixture
def s() -> Site:
    return site()


@pytest.fixture
def client(api_client: Any, warehouse_clerk: Any) -> Any:
    return api_client(warehouse_clerk, SCOPES)


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post("/api/v1" + url, body, content_type="application/json")


def test_pack_a_new_case_read_its_contents_and_label_then_unpack(s: Site, client: Any) -> None:
    units = make(s, "P1", "P2", expiry=in_days(90), lot="L1")

    made = post(client, "/containers", {"children": ["P1", units[1]], "close": True})

    assert made.status_code == 201, made.json()
    body = made.json()
    sscc = body["sscc"]
    assert body["status"] == "closed" and body["unit_count"] == 2 and body["packed"] == units
    assert body["event_id"].startswith("ni:///sha-256;")
    assert body["summary"] == [
        {"product": {"id": s.w.device.pk, "name": s.w.device.name, "model": s.w.device.model},
         "lot": "L1", "count": 2, "expiry": in_days(90)},
    ]  # fmt: skip
    for form in (sscc, f"(00){sscc}", body["epc"], f"https://id.gs1.org/00/{sscc}"):
        got = client.get(f"/api/v1/containers/{quote(form, safe='')}")
        assert got.status_code == 200 and got.json()["sscc"] == sscc, form
    label = client.get(body["label_png"])
    assert label.status_code == 200 and label["Content-Type"] == "image/png"
    read = zxingcpp.read_barcodes(Image.open(io.BytesIO(label.content)))
    assert {r.text for r in read} == {f"(00){sscc}"}
    pdf = client.get(f"/api/v1/containers/{sscc}/label.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"

    out = post(client, f"/containers/{sscc}/unpack", {"children": ["P1"]})
    assert out.status_code == 200 and out.json()["unit_count"] == 1
    assert out.json()["status"] == "open"


def test_a_refused_pack_is_a_409_naming_the_unit_and_stores_nothing(s: Site, client: Any) -> None:
    make(s, "P1")
    first = post(client, "/containers", {"children": ["P1"]}).json()["sscc"]

    again = post(client, "/containers", {"children": ["P1"]})

    assert again.status_code == 409
    body = again.json()
    assert body["error"] == "sequence_violation" and body["field"] == "children"
    assert f"it is already packed in SSCC {first}" in body["message"]
    assert Container.objects.count() == 1  # the new case of the refused request is not kept


def test_moves_stock_and_unknown_fields(s: Site, client: Any, qa_manager: Any) -> None:
    stock(s, qa_manager, "P1", "P2", expiry=in_days(60), at=s.line)

    moved = post(client, "/moves", {"scans": ["P1", "P2"], "to_location": s.a01.sgln})

    assert moved.status_code == 201, moved.json()
    assert moved.json()["kind"] == "put_away" and moved.json()["to_location"]["id"] == s.a01.pk
    number = moved.json()["number"]
    assert client.get(f"/api/v1/moves/{number}").json()["items"][0]["serial"] == "P1"
    on_hand = client.get(f"/api/v1/stock?location={s.store.code}&product={s.w.device.pk}")
    assert on_hand.status_code == 200
    assert on_hand.json()["on_hand"] == 2 and on_hand.json()["available"] == 2
    (row,) = on_hand.json()["items"]
    assert row["location"]["code"] == s.a01.code and row["expiry"] == in_days(60)
    bad = post(client, "/moves", {"scans": ["P1"], "to_location": s.a01.pk, "colour": "red"})
    assert bad.status_code == 422 and bad.json()["field"] == "colour"
    assert StockMove.objects.count() == 1


def test_pick_list_with_fefo_refusal_and_override(s: Site, client: Any, qa_manager: Any) -> None:
    stock(s, qa_manager, "SOON", expiry=in_days(30))
    stock(s, qa_manager, "LATE", expiry=in_days(300))

    made = post(client, "/pick-lists", {"product_id": s.w.device.pk, "quantity": 1})

    assert made.status_code == 201
    plist = made.json()
    assert [p["serial"] for p in plist["proposal"]] == ["SOON"]
    refused = post(client, f"/pick-lists/{plist['number']}/pick", {"scans": ["LATE"]})
    assert refused.status_code == 409
    assert refused.json()["message"].startswith("FEFO: LATE expires")
    done = post(
        client,
        f"/pick-lists/{plist['id']}/pick",
        {"scans": ["LATE"], "override_reason": "long-dated stock requested"},
    )
    assert done.status_code == 200
    assert done.json()["status"] == "picked" and done.json()["picks"][0]["fefo_better"]
    listed = client.get("/api/v1/pick-lists?status=picked").json()
    assert [p["number"] for p in listed] == [plist["number"]]


def test_stock_count_scans_and_reconcile(s: Site, client: Any) -> None:
    make(s, "P1", "P2")

    made = post(client, "/stock-counts", {"location": str(s.a01.pk)})
    assert made.status_code == 201
    count = made.json()["number"]
    scanned = post(client, f"/stock-counts/{count}/scans", {"scans": ["P1"]})
    assert scanned.json()["missing"] == 1 and scanned.json()["lines"][0]["result"] == "missing"
    posted = post(client, f"/stock-counts/{count}/reconcile", {})

    assert posted.status_code == 200
    body = posted.json()
    assert (body["status"], body["matched"], body["missing"]) == ("reconciled", 1, 1)
    assert {(line["serial"], line["result"], line["observed"]) for line in body["lines"]} == {
        ("P1", "matched", True),
        ("P2", "missing", False),
    }


def test_partners_and_tokens_without_the_scope(
    s: Site, api_client: Any, hospital_a: Any, warehouse_clerk: Any
) -> None:
    make(s, "P1")
    case = post(api_client(warehouse_clerk, SCOPES), "/containers", {"children": ["P1"]})
    sscc = case.json()["sscc"]
    partner = api_client(hospital_a, ["lifecycle:read"])
    assert partner.get(f"/api/v1/containers/{sscc}").status_code == 404
    assert partner.get("/api/v1/stock").status_code == 403
    reader = api_client(warehouse_clerk, ["lifecycle:read"])
    assert reader.get(f"/api/v1/containers/{sscc}").status_code == 200
    assert post(reader, "/containers", {}).status_code == 403
