"""The recall dashboard's figures (issue 8 item 5): campaigns with their notices and clocks,
the affected units by holder and by region, and the effectiveness checks.

Set-based: the figures of every listed campaign come from six grouped queries, whatever the
number of campaigns, notices or units - the campaigns with their notice counts and next
deadlines (one query with conditional aggregates), the units by campaign and status, the
effectiveness checks with their contact results, the units by holder, the units by region
(the holder party's province and city) and the count of holders. Nothing is cached: every
request reads the current rows, so an acknowledgement shows at the next load.

A notice's ``deadline_at`` is the consignee's deadline (1, 3 or 7 days by level, from the
recall decision): a sent notice not acknowledged by then is *overdue*. A campaign's own clocks
(notification of every consignee, the plan, the 806 report, the summary) are its frozen
``deadlines`` (``lib.clocks`` via ``recalls.campaigns``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.errors import ValidationFailed
from medtrace.recalls.common import campaigns_visible
from medtrace.recalls.models import (
    AffectedUnit,
    CampaignStatus,
    ContactResult,
    EffectivenessCheck,
    NoticeStatus,
    RecallCampaign,
    UnitStatus,
)

STATUS_FILTERS = ("active", "open", "draft", "closed", "all")
DRILL_FILTERS = ("all", "no", "yes")
CAMPAIGN_LIMIT = 100
HOLDER_LIMIT = 50
REGION_LIMIT = 50


@dataclass
class CampaignRow:
    campaign: RecallCampaign
    consignees: int
    notified: int
    acknowledged: int
    resolved: int
    overdue: int
    next_ack_due: datetime | None
    notify_due: datetime | None
    units: dict[str, int] = field(default_factory=dict)
    affected: int = 0
    under_control: int = 0
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Board:
    campaigns: list[CampaignRow]
    total_campaigns: int
    holders: list[dict[str, Any]]
    holder_count: int
    regions: list[dict[str, Any]]
    totals: dict[str, int]
    focus: RecallCampaign | None
    filters: dict[str, str]
    now: datetime


def _campaigns(user: User | None, status: str, drill: str) -> QuerySet[RecallCampaign]:
    if status not in STATUS_FILTERS:
        raise ValidationFailed(
            f"status: expected one of {', '.join(STATUS_FILTERS)}, got {status!r}", field="status"
        )
    if drill not in DRILL_FILTERS:
        raise ValidationFailed(
            f"drill: expected one of {', '.join(DRILL_FILTERS)}, got {drill!r}", field="drill"
        )
    qs = campaigns_visible(user)
    if status == "active":
        qs = qs.filter(status__in=(CampaignStatus.DRAFT, CampaignStatus.OPEN))
    elif status != "all":
        qs = qs.filter(status=status)
    if drill != "all":
        qs = qs.filter(drill=drill == "yes")
    return qs


def _with_notice_figures(qs: QuerySet[RecallCampaign], now: datetime) -> QuerySet[RecallCampaign]:
    sent = ~Q(notices__status=NoticeStatus.DRAFT)
    waiting = sent & Q(notices__acknowledged_at__isnull=True)
    return qs.annotate(
        n_consignees=Count("notices"),
        n_notified=Count("notices", filter=sent),
        n_acknowledged=Count("notices", filter=Q(notices__acknowledged_at__isnull=False)),
        n_resolved=Count("notices", filter=Q(notices__status=NoticeStatus.RESOLVED)),
        n_overdue=Count("notices", filter=waiting & Q(notices__deadline_at__lt=now)),
        next_ack_due=Min("notices__deadline_at", filter=waiting & Q(notices__deadline_at__gte=now)),
        notify_due=Min("notices__deadline_at", filter=Q(notices__status=NoticeStatus.DRAFT)),
    )


def _checks(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        EffectivenessCheck.objects.filter(campaign_id__in=ids)
        .annotate(
            contacts_total=Count("contacts"),
            contacted=Count("contacts", filter=~Q(contacts__result=ContactResult.PENDING)),
            confirmed=Count("contacts", filter=Q(contacts__result=ContactResult.CONFIRMED)),
            not_confirmed=Count("contacts", filter=Q(contacts__result=ContactResult.NOT_CONFIRMED)),
            no_response=Count("contacts", filter=Q(contacts__result=ContactResult.NO_RESPONSE)),
        )
        .values(
            "id",
            "campaign_id",
            "level",
            "percent",
            "population",
            "planned_count",
            "started_at",
            "conclusion",
            "contacts_total",
            "contacted",
            "confirmed",
            "not_confirmed",
            "no_response",
        )
        .order_by("campaign_id", "id")
    )
    for row in rows:
        out[row["campaign_id"]].append(row)
    return out


def _region(province: str | None, city: str | None) -> tuple[str, str]:
    return (province or "", city or "")


def recall_board(
    *,
    user: User | None,
    status: str = "active",
    drill: str = "all",
    campaign: str = "",
    now: datetime | None = None,
) -> Board:
    """The dashboard's figures for the campaigns matching ``status`` and ``drill``; the units
    by holder and region are those of ``campaign`` (a number) when given, else of every
    listed campaign."""
    now = now or timezone.now()
    qs = _campaigns(user, status, drill)
    focus = None
    if campaign:
        focus = campaigns_visible(user).filter(number=campaign).first()
        if focus is None:
            raise ValidationFailed(f"campaign: no recall {campaign!r}", field="campaign")
    listed = list(_with_notice_figures(qs, now).order_by("-id")[:CAMPAIGN_LIMIT])
    total_campaigns = len(listed) if len(listed) < CAMPAIGN_LIMIT else qs.count()
    rows = [
        CampaignRow(
            campaign=c,
            consignees=c.n_consignees,  # type: ignore[attr-defined]
            notified=c.n_notified,  # type: ignore[attr-defined]
            acknowledged=c.n_acknowledged,  # type: ignore[attr-defined]
            resolved=c.n_resolved,  # type: ignore[attr-defined]
            overdue=c.n_overdue,  # type: ignore[attr-defined]
            next_ack_due=c.next_ack_due,  # type: ignore[attr-defined]
            notify_due=c.notify_due,  # type: ignore[attr-defined]
        )
        for c in listed
    ]
    by_id = {r.campaign.pk: r for r in rows}
    ids = list(by_id)
    for row in (
        AffectedUnit.objects.filter(campaign_id__in=ids)
        .values("campaign_id", "status", "under_control")
        .annotate(n=Count("id"))
        .order_by()
    ):
        target = by_id[row["campaign_id"]]
        target.units[row["status"]] = target.units.get(row["status"], 0) + row["n"]
        target.affected += row["n"]
        if row["under_control"]:
            target.under_control += row["n"]
    checks = _checks(ids)
    for pk, found in checks.items():
        by_id[pk].checks = found
    scope_ids = [focus.pk] if focus is not None else ids
    units = AffectedUnit.objects.filter(campaign_id__in=scope_ids)
    pending = Count("id", filter=Q(status=UnitStatus.PENDING))
    holders = list(
        units.values(
            "holder_id",
            "holder_name",
            "holder_gln",
            "holder_role",
            "holder__province",
            "holder__city",
        )
        .annotate(count=Count("id"), pending=pending, campaigns=Count("campaign", distinct=True))
        .order_by("-count", "holder_name", "holder_id")[:HOLDER_LIMIT]
    )
    holder_count = units.values("holder_id", "holder_name").distinct().count()
    regions = [
        {
            "province": r["holder__province"] or "",
            "city": r["holder__city"] or "",
            "units": r["units"],
            "pending": r["pending"],
            "holders": r["holders"],
        }
        for r in units.values("holder__province", "holder__city")
        .annotate(units=Count("id"), pending=pending, holders=Count("holder", distinct=True))
        .order_by("-units", "holder__province", "holder__city")[:REGION_LIMIT]
    ]
    totals = {
        "campaigns": total_campaigns,
        "open": sum(1 for r in rows if r.campaign.status == CampaignStatus.OPEN),
        "affected": sum(r.affected for r in rows),
        "pending": sum(r.units.get(UnitStatus.PENDING, 0) for r in rows),
        "consignees": sum(r.consignees for r in rows),
        "notified": sum(r.notified for r in rows),
        "acknowledged": sum(r.acknowledged for r in rows),
        "overdue": sum(r.overdue for r in rows),
    }
    return Board(
        campaigns=rows,
        total_campaigns=total_campaigns,
        holders=holders,
        holder_count=holder_count,
        regions=regions,
        totals=totals,
        focus=focus,
        filters={"status": status, "drill": drill, "campaign": campaign},
        now=now,
    )
