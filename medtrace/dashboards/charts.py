"""Small server-rendered SVG charts for the dashboards (DESIGN §2: no SPA build step).

``line_chart`` and ``bar_chart`` turn a few labelled series into one ``Chart``: the SVG markup
(axes with ticks, gridlines, category labels, a legend, one ``<title>`` per point so a pointer
shows the value) and the same figures as a table, which the template offers as the chart's
text alternative. The SVG is ``role="img"`` with ``<title>``/``<desc>`` referenced by
``aria-labelledby``; series differ by dash pattern or hatching as well as by colour, so the
chart reads without colour vision.

Pure Python, no Django models: every text is escaped here, and the markup is marked safe only
after that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from itertools import count

from django.utils.safestring import SafeString, mark_safe

Number = float | int
Formatter = Callable[[Number], str]

# Colour-blind-safe palette (Okabe-Ito), with a dash pattern per series for lines.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Number | None]


@dataclass
class Chart:
    """A rendered chart: ``svg`` for the page, ``headers``/``rows`` for its data table."""

    id: str
    title: str
    desc: str
    svg: SafeString
    headers: list[str]
    rows: list[list[str]]
    empty: bool = False
    notes: list[str] = field(default_factory=list)


def plain(value: Number) -> str:
    """``12`` for whole numbers, ``12.5`` otherwise (two decimals at most)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def percent(value: Number) -> str:
    """A rate 0..1 as ``97.5 %``."""
    return f"{plain(round(float(value) * 100, 1))} %"


def nice_max(top: float, ticks: int = 5) -> tuple[float, float]:
    """A round upper bound >= ``top`` and its tick step (1, 2, 2.5 or 5 times a power of ten),
    with at most ``ticks`` steps."""
    if top <= 0:
        return 1.0, 0.25
    power = 10 ** math.floor(math.log10(top / ticks))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        steps = math.ceil(round(top / step, 9))
        if steps <= ticks:
            return step * steps, step
    return 10 * power * ticks, 10 * power  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    left: int = 56
    right: int = 12
    top: int = 12
    bottom: int = 48

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, value: float, y_max: float) -> float:
        return self.top + self.plot_h * (1 - value / y_max)


def _axes(
    frame: _Frame,
    labels: Sequence[str],
    xs: Sequence[float],
    y_max: float,
    step: float,
    fmt: Formatter,
    y_label: str,
) -> list[str]:
    out = []
    ticks = round(y_max / step)
    for i in range(ticks + 1):
        value = step * i
        y = frame.y(value, y_max)
        out.append(
            f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" '
            f'y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dee6" stroke-width="1"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5b6b7c">{escape(fmt(value))}</text>'
        )
    base = frame.y(0, y_max)
    out.append(
        f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{base:.1f}" '
        f'y2="{base:.1f}" stroke="#5b6b7c" stroke-width="1"/>'
        f'<line x1="{frame.left}" x2="{frame.left}" y1="{frame.top}" y2="{base:.1f}" '
        f'stroke="#5b6b7c" stroke-width="1"/>'
    )
    # At most ~12 category labels; the others are in the table and in each point's title.
    every = max(1, math.ceil(len(labels) / 12))
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % every and i != len(labels) - 1:
            continue
        out.append(
            f'<text x="{x:.1f}" y="{base + 16:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#1d2733">{escape(label)}</text>'
        )
    if y_label:
        out.append(
            f'<text x="12" y="{frame.top + frame.plot_h / 2:.1f}" font-size="11" fill="#5b6b7c" '
            f'text-anchor="middle" transform="rotate(-90 12 {frame.top + frame.plot_h / 2:.1f})">'
            f"{escape(y_label)}</text>"
        )
    return out


def _legend(frame: _Frame, series: Sequence[Series], *, bars: bool) -> list[str]:
    out = []
    x = float(frame.left)
    y = frame.height - 10
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        if bars:
            out.append(
                f'<rect x="{x:.1f}" y="{y - 9}" width="12" height="10" fill="{colour}"'
                f"{_hatch_attr(i)}/>"
            )
        else:
            dash = DASHES[i % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<line x1="{x:.1f}" x2="{x + 18:.1f}" y1="{y - 4}" y2="{y - 4}" '
                f'stroke="{colour}" stroke-width="2.5"{dash_attr}/>'
            )
        out.append(
            f'<text x="{x + 22:.1f}" y="{y}" font-size="11" fill="#1d2733">{escape(s.name)}</text>'
        )
        x += 30 + 7 * len(s.name) + (7 * sum(1 for ch in s.name if ord(ch) > 0x2E80))
    return out


def _hatch_attr(index: int) -> str:
    # The second and later bar series get a visible outline pattern as well as a colour.
    return "" if index == 0 else f' stroke="#1d2733" stroke-width="0.6" data-series="{index}"'


def _cell(value: Number | None, fmt: Formatter) -> str:
    return "—" if value is None else fmt(value)


def _table(
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
    first: str,
    extra: Sequence[tuple[Series, Formatter]],
) -> tuple[list[str], list[list[str]]]:
    headers = [first, *(s.name for s in series), *(s.name for s, _f in extra)]
    rows = [
        [
            label,
            *(_cell(s.values[i], fmt) for s in series),
            *(_cell(s.values[i], f) for s, f in extra),
        ]
        for i, label in enumerate(labels)
    ]
    return headers, rows


