"""The lot and container pages' graph: the lot, what it went into, who holds it now.

Columns left to right: the lot (or container); then, level by level, what the walk reached,
grouped by product (``IP-300 × 5,000``); last, the holders of the affected units. Links carry
how many objects went from one group to the next. Groups are what make a 10k-unit trace
readable and keep the drawing bounded: at most ``MAX_GROUPS`` boxes per column and
``MAX_HOLDERS`` holders, the rest in one "+N more" box.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from medtrace.trace.impact import CONTAINER, LOT, Impact, Reached

from .links import page_url
from .svg_layout import Box, Drawing, clip, layered

MAX_GROUPS = 8
MAX_HOLDERS = 10
_COLS = 26

GroupKey = tuple[int, str, Any]


def _n(value: int) -> str:
    return number_format(value, force_grouping=True)


def _units(count: int) -> str:
    return ngettext("%(n)s unit", "%(n)s units", count) % {"n": _n(count)}


def _layers(impact: Impact) -> dict[str, int]:
    """Each object's column: its walk depth, pushed right so that whatever it went into sits
    further right (a lot consumed into boards and, directly, into the pumps those boards went
    into would otherwise draw a pump beside its board)."""
    layer = {r.epc: r.layer for r in impact.reached}
    pairs = [
        (r.epc, above)
        for r in impact.reached
        if (above := r.part_of or r.was_in) is not None and above in layer
    ]
    # Usually one pass settles it (what a unit went into was reached one level further up);
    # each further pass pushes one more level, and the walk is at most MAX_DEPTH deep.
    for _pass in range(40):
        moved = False
        for epc, above in pairs:
            if layer[above] <= layer[epc]:
                layer[above] = layer[epc] + 1
                moved = True
        if not moved:
            break
    return layer


def _group_box(key: GroupKey, rows: list[Reached], impact: Impact, base: str) -> Box:
    first = rows[0]
    count = len(rows)
    if key[1] == CONTAINER:
        name = pgettext("trace graph", "Cases and pallets")
    elif key[1] == LOT:
        name = impact.name_of(first) or pgettext("trace graph", "Lot")
    else:
        name = impact.name_of(first) or pgettext("trace graph", "Components")
    if count == 1:
        ident = first.serial or first.lot or first.epc.rsplit(":", 1)[-1]
        if key[1] == LOT:
            ident = f"{pgettext('trace graph', 'Lot')} {first.lot or ident}"
        detail = clip(ident, _COLS)
        href = page_url(first.epc, "lot" if key[1] == LOT else first.kind)
        if key[1] == CONTAINER:
            href = page_url(first.epc, "container")
    else:
        detail = _("× %(n)s") % {"n": _n(count)}
        href = f"{base}#units"
    gone = sum(1 for r in rows if not r.current)
    title = f"{name}: {_n(count)}"
    if gone:
        title += " · " + _("%(n)s no longer") % {"n": _n(gone)}
    css = f"node {key[1]}" + (" removed" if gone == count else "")
    return Box(
        key=f"g:{key[0]}:{key[1]}:{key[2]}",
        lines=[clip(name, _COLS), detail],
        title=title,
        css=css,
        href=href,
        dashed=gone == count,
    )


def _holder_label(holder: dict[str, Any]) -> str:
    return holder.get("name") or holder.get("gln") or holder.get("id") or _("holder unknown")


def build(impact: Impact, *, base: str) -> Drawing:
    """The drawing of ``impact``; ``base`` is the page URL (holder boxes filter its table)."""
    layers = _layers(impact)
    groups: dict[GroupKey, list[Reached]] = defaultdict(list)
    key_of: dict[str, GroupKey] = {}
    for row in impact.reached:
        kind = row.kind
        if kind == LOT:
            key: GroupKey = (layers[row.epc], LOT, row.epc)
        elif kind == CONTAINER:
            key = (layers[row.epc], CONTAINER, "")
        else:
            product: Any = row.product_id if row.product_id is not None else row.gtin or ""
            key = (layers[row.epc], kind, product)
        groups[key].append(row)
        key_of[row.epc] = key

    start = impact.facts
    start_name = (
        (start.product or {}).get("name")
        or (start.material or {}).get("name")
        or (_("Container") if start.kind == "container" else pgettext("trace graph", "Lot"))
    )
    ident = start.lot or start.sscc or start.epc.rsplit(":", 1)[-1]
    root = Box(
        key="start",
        lines=[clip(start_name, _COLS), clip(ident, _COLS)],
        title=f"{start_name} · {start.epc}",
        css=f"node root {start.kind}",
        href=base,
    )
    columns: list[list[Box]] = [[root]]
    shown: dict[GroupKey, str] = {}  # group -> box key (a capped group points at "+N more")
    for layer in sorted({k[0] for k in groups}):
        keys = sorted(
            (k for k in groups if k[0] == layer), key=lambda k: (-len(groups[k]), str(k[2]))
        )
        column = []
        for index, key in enumerate(keys):
            if index == MAX_GROUPS - 1 and len(keys) > MAX_GROUPS:
                rest = keys[index:]
                total = sum(len(groups[k]) for k in rest)
                words = {"n": _n(len(rest)), "units": _n(total)}
                more = Box(
                    key=f"more:{layer}",
                    lines=[_("+%(n)s more groups") % words, _("× %(n)s") % {"n": words["units"]}],
                    title=_("%(n)s more groups, %(units)s objects") % words,
                    css="node more",
                    href=f"{base}#units",
                )
                column.append(more)
                for k in rest:
                    shown[k] = more.key
                break
            box = _group_box(key, groups[key], impact, base)
            shown[key] = box.key
            column.append(box)
        columns.append(column)

    # Links between groups, counted per pair (and apart for edges no longer in force).
    flows: Counter[tuple[str, str, bool]] = Counter()
    for row in impact.reached:
        here = shown[key_of[row.epc]]
        if row.part_of is not None and row.part_of in key_of:
            flows[(here, shown[key_of[row.part_of]], not row.current)] += 1
        elif row.was_in is not None and row.was_in in key_of:
            flows[(here, shown[key_of[row.was_in]], True)] += 1
        elif row.packed_in is not None and row.packed_in in key_of:
            flows[(shown[key_of[row.packed_in]], here, not row.current)] += 1
        if row.layer == 1 and (row.packed_in is None or row.packed_in == start.epc):
            flows[("start", here, not row.current)] += 1

    holder_column, shipped = _holders(impact, shown, key_of, flows, base)
    if holder_column:
        columns.append(holder_column)
    edges = [(a, b, _n(n), dashed) for (a, b, dashed), n in sorted(flows.items())]
    return layered(columns, edges + shipped)


def quantity_text(quantity: Any, uom: str) -> str:
    """A shipped quantity as people write it: 200 EA, 1.5 KGM (no trailing zeros)."""
    if quantity is None:
        return uom
    text = format(Decimal(quantity).normalize(), "f")
    return f"{number_format(text, force_grouping=True)} {uom}".strip()


def _holders(
    impact: Impact,
    shown: dict[GroupKey, str],
    key_of: dict[str, GroupKey],
    flows: Counter[tuple[str, str, bool]],
    base: str,
) -> tuple[list[Box], list[tuple[str, str, str, bool]]]:
    """The holders' column: the parties holding affected units (counted into ``flows``) and
    those a lot-tracked lot was shipped to (links labelled with the quantity)."""
    counts: Counter[str] = Counter()
    info: dict[str, dict[str, Any]] = {}
    for row in impact.affected:
        if row.current:
            key = impact.holder_key(row)
            counts[key] += 1
            if key not in info:
                info[key] = impact.holder_of(row)
    shipped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in impact.quantities:
        holder = impact.holders.get(q["holder"]) or {"id": q["holder"]}
        key = holder.get("gln") or q["holder"]
        shipped[key].append(q)
        info.setdefault(key, holder)
    ranked = sorted(set(counts) | set(shipped), key=lambda k: (-counts[k], -len(shipped[k]), k))
    top = ranked[: MAX_HOLDERS - 1] if len(ranked) > MAX_HOLDERS else ranked
    box_of: dict[str, str] = {}
    column = []
    for key in top:
        holder = info[key]
        name = _holder_label(holder)
        role = holder.get("role") or ""
        amount = (
            _units(counts[key])
            if counts[key]
            else ", ".join(quantity_text(q["quantity"], q["uom"]) for q in shipped[key])
        )
        box = Box(
            key=f"h:{key}",
            lines=[clip(name, _COLS), clip(amount, _COLS)],
            title=" · ".join(p for p in (name, role, holder.get("gln") or "") if p) + f": {amount}",
            css="node holder",
            href=f"{base}&{urlencode({'holder': key})}#units",
        )
        box_of[key] = box.key
        column.append(box)
    rest = ranked[len(top) :]
    if rest:
        total = sum(counts[k] for k in rest)
        words = {"n": _n(len(rest)), "units": _n(total)}
        more = Box(
            key="h:more",
            lines=[_("+%(n)s more holders") % words, _units(total)],
            title=_("%(n)s more holders, %(units)s units") % words,
            css="node holder more",
            href=f"{base}#units",
        )
        column.append(more)
        for key in rest:
            box_of[key] = more.key
    for row in impact.affected:
        if row.current:
            flows[(shown[key_of[row.epc]], box_of[impact.holder_key(row)], False)] += 1
    edges = []
    for key, quantities in shipped.items():
        for q in quantities:
            if q["epc_class"] == impact.target.epc:
                source = "start"
            elif q["epc_class"] in key_of:
                source = shown[key_of[q["epc_class"]]]
            else:
                continue
            edges.append((source, box_of[key], quantity_text(q["quantity"], q["uom"]), False))
    return column, edges
