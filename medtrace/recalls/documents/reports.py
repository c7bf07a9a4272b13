"""The content of the regulator reports of a recall, one builder per kind.

- ``cn_report``: 医疗器械召回事件报告表 (医疗器械召回管理办法 第十六条 with 附件);
- ``cn_plan``: 召回计划 (第十七条/第十八条: scope and quantity, reason and hazard, measures,
  schedule with the 1/3/7-day notification, how consignees are notified, how effectiveness is
  evaluated, contact);
- ``cn_summary``: 召回总结 (第二十二条): results per consignee and the effectiveness conclusion;
- ``fda_806``: the report of a correction or removal, 21 CFR 806.10(c) (1)-(12);
- ``eu_fsn``: the Field Safety Notice (MDR Art. 89(8); MDCG 2023-3 template sections).

A builder returns a ``Report``: titled sections of (label, value) fields, optional tables, and
the units and consignees lists. The PDF and XLSX renderers (``render.py``) print the same
content, so the two never disagree. Nothing here reads patient data (DESIGN §8).

The Chinese forms keep their official field names; each label is printed as the Chinese name
followed by its English rendering (a regulator's form is not translated away).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.errors import ValidationFailed

from ..models import (
    ContactResult,
    DeliveryStatus,
    EffectivenessContact,
    NoticeDelivery,
    RecallCampaign,
    UnitStatus,
)
from . import common as c

KINDS = ("cn_report", "cn_plan", "cn_summary", "fda_806", "eu_fsn")
# The language a kind is written in when none is asked for.
DEFAULT_LANGUAGE = {
    "cn_report": "zh-hans",
    "cn_plan": "zh-hans",
    "cn_summary": "zh-hans",
    "fda_806": "en",
    "eu_fsn": "en",
}


@dataclass
class Section:
    heading: str
    rows: list[tuple[str, Any]]


@dataclass
class TableData:
    heading: str
    headers: list[str]
    rows: list[list[Any]]
    widths_mm: list[float]


@dataclass
class Report:
    kind: str
    title: str
    subtitle: str
    sections: list[Section]
    tables: list[TableData] = field(default_factory=list)
    unit_headers: list[str] = field(default_factory=list)
    units: list[list[Any]] = field(default_factory=list)
    unit_epcs: list[str] = field(default_factory=list)
    consignee_headers: list[str] = field(default_factory=list)
    consignees: list[list[Any]] = field(default_factory=list)


def require_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationFailed(
            f"kind: unknown report {kind!r}; expected one of {', '.join(KINDS)}",
            field="kind",
            details={"expected": list(KINDS)},
        )
    return kind


# Shared parts ----------------------------------------------------------------------------------


@dataclass
class Facts:
    """What every report reads once."""

    campaign: RecallCampaign
    maker: Any
    products: list[c.ProductFacts]
    consignees: list[c.ConsigneeRow]
    totals: dict[str, int]
    under_control: int

    @property
    def distributed(self) -> int:
        return sum(r.units for r in self.consignees)


def _facts(campaign: RecallCampaign) -> Facts:
    return Facts(
        campaign=campaign,
        maker=c.maker(campaign),
        products=c.products(campaign),
        consignees=c.consignees(campaign),
        totals=c.status_totals(campaign),
        under_control=campaign.units.filter(under_control=True).count(),
    )


def _join(values: list[str]) -> str:
    return "; ".join(v for v in dict.fromkeys(values) if v)


def _product_field(f: Facts, attribute: Callable[[c.ProductFacts], str]) -> str:
    return _join([attribute(p) for p in f.products])


def _lots(f: Facts) -> str:
    return _join([c.listing(p.lots) for p in f.products])


def _serials(f: Facts) -> str:
    return _join([c.listing(p.serials) for p in f.products])


def _per_lot(f: Facts) -> str:
    counts: dict[str, int] = {}
    for unit_lot in f.campaign.units.exclude(lot="").values_list("lot", flat=True):
        counts[unit_lot] = counts.get(unit_lot, 0) + 1
    return "; ".join(f"{lot}: {n}" for lot, n in sorted(counts.items()))


def _quantity(f: Facts) -> str:
    return _(
        "%(total)s units in all: %(ours)s under our control (on recall hold), %(out)s at "
        "%(consignees)s consignees"
    ) % {
        "total": f.campaign.affected_count or sum(f.totals.values()),
        "ours": f.under_control,
        "out": f.distributed,
        "consignees": len(f.consignees),
    }


def _notices_line(campaign: RecallCampaign) -> str:
    notices = list(campaign.notices.select_related("consignee").order_by("number"))
    return "\n".join(
        f"{n.number} · {n.consignee.name} · "
        + (_("sent %(when)s") % {"when": c.when(n.sent_at)} if n.sent_at else _("not sent yet"))
        for n in notices
    )


def _channels(campaign: RecallCampaign) -> str:
    rows = NoticeDelivery.objects.filter(notice__campaign=campaign).values_list("channel", "status")
    counts: dict[tuple[str, str], int] = {}
    for channel, status in rows:
        counts[(channel, status)] = counts.get((channel, status), 0) + 1
    labels = dict(NoticeDelivery._meta.get_field("channel").flatchoices)
    states = dict(DeliveryStatus.choices)
    return "; ".join(
        f"{labels.get(ch, ch)} {states.get(st, st)}: {n}" for (ch, st), n in sorted(counts.items())
    )


def _unit_list(f: Facts) -> tuple[list[str], list[list[Any]], list[str]]:
    units = c.campaign_units(f.campaign)
    rows = c.unit_rows(units)
    headers = [
        "#",
        _("UDI"),
        _("Product"),
        _("Lot"),
        _("Serial"),
        _("Kind"),
        _("Held by"),
        _("Location"),
        _("Status"),
    ]
    return (
        headers,
        [
            [n, r.udi, r.product, r.lot, r.serial, r.kind, r.holder, r.location, r.status]
            for n, r in enumerate(rows, start=1)
        ],
        [u.epc for u in units],
    )


def _consignee_list(f: Facts) -> tuple[list[str], list[list[Any]]]:
    headers = [
        _("Consignee"),
        _("GLN"),
        _("Role"),
        _("Address"),
        _("Telephone"),
        _("Notice"),
        _("Sent"),
        _("Acknowledged"),
        _("Units"),
        *[str(label) for _value, label in UnitStatus.choices],
    ]
    rows = []
    for r in f.consignees:
        notice = r.notice
        rows.append(
            [
                r.name,
                r.gln,
                r.role,
                r.address,
                r.phone,
                notice.number if notice else "",
                c.when(notice.sent_at) if notice else "",
                c.when(notice.acknowledged_at) if notice else "",
                r.units,
                *[r.counts[s] for s in UnitStatus.values],
            ]
        )
    return headers, rows


def _finish(report: Report, f: Facts) -> Report:
    report.unit_headers, report.units, report.unit_epcs = _unit_list(f)
    report.consignee_headers, report.consignees = _consignee_list(f)
    return report


def _subtitle(campaign: RecallCampaign) -> str:
    text = _("Recall %(number)s · %(title)s · generated %(when)s") % {
        "number": campaign.number,
        "title": campaign.title,
        "when": c.when(timezone.now()),
    }
    if campaign.drill:
        text = _("RECALL DRILL (exercise, not for submission)") + " · " + text
    return text


def _decision(campaign: RecallCampaign) -> str:
    return c.when(campaign.decision_at or campaign.opened_at)


# China -----------------------------------------------------------------------------------------


def _cn_company(f: Facts) -> Section:
    m = f.maker
    return Section(
        "企业信息 Company",
        [
            ("医疗器械注册人/备案人名称 Registrant / filer", m.name if m else ""),
            ("统一社会信用代码 Unified social credit code", m.uscc if m else ""),
            ("住所 Address", c.address(m)),
            ("生产许可证/备案编号 Production licence / filing no.", c.production_licence(m)),
            ("联系人 Contact person", m.contact_name if m else ""),
            ("联系电话 Telephone", m.contact_phone if m else ""),
            ("电子邮箱 E-mail", m.contact_email if m else ""),
        ],
    )


def _cn_product(f: Facts) -> Section:
    return Section(
        "产品信息 Product",
        [
            ("产品名称 Product name", _product_field(f, lambda p: p.product.name)),
            (
                "注册证编号/备案编号 Registration / filing no.",
                _product_field(f, lambda p: p.product.nmpa_registration_no),
            ),
            ("管理类别 Device class", _product_field(f, lambda p: p.product.risk_class)),
            ("规格型号 Model / specification", _product_field(f, lambda p: p.product.model)),
            ("产品标识 UDI-DI", _product_field(f, lambda p: p.di)),
            ("批号 Lot numbers", _lots(f)),
            ("序列号 Serial numbers", _serials(f)),
        ],
    )


def cn_report(campaign: RecallCampaign) -> Report:
    f = _facts(campaign)
    recall = Section(
        "召回信息 Recall",
        [
            ("召回编号 Recall number", campaign.number),
            ("召回事件 Recall", campaign.title),
            ("召回级别 Recall level", c.cn_level(campaign)),
            ("召回原因 Reason for the recall", campaign.reason),
            ("健康危害评估 Health hazard evaluation", c.hhe_lines(campaign)),
            ("召回范围-数量 Scope: quantity", _quantity(f)),
            ("召回范围-涉及地区 Scope: regions", c.regions(f.consignees)),
            (
                "召回范围-涉及单位 Scope: consignees",
                _("%(n)s consignees (see the consignee list)") % {"n": len(f.consignees)},
            ),
            ("召回开始时间 Recall start (decision)", _decision(campaign)),
            ("通知期限 Notification deadline", c.deadline(campaign, "cn_recall_notify")),
            ("召回计划提交期限 Recall plan due", c.deadline(campaign, "cn_recall_plan")),
            ("召回深度 Recall depth", c.depth(campaign)),
            (
                "境外同步措施 Other jurisdictions",
                _join(
                    [
                        c.fda_class(campaign) and f"FDA {c.fda_class(campaign)}",
                        _("EU FSCA") if campaign.eu_fsca else "",
                    ]
                ),
            ),
            ("关联投诉/不良事件 Complaint / adverse event", _related(campaign)),
        ],
    )
    report = Report(
        "cn_report",
        "医疗器械召回事件报告表 Medical device recall event report",
        _subtitle(campaign),
        [_cn_company(f), _cn_product(f), recall],
    )
    return _finish(report, f)


def _related(campaign: RecallCampaign) -> str:
    complaint = campaign.complaint
    if complaint is None:
        return ""
    return _join([complaint.number, *c.adverse_event_numbers(campaign)])


def cn_plan(campaign: RecallCampaign) -> Report:
    f = _facts(campaign)
    level_days = {1: 1, 2: 3, 3: 7}.get(campaign.cn_level or 0)
    schedule = [
        ("召回决定时间 Recall decision", _decision(campaign)),
        (
            "通知时限 Notification time limit",
            (
                _("within %(days)s day(s) of the decision (level %(level)s)")
                % {"days": level_days, "level": campaign.cn_level}
                if level_days
                else ""
            ),
        ),
        ("通知截止 Notify consignees by", c.deadline(campaign, "cn_recall_notify")),
        ("召回计划提交截止 Plan due to the regulator", c.deadline(campaign, "cn_recall_plan")),
        ("全部通知完成 All consignees notified", c.when(campaign.all_notified_at)),
        ("全部确认完成 All acknowledged", c.when(campaign.all_acknowledged_at)),
    ]
    sections = [
        _cn_company(f),
        _cn_product(f),
        Section(
            "一、召回范围与数量 Scope and quantity",
            [
                ("数量 Quantity", _quantity(f)),
                ("各批次数量 Units per lot", _per_lot(f)),
                ("涉及地区 Regions", c.regions(f.consignees)),
                ("涉及单位 Consignees", _join([r.name for r in f.consignees])),
                ("召回深度 Recall depth", c.depth(campaign)),
            ],
        ),
        Section(
            "二、召回原因及危害 Reason and hazard",
            [
                ("召回原因 Reason", campaign.reason),
                ("召回级别 Recall level", c.cn_level(campaign)),
                ("健康危害评估 Health hazard evaluation", c.hhe_lines(campaign)),
            ],
        ),
        Section(
            "三、召回措施 Measures",
            [
                ("召回策略 Recall strategy", campaign.strategy),
                (
                    "本企业控制的产品 Units under our control",
                    _("%(n)s units placed on recall hold when the recall opened")
                    % {"n": f.under_control},
                ),
                (
                    "经营企业、使用单位 Consignees",
                    _(
                        "each consignee receives a notice naming its own units, acknowledges it "
                        "and reports each unit (returned, corrected, destroyed, not found, used); "
                        "returns go into quarantine through a return authorisation"
                    ),
                ),
            ],
        ),
        Section("四、时间安排 Schedule", schedule),
        Section(
            "五、通知方式 Notification",
            [
                (
                    "方式 Method",
                    _(
                        "a written recall notice (PDF) per consignee, delivered by e-mail, in "
                        "the partner portal and by webhook to the consignee's system"
                    ),
                ),
                ("通知书 Notices", _notices_line(campaign)),
                ("送达记录 Deliveries", _channels(campaign)),
            ],
        ),
        Section(
            "六、召回效果评价方法 Effectiveness evaluation",
            [
                ("效果检查级别 Effectiveness check level", c.effectiveness_level(campaign)),
                ("已开展的检查 Checks started", _checks_line(campaign)),
            ],
        ),
        Section(
            "七、联系人 Contact",
            [
                ("联系人 Contact person", f.maker.contact_name if f.maker else ""),
                ("联系方式 Telephone / e-mail", c.contact(f.maker)),
            ],
        ),
    ]
    report = Report("cn_plan", "医疗器械召回计划 Recall plan", _subtitle(campaign), sections)
    return _finish(report, f)


def _checks_line(campaign: RecallCampaign) -> str:
    checks = list(campaign.effectiveness_checks.order_by("id"))
    out = []
    for check in checks:
        out.append(
            _("level %(level)s, %(planned)s of %(population)s consignees, started %(when)s")
            % {
                "level": check.level,
                "planned": check.planned_count,
                "population": check.population,
                "when": c.when(check.started_at),
            }
        )
    return "\n".join(out)


def cn_summary(campaign: RecallCampaign) -> Report:
    f = _facts(campaign)
    t = f.totals
    contacts = EffectivenessContact.objects.filter(effectiveness_check__campaign=campaign)
    confirmed = contacts.filter(result=ContactResult.CONFIRMED).count()
    results = Section(
        "召回结果 Results",
        [
            ("召回数量 Units in the recall", sum(t.values())),
            ("已退回 Returned (recovered)", t[UnitStatus.RETURNED]),
            ("现场纠正 Corrected on site", t[UnitStatus.CORRECTED]),
            ("已销毁 Destroyed", t[UnitStatus.DESTROYED]),
            ("未找到 Not found", t[UnitStatus.NOT_FOUND]),
            ("已使用 Used / implanted", t[UnitStatus.USED]),
            ("未处理 Still pending", t[UnitStatus.PENDING]),
            ("本企业控制 Under our control (held)", f.under_control),
            (
                "通知与确认 Notices acknowledged",
                _("%(ack)s of %(n)s")
                % {
                    "ack": campaign.notices.filter(acknowledged_at__isnull=False).count(),
                    "n": campaign.notices.count(),
                },
            ),
        ],
    )
    effectiveness = Section(
        "召回效果评价 Effectiveness",
        [
            ("效果检查级别 Check level", c.effectiveness_level(campaign)),
            ("检查 Checks", _checks_line(campaign)),
            (
                "回访结果 Contacts confirmed",
                _("%(ok)s of %(n)s contacted consignees confirmed")
                % {"ok": confirmed, "n": contacts.exclude(result=ContactResult.PENDING).count()},
            ),
            ("召回是否有效 Effective", c.yes_no(campaign.effective)),
            ("评价结论 Conclusion", campaign.effectiveness_conclusion),
            ("结束时间 Closed", c.when(campaign.closed_at)),
            ("总结 Closing summary", campaign.close_summary),
            ("总结报告提交截止 Summary due", c.deadline(campaign, "cn_recall_summary")),
        ],
    )
    recall = Section(
        "召回信息 Recall",
        [
            ("召回编号 Recall number", campaign.number),
            ("召回事件 Recall", campaign.title),
            ("召回级别 Recall level", c.cn_level(campaign)),
            ("召回原因 Reason", campaign.reason),
            ("召回开始时间 Recall start (decision)", _decision(campaign)),
        ],
    )
    report = Report(
        "cn_summary",
        "医疗器械召回总结报告 Recall summary report",
        _subtitle(campaign),
        [_cn_company(f), _cn_product(f), recall, results, effectiveness],
    )
    report = _finish(report, f)
    # The per-consignee results belong in the body of a summary, not only in the appendix.
    statuses = [UnitStatus.RETURNED, UnitStatus.CORRECTED, UnitStatus.DESTROYED]
    statuses += [UnitStatus.NOT_FOUND, UnitStatus.USED, UnitStatus.PENDING]
    report.tables.append(
        TableData(
            "各单位召回结果 Results per consignee",
            [
                "单位 Consignee",
                "通知 Notice",
                "确认 Acknowledged",
                "数量 Units",
                *[str(UnitStatus(s).label) for s in statuses],
            ],
            [
                [
                    r.name,
                    r.notice.number if r.notice else "",
                    c.day(r.notice.acknowledged_at) if r.notice else "",
                    r.units,
                    *[r.counts[s] for s in statuses],
                ]
                for r in f.consignees
            ],
            [40, 24, 20, 14, 14, 14, 14, 14, 14, 14],
        )
    )
    return report


# United States ---------------------------------------------------------------------------------


def fda_806(campaign: RecallCampaign) -> Report:
    f = _facts(campaign)
    m = f.maker
    first, last = c.distribution_dates(campaign)
    events = c.adverse_event_numbers(campaign)
    sections = [
        Section(
            _("(1) Report"),
            [
                (_("FDA establishment registration number"), ""),
                (_("Date of this report"), c.day(timezone.now())),
                (_("Report sequence number"), campaign.number),
            ],
        ),
        Section(
            _("(2) Manufacturer and responsible person"),
            [
                (_("Manufacturer"), m.name_en or m.name if m else ""),
                (_("Address"), c.address(m)),
                (_("Telephone"), m.contact_phone if m else ""),
                (_("Person responsible for the correction or removal"), c.contact(m)),
            ],
        ),
        Section(
            _("(3)-(4) Device"),
            [
                (
                    _("Brand / common name"),
                    _product_field(
                        f, lambda p: f"{p.product.name_en or p.product.name} ({p.product.name})"
                    ),
                ),
                (_("Model"), _product_field(f, lambda p: p.product.model)),
                (_("UDI-DI"), _product_field(f, lambda p: p.di)),
                (_("GMDN code"), _product_field(f, lambda p: p.product.gmdn_code)),
                (_("Lot numbers"), _lots(f)),
                (_("Serial numbers"), _serials(f)),
            ],
        ),
        Section(
            _("(6) Event and action"),
            [
                (_("Description of the event"), campaign.reason),
                (_("Correction or removal: actions taken and planned"), campaign.strategy),
                (_("FDA recall class"), c.fda_class(campaign)),
                (_("Recall depth"), c.depth(campaign)),
                (_("Health hazard evaluation (justification)"), c.hhe_lines(campaign)),
            ],
        ),
        Section(
            _("(7) Illness or injuries; MDR (21 CFR 803) reports"),
            [
                (
                    _("Related complaint"),
                    campaign.complaint.number if campaign.complaint else "",
                ),
                (
                    _("803 reports"),
                    _join(events)
                    or _("No adverse event report is linked to this recall (none known)."),
                ),
            ],
        ),
        Section(
            _("(8)-(9) Quantities and dates"),
            [
                (_("Devices subject to the action"), _quantity(f)),
                (_("Number in each lot"), _per_lot(f)),
                (_("Quantity distributed"), f.distributed),
                (
                    _("Dates distributed"),
                    f"{c.day(first)} – {c.day(last)}"
                    if first
                    else _("no shipment recorded in medtrace"),
                ),
            ],
        ),
        Section(
            _("(10)-(11) Consignees and communications"),
            [
                (
                    _("Consignees"),
                    _("%(n)s consignees: names, addresses and quantities in the consignee list")
                    % {"n": len(f.consignees)},
                ),
                (_("Communications (recall notices)"), _notices_line(campaign)),
            ],
        ),
    ]
    report = Report(
        "fda_806",
        _("Report of correction or removal (21 CFR 806.10)"),
        _subtitle(campaign),
        sections,
    )
    return _finish(report, f)


# European Union --------------------------------------------------------------------------------


def eu_fsn(campaign: RecallCampaign) -> Report:
    f = _facts(campaign)
    m = f.maker
    sections = [
        Section(
            _("Type of action"),
            [
                (_("Field safety corrective action"), _("yes") if campaign.eu_fsca else _("no")),
                (_("Recall depth"), c.depth(campaign)),
                (_("FSN reference"), campaign.number),
            ],
        ),
        Section(
            _("1. Affected devices"),
            [
                (
                    _("Commercial name"),
                    _product_field(f, lambda p: p.product.name_en or p.product.name),
                ),
                (_("Model / catalogue number"), _product_field(f, lambda p: p.product.model)),
                (_("UDI-DI"), _product_field(f, lambda p: p.di)),
                (_("Affected lots"), _lots(f)),
                (_("Affected serial numbers"), _serials(f)),
            ],
        ),
        Section(
            _("2. Reason for the field safety corrective action"),
            [
                (_("Description of the problem"), campaign.reason),
                (_("Hazard giving rise to the FSCA"), c.hhe_lines(campaign)),
            ],
        ),
        Section(
            _("3. Actions to mitigate the risk"),
            [
                (
                    _("Actions to be taken by the user"),
                    _(
                        "Identify and quarantine the affected devices; acknowledge this notice; "
                        "report for each device whether it was returned, corrected, destroyed, "
                        "not found or used."
                    ),
                ),
                (_("Actions by the manufacturer"), campaign.strategy),
                (_("Acknowledgement required by"), c.deadline(campaign, "cn_recall_notify")),
            ],
        ),
        Section(
            _("4. General information"),
            [
                (
                    _("Transmission of this Field Safety Notice"),
                    _(
                        "This notice must be passed on to everyone who needs to be aware of it "
                        "within your organisation, and to any organisation to which the "
                        "affected devices have been transferred."
                    ),
                ),
                (_("Manufacturer"), f"{m.name_en or m.name} · {c.address(m)}" if m else ""),
                (_("Contact person"), c.contact(m)),
                # Filled in by the manufacturer when it notifies (MDR Art. 89(8)).
                (_("Competent authority informed on"), ""),
            ],
        ),
    ]
    report = Report("eu_fsn", _("Urgent Field Safety Notice"), _subtitle(campaign), sections)
    return _finish(report, f)


BUILDERS: dict[str, Callable[[RecallCampaign], Report]] = {
    "cn_report": cn_report,
    "cn_plan": cn_plan,
    "cn_summary": cn_summary,
    "fda_806": fda_806,
    "eu_fsn": eu_fsn,
}


def report_content(campaign: RecallCampaign, kind: str) -> Report:
    return BUILDERS[require_kind(kind)](campaign)
