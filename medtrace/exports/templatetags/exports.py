"""``{% export_links %}``: "Export CSV / Export XLSX" links for the current list page, carrying
its filters (the query string) so the download holds exactly what the page lists."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("exports/_links.html", takes_context=True)
def export_links(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    links = {}
    for fmt in ("csv", "xlsx"):
        params = request.GET.copy()
        params["format"] = fmt
        params.pop("page", None)
        links[fmt] = f"{request.path}?{params.urlencode()}"
    return {"csv_url": links["csv"], "xlsx_url": links["xlsx"]}
