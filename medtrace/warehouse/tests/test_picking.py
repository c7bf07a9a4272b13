"""Picking first-expiry-first-out, with the state machine's hard blocks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.quality import services as quality
from medtrace.warehouse import selectors, services
from medtrace.warehouse.models import Pick, PickList

from .factories import Site, in_days, make, release, site, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Site:
    return site()


def serials(rows: list[Any]) -> list[str]:
    return [r.serial for r in rows]


def test_fefo_proposes_the_earliest_expiry_then_the_oldest_commissioned(
    s: Site, qa_manager: Any
) -> None:
    now = timezone.now()
    stock(s, qa_manager, "LATE", expiry=in_days(300), when=now - timedelta(days=9))
    stock(s, qa_manager, "NEVER", when=now - timedelta(days=20))
    stock(s, qa_manager, "MID-NEW", expiry=in_days(200), when=now - timedelta(days=1))
    stock(s, qa_manager, "MID-OLD", expiry=in_days(200), when=now - timedelta(days=5))
    stock(s, qa_manager, "SOON", expiry=in_days(30), when=now - timedelta(days=2), at=s.b02)

    assert serials(selectors.fefo_candidates(s.w.device, 10)) == [
        "SOON", "MID-OLD", "MID-NEW", "LATE", "NEVER",
    ]  # fmt: skip
    assert serials(selectors.fefo_candidates(s.w.device, 2)) == ["SOON", "MID-OLD"]
    assert serials(selectors.fefo_candidates(s.w.device, 9, s.a01)) == [
        "MID-OLD", "MID-NEW", "LATE", "NEVER",
    ]  # fmt: skip
    assert serials(selectors.fefo_candidates(s.w.device, 9, s.store)) == [
        "SOON", "MID-OLD", "MID-NEW", "LATE", "NEVER",
    ]  # fmt: skip


def _world_of_states(s: Site, qa: Any) -> dict[str, str]:
    """One unit per reason the state machine refuses a pick, and one that is fine."""
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    names = ["ok", "held", "quarantined", "recalled", "transit", "theirs", "scrapped"]
    made = stock(s, qa, "OK", "HELD", "QRN", "REC", "TRANSIT", "THEIRS", "SCRAP",
                 expiry=in_days(90))  # fmt: skip
    units = dict(zip(names, made, strict=True))
    units["lot"] = make(s, "LOTHELD2", lot="BADLOT")[0]
    release([units["lot"]], qa)
    (units["expired"],) = stock(s, qa, "EXPIRED", expiry=past)
    (units["unreleased"],) = make(s, "UNREL")
    quality.hold_place(targets=[units["held"]], reason="scratched housing", user=qa)
    quality.hold_place(
        targets=[units["quarantined"]], kind="quarantine", reason="drop test", user=qa
    )
    quality.hold_place(targets=[units["recalled"]], kind="recall", reason="RC-1", user=qa)
    quality.hold_place(
        targets=[ev.lot_class(s.w.device, "BADLOT")], kind="hold", reason="seal", user=qa
    )
    ev.emit(
        [
            ev.object_event(epcs=[units["transit"]], biz_step="shipping", disposition="in_transit"),
            ev.object_event(
                epcs=[units["theirs"]],
                biz_step="receiving",
                destinations=ev.parties(
                    "destination", owner=s.w.distributor, holder=s.w.distributor
                ),
            ),
            ev.object_event(
                epcs=[units["scrapped"]], biz_step="destroying", disposition="destroyed"
            ),
        ],
        user=None,
    )
    return units


def test_the_available_sql_agrees_with_the_state_machine_unit_by_unit(
    s: Site, qa_manager: Any
) -> None:
    units = _world_of_states(s, qa_manager)

    refused = {r.epc: r for r in rules.refusals(rules.Step.PICK, units.values())}
    available = set(selectors.available_units(product=s.w.device).values_list("epc", flat=True))

    assert available == {epc for epc in units.values() if epc not in refused}
    assert available == {units["ok"]}
    codes = {name: {r["code"] for r in refused[epc].reasons} for name, epc in units.items()
             if epc in refused}  # fmt: skip
    assert codes == {
        "held": {"held"},
        "quarantined": {"quarantined"},
        "recalled": {"recalled"},
        "lot": {"held"},
        "transit": {"in_transit"},
        "theirs": {"not_ours"},
        "scrapped": {"scrapped"},
        "expired": {"expired"},
        "unreleased": {"not_released"},
    }
    assert serials(selectors.fefo_candidates(s.w.device, 20)) == ["OK"]


def _refused(call: Any) -> SequenceViolation:
    counts = (Pick.objects.count(), Event.objects.count(), AuditEntry.objects.count())
    with pytest.raises(SequenceViolation) as exc:
        call()
    assert (Pick.objects.count(), Event.objects.count(), AuditEntry.objects.count()) == counts
    return exc.value


@pytest.mark.parametrize(
    ("name", "serial", "words"),
    [
        ("held", "HELD", "on QC hold HOLD-"),
        ("quarantined", "QRN", "in quarantine HOLD-"),
        ("recalled", "REC", "under recall HOLD-"),
        ("lot", "LOTHELD2", "on QC hold HOLD-"),
        ("expired", "EXPIRED", "expired on "),
        ("unreleased", "UNREL", "is not released by QC"),
        ("transit", "TRANSIT", "is already shipped and in transit"),
    ],
)
def test_each_hard_block_names_the_unit_and_why(
    s: Site, qa_manager: Any, warehouse_clerk: Any, name: str, serial: str, words: str
) -> None:
    units = _world_of_states(s, qa_manager)
    plist = services.pick_list_create(product=s.w.device, quantity=1, user=warehouse_clerk)

    exc = _refused(lambda: services.pick(pick_list=plist, scans=[serial], user=warehouse_clerk))

    assert exc.message.startswith(f"Cannot pick {serial}: it ") and words in exc.message
    assert exc.status == 409 and exc.field == "scans"
    assert exc.details[0]["epc"] == units[name]
    # an override reason is for FEFO only: it never lifts a hard block
    _refused(
        lambda: services.pick(
            pick_list=plist, scans=[serial], user=warehouse_clerk, override_reason="urgent"
        )
    )


def test_the_hold_message_carries_the_hold_number_date_and_reason(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    (unit,) = stock(s, qa_manager, "H1", expiry=in_days(90))
    (hold,) = quality.hold_place(targets=[unit], reason="scratched housing", user=qa_manager)
    plist = services.pick_list_create(product=s.w.device, quantity=1, user=warehouse_clerk)

    exc = _refused(lambda: services.pick(pick_list=plist, scans=["H1"], user=warehouse_clerk))

    today = timezone.localdate().isoformat()
    assert exc.message.startswith("Cannot pick H1: it ")
    assert exc.message.endswith(f"on QC hold {hold.number} since {today}: scratched housing")


def test_a_later_expiring_unit_is_refused_naming_the_better_one_and_where_it_is(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    stock(s, qa_manager, "SOON", expiry=in_days(30), at=s.b02)
    stock(s, qa_manager, "LATE", expiry=in_days(300))
    plist = services.pick_list_create(product=s.w.device, quantity=1, user=warehouse_clerk)

    exc = _refused(lambda: services.pick(pick_list=plist, scans=["LATE"], user=warehouse_clerk))

    assert exc.message == (
        f"FEFO: LATE expires {in_days(300)}, but SOON expires earlier ({in_days(30)}) and is "
        f"available at {s.b02.code} {s.b02.name}; pick SOON first, or give a reason to override"
    )
    assert exc.details[0]["reasons"][0]["code"] == "not_fefo"
    assert exc.details[0]["better"]["serial"] == "SOON"


def test_a_fefo_override_with_a_reason_is_picked_and_audited(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    (soon,) = stock(s, qa_manager, "SOON", expiry=in_days(30))
    stock(s, qa_manager, "LATE", expiry=in_days(300))
    plist = services.pick_list_create(product=s.w.device, quantity=1, user=warehouse_clerk)

    (picked,) = services.pick(
        pick_list=plist,
        scans=["LATE"],
        user=warehouse_clerk,
        override_reason="customer asked for the long-dated lot",
    )

    assert picked.serial == "LATE" and picked.fefo_better == soon
    assert picked.override_reason == "customer asked for the long-dated lot"
    entry = AuditEntry.objects.filter(object_type="warehouse.picklist").order_by("seq").last()
    assert entry is not None and entry.reason == "customer asked for the long-dated lot"
    assert entry.changes["fefo_overridden"][1] == {picked.epc: soon}


def test_picking_is_an_observe_event_and_completes_the_list(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    stock(s, qa_manager, "P1", "P2", expiry=in_days(30))
    plist = services.pick_list_create(
        product=s.w.device, quantity=2, user=warehouse_clerk, sales_order_ref="SO-2026-000009"
    )

    services.pick(pick_list=plist, scans=["P1"], user=warehouse_clerk)
    plist.refresh_from_db()
    assert plist.status == "open"
    services.pick(pick_list=plist, scans=["P2"], user=warehouse_clerk)

    plist.refresh_from_db()
    assert plist.status == "picked" and plist.completed_at is not None
    event = Event.objects.filter(biz_step="picking").order_by("pk").last()
    assert event is not None and event.event_type == "ObjectEvent" and event.action == "OBSERVE"
    refs = [t["bizTransaction"] for t in event.document["bizTransactionList"]]
    assert refs[0].endswith(plist.number) and refs[1].endswith("SO-2026-000009")
    with pytest.raises(Conflict, match="is Picked; nothing more can be picked"):
        services.pick(pick_list=plist, scans=["P1"], user=warehouse_clerk)


def test_a_whole_case_is_picked_and_a_unit_inside_a_case_must_come_with_it(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    units = stock(s, qa_manager, "C1", "C2", expiry=in_days(30))
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=units, user=warehouse_clerk, close=True)
    plist = services.pick_list_create(product=s.w.device, quantity=2, user=warehouse_clerk)

    alone = _refused(lambda: services.pick(pick_list=plist, scans=["C1"], user=warehouse_clerk))
    assert alone.message == (
        f"C1 is packed in SSCC {case.sscc}: scan the case to pick it whole, or unpack it first"
    )
    picks = services.pick(pick_list=plist, scans=[f"(00){case.sscc}"], user=warehouse_clerk)
    assert sorted(p.serial for p in picks) == ["C1", "C2"]
    assert {p.container for p in picks} == {case.epc}
    event = Event.objects.filter(biz_step="picking").get()
    assert event.document["epcList"] == [case.epc]


def test_a_held_case_blocks_its_units(s: Site, qa_manager: Any, warehouse_clerk: Any) -> None:
    units = stock(s, qa_manager, "C1", "C2", expiry=in_days(30))
    stock(s, qa_manager, "LOOSE", expiry=in_days(60))
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=units, user=warehouse_clerk, close=True)
    (hold,) = quality.hold_place(targets=[case.epc], reason="wet carton", user=qa_manager)
    plist = services.pick_list_create(product=s.w.device, quantity=2, user=warehouse_clerk)

    assert serials(selectors.fefo_candidates(s.w.device, 5)) == ["LOOSE"]
    exc = _refused(lambda: services.pick(pick_list=plist, scans=[case.sscc], user=warehouse_clerk))
    assert exc.message.startswith(f"Cannot pick SSCC {case.sscc}: it ")
    assert f"on QC hold {hold.number}" in exc.message and "wet carton" in exc.message


def test_wrong_product_too_many_or_picked_elsewhere_are_refused(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    stock(s, qa_manager, "P1", "P2", expiry=in_days(30))
    stock(s, qa_manager, "B1", product=s.w.board)
    one = services.pick_list_create(product=s.w.device, quantity=1, user=warehouse_clerk)
    two = services.pick_list_create(product=s.w.device, quantity=1, user=warehouse_clerk)

    wrong = _refused(lambda: services.pick(pick_list=one, scans=["B1"], user=warehouse_clerk))
    assert wrong.message == f"B1 is not {s.w.device}, the product of pick list {one.number}"
    with pytest.raises(ValidationFailed, match=f"pick list {one.number} needs 1 more; the scan"):
        services.pick(pick_list=one, scans=["P1", "P2"], user=warehouse_clerk)
    services.pick(pick_list=one, scans=["P1"], user=warehouse_clerk)
    taken = _refused(lambda: services.pick(pick_list=two, scans=["P1"], user=warehouse_clerk))
    assert taken.message == f"P1 is already picked for pick list {one.number}"
    # a picked unit is no longer proposed
    assert serials(selectors.fefo_candidates(s.w.device, 5)) == ["P2"]


def test_a_pick_list_for_one_location_refuses_units_elsewhere(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    stock(s, qa_manager, "A", expiry=in_days(30))
    stock(s, qa_manager, "B", expiry=in_days(30), at=s.b02)
    plist = services.pick_list_create(
        product=s.w.device, quantity=1, user=warehouse_clerk, location=s.b02
    )

    exc = _refused(lambda: services.pick(pick_list=plist, scans=["A"], user=warehouse_clerk))

    assert exc.message == (
        f"A is at {s.a01.code} {s.a01.name}; pick list {plist.number} picks from {s.b02}"
    )
    assert serials(selectors.pick_list_view(plist).proposal) == ["B"]


def test_cancelling_frees_the_picked_units(s: Site, qa_manager: Any, warehouse_clerk: Any) -> None:
    stock(s, qa_manager, "P1", expiry=in_days(30))
    plist = services.pick_list_create(product=s.w.device, quantity=1, user=warehouse_clerk)
    services.pick(pick_list=plist, scans=["P1"], user=warehouse_clerk)
    assert selectors.fefo_candidates(s.w.device, 1) == []
    with pytest.raises(ValidationFailed, match="say why"):
        services.pick_list_cancel(pick_list=plist, user=warehouse_clerk, reason=" ")

    services.pick_list_cancel(pick_list=plist, user=warehouse_clerk, reason="order withdrawn")

    plist.refresh_from_db()
    assert plist.status == "cancelled" and plist.end_reason == "order withdrawn"
    assert serials(selectors.fefo_candidates(s.w.device, 1)) == ["P1"]
    with pytest.raises(Conflict):
        services.pick_list_close(pick_list=plist, user=warehouse_clerk, reference="SHP-1")


def test_a_pick_list_needs_a_serialized_product_and_a_sensible_quantity(
    s: Site, warehouse_clerk: Any
) -> None:
    from medtrace.masterdata.tests import factories as md

    lot_product = md.product(manufacturer=s.w.maker, tracking="lot")
    with pytest.raises(ValidationFailed, match="tracked by lot"):
        services.pick_list_create(product=lot_product, quantity=1, user=warehouse_clerk)
    for bad in (0, -3, 100_001):
        with pytest.raises(ValidationFailed) as exc:
            services.pick_list_create(product=s.w.device, quantity=bad, user=warehouse_clerk)
        assert exc.value.field == "quantity"
    assert not PickList.objects.exists()
