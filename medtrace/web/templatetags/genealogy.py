"""``{% genealogy_graph epc %}``: the unit's genealogy graph on any page (web/_genealogy.html)."""

from __future__ import annotations

from typing import Any

from django import template

from medtrace.errors import MedtraceError
from medtrace.web.genealogy_svg import genealogy_context

register = template.Library()


@register.inclusion_tag("web/_genealogy.html", takes_context=True)
def genealogy_graph(context: template.Context, epc: str) -> dict[str, Any]:
    """The graph of ``epc``, expanded as the page's ``?expand=`` asks."""
    try:
        return genealogy_context(context["request"], epc)
    except MedtraceError as exc:
        return {"graph_error": exc.message}
