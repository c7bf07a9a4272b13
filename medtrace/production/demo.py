"""Demo production story at 苏州康迈医疗科技 (run after the master-data and procurement demos).

- Supplies for the line: 上海医用电子元件 delivers MCU lot MCU2610-03 and capacitor lot
  CAP2610-11, 山东医用高分子材料 delivers pump housings HS2610-02 and the infusion-set lots
  (PVC tubing PVC2610-05, drip chambers DC2610-08, needles NDL2610-02); all pass incoming
  inspection.
- WO 1, IP-300 主控板 MCB-300 (a sub-assembly made in-house, itself serialized): 12 boards on
  line SZ-L1, each with its MCU and 24 capacitors from those lots; reflow and AOI recorded;
  completed and closed by QA (王质量) after the DHR review, e-signed.
- WO 2, 输液泵 IP-300: 12 of 20 pumps commissioned in one event; 10 assembled completely, each
  with its own motor serial (深圳精密微电机, SPM2611-…, never the rejected 0007), battery serial,
  control board serial (from WO 1), pressure-sensor lot PS2611A and housing lot HS2610-02;
  pump 11 waits for a battery, pump 12 is not assembled yet. Torque and final-test records per
  pump, burn-in for the order. When quality's final-inspection plan FQ-IP300 exists, the first
  three pumps are inspected and released by QC (赵检验).
- WO 3, 一次性使用输液器 IS-20 lot IS2611-01: 5,000 sets commissioned as a lot quantity, the
  tubing, drip-chamber and needle lots recorded into the lot, EO sterilisation recorded,
  completed.
- WO 4, IP-300: 50 pumps planned for next week. WO 5, 髋关节股骨柄 FS-12: cancelled (the
  titanium bar lot did not arrive).

Idempotent: nothing happens when a work order exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.masterdata import services as md_services
from medtrace.masterdata.models import (
    BomStatus,
    LicenceKind,
    Location,
    Material,
    Party,
    Product,
    ProductIdentifier,
)

from . import services, services_assembly, services_orders, services_records
from .models import SerialRule, WorkOrder

PASSWORD = "medtrace-demo"  # masterdata.demo.data.DEMO_PASSWORD
BOARD_MODEL = "MCB-300"


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def _label(code: str, *, lot: str = "", serial: str = "") -> str:
    """What the operator scans: the supplier's GS1 label, or <part number>/<lot or serial>."""
    gtin = Material.objects.values_list("gtin", flat=True).get(code=code)
    if gtin:
        return f"(01){gtin}(21){serial}" if serial else f"(01){gtin}(10){lot}"
    return f"{code}/{serial or lot}"


def _certificates(party: Party) -> None:
    """Make sure the supplier holds the certificates a receipt needs (procurement refuses an
    unqualified supplier)."""
    today = timezone.localdate()
    held = list(party.licences.all())
    wanted = [
        (LicenceKind.BUSINESS_LICENCE, f"9137{party.gs1_company_prefix}MA3C", None),
        (LicenceKind.ISO13485, f"CN-13485-2025-{party.gs1_company_prefix[-4:]}", 3 * 365),
        (LicenceKind.PRODUCTION, f"鲁食药监械生产许2019{party.gs1_company_prefix[-4:]}号", 3 * 365),
    ]
    for kind, number, days in wanted:
        if kind == LicenceKind.PRODUCTION and any(
            lic.kind in (LicenceKind.PRODUCTION, LicenceKind.PRODUCTION_FILING)
            and (lic.expires_on is None or lic.expires_on >= today)
            for lic in held
        ):
            continue
        if any(
            lic.kind == kind and (lic.expires_on is None or lic.expires_on >= today) for lic in held
        ) or any(lic.number == number for lic in held):
            continue
        md_services.licence_add(
            party=party,
            data={
                "kind": kind,
                "number": number,
                "expires_on": today + timedelta(days=days) if days else None,
            },
            user=None,
        )


