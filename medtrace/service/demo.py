"""Service demo data.

``load_implants``: implant records, hip stems (FS-12) implanted at the two demo hospitals. The
patients are invented. The demo's event stream ships infusion pumps, not implants, so these
stems are not in the ledger; an implant record needs only a UDI that parses (DESIGN §8).
Idempotent: a unit that already has a record is skipped.

``load_lifecycle_demo``: the demo's infusion pumps in use at the hospitals' departments, their
maintenance (one overdue), a repair with a battery swap, an open ticket and a scrapped pump.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from medtrace.lib.personal import resident_id_check_char
from medtrace.masterdata.models import Party, Product

from . import services
from .models import ImplantRecord


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


# hospital key, serial, lot, implant date, name, ID number, phone, surgeon, department
DEMO_IMPLANTS: tuple[tuple[str, str, str, str, str, str, str, str, str], ...] = (
    ("hosp_a", "FS12A0001", "L2501", "2025-04-08", "王建国",
     _resident_id("32050219580312041"), "13912340001", "刘主任", "骨科"),
    ("hosp_a", "FS12A0002", "L2501", "2025-05-21", "李秀英",
     _resident_id("32058319620917022"), "13812345602", "刘主任", "骨科"),
    ("hosp_a", "FS12A0003", "L2502", "2025-06-30", "Maria Keller",
     "C03005988", "", "周医生", "关节外科"),
    ("hosp_b", "FS12B0001", "L2502", "2025-07-14", "陈志强",
     _resident_id("32010619550203081"), "15005150003", "吴主任", "骨科"),
)  # fmt: skip


def load_implants(parties: Mapping[str, Party], created: Callable[[str], None]) -> None:
    stem = Product.objects.filter(manufacturer=parties["mfr"], model="FS-12").first()
    if stem is None:
        return
    gtin = stem.identifiers.get(packaging_level="unit").di
    for key, serial, lot, day, name, id_number, phone, surgeon, department in DEMO_IMPLANTS:
        udi = f"(01){gtin}(10){lot}(21){serial}"
        if ImplantRecord.objects.filter(serial=serial, product=stem).exists():
            continue
        services.implant_record_create(
            data={
                "udi": udi,
                "hospital_id": parties[key].pk,
                "implanted_on": day,
                "patient_name": name,
                "patient_id_number": id_number,
                "patient_phone": phone,
                "surgeon": surgeon,
                "department": department,
            },
            user=None,
            reason="demo data",
        )
        created("implant records")


# Installed base, maintenance, repair and scrap (issue 5 item 6) ------------------------------

PM_ITEMS = [
    {"name": "流速精度", "unit": "%", "min": -5, "max": 5},
    {"name": "阻塞报警压力", "unit": "kPa", "min": 40, "max": 120},
    {"name": "电池续航", "unit": "h", "min": 4},
    {"name": "外观与标识"},
]
PM_RESULTS = [
    {"name": "流速精度", "value": 1.8},
    {"name": "阻塞报警压力", "value": 86},
    {"name": "电池续航", "value": 6.2},
    {"name": "外观与标识", "pass": True},
]
SPARE_BATTERY_SERIAL = "BS26000001"


def _pumps(hospital: Party, limit: int) -> list[str]:
    """Infusion pumps the hospital holds now (from the demo's event stream), not scrapped, not
    just put on hold (the conditions story's excursion) and not installed in anything."""
    from medtrace.accounts.scoping import party_identifiers
    from medtrace.ledger.models import UnitState

    return list(
        UnitState.objects.filter(
            product__model="IP-300",
            possessing_party__in=party_identifiers(hospital),
            installed_in__isnull=True,
        )
        .exclude(disposition__in=("destroyed", "disposed"))
        .exclude(biz_step__in=("decommissioning", "destroying", "holding"))
        .order_by("epc")
        .values_list("epc", flat=True)[:limit]
    )


def _batteries(epcs: list[str]) -> dict[str, str]:
    """The battery fitted in each pump now: ``{pump: battery}`` (one query)."""
    from medtrace.ledger.generator import BATTERY_ITEM, SUP_ELEC
    from medtrace.ledger.models import EdgeKind, GenealogyEdge

    prefix = f"urn:epc:id:sgtin:{SUP_ELEC}.{BATTERY_ITEM}."
    rows = GenealogyEdge.objects.filter(
        parent__in=epcs, kind=EdgeKind.ASSOCIATED, valid_to__isnull=True, child__startswith=prefix
    ).values_list("parent", "child")
    return dict(rows)


def load_lifecycle_demo(log: Callable[[str], None] = print) -> None:
    """Pumps in use at the demo hospitals' departments, a maintenance plan with one overdue
    unit, a repair ticket resolved with a battery swap, an open ticket and a scrapped pump, all
    through the service functions. Idempotent: nothing happens once an installation exists."""
    from datetime import timedelta

    from django.utils import timezone

    from medtrace.accounts.models import User
    from medtrace.ledger.generator import BATTERY_ITEM, SUP_ELEC, sgtin
    from medtrace.ledger.models import UnitState
    from medtrace.lifecycle import events as ev
    from medtrace.masterdata.demo import data
    from medtrace.masterdata.models import Location

    from .models import InstalledUnit

    if InstalledUnit.objects.exists():
        return
    names = {spec["key"]: spec["name"] for spec in data.PARTIES}
    parties = {key: Party.objects.filter(name=name).first() for key, name in names.items()}
    engineer = User.objects.filter(username="service").first()
    ward_user = User.objects.filter(username="hospital_a").first()
    pump = Product.objects.filter(model="IP-300").first()
    if pump is None or engineer is None or not all(parties.values()):
        log("service demo: load the master-data demo first (parties, IP-300, user 'service')")
        return
    departments = {
        code: Location.objects.filter(code=code).first()
        for code in ("SZ1Y-ICU", "SZ1Y-ORTHO", "NJZX-ICU")
    }
    hosp_a, hosp_b = parties["hosp_a"], parties["hosp_b"]
    assert hosp_a is not None and hosp_b is not None
    a_units, b_units = _pumps(hosp_a, 4), _pumps(hosp_b, 3)
    units = a_units + b_units
    if len(units) < 4 or not all(departments.values()):
        log("service demo: fewer than 4 pumps at the demo hospitals; load the event demo first")
        return
    now = timezone.now()
    last = dict(UnitState.objects.filter(epc__in=units).values_list("epc", "last_event_time"))

    def after(epc: str, days: float) -> Any:
        return min(now, max(now - timedelta(days=days), last[epc] + timedelta(hours=1)))

    # Installation, 200 days ago (hospital A's equipment office records its first pump itself).
    placed: dict[str, Any] = {}
    for index, epc in enumerate(units):
        department = (
            departments["NJZX-ICU"]
            if epc in b_units
            else (departments["SZ1Y-ORTHO"] if index == 1 else departments["SZ1Y-ICU"])
        )
        assert department is not None
        user = ward_user if index == 0 and epc in a_units and ward_user else engineer
        placed[epc] = services.installation_create(
            unit=epc,
            department_id=department.pk,
            user=user,
            installed_at=after(epc, 200 - index),
            engineer="周售后",
        )
    log(f"  service: {len(placed)} pumps installed at hospital departments")

    plan = services.maintenance_plan_create(
        data={
            "name": "IP-300 输液泵半年预防性维护",
            "kind": "maintenance",
            "product_id": pump.pk,
            "interval_days": 180,
            "items": PM_ITEMS,
            "note": "依据 IP-300 维修手册第 7 章",
        },
        user=engineer,
    )
    services.maintenance_plan_create(
        data={
            "name": "IP-300 流速年度校准",
            "kind": "calibration",
            "product_id": pump.pk,
            "interval_days": 365,
            "items": [{"name": "流速 25 mL/h", "unit": "mL/h", "min": 23.75, "max": 26.25}],
        },
        user=engineer,
    )
    # units[0] was installed 200 days ago and never maintained: 20 days overdue.
    for epc in units[1:]:
        services.maintenance_visit_record(
            plan=plan,
            unit=epc,
            user=engineer,
            performed_at=after(epc, 30),
            work_done="清洁泵门与传感器, 更换泵管卡夹, 检查电池与报警功能",
            measurements=PM_RESULTS,
        )
    log(f"  service: plan {plan.number}, {len(units) - 1} visits, 1 unit overdue")

    # A repair: battery runs down, diagnosed, battery swapped, tested, resolved, closed.
    batteries = _batteries(units[1:])
    repaired = next((epc for epc in reversed(units[1:]) if epc in batteries), None)
    if repaired is not None:
        spare = sgtin(SUP_ELEC, BATTERY_ITEM, SPARE_BATTERY_SERIAL)
        sup_elec, mfr = parties["sup_elec"], parties["mfr"]
        store = Location.objects.filter(code="SZ-WH2").first()
        ev.emit(
            [
                ev.object_event(
                    action="ADD",
                    epcs=[spare],
                    biz_step="receiving",
                    disposition="in_progress",
                    at=now - timedelta(days=20),
                    read_point=store.sgln if store else None,
                    biz_location=store.sgln if store else None,
                    sources=ev.parties("source", owner=sup_elec),
                    destinations=ev.parties("destination", owner=mfr, holder=mfr),
                )
            ],
            user=engineer,
        )
        ticket = services.ticket_open(
            unit=repaired,
            user=engineer,
            opened_at=now - timedelta(days=12),
            symptom="交流断电后电池供电不足 20 分钟即报警关机",
            reporter_contact="ICU 护士长 王敏",
        )
        services.ticket_diagnose(
            ticket=ticket,
            user=engineer,
            at=now - timedelta(days=11, hours=20),
            diagnosis="电池组容量衰减至标称的 30%, 充电电路正常",
        )
        services.ticket_swap_part(
            ticket=ticket,
            removed=batteries[repaired],
            installed=spare,
            user=engineer,
            at=now - timedelta(days=10, hours=4),
        )
        services.ticket_test(
            ticket=ticket,
            user=engineer,
            at=now - timedelta(days=10, hours=3),
            measurements=[
                {"name": "电池续航", "value": 6.4, "unit": "h", "min": 4},
                {"name": "充电电流", "value": 1.1, "unit": "A", "min": 0.8, "max": 1.5},
                {"name": "报警功能", "pass": True},
            ],
        )
        services.ticket_resolve(
            ticket=ticket,
            user=engineer,
            at=now - timedelta(days=10, hours=2),
            resolution="更换锂电池组, 续航测试 6.4 h 合格, 交付临床使用",
        )
        services.ticket_close(ticket=ticket, user=engineer, at=now - timedelta(days=9))
        log(f"  service: ticket {ticket.number} resolved with a battery swap")

    # An open ticket, and a pump scrapped after a fall.
    spare_units = [epc for epc in units[1:] if epc != repaired]
    if len(spare_units) >= 2:
        services.ticket_open(
            unit=spare_units[0],
            user=engineer,
            opened_at=now - timedelta(days=2, hours=5),
            symptom="输液过程中间歇性阻塞报警, 更换输液器后仍出现",
            reporter_contact="骨科 护士 李静",
        )
        record = services.scrap_create(
            units=[spare_units[-1]],
            user=engineer,
            password=data.DEMO_PASSWORD,
            reason="跌落导致泵体壳体破裂、主板受损, 维修费用高于新机, 经评估报废",
            method="dismantled",
            scrapped_at=now - timedelta(days=5),
        )
        log(f"  service: {record.number} scrapped {record.items.get().serial}")
