"""Issue 6, "done means": from one hospital complaint to a signed, closed recall.

The story, told through the real public services and API endpoints (no event written by hand):

1. Our company makes the IP-500 infusion pump with one serialized battery pack (BOM). The battery
   supplier delivers packs of two supplier lots: BL-2609-A (the bad lot, eight packs) and
   BL-2609-B (a good lot, three packs); incoming inspection accepts them all.
2. Seven pumps are built, each with one battery of the bad lot except P5 (good battery), and
   released by QA. P1 and P2 go to hospital A, P4 and P5 to hospital B, P3 to the distributor; P7
   and P8 stay in our finished-goods warehouse. P6 (bad battery A06) goes to hospital A too.
3. Service: P5 (hospital B) gets a battery from the bad lot (A05) during a repair - it is now
   affected; P6's bad battery A06 is swapped out for a good one (B02) - it is no longer affected.
4. Hospital A reports a complaint on P1 through the partner API; hospital B reports one on P4.
   The second complaint against units containing battery lot BL-2609-A reaches the signal rule
   (2 within 30 days): QA gets an alert with the evidence (the lot, its supplier, the units).
5. QA opens a recall scoped by that supplier lot. The forward trace finds P1-P5, P7 and P8, not
   P6; P7 and P8 (ours, in the warehouse) are held at once: picking and shipping them is
   refused. QA classifies (一级 / FDA class I / EU FSCA) and approves with an e-signature.
6. Notices go to the two hospitals and the distributor, each listing only its own units (and
   the PDF shows only those). Each acknowledges through the API with a partner token and reports
   per-unit dispositions; returned units get an RMA and go into quarantine on arrival.
7. An effectiveness check at level A contacts every consignee; QA concludes it effective and
   closes the recall with an e-signature, after the close gate refused an early attempt.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import transaction
from django.test import Client, TestCase
from django.utils import translation

from medtrace.accounts.models import User
from medtrace.masterdata.models import Location, Material, Party, Product

pytestmark = pytest.mark.django_db

BAD_LOT = "BL-2609-A"
GOOD_LOT = "BL-2609-B"
BAD = [f"BAT-A0{i}" for i in range(1, 9)]  # BAT-A01 .. BAT-A08
GOOD = ["BAT-B01", "BAT-B02", "BAT-B03"]


def _person(username: str, *, role: str | None = None, party: Party | None = None) -> User:
    user = User.objects.create_user(
        username=username,
        password="pw-" + username,
        printed_name=username.replace("_", " ").title(),
        party=party,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def _pw(user: User) -> str:
    return "pw-" + user.username


def _api(user: User, scopes: list[str]) -> Client:
    from medtrace.accounts.services import token_create

    _token, secret = token_create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@dataclass
class World:
    maker: Party
    supplier: Party
    distributor: Party
    hospital_a: Party
    hospital_b: Party
    pump: Product
    battery: Material
    store: Location
    wards: dict[str, Location]
    people: dict[str, User]
    pumps: dict[str, str]  # P1..P8 -> EPC
    udis: dict[str, str]  # P1..P8 -> UDI element string
    batteries: dict[str, str]  # BAT-... -> EPC


def _battery_udi(w: World, serial: str) -> str:
    return f"(01){w.battery.gtin}(21){serial}"


def _build() -> World:
    from medtrace.distribution import services as distribution
    from medtrace.distribution.tests.factories import licence
    from medtrace.lifecycle import events as ev
    from medtrace.masterdata import services as masterdata
    from medtrace.masterdata.tests import factories as md
    from medtrace.procurement import services as procurement
    from medtrace.procurement.models import MaterialLot
    from medtrace.procurement.tests.factories import qualify
    from medtrace.production import services as production
    from medtrace.production import services_assembly as assembly
    from medtrace.production import services_orders as orders
    from medtrace.production.tests.factories import released_bom
    from medtrace.quality import services as quality
    from medtrace.service import installed_base, tickets
    from medtrace.warehouse import services as warehouse

    maker = md.party(role="manufacturer", prefix="6901234", name="苏州康迈医疗器械有限公司")
    plant = md.location(owner=maker, kind="site", ref=1, name="苏州工厂")
    line = md.location(
        owner=maker, kind="production_line", ref=2, name="装配线", parent_id=plant.pk
    )
    incoming = md.location(owner=maker, kind="warehouse", ref=3, name="待检区", parent_id=plant.pk)
    store = md.location(owner=maker, kind="warehouse", ref=4, name="成品仓库", parent_id=plant.pk)
    md.location(owner=maker, kind="warehouse", ref=5, name="隔离区", parent_id=plant.pk)

    supplier = md.party(role="supplier", prefix="6920001", name="深圳安电科技有限公司")
    qualify(supplier)

    def customer(role: str, prefix: str, name: str, email: str) -> tuple[Party, Location]:
        party = md.party(role=role, prefix=prefix, name=name, province="江苏省", city="苏州市")
        party.contact_email = email
        party.save(update_fields=["contact_email"])
        licence(party)  # the licence a consignee must hold to receive devices
        dock = md.location(owner=party, kind="site", ref=1, name=f"{name} 收货处")
        return party, dock

    distributor, dist_dock = customer("distributor", "6920002", "江苏医药经销", "qa@dist.example")
    hospital_a, dock_a = customer("hospital", "6920003", "第一人民医院", "equip@hosp-a.example")
    hospital_b, dock_b = customer("hospital", "6920004", "第二人民医院", "equip@hosp-b.example")
    ward_a = md.location(
        owner=hospital_a, kind="hospital_department", ref=11, name="ICU A", parent_id=dock_a.pk
    )
    ward_b = md.location(
        owner=hospital_b, kind="hospital_department", ref=11, name="ICU B", parent_id=dock_b.pk
    )

    pump = md.product(
        manufacturer=maker,
        name="输液泵",
        model="IP-500",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 500)}],
    )
    battery = md.material(
        tracking="serial",
        name="锂电池组 7.4 V",
        gtin=md.gtin("6920001", 32),
        gcp_length=7,
        critical=True,
    )
    masterdata.material_supplier_add(material=battery, data={"supplier_id": supplier.pk}, user=None)
    released_bom(pump, [(battery, "1")])
    production.serial_rule_set(
        product=pump,
        data={"prefix": "IP5", "date_part": "YYMM", "sequence_width": 5},
        user=None,
        reason="serial rule of the IP-500 line",
    )

    p = people = {
        "buyer": _person("rs_buyer", role="procurement"),
        "inspector": _person("rs_inspector", role="qc"),
        "operator": _person("rs_operator", role="production"),
        "clerk": _person("rs_clerk", role="warehouse"),
        "sales": _person("rs_sales", role="sales"),
        "engineer": _person("rs_engineer", role="service"),
        "qa": _person("rs_qa", role="qa_ra"),
        "hospital_a": _person("rs_hospital_a", party=hospital_a),
        "hospital_b": _person("rs_hospital_b", party=hospital_b),
        "distributor": _person("rs_distributor", party=distributor),
    }

    # 1. Procurement: both battery lots received with their serials, and accepted.
    po = procurement.purchase_order_create(
        supplier=supplier,
        lines=[{"material_id": battery.pk, "quantity": len(BAD) + len(GOOD)}],
        user=p["buyer"],
        release=True,
    )
    receipt = procurement.goods_receipt_create(
        order=po,
        location=incoming,
        lines=[
            {"line": 1, "lot": BAD_LOT, "serials": BAD},
            {"line": 1, "lot": GOOD_LOT, "serials": GOOD},
        ],
        coc_name="CoC-DN-2609.pdf",
        coc_content=b"%PDF-1.4\n% Certificate of conformity: BL-2609-A, BL-2609-B\n",
        coc_content_type="application/pdf",
        delivery_note="DN-2609",
        user=p["buyer"],
    )
    for received in receipt.lines.all():
        procurement.inspection_record_serials(receipt_line=received, user=p["inspector"])
    assert set(MaterialLot.objects.values_list("status", flat=True)) == {"accepted"}

    # 2. Production: seven pumps (P1..P8 without P5's bad battery) with one battery each.
    names = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"]
    fitted = {"P5": "BAT-B01", "P6": "BAT-A06", "P7": "BAT-A07", "P8": "BAT-A08"}
    fitted.update({n: f"BAT-A0{i}" for i, n in enumerate(["P1", "P2", "P3", "P4"], start=1)})
    work_order = orders.work_order_create(
        data={"product_id": pump.pk, "quantity": len(names), "line_id": line.pk},
        user=p["operator"],
    )
    work_order = orders.work_order_release(work_order=work_order, user=p["operator"])
    made = orders.work_order_commission(work_order=work_order, count=len(names), user=p["operator"])
    pumps = dict(zip(names, made.epcs, strict=True))
    serials = dict(zip(names, made.serials, strict=True))
    di = pump.identifiers.get(packaging_level="unit").di
    udis = {n: f"(01){di}(21){serials[n]}" for n in names}
    for name in names:
        assembly.work_order_assemble(
            work_order=work_order,
            unit=serials[name],
            components=[f"(01){battery.gtin}(21){fitted[name]}"],
            station="ST-01",
            user=p["operator"],
        )
    quality.release_create(
        targets=list(pumps.values()), user=p["qa"], password=_pw(p["qa"]), note="DHR reviewed"
    )
    warehouse.stock_move(scans=list(pumps.values()), to_location=store, user=p["clerk"])

    # Shipping: P1, P2, P6 to hospital A; P4, P5 to hospital B; P3 to the distributor. Each
    # consignee confirms its receipt itself.
    def ship(to: Party, dock: Location, receiver: User, units: list[str]) -> None:
        order = distribution.sales_order_create(
            data={
                "customer_id": to.pk,
                "ship_to_id": dock.pk,
                "customer_po": f"PO-{to.pk}",
                "lines": [{"product_id": pump.pk, "quantity": len(units)}],
            },
            user=p["sales"],
        )
        order = distribution.sales_order_confirm(order=order, user=p["sales"])
        shipment = distribution.shipment_create(
            order=order, scans=[udis[u] for u in units], user=p["clerk"]
        )
        distribution.shipment_receive(
            shipment=shipment, scans=[udis[u] for u in units], user=receiver
        )

    ship(hospital_a, dock_a, p["hospital_a"], ["P1", "P2", "P6"])
    ship(hospital_b, dock_b, p["hospital_b"], ["P4", "P5"])
    ship(distributor, dist_dock, p["distributor"], ["P3"])
    for name, ward in (("P1", ward_a), ("P2", ward_a), ("P6", ward_a), ("P5", ward_b)):
        installed_base.installation_create(
            unit=udis[name], department_id=ward.pk, user=p["engineer"]
        )

    # 3. Service: P5 gets bad battery A05 in a repair; P6's bad A06 is swapped for good B02.
    for name, old, new in (("P5", "BAT-B01", "BAT-A05"), ("P6", "BAT-A06", "BAT-B02")):
        ticket = tickets.ticket_open(unit=udis[name], symptom="Battery alarm", user=p["engineer"])
        ticket = tickets.ticket_diagnose(ticket=ticket, diagnosis="Pack worn", user=p["engineer"])
        tickets.ticket_swap_part(
            ticket=ticket,
            removed=f"(01){battery.gtin}(21){old}",
            installed=f"(01){battery.gtin}(21){new}",
            user=p["engineer"],
        )
        ticket = tickets.ticket_test(
            ticket=ticket,
            user=p["engineer"],
            measurements=[{"name": "Runtime", "value": 5, "unit": "h", "min": 4}],
        )
        tickets.ticket_resolve(ticket=ticket, resolution="Pack replaced", user=p["engineer"])

    return World(
        maker=maker,
        supplier=supplier,
        distributor=distributor,
        hospital_a=hospital_a,
        hospital_b=hospital_b,
        pump=pump,
        battery=battery,
        store=store,
        wards={"A": ward_a, "B": ward_b},
        people=people,
        pumps=pumps,
        udis=udis,
        batteries={s: ev.material_serial_epc(battery, s) for s in BAD + GOOD},
    )


@dataclass
class Story:
    w: World
    complaints: list[str]
    signal_alert: Any
    campaign: str
    opened: dict[str, Any]
    refusals: dict[str, Any]
    notices: dict[str, Any]
    pdf_text: dict[str, str]
    emails: list[Any]
    acks: dict[str, Any]
    close_refused: Any
    closed: dict[str, Any]


def _tell() -> Story:
    from medtrace.alerts.models import Alert
    from medtrace.distribution import returns
    from medtrace.recalls import services as recalls
    from medtrace.recalls.documents import notice_pdf
    from medtrace.recalls.models import RecallCampaign, RecallNotice

    w = _build()
    p = w.people

    # 4. Complaints from the hospitals' own users, through the API; the second one tips the
    # signal rule on the battery lot.
    complaints = []
    for who, unit in (("hospital_a", "P1"), ("hospital_b", "P4")):
        client = _api(p[who], ["complaints:submit", "complaints:read"])
        answer = _post(
            client,
            "/api/v1/complaints",
            {
                "udi": w.udis[unit],
                "description": "Battery drains within minutes; pump stopped during infusion",
                "injury": False,
            },
        )
        assert answer.status_code == 201, answer.content
        complaints.append(answer.json()["number"])
    signal_alert = Alert.objects.filter(kind="complaint_cluster").order_by("id").last()

    # 5. The recall, scoped by the supplier lot, through the API (QA's session).
    qa = Client()
    qa.force_login(p["qa"])
    response = _post(
        qa,
        "/api/v1/recalls",
        {
            "title": "IP-500 battery lot BL-2609-A",
            "reason": "Battery packs of supplier lot BL-2609-A lose capacity; pumps may stop",
            "kind": "supplier_lot",
            "params": {"material_id": w.battery.pk, "lot": BAD_LOT},
            "complaint": complaints[0],
        },
    )
    assert response.status_code == 201, response.content
    opened = response.json()
    number = opened["number"]
    campaign = RecallCampaign.objects.get(number=number)

    # Held stock: picking or shipping P7 is refused.
    refusals: dict[str, Any] = {}
    refusals["ship"] = _ship_attempt(w, "P7")

    recalls.recall_classify(
        campaign=campaign,
        cn_level=1,
        fda_class="I",
        eu_fsca=True,
        depth="user",
        hhe={
            "hazard": "Pump stops during infusion without warning",
            "severity": "serious injury",
            "probability": "occasional",
            "population": "ICU patients on continuous infusion",
        },
        strategy="Notify every consignee; replace battery packs on site or return pumps",
        user=p["qa"],
    )
    answer = _post(qa, f"/api/v1/recalls/{number}/approve", {"password": _pw(p["qa"])})
    assert answer.status_code == 200, answer.content

    # 6. Notices, one per consignee, sent (e-mail through Django's mail API).
    assert _post(qa, f"/api/v1/recalls/{number}/notices", {}).status_code in (200, 201)
    # Delivery (e-mail, webhooks) runs after the sending transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        sent = _post(qa, f"/api/v1/recalls/{number}/notices/send", {})
    assert sent.status_code == 200, sent.content
    notices = {
        n.consignee.name: n
        for n in RecallNotice.objects.filter(campaign=campaign).select_related("consignee")
    }
    pdf_text = {}
    from pypdf import PdfReader

    for name, notice in notices.items():
        with translation.override("en"):
            raw = notice_pdf(notice)
        pdf_text[name] = "".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)
    emails = list(mail.outbox)

    # Acknowledgement and per-unit disposition by each consignee's own user, with a partner
    # token (scope recall:ack).
    plan = {
        # The bad battery swapped out of P6 stayed at hospital A: it is on A's notice too.
        "hospital_a": [("P1", "returned"), ("P2", "corrected"), ("A06", "returned")],
        "hospital_b": [("P4", "used"), ("P5", "destroyed")],
        "distributor": [("P3", "returned")],
    }
    party_of = {
        "hospital_a": w.hospital_a,
        "hospital_b": w.hospital_b,
        "distributor": w.distributor,
    }
    acks: dict[str, Any] = {}

    def udi_of(name: str) -> str:
        return w.udis[name] if name in w.udis else _battery_udi(w, f"BAT-{name}")

    for who, items in plan.items():
        client = _api(p[who], ["recall:ack"])
        notice = notices[party_of[who].name]
        mine = client.get("/api/v1/recall-notices")
        ack = _post(
            client,
            f"/api/v1/recall-notices/{notice.number}/acknowledge",
            {"note": "Received; units located"},
        )
        report = _post(
            client,
            f"/api/v1/recall-notices/{notice.number}/dispositions",
            {
                "items": [
                    {"unit": udi_of(u), "status": status, "note": "done"} for u, status in items
                ]
            },
        )
        acks[who] = {"list": mine, "ack": ack, "report": report}
    # Another party's notice is not found for a partner.
    acks["cross"] = _api(p["hospital_b"], ["recall:ack"]).get(
        f"/api/v1/recall-notices/{notices[w.hospital_a.name].number}"
    )

    # The returned pumps arrive: into quarantine through the RMA the dispositions opened.
    from medtrace.recalls.models import AffectedUnit

    for rma_id in set(
        AffectedUnit.objects.filter(campaign=campaign, status="returned").values_list(
            "rma", flat=True
        )
    ):
        rma = returns.ReturnAuthorization.objects.get(pk=rma_id)
        returns.rma_receive(rma=rma, user=p["clerk"])

    # 7. Closing before the effectiveness check is refused by the close gate.
    close_refused = _post(
        qa,
        f"/api/v1/recalls/{number}/close",
        {"password": _pw(p["qa"]), "summary": "early"},
    )
    check = recalls.effectiveness_check_start(campaign=campaign, level="A", user=p["qa"])
    for contact in check.contacts.all():
        recalls.effectiveness_contact_record(
            check=check, notice=contact.notice, result="confirmed", user=p["qa"]
        )
    recalls.effectiveness_conclude(
        campaign=campaign,
        effective=True,
        conclusion="Every consignee confirmed; all units returned, corrected, destroyed or used",
        user=p["qa"],
    )
    closed = _post(
        qa,
        f"/api/v1/recalls/{number}/close",
        {"password": _pw(p["qa"]), "summary": "All affected pumps dealt with"},
    )
    assert closed.status_code == 200, closed.content
    progress = qa.get(f"/api/v1/recalls/{number}/progress").json()
    return Story(
        w=w,
        complaints=complaints,
        signal_alert=signal_alert,
        campaign=number,
        opened=opened,
        refusals=refusals,
        notices=notices,
        pdf_text=pdf_text,
        emails=emails,
        acks=acks,
        close_refused=close_refused,
        closed={"response": closed.json(), "progress": progress},
    )


def _ship_attempt(w: World, name: str) -> Any:
    from medtrace.distribution import services as distribution

    p = w.people
    order = distribution.sales_order_create(
        data={
            "customer_id": w.hospital_b.pk,
            "ship_to_id": w.hospital_b.locations.order_by("pk").first().pk,  # type: ignore[union-attr]
            "customer_po": "PO-held",
            "lines": [{"product_id": w.pump.pk, "quantity": 1}],
        },
        user=p["sales"],
    )
    order = distribution.sales_order_confirm(order=order, user=p["sales"])
    try:
        with transaction.atomic():
            distribution.shipment_create(order=order, scans=[w.udis[name]], user=p["clerk"])
    except Exception as exc:  # the refusal is what is asserted
        return exc
    return None


@pytest.fixture(scope="module")
def story(django_db_setup: None, django_db_blocker: Any) -> Iterator[Story]:
    """The story, told once in a transaction rolled back at the module's end."""
    from django.conf import settings
    from django.test.utils import override_settings

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            from django.core.cache import cache

            cache.clear()
            mail.outbox = []
            with (
                translation.override("en"),
                override_settings(
                    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                    LANGUAGE_CODE=settings.LANGUAGE_CODE,
                ),
            ):
                yield _tell()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# The promises ---------------------------------------------------------------------------------


