"""Issue 5, "done means": one unit walked through every phase of its life, end to end.

The story, told through the real public services of each app (no event is written by hand):

1. master data: our company 苏州康迈医疗 (GS1 prefix, GLN), a qualified supplier of control
   boards and battery packs, a licensed hospital with an ICU, the IP-300 infusion pump with a
   released BOM (a PCBA, lot-tracked; a battery pack, serial-tracked) and a final inspection;
2. procurement: a PO, a goods receipt of PCBA lot PCBA-2611-07 and of two battery packs with
   the supplier's CoC, incoming inspection accepting them;
3. production: a work order, one pump commissioned (its serial from the product's rule),
   assembled with a PCBA of the lot (TransformationEvent) and battery BAT-0001
   (AssociationEvent), a process record;
4. quality: the final inspection passes (signed), QA releases the pump (signed);
5. warehouse: put away into bin A01, packed into a case with a new SSCC, the bin's logger
   reading taken on the case;
6. distribution: a sales order to the hospital, the case shipped, the hospital's own user
   confirms the receipt through the partner API;
7. use and service: installed in the ICU, a maintenance visit, a repair ticket (reported by the
   hospital) that swaps BAT-0001 for BAT-0002, the spare received in step 2, tested and
   resolved; finally the pump is scrapped with the engineer's e-signature.

The story is told once for the module, in a transaction rolled back at its end (like the
authorization matrix's world); each test then checks one promise of the issue on it: the
timeline in order, backward and forward trace after the swap, the refusals after scrap, the
traceability certificate, and the audit chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.utils import timezone, translation

from medtrace.accounts.models import User
from medtrace.audit.models import AuditEntry
from medtrace.errors import SequenceViolation
from medtrace.ledger.models import Event
from medtrace.lifecycle.events import MAINTAINING
from medtrace.masterdata.models import Location, Material, Party, Product
from medtrace.production.models import WorkOrder
from medtrace.service.models_lifecycle import MaintenancePlan

pytestmark = pytest.mark.django_db

PCBA_LOT = "PCBA-2611-07"
COC = b"%PDF-1.4\n% Certificate of conformity: PCBA-2611-07, BAT-0001, BAT-0002\n"
FINAL_VALUES = {"Flow accuracy": "1.2", "Occlusion pressure": 80, "Leakage current": "12.5"}


# The cast -------------------------------------------------------------------------------------


def _person(
    username: str, *, role: str | None = None, party: Party | None = None, signs: bool = False
) -> User:
    """A user; only those who e-sign get a password ("pw-<username>", slow to hash)."""
    user = User.objects.create_user(
        username=username,
        password="pw-" + username if signs else None,
        printed_name=username.replace("_", " ").title(),
        party=party,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def password(user: User) -> str:
    return "pw-" + user.username


@dataclass
class Story:
    supplier: Party
    hospital: Party
    icu: Location
    pump: Product
    battery: Material
    work_order: WorkOrder
    maintenance_plan: MaintenancePlan
    serial: str
    unit: str  # the pump's EPC
    udi: str  # the pump's UDI, as its label's barcode reads
    pcba_lot: str  # the supplier lot's class URN
    battery_1: str  # EPC of the battery fitted at assembly, removed in the repair
    battery_2: str  # EPC of the spare battery fitted in the repair
    case: str  # EPC of the case's SSCC
    documents: dict[str, str]  # the numbers of the story's documents
    people: dict[str, User]


def _tell() -> Story:
    from medtrace.accounts.services import token_create
    from medtrace.conditions import services as conditions
    from medtrace.distribution import services as distribution
    from medtrace.lifecycle import events as ev
    from medtrace.masterdata import services as masterdata
    from medtrace.masterdata.tests import factories as md
    from medtrace.procurement import services as procurement
    from medtrace.procurement.models import MaterialLot
    from medtrace.procurement.tests.factories import qualify
    from medtrace.production import services as production
    from medtrace.production import services_assembly as assembly
    from medtrace.production import services_orders as orders
    from medtrace.production import services_records as records
    from medtrace.production.tests.factories import released_bom
    from medtrace.quality import services as quality
    from medtrace.service import installed_base, maintenance, scrap, tickets
    from medtrace.warehouse import services as warehouse

    today = timezone.localdate()
    docs: dict[str, str] = {}

    # 1. Master data -------------------------------------------------------------------------
    # Our company (the one manufacturer: lifecycle.services.own_party), its plant, the assembly
    # line, the incoming-inspection store and the finished-goods warehouse with bin A01.
    maker = md.party(role="manufacturer", prefix="6901234", name="苏州康迈医疗器械有限公司")
    plant = md.location(owner=maker, kind="site", ref=1, name="苏州工厂")
    line = md.location(owner=maker, kind="production_line", ref=2, name="输液泵装配线",
                       parent_id=plant.pk)  # fmt: skip
    incoming = md.location(owner=maker, kind="warehouse", ref=3, name="待检区",
                           parent_id=plant.pk)  # fmt: skip
    store = md.location(owner=maker, kind="warehouse", ref=4, name="成品仓库",
                        parent_id=plant.pk)  # fmt: skip
    a01 = md.location(owner=maker, kind="bin", ref=5, name="成品仓 A01", parent_id=store.pk)

    # The supplier, qualified: business licence, production licence, ISO 13485, all unexpired.
    supplier = md.party(role="supplier", prefix="6920001", name="深圳安电科技有限公司")
    qualify(supplier)

    # The hospital, with its 医疗机构执业许可证, its receiving dock and its ICU.
    hospital = md.party(role="hospital", prefix="6920003", name="苏州市第一人民医院",
                        province="江苏省", city="苏州市", address="十梓街 188 号")  # fmt: skip
    masterdata.licence_add(
        party=hospital,
        data={"kind": "medical_institution_licence", "number": "PDY00001232050215A1001",
              "expires_on": today + timedelta(days=5 * 365)},
        user=None,
    )  # fmt: skip
    dock = md.location(owner=hospital, kind="site", ref=1, name="设备科收货处")
    icu = md.location(owner=hospital, kind="hospital_department", ref=11, name="重症监护室",
                      parent_id=dock.pk)  # fmt: skip

    # The pump, its two materials (approved from the supplier, with the supplier's GTINs), its
    # released BOM, its serial rule (prefix, year and month, sequence) and its final inspection.
    pump = md.product(
        manufacturer=maker,
        name="输液泵",
        model="IP-300",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 300)}],
    )
    pcba = md.material(tracking="lot", name="主控板 PCBA", gtin=md.gtin("6920001", 31),
                       gcp_length=7, critical=True)  # fmt: skip
    battery = md.material(tracking="serial", name="锂电池组 7.4 V", gtin=md.gtin("6920001", 32),
                          gcp_length=7, critical=True)  # fmt: skip
    for material in (pcba, battery):
        masterdata.material_supplier_add(
            material=material, data={"supplier_id": supplier.pk}, user=None
        )
    released_bom(pump, [(pcba, "1"), (battery, "1")])
    production.serial_rule_set(
        product=pump,
        data={"prefix": "IP3", "date_part": "YYMM", "sequence_width": 5},
        user=None,
        reason="serial rule of the IP-300 line",
    )
    final_plan = quality.inspection_plan_create(
        data={
            "code": "FQ-IP300",
            "name": "IP-300 final inspection",
            "kind": "final",
            "product_id": pump.pk,
            "characteristics": [
                {"name": "Flow accuracy", "nominal": 0, "lower": -5, "upper": 5, "unit": "%"},
                {"name": "Occlusion pressure", "lower": 40, "upper": 120, "unit": "kPa"},
                {"name": "Leakage current", "upper": 100, "unit": "µA"},
            ],
        },
        user=None,
    )

    # The people who do the work, one per department, and the hospital's own user.
    p = people = {
        "buyer": _person("e2e_buyer", role="procurement"),
        "clerk": _person("e2e_clerk", role="warehouse"),
        "inspector": _person("e2e_inspector", role="qc", signs=True),
        "operator": _person("e2e_operator", role="production"),
        "qa": _person("e2e_qa", role="qa_ra", signs=True),
        "sales": _person("e2e_sales", role="sales"),
        "engineer": _person("e2e_engineer", role="service", signs=True),
        "hospital": _person("e2e_hospital", party=hospital),
    }

    # 2. Procurement -------------------------------------------------------------------------
    # A PO for 50 PCBAs and 2 battery packs; the goods arrive with their CoC (procurement
    # receives them: accounts/roles.py); incoming inspection accepts the lot and both serials.
    po = procurement.purchase_order_create(
        supplier=supplier,
        lines=[
            {"material_id": pcba.pk, "quantity": 50},
            {"material_id": battery.pk, "quantity": 2},
        ],
        user=p["buyer"],
        release=True,
    )
    receipt = procurement.goods_receipt_create(
        order=po,
        location=incoming,
        lines=[
            {"line": 1, "lot": PCBA_LOT, "quantity": 50, "expires_on": today + timedelta(days=730)},
            {"line": 2, "serials": ["BAT-0001", "BAT-0002"]},
        ],
        coc_name="CoC-DN-88123.pdf",
        coc_content=COC,
        coc_content_type="application/pdf",
        delivery_note="DN-88123",
        user=p["buyer"],
    )
    assert receipt.coc.sha256 == hashlib.sha256(COC).hexdigest()
    pcba_lot = MaterialLot.objects.get(material=pcba, identifier=PCBA_LOT)
    procurement.inspection_record(lot=pcba_lot, accepted_qty=Decimal(50), user=p["inspector"])
    batteries = MaterialLot.objects.filter(material=battery).order_by("identifier")
    procurement.inspection_record_serials(
        receipt_line=batteries[0].receipt_line, user=p["inspector"]
    )
    assert {lot.status for lot in MaterialLot.objects.all()} == {"accepted"}
    docs["receipt_gr"] = receipt.number

    # 3. Production --------------------------------------------------------------------------
    # A work order on the released BOM; one pump commissioned (its serial from the rule),
    # assembled with one PCBA of the lot and battery BAT-0001; the housing screws' torque.
    work_order = orders.work_order_create(
        data={"product_id": pump.pk, "quantity": 1, "line_id": line.pk}, user=p["operator"]
    )
    work_order = orders.work_order_release(work_order=work_order, user=p["operator"])
    docs["work_order"] = work_order.number
    made = orders.work_order_commission(work_order=work_order, count=1, user=p["operator"])
    (serial,), (unit,) = made.serials, made.epcs
    assert re.fullmatch(r"IP3\d{4}00001", serial), serial  # prefix, YYMM, sequence
    assembly.work_order_assemble(
        work_order=work_order,
        unit=serial,  # the bare serial, as the operator types it
        components=[f"(01){pcba.gtin}(10){PCBA_LOT}", f"(01){battery.gtin}(21)BAT-0001"],
        station="ST-03",
        user=p["operator"],
    )
    records.process_record_add(
        work_order=work_order,
        data={
            "step": "Housing screws torqued",
            "station": "ST-03",
            "unit": serial,
            "parameters": [{"name": "Torque", "value": "0.6", "unit": "N·m"}],
            "result": "pass",
        },
        user=p["operator"],
    )

    # 4. Quality -----------------------------------------------------------------------------
    # The final inspection passes (the inspector signs it); QA releases the pump (signed).
    result = quality.inspection_record(
        plan=final_plan,
        target=unit,
        values=FINAL_VALUES,
        user=p["inspector"],
        password=password(p["inspector"]),
    )
    assert result.result == "pass"
    docs["inspection"] = result.number
    release = quality.release_create(
        targets=[unit], user=p["qa"], password=password(p["qa"]), note="DHR reviewed"
    )
    docs["release"] = release.number

    # 5. Warehouse ---------------------------------------------------------------------------
    # Put away from the line into bin A01, then packed into a new case (SSCC) and closed; the
    # bin's logger reading is taken by scanning the case (EPCIS sensor data).
    move = warehouse.stock_move(scans=[unit], to_location=a01, user=p["clerk"])
    docs["move"] = move.number
    case = warehouse.container_create(level="case", user=p["clerk"], location=a01)
    warehouse.container_pack(container=case, children=[unit], user=p["clerk"], close=True)
    conditions.readings_record(
        targets=[f"(00){case.sscc}"],
        readings=[
            {"time": timezone.now().isoformat(), "type": "temperature", "value": 22.5},
            {"time": timezone.now().isoformat(), "type": "humidity", "value": 45},
        ],
        phase="storage",
        device="TH-A01",
        location=a01.pk,
        user=p["clerk"],
    )

    # 6. Distribution ------------------------------------------------------------------------
    # A sales order to the hospital; the case is shipped; the hospital's own user confirms the
    # receipt through the partner API, scanning the case's SSCC.
    order = distribution.sales_order_create(
        data={
            "customer_id": hospital.pk,
            "ship_to_id": dock.pk,
            "customer_po": "SZ1H-2026-031",
            "lines": [{"product_id": pump.pk, "quantity": 1}],
        },
        user=p["sales"],
    )
    order = distribution.sales_order_confirm(order=order, user=p["sales"])
    shipment = distribution.shipment_create(
        order=order, scans=[f"(00){case.sscc}"], user=p["clerk"]
    )
    docs["shipment"] = shipment.number
    _token, secret = token_create(user=p["hospital"], scopes=["partner:receive"])
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").post(
        f"/api/v1/shipments/{shipment.pk}/receipt",
        json.dumps({"epcs": [f"(00){case.sscc}"]}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    answer = response.json()
    assert (answer["shipment_status"], answer["missing"], answer["extra"]) == ("received", [], [])
    docs["receipt"] = answer["number"]

    # 7. Use and service ---------------------------------------------------------------------
    # Installed in the ICU; a maintenance visit; the hospital reports a battery fault; the
    # engineer swaps BAT-0001 for the spare BAT-0002, tests and resolves; at the end of its life
    # the pump is scrapped with the engineer's e-signature.
    pump_udi = f"(01){pump.identifiers.get(packaging_level='unit').di}(21){serial}"
    installation = installed_base.installation_create(
        unit=pump_udi, department_id=icu.pk, user=p["engineer"], engineer="王工"
    )
    docs["installation"] = installation.number
    pm_plan = maintenance.maintenance_plan_create(
        data={
            "name": "IP-300 preventive maintenance",
            "kind": "maintenance",
            "product_id": pump.pk,
            "interval_days": 180,
            "items": [{"name": "Flow accuracy", "unit": "%", "min": -5, "max": 5}],
        },
        user=p["engineer"],
    )
    visit = maintenance.maintenance_visit_record(
        plan=pm_plan,
        unit=pump_udi,
        user=p["engineer"],
        work_done="Cleaned, occlusion sensor checked, flow verified",
        measurements=[{"name": "Flow accuracy", "value": 1.5}],
    )
    assert visit.result == "pass"
    docs["visit"] = visit.number
    ticket = tickets.ticket_open(
        unit=pump_udi, symptom="Battery runs flat after 20 minutes", user=p["hospital"]
    )
    docs["ticket"] = ticket.number
    ticket = tickets.ticket_diagnose(
        ticket=ticket, diagnosis="Battery pack BAT-0001 has lost its capacity", user=p["engineer"]
    )
    tickets.ticket_swap_part(
        ticket=ticket,
        removed=f"(01){battery.gtin}(21)BAT-0001",
        installed=f"(01){battery.gtin}(21)BAT-0002",
        user=p["engineer"],
    )
    ticket = tickets.ticket_test(
        ticket=ticket,
        user=p["engineer"],
        measurements=[{"name": "Battery runtime", "value": 5.2, "unit": "h", "min": 4}],
    )
    assert ticket.test_result == "pass"
    tickets.ticket_resolve(
        ticket=ticket, resolution="Battery pack replaced; runtime 5.2 h", user=p["engineer"]
    )
    scrapped = scrap.scrap_create(
        units=[pump_udi],
        reason="End of service life: housing cracked beyond repair",
        method="dismantled",
        user=p["engineer"],
        password=password(p["engineer"]),
    )
    docs["scrap"] = scrapped.number

    return Story(
        supplier=supplier,
        hospital=hospital,
        icu=icu,
        pump=pump,
        battery=battery,
        work_order=work_order,
        maintenance_plan=pm_plan,
        serial=serial,
        unit=unit,
        udi=pump_udi,
        pcba_lot=ev.material_lot_class(pcba, PCBA_LOT),
        battery_1=ev.material_serial_epc(battery, "BAT-0001"),
        battery_2=ev.material_serial_epc(battery, "BAT-0002"),
        case=case.epc,
        documents=docs,
        people=people,
    )


@pytest.fixture(scope="module")
def story(django_db_setup: None, django_db_blocker: Any) -> Iterator[Story]:
    """The story, told once for the module in a transaction rolled back at its end; each test
    runs in a savepoint inside it (pytest-django's ``db``)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            from django.core.cache import cache

            cache.clear()
            with translation.override("en"):
                told = _tell()
            yield told
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# The promises ---------------------------------------------------------------------------------

SELF = "self"

# The pump's timeline, oldest first: (phase, bizStep, event type, action, disposition, via, the
# document the event names). The timeline holds the unit's own events, its case's events while
# it was inside, and its parts' events while they were fitted (trace/timeline.py): the logger
# reading, the shipment and the receipt come "via" the case, and BAT-0001's own "needs
# replacement" event "via" the part (at the very instant it comes out).
TIMELINE: list[tuple[str, str, str, str | None, str | None, str, str | None]] = [
    # 2. procurement: the PCBA lot and BAT-0001 received from the supplier and accepted at
    # incoming inspection, before they went into the pump (the unit's "origin")
    ("procurement", "receiving", "ObjectEvent", "ADD", "in_progress", "pcba_origin", "receipt_gr"),
    ("procurement", "receiving", "ObjectEvent", "ADD", "in_progress", "bat_origin", "receipt_gr"),
    (
        "procurement",
        "accepting",
        "ObjectEvent",
        "OBSERVE",
        "conformant",
        "pcba_origin",
        "receipt_gr",
    ),
    (
        "procurement",
        "accepting",
        "ObjectEvent",
        "OBSERVE",
        "conformant",
        "bat_origin",
        "receipt_gr",
    ),
    # 3. production: commissioned, then a PCBA of the lot and BAT-0001 go in
    ("production", "commissioning", "ObjectEvent", "ADD", "active", SELF, "work_order"),
    ("production", "assembling", "TransformationEvent", None, None, SELF, "work_order"),
    ("production", "assembling", "AssociationEvent", "ADD", None, SELF, "work_order"),
    # 4. quality: the final inspection, then the QC release
    ("quality", "inspecting", "ObjectEvent", "OBSERVE", "conformant", SELF, "inspection"),
    ("quality", "inspecting", "ObjectEvent", "OBSERVE", "conformant", SELF, "release"),
    # 5. warehouse: put away into A01, packed into the case, the logger reading of the case
    ("warehouse", "storing", "ObjectEvent", "OBSERVE", None, SELF, "move"),
    ("warehouse", "packing", "AggregationEvent", "ADD", "container_closed", SELF, None),
    ("warehouse", "storing", "ObjectEvent", "OBSERVE", None, "case", None),
    # 6. distribution: the case shipped, then received by the hospital
    ("distribution", "shipping", "ObjectEvent", "OBSERVE", "in_transit", "case", "shipment"),
    ("distribution", "receiving", "ObjectEvent", "OBSERVE", "in_progress", "case", "receipt"),
    # 7. use and service: installed, maintained, repaired with a battery swap
    ("use", "installing", "ObjectEvent", "OBSERVE", "active", SELF, "installation"),
    ("service", MAINTAINING, "ObjectEvent", "OBSERVE", "active", SELF, "visit"),
    ("service", "repairing", "ObjectEvent", "OBSERVE", "in_progress", SELF, "ticket"),  # diagnosis
    ("service", "removing", "AssociationEvent", "DELETE", None, SELF, "ticket"),  # BAT-0001 out
    ("service", "removing", "ObjectEvent", "OBSERVE", "needs_replacement", "battery_1", "ticket"),
    ("service", "repairing", "AssociationEvent", "ADD", None, SELF, "ticket"),  # BAT-0002 in
    ("service", "repairing", "ObjectEvent", "OBSERVE", "conformant", SELF, "ticket"),  # test
    ("service", "repairing", "ObjectEvent", "OBSERVE", "active", SELF, "ticket"),  # back in use
    # ... and its end
    ("end-of-life", "decommissioning", "ObjectEvent", "DELETE", "destroyed", SELF, "scrap"),
]
PHASE_STEPS = [row[:2] for row in TIMELINE]


def test_the_timeline_shows_every_step_in_order(story: Story) -> None:
    from medtrace.trace.phases import PHASES
    from medtrace.trace.selectors import unit_timeline

    timeline = unit_timeline(id=story.udi, user=None)
    events = timeline["events"]

    assert [(e["phase"], e["bizStep"]) for e in events] == PHASE_STEPS
    assert {e["phase"] for e in events} == set(PHASES)
    via = {SELF: SELF, "case": f"container:{story.case}",
           "battery_1": f"component:{story.battery_1}",
           "pcba_origin": f"origin:{story.pcba_lot}",
           "bat_origin": f"origin:{story.battery_1}"}  # fmt: skip
    assert [
        (e["phase"], e["bizStep"], e["eventType"], e["action"], e["disposition"], e["via"])
        for e in events
    ] == [(*row[:5], via[row[5]]) for row in TIMELINE]
    # As instants: an ISO text without a fraction ("…52Z") sorts after "…52.012Z".
    times = [datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")) for e in events]
    assert times == sorted(times)
    assert not any(e["retracted"] for e in events)
    # Each event names the document that did the work.
    for event, row in zip(events, TIMELINE, strict=True):
        numbers = {b["bizTransaction"].rsplit(":", 1)[-1] for b in event["bizTransactionList"]}
        assert (story.documents[row[6]] in numbers) if row[6] else not numbers, row
    # The logger reading of the case is on the pump's timeline, as sensor data.
    (reading,) = [e for e in events if e["conditions"]]
    assert [c["text"] for c in reading["conditions"]] == [
        "Temperature 22.5 °C",
        "Relative humidity 45 %",
    ]
    # Every phase, from its material's receipt to its end of life, is on the pump's timeline,
    # and procurement also on its parts' own: the spare battery was received from the supplier and
    # accepted at incoming inspection before the repair fitted it (the unit's DELETE of BAT-0001
    # shows because it happened at the instant BAT-0002 went in).
    spare = unit_timeline(id=story.battery_2, user=None)["events"]
    assert [(e["phase"], e["bizStep"], e["via"]) for e in spare] == [
        ("procurement", "receiving", SELF),
        ("procurement", "accepting", SELF),
        ("service", "removing", f"container:{story.unit}"),
        ("service", "repairing", SELF),
        ("service", "repairing", f"container:{story.unit}"),
        ("service", "repairing", f"container:{story.unit}"),
        ("end-of-life", "decommissioning", f"container:{story.unit}"),
    ]
    # The pump ends where it was used: in the ICU, destroyed, the hospital holding it.
    assert events[-1]["bizLocation"] == story.icu.sgln
    assert timeline["unit"]["disposition"] == "destroyed"
    assert timeline["unit"]["holder"]["name"] == story.hospital.name


def test_backward_trace_after_the_swap(story: Story) -> None:
    from medtrace.trace.selectors import trace_backward

    def parts(include_history: bool) -> dict[str, dict[str, Any]]:
        tree = trace_backward(id=story.unit, user=None, include_history=include_history)
        return {node["epc"]: node for node in tree["root"]["children"]}

    # Now: the pump is made of the supplier lot (transformed) and holds BAT-0002 (associated).
    now = parts(False)
    assert {epc: (n["relation"], n["current"]) for epc, n in now.items()} == {
        story.pcba_lot: ("transformed", True),
        story.battery_2: ("associated", True),
    }
    lot = now[story.pcba_lot]
    assert (lot["type"], lot["lot"], lot["material"]["name"]) == ("lot", PCBA_LOT, "主控板 PCBA")
    assert (lot["supplier"]["name"], lot["supplier"]["basis"]) == (
        story.supplier.name,
        "receiving_event",
    )
    assert now[story.battery_2]["serial"] == "BAT-0002"
    assert now[story.battery_2]["supplier"]["name"] == story.supplier.name

    # With history BAT-0001 is there too, no longer current: from the assembly to the swap.
    then = parts(True)
    assert set(then) == {story.pcba_lot, story.battery_1, story.battery_2}
    old, new = then[story.battery_1], then[story.battery_2]
    assert (old["relation"], old["current"], old["serial"]) == ("associated", False, "BAT-0001")
    assert old["valid_from"] == then[story.pcba_lot]["valid_from"]  # fitted at assembly
    assert old["valid_to"] is not None and old["valid_to"] == new["valid_from"]  # the swap
    assert (new["current"], new["valid_to"]) == (True, None)


def test_forward_trace_after_the_swap(story: Story) -> None:
    from medtrace.trace.selectors import trace_forward

    def reaches(start: str, include_history: bool = False) -> dict[str, bool]:
        """The products ``start`` reaches, each with whether it still does (current)."""
        found = trace_forward(id=start, user=None, include_history=include_history)
        return {u["epc"]: u["current"] for u in found.units if u["kind"] == "product"}

    # The supplier lot went into the pump (a scrapped unit is listed, not hidden).
    assert reaches(story.pcba_lot) == {story.unit: True}
    assert reaches(story.pcba_lot, include_history=True) == {story.unit: True}
    # BAT-0002 is in the pump now.
    assert reaches(story.battery_2) == {story.unit: True}
    (spare,) = [u for u in trace_forward(id=story.battery_2, user=None).units if u["epc"] ==
                story.battery_2]  # fmt: skip
    assert spare["part_of"] == story.unit
    # BAT-0001 left it in the repair: the pump is no current answer, only history.
    assert reaches(story.battery_1) == {}
    assert reaches(story.battery_1, include_history=True) == {story.unit: False}


def test_a_scrapped_unit_refuses_install_service_fitting_and_shipping(story: Story) -> None:
    from medtrace.distribution import services as distribution
    from medtrace.distribution.models import Shipment
    from medtrace.production import services_assembly as assembly
    from medtrace.production.models import UnitComponent
    from medtrace.service import installed_base, maintenance
    from medtrace.service.models_lifecycle import InstalledUnit, MaintenanceVisit

    p = story.people
    # The hospital orders another pump: the scrapped one must not ship on it.
    order = distribution.sales_order_create(
        data={
            "customer_id": story.hospital.pk,
            "ship_to_id": story.icu.pk,
            "lines": [{"product_id": story.pump.pk, "quantity": 1}],
        },
        user=p["sales"],
    )
    order = distribution.sales_order_confirm(order=order, user=p["sales"])
    attempts: dict[str, tuple[type[Any], Callable[[], Any]]] = {
        "install": (
            InstalledUnit,
            lambda: installed_base.installation_create(
                unit=story.udi, department_id=story.icu.pk, user=p["engineer"]
            ),
        ),
        "service": (
            MaintenanceVisit,
            lambda: maintenance.maintenance_visit_record(
                plan=story.maintenance_plan,
                unit=story.udi,
                user=p["engineer"],
                work_done="Preventive maintenance",
                measurements=[{"name": "Flow accuracy", "value": 0.8}],
            ),
        ),
        "fit parts into": (
            UnitComponent,
            lambda: assembly.work_order_assemble(
                work_order=story.work_order,
                unit=story.serial,
                components=[f"(01){story.battery.gtin}(21)BAT-0001"],  # the battery taken out
                user=p["operator"],
            ),
        ),
        "ship": (
            Shipment,
            lambda: distribution.shipment_create(order=order, scans=[story.udi], user=p["clerk"]),
        ),
    }

    for verb, (document, attempt) in attempts.items():
        before = (document.objects.count(), Event.objects.count(), AuditEntry.objects.count())
        with pytest.raises(SequenceViolation) as refused:
            attempt()
        assert refused.value.message.startswith(
            f"Cannot {verb} {story.serial}: it was scrapped (destroyed) on "
        ), refused.value.message
        (detail,) = refused.value.details
        assert (detail["epc"], detail["reasons"][0]["code"]) == (story.unit, "scrapped"), verb
        # A refused step stores nothing: no document, no ledger event, no audit entry.
        after = (document.objects.count(), Event.objects.count(), AuditEntry.objects.count())
        assert after == before, verb


def test_the_traceability_certificate_tells_the_whole_story(story: Story) -> None:
    from medtrace.lifecycle.certificate import certificate_issue, certificate_verify

    cert = certificate_issue(id=story.unit, user=None)
    content = cert.content

    assert (content["unit"]["serial"], content["unit"]["udi"]) == (story.serial, story.udi)
    assert content["current"]["disposition"] == "destroyed"
    assert content["current"]["holder"] == story.hospital.name
    # The lifecycle: every step of the timeline, in order.
    assert [(e["phase"], e["biz_step"]) for e in content["lifecycle"]] == PHASE_STEPS
    # The genealogy, with the battery removed in the repair.
    genealogy = {g["epc"]: g for g in content["genealogy"]}
    assert set(genealogy) == {story.pcba_lot, story.battery_1, story.battery_2}
    assert genealogy[story.pcba_lot]["supplier"] == story.supplier.name
    removed = genealogy[story.battery_1]
    assert (removed["serial"], removed["current"]) == ("BAT-0001", False)
    assert removed["valid_to"] is not None
    assert genealogy[story.battery_2]["current"] is True
    # The final inspection, signed by the inspector who recorded it.
    (inspection,) = content["inspections"]
    assert (inspection["number"], inspection["plan_code"], inspection["kind"]) == (
        story.documents["inspection"],
        "FQ-IP300",
        "final",
    )
    assert inspection["result"] == "pass"
    assert [(s["meaning"], s["username"], s["valid"]) for s in inspection["signatures"]] == [
        ("authored", "e2e_inspector", True)
    ]
    # The QC release, signed by QA.
    (release,) = content["releases"]
    assert (release["number"], release["target"]) == (story.documents["release"], story.unit)
    assert [(s["meaning"], s["username"]) for s in release["signatures"]] == [
        ("released", "e2e_qa")
    ]
    # The verification hash holds, and today's ledger still says the same.
    verdict = certificate_verify(cert, user=None)
    assert (verdict["intact"], verdict["current"]) == (True, True)


def test_the_audit_chain_and_the_ledger_seals_are_intact(story: Story) -> None:
    from medtrace.audit.verify import verify

    report = verify()

    assert report.ok, [str(problem) for problem in report.problems]
    assert report.entries > 0 and report.sealed_events == Event.objects.count()
    assert report.signatures == 3  # the final inspection, the release and the scrap
