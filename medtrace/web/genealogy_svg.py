"""The unit's genealogy graph as server-rendered SVG: containers above, parts below.

``genealogy_context(request, id)`` gives the template ``web/_genealogy.html`` everything it
draws. The unit sits in the middle; its direct parts below and its containers (case, pallet)
above are shown at first; a node with more behind it has a "+" control that expands it (the
``expand`` query parameter lists expanded nodes; the script swaps in the graph fragment, and
without a script the link reloads the page). Clicking a node's box opens its own page: a unit,
a lot, a container.

Bounded whatever the genealogy: at most ``MAX_CHILDREN`` children per node (a "+N more" box
shows all of that node's, up to ``MAX_ALL``) and ``MAX_BOXES`` in all. Removed parts and
unpacked containers are drawn dashed with the dates they were in and out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from medtrace.accounts.models import User
from medtrace.lib import udi
from medtrace.trace.graph import GraphNode, UnitGraph, unit_graph

from .links import page_url
from .svg_layout import Box, Drawing, clip, tidy_tree

MAX_CHILDREN = 8
MAX_ALL = 40
MAX_BOXES = 90
MAX_EXPAND = 30  # expanded nodes named in one URL
_COLS = 26  # half-width columns of text in a box


def _day(value: str | None) -> str:
    return value[:10] if value else "…"


def _kind_label(node: GraphNode, holds_container: bool = False) -> str:
    if node.type == "container":
        # A container holding containers is a pallet (GS1: a logistic unit of cases).
        if holds_container:
            return pgettext("genealogy node", "Pallet")
        return pgettext("genealogy node", "Case")
    if node.type in ("lot", "class"):
        return pgettext("genealogy node", "Lot")
    return pgettext("genealogy node", "Unit")


def _relation_label(relation: str | None, above: bool) -> str:
    if relation == "aggregated":
        return (
            pgettext("genealogy edge", "packed in")
            if above
            else pgettext("genealogy edge", "packed")
        )
    if relation == "associated":
        return (
            pgettext("genealogy edge", "installed in")
            if above
            else pgettext("genealogy edge", "installed")
        )
    if relation == "transformed":
        return (
            pgettext("genealogy edge", "built into")
            if above
            else pgettext("genealogy edge", "consumed")
        )
    return ""


def _sscc(epc: str) -> str:
    try:
        sscc = udi.parse(epc).sscc
    except udi.UdiError:
        sscc = None
    return f"SSCC {sscc}" if sscc else epc.rsplit(":", 1)[-1]


def _lines(node: GraphNode, holds_container: bool = False) -> list[str]:
    name = node.name or _kind_label(node, holds_container)
    if node.type == "container":
        ident = _sscc(node.epc)
    elif node.serial:
        ident = f"SN {node.serial}"
    elif node.lot:
        ident = f"{pgettext('genealogy node', 'Lot')} {node.lot}"
    else:
        ident = node.epc.rsplit(":", 1)[-1]
    lines = [clip(name, _COLS), clip(ident, _COLS)]
    if not node.current:
        lines.append(f"{_day(node.valid_from)} – {_day(node.valid_to)}")
    return lines


def _title(node: GraphNode, above: bool, holds_container: bool = False) -> str:
    parts = [node.name or _kind_label(node, holds_container), node.epc]
    relation = _relation_label(node.relation, above)
    if relation:
        parts.append(relation)
    if node.valid_from:
        parts.append(_("in since %(day)s") % {"day": _day(node.valid_from)})
    if not node.current:
        parts.append(
            _("removed %(day)s") % {"day": _day(node.valid_to)}
            if node.relation != "aggregated"
            else _("unpacked %(day)s") % {"day": _day(node.valid_to)}
        )
    if node.disposition:
        parts.append(node.disposition)
    return " · ".join(parts)


@dataclass
class _State:
    root: str
    expanded: list[str]
    show_all: str | None
    base: str  # the page URL without expand/all
    fragment: str  # the fragment URL without expand/all
    boxes: int = 0

    def urls(self, expanded: Sequence[str], show_all: str | None) -> tuple[str, str]:
        params: list[tuple[str, str]] = [("expand", e) for e in expanded[:MAX_EXPAND]]
        if show_all:
            params.append(("all", show_all))
        query = urlencode(params)
        sep_page = "&" if "?" in self.base else "?"
        page = f"{self.base}{sep_page}{query}#genealogy" if query else f"{self.base}#genealogy"
        return page, f"{self.fragment}&{query}" if query else self.fragment


def _boxes(
    nodes: list[GraphNode],
    state: _State,
    *,
    above: bool,
    depth: int,
    parent: str,
    parent_is_container: bool = False,
) -> list[Box]:
    limit = MAX_ALL if parent == state.show_all else MAX_CHILDREN
    out: list[Box] = []
    for index, node in enumerate(nodes):
        if state.boxes >= MAX_BOXES or (index >= limit - 1 and len(nodes) > limit):
            out.append(_more(nodes[index:], parent, state))
            break
        state.boxes += 1
        css = ["node", node.type]
        if not node.current:
            css.append("removed")
        # Above, a container holds what is drawn below it; below, what is drawn under it.
        if above:
            holds_container = parent_is_container
        else:
            holds_container = any(c.type == "container" for c in node.children)
        box = Box(
            key=node.epc,
            lines=_lines(node, holds_container),
            title=_title(node, above, holds_container),
            css=" ".join(css),
            href=page_url(node.epc, node.type),
            dashed=not node.current,
        )
        if node.children:
            # Containers above are shown to the top (a case, its pallet); parts one level deep
            # until the person expands them.
            if above or node.epc in state.expanded:
                box.children = _boxes(
                    node.children,
                    state,
                    above=above,
                    depth=depth + 1,
                    parent=node.epc,
                    parent_is_container=node.type == "container",
                )
            if node.epc in state.expanded:
                others = [e for e in state.expanded if e != node.epc]
                box.expand_label = "−"
                box.expand_title = _("Collapse %(name)s") % {"name": node.name or node.epc}
                box.expand_href, box.expand_fragment = state.urls(others, state.show_all)
            elif not above:
                box.expand_label = f"+{len(node.children)}"
                box.expand_title = _("Expand %(name)s: %(n)s more") % {
                    "name": node.name or node.epc,
                    "n": len(node.children),
                }
                box.expand_href, box.expand_fragment = state.urls(
                    [*state.expanded, node.epc], state.show_all
                )
        out.append(box)
    return out


def _more(rest: list[GraphNode], parent: str, state: _State) -> Box:
    box = Box(
        key=f"more:{parent}:{rest[0].epc}",
        lines=[_("+%(n)s more") % {"n": len(rest)}],
        title=_("%(n)s more not drawn: show them all") % {"n": len(rest)},
        css="node more",
    )
    box.href, box.expand_fragment = state.urls(state.expanded, parent)
    return box


def build(
    graph: UnitGraph, *, expanded: list[str], show_all: str | None, base: str, fragment: str
) -> Drawing:
    state = _State(graph.root.epc, expanded, show_all, base, fragment)
    pallet = any(n.type == "container" for n in graph.below)
    root = Box(
        key=graph.root.epc,
        lines=_lines(graph.root, pallet),
        title=_title(graph.root, False, pallet),
        css=f"node root {graph.root.type}",
        href=page_url(graph.root.epc, graph.root.type),
    )
    below = _boxes(graph.below, state, above=False, depth=0, parent=graph.root.epc)
    above = _boxes(
        graph.above,
        state,
        above=True,
        depth=0,
        parent=graph.root.epc,
        parent_is_container=graph.root.type == "container",
    )
    return tidy_tree(root, below, above)


def _clean(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v and len(v) <= 512))[:MAX_EXPAND]


def genealogy_context(
    request: HttpRequest,
    epc: str,
    *,
    page: str | None = None,
    backward: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``web/_genealogy.html`` needs to draw the graph of ``epc`` (any identifier the
    trace accepts). ``page`` is the page the graph sits on (default: the unit page);
    ``backward`` the page's own backward trace of the unit, reused if read with history."""
    user = request.user if isinstance(request.user, User) else None
    graph = unit_graph(id=epc, user=user, backward=backward)
    expanded = _clean(request.GET.getlist("expand"))
    show_all = request.GET.get("all") or None
    base = page or page_url(graph.root.epc, "serial")
    fragment = f"{reverse('web:genealogy')}?{urlencode({'id': graph.root.epc})}"
    drawing = build(graph, expanded=expanded, show_all=show_all, base=base, fragment=fragment)
    removed = sum(1 for b in drawing.boxes if b.dashed)
    return {
        "graph": drawing,
        "graph_root": graph.root,
        "graph_removed": removed,
        "graph_is_container": graph.is_container,
        "graph_fragment": fragment,
    }
