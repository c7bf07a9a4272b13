"""Server-side layout of the graphs drawn as SVG: boxes, their places and the links between.

Pure Python, no Django: the unit's genealogy graph (``genealogy_svg``) and the lot page's
trace graph (``impact_svg``) build ``Box`` trees or layers, this module gives every box its
x and y, and the templates only draw.

- ``tidy_tree``: a layered tree (Reingold-Tilford in its simple form): leaves take the next free
  column, a parent sits centred over its children, each depth is one row. Two trees grow from
  the same root, one downwards (parts) and one upwards (containers), aligned on the root.
- ``layered``: columns of boxes left to right (a lot, what it went into, the holders), each
  column centred vertically, links between boxes of neighbouring columns.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

BOX_W, BOX_H = 176, 58
GAP_X, GAP_Y = 18, 46
PAD = 12


def text_width(text: str) -> int:
    """Display width in half-width columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` half-width columns, with an ellipsis when cut."""
    if text_width(text) <= columns:
        return text
    out, used = [], 0
    for char in text:
        width = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used + width > columns - 1:
            break
        out.append(char)
        used += width
    return "".join(out) + "…"


@dataclass
class Box:
    """One drawn node. ``lines`` are its text lines (first one bold); ``title`` is the full
    description read by screen readers and shown on hover."""

    key: str
    lines: list[str]
    title: str
    css: str = ""  # space-separated classes: root, lot, container, more, removed...
    href: str = ""  # open it
    expand_href: str = ""  # expand or collapse it (no-JS page URL)
    expand_fragment: str = ""  # the same for the script (graph fragment URL)
    expand_label: str = ""  # "+3" / "−"
    expand_title: str = ""
    children: list[Box] = field(default_factory=list)
    dashed: bool = False  # the link to its parent ended (removed part, unpacked case)
    x: float = 0.0
    y: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def cx(self) -> float:
        return self.x + BOX_W / 2

    @property
    def transform(self) -> str:
        return f"translate({self.x:.1f},{self.y:.1f})"

    @property
    def text_lines(self) -> list[tuple[int, str]]:
        """(y offset, text) of each line, for the template."""
        first = 19 if len(self.lines) > 2 else 24
        return [(first + 16 * i, line) for i, line in enumerate(self.lines[:3])]


@dataclass
class Link:
    path: str
    dashed: bool = False
    css: str = ""
    label: str = ""
    label_x: float = 0.0
    label_y: float = 0.0

    @property
    def label_at(self) -> tuple[str, str]:
        return f"{self.label_x:.1f}", f"{self.label_y:.1f}"


@dataclass
class Drawing:
    width: float
    height: float
    boxes: list[Box]
    links: list[Link]

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width:.0f} {self.height:.0f}"

    @property
    def size(self) -> tuple[int, int]:
        return int(self.width), int(self.height)

    box_w = BOX_W
    box_h = BOX_H


def _place(node: Box, depth: int, next_col: list[float], sign: int) -> None:
    """Post-order: leaves in the next free column, parents centred over their children."""
    node.y = sign * depth * (BOX_H + GAP_Y)
    if not node.children:
        node.x = next_col[0]
        next_col[0] += BOX_W + GAP_X
        return
    for child in node.children:
        _place(child, depth + 1, next_col, sign)
    node.x = (node.children[0].x + node.children[-1].x) / 2


def _walk(node: Box) -> Iterable[Box]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    mid = (y1 + y2) / 2
    return f"M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"


def tidy_tree(root: Box, below: list[Box], above: list[Box]) -> Drawing:
    """``root`` in the middle, ``below`` growing down, ``above`` growing up."""
    down = Box(root.key, [], "", children=below)
    up = Box(root.key, [], "", children=above)
    _place(down, 0, [0.0], 1)
    _place(up, 0, [0.0], -1)
    shift_up = down.x - up.x
    for node in _walk(up):
        node.x += shift_up
    root.x, root.y = down.x, 0.0
    boxes = [root]
    links: list[Link] = []
    for child in below:
        for node in _walk(child):
            boxes.append(node)
    for child in above:
        for node in _walk(child):
            boxes.append(node)

    def connect(parent: Box, children: list[Box], downwards: bool) -> None:
        for child in children:
            if downwards:
                path = _curve(parent.cx, parent.y + BOX_H, child.cx, child.y)
            else:
                path = _curve(parent.cx, parent.y, child.cx, child.y + BOX_H)
            links.append(Link(path, child.dashed, "removed" if child.dashed else ""))
            connect(child, child.children, downwards)

    connect(root, below, True)
    connect(root, above, False)
    return _normalise(boxes, links)


def _normalise(boxes: list[Box], links: list[Link]) -> Drawing:
    """Move everything into positive coordinates with a margin (links are re-drawn)."""
    min_x = min(b.x for b in boxes)
    min_y = min(b.y for b in boxes)
    dx, dy = PAD - min_x, PAD - min_y
    for box in boxes:
        box.x += dx
        box.y += dy
    for link in links:
        link.path = _shift_path(link.path, dx, dy)
        link.label_x += dx
        link.label_y += dy
    width = max(b.x for b in boxes) + BOX_W + PAD
    height = max(b.y for b in boxes) + BOX_H + PAD
    return Drawing(width, height, boxes, links)


def _shift_path(path: str, dx: float, dy: float) -> str:
    out = []
    for token in path.split(" "):
        command = token[0] if token[0].isalpha() else ""
        x, y = token[len(command) :].split(",")
        out.append(f"{command}{float(x) + dx:.1f},{float(y) + dy:.1f}")
    return " ".join(out)


def layered(columns: list[list[Box]], edges: list[tuple[str, str, str, bool]]) -> Drawing:
    """Columns of boxes left to right; ``edges`` are (from key, to key, label, dashed)."""
    gap_col = 84
    tallest = max((len(c) for c in columns), default=1)
    full = tallest * (BOX_H + 14) - 14
    by_key: dict[str, Box] = {}
    boxes: list[Box] = []
    for index, column in enumerate(columns):
        height = len(column) * (BOX_H + 14) - 14
        top = (full - height) / 2
        for row, box in enumerate(column):
            box.x = index * (BOX_W + gap_col)
            box.y = top + row * (BOX_H + 14)
            by_key[box.key] = box
            boxes.append(box)
    links = []
    for source, target, label, dashed in edges:
        a, b = by_key.get(source), by_key.get(target)
        if a is None or b is None:
            continue
        x1, y1 = a.x + BOX_W, a.y + BOX_H / 2
        x2, y2 = b.x, b.y + BOX_H / 2
        mid = (x1 + x2) / 2
        path = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        links.append(Link(path, dashed, "removed" if dashed else "", label, mid, (y1 + y2) / 2 - 3))
    if not boxes:
        return Drawing(2 * PAD, 2 * PAD, [], [])
    return _normalise(boxes, links)
