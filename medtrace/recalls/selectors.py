"""Reads of recalls: lists, a campaign's units and notices, and its progress figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from medtrace.accounts.models import User

from .common import campaign_get, campaigns_visible, notice_get, notices_visible
from .models import (
    AffectedUnit,
    CampaignStatus,
    NoticeStatus,
    RecallCampaign,
    RecallNotice,
    UnitStatus,
)

__all__ = [
    "campaign_get",
    "notice_get",
    "notice_list",
    "recall_list",
    "recall_progress",
    "units_list",
]


def recall_list(
    *, user: User | None, status: str | None = None, drill: bool | None = None, q: str = ""
) -> QuerySet[RecallCampaign]:
    qs = campaigns_visible(user).select_related("complaint")
    if status:
        qs = qs.filter(status=status)
    if drill is not None:
        qs = qs.filter(drill=drill)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q))
    return qs.order_by("-id")


def units_list(
    *,
    campaign: RecallCampaign,
    holder: str | None = None,
    status: str | None = None,
    notice: str | None = None,
) -> QuerySet[AffectedUnit]:
    """The frozen units; ``holder`` matches the holder's GLN, name or party id."""
    qs = AffectedUnit.objects.filter(campaign=campaign).select_related(
        "product", "hold", "notice", "rma"
    )
    if holder:
        match = Q(holder_gln=holder) | Q(holder_name__icontains=holder)
        if holder.isdigit():
            match |= Q(holder_id=int(holder))
        qs = qs.filter(match)
    if status:
        qs = qs.filter(status=status)
    if notice:
        qs = qs.filter(notice__number=notice)
    return qs.order_by("id")


def notice_list(
    *, user: User | None, campaign: str | None = None, status: str | None = None
) -> QuerySet[RecallNotice]:
    qs = notices_visible(user)
    if campaign:
        qs = qs.filter(campaign__number=campaign)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def _aware(value: str) -> datetime | None:
    parsed = parse_datetime(value) if value else None
    return parsed


def _deadlines(campaign: RecallCampaign, at: datetime) -> list[dict[str, Any]]:
    out = []
    for d in campaign.deadlines or []:
        due = _aware(d.get("due", ""))
        if due is None:
            continue
        met = None
        if d["key"] == "cn_recall_notify":
            met = campaign.all_notified_at is not None and campaign.all_notified_at <= due
        if met:
            state = "met"
        elif campaign.status == CampaignStatus.CLOSED and d["key"] == "cn_recall_notify":
            state = "missed"
        else:
            state = "overdue" if at > due else "due"
        out.append({**d, "status": state, "remaining_seconds": int((due - at).total_seconds())})
    return out


def recall_progress(*, campaign: RecallCampaign) -> dict[str, Any]:
    """The campaign's figures in a handful of queries, whatever its size."""
    campaign = RecallCampaign.objects.get(pk=campaign.pk)
    at = timezone.now()
    units = AffectedUnit.objects.filter(campaign=campaign).aggregate(
        affected=Count("pk"),
        under_control=Count("pk", filter=Q(under_control=True)),
        held=Count("pk", filter=Q(hold__isnull=False)),
        on_notice=Count("pk", filter=Q(notice__isnull=False)),
        **{s: Count("pk", filter=Q(status=s)) for s in UnitStatus.values},
    )
    notices = RecallNotice.objects.filter(campaign=campaign).aggregate(
        consignees=Count("pk"),
        notified=Count("pk", filter=~Q(status=NoticeStatus.DRAFT)),
        acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
        resolved=Count("pk", filter=Q(status=NoticeStatus.RESOLVED)),
    )
    late = list(
        RecallNotice.objects.filter(
            campaign=campaign,
            acknowledged_at__isnull=True,
            deadline_at__lt=at,
        )
        .exclude(status=NoticeStatus.DRAFT)
        .select_related("consignee")
        .order_by("deadline_at", "number")
    )
    holders = list(
        AffectedUnit.objects.filter(campaign=campaign)
        .values("holder_id", "holder_gln", "holder_name", "holder_role")
        .annotate(count=Count("pk"), pending=Count("pk", filter=Q(status=UnitStatus.PENDING)))
        .order_by("-count", "holder_name")
    )
    response = None
    if campaign.all_notified_at and campaign.opened_at:
        response = (campaign.all_notified_at - campaign.opened_at).total_seconds()
    return {
        "number": campaign.number,
        "status": campaign.status,
        "drill": campaign.drill,
        "affected": units["affected"],
        "under_control": units["under_control"],
        # A drill places no holds: what would have been held is what was under our control.
        "held": units["under_control"] if campaign.drill else units["held"],
        "on_notice": units["on_notice"],
        "consignees": notices["consignees"],
        "notified": notices["notified"],
        "acknowledged": notices["acknowledged"],
        "resolved": notices["resolved"],
        "units": {s: units[s] for s in UnitStatus.values},
        "recovered": units[UnitStatus.RETURNED],
        "corrected": units[UnitStatus.CORRECTED],
        "destroyed": units[UnitStatus.DESTROYED],
        "not_found": units[UnitStatus.NOT_FOUND],
        "used": units[UnitStatus.USED],
        "non_responders": [
            {
                "notice": n.number,
                "consignee": n.consignee.name,
                "consignee_id": n.consignee_id,
                "deadline_at": n.deadline_at,
                "overdue_seconds": int((at - n.deadline_at).total_seconds()),
            }
            for n in late
            if n.deadline_at is not None
        ],
        "holders": holders,
        "deadlines": _deadlines(campaign, at),
        "opened_at": campaign.opened_at,
        "all_notified_at": campaign.all_notified_at,
        "all_acknowledged_at": campaign.all_acknowledged_at,
        "response_seconds": response,
        "drill_response_seconds": response if campaign.drill else None,
        "effectiveness_level": campaign.effectiveness_level,
        "effective": campaign.effective,
    }