def _supplies(elec: Party, poly: Party, incoming: Location, at: datetime) -> None:
    """Receive and accept the lots the demo's work orders consume."""
    from medtrace.procurement import services as procurement
    from medtrace.procurement.demo import coc_pdf
    from medtrace.procurement.models import MaterialLot

    buyer, qc = _user("procurement"), _user("qc")
    today = timezone.localdate()
    Line = tuple[str, int, str, int | None]  # part number, quantity, lot, shelf life in days
    deliveries: list[tuple[Party, list[Line], str]] = [
        (
            elec,
            [("M-MCU-32", 100, "MCU2610-03", None), ("M-CAP-100N", 3000, "CAP2610-11", None)],
            "SHME-DN-20261118",
        ),
        (
            poly,
            [
                ("M-HOUSING-300", 200, "HS2610-02", None),
                ("M-PVC-TUBE", 8000, "PVC2610-05", 3 * 365),
                ("M-DRIP-CH", 6000, "DC2610-08", 3 * 365),
                ("M-NEEDLE-07", 6000, "NDL2610-02", 3 * 365),
            ],
            "SDMP-DN-20261117",
        ),
    ]
    for supplier, lines, note in deliveries:
        _certificates(supplier)
        order = procurement.purchase_order_create(
            supplier=supplier,
            lines=[{"material": code, "quantity": qty} for code, qty, _lot, _days in lines],
            expected_on=today - timedelta(days=6),
            note="生产备料 / materials for the November builds",
            release=True,
            user=buyer,
        )
        procurement.goods_receipt_create(
            order=order,
            location=incoming,
            lines=[
                {
                    "line": index + 1,
                    "lot": lot,
                    "quantity": qty,
                    **({"expires_on": today + timedelta(days=days)} if days else {}),
                }
                for index, (_code, qty, lot, days) in enumerate(lines)
            ],
            coc_name=f"CoC-{note}.pdf",
            coc_content=coc_pdf(
                "产品合格证明 Certificate of Conformity",
                [supplier.name, *(f"{code} lot {lot} x {qty}" for code, qty, lot, _d in lines)],
            ),
            coc_content_type="application/pdf",
            delivery_note=note,
            user=buyer,
            at=at,
        )
        for _code, qty, lot, _days in lines:
            material_lot = MaterialLot.objects.get(identifier=lot, supplier=supplier)
            procurement.inspection_record(
                lot=material_lot, accepted_qty=Decimal(qty), user=qc, at=at + timedelta(hours=3)
            )


def _board_product(maker: Party, pump: Product) -> Product:
    """The control board as a product of our own (it carries its own serial and DI)."""
    material = Material.objects.get(code="M-PCB-IP300")
    found = ProductIdentifier.objects.filter(di=material.gtin).select_related("product").first()
    if found is not None:
        return found.product
    board = md_services.product_create(
        data={
            "manufacturer_id": maker.pk,
            "name": "输液泵主控板组件",
            "name_en": "IP-300 main control board assembly",
            "model": BOARD_MODEL,
            "nmpa_registration_no": pump.nmpa_registration_no,
            "risk_class": pump.risk_class,
            "tracking": "serial",
            "udi_pi_elements": ["serial"],
            "description": "在制品子组件 / in-house sub-assembly of the IP-300",
        },
        identifiers=[{"packaging_level": "unit", "di": material.gtin}],
        user=None,
    )
    lines = [
        {"material_id": Material.objects.get(code="M-MCU-32").pk, "quantity": "1"},
        {"material_id": Material.objects.get(code="M-CAP-100N").pk, "quantity": "24"},
    ]
    bom = md_services.bom_create(product=board, version="A", lines=lines, user=None)
    md_services.bom_release(bom=bom, user=None)
    return board


def _rule(product: Product, prefix: str) -> None:
    if not SerialRule.objects.filter(product=product, active=True).exists():
        services.serial_rule_set(
            product=product,
            data={"prefix": prefix, "date_part": "YYMM", "sequence_width": 5},
            user=None,
            reason="demo: serial rule of the production line",
        )


def _order(
    product: Product, quantity: int, line: Location, at: datetime, user: User | None, **data: Any
) -> WorkOrder:
    return services_orders.work_order_create(
        data={"product_id": product.pk, "quantity": quantity, "line_id": line.pk, **data},
        user=user,
        at=at,
    )


def _record(order: WorkOrder, at: datetime, user: User | None, **data: Any) -> None:
    data.setdefault("started_at", at - timedelta(minutes=20))
    data.setdefault("finished_at", at)
    services_records.process_record_add(work_order=order, data=data, user=user, at=at)


