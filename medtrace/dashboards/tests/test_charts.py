"""The SVG chart helper: round axes, escaped text, gaps for missing values, one titled mark per
value, and the same figures as a table."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from medtrace.dashboards.charts import Series, bar_chart, line_chart, nice_max, percent, plain

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("top", "expected"),
    [(0, (1.0, 0.25)), (7, (8, 2)), (93, (100, 20)), (1, (1, 0.2)), (0.42, (0.5, 0.1))],
)
def test_the_axis_ends_on_a_round_number(top: float, expected: tuple[float, float]) -> None:
    assert nice_max(top) == pytest.approx(expected)


def test_a_line_chart_is_valid_svg_with_title_desc_and_a_title_per_point() -> None:
    chart = line_chart(
        key="t",
        title="Rate <of> things",
        desc='Share & "more"',
        labels=["2025-01", "2025-02", "2025-03"],
        series=[Series("done", [0.5, None, 1.0])],
        fmt=percent,
        y_max=1,
        category="Period",
    )

    root = ET.fromstring(chart.svg)
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Rate <of> things"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == 'Share & "more"'  # type: ignore[union-attr]
    points = root.findall(f"{SVG}circle")
    assert [p.find(f"{SVG}title").text for p in points] == [  # type: ignore[union-attr]
        "done · 2025-01: 50 %",
        "done · 2025-03: 100 %",
    ]
    assert root.findall(f"{SVG}polyline") == []  # the gap leaves no two neighbours to join
    assert chart.headers == ["Period", "done"]
    assert chart.rows == [["2025-01", "50 %"], ["2025-02", "—"], ["2025-03", "100 %"]]


def test_a_bar_chart_draws_a_bar_per_value_and_lists_extra_columns_in_its_table() -> None:
    chart = bar_chart(
        key="b",
        title="Notices",
        desc="d",
        labels=["RC-1", "RC-2"],
        series=[Series("notified", [3, 1]), Series("acknowledged", [2, 0])],
        extra=[(Series("consignees", [3, 2]), plain)],
    )

    root = ET.fromstring(chart.svg)
    bars = [r for r in root.findall(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 4
    assert chart.rows == [["RC-1", "3", "2", "3"], ["RC-2", "1", "0", "2"]]
    assert chart.headers[-1] == "consignees"


def test_a_chart_with_nothing_to_show_says_so() -> None:
    chart = line_chart(
        key="e",
        title="t",
        desc="d",
        labels=["a", "b"],
        series=[Series("s", [None, None])],
        empty_text="Nothing yet.",
    )
    assert chart.empty and "Nothing yet." in chart.svg
    assert not re.search(r"<circle", chart.svg)


def test_series_must_have_a_value_per_label() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        line_chart(title="t", desc="d", labels=["a", "b", "c"], series=[Series("s", [1, 2])])
