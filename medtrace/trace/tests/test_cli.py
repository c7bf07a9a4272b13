"""`medtrace trace timeline|backward|forward ID [--json] [--include-history]`."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from medtrace.accounts.models import User
from medtrace.trace.rendering import _width

from . import factories as f

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("trace", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def w() -> f.World:
    world = f.world()
    lot, board, device = world.resin_lot("CLI-L"), world.board_sn("CLI-B"), world.device_sn("CLI")
    f.capture(
        f.obj_lots([(lot, 5)], f.t(1), biz_step="receiving",
                   sources=[("owning_party", world.pgln(world.supplier))]),
        f.transform(f.t(2), input_lots=[(lot, 1)], outputs=[board]),
        f.obj([board], f.t(2, 12), biz_step="inspecting", disposition="conformant"),
        f.transform(f.t(3), inputs=[board], outputs=[device]),
        f.obj([device], f.t(4), biz_step="receiving", location=world.dist_site.sgln,
              destinations=[("possessing_party", world.pgln(world.distributor))]),
    )  # fmt: skip
    return world


def _aligned(lines: list[str]) -> None:
    """Each column of every row starts at the terminal column its header starts at."""
    header, rule, *rows = lines
    starts = [m.start() for m in re.finditer(r"-+", rule)]  # the rule is ASCII
    for line in [header, *rows]:
        at: dict[int, str] = {}
        column = 0
        for char in line:
            at[column] = char
            column += _width(char)
        for start in starts[1:]:
            if start < column:
                assert (at.get(start - 2), at.get(start - 1)) == (" ", " "), line
                assert at.get(start, " ") != " ", line


def test_forward_prints_a_table_of_units_and_a_summary_by_holder(w: f.World) -> None:
    out = run("forward", f"(01){w.resin.gtin}(10)CLI-L")

    lines = out.splitlines()
    assert lines[0] == f"Affected by {w.resin_lot('CLI-L')} (forward trace)"
    assert lines[2].split() == ["LEVEL", "KIND", "EPC", "PRODUCT", "SERIAL/LOT", "DISPOSITION",
                                "HOLDER", "LOCATION", "PART", "OF", "CURRENT"]  # fmt: skip
    table = lines[2:6]
    _aligned(table)
    assert "Control board CB-2" in table[2] and "Infusion pump IP-9" in table[3]
    assert w.device_sn("CLI") in table[2].split()  # the board is part of the device
    assert "2 unit(s)" in out
    by_holder = out[out.index("By holder") :].splitlines()
    assert by_holder[1].split() == ["HOLDER", "ROLE", "GLN", "UNITS"]
    assert by_holder[3].split() == ["华东医疗器械经销", "distributor", w.distributor.gln, "1"]


def test_columns_stay_aligned_with_chinese_names(w: f.World) -> None:
    out = run("forward", w.resin_lot("CLI-L"))
    lines = out.splitlines()[2:6]
    holder_col = _width(lines[0][: lines[0].index("HOLDER")])
    location_col = _width(lines[0][: lines[0].index("LOCATION")])
    device_row = lines[3]

    name_at = _width(device_row[: device_row.index("华东")])
    location_at = _width(device_row[: device_row.index(w.dist_site.sgln)])

    assert (name_at, location_at) == (holder_col, location_col)


def test_timeline_prints_phases_and_the_unit_header(w: f.World) -> None:
    out = run("timeline", "CLI")

    assert out.splitlines()[0] == f"Timeline of {w.device_sn('CLI')}"
    assert "holder: 华东医疗器械经销 (distributor)" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("2025-")]
    # The board's inspection before it went in comes first (the unit's origin).
    assert [(r[2], r[3]) for r in rows] == [("quality", "inspecting"),
                                            ("production", "commissioning"),
                                            ("distribution", "receiving")]  # fmt: skip
    assert out.rstrip().endswith("3 event(s)")


def test_backward_prints_the_tree_with_suppliers_and_inspections(w: f.World) -> None:
    out = run("backward", w.device_sn("CLI"))

    tree = out.splitlines()[2:5]
    assert tree[0].startswith(w.device_sn("CLI"))
    assert tree[1].startswith(f"└─ {w.board_sn('CLI-B')}")
    assert "inspections: conformant" in tree[1]
    assert tree[2].startswith(f"   └─ {w.resin_lot('CLI-L')}")
    assert "supplier: Resin Supplier Co (supplier)" in tree[2]


@pytest.mark.parametrize(
    ("what", "url"),
    [("timeline", "/api/v1/units/{id}/timeline"), ("backward", "/api/v1/trace/backward?id={id}"),
     ("forward", "/api/v1/trace/forward?id={id}")],
)  # fmt: skip
def test_json_is_exactly_the_api_answer(
    what: str, url: str, w: f.World, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    ident = w.device_sn("CLI") if what != "forward" else w.resin_lot("CLI-L")

    printed = run(what, ident, "--json")
    served = api_client(qa_manager, ["trace:read"]).get(url.format(id=ident))

    assert printed.rstrip("\n").encode() == served.content
    assert json.loads(printed)["epc"] == ident


def test_include_history_is_passed_through(w: f.World) -> None:
    device, pump = w.device_sn("CLI-H"), w.pump_sn("CLI-H")
    f.capture(
        f.commission([device, pump], f.t(1)),
        f.associate(device, [pump], f.t(2)),
        f.associate(device, [pump], f.t(3), action="DELETE"),
    )

    assert device not in run("forward", pump)
    assert "no (history)" in run("forward", pump, "--include-history")
    assert "removed" in run("backward", device, "--include-history")


def test_an_unknown_identifier_is_a_command_error(w: f.World) -> None:
    with pytest.raises(CommandError, match="Nothing is known as 'NOPE'"):
        run("timeline", "NOPE")
