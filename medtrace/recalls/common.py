"""What the recall services share: permissions, who may act on a notice, input checks, row locks.

Authority. Internal staff act through Django model permissions held by their department role
(``accounts/roles.py``): QA/RA and the administrator run recalls; every department and the
auditor read them; the warehouse and service record what became of recalled units. A partner
user (distributor, hospital) acts only on the notices addressed to its own party, and never sees
a drill's notices: a drill exercises our own response, so partners are not disturbed by it (staff
record a drill's acknowledgements on their behalf). ``None`` is the system (CLI, demo, tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Party, PartyRole

from .models import CampaignStatus, RecallCampaign, RecallNotice

PERM_VIEW = "recalls.view_recallcampaign"
PERM_RUN = "recalls.change_recallcampaign"
PERM_OPEN = "recalls.add_recallcampaign"
PERM_APPROVE = "recalls.approve_recallcampaign"
PERM_NOTICE = "recalls.change_recallnotice"
PERM_NOTICE_VIEW = "recalls.view_recallnotice"
PERM_REPORT = "recalls.report_affectedunit"
PERM_EFFECTIVENESS = "recalls.change_effectivenesscheck"

# Who receives a recall notice: the customers who hold units (distributors, hospitals).
CONSIGNEE_ROLES = (PartyRole.DISTRIBUTOR, PartyRole.HOSPITAL)
# Ledger dispositions after which a unit no longer exists as a device (CBV 2.0).
GONE_DISPOSITIONS = frozenset({"destroyed", "disposed"})
MAX_TEXT = 4000


def is_partner(user: User | None) -> bool:
    return scoping.is_partner(user)


def require(user: User | None, perm: str, what: str) -> None:
    """Staff need ``perm``; partners never pass (their actions go through ``notice_for``)."""
    if user is None:
        return
    if is_partner(user):
        raise PermissionDenied(
            _("Partner accounts cannot %(what)s") % {"what": what},
            details={"required": perm, "partner": True},
        )
    if not user.has_perm(perm):
        raise PermissionDenied(
            _("You need the permission %(perm)s to %(what)s") % {"perm": perm, "what": what},
            details={"required": perm},
        )


def invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}",
        field=field,
        details=[{"field": field, "message": message, "code": code}],
    )


def text(field: str, value: Any, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(field, _("expected text"))
    out = value.strip()
    if required and not out:
        raise invalid(field, _("this field is required"), "required")
    if len(out) > max_length:
        raise invalid(field, _("at most %(n)s characters") % {"n": max_length}, "max_length")
    return out


def now() -> datetime:
    return timezone.now()


# Campaigns -------------------------------------------------------------------------------------


def campaigns_visible(user: User | None) -> QuerySet[RecallCampaign]:
    """Campaigns are the maker's documents: staff with the view permission read them all; a
    partner reads none (its notices are its view of a recall)."""
    qs = RecallCampaign.objects.all()
    if is_partner(user):
        return qs.none()
    if user is not None and not user.has_perm(PERM_VIEW):
        raise PermissionDenied(
            _("You need the permission %(perm)s to read recalls") % {"perm": PERM_VIEW},
            details={"required": PERM_VIEW},
        )
    return qs


def campaign_get(*, number: str, user: User | None) -> RecallCampaign:
    campaign = campaigns_visible(user).filter(number=number).first()
    if campaign is None:
        raise NotFound(_("No recall %(number)s") % {"number": number}, field="number")
    return campaign


def fresh(campaign: RecallCampaign) -> RecallCampaign:
    """The campaign as stored now (the caller's instance may predate another service's write)."""
    return RecallCampaign.objects.get(pk=campaign.pk)


def locked(campaign: RecallCampaign) -> RecallCampaign:
    """The campaign row, locked for this transaction (two QA users acting at once queue)."""
    return RecallCampaign.objects.select_for_update().get(pk=campaign.pk)


def require_open(campaign: RecallCampaign, action: str) -> None:
    if campaign.status != CampaignStatus.OPEN:
        raise Conflict(
            _("Cannot %(action)s %(number)s: it is %(status)s; only an open recall can")
            % {
                "action": action,
                "number": campaign.number,
                "status": campaign.get_status_display(),
            },
            field="status",
            details={"status": campaign.status},
        )


def require_approved(campaign: RecallCampaign, action: str) -> None:
    if campaign.approved_at is None:
        raise Conflict(
            _(
                "Cannot %(action)s %(number)s before the recall is approved: classify it, "
                "then approve it with your e-signature"
            )
            % {"action": action, "number": campaign.number},
            field="approved_at",
            details={"missing": ["approval"]},
        )


# Notices ---------------------------------------------------------------------------------------


def notices_visible(user: User | None) -> QuerySet[RecallNotice]:
    """Staff with the view permission read every notice; a partner reads the real (non-drill)
    notices addressed to its own party once they are sent (a draft is still ours to change);
    anyone else none."""
    qs = RecallNotice.objects.select_related("campaign", "consignee")
    if user is None:
        return qs
    if is_partner(user):
        return qs.filter(consignee_id=user.party_id, drill=False, sent_at__isnull=False)
    if not user.has_perm(PERM_NOTICE_VIEW):
        raise PermissionDenied(
            _("You need the permission %(perm)s to read recall notices")
            % {"perm": PERM_NOTICE_VIEW},
            details={"required": PERM_NOTICE_VIEW},
        )
    return qs


def notice_get(*, number: str, user: User | None) -> RecallNotice:
    """A notice by number; 404 for a partner's look at another party's (or a drill's) notice."""
    notice = notices_visible(user).filter(number=number).first()
    if notice is None:
        raise NotFound(_("No recall notice %(number)s") % {"number": number}, field="number")
    return notice


def require_notice_actor(user: User | None, notice: RecallNotice, perm: str, what: str) -> None:
    """The consignee's own partner users act on their notice; staff need ``perm``."""
    if user is None:
        return
    if is_partner(user):
        if notice.drill or notice.consignee_id != user.party_id:
            raise NotFound(
                _("No recall notice %(number)s") % {"number": notice.number}, field="number"
            )
        return
    require(user, perm, what)


def language_for(party: Party) -> str:
    """Chinese for a party in mainland China, else English."""
    return "zh-hans" if (party.country or "").upper() == "CN" else "en"


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