def _boards(board: Product, line: Location, start: datetime, op: User | None) -> list[str]:
    order = _order(
        board,
        12,
        line,
        start,
        op,
        planned_start=start.date(),
        notes="SMT 贴片后手工插件 / through-hole parts after SMT",
    )
    services_orders.work_order_release(work_order=order, user=op, at=start + timedelta(hours=1))
    made = services_orders.work_order_commission(
        work_order=order, count=12, user=op, at=start + timedelta(hours=2)
    )
    mcu = _label("M-MCU-32", lot="MCU2610-03")
    cap = _label("M-CAP-100N", lot="CAP2610-11")
    _record(
        order,
        start + timedelta(hours=3),
        op,
        step="回流焊 Reflow soldering",
        station="REFLOW-01",
        parameters=[
            {"name": "峰值温度 peak temperature", "value": 245, "unit": "°C"},
            {"name": "液相线以上时间 time above liquidus", "value": 62, "unit": "s"},
            {"name": "链速 conveyor speed", "value": 0.8, "unit": "m/min"},
        ],
        result="pass",
    )
    for index, epc in enumerate(made.epcs):
        at = start + timedelta(hours=4, minutes=6 * index)
        services_assembly.work_order_assemble(
            work_order=order, unit=epc, components=[mcu, cap], station="SMT-2", user=op, at=at
        )
        _record(
            order,
            at + timedelta(minutes=3),
            op,
            step="AOI 光学检测 Automated optical inspection",
            station="AOI-01",
            unit=epc,
            parameters=[{"name": "缺陷 defects", "value": 0, "unit": ""}],
            result="pass",
        )
    services_orders.work_order_complete(work_order=order, user=op, at=start + timedelta(hours=6))
    qa = _user("qa")
    if qa is not None:
        services_orders.work_order_close(
            work_order=order,
            user=qa,
            password=PASSWORD,
            reason="DHR 审核完成 / DHR reviewed",
            at=start + timedelta(hours=8),
        )
    return made.epcs


def _pumps(
    pump: Product, line: Location, start: datetime, op: User | None, boards: list[str]
) -> list[str]:
    order = _order(
        pump,
        20,
        line,
        start,
        op,
        planned_start=start.date(),
        planned_end=(start + timedelta(days=5)).date(),
        notes="11月第一批 / first November batch",
    )
    services_orders.work_order_release(work_order=order, user=op, at=start + timedelta(hours=1))
    made = services_orders.work_order_commission(
        work_order=order, count=12, user=op, at=start + timedelta(hours=2)
    )
    motors = [f"SPM2611-{n:04d}" for n in range(1, 13) if n != 7]  # 0007 was rejected
    batteries = [f"LB144-2611{n:04d}" for n in range(1, 11)]
    sensor = _label("M-PSENS-01", lot="PS2611A")
    housing = _label("M-HOUSING-300", lot="HS2610-02")
    _record(
        order,
        start + timedelta(hours=2, minutes=30),
        op,
        step="老化 Burn-in",
        station="BURNIN-RACK-3",
        parameters=[
            {"name": "温度 temperature", "value": 45, "unit": "°C"},
            {"name": "时长 duration", "value": 24, "unit": "h"},
        ],
        result="pass",
    )
    for index, epc in enumerate(made.epcs[:11]):
        at = start + timedelta(hours=3, minutes=15 * index)
        components = [_label("M-MOTOR-24", serial=motors[index]), boards[index], sensor, housing]
        if index < len(batteries):
            components.append(_label("M-BATT-LI", serial=batteries[index]))
        services_assembly.work_order_assemble(
            work_order=order, unit=epc, components=components, station="ASM-1", user=op, at=at
        )
        _record(
            order,
            at + timedelta(minutes=5),
            op,
            step="螺钉扭矩 Housing screw torque",
            station="TQ-07",
            unit=epc,
            parameters=[{"name": "扭矩 torque", "value": 0.6, "unit": "N·m"}],
            result="pass",
        )
        if index < 10:
            _record(
                order,
                at + timedelta(minutes=12),
                op,
                step="功能测试 Final functional test",
                station="FT-02",
                unit=epc,
                parameters=[
                    {"name": "流量 flow rate", "value": 100.8, "unit": "mL/h"},
                    {"name": "阻塞报警 occlusion alarm", "value": 81, "unit": "kPa"},
                ],
                result="pass",
            )
    _release(pump, made.epcs[:3], start + timedelta(hours=8))
    return made.serials


def _release(pump: Product, epcs: list[str], at: datetime) -> None:
    """QC inspects and releases pumps, when quality's final-inspection plan is loaded."""
    try:
        from medtrace.quality.demo import GOOD
        from medtrace.quality.inspections import inspection_record
        from medtrace.quality.models import InspectionPlan
        from medtrace.quality.services import release_create
    except ImportError:
        return
    plan = InspectionPlan.objects.filter(code="FQ-IP300", active=True).first()
    qc = _user("qc")
    if plan is None or qc is None:
        return
    for index, epc in enumerate(epcs):
        inspection_record(
            plan=plan, target=epc, values=GOOD, user=qc, at=at + timedelta(minutes=10 * index)
        )
    release_create(
        targets=epcs,
        user=qc,
        password=PASSWORD,
        note="成品检验合格放行 / released after final inspection",
        at=at + timedelta(hours=1),
    )