def test_two_hospital_complaints_raise_a_signal_on_the_battery_supplier_lot(story: Story) -> None:
    alert = story.signal_alert
    assert alert is not None, "no complaint_cluster alert was raised"
    assert alert.recipient_role == "qa_ra"
    evidence = json.dumps(alert.evidence, ensure_ascii=False)
    assert BAD_LOT in evidence
    assert story.w.supplier.name in evidence
    assert set(story.complaints) <= set(_strings(alert.evidence))


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def test_the_forward_trace_scope_includes_the_repaired_pump_and_excludes_the_swapped_one(
    story: Story,
) -> None:
    from medtrace.recalls.models import AffectedUnit

    w = story.w
    devices = set(
        AffectedUnit.objects.filter(campaign__number=story.campaign, kind="product").values_list(
            "epc", flat=True
        )
    )
    expected = {w.pumps[n] for n in ("P1", "P2", "P3", "P4", "P5", "P7", "P8")}
    assert devices == expected
    assert w.pumps["P6"] not in devices  # its bad battery A06 was swapped out
    assert w.pumps["P5"] in devices  # it received bad battery A05 in a repair


def test_stock_in_our_warehouse_is_held_and_cannot_ship(story: Story) -> None:
    from medtrace.errors import SequenceViolation
    from medtrace.quality.models import Hold
    from medtrace.recalls.models import AffectedUnit

    w = story.w
    held = set(
        Hold.objects.filter(kind="recall", lifted_at__isnull=True).values_list("target", flat=True)
    )
    assert {w.pumps["P7"], w.pumps["P8"]} <= held
    assert not {w.pumps[n] for n in ("P1", "P2", "P3", "P4", "P5")} & held  # not ours to hold
    under_control = set(
        AffectedUnit.objects.filter(
            campaign__number=story.campaign, under_control=True
        ).values_list("epc", flat=True)
    )
    assert {w.pumps["P7"], w.pumps["P8"]} <= under_control
    assert isinstance(story.refusals["ship"], SequenceViolation), story.refusals["ship"]


