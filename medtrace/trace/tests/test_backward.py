"""Backward trace: what a unit is made of, with suppliers, inspections and certificates."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.trace import selectors
from medtrace.trace.schemas import BackwardOut

from . import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> f.World:
    return f.world()


def backward(ident: str, *, history: bool = False) -> dict[str, Any]:
    data = selectors.trace_backward(id=ident, user=None, include_history=history)
    BackwardOut.model_validate(data)
    return data


def children(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["epc"]: c for c in node["children"]}


def _device_with_board_and_pump(w: f.World) -> tuple[str, str, str, str]:
    lot, board, pump, device = (
        w.resin_lot("BK-1"), w.board_sn("BK-B"), w.pump_sn("BK-P"), w.device_sn("BK-D"),
    )  # fmt: skip
    f.capture(
        f.obj_lots([(lot, 20)], f.t(1), biz_step="receiving", location=w.plant.sgln,
                   sources=[("possessing_party", w.pgln(w.supplier)),
                            ("owning_party", w.pgln(w.supplier))],
                   certificationInfo="https://certs.example.com/coa/BK-1"),
        f.obj_lots([(lot, 0.1)], f.t(1, 14), biz_step="inspecting", disposition="conformant",
                   location=w.plant.sgln),
        f.transform(f.t(2), input_lots=[(lot, 0.5)], outputs=[board]),
        f.obj([board], f.t(2, 12), biz_step="inspecting", disposition="conformant",
              certificationInfo=["https://certs.example.com/ict/BK-B"]),
        f.commission([pump], f.t(2)),
        f.transform(f.t(3), inputs=[board], outputs=[device]),
        f.associate(device, [pump], f.t(3, 11)),
    )  # fmt: skip
    return lot, board, pump, device


def test_a_device_is_traced_down_to_its_supplier_lot(w: f.World) -> None:
    lot, board, pump, device = _device_with_board_and_pump(w)

    data = backward(device)

    root = data["root"]
    assert (root["epc"], root["level"], root["product"]["name"]) == (device, 0, "Infusion pump")
    parts = children(root)
    assert set(parts) == {board, pump}
    assert (parts[board]["relation"], parts[pump]["relation"]) == ("transformed", "associated")
    resin = children(parts[board])[lot]
    assert resin["type"] == "lot"
    assert (resin["lot"], resin["gtin"], resin["level"]) == ("BK-1", w.resin.gtin, 2)
    assert resin["material"]["name"] == "PC resin"
    assert data["count"] == 3
    assert data["contents"] == []


def test_each_node_carries_its_supplier_inspections_and_certificates(w: f.World) -> None:
    lot, board, pump, device = _device_with_board_and_pump(w)

    parts = children(backward(device)["root"])
    resin = children(parts[board])[lot]

    # The lot's receiving event names the supplier (owning party preferred).
    assert resin["supplier"] == {
        "id": w.pgln(w.supplier), "gln": w.supplier.gln, "name": "Resin Supplier Co",
        "role": "supplier", "basis": "receiving_event",
    }  # fmt: skip
    assert [(i["disposition"], i["retracted"]) for i in resin["inspections"]] == [
        ("conformant", False)
    ]
    assert [c["certificationInfo"] for c in resin["certificates"]] == [
        "https://certs.example.com/coa/BK-1"
    ]
    assert [c["certificationInfo"] for c in parts[board]["certificates"]] == [
        "https://certs.example.com/ict/BK-B"
    ]
    assert [i["disposition"] for i in parts[board]["inspections"]] == ["conformant"]
    # No receiving event for the pump: its material's approved supplier in master data.
    assert parts[pump]["supplier"]["name"] == "Resin Supplier Co"
    assert parts[pump]["supplier"]["basis"] == "masterdata"
    # Made in-house: no supplier.
    assert parts[board]["supplier"] is None


def test_a_retracted_inspection_is_marked_as_retracted(w: f.World) -> None:
    board, device = w.board_sn("BK-RB"), w.device_sn("BK-RD")
    check = f.obj([board], f.t(2), biz_step="inspecting", disposition="conformant")
    f.capture(
        f.commission([board], f.t(1)), check, f.transform(f.t(3), inputs=[board], outputs=[device])
    )
    f.capture(f.retract(check, f.t(4), reason="did_not_occur"))

    inspections = children(backward(device)["root"])[board]["inspections"]

    assert [(i["eventID"], i["retracted"]) for i in inspections] == [(check["eventID"], True)]


def test_a_removed_part_shows_only_with_history(w: f.World) -> None:
    device, old, new = w.device_sn("BK-H"), w.pump_sn("BK-H1"), w.pump_sn("BK-H2")
    f.capture(
        f.commission([device, old, new], f.t(1)),
        f.associate(device, [old], f.t(2)),
        f.associate(device, [old], f.t(5), action="DELETE"),
        f.associate(device, [new], f.t(5, 10), biz_step="repairing"),
    )

    now = children(backward(device)["root"])
    then = children(backward(device, history=True)["root"])

    assert set(now) == {new}
    assert set(then) == {old, new}
    assert (then[old]["current"], then[old]["valid_from"], then[old]["valid_to"]) == (
        False, "2025-03-02T01:00:00Z", "2025-03-05T01:00:00Z",
    )  # fmt: skip
    assert (then[new]["current"], then[new]["valid_to"]) == (True, None)


def test_packaging_is_not_composition_but_a_container_lists_its_contents(w: f.World) -> None:
    units = [w.device_sn(f"BK-C{n}") for n in range(3)]
    case, pallet = w.sscc(51), w.sscc(52)
    f.capture(
        f.commission(units, f.t(1)),
        f.aggregate(case, units[:2], f.t(2)),
        f.aggregate(pallet, [case, units[2]], f.t(3)),
    )

    unit_view = backward(units[0])
    pallet_view = backward(pallet)

    assert unit_view["root"]["children"] == []
    assert unit_view["contents"] == []
    assert pallet_view["is_container"] is True
    assert pallet_view["root"]["children"] == []
    assert [(c["epc"], c["level"], c["parent"]) for c in pallet_view["contents"]] == [
        (units[2], 1, pallet),
        (case, 1, pallet),
        (units[0], 2, case),
        (units[1], 2, case),
    ]


def test_backward_takes_a_constant_number_of_queries(
    w: f.World, django_assert_max_num_queries: Any
) -> None:
    device = w.device_sn("BK-Q")
    lots = [w.resin_lot(f"BQ-{n}") for n in range(10)]
    boards = [w.board_sn(f"BQ-{n}") for n in range(10)]
    f.capture(
        *[f.obj_lots([(lot, 1)], f.t(1), biz_step="receiving",
                     sources=[("owning_party", w.pgln(w.supplier))]) for lot in lots],
        *[f.transform(f.t(2), input_lots=[(lot, 1)], outputs=[b])
          for lot, b in zip(lots, boards, strict=True)],
        *[f.obj([b], f.t(2, 12), biz_step="inspecting", disposition="conformant")
          for b in boards],
        f.transform(f.t(3), inputs=boards, outputs=[device]),
    )  # fmt: skip

    with django_assert_max_num_queries(9):
        data = selectors.trace_backward(id=device, user=None)

    assert data["count"] == 20
