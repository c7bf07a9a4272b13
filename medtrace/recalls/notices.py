"""Recall notices: one per consignee, naming exactly the consignee's own units.

A consignee is a distributor or hospital (never us) that held affected units when the scope froze
(or, for a unit in transit, the party it was shipped to). Each gets one ``RecallNotice`` in its
language (Chinese for a party in mainland China, else English), due by the CN notification
deadline of the recall's level (1/3/7 days from the decision, 办法 第十六条). Creating notices
again after an extension adds the new consignees and puts new units on the existing notices.

Sending is refused before the recall is approved (409). It marks the notices sent in one
transaction, then delivers each after the commit through ``medtrace.recalls.delivery`` (e-mail,
webhook, the partner portal) when that module is installed; without it the partner portal is the
channel (a ``portal`` delivery). A failed delivery is recorded as such and never undoes the
sending: the notice stays in the partner portal, and the progress shows it. A drill delivers
nothing: each notice gets a ``simulated`` delivery, and the time from opening to the last notice
sent is the drill's response time.
"""

from __future__ import annotations

import importlib
import logging
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.lib import clocks
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Party

from .common import (
    CONSIGNEE_ROLES,
    PERM_NOTICE,
    language_for,
    locked,
    now,
    require,
    require_approved,
    require_open,
)
from .models import (
    AffectedUnit,
    DeliveryChannel,
    DeliveryStatus,
    NoticeDelivery,
    NoticeStatus,
    RecallCampaign,
    RecallNotice,
    UnitStatus,
)

log = logging.getLogger(__name__)


def notice_deadline(campaign: RecallCampaign) -> datetime | None:
    """When the consignees must be notified: 1/3/7 days from the decision (CN level); None
    before the decision or for a recall without an NMPA level."""
    if campaign.decision_at is None or campaign.cn_level is None:
        return None
    return clocks.recall_notification_deadline(campaign.decision_at, campaign.cn_level)


def recall_notices_create(*, campaign: RecallCampaign, user: User | None) -> list[RecallNotice]:
    """A notice for every consignee holding units not yet on a notice; returns the notices
    created or given new units."""
    require(user, PERM_NOTICE, _("create recall notices"))
    at = now()
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("create notices for"))
        pending = (
            AffectedUnit.objects.filter(
                campaign=campaign,
                notice__isnull=True,
                under_control=False,
                holder__role__in=CONSIGNEE_ROLES,
            )
            .filter(status=UnitStatus.PENDING)  # not those scrapped before the recall
            .values_list("pk", "holder_id")
        )
        by_party: dict[int, list[int]] = defaultdict(list)
        for pk, party_id in pending:
            by_party[party_id].append(pk)
        if not by_party:
            return []
        existing = {n.consignee_id: n for n in campaign.notices.select_for_update()}
        parties = Party.objects.in_bulk(list(by_party))
        deadline = notice_deadline(campaign)
        touched = []
        for party_id in sorted(by_party, key=lambda p: parties[p].name):
            notice = existing.get(party_id)
            if notice is None:
                notice = RecallNotice.objects.create(
                    number=next_number("RN"),
                    campaign=campaign,
                    drill=campaign.drill,
                    consignee=parties[party_id],
                    language=language_for(parties[party_id]),
                    deadline_at=deadline,
                    created_at=at,
                    created_by=user,
                )
                audit.record_create(notice, user=user)
            AffectedUnit.objects.filter(pk__in=by_party[party_id]).update(notice=notice)
            before = audit.snapshot(notice)
            notice.unit_count = notice.units.count()
            if notice.status == NoticeStatus.RESOLVED:
                # New units to report on: the notice is open again.
                notice.status = (
                    NoticeStatus.ACKNOWLEDGED if notice.acknowledged_at else NoticeStatus.SENT
                )
                notice.resolved_at = None
            notice.save()
            audit.record_update(notice, before, user=user)
            audit.record(
                action=AuditAction.UPDATE,
                object_type=audit.label_of(notice),
                object_id=notice.pk,
                object_repr=str(notice),
                changes={"units_added": len(by_party[party_id])},
                user=user,
            )
            touched.append(notice)
        if campaign.all_notified_at is not None and any(
            n.status == NoticeStatus.DRAFT for n in touched
        ):
            before = audit.snapshot(campaign)
            campaign.all_notified_at = None  # a new consignee is not notified yet
            campaign.save(update_fields=["all_notified_at", "updated_at"])
            audit.record_update(campaign, before, user=user)
    return touched


def _deliver(notice: RecallNotice, user: User | None) -> None:
    """Deliver one sent notice (after commit). Never raises: a failure is a delivery row."""
    # A drill goes through the same delivery code, which records every channel as
    # "simulated" (with whom it would have reached) and sends nothing.
    try:
        delivery = importlib.import_module("medtrace.recalls.delivery")
    except ModuleNotFoundError:
        delivery = None
    hook = getattr(delivery, "deliver_notice", None)
    if hook is None:
        NoticeDelivery.objects.create(
            notice=notice,
            channel=DeliveryChannel.PORTAL,
            status=DeliveryStatus.SENT,
            recipient=notice.consignee.name,
            attempted_at=now(),
            detail=_("published in the partner portal"),
        )
        return
    try:
        hook(notice=notice, user=user)
    except Exception as exc:  # a delivery failure must not undo the sending
        log.exception("delivering recall notice %s failed", notice.number)
        NoticeDelivery.objects.create(
            notice=notice,
            channel=DeliveryChannel.PORTAL,
            status=DeliveryStatus.FAILED,
            recipient=notice.consignee.name,
            attempted_at=now(),
            detail=f"{type(exc).__name__}: {exc}"[:2000],
        )


def recall_notices_send(*, campaign: RecallCampaign, user: User | None) -> list[RecallNotice]:
    """Send every draft notice of an approved recall; returns the notices sent."""
    require(user, PERM_NOTICE, _("send recall notices"))
    at = now()
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("send notices for"))
        require_approved(campaign, _("send notices for"))
        drafts = list(
            campaign.notices.select_for_update()
            .filter(status=NoticeStatus.DRAFT)
            .select_related("consignee")
            .order_by("number")
        )
        deadline = notice_deadline(campaign)
        for notice in drafts:
            before = audit.snapshot(notice)
            notice.status = NoticeStatus.SENT
            notice.sent_at = at
            notice.deadline_at = notice.deadline_at or deadline
            notice.save()
            audit.record_update(notice, before, user=user)
        counts = campaign.notices.aggregate(total=Count("pk"))
        unsent = campaign.notices.filter(status=NoticeStatus.DRAFT).exists()
        if counts["total"] and not unsent and campaign.all_notified_at is None:
            before = audit.snapshot(campaign)
            campaign.all_notified_at = at
            campaign.save(update_fields=["all_notified_at", "updated_at"])
            audit.record_update(campaign, before, user=user)
        sent = [n.pk for n in drafts]
        transaction.on_commit(lambda: _deliver_all(sent, user))
    return drafts


def _deliver_all(pks: list[int], user: User | None) -> None:
    for notice in RecallNotice.objects.filter(pk__in=pks).select_related("consignee", "campaign"):
        _deliver(notice, user)
