"""The forward trace behind the lot and container pages (``trace.impact.lot_impact``)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medtrace.accounts.models import User
from medtrace.errors import NotFound, ValidationFailed
from medtrace.trace import selectors
from medtrace.trace.impact import COMPONENT, PRODUCT, lot_impact

from . import factories as f
from .lot_story import Story, ship_counted_lot, tell

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(hospital_a: User, hospital_b: User) -> Story:
    assert hospital_a.party is not None and hospital_b.party is not None
    return tell(f.world(), (hospital_a.party, hospital_b.party))


def _affected(ident: str, user: User | None = None, *, history: bool = False) -> dict[str, bool]:
    impact = lot_impact(id=ident, user=user, include_history=history)
    return {row.epc: row.current for row in impact.affected}


def test_a_material_lot_reaches_the_devices_its_boards_went_into(story: Story) -> None:
    impact = lot_impact(id=story.resin, user=None)

    by_epc = {row.epc: row for row in impact.reached}
    # The boards still installed go back inside their devices; the one taken out in the
    # repair is affected by itself, and its old device no longer is.
    assert {row.epc for row in impact.affected} == {*story.devices[:2], story.removed_board}
    assert by_epc[story.boards[0]].part_of == story.devices[0]
    assert by_epc[story.boards[0]].layer == 1 and by_epc[story.devices[0]].layer == 2
    assert story.devices[2] not in by_epc
    assert impact.count == 3


def test_with_history_the_device_a_removed_board_left_is_shown_as_no_longer_affected(
    story: Story,
) -> None:
    impact = lot_impact(id=story.resin, user=None, include_history=True)

    by_epc = {row.epc: row for row in impact.reached}
    assert by_epc[story.devices[2]].current is False
    assert by_epc[story.removed_board].part_of is None
    assert by_epc[story.removed_board].was_in == story.devices[2]
    assert impact.count == 3  # what is affected now does not change with history


def test_a_lot_of_serialized_devices_starts_from_the_units_carrying_it(story: Story) -> None:
    impact = lot_impact(id=story.device_lot_udi, user=None)

    assert impact.facts.kind == "lot"
    assert impact.facts.lot_units == 3
    assert impact.facts.product is not None
    assert impact.facts.product["name"] == story.w.device.name
    assert {row.epc for row in impact.affected} == set(story.devices)
    assert {row.kind for row in impact.affected} == {PRODUCT}


def test_a_case_reaches_what_is_packed_in_it(story: Story) -> None:
    impact = lot_impact(id=story.case_udi, user=None)

    assert impact.facts.kind == "container"
    assert impact.facts.hri == story.case_udi
    assert {row.epc: row.packed_in for row in impact.affected} == {
        unit: story.case for unit in story.devices[:2]
    }


def test_affected_units_are_grouped_by_holder_whatever_spelling_names_it(
    story: Story, hospital_a: User, hospital_b: User
) -> None:
    impact = lot_impact(id=story.resin, user=None)

    groups = impact.groups(units_per_holder=10)

    names = {g.holder["name"]: [u.epc for u in g.units] for g in groups}
    assert names[hospital_a.party.name] == [story.devices[0]]  # type: ignore[union-attr]
    assert names[hospital_b.party.name] == [story.devices[1]]  # type: ignore[union-attr]
    assert names[story.w.maker.name] == [story.removed_board]
    only = impact.groups(units_per_holder=10, holder=hospital_a.party.gln)  # type: ignore[union-attr]
    assert [g.count for g in only] == [1]


def test_a_hospital_sees_only_its_own_part_of_the_trace(
    story: Story, hospital_a: User, hospital_b: User
) -> None:
    impact = lot_impact(id=story.resin, user=hospital_a)

    assert {row.epc for row in impact.affected} == {story.devices[0]}
    assert {row.kind for row in impact.reached} <= {PRODUCT, COMPONENT}
    assert [g.holder["name"] for g in impact.groups(units_per_holder=5)] == [
        hospital_a.party.name  # type: ignore[union-attr]
    ]
    assert story.devices[1] not in {row.epc for row in impact.reached}


def test_a_lot_that_reached_none_of_a_hospitals_units_is_not_found_for_it(
    hospital_a: User, hospital_b: User
) -> None:
    w = f.world()
    lot = w.resin_lot("ELSEWHERE")
    f.capture(f.transform(f.t(1), input_lots=[(lot, 1.0)], outputs=[w.device_sn("X1")]))

    with pytest.raises(NotFound):
        lot_impact(id=lot, user=hospital_a)
    assert _affected(lot) == {w.device_sn("X1"): True}


def test_a_unit_is_not_a_lot(story: Story) -> None:
    with pytest.raises(ValidationFailed) as raised:
        lot_impact(id=story.devices[0], user=None)

    assert raised.value.details == {"epc": story.devices[0], "kind": "serial"}


def test_the_lot_udi_of_serialized_devices_resolves_though_no_event_names_the_lot(
    story: Story,
) -> None:
    target = selectors.resolve_target(story.device_lot_udi, user=None)

    assert target.kind == "lot"
    assert target.epc.startswith("urn:epc:class:lgtin:")


def test_a_material_lot_without_gtin_is_a_lot() -> None:
    assert selectors.epc_kind("urn:medtrace:lot:M-DRIP:L1") == "lot"


def test_the_walk_costs_the_same_statements_for_three_or_twelve_devices(
    hospital_a: User, hospital_b: User
) -> None:
    assert hospital_a.party is not None and hospital_b.party is not None
    w = f.world()
    small = tell(w, (hospital_a.party, hospital_b.party), devices=3, tag="A")
    large = tell(w, (hospital_a.party, hospital_b.party), devices=12, tag="B")
    lot_impact(id=small.resin, user=hospital_a)  # warm caches (party identifiers, prefixes)

    counts = []
    for story in (small, large):
        with CaptureQueriesContext(connection) as queries:
            impact = lot_impact(id=story.resin, user=hospital_a)
        counts.append(len(queries))
        assert impact.count == 1

    assert counts[0] == counts[1]
    assert counts[1] <= 14


def test_a_lot_of_counted_goods_lists_the_quantities_shipped_to_each_party(
    hospital_a: User, hospital_b: User
) -> None:
    w = f.world()
    assert hospital_a.party is not None and hospital_b.party is not None
    lot = ship_counted_lot(w, (hospital_a.party, hospital_b.party))

    impact = lot_impact(id=lot, user=None)
    own = lot_impact(id=lot, user=hospital_a)

    shipped = {impact.holders[q["holder"]]["name"]: q["quantity"] for q in impact.quantities}
    assert shipped == {hospital_a.party.name: 200, hospital_b.party.name: 100}
    assert [impact.holders[q["holder"]]["name"] for q in own.quantities] == [hospital_a.party.name]