def _top(series: Sequence[Series]) -> float:
    values = [float(v) for s in series for v in s.values if v is not None]
    return max(values) if values else 0.0


def _open(chart_id: str, frame: _Frame, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'viewBox="0 0 {frame.width} {frame.height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )


def _chart(
    *,
    kind: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
    y_max: float | None,
    y_label: str,
    category: str,
    width: int,
    height: int,
    empty_text: str,
    key: str,
    extra: Sequence[tuple[Series, Formatter]],
) -> Chart:
    for s in [*series, *(e for e, _f in extra)]:
        if len(s.values) != len(labels):
            raise ValueError(
                f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels"
            )
    chart_id = f"chart-{key or next(_ids)}"
    frame = _Frame(width, height)
    headers, rows = _table(labels, series, fmt, category, extra)
    top = _top(series)
    empty = top == 0 and all(v is None for s in series for v in s.values)
    if y_max is None:
        y_max, step = nice_max(top)
    else:
        step = nice_max(y_max)[1]
        y_max = max(y_max, step)
    n = max(len(labels), 1)
    slot = frame.plot_w / n
    xs = [frame.left + slot * (i + 0.5) for i in range(len(labels))]
    parts = [_open(chart_id, frame, title, desc)]
    parts += _axes(frame, labels, xs, y_max, step, fmt, y_label)
    if empty:
        parts.append(
            f'<text x="{frame.left + frame.plot_w / 2:.1f}" y="{frame.top + frame.plot_h / 2:.1f}" '
            f'text-anchor="middle" font-size="13" fill="#5b6b7c">{escape(empty_text)}</text>'
        )
    elif kind == "line":
        parts += _lines(frame, labels, xs, series, y_max, fmt)
    else:
        parts += _bars(frame, labels, xs, slot, series, y_max, fmt)
    parts += _legend(frame, series, bars=kind == "bar")
    parts.append("</svg>")
    return Chart(
        id=chart_id,
        title=title,
        desc=desc,
        # Safe: every text above went through escape().
        svg=mark_safe("".join(parts)),
        headers=headers,
        rows=rows,
        empty=empty,
    )


def _lines(
    frame: _Frame,
    labels: Sequence[str],
    xs: Sequence[float],
    series: Sequence[Series],
    y_max: float,
    fmt: Formatter,
) -> list[str]:
    out = []
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        # A missing value (no data in that period) breaks the line instead of drawing a zero.
        runs: list[list[str]] = [[]]
        for x, v in zip(xs, s.values, strict=True):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{x:.1f},{frame.y(float(v), y_max):.1f}")
        for run in runs:
            if len(run) > 1:
                out.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.5"{dash_attr}/>'
                )
        for label, x, v in zip(labels, xs, s.values, strict=True):
            if v is None:
                continue
            out.append(
                f'<circle cx="{x:.1f}" cy="{frame.y(float(v), y_max):.1f}" r="3.5" '
                f'fill="{colour}"><title>{escape(s.name)} · {escape(label)}: '
                f"{escape(fmt(v))}</title></circle>"
            )
    return out


def _bars(
    frame: _Frame,
    labels: Sequence[str],
    xs: Sequence[float],
    slot: float,
    series: Sequence[Series],
    y_max: float,
    fmt: Formatter,
) -> list[str]:
    out = []
    k = max(len(series), 1)
    group = slot * 0.8
    width = group / k
    base = frame.y(0, y_max)
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        for label, x, v in zip(labels, xs, s.values, strict=True):
            if v is None:
                continue
            top = frame.y(float(v), y_max)
            left = x - group / 2 + width * i
            out.append(
                f'<rect x="{left:.1f}" y="{top:.1f}" width="{max(width - 1, 1):.1f}" '
                f'height="{max(base - top, 0):.1f}" fill="{colour}"{_hatch_attr(i)}>'
                f"<title>{escape(s.name)} · {escape(label)}: {escape(fmt(v))}</title></rect>"
            )
    return out


def line_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = plain,
    y_max: float | None = None,
    y_label: str = "",
    category: str = "",
    width: int = 640,
    height: int = 240,
    empty_text: str = "",
    key: str = "",
    extra: Sequence[tuple[Series, Formatter]] = (),
) -> Chart:
    """One line per series over the ``labels`` (periods); ``None`` values leave gaps."""
    return _chart(
        kind="line",
        title=title,
        desc=desc,
        labels=labels,
        series=series,
        fmt=fmt,
        y_max=y_max,
        y_label=y_label,
        category=category,
        width=width,
        height=height,
        empty_text=empty_text,
        key=key,
        extra=extra,
    )


def bar_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = plain,
    y_max: float | None = None,
    y_label: str = "",
    category: str = "",
    width: int = 640,
    height: int = 240,
    empty_text: str = "",
    key: str = "",
    extra: Sequence[tuple[Series, Formatter]] = (),
) -> Chart:
    """Grouped bars, one per series in each period."""
    return _chart(
        kind="bar",
        title=title,
        desc=desc,
        labels=labels,
        series=series,
        fmt=fmt,
        y_max=y_max,
        y_label=y_label,
        category=category,
        width=width,
        height=height,
        empty_text=empty_text,
        key=key,
        extra=extra,
    )
