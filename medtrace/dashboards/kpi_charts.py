"""The KPI dashboard's charts, built from ``trace.kpi_series.kpi_series`` (one chart per KPI,
its figures per period in the chart's data table)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .charts import Chart, Formatter, Series, bar_chart, line_chart, percent, plain


def hours(value: float | int) -> str:
    return _("%(h)s h") % {"h": plain(value)}


def _values(series: list[dict[str, Any]], *path: str) -> list[Any]:
    out = []
    for point in series:
        value: Any = point
        for step in path:
            value = value[step]
        out.append(value)
    return out


def _count(name: str, series: list[dict[str, Any]], *path: str) -> tuple[Series, Formatter]:
    return Series(name, _values(series, *path)), plain


def completeness_chart(data: dict[str, Any], labels: list[str]) -> Chart:
    s = data["series"]
    return line_chart(
        key="completeness",
        title=_("Trace-data completeness"),
        desc=_(
            "Share of the serialized units made in each period that have every lifecycle node "
            "their stage requires (commissioning; QC release and shipment once shipped; the "
            "customer's receipt once held by a customer)."
        ),
        labels=labels,
        series=[Series(pgettext("kpi chart", "units complete"), _values(s, "rate"))],
        fmt=percent,
        y_max=1,
        category=pgettext("kpi chart", "Period"),
        empty_text=_("No units made in this range."),
        extra=[
            _count(pgettext("kpi chart", "units made"), s, "units"),
            _count(pgettext("kpi chart", "complete"), s, "complete"),
            _count(pgettext("kpi chart", "no commissioning"), s, "missing", "commissioning"),
            _count(pgettext("kpi chart", "no QC release"), s, "missing", "release"),
            _count(pgettext("kpi chart", "no shipment record"), s, "missing", "shipment"),
            _count(pgettext("kpi chart", "no receipt"), s, "missing", "receipt"),
        ],
    )


def binding_chart(data: dict[str, Any], labels: list[str]) -> Chart:
    s = data["series"]
    return line_chart(
        key="binding",
        title=_("Serial-binding accuracy"),
        desc=_(
            "Share of the binding scans of each period (commissioning, assembling, packing) "
            "neither refused at capture nor later corrected by an error declaration."
        ),
        labels=labels,
        series=[Series(pgettext("kpi chart", "accuracy"), _values(s, "rate"))],
        fmt=percent,
        y_max=1,
        category=pgettext("kpi chart", "Period"),
        empty_text=_("No binding scans in this range."),
        extra=[
            _count(pgettext("kpi chart", "binding scans"), s, "bindings"),
            _count(pgettext("kpi chart", "refused"), s, "refused"),
            _count(pgettext("kpi chart", "corrected"), s, "corrected"),
        ],
    )


def recall_chart(data: dict[str, Any], labels: list[str]) -> Chart:
    s = data["series"]
    legs = (
        ("complaint_to_decision", pgettext("kpi chart", "complaint → decision")),
        ("decision_to_all_notified", pgettext("kpi chart", "decision → all notified")),
        (
            "all_notified_to_all_acknowledged",
            pgettext("kpi chart", "all notified → all acknowledged"),
        ),
    )
    return line_chart(
        key="recall",
        title=_("Recall response time (median hours)"),
        desc=_(
            "Median hours of each leg of the real recalls (drills apart), in the period the "
            "leg ended."
        ),
        labels=labels,
        series=[Series(name, _values(s, leg, "median_hours")) for leg, name in legs],
        fmt=hours,
        category=pgettext("kpi chart", "Period"),
        empty_text=_("No recall step ended in this range."),
        extra=[
            *(
                _count(pgettext("kpi chart", "%(leg)s: count") % {"leg": name}, s, leg, "count")
                for leg, name in legs
            ),
            (
                Series(
                    pgettext("kpi chart", "drills: median"), _values(s, "drills", "median_hours")
                ),
                hours,
            ),
        ],
    )


def after_sales_chart(data: dict[str, Any], labels: list[str]) -> Chart:
    s = data["series"]
    return line_chart(
        key="after-sales",
        title=_("After-sales handling time"),
        desc=_(
            "Median and mean hours from a service ticket's opening to its resolution, for the "
            "tickets resolved in each period."
        ),
        labels=labels,
        series=[
            Series(pgettext("kpi chart", "median"), _values(s, "median_hours")),
            Series(pgettext("kpi chart", "mean"), _values(s, "mean_hours")),
        ],
        fmt=hours,
        category=pgettext("kpi chart", "Period"),
        empty_text=_("No ticket resolved in this range."),
        extra=[_count(pgettext("kpi chart", "tickets resolved"), s, "count")],
    )


def false_alarm_chart(data: dict[str, Any], labels: list[str]) -> Chart:
    s = data["series"]
    return line_chart(
        key="false-alarms",
        title=_("False-alarm rate"),
        desc=_(
            "Alerts dismissed as false alarms over the alerts concluded (resolved or "
            "dismissed), by the period the alert was raised."
        ),
        labels=labels,
        series=[Series(pgettext("kpi chart", "false alarms"), _values(s, "rate"))],
        fmt=percent,
        y_max=1,
        category=pgettext("kpi chart", "Period"),
        empty_text=_("No alert concluded in this range."),
        extra=[
            _count(pgettext("kpi chart", "alerts raised"), s, "alerts"),
            _count(pgettext("kpi chart", "still open"), s, "open"),
            _count(pgettext("kpi chart", "resolved"), s, "resolved"),
            _count(pgettext("kpi chart", "dismissed as false alarms"), s, "dismissed_false"),
        ],
    )


def audit_chart(data: dict[str, Any], labels: list[str]) -> Chart:
    s = data["series"]
    return bar_chart(
        key="audit",
        title=_("Audit trail entries"),
        desc=_(
            "Audit-trail entries written in each period, with the checkpoints signed and the "
            "failed verifications in the data table."
        ),
        labels=labels,
        series=[Series(pgettext("kpi chart", "entries"), _values(s, "entries"))],
        category=pgettext("kpi chart", "Period"),
        empty_text=_("No audit entries in this range."),
        extra=[
            _count(pgettext("kpi chart", "checkpoints signed"), s, "checkpoints"),
            _count(pgettext("kpi chart", "failed verifications"), s, "failed_verifications"),
        ],
    )


def kpi_charts(data: dict[str, Any]) -> dict[str, Chart]:
    labels = [
        p["period"] if data["granularity"] == "month" else p["period"][5:] for p in data["periods"]
    ]
    return {
        "completeness": completeness_chart(data["trace_completeness"], labels),
        "binding": binding_chart(data["serial_binding_accuracy"], labels),
        "recall": recall_chart(data["recall_response_time"], labels),
        "after_sales": after_sales_chart(data["after_sales_handling_time"], labels),
        "false_alarms": false_alarm_chart(data["alert_false_alarm_rate"], labels),
        "audit": audit_chart(data["audit_chain"], labels),
    }