def test_each_consignee_gets_one_notice_listing_only_its_own_units(story: Story) -> None:
    from medtrace.recalls.models import AffectedUnit

    w = story.w
    expected = {
        w.hospital_a.name: {"P1", "P2"},
        w.hospital_b.name: {"P4", "P5"},
        w.distributor.name: {"P3"},
    }
    assert set(story.notices) == set(expected)
    serial_of = {n: w.udis[n].rsplit("(21)", 1)[1] for n in w.udis}
    for name, notice in story.notices.items():
        units = set(
            AffectedUnit.objects.filter(notice=notice, kind="product").values_list("epc", flat=True)
        )
        assert units == {w.pumps[n] for n in expected[name]}, name
        text = story.pdf_text[name]
        for n in w.udis:
            assert (serial_of[n] in text) == (n in expected[name]), (name, n)


def test_notices_are_sent_by_email_with_the_pdf_to_each_consignee(story: Story) -> None:
    w = story.w
    recipients = {tuple(m.to) for m in story.emails}
    assert recipients >= {
        ("equip@hosp-a.example",),
        ("equip@hosp-b.example",),
        ("qa@dist.example",),
    }
    for message in story.emails:
        assert any(a[2] == "application/pdf" for a in message.attachments)
    assert all(n.sent_at is not None for n in story.notices.values())
    assert w.hospital_a.name in story.notices


