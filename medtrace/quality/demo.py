"""Demo quality story at 苏州康迈医疗科技 (run after the master-data demo).

- Plans: final inspection of the IP-300 infusion pump (flow accuracy ±5 %, occlusion pressure,
  patient leakage current, housing and label) and incoming inspection of the occlusion pressure
  sensor lots (M-PSENS-01, 5 samples per lot).
- Five pumps built on line SZ-L1 for the QC story (serials IP3Q25001-5):
  Q1 and Q2 pass (e-signed by 赵检验) and are released;
  Q3 fails flow accuracy (+6.8 %) -> NC with QC hold -> rework (signed) -> re-inspected, passes
  -> NC closed, hold lifted -> released;
  Q4 fails the housing check (scratch) -> NC -> use-as-is concession signed by 王质量 (QA/RA)
  -> closed;
  Q5 waits for its final inspection on the QC desk.
- Sensor lot PS251107 passes incoming inspection; lot PS251109 fails (zero offset) and stays
  on hold under an open NC.

Idempotent: nothing happens when plan FQ-IP300 already exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Location, Material, Product

from . import services
from .models import InspectionPlan, Nonconformance

PASSWORD = "medtrace-demo"  # masterdata.demo.data.DEMO_PASSWORD
SERIALS = ("IP3Q25001", "IP3Q25002", "IP3Q25003", "IP3Q25004", "IP3Q25005")
GOOD = {
    "流量精度 Flow accuracy": "1.4",
    "阻塞压力 Occlusion pressure": "82",
    "患者漏电流 Patient leakage current": "18.5",
    "外壳与标签 Housing and label": "pass",
}


def _plans(pump: Product, sensor: Material | None, qa: User | None) -> InspectionPlan:
    plan = services.inspection_plan_create(
        data={
            "code": "FQ-IP300",
            "name": "输液泵 IP-300 成品检验 Final inspection",
            "kind": "final",
            "product_id": pump.pk,
            "sampling": "all",
            "note": "GB 9706.1 / YY 0451; every pump before release",
            "characteristics": [
                {
                    "name": "流量精度 Flow accuracy",
                    "nominal": 0,
                    "lower": -5,
                    "upper": 5,
                    "unit": "%",
                },
                {
                    "name": "阻塞压力 Occlusion pressure",
                    "nominal": 80,
                    "lower": 60,
                    "upper": 100,
                    "unit": "kPa",
                },
                {"name": "患者漏电流 Patient leakage current", "upper": 100, "unit": "µA"},
                {"name": "外壳与标签 Housing and label", "type": "attribute"},
            ],
        },
        user=qa,
        reason="demo: initial release of the final inspection plan",
    )
    if sensor is not None:
        services.inspection_plan_create(
            data={
                "code": "IQ-PSENS-01",
                "name": "阻塞压力传感器 来料检验 Incoming inspection",
                "kind": "incoming",
                "material_id": sensor.pk,
                "sampling": "fixed",
                "sample_size": 5,
                "characteristics": [
                    {"name": "零点偏移 Zero offset", "lower": -0.5, "upper": 0.5, "unit": "kPa"},
                    {"name": "灵敏度 Sensitivity", "lower": 0.95, "upper": 1.05, "unit": "mV/V"},
                ],
            },
            user=qa,
            reason="demo: incoming inspection of a critical component",
        )
    return plan


def _commission(pump: Product, line: Location | None, at: Any) -> list[str]:
    epcs = [ev.unit_epc(pump, s) for s in SERIALS]
    with transaction.atomic():
        ev.emit(
            [
                ev.object_event(
                    action="ADD",
                    epcs=epcs,
                    biz_step="commissioning",
                    disposition="active",
                    at=at,
                    read_point=line.sgln if line else None,
                    biz_location=line.sgln if line else None,
                )
            ],
            user=None,
        )
    return epcs


def load_demo(log: Callable[[str], None] = print) -> None:
    if InspectionPlan.objects.filter(code="FQ-IP300").exists():
        return
    pump = Product.objects.filter(model="IP-300").first()
    if pump is None:
        log("quality demo: no IP-300 product; load the master-data demo first")
        return
    qc = User.objects.filter(username="qc").first()
    qa = User.objects.filter(username="qa").first()
    if qc is None or qa is None:
        log("quality demo: the demo users qc and qa are missing")
        return
    sensor = Material.objects.filter(code="M-PSENS-01").first()
    line = Location.objects.filter(code="SZ-L1").first()
    start = timezone.now() - timedelta(days=3)
    plan = _plans(pump, sensor, qa)
    q1, q2, q3, q4, _q5 = _commission(pump, line, start)

    def at(hours: float) -> Any:
        return start + timedelta(hours=hours)

    def inspect(epc: str, values: dict[str, str], hours: float) -> Any:
        return services.inspection_record(
            plan=plan, target=epc, values=values, user=qc, password=PASSWORD, at=at(hours)
        )

    inspect(q1, GOOD, 2)
    inspect(q2, {**GOOD, "流量精度 Flow accuracy": "-2.1"}, 2.1)
    failed = inspect(q3, {**GOOD, "流量精度 Flow accuracy": "6.8"}, 2.2)
    nc3 = Nonconformance.objects.get(inspection=failed)
    services.nonconformance_disposition(
        nc=nc3,
        disposition="rework",
        reason="更换流量传感器并重新校准 Replace the flow sensor and recalibrate",
        user=qc,
        password=PASSWORD,
        at=at(5),
    )
    inspect(q3, {**GOOD, "流量精度 Flow accuracy": "0.9"}, 26)
    services.nonconformance_close(
        nc=nc3, user=qc, note="返工后复检合格 Reworked, re-inspected and passed", at=at(26.5)
    )
    scratched = inspect(q4, {**GOOD, "外壳与标签 Housing and label": "fail"}, 2.3)
    nc4 = Nonconformance.objects.get(inspection=scratched)
    services.nonconformance_disposition(
        nc=nc4,
        disposition="use_as_is",
        reason="外壳轻微划痕，不影响安全和性能 Cosmetic scratch, no safety or performance effect",
        user=qa,
        password=PASSWORD,
        at=at(6),
    )
    services.nonconformance_close(
        nc=nc4, user=qa, note="让步接收 Concession approved by QA/RA", at=at(6.5)
    )
    services.release_create(
        targets=[q1, q2, q3, q4],
        user=qc,
        password=PASSWORD,
        note="demo: final inspection passed",
        at=at(27),
    )
    log("quality demo: plans FQ-IP300 and IQ-PSENS-01, 5 pumps inspected, 2 NCs, 1 release")
    if sensor is None:
        return
    iplan = InspectionPlan.objects.get(code="IQ-PSENS-01")
    ok_lot = ev.material_lot_class(sensor, "PS251107")
    bad_lot = ev.material_lot_class(sensor, "PS251109")

    def sample(i: int, zero: str) -> dict[str, Any]:
        return {
            "sample": f"S{i}",
            "values": {"零点偏移 Zero offset": zero, "灵敏度 Sensitivity": "1.01"},
        }

    samples = [sample(i, z) for i, z in enumerate(("0.1", "-0.2", "0.0", "0.3", "-0.1"), start=1)]
    services.inspection_record(
        plan=iplan, target=ok_lot, samples=samples, lot_size=500, user=qc, at=at(1)
    )
    bad = [*samples[:4], sample(5, "0.8")]
    services.inspection_record(
        plan=iplan,
        target=bad_lot,
        samples=bad,
        lot_size=500,
        user=qc,
        note="S5 零点偏移超差 zero offset out of tolerance",
        at=at(28),
    )
    log("quality demo: sensor lot PS251107 accepted, lot PS251109 on hold under an open NC")