def _infusion_sets(product: Product, line: Location, start: datetime, op: User | None) -> None:
    order = _order(
        product,
        5000,
        line,
        start,
        op,
        lot="IS2611-01",
        production_date=start.date(),
        planned_start=start.date(),
    )
    services_orders.work_order_release(work_order=order, user=op, at=start + timedelta(hours=1))
    services_orders.work_order_commission(
        work_order=order, count=5000, user=op, at=start + timedelta(hours=6)
    )
    services_assembly.work_order_assemble(
        work_order=order,
        quantity=5000,
        components=[
            "M-PVC-TUBE/PVC2610-05",
            "M-DRIP-CH/DC2610-08",
            "M-NEEDLE-07/NDL2610-02",
        ],
        station="CLEANROOM-L3",
        user=op,
        at=start + timedelta(hours=6, minutes=30),
    )
    _record(
        order,
        start + timedelta(hours=30),
        op,
        step="环氧乙烷灭菌 EO sterilisation",
        station="EO-STERILISER-1",
        parameters=[
            {"name": "温度 temperature", "value": 55, "unit": "°C"},
            {"name": "相对湿度 relative humidity", "value": 60, "unit": "%RH"},
            {"name": "EO 浓度 EO concentration", "value": 600, "unit": "mg/L"},
            {"name": "暴露时间 exposure", "value": 6, "unit": "h"},
        ],
        result="pass",
    )
    services_orders.work_order_complete(work_order=order, user=op, at=start + timedelta(hours=40))


def load_demo(log: Callable[[str], None] = print) -> None:
    if WorkOrder.objects.exists():
        return
    maker = Party.objects.filter(name="苏州康迈医疗科技有限公司").first()
    elec = Party.objects.filter(name="上海医用电子元件有限公司").first()
    poly = Party.objects.filter(name="山东医用高分子材料有限公司").first()
    lines = {
        loc.code: loc for loc in Location.objects.filter(code__in=["SZ-L1", "SZ-L3", "SZ-QRN"])
    }
    products = {p.model: p for p in Product.objects.filter(model__in=["IP-300", "IS-20", "FS-12"])}
    motors_received = Material.objects.filter(code="M-MOTOR-24", lots__isnull=False).exists()
    if None in (maker, elec, poly) or len(lines) < 3 or len(products) < 3:
        log("production demo: master data missing (parties, lines, products); load it first")
        return
    if not motors_received:
        log("production demo: no motors received yet; load the procurement demo first")
        return
    released = {
        p.model for p in products.values() if p.boms.filter(status=BomStatus.RELEASED).exists()
    }
    if released != {"IP-300", "IS-20", "FS-12"}:
        log("production demo: the products' BOMs are not released; load master data first")
        return
    assert maker is not None and elec is not None and poly is not None
    op = _user("production")
    now = timezone.now()
    with transaction.atomic():
        _supplies(elec, poly, lines["SZ-QRN"], now - timedelta(days=5))
        board = _board_product(maker, products["IP-300"])
        _rule(board, "MCB")
        _rule(products["IP-300"], "IP3")
        boards = _boards(board, lines["SZ-L1"], now - timedelta(days=4), op)
        pumps = _pumps(products["IP-300"], lines["SZ-L1"], now - timedelta(days=3), op, boards)
        _infusion_sets(products["IS-20"], lines["SZ-L3"], now - timedelta(days=3), op)
        _order(
            products["IP-300"],
            50,
            lines["SZ-L1"],
            now - timedelta(hours=2),
            op,
            planned_start=(now + timedelta(days=7)).date(),
            planned_end=(now + timedelta(days=12)).date(),
            notes="12月订单 / December orders",
        )
        stem = _order(
            products["FS-12"],
            30,
            lines["SZ-L1"],
            now - timedelta(days=2),
            op,
            lot="FS2611-01",
        )
        services_orders.work_order_cancel(
            work_order=stem,
            user=op,
            reason="TC4 钛棒批次未到货 / titanium bar lot not delivered; replanned",
            at=now - timedelta(days=1),
        )
    log(
        f"production demo: 5 work orders; 12 control boards, {len(pumps)} infusion pumps "
        f"({pumps[0]} … {pumps[-1]}) and lot IS2611-01 of 5,000 infusion sets commissioned "
        "and assembled with their component lots and serials"
    )
