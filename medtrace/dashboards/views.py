"""Dashboard pages (issue 8 item 5): the recall dashboard (/recalls/dashboard/), the KPI
dashboard (/kpis/) and "My work" (/work/).

Thin: parse the query string, call one selector, shape its figures for the template. Our own
staff only: a partner gets 403 (its portal is its view). Never cached (``never_cache``): a
dashboard shows the rows as they are at the request, so a notice acknowledged a moment ago
counts at the next load.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.cache import never_cache

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, ValidationFailed
from medtrace.masterdata.models import PartyRole
from medtrace.recalls.views_common import as_datetime, countdown
from medtrace.trace import kpi_series as series_selectors
from medtrace.trace import kpi_trace
from medtrace.trace.kpis import period_from

from . import recall_board, work
from .charts import Series, bar_chart, percent, plain
from .kpi_charts import kpi_charts

View = Callable[..., HttpResponse]
RANGES = ("12w", "26w", "3m", "6m", "12m", "24m")
DEFAULT_RANGE = "12m"


def _forbidden(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "web/forbidden.html", {"message": message}, status=status)


def staff_dashboard(message: Callable[[], str]) -> Callable[[View], View]:
    """Signed-in internal staff; partners get 403 with ``message()``. Never cached."""

    def wrap(view: View) -> View:
        @never_cache
        @login_required
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            assert isinstance(user, User)
            if user.party_id is not None:
                return _forbidden(request, message())
            try:
                return view(request, *args, **kwargs)
            except MedtraceError as exc:
                return _forbidden(request, exc.message, exc.status)

        return inner

    return wrap


def countdown_texts() -> dict[str, Any]:
    """The countdown's wording for the ticking script (same strings as the server's text)."""
    pattern = "%(d)s day %(h)s h"
    plural = "%(d)s days %(h)s h"
    return {
        "day1": ngettext(pattern, plural, 1),
        "days": ngettext(pattern, plural, 2),
        "hm": _("%(h)s h %(m)s min"),
        "m": _("%(m)s min"),
        "left": _("%(span)s left"),
        "overdue": _("overdue by %(span)s"),
        "now": int(timezone.now().timestamp() * 1000),
    }


# The recall dashboard ---------------------------------------------------------------------------


def _clocks(row: recall_board.CampaignRow, now: datetime) -> list[dict[str, Any]]:
    """The campaign's regulatory clocks, then its consignees' acknowledgement deadline."""
    c = row.campaign
    out = []
    for d in c.deadlines or []:
        due = as_datetime(d.get("due"))
        done = c.all_notified_at if d.get("key") == "cn_recall_notify" else None
        out.append(
            {
                "label": _(d["label"]) if d.get("label") else d.get("key", ""),
                "error": d.get("error", ""),
                **countdown(due, done=done, now=now),
            }
        )
    if row.next_ack_due is not None:
        out.append(
            {
                "label": _("next acknowledgement due"),
                "error": "",
                **countdown(row.next_ack_due, now=now),
            }
        )
    if row.notify_due is not None and c.approved_at is not None:
        out.append(
            {"label": _("notify the consignees"), "error": "", **countdown(row.notify_due, now=now)}
        )
    return out


def _classification(c: Any) -> list[str]:
    out = []
    if c.cn_level:
        out.append(c.get_cn_level_display())
    if c.fda_class:
        out.append(_("FDA %(cls)s") % {"cls": c.get_fda_class_display()})
    if c.eu_fsca:
        out.append(_("EU FSCA"))
    return out


def _notice_chart(rows: list[recall_board.CampaignRow]) -> Any:
    shown = [r for r in rows if r.consignees][:12]
    if not shown:
        return None
    return bar_chart(
        key="notices",
        title=_("Notices by campaign"),
        desc=_("Consignees notified, acknowledged and overdue for each campaign listed."),
        labels=[r.campaign.number for r in shown],
        series=[
            Series(pgettext("recall dashboard", "notified"), [r.notified for r in shown]),
            Series(pgettext("recall dashboard", "acknowledged"), [r.acknowledged for r in shown]),
            Series(pgettext("recall dashboard", "overdue"), [r.overdue for r in shown]),
        ],
        category=pgettext("recall dashboard", "Campaign"),
        extra=[
            (
                Series(pgettext("recall dashboard", "consignees"), [r.consignees for r in shown]),
                plain,
            )
        ],
    )


def _region_chart(regions: list[dict[str, Any]]) -> Any:
    shown = regions[:12]
    if not shown:
        return None
    unknown = pgettext("recall dashboard", "unknown")
    labels = [" ".join(x for x in (r["province"], r["city"]) if x) or unknown for r in shown]
    return bar_chart(
        key="regions",
        title=_("Affected units by region"),
        desc=_(
            "Affected units by the holder's province and city, and how many await a disposition."
        ),
        labels=labels,
        series=[
            Series(pgettext("recall dashboard", "affected units"), [r["units"] for r in shown]),
            Series(
                pgettext("recall dashboard", "awaiting a disposition"),
                [r["pending"] for r in shown],
            ),
        ],
        category=pgettext("recall dashboard", "Region"),
    )


@staff_dashboard(lambda: _("The recall dashboard is for our own staff."))
def recall_dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not user.has_perm("recalls.view_recallcampaign"):
        return _forbidden(request, _("You need the permission to read recalls."))
    status = request.GET.get("status", "active")
    drill = request.GET.get("drill", "all")
    campaign = request.GET.get("campaign", "").strip()
    error = None
    try:
        board = recall_board.recall_board(user=user, status=status, drill=drill, campaign=campaign)
    except ValidationFailed as exc:
        error = exc.message
        board = recall_board.recall_board(user=user)
    rows = [
        {
            "r": r,
            "classification": _classification(r.campaign),
            "clocks": _clocks(r, board.now),
        }
        for r in board.campaigns
    ]
    context = {
        "board": board,
        "rows": rows,
        "error": error,
        "notice_chart": _notice_chart(board.campaigns),
        "region_chart": _region_chart(board.regions),
        "countdown": countdown_texts(),
        "has_checks": any(r.checks for r in board.campaigns),
        "role_labels": dict(PartyRole.choices),
        "status_choices": [
            ("active", _("draft or open")),
            ("open", pgettext("recall dashboard filter", "open")),
            ("draft", pgettext("recall dashboard filter", "draft")),
            ("closed", pgettext("recall dashboard filter", "closed")),
            ("all", pgettext("recall dashboard filter", "all")),
        ],
        "drill_choices": [
            ("all", _("recalls and drills")),
            ("no", _("real recalls only")),
            ("yes", _("drills only")),
        ],
    }
    return render(request, "dashboards/recalls.html", context)


# The KPI dashboard ------------------------------------------------------------------------------


def range_dates(value: str, today: date) -> tuple[date, date]:
    """``12w``: the last 12 weeks from a Monday; ``6m``: the last 6 months from a 1st."""
    if value not in RANGES:
        raise ValidationFailed(
            f"range: expected one of {', '.join(RANGES)}, got {value!r}", field="range"
        )
    n = int(value[:-1])
    if value.endswith("w"):
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(weeks=n - 1), today
    month = today.year * 12 + today.month - 1 - (n - 1)
    return date(month // 12, month % 12 + 1, 1), today


AUDIT_STATES: dict[str, Callable[[], str]] = {
    "verified": lambda: pgettext("audit chain", "verified"),
    "failed": lambda: _("verification failed"),
    "not_verified": lambda: _("not verified yet"),
    "disabled": lambda: _("verification switched off"),
    "error": lambda: _("verification could not run"),
}


def _rate(value: float | None) -> str:
    return percent(value) if value is not None else "—"


def _date(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{name}: {raw!r} is not a date; expected YYYY-MM-DD", field=name
        ) from exc


@staff_dashboard(lambda: _("The KPIs are company-wide figures for our own staff."))
def kpi_dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    today = timezone.localdate()
    chosen = request.GET.get("range", DEFAULT_RANGE)
    granularity = request.GET.get("granularity", "month")
    errors: dict[str, str] = {}
    try:
        start, end = _date(request, "from"), _date(request, "to")
        if start is None and end is None:
            start, end = range_dates(chosen, today)
        data = series_selectors.kpi_series(user=user, start=start, end=end, granularity=granularity)
    except ValidationFailed as exc:
        errors[exc.field or "form"] = exc.message
        chosen, granularity = DEFAULT_RANGE, "month"
        start, end = range_dates(chosen, today)
        data = series_selectors.kpi_series(user=user, start=start, end=end)
    period = period_from(start, end)
    audit = data["audit_chain"]
    context = {
        "data": data,
        "completeness_rate": _rate(data["trace_completeness"]["rate"]),
        "binding_rate": _rate(data["serial_binding_accuracy"]["rate"]),
        "audit_state_label": AUDIT_STATES[audit["state"]](),
        "node_labels": {
            "commissioning": pgettext("kpi chart", "no commissioning"),
            "release": pgettext("kpi chart", "no QC release"),
            "shipment": pgettext("kpi chart", "no shipment record"),
            "receipt": pgettext("kpi chart", "no receipt"),
        },
        "charts": kpi_charts(data),
        # Listing examples costs the probes again: only when there is a gap to show.
        "incomplete": kpi_trace.incomplete_units(period)
        if data["trace_completeness"]["complete"] < data["trace_completeness"]["units"]
        else [],
        "audit": audit,
        "errors": errors,
        "filters": {
            "range": chosen,
            "granularity": granularity,
            "from": request.GET.get("from", ""),
            "to": request.GET.get("to", ""),
        },
        "ranges": [
            ("12w", _("last 12 weeks")),
            ("26w", _("last 26 weeks")),
            ("3m", _("last 3 months")),
            ("6m", _("last 6 months")),
            ("12m", _("last 12 months")),
            ("24m", _("last 24 months")),
        ],
        "granularities": [
            ("week", pgettext("kpi dashboard", "by week")),
            ("month", pgettext("kpi dashboard", "by month")),
        ],
        "may_read_audit": user.has_perm("audit.view_auditentry"),
    }
    return render(request, "dashboards/kpis.html", context, status=422 if errors else 200)


# My work ----------------------------------------------------------------------------------------


@staff_dashboard(lambda: _("The work queues are for our own staff; use your portal."))
def my_work(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    data = work.my_work(user=user)
    sections = [
        {
            "s": s,
            "items": [
                {"i": i, "clock": countdown(i.due, now=data.now) if i.due else None}
                for i in s.items
            ],
        }
        for s in data.sections
    ]
    return render(
        request,
        "dashboards/work.html",
        {"work": data, "sections": sections, "countdown": countdown_texts()},
    )


__all__ = ["kpi_dashboard", "my_work", "range_dates", "recall_dashboard"]
