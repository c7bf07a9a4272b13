"""Forward trace (recall impact) scenarios, each captured as EPCIS 2.0 JSON through the real
capture path (DESIGN §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from medtrace.ledger.models import UnitState
from medtrace.trace import selectors
from medtrace.trace.schemas import ForwardOut

from . import factories as f

pytestmark = pytest.mark.django_db


def forward(ident: str, *, history: bool = False) -> dict[str, Any]:
    result = selectors.trace_forward(id=ident, user=None, include_history=history)
    data = result.as_dict()
    ForwardOut.model_validate(data)  # the hand-built rows keep the documented shape
    # The fast encoder writes exactly what json.dumps would.
    assert result.to_json() == json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return data


def by_epc(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["epc"]: u for u in data["units"]}


@pytest.fixture
def w() -> f.World:
    return f.world()


def _built_with_pump(w: f.World, device: str, pump: str, day: int) -> list[dict[str, Any]]:
    return [
        f.commission([pump], f.t(day), location=w.plant.sgln),
        f.commission([device], f.t(day), location=w.plant.sgln),
        f.associate(device, [pump], f.t(day, 10), location=w.plant.sgln),
    ]


# (a) ---------------------------------------------------------------------------------------


def test_a_pump_swapped_out_in_repair_follows_the_pump_to_its_new_unit(w: f.World) -> None:
    old, new, pump = w.device_sn("A-OLD"), w.device_sn("A-NEW"), w.pump_sn("PA1")
    f.capture(*_built_with_pump(w, old, pump, 1), f.commission([new], f.t(2)))

    f.capture(
        f.associate(old, [pump], f.t(10), action="DELETE", biz_step="repairing"),
        f.associate(new, [pump], f.t(11), biz_step="repairing"),
    )

    units = by_epc(forward(pump))
    assert set(units) == {pump, new}
    assert units[new]["current"] is True
    assert units[new]["level"] == 1
    assert units[pump]["installed_in"] == new
    assert units[pump]["part_of"] == new


def test_a_include_history_shows_the_old_unit_as_no_longer_current(w: f.World) -> None:
    old, new, pump = w.device_sn("A-OLD"), w.device_sn("A-NEW"), w.pump_sn("PA1")
    f.capture(*_built_with_pump(w, old, pump, 1), f.commission([new], f.t(2)))
    f.capture(
        f.associate(old, [pump], f.t(10), action="DELETE", biz_step="repairing"),
        f.associate(new, [pump], f.t(11), biz_step="repairing"),
    )

    data = forward(pump, history=True)

    units = by_epc(data)
    assert units[old]["current"] is False
    assert units[new]["current"] is True
    # The summary counts where the pump is now, not where it once was.
    assert sum(s["count"] for s in data["summary"]) == 1


def test_a_unit_whose_pump_was_removed_is_no_longer_affected_by_the_pump(w: f.World) -> None:
    old, pump = w.device_sn("A-OLD"), w.pump_sn("PA1")
    f.capture(*_built_with_pump(w, old, pump, 1))
    assert old in by_epc(forward(pump))

    f.capture(f.associate(old, [pump], f.t(10), action="DELETE", biz_step="repairing"))

    units = by_epc(forward(pump))
    assert set(units) == {pump}
    assert units[pump]["installed_in"] is None


# (b) ---------------------------------------------------------------------------------------


def test_b_a_board_from_a_bad_lot_swapped_into_a_unit_makes_that_unit_affected(
    w: f.World,
) -> None:
    good, bad = w.resin_lot("GOOD-1"), w.resin_lot("BAD-1")
    unit, old_board, new_board = w.device_sn("B-1"), w.board_sn("B-OLD"), w.board_sn("B-NEW")
    f.capture(
        f.transform(f.t(1), input_lots=[(good, 1.5)], outputs=[old_board]),
        f.transform(f.t(1, 11), input_lots=[(bad, 1.5)], outputs=[new_board]),
        f.commission([unit], f.t(2)),
        f.associate(unit, [old_board], f.t(2, 10)),
    )
    assert unit not in by_epc(forward(bad))

    f.capture(
        f.associate(unit, [old_board], f.t(20), action="DELETE", biz_step="repairing"),
        f.associate(unit, [new_board], f.t(20, 10), biz_step="repairing"),
    )

    affected = by_epc(forward(bad))
    assert set(affected) == {new_board, unit}
    assert affected[unit]["level"] == 2
    assert affected[unit]["current"] is True
    assert affected[new_board]["part_of"] == unit
    assert unit not in by_epc(forward(good))


# (c) ---------------------------------------------------------------------------------------


def _packed(w: f.World) -> tuple[list[str], str, str, str]:
    units = [w.device_sn(f"C-{n}") for n in range(1, 5)]
    case1, case2, pallet = w.sscc(11), w.sscc(12), w.sscc(100)
    f.capture(
        f.commission(units, f.t(1), location=w.plant.sgln),
        f.aggregate(case1, units[:2], f.t(2), location=w.warehouse.sgln),
        f.aggregate(case2, units[2:], f.t(2, 10), location=w.warehouse.sgln),
        f.aggregate(pallet, [case1, case2], f.t(3), location=w.warehouse.sgln),
    )
    return units, case1, case2, pallet


def test_c_units_in_cases_on_a_pallet_are_found_from_the_pallet_and_the_case(
    w: f.World,
) -> None:
    units, case1, case2, pallet = _packed(w)

    from_pallet = by_epc(forward(pallet))
    from_case = by_epc(forward(case1))

    assert set(from_pallet) == {pallet, case1, case2, *units}
    assert {e for e, u in from_pallet.items() if u["kind"] == "container"} == {
        pallet,
        case1,
        case2,
    }
    assert {from_pallet[u]["level"] for u in units} == {2}
    assert from_pallet[units[0]]["contained_in"] == case1
    assert set(from_case) == {case1, *units[:2]}


def test_c_shipping_the_pallet_moves_every_unit_inside(w: f.World) -> None:
    units, _case1, _case2, pallet = _packed(w)
    maker, dist = w.pgln(w.maker), w.pgln(w.distributor)

    f.capture(
        f.obj([pallet], f.t(5), biz_step="shipping", disposition="in_transit",
              read_point=w.warehouse.sgln,
              sources=[("possessing_party", maker), ("owning_party", maker)],
              destinations=[("possessing_party", dist), ("owning_party", dist)]),
    )  # fmt: skip
    shipped = by_epc(forward(pallet))
    assert {shipped[u]["disposition"] for u in units} == {"in_transit"}
    assert {shipped[u]["location"] for u in units} == {None}

    f.capture(
        f.obj([pallet], f.t(7), biz_step="receiving", disposition="in_progress",
              location=w.dist_site.sgln,
              sources=[("possessing_party", maker), ("owning_party", maker)],
              destinations=[("possessing_party", dist), ("owning_party", dist)]),
    )  # fmt: skip

    data = forward(pallet)
    received = by_epc(data)
    assert {received[u]["location"] for u in units} == {w.dist_site.sgln}
    assert {received[u]["holder"]["name"] for u in units} == {w.distributor.name}
    assert {received[u]["holder"]["role"] for u in units} == {"distributor"}
    assert {received[u]["holder"]["gln"] for u in units} == {w.distributor.gln}
    # Containers are not counted: four devices, one holder.
    assert data["summary"] == [
        {"id": dist, "gln": w.distributor.gln, "name": w.distributor.name,
         "role": "distributor", "count": 4},
    ]  # fmt: skip
    assert set(
        UnitState.objects.filter(epc__in=units).values_list("possessing_party", flat=True)
    ) == {dist}


def test_c_a_unit_unpacked_from_the_case_is_no_longer_found_from_it(w: f.World) -> None:
    units, case1, _case2, pallet = _packed(w)

    f.capture(f.aggregate(case1, [units[0]], f.t(8), action="DELETE"))

    assert units[0] not in by_epc(forward(case1))
    assert units[0] not in by_epc(forward(pallet))
    history = by_epc(forward(case1, history=True))
    assert history[units[0]]["current"] is False


# (d) ---------------------------------------------------------------------------------------


def test_d_forward_from_a_supplier_lot_reaches_the_device_through_a_sub_assembly(
    w: f.World,
) -> None:
    lot, board, device = w.resin_lot("R-2025-03"), w.board_sn("D-B1"), w.device_sn("D-1")
    other = w.device_sn("D-2")
    f.capture(
        f.obj_lots([(lot, 25)], f.t(1), biz_step="receiving", location=w.plant.sgln,
                   sources=[("owning_party", w.pgln(w.supplier))],
                   destinations=[("owning_party", w.pgln(w.maker))]),
        f.transform(f.t(2), input_lots=[(lot, 0.4)], outputs=[board], location=w.plant.sgln),
        f.transform(f.t(3), inputs=[board], outputs=[device], location=w.plant.sgln),
        f.commission([other], f.t(3)),
    )  # fmt: skip

    data = forward(f"(01){w.resin.gtin}(10)R-2025-03")

    units = by_epc(data)
    assert data["epc"] == lot
    assert data["kind"] == "lot"
    assert set(units) == {board, device}
    assert (units[board]["level"], units[board]["kind"]) == (1, "product")
    assert (units[device]["level"], units[device]["part_of"]) == (2, None)
    assert units[board]["part_of"] == device
    assert units[device]["product"]["name"] == "Infusion pump"
    assert [(c["epc"], c["level"]) for c in data["lots"]] == [(lot, 0)]
    # The device is counted once, where it is; the board inside it is not counted again.
    assert sum(s["count"] for s in data["summary"]) == 1


def test_d_a_lot_made_from_a_lot_carries_the_recall_through_both_levels(w: f.World) -> None:
    resin = w.resin_lot("R-9")
    compound = "urn:epc:class:lgtin:6901234.000099.CMP-1"
    device = w.device_sn("D-9")
    f.capture(
        f.obj_lots([(resin, 10)], f.t(1), biz_step="receiving"),
        f._event("TransformationEvent", f.t(2), biz_step="commissioning",
                 inputQuantityList=[{"epcClass": resin, "quantity": 10, "uom": "KGM"}],
                 outputQuantityList=[{"epcClass": compound, "quantity": 9, "uom": "KGM"}]),
        f.transform(f.t(3), input_lots=[(compound, 0.1)], outputs=[device]),
    )  # fmt: skip

    data = forward(resin)

    assert [u["epc"] for u in data["units"]] == [device]
    assert data["units"][0]["level"] == 2
    assert [(c["epc"], c["level"]) for c in data["lots"]] == [(resin, 0), (compound, 1)]


# (e) ---------------------------------------------------------------------------------------


def test_e_scrapped_units_stay_listed_with_their_disposition(w: f.World) -> None:
    lot = w.resin_lot("E-1")
    kept, scrapped = w.device_sn("E-KEPT"), w.device_sn("E-SCRAP")
    f.capture(
        f.transform(f.t(1), input_lots=[(lot, 1)], outputs=[kept, scrapped]),
        f.obj([scrapped], f.t(9), action="DELETE", biz_step="decommissioning",
              disposition="destroyed", location=w.plant.sgln),
    )  # fmt: skip

    units = by_epc(forward(lot))

    assert set(units) == {kept, scrapped}
    assert units[scrapped]["disposition"] == "destroyed"
    assert units[kept]["disposition"] == "active"


def test_e_a_scrapped_pump_is_the_end_of_its_trail(w: f.World) -> None:
    unit, pump = w.device_sn("E-U"), w.pump_sn("E-P")
    f.capture(*_built_with_pump(w, unit, pump, 1))

    f.capture(
        f.associate(unit, [pump], f.t(10), action="DELETE", biz_step="repairing"),
        f.obj([pump], f.t(11), action="DELETE", biz_step="destroying", disposition="destroyed"),
    )

    units = by_epc(forward(pump))
    assert set(units) == {pump}
    assert units[pump]["disposition"] == "destroyed"


# (f) ---------------------------------------------------------------------------------------


def test_f_an_error_declaration_on_the_association_removes_the_link(w: f.World) -> None:
    wrong, right, pump = w.device_sn("F-WRONG"), w.device_sn("F-RIGHT"), w.pump_sn("F-P")
    mistaken = f.associate(wrong, [pump], f.t(3))
    f.capture(f.commission([pump, wrong, right], f.t(1)), mistaken)
    assert wrong in by_epc(forward(pump))

    corrective = f.associate(right, [pump], f.t(3, 10))
    f.capture(f.retract(mistaken, f.t(4), corrective=[corrective["eventID"]]), corrective)

    units = by_epc(forward(pump))
    assert set(units) == {pump, right}
    assert units[pump]["installed_in"] == right
    # Retracted links are gone even from history.
    assert wrong not in by_epc(forward(pump, history=True))


def test_the_fast_json_escapes_like_json_dumps(w: f.World) -> None:
    from medtrace.masterdata.models import Product

    Product.objects.filter(pk=w.device.pk).update(name='输液泵 "Pro" \\ /\t', model="<M>\u2028")
    lot, odd = w.resin_lot("ESC"), w.device_sn('Q"/1')
    f.capture(
        f.transform(
            f.t(1),
            input_lots=[(lot, 1)],
            outputs=[odd],
            location=w.ward.sgln,
            destinations=[("possessing_party", w.pgln(w.hospital))],
        )
    )

    units = by_epc(forward(lot))

    assert units[odd]["serial"] == 'Q"/1'
    assert units[odd]["product"]["name"] == '输液泵 "Pro" \\ /\t'
