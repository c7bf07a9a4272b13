"""Demo conditions story at 苏州康迈医疗科技 (run after the master-data demo and its event stream).

- Limits: the IP-300 infusion pump (输液泵) per its IFU: storage 5–40 °C and ≤ 93 %RH, transport
  -20–55 °C and ≤ 93 %RH, assembly 18–28 °C and 30–70 %RH; the sterile IS-20 infusion set
  (一次性使用输液器): clean-room production 18–28 °C and 45–65 %RH (GMP appendix for sterile
  devices), and ≤ 80 %RH in every phase (GB 8368).
- The first pumps of the demo stream: the assembly line's station TH-L1-01 reads 23.4 °C /
  46 %RH while they are built; the warehouse logger LOG-WH1-0007 records their pallet in
  成品仓库 until it ships (CSV import); the carrier's logger SF-TL-20931 travels with the pallet
  to 南京 (XLSX import, in transit).
- One excursion: the dock station TH-WH1-02 reads 3.2 °C on one case of that pallet on a winter
  night, below the pump's 5 °C storage minimum: a nonconformance opens and the case's pumps go
  on QC hold.
- An IS-20 lot, if the ledger has one, gets a clean-room reading on line SZ-L3.

Idempotent: nothing happens when the IP-300 already has condition limits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.ledger.models import EdgeKind, Event, EventQuantity, GenealogyEdge, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.masterdata.models import Location, Product

from . import services
from .models import ConditionProfile

PROFILES: dict[str, list[dict[str, object]]] = {
    "IP-300": [
        {"phase": "storage", "temperature_min": 5, "temperature_max": 40, "humidity_max": 93,
         "basis": "说明书 IFU §11：贮存环境温度 5 ℃～40 ℃，相对湿度 ≤ 93 %"},
        {"phase": "transport", "temperature_min": -20, "temperature_max": 55, "humidity_max": 93,
         "basis": "说明书 IFU §11：运输环境温度 -20 ℃～55 ℃，相对湿度 ≤ 93 %"},
        {"phase": "production", "temperature_min": 18, "temperature_max": 28,
         "humidity_min": 30, "humidity_max": 70,
         "basis": "装配车间防静电要求 Assembly area (ESD): 18–28 ℃, 30–70 %RH"},
    ],
    "IS-20": [
        {"phase": "production", "temperature_min": 18, "temperature_max": 28,
         "humidity_min": 45, "humidity_max": 65,
         "basis": "无菌医疗器械附录 洁净室温度 18～28 ℃，相对湿度 45 %～65 %"},
        {"phase": "all", "humidity_max": 80,
         "basis": "GB 8368：贮存于相对湿度不超过 80 % 的清洁环境"},
    ],
}  # fmt: skip
SCRAPPED = rules.SCRAPPED_DISPOSITIONS


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def _csv(rows: list[tuple[datetime, float, float]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["时间", "温度(℃)", "湿度(%RH)"])
    for moment, temperature, humidity in rows:
        writer.writerow(
            [timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S"), temperature, humidity]
        )
    return out.getvalue().encode("utf-8-sig")


def _xlsx(rows: list[tuple[datetime, float, float]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Time", "Temperature (°C)", "Humidity (%RH)"])
    for moment, temperature, humidity in rows:
        sheet.append([timezone.localtime(moment).replace(tzinfo=None), temperature, humidity])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _series(
    start: datetime, end: datetime, step: timedelta, temps: list[float], hums: list[float]
) -> list[tuple[datetime, float, float]]:
    rows = []
    moment, n = start, 0
    while moment <= end:
        rows.append((moment, temps[n % len(temps)], hums[n % len(hums)]))
        moment += step
        n += 1
    return rows


def _event_time(epc: str, biz_step: str) -> datetime | None:
    event = Event.objects.filter(epcs__epc=epc, biz_step=biz_step).order_by("event_time").first()
    return event.event_time if event is not None else None


def _profiles(log: Callable[[str], None]) -> dict[str, Product]:
    products = {}
    for model, specs in PROFILES.items():
        product = Product.objects.filter(model=model).first()
        if product is None:
            log(f"conditions demo: no {model} product; its limits are skipped")
            continue
        products[model] = product
        for spec in specs:
            services.profile_create(product=product, data=spec, user=None, reason="demo data")
    return products


def _pump_story(pump: Product, log: Callable[[str], None]) -> None:
    pumps = list(
        UnitState.objects.filter(product=pump, serial__startswith="P")
        .order_by("first_event_time", "epc")
        .values_list("epc", "first_event_time")[:10]
    )
    if len(pumps) < 10:
        log("conditions demo: the demo event stream has no pumps; readings skipped")
        return
    line_user, wh_user = _user("production"), _user("warehouse")
    built = max(t for _e, t in pumps)
    services.readings_record(
        targets=[e for e, _t in pumps],
        readings=[
            {"time": (built + timedelta(minutes=2)).isoformat(), "type": t, "value": v}
            for t, v in (("temperature", 23.4), ("humidity", 46))
        ],
        phase="production",
        device="TH-L1-01",
        location="SZ-L1",
        user=line_user,
        note="装配线温湿度巡检 Line check during work order WO000001",
    )
    case_edge = (
        GenealogyEdge.objects.filter(child=pumps[0][0], kind=EdgeKind.AGGREGATED)
        .order_by("valid_from")
        .first()
    )
    pallet_edge = (
        GenealogyEdge.objects.filter(child=case_edge.parent, kind=EdgeKind.AGGREGATED)
        .order_by("valid_from")
        .first()
        if case_edge is not None
        else None
    )
    if pallet_edge is None:
        log("conditions demo: the first pumps were never palletised; storage story skipped")
        return
    pallet, packed = pallet_edge.parent, pallet_edge.valid_from
    shipped = _event_time(pallet, "shipping") or packed + timedelta(hours=2)
    arrived = _event_time(pallet, "receiving") or shipped + timedelta(hours=20)
    services.readings_import(
        name="LOG-WH1-0007_成品仓库.csv",
        content=_csv(
            _series(packed, shipped, timedelta(minutes=15), [18.6, 18.9, 19.3, 19.1], [52, 54, 55])
        ),
        phase="storage",
        device="LOG-WH1-0007",
        location="SZ-WH1",
        targets=[pallet],
        user=wh_user,
        note="成品仓库温湿度记录仪 Warehouse logger",
    )
    services.readings_import(
        name="SF-TL-20931.xlsx",
        content=_xlsx(
            _series(
                shipped + timedelta(minutes=10),
                arrived - timedelta(minutes=10),
                timedelta(hours=1),
                [9.5, 8.1, 6.4, 5.2, 7.8, 11.6],
                [68, 72, 81, 85, 77],
            )
        ),
        phase="transport",
        device="SF-TL-20931",
        targets=[pallet],
        user=wh_user,
        note="顺丰冷链记录仪 苏州→南京 Carrier's logger, Suzhou to Nanjing",
    )
    cases = list(
        GenealogyEdge.objects.filter(parent=pallet, kind=EdgeKind.AGGREGATED)
        .order_by("child")
        .values_list("child", flat=True)
    )
    for case in cases[1:] + cases[:1]:
        inside = GenealogyEdge.objects.filter(parent=case, kind=EdgeKind.AGGREGATED)
        scrapped = UnitState.objects.filter(
            epc__in=inside.values("child"), disposition__in=SCRAPPED
        ).exists()
        if inside.exists() and not scrapped:
            break
    else:
        log("conditions demo: no case without scrapped pumps; the excursion is skipped")
        return
    night = packed + timedelta(minutes=30)
    done = services.readings_record(
        targets=[case],
        readings=[
            {"time": night.isoformat(), "type": "temperature", "value": 3.2},
            {"time": night.isoformat(), "type": "humidity", "value": 71},
        ],
        phase="storage",
        device="TH-WH1-02",
        location="SZ-WH1",
        user=wh_user,
        note="冬季夜间收货区门未关 Dock door left open on a winter night",
    )
    log(
        f"conditions demo: readings on {len(pumps)} pumps in production, their pallet in "
        f"storage and transport; excursion on {case} -> {', '.join(done.nonconformances)}"
    )


def _sterile_story(product: Product, log: Callable[[str], None]) -> None:
    prefix = ev.lot_class(product, "X")[:-1]  # the product's lots: urn:epc:class:lgtin:<c>.<i>.
    lot = (
        EventQuantity.objects.filter(epc_class__startswith=prefix)
        .order_by("event_time")
        .values_list("epc_class", "event_time")
        .first()
    )
    line = Location.objects.filter(code="SZ-L3").first()
    if lot is None or line is None:
        log("conditions demo: no IS-20 lot in the ledger; clean-room readings skipped")
        return
    services.readings_record(
        targets=[lot[0]],
        readings=[
            {"time": (lot[1] - timedelta(minutes=5)).isoformat(), "type": t, "value": v}
            for t, v in (("temperature", 22.1), ("humidity", 54))
        ],
        phase="production",
        device="TH-L3-CR01",
        location="SZ-L3",
        user=_user("production"),
        note="洁净车间温湿度监测 Clean-room monitoring",
    )
    log(f"conditions demo: clean-room reading for {lot[0]}")


def load_demo(log: Callable[[str], None] = print) -> None:
    if ConditionProfile.objects.filter(product__model="IP-300").exists():
        return
    products = _profiles(log)
    if "IP-300" in products:
        _pump_story(products["IP-300"], log)
    if "IS-20" in products:
        _sterile_story(products["IS-20"], log)
