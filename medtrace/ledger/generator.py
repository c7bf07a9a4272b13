"""A realistic EPCIS 2.0 event stream for the demo and the benchmarks.

The shape follows a medical-device maker (the demo's 苏州康迈 infusion pump line):

- three BOM levels: supplier lots (MCU, capacitors) -> control board serial (sub-assembly)
  -> pump serial, plus a serialized motor and a replaceable battery (association);
- component lots shared by many units (an MCU lot feeds 2,000 boards);
- incoming inspection of every serialized component, final inspection of every pump;
- packing 10 pumps to a case and 20 cases to a pallet (SSCCs), shipping pallets to the
  distributor, unpacking, shipping cases to hospitals, unpacking them there, installation;
- about 1 % of pumps get a battery swapped in service, about 0.5 % are scrapped.

That is about eight events per pump. Identifiers match the demo master data (`medtrace demo`),
so holders and products resolve by name.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MFR = "6901234"
SUP_MOTOR = "6920001"
SUP_ELEC = "6920002"
DIST = "6920005"
HOSPITALS = ("6920006", "6920007")
OFFSET = "+08:00"


def sgtin(prefix: str, item: str, serial: str) -> str:
    return f"urn:epc:id:sgtin:{prefix}.{item}.{serial}"


def lgtin(prefix: str, item: str, lot: str) -> str:
    return f"urn:epc:class:lgtin:{prefix}.{item}.{lot}"


def sgln(prefix: str, ref: int) -> str:
    return f"urn:epc:id:sgln:{prefix}.{ref:0{12 - len(prefix)}d}.0"


def pgln(prefix: str) -> str:
    return f"urn:epc:id:pgln:{prefix}.{0:0{12 - len(prefix)}d}"


def sscc(serial: int) -> str:
    return f"urn:epc:id:sscc:{MFR}.0{serial:09d}"


PUMP_ITEM = "010001"  # GTIN 0 6901234 10001 c = IP-300 in the demo
BOARD_ITEM = "090001"
MOTOR_ITEM = "000001"
BATTERY_ITEM = "000002"
MCU_ITEM = "000003"
CAP_ITEM = "000004"
SENSOR_ITEM = "000005"

LINE = sgln(MFR, 6)  # 输液泵装配线
WAREHOUSE = sgln(MFR, 2)  # 成品仓库
INCOMING = sgln(MFR, 5)  # 待检/隔离区
DIST_WH = sgln(DIST, 2)


@dataclass
class Plan:
    units: int
    seed: int = 7
    start: datetime = datetime(2025, 1, 6, 0, 30, tzinfo=UTC)
    per_case: int = 10
    cases_per_pallet: int = 20
    per_mcu_lot: int = 2000
    per_cap_lot: int = 5000
    per_sensor_lot: int = 1000
    work_order: int = 200
    hospitals: tuple[str, ...] = HOSPITALS
    counts: dict[str, int] = field(default_factory=dict)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _event(kind: str, moment: datetime, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "eventTime": _ts(moment), "eventTimeZoneOffset": OFFSET}
    event.update(fields)
    return event


def _wo(n: int) -> list[dict[str, str]]:
    return [{"type": "prodorder", "bizTransaction": f"urn:medtrace:wo:WO{n:06d}"}]


def generate(plan: Plan) -> Iterator[list[dict[str, Any]]]:
    """Yield the events work order by work order, each list in eventTime order."""
    rng = random.Random(plan.seed)
    moment = plan.start
    pallet_serial = 0
    made = 0
    wo_no = 0
    while made < plan.units:
        wo_no += 1
        size = min(plan.work_order, plan.units - made)
        first = made
        events: list[dict[str, Any]] = []
        mcu = lgtin(SUP_ELEC, MCU_ITEM, f"MCU{first // plan.per_mcu_lot:05d}")
        cap = lgtin(SUP_ELEC, CAP_ITEM, f"CAP{first // plan.per_cap_lot:05d}")
        sensor = lgtin(SUP_ELEC, SENSOR_ITEM, f"PS{first // plan.per_sensor_lot:05d}")
        motors = [sgtin(SUP_MOTOR, MOTOR_ITEM, f"M{n:08d}") for n in range(first, first + size)]
        batteries = [sgtin(SUP_ELEC, BATTERY_ITEM, f"B{n:08d}") for n in range(first, first + size)]
        boards = [sgtin(MFR, BOARD_ITEM, f"CB{n:08d}") for n in range(first, first + size)]
        pumps = [sgtin(MFR, PUMP_ITEM, f"P{n:08d}") for n in range(first, first + size)]
        supplier_src = [{"type": "owning_party", "source": pgln(SUP_ELEC)}]
        mfr_dest = [
            {"type": "owning_party", "destination": pgln(MFR)},
            {"type": "possessing_party", "destination": pgln(MFR)},
        ]
        # Incoming: every serialized component is scanned and inspected one by one.
        for epc, supplier in [
            *((m, SUP_MOTOR) for m in motors),
            *((b, SUP_ELEC) for b in batteries),
        ]:
            moment += timedelta(seconds=3)
            events.append(
                _event(
                    "ObjectEvent",
                    moment,
                    epcList=[epc],
                    action="ADD",
                    bizStep="receiving",
                    disposition="in_progress",
                    readPoint={"id": INCOMING},
                    bizLocation={"id": INCOMING},
                    sourceList=[{"type": "owning_party", "source": pgln(supplier)}],
                    destinationList=mfr_dest,
                    ilmd={"cbvmda:lotNumber": f"L{moment:%y%m%d}"},
                )
            )
        if first % plan.per_sensor_lot == 0 or first == 0:
            moment += timedelta(minutes=1)
            events.append(
                _event(
                    "ObjectEvent",
                    moment,
                    action="ADD",
                    bizStep="receiving",
                    disposition="in_progress",
                    readPoint={"id": INCOMING},
                    bizLocation={"id": INCOMING},
                    quantityList=[
                        {"epcClass": c, "quantity": 5000, "uom": "EA"} for c in (mcu, cap, sensor)
                    ],
                    sourceList=supplier_src,
                    destinationList=mfr_dest,
                )
            )
        for n in range(size):
            moment += timedelta(seconds=20)
            events.append(
                _event(
                    "TransformationEvent",
                    moment,
                    bizStep="commissioning",
                    disposition="active",
                    inputQuantityList=[
                        {"epcClass": mcu, "quantity": 1, "uom": "EA"},
                        {"epcClass": cap, "quantity": 12, "uom": "EA"},
                    ],
                    outputEPCList=[boards[n]],
                    readPoint={"id": LINE},
                    bizLocation={"id": LINE},
                    bizTransactionList=_wo(wo_no),
                )
            )
            moment += timedelta(seconds=40)
            expiry = (moment + timedelta(days=3650)).date().isoformat()
            events.append(
                _event(
                    "TransformationEvent",
                    moment,
                    bizStep="commissioning",
                    disposition="active",
                    inputEPCList=[boards[n], motors[n]],
                    inputQuantityList=[{"epcClass": sensor, "quantity": 1, "uom": "EA"}],
                    outputEPCList=[pumps[n]],
                    readPoint={"id": LINE},
                    bizLocation={"id": LINE},
                    bizTransactionList=_wo(wo_no),
                    ilmd={
                        "cbvmda:lotNumber": f"WO{wo_no:06d}",
                        "cbvmda:itemExpirationDate": expiry,
                    },
                )
            )
            moment += timedelta(seconds=20)
            events.append(
                _event(
                    "AssociationEvent",
                    moment,
                    parentID=pumps[n],
                    childEPCs=[batteries[n]],
                    action="ADD",
                    bizStep="assembling",
                    disposition="active",
                    readPoint={"id": LINE},
                    bizLocation={"id": LINE},
                )
            )
            moment += timedelta(seconds=30)
            events.append(
                _event(
                    "ObjectEvent",
                    moment,
                    epcList=[pumps[n]],
                    action="OBSERVE",
                    bizStep="inspecting",
                    disposition="conformant",
                    readPoint={"id": LINE},
                    bizLocation={"id": LINE},
                )
            )
        # Packing, shipping and installation.
        cases = [pumps[i : i + plan.per_case] for i in range(0, size, plan.per_case)]
        case_ids = []
        for units in cases:
            pallet_serial += 1
            case_ids.append(sscc(pallet_serial))
            moment += timedelta(minutes=1)
            events.append(
                _event(
                    "AggregationEvent",
                    moment,
                    parentID=case_ids[-1],
                    childEPCs=units,
                    action="ADD",
                    bizStep="packing",
                    disposition="in_progress",
                    readPoint={"id": WAREHOUSE},
                    bizLocation={"id": WAREHOUSE},
                )
            )
        delivered: dict[str, str] = {}
        for p in range(0, len(case_ids), plan.cases_per_pallet):
            pallet_serial += 1
            pallet = sscc(pallet_serial)
            members = case_ids[p : p + plan.cases_per_pallet]
            moment += timedelta(minutes=5)
            events.append(
                _event(
                    "AggregationEvent",
                    moment,
                    parentID=pallet,
                    childEPCs=members,
                    action="ADD",
                    bizStep="packing",
                    disposition="in_progress",
                    readPoint={"id": WAREHOUSE},
                    bizLocation={"id": WAREHOUSE},
                )
            )
            moment += timedelta(hours=2)
            events.append(
                _event(
                    "ObjectEvent",
                    moment,
                    epcList=[pallet],
                    action="OBSERVE",
                    bizStep="shipping",
                    disposition="in_transit",
                    readPoint={"id": WAREHOUSE},
                    sourceList=[{"type": "possessing_party", "source": pgln(MFR)}],
                    destinationList=[
                        {"type": "possessing_party", "destination": pgln(DIST)},
                        {"type": "owning_party", "destination": pgln(DIST)},
                    ],
                    bizTransactionList=[
                        {"type": "desadv", "bizTransaction": f"urn:medtrace:asn:{pallet_serial}"}
                    ],
                )
            )
            moment += timedelta(hours=20)
            events.append(
                _event(
                    "ObjectEvent",
                    moment,
                    epcList=[pallet],
                    action="OBSERVE",
                    bizStep="receiving",
                    disposition="in_progress",
                    readPoint={"id": DIST_WH},
                    bizLocation={"id": DIST_WH},
                    sourceList=[{"type": "possessing_party", "source": pgln(MFR)}],
                    destinationList=[{"type": "possessing_party", "destination": pgln(DIST)}],
                )
            )
            moment += timedelta(hours=1)
            events.append(
                _event(
                    "AggregationEvent",
                    moment,
                    parentID=pallet,
                    childEPCs=members,
                    action="DELETE",
                    bizStep="unpacking",
                    disposition="in_progress",
                    readPoint={"id": DIST_WH},
                    bizLocation={"id": DIST_WH},
                )
            )
            for case in members:
                hospital = plan.hospitals[rng.randrange(len(plan.hospitals))]
                moment += timedelta(minutes=30)
                events.append(
                    _event(
                        "ObjectEvent",
                        moment,
                        epcList=[case],
                        action="OBSERVE",
                        bizStep="shipping",
                        disposition="in_transit",
                        readPoint={"id": DIST_WH},
                        sourceList=[{"type": "possessing_party", "source": pgln(DIST)}],
                        destinationList=[
                            {"type": "possessing_party", "destination": pgln(hospital)},
                            {"type": "owning_party", "destination": pgln(hospital)},
                        ],
                    )
                )
                moment += timedelta(hours=6)
                delivered[case] = sgln(hospital, 1)
                events.append(
                    _event(
                        "ObjectEvent",
                        moment,
                        epcList=[case],
                        action="OBSERVE",
                        bizStep="receiving",
                        disposition="in_progress",
                        readPoint={"id": sgln(hospital, 1)},
                        bizLocation={"id": sgln(hospital, 1)},
                        sourceList=[{"type": "possessing_party", "source": pgln(DIST)}],
                        destinationList=[
                            {"type": "possessing_party", "destination": pgln(hospital)}
                        ],
                    )
                )
                moment += timedelta(minutes=30)
                events.append(
                    _event(
                        "AggregationEvent",
                        moment,
                        parentID=case,
                        childEPCs=cases[case_ids.index(case)],
                        action="DELETE",
                        bizStep="unpacking",
                        disposition="in_progress",
                        readPoint={"id": sgln(hospital, 1)},
                        bizLocation={"id": sgln(hospital, 1)},
                    )
                )
        for n, pump in enumerate(pumps):
            moment += timedelta(minutes=2)
            hospital_loc = delivered[case_ids[n // plan.per_case]]
            events.append(
                _event(
                    "ObjectEvent",
                    moment,
                    epcList=[pump],
                    action="OBSERVE",
                    bizStep="installing",
                    disposition="in_progress",
                    readPoint={"id": hospital_loc},
                    bizLocation={"id": hospital_loc},
                )
            )
            roll = rng.random()
            if roll < 0.01:
                moment += timedelta(days=30)
                spare = sgtin(SUP_ELEC, BATTERY_ITEM, f"S{first + n:08d}")
                events.append(
                    _event(
                        "AssociationEvent",
                        moment,
                        parentID=pump,
                        childEPCs=[batteries[n]],
                        action="DELETE",
                        bizStep="repairing",
                        disposition="in_progress",
                        readPoint={"id": hospital_loc},
                        bizLocation={"id": hospital_loc},
                    )
                )
                events.append(
                    _event(
                        "AssociationEvent",
                        moment + timedelta(minutes=5),
                        parentID=pump,
                        childEPCs=[spare],
                        action="ADD",
                        bizStep="repairing",
                        disposition="in_progress",
                        readPoint={"id": hospital_loc},
                        bizLocation={"id": hospital_loc},
                    )
                )
            elif roll < 0.015:
                moment += timedelta(days=60)
                events.append(
                    _event(
                        "ObjectEvent",
                        moment,
                        epcList=[pump],
                        action="DELETE",
                        bizStep="decommissioning",
                        disposition="destroyed",
                        readPoint={"id": hospital_loc},
                        bizLocation={"id": hospital_loc},
                    )
                )
        events.sort(key=lambda e: e["eventTime"])
        made += size
        yield events


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"cbvmda": "urn:epcglobal:cbv:mda:"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _ts(datetime.now(UTC)),
        "epcisBody": {"eventList": events},
    }
