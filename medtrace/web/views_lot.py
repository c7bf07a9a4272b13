"""Lot and container pages (where a lot or a case went: graph, units by holder, CSV/XLSX), and
the unit's genealogy graph as an SVG fragment.

Thin: the trace selectors (``trace.impact``, ``trace.graph``) read, ``impact_svg`` and
``genealogy_svg`` lay the graphs out, the templates draw. Partner users get their own part of
a trace only (the selectors scope every row); a lot that reached none of their units is a 404.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy, pgettext

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError
from medtrace.exports.tabular import Column, export_response, wants_export
from medtrace.masterdata.models import PartyRole
from medtrace.trace.impact import Impact, Reached, lot_impact
from medtrace.trace.kinds import epc_kind, is_class_level

from . import impact_svg
from .genealogy_svg import genealogy_context
from .links import page_url

# Units listed per holder on the page (all of them in the download or the holder's own list).
UNITS_PER_HOLDER = 8
HOLDERS_SHOWN = 25  # ?holders=all lists every holder (up to ALL_HOLDERS)
ALL_HOLDERS = 5000
HOLDER_PAGE = 1000


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _error(request: HttpRequest, ident: str, exc: MedtraceError) -> HttpResponse:
    context = {"scan_code": ident, "ident": ident, "error": exc.message}
    return render(request, "web/trace_error.html", context, status=exc.status)


# Opening a recall from the page ----------------------------------------------------------------


def recall_url(user: User | None, impact: Impact) -> str:
    """The recall form prefilled with this lot or container, for those who may open one.

    A lot of one of our products is the lot scope; a supplier's component lot (a material's
    GTIN, or a material lot without one) the supplier-lot scope; a case or pallet the serials
    scope (what is packed in it).
    """
    if user is None or user.party_id is not None or not user.has_perm("recalls.add_recallcampaign"):
        return ""
    facts = impact.facts
    params: dict[str, Any]
    if facts.kind == "container":
        params = {"kind": "serials", "id": facts.epc}
    elif facts.material is not None:
        params = {"kind": "supplier_lot", "id": facts.lot or facts.epc}
        if facts.material.get("id"):
            params["material_id"] = facts.material["id"]
        if facts.gtin:
            params["id"] = facts.epc  # the lot's own UDI names material and lot at once
            params.pop("material_id", None)
    else:
        params = {"kind": "lot", "id": facts.epc}
    return f"{reverse('recalls:new')}?{urlencode(params)}"


# Download --------------------------------------------------------------------------------------


def _columns(impact: Impact) -> list[Column]:
    def holder(field: str) -> Any:
        return lambda r: impact.holder_of(r).get(field)

    return [
        Column(gettext_lazy("holder"), holder("name")),
        Column(gettext_lazy("holder GLN"), holder("gln")),
        Column(gettext_lazy("holder role"), holder("role")),
        Column(
            gettext_lazy("location"),
            lambda r: impact.locations.get(r.location or "", r.location),
        ),
        Column("EPC", "epc"),
        Column(gettext_lazy("product"), impact.name_of),
        Column("GTIN", "gtin"),
        Column(gettext_lazy("serial"), "serial"),
        Column(gettext_lazy("lot"), "lot"),
        Column(gettext_lazy("expiry date"), "expiry"),
        Column(gettext_lazy("disposition"), "disposition"),
        Column(gettext_lazy("packed in"), "container"),
        Column(gettext_lazy("level"), "layer"),
        Column(gettext_lazy("affected now"), "current"),
    ]


def _download(request: HttpRequest, impact: Impact, holder: str | None) -> HttpResponse:
    rows: list[Reached] = [
        r
        for r in impact.affected
        if (r.current or impact.include_history)
        and (holder is None or impact.holder_key(r) == holder)
    ]
    rows.sort(key=lambda r: (impact.holder_of(r).get("name") or "", r.epc))
    name = (impact.facts.lot or impact.facts.sscc or "trace").replace("/", "-")
    title = pgettext("lot page", "Affected units")
    filename = f"{'container' if impact.facts.kind == 'container' else 'lot'}-{name}"
    response = export_response(request, rows, _columns(impact), filename, title=title)
    return cast(HttpResponse, response)


# Pages -----------------------------------------------------------------------------------------


def impact_page(request: HttpRequest, expected: str) -> HttpResponse:
    """The lot (``expected='lot'``) or container page of ``?id=``; a target of the other kind
    is sent to its own page, a unit to the unit page."""
    ident = request.GET.get("id", "").strip()
    history = request.GET.get("include_history") == "true"
    holder = request.GET.get("holder")
    user = _user(request)
    try:
        impact = lot_impact(id=ident, user=user, include_history=history)
    except MedtraceError as exc:
        if exc.field == "id" and exc.details and isinstance(exc.details, dict):
            epc = exc.details.get("epc")
            if exc.status == 422 and isinstance(epc, str) and exc.details.get("kind"):
                return redirect(page_url(epc, epc_kind(epc)))  # a unit: its own page
        return _error(request, ident, exc)
    kind = impact.facts.kind
    if kind != expected:
        url = page_url(impact.target.epc, kind)
        if history:
            url += "&include_history=true"
        return redirect(url)
    if wants_export(request):
        return _download(request, impact, holder)
    roles = dict(PartyRole.choices)
    for info in impact.holders.values():
        info["role_label"] = roles.get(info.get("role") or "", info.get("role") or "")
    base = page_url(impact.target.epc, kind) + ("&include_history=true" if history else "")
    groups = impact.groups(units_per_holder=UNITS_PER_HOLDER)
    shown = ALL_HOLDERS if request.GET.get("holders") == "all" else HOLDERS_SHOWN
    selected = None
    if holder is not None:
        found = impact.groups(units_per_holder=HOLDER_PAGE, holder=holder)
        selected = found[0] if found else None
    past = impact.groups(units_per_holder=UNITS_PER_HOLDER, current=False) if history else []
    query = {"id": impact.target.epc}
    if history:
        query["include_history"] = "true"
    if holder is not None:
        query["holder"] = holder
    export_query = urlencode(query)
    context = {
        "scan_code": ident,
        "impact": impact,
        "facts": impact.facts,
        "graph": impact_svg.build(impact, base=base),
        "groups": groups[:shown],
        "groups_hidden": max(0, len(groups) - shown),
        "holder_count": len(groups),
        "selected": selected,
        "selected_rows": _unit_rows(impact, selected.units) if selected else [],
        "selected_key": holder,
        "past": past,
        "past_count": sum(g.count for g in past),
        "history": history,
        "base": base,
        "csv_url": f"?{export_query}&format=csv",
        "xlsx_url": f"?{export_query}&format=xlsx",
        "api_url": f"/api/v1/trace/forward?{urlencode({'id': impact.target.epc})}",
        "recall_url": recall_url(user, impact),
        "container_holder": _container_holder(impact),
        "is_class": is_class_level(impact.target.kind),
        "quantities": _quantity_rows(impact),
        "trace_url": reverse("web:trace"),
        "lot_url": reverse("web:lot"),
        "container_url": reverse("web:container"),
    }
    return render(request, "web/lot.html", context)


def _quantity_rows(impact: Impact) -> list[dict[str, Any]]:
    """Lot-tracked goods shipped, by lot and consignee, largest first."""
    rows = []
    for q in impact.quantities:
        holder = impact.holders.get(q["holder"]) or {"id": q["holder"]}
        rows.append(
            {
                "lot": q["epc_class"],
                "own": q["epc_class"] == impact.target.epc,
                "holder": holder,
                "quantity": impact_svg.quantity_text(q["quantity"], q["uom"]),
                "sort": q["quantity"] or 0,
                "shipments": q["shipments"],
            }
        )
    rows.sort(key=lambda r: (not r["own"], -r["sort"], r["lot"]))
    return rows


def _unit_rows(impact: Impact, units: list[Reached]) -> list[dict[str, Any]]:
    return [
        {
            "epc": r.epc,
            "product": impact.name_of(r),
            "serial": r.serial,
            "lot": r.lot,
            "location": impact.locations.get(r.location or "", r.location),
            "disposition": r.disposition,
            "container": r.container,
        }
        for r in units
    ]


def _container_holder(impact: Impact) -> dict[str, Any] | None:
    state = impact.facts.state
    if not state:
        return None
    value = state.get("possessing_party") or state.get("owning_party")
    holder = impact.holders.get(value) if value else None
    location = state.get("biz_location")
    return {
        "holder": holder,
        "location": impact.locations.get(location, location) if location else None,
        "disposition": state.get("disposition"),
        "container": state.get("container"),
    }


@login_required
def lot_page(request: HttpRequest) -> HttpResponse:
    """``/trace/lot/?id=<lot>``: any spelling of a lot (UDI with (01)+(10), LGTIN URN...)."""
    return impact_page(request, "lot")


@login_required
def container_page(request: HttpRequest) -> HttpResponse:
    """``/trace/container/?id=<SSCC>``: a case or pallet, (00) or its URN."""
    return impact_page(request, "container")


@login_required
def genealogy_fragment(request: HttpRequest) -> HttpResponse:
    """The unit's genealogy graph alone: the HTML fragment the page's script swaps in when a
    node is expanded, or (``?format=svg``) a standalone SVG document."""
    ident = request.GET.get("id", "").strip()
    try:
        context = genealogy_context(request, ident)
    except MedtraceError as exc:
        return render(
            request, "web/_genealogy.html", {"graph_error": exc.message}, status=exc.status
        )
    if request.GET.get("format") == "svg":
        response = render(request, "web/_genealogy_svg.svg", context, content_type="image/svg+xml")
        response["Content-Disposition"] = "inline"
        return response
    return render(request, "web/_genealogy.html", context)
