"""A constant number of queries, whatever the size of the answer (CONVENTIONS: set-based SQL).

The bounds hold on both databases; PostgreSQL runs one statement more (SET LOCAL jit = off).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medtrace.trace import selectors

from . import factories as f

pytestmark = pytest.mark.django_db


def _recall_world(w: f.World, name: str, units: int) -> str:
    """A supplier lot in `units` boards, each in a device, delivered to two holders, packed."""
    lot = w.resin_lot(name)
    boards = [w.board_sn(f"{name}-{n}") for n in range(units)]
    devices = [w.device_sn(f"{name}-{n}") for n in range(units)]
    half = units // 2
    f.capture(
        f.obj_lots([(lot, 100)], f.t(1), biz_step="receiving",
                   sources=[("owning_party", w.pgln(w.supplier))]),
        *[f.transform(f.t(2), input_lots=[(lot, 1)], outputs=[b]) for b in boards],
        *[f.transform(f.t(3), inputs=[b], outputs=[d]) for b, d in zip(boards, devices,
                                                                       strict=True)],
        f.aggregate(w.sscc(900 + units), devices, f.t(4)),
        f.obj(devices[:half], f.t(5), biz_step="receiving",
              destinations=[("possessing_party", w.pgln(w.distributor))]),
        f.obj(devices[half:], f.t(5), biz_step="receiving",
              destinations=[("possessing_party", w.pgln(w.hospital))]),
    )  # fmt: skip
    return lot


def _count(call: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


def test_forward_queries_do_not_grow_with_the_number_of_units(
    django_assert_max_num_queries: Any,
) -> None:
    w = f.world()
    small, large = _recall_world(w, "QS", 4), _recall_world(w, "QL", 120)

    with django_assert_max_num_queries(5):
        result = selectors.trace_forward(id=large, user=None)

    assert result.count == 240
    assert [s["count"] for s in result.summary] == [60, 60]
    assert _count(lambda: selectors.trace_forward(id=small, user=None)) == _count(
        lambda: selectors.trace_forward(id=large, user=None)
    )


def _device_with_parts(w: f.World, name: str, parts: int) -> str:
    device = w.device_sn(name)
    pumps = [w.pump_sn(f"{name}-{n}") for n in range(parts)]
    f.capture(
        f.commission([device, *pumps], f.t(6)),
        f.associate(device, pumps, f.t(7)),
        *[f.obj([p], f.t(8), biz_step="inspecting", disposition="conformant") for p in pumps],
        *[f.obj([p], f.t(8, 10), biz_step="receiving",
                sources=[("owning_party", w.pgln(w.supplier))]) for p in pumps],
    )  # fmt: skip
    return device


def test_backward_and_timeline_queries_do_not_grow_with_the_tree(
    django_assert_max_num_queries: Any,
) -> None:
    w = f.world()
    small, big = _device_with_parts(w, "QB-S", 2), _device_with_parts(w, "QB-B", 60)

    with django_assert_max_num_queries(9):
        tree = selectors.trace_backward(id=big, user=None)
    with django_assert_max_num_queries(7):
        timeline = selectors.unit_timeline(id=big, user=None)

    assert (tree["count"], timeline["count"]) == (60, 2 + 60 + 60)
    assert _count(lambda: selectors.trace_backward(id=small, user=None)) == _count(
        lambda: selectors.trace_backward(id=big, user=None)
    )
    assert _count(lambda: selectors.unit_timeline(id=small, user=None)) == _count(
        lambda: selectors.unit_timeline(id=big, user=None)
    )


def test_a_partner_forward_trace_adds_only_the_party_lookups(
    django_assert_max_num_queries: Any,
) -> None:
    from medtrace.accounts.models import User

    w = f.world()
    lot = _recall_world(w, "QP", 10)
    ward = User.objects.create_user("ward_nurse", party=w.hospital)

    with django_assert_max_num_queries(7):
        result = selectors.trace_forward(id=lot, user=ward)

    assert result.count == 5  # the hospital's half of the devices, nothing else


def test_an_object_reached_from_many_parts_is_walked_up_once() -> None:
    """Twelve sensors of the recalled lot in one device, the device in a rack: the walk climbs
    from the device once, not once per sensor (UNION folds the paths, DESIGN §7)."""
    from medtrace.trace.genealogy import _forward_sql
    from medtrace.trace.sql import fetch

    w = f.world()
    lot, device, rack = w.resin_lot("FAN"), w.device_sn("FAN-D"), w.device_sn("FAN-R")
    sensors = [w.pump_sn(f"FAN-{n}") for n in range(12)]
    f.capture(
        *[f.transform(f.t(1), input_lots=[(lot, 1)], outputs=[s]) for s in sensors],
        f.transform(f.t(2), inputs=sensors, outputs=[device]),
        f.commission([rack], f.t(3)),
        f.associate(rack, [device], f.t(4)),
    )

    rows = fetch(_forward_sql(False, ""), [lot, lot])
    result = selectors.trace_forward(id=lot, user=None)

    node_rows = [r[0] for r in rows if r[3] is None]
    assert sorted(node_rows) == sorted([lot, *sensors, device, rack])
    assert len([r for r in rows if r[3] is not None]) == 12 + 12 + 1  # one per edge climbed
    units = {u["epc"]: u for u in result.units}
    assert {units[s]["part_of"] for s in sensors} == {device}
    assert (units[device]["part_of"], units[rack]["part_of"], units[rack]["level"]) == (
        rack, None, 3,
    )  # fmt: skip
    assert [s["count"] for s in result.summary] == [1]  # the rack: everything is inside it
