"""The unit state machine (issue 5 item 8, DESIGN §8): each impossible step refused one by one,
with the unit and the reason in the error; the possible steps go through."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from medtrace.accounts.scoping import party_identifiers
from medtrace.errors import SequenceViolation
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.rules import Step
from medtrace.quality import services as quality
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> f.World:
    return f.world()


def commission(w: f.World, *serials: str, expiry: str | None = None) -> list[str]:
    epcs = [w.device_sn(s) for s in serials]
    ilmd = {"cbvmda:itemExpirationDate": expiry} if expiry else None
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=epcs,
                biz_step="commissioning",
                disposition="active",
                read_point=w.plant.sgln,
                biz_location=w.warehouse.sgln,
                ilmd=ilmd,
            )
        ],
        user=None,
    )
    return epcs


def ship(w: f.World, epcs: list[str], to: Any) -> None:
    ev.emit(
        [
            ev.object_event(
                epcs=epcs,
                biz_step="shipping",
                disposition="in_transit",
                read_point=w.warehouse.sgln,
                sources=ev.parties("source", owner=w.maker, holder=w.maker),
                destinations=ev.parties("destination", owner=to, holder=to),
            )
        ],
        user=None,
    )


def refused(step: Step, epcs: list[str], **kw: Any) -> SequenceViolation:
    with pytest.raises(SequenceViolation) as exc:
        rules.check(step, epcs, **kw)
    return exc.value


def codes(exc: SequenceViolation) -> set[str]:
    return {r["code"] for unit in exc.details for r in unit["reasons"]}


def test_commissioning_twice_is_refused(w: f.World) -> None:
    epcs = commission(w, "R1")
    rules.check(Step.COMMISSION, [w.device_sn("R2")])
    exc = refused(Step.COMMISSION, epcs)
    assert "Cannot commission R1: it already commissioned" in exc.message
    assert codes(exc) == {"already_commissioned"}
    assert exc.status == 409


def test_shipping_before_release_is_refused(w: f.World, qa_manager: Any) -> None:
    epcs = commission(w, "R1")
    exc = refused(Step.SHIP, epcs)
    assert codes(exc) == {"not_released"}
    assert "not released by QC" in exc.message
    quality.release_create(targets=epcs, user=qa_manager, password="pw-qa_manager")
    rules.check(Step.SHIP, epcs)


def test_shipping_a_held_unit_names_the_hold(w: f.World, qa_manager: Any) -> None:
    epcs = commission(w, "R1", "R2")
    quality.release_create(targets=epcs, user=qa_manager, password="pw-qa_manager")
    (hold,) = quality.hold_place(targets=[epcs[0]], reason="scratched housing", user=qa_manager)
    exc = refused(Step.SHIP, epcs)
    assert [d["epc"] for d in exc.details] == [epcs[0]]
    assert hold.number in exc.message and "scratched housing" in exc.message
    quality.hold_lift(hold=hold, user=qa_manager, reason="reworked and re-inspected")
    rules.check(Step.SHIP, epcs)


def test_a_lot_hold_blocks_every_unit_of_the_lot(w: f.World, qa_manager: Any) -> None:
    epcs = [w.device_sn("L1"), w.device_sn("L2")]
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=epcs,
                biz_step="commissioning",
                disposition="active",
                ilmd={"cbvmda:lotNumber": "LOT7"},
            )
        ],
        user=None,
    )
    quality.release_create(targets=epcs, user=qa_manager, password="pw-qa_manager")
    quality.hold_place(
        targets=[ev.lot_class(w.device, "LOT7")], kind="quarantine", reason="bad seal", user=None
    )
    assert codes(refused(Step.PICK, epcs)) == {"quarantined"}


def test_shipping_a_recalled_or_expired_unit_is_refused(w: f.World, qa_manager: Any) -> None:
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    (old,) = commission(w, "E1", expiry=past)
    (rec,) = commission(w, "C1")
    quality.release_create(targets=[old, rec], user=qa_manager, password="pw-qa_manager")
    quality.hold_place(targets=[rec], kind="recall", reason="RC-1", user=None)
    exc = refused(Step.SHIP, [old, rec])
    by_epc = {d["epc"]: {r["code"] for r in d["reasons"]} for d in exc.details}
    assert by_epc == {old: {"expired"}, rec: {"recalled"}}
    assert f"expired on {past}" in exc.message


def test_receiving_what_was_never_shipped_to_you(w: f.World, qa_manager: Any) -> None:
    epcs = commission(w, "S1", "S2")
    hospital = party_identifiers(w.hospital)
    distributor = party_identifiers(w.distributor)
    assert codes(refused(Step.RECEIVE, epcs, party_ids=hospital)) == {"not_in_transit"}
    assert codes(refused(Step.RECEIVE, [w.device_sn("NEVER")], party_ids=hospital)) == {
        "never_shipped"
    }
    quality.release_create(targets=epcs, user=qa_manager, password="pw-qa_manager")
    ship(w, epcs, w.distributor)
    rules.check(Step.RECEIVE, epcs, party_ids=distributor)
    assert codes(refused(Step.RECEIVE, epcs, party_ids=hospital)) == {"not_shipped_to_you"}


def test_receiving_units_shipped_inside_a_case(w: f.World, qa_manager: Any) -> None:
    epcs = commission(w, "K1", "K2")
    case = w.sscc(5)
    ev.emit(
        [ev.aggregation_event(action="ADD", parent=case, children=epcs, biz_step="packing")],
        user=None,
    )
    # The case needs no release of its own; its unreleased contents do.
    assert {d["epc"] for d in refused(Step.SHIP, [case, *epcs]).details} == set(epcs)
    quality.release_create(targets=epcs, user=qa_manager, password="pw-qa_manager")
    rules.check(Step.SHIP, [case, *epcs])
    ship(w, [case], w.hospital)
    rules.check(Step.RECEIVE, [*epcs, case], party_ids=party_identifiers(w.hospital))


def test_installing_into_a_scrapped_unit_is_refused(w: f.World) -> None:
    (unit,) = commission(w, "X1")
    rules.check(Step.FIT, [unit])
    ev.emit(
        [ev.object_event(epcs=[unit], biz_step="decommissioning", disposition="destroyed")],
        user=None,
    )
    for step in (Step.FIT, Step.INSTALL, Step.SERVICE, Step.SHIP, Step.SCRAP):
        exc = refused(step, [unit])
        assert codes(exc) == {"scrapped"}, step
        assert "X1" in exc.message and "scrapped" in exc.message


def test_contents_reads_nested_containers(w: f.World) -> None:
    from medtrace.lifecycle.selectors import contents, with_contents

    units = commission(w, "N1", "N2", "N3")
    case1, case2, pallet = w.sscc(11), w.sscc(12), w.sscc(13)
    ev.emit(
        [
            ev.aggregation_event(
                action="ADD", parent=case1, children=units[:2], biz_step="packing"
            ),
            ev.aggregation_event(
                action="ADD", parent=case2, children=units[2:], biz_step="packing"
            ),
            ev.aggregation_event(action="ADD", parent=pallet, children=[case1, case2]),
        ],
        user=None,
    )
    inside = contents([pallet, case1, units[0]])
    assert set(inside[pallet]) == {case1, case2, *units}
    assert inside[pallet][:2] == sorted([case1, case2])
    assert inside[case1] == sorted(units[:2]) and inside[units[0]] == []
    ev.emit([ev.aggregation_event(action="DELETE", parent=case1, children=[units[0]])], user=None)
    assert set(with_contents([pallet])) == {pallet, case1, case2, units[1], units[2]}
