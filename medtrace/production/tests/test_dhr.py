"""The device history record per work order and per unit: components with supplier, process
records, quantities made / approved / on hold, inspections, releases; JSON and PDF."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from medtrace.accounts.models import User
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.lifecycle import events as ev
from medtrace.production import selectors_dhr as dhr
from medtrace.production import services_assembly as assembly
from medtrace.production import services_orders as orders
from medtrace.production import services_records as records
from medtrace.production.models import ProcessRecord, WorkOrder
from medtrace.production.pdf import content_sha256, dhr_pdf
from medtrace.quality.inspections import inspection_record
from medtrace.quality.plans import inspection_plan_create
from medtrace.quality.services import hold_place, release_create

from .factories import Prod, prod_world, work_order

pytestmark = pytest.mark.django_db


def _user(username: str, role: str) -> User:
    user = User.objects.create_user(
        username=username, password=f"pw-{username}", printed_name=username.title()
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def _built(x: Prod) -> tuple[WorkOrder, list[str], list[str]]:
    """Two boards, three devices: D00001 fully built, inspected and released; D00002 held."""
    w = x.w
    board_order = work_order(x, w.board, quantity=1)
    board = orders.work_order_commission(work_order=board_order, count=1, user=None)
    assembly.work_order_assemble(
        work_order=board_order,
        unit=board.epcs[0],
        components=[f"(01){w.resin.gtin}(10)R-001"],
        user=None,
    )
    order = work_order(x, quantity=5, lot="L2503")
    made = orders.work_order_commission(work_order=order, count=3, user=None)
    assembly.work_order_assemble(
        work_order=order,
        unit=made.epcs[0],
        components=[f"(01){w.resin.gtin}(10)R-001", f"(01){w.pump.gtin}(21)P-1", board.epcs[0]],
        user=None,
    )
    operator = _user("operator", "production")
    records.process_record_add(
        work_order=order,
        data={
            "step": "torque screws",
            "station": "TQ-07",
            "unit": made.serials[0],
            "parameters": [{"name": "torque", "value": 0.6, "unit": "N·m"}],
            "result": "pass",
        },
        user=operator,
    )
    records.process_record_add(
        work_order=order,
        data={
            "step": "burn-in",
            "station": "OVEN-2",
            "parameters": [
                {"name": "temperature", "value": 45, "unit": "°C"},
                {"name": "duration", "value": 24, "unit": "h"},
            ],
        },
        user=operator,
    )
    qc = _user("inspector", "qc")
    plan = inspection_plan_create(
        data={
            "code": "FQ-DHR",
            "name": "Final inspection",
            "kind": "final",
            "product_id": w.device.pk,
            "characteristics": [{"name": "Flow accuracy", "lower": -5, "upper": 5, "unit": "%"}],
        },
        user=None,
    )
    inspection_record(plan=plan, target=made.epcs[0], values={"Flow accuracy": 1.2}, user=qc)
    release_create(targets=[made.epcs[0]], user=qc, password="pw-inspector")
    hold_place(targets=[made.epcs[1]], reason="scratch on housing", user=None)
    return order, made.serials, made.epcs


def test_the_work_order_dhr_holds_quantities_components_processes_and_releases() -> None:
    x = prod_world()
    order, serials, epcs = _built(x)

    record = dhr.work_order_dhr(work_order=order, user=None)

    assert record["work_order"]["number"] == order.number
    assert record["work_order"]["lot"] == "L2503"
    assert record["quantities"] == {
        "planned": 5,
        "made": 3,
        "approved": 1,
        "scrapped": 0,
        "on_hold": 1,
        "assembled": 1,
    }
    assert [u["serial"] for u in record["units"]] == serials
    assert [u["components_complete"] for u in record["units"]] == [True, False, False]
    by_material = {c["material"]: c for c in record["components"]}
    assert by_material[x.w.pump.code]["supplier"]["name"] == x.w.supplier.name
    assert by_material[x.w.resin.code]["quantity"] == "2"
    assert by_material[x.board_material.code]["made_by_work_order"].startswith("WO-")
    steps = {p["step"]: p for p in record["process_records"]}
    assert steps["torque screws"]["parameters"] == [{"name": "torque", "value": 0.6, "unit": "N·m"}]
    assert steps["torque screws"]["operator"] == "Operator"
    assert steps["burn-in"]["unit"] is None
    assert record["inspections_available"] is True
    assert [(i["target"], i["result"]) for i in record["inspections"]] == [(epcs[0], "pass")]
    [release] = record["releases"]
    assert release["signatures"][0]["meaning"] == "released"
    assert record["commissionings"][0]["count"] == 3
    assert record["material_stock_checked"] is True
    assert [g["serial"] for g in record["genealogy_gaps"]] == serials[1:]


def test_the_unit_dhr_is_found_by_any_udi_form_and_holds_only_its_own_records() -> None:
    x = prod_world()
    order, serials, epcs = _built(x)
    gtin = x.w.gtin(x.w.device)

    record = dhr.unit_dhr(id=f"(01){gtin}(10)L2503(21){serials[0]}", user=None)

    assert record["kind"] == "unit" and record["epc"] == epcs[0]
    assert record["released"] is True and record["held"] is False
    assert {c["identifier"] for c in record["components"]} == {"R-001", "P-1", "B00001"}
    assert {p["step"] for p in record["process_records"]} == {"torque screws", "burn-in"}
    assert [c["complete"] for c in record["checklist"]] == [True, True, True]
    other = dhr.unit_dhr(id=serials[1], user=None)
    assert other["components"] == [] and other["held"] is True
    assert {p["step"] for p in other["process_records"]} == {"burn-in"}
    lot = dhr.unit_dhr(id=ev.lot_class(x.w.device, "L2503"), user=None)
    assert lot["kind"] == "lot" and lot["work_order"]["number"] == order.number


def test_a_unit_we_did_not_make_has_no_dhr() -> None:
    x = prod_world()
    _built(x)

    with pytest.raises(NotFound, match="was not made by one of our work orders"):
        dhr.unit_dhr(id=f"(01){x.w.pump.gtin}(21)P-1", user=None)


def test_the_dhr_is_for_production_qc_qa_and_the_auditor(hospital_a: Any) -> None:
    x = prod_world()
    order = work_order(x, quantity=2)

    for role in ("production", "qc", "qa_ra", "auditor"):
        dhr.work_order_dhr(work_order=order, user=_user(f"u_{role}", role))
    with pytest.raises(PermissionDenied, match=r"production\.view_dhr"):
        dhr.work_order_dhr(work_order=order, user=_user("u_sales", "sales"))
    with pytest.raises(NotFound):
        dhr.work_order_dhr(work_order=order, user=hospital_a)


def test_the_dhr_pdf_prints_chinese_and_the_content_hash() -> None:
    x = prod_world()
    order, serials, _epcs = _built(x)
    record = dhr.work_order_dhr(work_order=order, user=None)

    pdf = dhr_pdf(record, language="zh-hans")
    unit_pdf = dhr_pdf(dhr.unit_dhr(id=serials[0], user=None), language="en")

    assert pdf.startswith(b"%PDF") and unit_pdf.startswith(b"%PDF")
    assert b"STSong-Light" in pdf
    assert len(content_sha256(record)) == 64
    again = dict(record, generated_at="later")
    assert content_sha256(again) == content_sha256(record)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"step": ""}, "step"),
        ({"step": "x", "parameters": [{"name": "t"}]}, "parameters[0].value"),
        ({"step": "x", "parameters": [{"name": "t", "value": 1, "colour": "red"}]}, None),
        ({"step": "x", "parameters": "torque"}, "parameters"),
        ({"step": "x", "result": "ok"}, "result"),
        (
            {
                "step": "x",
                "started_at": "2025-03-09T10:00:00+08:00",
                "finished_at": "2025-03-09T09:00:00+08:00",
            },
            "finished_at",
        ),
        ({"step": "x", "unit": "urn:epc:id:sgtin:6901234.000011.NOPE"}, "unit"),
        ({"step": "x", "operator": "bob"}, "operator"),
    ],
)
def test_a_bad_process_record_is_refused_naming_the_field(
    data: dict[str, Any], field: str | None
) -> None:
    x = prod_world()
    order = work_order(x, quantity=2)

    with pytest.raises(ValidationFailed) as exc:
        records.process_record_add(work_order=order, data=data, user=None)

    if field is not None:
        assert exc.value.field == field, exc.value.message
    assert not ProcessRecord.objects.exists()
