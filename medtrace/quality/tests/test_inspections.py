"""Inspection plans and results: automatic pass/fail, sampling, the inspecting event, and a
failed result opening a nonconformance with a hold."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry, Signature, SigningState
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lifecycle import events as ev
from medtrace.quality import selectors
from medtrace.quality.models import Hold, InspectionPlan, InspectionResult, Nonconformance
from medtrace.quality.plans import inspection_plan_create, inspection_plan_update
from medtrace.quality.services import inspection_record, scan_target
from medtrace.trace.tests import factories as f

from .conftest import BAD, GOOD, commission, pump_plan

pytestmark = pytest.mark.django_db


def test_a_passing_inspection_is_recorded_with_its_event(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "I1")
    result = inspection_record(plan=plan, target=epc, values=GOOD, user=qc_inspector)
    assert result.result == "pass" and result.number.startswith("INS-")
    assert result.serial == "I1" and result.plan_version == 1
    assert [m.characteristic for m in result.measurements.all()] == [
        "Flow accuracy",
        "Occlusion pressure",
        "Leakage current",
    ]
    event = Event.objects.get(biz_step="inspecting")
    assert event.disposition == "conformant"
    assert result.number in str(event.document)
    assert not Nonconformance.objects.exists()
    assert AuditEntry.objects.filter(object_type="quality.inspectionresult").count() == 1


def test_an_out_of_limit_value_fails_and_opens_a_nonconformance_with_a_hold(
    w: f.World, qc_inspector: Any
) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "I2")
    result = inspection_record(plan=plan, target=epc, values=BAD, user=qc_inspector)
    assert result.result == "fail"
    flow = result.measurements.get(characteristic="Flow accuracy")
    assert not flow.passed and flow.upper == 5
    assert Event.objects.get(biz_step="inspecting").disposition == "non_conformant"
    nc = Nonconformance.objects.get()
    assert nc.inspection == result and nc.source == result.number
    assert "Flow accuracy" in nc.title and "6.1 %" in nc.description
    hold = Hold.objects.get()
    assert hold.target == epc and hold.source == nc.number and hold.active
    # a failed re-inspection of the same unit does not open a second NC
    inspection_record(plan=plan, target=epc, values=BAD, user=qc_inspector)
    assert Nonconformance.objects.count() == 1 and Hold.objects.count() == 1


def test_an_attribute_that_does_not_conform_fails(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "I3")
    result = inspection_record(
        plan=plan, target=epc, values={**GOOD, "Housing": "fail"}, user=qc_inspector
    )
    assert result.result == "fail"


def test_a_missing_required_value_is_refused_naming_the_characteristic(
    w: f.World, qc_inspector: Any
) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "I4")
    events = Event.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(plan=plan, target=epc, values={"Flow accuracy": 1}, user=qc_inspector)
    assert exc.value.field == "values.Occlusion pressure"
    assert "Occlusion pressure is required by plan FQ-IP9" in exc.value.message
    assert not InspectionResult.objects.exists() and Event.objects.count() == events


@pytest.mark.parametrize(
    ("values", "field", "text"),
    [
        ({**GOOD, "Colour": 1}, "values.Colour", "has no characteristic 'Colour'"),
        ({**GOOD, "Flow accuracy": "abc"}, "values.Flow accuracy", "'abc' is not a number"),
        ({**GOOD, "Housing": "maybe"}, "values.Housing", "expected pass or fail"),
    ],
)
def test_wrong_values_are_refused(
    w: f.World, qc_inspector: Any, values: dict[str, Any], field: str, text: str
) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "I5")
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(plan=plan, target=epc, values=values, user=qc_inspector)
    assert exc.value.field == field and text in exc.value.message
    assert not InspectionResult.objects.exists()


def test_a_unit_of_another_product_is_refused(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w)
    board = w.board_sn("B1")
    f.capture(f.commission([board], f.t(1)))
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(plan=plan, target=board, values=GOOD, user=qc_inspector)
    assert "B1 is not a unit of" in exc.value.message and exc.value.field == "target"


def test_an_unknown_unit_is_not_found(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w)
    with pytest.raises(NotFound):
        inspection_record(plan=plan, target=w.device_sn("NOPE"), values=GOOD, user=qc_inspector)


def test_a_warehouse_clerk_may_not_record_inspections(w: f.World, warehouse_clerk: Any) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "I6")
    with pytest.raises(PermissionDenied):
        inspection_record(plan=plan, target=epc, values=GOOD, user=warehouse_clerk)


def test_a_lot_needs_the_plans_sample_size(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w, sampling="fixed", sample_size=3)
    commission(w, "L1", "L2", "L3", "L4", "L5", lot="LOT-A")
    lot = ev.lot_class(w.device, "LOT-A")
    two = [{"sample": f"L{i}", "values": GOOD} for i in (1, 2)]
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(plan=plan, target=lot, samples=two, user=qc_inspector)
    assert exc.value.field == "samples"
    assert "inspects 3 samples of lot LOT-A (lot of 5" in exc.value.message
    three = [*two, {"sample": "L3", "values": BAD}]
    result = inspection_record(plan=plan, target=lot, samples=three, user=qc_inspector)
    assert (result.result, result.samples, result.lot_size) == ("fail", 3, 5)
    assert Hold.objects.get().lot == "LOT-A"
    rows = selectors.inspections_for([w.device_sn("L4")])  # a unit sees its lot's result
    assert [r["number"] for r in rows] == [result.number]
    assert {m["sample"] for m in rows[0]["measurements"]} == {"L1", "L2", "L3"}


def test_a_percentage_plan_needs_the_lot_size(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w, sampling="percent", sample_percent="20")
    lot = w.resin_lot("X")  # not a lot of the device
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(plan=plan, target=lot, samples=[], user=qc_inspector)
    assert exc.value.field == "target"
    mplan = inspection_plan_create(
        data={
            "code": "IQ-RESIN",
            "name": "Incoming resin",
            "kind": "incoming",
            "material_id": w.resin.pk,
            "sampling": "percent",
            "sample_percent": 10,
            "characteristics": [{"name": "Moisture", "upper": "0.02", "unit": "%"}],
        },
        user=None,
    )
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(
            plan=mplan, target=lot, samples=[{"values": {"Moisture": 0.01}}], user=qc_inspector
        )
    assert exc.value.field == "lot_size"
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(
            plan=mplan,
            target=lot,
            samples=[{"values": {"Moisture": 0.01}}],
            lot_size=25,
            user=qc_inspector,
        )
    assert "inspects 3 samples" in exc.value.message
    result = inspection_record(
        plan=mplan,
        target=lot,
        samples=[{"values": {"Moisture": 0.01}} for _ in range(3)],
        lot_size=25,
        user=qc_inspector,
    )
    assert result.result == "pass" and result.lot == "X"
    event = Event.objects.get(biz_step="inspecting")
    assert event.disposition == "conformant"


def test_a_signed_result_carries_the_inspectors_signature(w: f.World, qc_inspector: Any) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "S1")
    result = inspection_record(
        plan=plan, target=epc, values=GOOD, user=qc_inspector, password="pw-qc_inspector"
    )
    (row,) = selectors.inspections_for([epc])
    (sig,) = row["signatures"]
    assert sig["meaning"] == "authored" and sig["valid"] and sig["printed_name"] == "Qc Inspector"
    assert row["inspector"] == "Qc Inspector" and row["result"] == "pass"
    assert row["measurements"][0] == {
        "sample": "S1",
        "characteristic": "Flow accuracy",
        "type": "measured",
        "value": "1.2",
        "unit": "%",
        "nominal": "0",
        "lower": "-5",
        "upper": "5",
        "passed": True,
    }
    assert Signature.objects.get().object_id == str(result.pk)


def test_a_wrong_password_stores_no_result_but_counts_the_failure(
    w: f.World, qc_inspector: Any
) -> None:
    plan = pump_plan(w)
    (epc,) = commission(w, "S2")
    events = Event.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        inspection_record(plan=plan, target=epc, values=GOOD, user=qc_inspector, password="x")
    assert exc.value.field == "password"
    assert not InspectionResult.objects.exists() and Event.objects.count() == events
    assert SigningState.objects.get(user=qc_inspector).failures == 1


def test_plans_are_validated(w: f.World, qa_manager: Any) -> None:
    base: dict[str, Any] = {"code": "P1", "name": "n", "kind": "final", "product_id": w.device.pk}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"characteristics": []}, "characteristics", "at least one characteristic"),
        (
            {"characteristics": [{"name": "A"}]},
            "characteristics[0].lower",
            "give a lower limit, an upper limit or both",
        ),
        (
            {"characteristics": [{"name": "A", "lower": 5, "upper": 1}]},
            "characteristics[0].lower",
            "lower limit 5 is above its upper limit 1",
        ),
        (
            {"characteristics": [{"name": "A", "type": "attribute", "upper": 1}]},
            "characteristics[0].type",
            "has no nominal or limits",
        ),
        (
            {"material_id": w.resin.pk, "characteristics": [{"name": "A", "upper": 1}]},
            "product_id",
            "exactly one of product_id and material_id",
        ),
        (
            {"sampling": "fixed", "characteristics": [{"name": "A", "upper": 1}]},
            "sample_size",
            "at least 1",
        ),
    ]
    for extra, field, text in cases:
        with pytest.raises(ValidationFailed) as exc:
            inspection_plan_create(data={**base, **extra}, user=qa_manager)
        assert exc.value.field == field and text in exc.value.message, extra
    assert not InspectionPlan.objects.exists()


def test_changing_a_plan_needs_a_reason_and_raises_its_version(
    w: f.World, qa_manager: Any, qc_inspector: Any
) -> None:
    plan = pump_plan(w, user=qa_manager)
    (epc,) = commission(w, "V1")
    old = inspection_record(plan=plan, target=epc, values=GOOD, user=qc_inspector)
    with pytest.raises(ValidationFailed) as exc:
        inspection_plan_update(plan=plan, data={"name": "x"}, user=qa_manager, reason="")
    assert exc.value.field == "reason"
    plan = inspection_plan_update(
        plan=plan, data={"name": "Final IP-9"}, user=qa_manager, reason="r"
    )
    assert plan.version == 1
    chars = [{"name": "Flow accuracy", "lower": -3, "upper": 3, "unit": "%"}]
    plan = inspection_plan_update(
        plan=plan, data={"characteristics": chars}, user=qa_manager, reason="tighter limits"
    )
    assert plan.version == 2 and plan.characteristics.count() == 1
    entry = AuditEntry.objects.filter(object_type="quality.inspectionplan").last()
    assert entry is not None and entry.reason == "tighter limits"
    assert len(entry.changes["characteristics"][0]) == 4
    # the old result keeps the limits it was judged against
    assert old.measurements.get(characteristic="Flow accuracy").upper == 5
    with pytest.raises(ValidationFailed) as exc:
        inspection_plan_update(plan=plan, data={"code": "OTHER"}, user=qa_manager, reason="r")
    assert exc.value.field == "code"
    with pytest.raises(PermissionDenied):
        inspection_plan_update(plan=plan, data={"name": "y"}, user=qc_inspector, reason="r")


def test_scanning_a_lot_known_only_through_its_units(w: f.World) -> None:
    commission(w, "K1", lot="LOT-K")
    gtin = w.gtin(w.device)
    assert scan_target(f"(01){gtin}(10)LOT-K").startswith("urn:epc:class:lgtin:")
    assert scan_target(f"(01){gtin}(21)K1") == w.device_sn("K1")
    with pytest.raises(ValidationFailed) as exc:
        scan_target(f"(01){gtin}(10)NOPE")
    assert exc.value.field == "target"


def test_inspections_for_many_results_takes_a_few_queries(
    w: f.World, qc_inspector: Any, django_assert_max_num_queries: Any
) -> None:
    plan = pump_plan(w)
    epcs = commission(w, "M1", "M2", "M3", "M4")
    for epc in epcs:
        inspection_record(
            plan=plan, target=epc, values=GOOD, user=qc_inspector, password="pw-qc_inspector"
        )
    with django_assert_max_num_queries(6):
        rows = selectors.inspections_for(epcs)
    assert len(rows) == 4 and all(len(r["signatures"]) == 1 for r in rows)