def test_consignees_acknowledge_and_report_dispositions_through_the_api(story: Story) -> None:
    from medtrace.recalls.models import AffectedUnit

    for who in ("hospital_a", "hospital_b", "distributor"):
        calls = story.acks[who]
        assert calls["list"].status_code == 200
        assert len(calls["list"].json()["items"]) == 1, calls["list"].json()
        assert calls["ack"].status_code == 200, calls["ack"].content
        assert calls["report"].status_code == 200, calls["report"].content
    assert story.acks["cross"].status_code == 404
    w = story.w
    status = dict(
        AffectedUnit.objects.filter(campaign__number=story.campaign, kind="product").values_list(
            "epc", "status"
        )
    )
    assert status[w.pumps["P1"]] == "returned"
    assert status[w.pumps["P2"]] == "corrected"
    assert status[w.pumps["P4"]] == "used"
    assert status[w.pumps["P5"]] == "destroyed"
    assert status[w.pumps["P3"]] == "returned"


def test_returned_units_go_through_an_rma_into_quarantine(story: Story) -> None:
    from medtrace.quality.models import Hold
    from medtrace.recalls.models import AffectedUnit

    w = story.w
    returned = AffectedUnit.objects.filter(campaign__number=story.campaign, status="returned")
    # P1 and P3, and the bad battery that came out of P6 at hospital A
    assert {u.epc for u in returned} == {w.pumps["P1"], w.pumps["P3"], w.batteries["BAT-A06"]}
    assert all(u.rma_id is not None for u in returned)
    quarantined = set(
        Hold.objects.filter(kind="quarantine", lifted_at__isnull=True).values_list(
            "target", flat=True
        )
    )
    assert {w.pumps["P1"], w.pumps["P3"]} <= quarantined


def test_the_close_gate_refuses_before_the_effectiveness_check(story: Story) -> None:
    refused = story.close_refused
    assert refused.status_code == 409, refused.content
    assert "effective" in refused.json()["message"].lower()


def test_the_effectiveness_check_and_signed_closure_complete_the_recall(story: Story) -> None:
    from medtrace.audit.models import Signature
    from medtrace.recalls.models import RecallCampaign

    campaign = RecallCampaign.objects.get(number=story.campaign)
    assert campaign.status == "closed"
    assert campaign.effective is True
    checks = list(campaign.effectiveness_checks.all())
    assert [c.level for c in checks] == ["A"]
    assert checks[0].planned_count == 3  # level A: every consignee
    meanings = set(
        Signature.objects.filter(object_id=str(campaign.pk)).values_list("meaning", flat=True)
    )
    assert {"approved", "closed"} <= meanings
    progress = story.closed["progress"]
    assert progress["notified"] == 3
    assert progress["acknowledged"] == 3
    assert progress["non_responders"] in (0, [])
