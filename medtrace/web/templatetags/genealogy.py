"""``{% genealogy_graph epc %}``: the unit's genealogy graph on any page (web/_genealogy.html)."""

from __future__ import annotations

from typing import Any

from django import template

from medtrace.errors import MedtraceError
from medtrace.web.genealogy_svg import genealogy_context

register = template.Library()


@register.inclusion_tag("web/_genealogy.html", takes_context=True)
def genealogy_graph(
    context: template.Context, epc: str, backward: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The graph of ``epc``, expanded as the page's ``?expand=`` asks. ``backward``: the
    page's own ``trace_backward`` of the unit, reused when it was read with history."""
    try:
        return genealogy_context(context["request"], epc, backward=backward)
    except MedtraceError as exc:
        return {"graph_error": exc.message}
