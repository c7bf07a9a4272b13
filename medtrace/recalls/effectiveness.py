"""Effectiveness checks (21 CFR 7.42(b)(3); 医疗器械召回管理办法 召回效果评估).

A check contacts a sample of the consignees to confirm they received the notice and acted on it.
The level says how many: A 100%, B a given share between 10% and 100%, C 10%, D 2%, E none.
At least one consignee is contacted at any level but E when there is one. The sample is drawn
with ``random.Random`` seeded by the campaign number and the check's sequence, so the same
check draws the same consignees whenever it is recomputed (an auditor can reproduce it), and a
second check draws afresh.

The conclusion (effective or not, and why) is the last step before closing; it needs every
sampled consignee's answer recorded.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import Conflict, NotFound

from .common import PERM_EFFECTIVENESS, invalid, locked, now, require, require_open, text
from .models import (
    ContactResult,
    EffectivenessCheck,
    EffectivenessContact,
    EffectivenessLevel,
    NoticeStatus,
    RecallCampaign,
    RecallNotice,
)

SHARE = {
    EffectivenessLevel.A: Decimal(100),
    EffectivenessLevel.C: Decimal(10),
    EffectivenessLevel.D: Decimal(2),
    EffectivenessLevel.E: Decimal(0),
}
RECORDABLE = tuple(r for r in ContactResult.values if r != ContactResult.PENDING)


def _percent(level: str, percent: Any) -> Decimal:
    if level != EffectivenessLevel.B:
        return SHARE[EffectivenessLevel(level)]
    try:
        value = Decimal(str(percent))
    except (InvalidOperation, ValueError):
        raise invalid(
            "percent", _("level B needs the share of consignees to contact, e.g. 25")
        ) from None
    if not Decimal(10) < value < Decimal(100):
        raise invalid(
            "percent", _("level B contacts more than 10%% and less than 100%%; got %(v)s")
            % {"v": value}
        )  # fmt: skip
    return value


def sample_size(level: str, population: int, percent: Decimal) -> int:
    """How many of ``population`` consignees a check at ``level`` contacts."""
    if level == EffectivenessLevel.E or population == 0:
        return 0
    wanted = math.ceil(population * percent / 100)
    return min(population, max(1, wanted))


def effectiveness_check_start(
    *, campaign: RecallCampaign, level: str, percent: Any = None, user: User | None
) -> EffectivenessCheck:
    """Start a check at ``level`` (``percent`` for level B): draws the consignees to contact."""
    require(user, PERM_EFFECTIVENESS, _("run effectiveness checks"))
    if level not in EffectivenessLevel.values:
        raise invalid(
            "level",
            _("%(v)r is not a level; expected one of %(all)s")
            % {"v": level, "all": ", ".join(EffectivenessLevel.values)},
        )
    share = _percent(level, percent)
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("check the effectiveness of"))
        notices = list(campaign.notices.exclude(status=NoticeStatus.DRAFT).order_by("number"))
        if level != EffectivenessLevel.E and not notices:
            raise Conflict(
                _("%(n)s has sent no notices yet: there is nobody to contact")
                % {"n": campaign.number},
                field="level",
            )
        sequence = campaign.effectiveness_checks.count() + 1
        seed = f"{campaign.number}#{sequence}"
        size = sample_size(level, len(notices), share)
        chosen = sorted(random.Random(seed).sample(notices, size), key=lambda n: n.number)
        check = EffectivenessCheck.objects.create(
            campaign=campaign,
            level=level,
            percent=share if level == EffectivenessLevel.B else None,
            population=len(notices),
            planned_count=size,
            seed=seed,
            started_at=now(),
            started_by=user,
        )
        EffectivenessContact.objects.bulk_create(
            [EffectivenessContact(effectiveness_check=check, notice=n) for n in chosen]
        )
        audit.record_create(check, user=user)
        if campaign.effectiveness_level != level:
            before = audit.snapshot(campaign)
            campaign.effectiveness_level = level
            campaign.save(update_fields=["effectiveness_level", "updated_at"])
            audit.record_update(campaign, before, user=user)
    return check


def effectiveness_contact_record(
    *,
    check: EffectivenessCheck,
    notice: RecallNotice | str,
    result: str,
    note: str = "",
    user: User | None,
) -> EffectivenessContact:
    """Record what a sampled consignee answered (``notice``: the notice or its number)."""
    require(user, PERM_EFFECTIVENESS, _("record effectiveness contacts"))
    if result not in RECORDABLE:
        raise invalid(
            "result",
            _("%(v)r is not a result; expected one of %(all)s")
            % {"v": result, "all": ", ".join(RECORDABLE)},
        )
    note = text("note", note)
    number = notice if isinstance(notice, str) else notice.number
    with transaction.atomic():
        campaign = locked(check.campaign)
        require_open(campaign, _("record contacts of"))
        contact = (
            EffectivenessContact.objects.select_for_update(of=("self",))
            .select_related("notice")
            .filter(effectiveness_check=check, notice__number=number)
            .first()
        )
        if contact is None:
            raise NotFound(
                _("%(n)s is not in the sample of this check") % {"n": number}, field="notice"
            )
        before = audit.snapshot(contact)
        contact.result = result
        contact.note = note
        contact.contacted_at = now()
        contact.contacted_by = user
        contact.save()
        audit.record_update(contact, before, user=user)
    return contact


def effectiveness_conclude(
    *, campaign: RecallCampaign, effective: bool, conclusion: str, user: User | None
) -> RecallCampaign:
    """Conclude whether the recall was effective (needs a started check whose sampled
    consignees all answered)."""
    require(user, PERM_EFFECTIVENESS, _("conclude effectiveness checks"))
    why = text("conclusion", conclusion, required=True)
    if not isinstance(effective, bool):
        raise invalid("effective", _("expected true or false"))
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("conclude the effectiveness of"))
        check = campaign.effectiveness_checks.order_by("-pk").first()
        if check is None:
            raise Conflict(
                _("Start an effectiveness check (level A-E) of %(n)s first")
                % {"n": campaign.number},
                field="effectiveness_level",
                details={"missing": ["effectiveness_check"]},
            )
        pending = list(
            check.contacts.filter(result=ContactResult.PENDING)
            .order_by("notice__number")
            .values_list("notice__number", flat=True)
        )
        if pending:
            raise Conflict(
                _("Record the answers of the sampled consignees first: %(list)s")
                % {"list": ", ".join(pending)},
                field="effective",
                details={"pending": pending},
            )
        before = audit.snapshot(campaign)
        at = now()
        campaign.effective = effective
        campaign.effectiveness_conclusion = why
        campaign.effectiveness_concluded_at = at
        campaign.effectiveness_concluded_by = user
        campaign.save()
        audit.record_update(campaign, before, user=user)
        before_check = audit.snapshot(check)
        check.conclusion = why
        check.save(update_fields=["conclusion"])
        audit.record_update(check, before_check, user=user)
    return campaign
