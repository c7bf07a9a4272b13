"""Opening, extending, classifying, approving and closing a recall campaign.

Opening freezes the scope (``scope.py``) and, for a real recall, puts every affected unit still in
our hands on a recall hold at once: one ``place_holds`` call for all of them, so the warehouse
cannot pick or ship any of them from that moment (the state machine refuses "is under recall").
Units with a distributor or hospital are reached by notices (``notices.py``). A drill places no
hold; its frozen rows say which units would have been held (``under_control``).

The classification (NMPA level, FDA class, EU FSCA, depth, health hazard evaluation, strategy)
is approved with an e-signature (meaning "approved"); the approval is the recall decision the
regulatory clocks run from (``lib.clocks``): the CN notification (1/3/7 days for level 1/2/3)
and the CN recall plan (5 CN working days), the FDA 806 report (10 US working days) for an FDA
class. The CN summary evaluation report is due 10 CN working days after the recall is
*completed* (医疗器械召回管理办法: 召回完成后10个工作日内), not after the decision: it is added
to the deadlines when the last consignee is resolved (``responses.py``), or at closing.

Closing needs every consignee resolved, an effectiveness conclusion and an e-signature (meaning
"closed"). It does not lift the recall holds: a held unit still is a recalled device until QA
decides what becomes of it (rework, scrap, release after a correction), each an explicit, signed
quality decision (``quality`` hold lifting); closing only records that the campaign ended.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.audit.signatures import signature_apply, signature_precheck
from medtrace.errors import Conflict
from medtrace.lib import clocks
from medtrace.lifecycle.services import next_number
from medtrace.quality.holds import HOLD_DISPOSITION, place_holds
from medtrace.quality.models import Hold, HoldKind

from . import scope as scoping
from .common import (
    PERM_APPROVE,
    PERM_OPEN,
    PERM_RUN,
    fresh,
    invalid,
    locked,
    now,
    require,
    require_open,
    text,
)
from .models import (
    AffectedUnit,
    CampaignStatus,
    CnLevel,
    EffectivenessLevel,
    FdaClass,
    NoticeStatus,
    RecallCampaign,
    RecallDepth,
    UnitSource,
    UnitStatus,
)

HHE_KEYS = ("hazard", "severity", "probability", "population")


def _complaint(value: Any) -> Any:
    if value in (None, ""):
        return None
    from medtrace.complaints.models import Complaint

    if isinstance(value, Complaint):
        return value
    found = Complaint.objects.filter(number=str(value).strip()).first()
    if found is None:
        raise invalid("complaint", _("no complaint %(n)s") % {"n": value}, "not_found")
    return found


def _fingerprint(epcs: Sequence[str]) -> str:
    """SHA-256 of the sorted EPC list: the audit entry binds the frozen set without listing
    100,000 EPCs in it."""
    return hashlib.sha256("\n".join(sorted(epcs)).encode()).hexdigest()


def _rows(
    campaign: RecallCampaign, units: Sequence[scoping.Found], at: datetime, source: str
) -> list[AffectedUnit]:
    out = []
    for u in units:
        gone = u.disposition in scoping.GONE_DISPOSITIONS
        out.append(
            AffectedUnit(
                campaign=campaign,
                drill=campaign.drill,
                epc=u.epc,
                kind=u.kind,
                gtin=u.gtin,
                serial=u.serial[:64],
                lot=u.lot[:64],
                product_id=u.product_id,
                holder_id=u.holder_id,
                holder_gln=u.holder_gln[:13],
                holder_name=u.holder_name[:200],
                holder_role=u.holder_role[:32],
                location=u.location[:512],
                disposition=u.disposition[:64],
                contained_in=u.contained_in[:512],
                installed_in=u.installed_in[:512],
                under_control=u.under_control,
                source=source,
                added_at=at,
                # Scrapped before the recall: nothing left to recover.
                status=UnitStatus.DESTROYED if gone else UnitStatus.PENDING,
                reported_at=at if gone else None,
                note=_("scrapped before the recall (ledger disposition %(d)s)")
                % {"d": u.disposition}
                if gone
                else "",
            )
        )
    return out


def _hold(
    campaign: RecallCampaign, rows: Sequence[AffectedUnit], lots: Sequence[str], user: User | None
) -> None:
    """Recall holds on every unit still in our hands (and our own reached lots), one call."""
    if campaign.drill:
        return
    targets = [r.epc for r in rows if r.under_control]
    if not targets and not lots:
        return
    holds = place_holds(
        targets=[*targets, *lots],
        kind=HoldKind.RECALL,
        reason=_("Recall %(number)s: %(title)s")
        % {"number": campaign.number, "title": campaign.title},
        user=user,
        source=campaign.number,
    )
    by_target = {h.target: h for h in holds}
    recalled = HOLD_DISPOSITION[HoldKind.RECALL]
    # One UPDATE joining each frozen row to its new hold (bulk_update's CASE per row took
    # seconds for a few thousand units). The holding event made them "recalled": the frozen
    # state includes the recall's own first step, so a recompute does not report it as a change.
    AffectedUnit.objects.filter(campaign=campaign, under_control=True, hold__isnull=True).update(
        hold=Subquery(
            Hold.objects.filter(  # lifted_at: the open-holds index on target
                target=OuterRef("epc"),
                source=campaign.number,
                kind=HoldKind.RECALL,
                lifted_at__isnull=True,
            )
            .order_by("-pk")
            .values("pk")[:1]
        ),
        disposition=recalled,
    )
    for row in rows:
        if row.under_control and row.epc in by_target:
            row.hold = by_target[row.epc]
            row.disposition = recalled


def recall_open(
    *,
    title: str,
    reason: str,
    kind: str,
    params: Mapping[str, Any],
    complaint: Any = None,
    drill: bool = False,
    user: User | None,
) -> RecallCampaign:
    """Open a recall (or a drill): resolve and walk the scope, freeze the affected units and
    hold those in our hands. ``complaint`` is a Complaint or its number."""
    require(user, PERM_OPEN, _("open recalls"))
    title = text("title", title, required=True, max_length=200)
    why = text("reason", reason, required=True)
    linked = _complaint(complaint)
    resolved = scoping.resolve(kind, params)
    found = scoping.walk(resolved.starts)
    if not found.units and not found.lots:
        raise invalid(
            next(iter(params), "params"),
            _("the scope reaches no unit: nothing was made from, contains or is packed in what "
              "it names"),
            "empty",
        )  # fmt: skip
    at = now()
    with transaction.atomic():
        campaign = RecallCampaign.objects.create(
            number=next_number("RC"),
            title=title,
            reason=why,
            status=CampaignStatus.OPEN,
            drill=bool(drill),
            complaint=linked,
            scope_kind=kind,
            scope={
                # As given, JSON-safe (a caller may pass dates or Decimals).
                "params": json.loads(json.dumps(dict(params), default=str)),
                "resolved": resolved.facts,
                "starts": resolved.starts,
                "lots": found.lots,
                "extensions": [],
            },
            frozen_at=at,
            affected_count=len(found.units),
            opened_at=at,
            opened_by=user,
            created_by=user,
        )
        rows = AffectedUnit.objects.bulk_create(
            _rows(campaign, found.units, at, UnitSource.TRACE), batch_size=1000
        )
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(campaign),
            object_id=campaign.pk,
            object_repr=str(campaign),
            changes={
                **audit.snapshot(campaign),
                "affected_epcs_sha256": _fingerprint([u.epc for u in found.units]),
                "under_control": sum(1 for u in found.units if u.under_control),
            },
            user=user,
            reason=why,
        )
        _hold(campaign, rows, found.lots, user)
    return campaign


def recall_scope_extend(
    *, campaign: RecallCampaign, epcs: Sequence[str], user: User | None, reason: str = ""
) -> list[AffectedUnit]:
    """Add units to the frozen scope (any UDI forms): what they reach is added, those already
    in it are left alone; new units in our hands are held at once (not in a drill)."""
    require(user, PERM_RUN, _("extend recalls"))
    why = text("reason", reason) or _("scope extended")
    resolved = scoping.resolve("serials", {"serials": list(epcs)})
    found = scoping.walk(resolved.starts)
    at = now()
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("extend"))
        frozen = set(AffectedUnit.objects.filter(campaign=campaign).values_list("epc", flat=True))
        new = [u for u in found.units if u.epc not in frozen]
        if not new:
            raise invalid(
                "epcs", _("every unit named is in the recall already"), "already_in_scope"
            )
        rows = AffectedUnit.objects.bulk_create(
            _rows(campaign, new, at, UnitSource.EXTENSION), batch_size=1000
        )
        before = audit.snapshot(campaign)
        campaign.affected_count += len(rows)
        campaign.scope = {
            **campaign.scope,
            "extensions": [
                *campaign.scope.get("extensions", []),
                {"at": at.isoformat(), "by": user.get_username() if user else None,
                 "starts": resolved.starts, "added": len(rows)},
            ],
        }  # fmt: skip
        campaign.save(update_fields=["affected_count", "scope", "updated_at"])
        audit.record_update(campaign, before, user=user, reason=why)
        audit.record(
            action=AuditAction.UPDATE,
            object_type=audit.label_of(campaign),
            object_id=campaign.pk,
            object_repr=str(campaign),
            changes={"added_epcs": [r.epc for r in rows]},
            user=user,
            reason=why,
        )
        _hold(campaign, rows, [], user)
    return rows


def _choice(field: str, value: Any, allowed: Sequence[Any]) -> Any:
    if value not in allowed:
        raise invalid(
            field,
            _("%(v)r is not accepted; expected one of %(a)s")
            % {"v": value, "a": ", ".join(str(a) for a in allowed)},
        )
    return value


def recall_classify(
    *,
    campaign: RecallCampaign,
    cn_level: int | None,
    fda_class: str = "",
    eu_fsca: bool = False,
    depth: str,
    hhe: Mapping[str, Any],
    strategy: str,
    hhe_summary: str = "",
    effectiveness_level: str = "",
    user: User | None,
) -> RecallCampaign:
    """Record the health hazard evaluation and the classification (办法 第十四条; 21 CFR 7.41,
    7.42). A classified recall is approved next; changing an approved classification needs a
    new approval (the old signature no longer matches what it signed)."""
    require(user, PERM_RUN, _("classify recalls"))
    if isinstance(cn_level, str) and cn_level.strip().isdigit():
        cn_level = int(cn_level)  # from a form
    level = None if cn_level in (None, "") else _choice("cn_level", cn_level, CnLevel.values)
    fda = _choice("fda_class", fda_class or "", ["", *FdaClass.values])
    if level is None and not fda and not eu_fsca:
        raise invalid(
            "cn_level",
            _("classify the recall: an NMPA level (1-3), an FDA class (I-III) or an EU FSCA"),
            "required",
        )
    depth = _choice("depth", depth, RecallDepth.values)
    if not isinstance(hhe, Mapping):
        raise invalid("hhe", _("expected an object with %(k)s") % {"k": ", ".join(HHE_KEYS)})
    evaluation = {}
    for key in HHE_KEYS:
        evaluation[key] = text(f"hhe.{key}", hhe.get(key), required=True, max_length=2000)
    level_e = _choice(
        "effectiveness_level", effectiveness_level or "", ["", *EffectivenessLevel.values]
    )
    plan = text("strategy", strategy, required=True)
    summary_text = text("hhe_summary", hhe_summary)
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("classify"))
        before = audit.snapshot(campaign)
        reapproval = campaign.approved_at is not None
        campaign.cn_level = level
        campaign.fda_class = fda
        campaign.eu_fsca = bool(eu_fsca)
        campaign.depth = depth
        campaign.hhe = evaluation
        campaign.hhe_summary = summary_text
        campaign.strategy = plan
        if level_e:
            campaign.effectiveness_level = level_e
        campaign.classified_at = now()
        campaign.classified_by = user
        if reapproval:
            # The decision stands (its clocks keep running), but the new classification needs
            # its own signature before further notices go out.
            campaign.approved_at = None
            campaign.approved_by = None
        campaign.save()
        audit.record_update(campaign, before, user=user)
    return campaign


def _deadlines(
    campaign: RecallCampaign, *, completed: datetime | None = None
) -> list[dict[str, Any]]:
    assert campaign.decision_at is not None
    # A clock whose working-day calendar lacks the year (e.g. next year's CN holiday schedule
    # not yet published) is recorded with its error and no due time, never guessed, and never
    # blocks the approval or a consignee's report: the recall must go on.
    found = clocks.recall_deadlines_or_gaps(
        start=campaign.decision_at,
        cn_level=campaign.cn_level,
        fda=bool(campaign.fda_class),
        completed=completed,
    )
    return [
        {"key": d.key, "jurisdiction": d.jurisdiction, "label": d.label,
         "due": d.due.isoformat(), "basis": d.basis}
        if isinstance(d, clocks.Deadline)
        else {"key": d.key, "jurisdiction": d.jurisdiction, "label": d.label, "due": None,
              "basis": d.basis, "error": d.error}
        for d in found
    ]  # fmt: skip


def _not_approved(campaign: RecallCampaign) -> None:
    if campaign.approved_at is not None:
        raise Conflict(
            _("%(n)s was already approved on %(d)s")
            % {"n": campaign.number, "d": campaign.approved_at.date().isoformat()},
            field="approved_at",
        )


def recall_approve(*, campaign: RecallCampaign, password: str, user: User) -> RecallCampaign:
    """Approve the classified recall, e-signed (meaning "approved"). The first approval is the
    recall decision: the regulatory clocks start, and the draft notices get their deadline."""
    from .notices import notice_deadline

    require(user, PERM_APPROVE, _("approve recalls"))
    campaign = fresh(campaign)
    if campaign.classified_at is None:
        raise Conflict(
            _("Cannot approve %(n)s: classify it first (level or class, hazard evaluation, "
              "strategy)") % {"n": campaign.number},
            field="classified_at",
            details={"missing": ["classification"]},
        )  # fmt: skip
    require_open(campaign, _("approve"))
    _not_approved(campaign)
    signature_precheck(
        user=user,
        password=password,
        object_type="recalls.recallcampaign",
        object_repr=str(campaign),
    )
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("approve"))
        _not_approved(campaign)
        before = audit.snapshot(campaign)
        at = now()
        campaign.approved_at = at
        campaign.approved_by = user
        if campaign.decision_at is None:
            campaign.decision_at = at
        campaign.deadlines = _deadlines(campaign)
        campaign.save()
        audit.record_update(campaign, before, user=user)
        for notice in campaign.notices.filter(status=NoticeStatus.DRAFT):
            notice.deadline_at = notice_deadline(campaign)
            notice.save(update_fields=["deadline_at"])
        signature_apply(record=campaign, meaning="approved", user=user, password=password)
    return campaign


def summary_deadline_add(campaign: RecallCampaign, completed: datetime) -> None:
    """Add the CN summary-report clock once the recall is completed (caller holds the lock)."""
    if campaign.decision_at is None or campaign.cn_level is None:
        return
    if any(d["key"] == "cn_recall_summary" for d in campaign.deadlines):
        return
    campaign.deadlines = _deadlines(campaign, completed=completed)


def close_blockers(campaign: RecallCampaign) -> list[dict[str, Any]]:
    """What still stands between the campaign and its closing (empty: it may close)."""
    missing: list[dict[str, Any]] = []
    if campaign.approved_at is None:
        missing.append({"code": "not_approved", "message": _("the recall is not approved")})
    notices = list(
        campaign.notices.order_by("number").values("number", "status", "acknowledged_at")
    )
    unassigned = AffectedUnit.objects.filter(
        campaign=campaign, notice__isnull=True, under_control=False, status=UnitStatus.PENDING,
        holder_role__in=["distributor", "hospital"],
    ).count()  # fmt: skip
    if unassigned:
        missing.append(
            {"code": "consignees_without_notice",
             "message": _("%(n)s units with consignees are on no notice") % {"n": unassigned},
             "count": unassigned}
        )  # fmt: skip
    unsent = [n["number"] for n in notices if n["status"] == NoticeStatus.DRAFT]
    if unsent:
        missing.append(
            {"code": "notices_not_sent", "message": _("notices not sent"), "notices": unsent}
        )
    unacknowledged = [
        n["number"]
        for n in notices
        if n["acknowledged_at"] is None and n["status"] != NoticeStatus.DRAFT
    ]
    if unacknowledged:
        missing.append(
            {"code": "notices_not_acknowledged", "message": _("notices not acknowledged"),
             "notices": unacknowledged}
        )  # fmt: skip
    unresolved = [n["number"] for n in notices if n["status"] != NoticeStatus.RESOLVED]
    if unresolved:
        missing.append(
            {"code": "units_without_disposition",
             "message": _("notices with units nobody reported on"), "notices": unresolved}
        )  # fmt: skip
    if not campaign.effectiveness_conclusion:
        missing.append(
            {"code": "no_effectiveness_conclusion",
             "message": _("no effectiveness conclusion")}
        )  # fmt: skip
    elif campaign.effective is False:
        missing.append(
            {"code": "not_effective",
             "message": _("the effectiveness check found the recall not effective")}
        )  # fmt: skip
    return missing


def recall_close(
    *, campaign: RecallCampaign, password: str, summary: str, user: User
) -> RecallCampaign:
    """Close the campaign, e-signed (meaning "closed"), when nothing is missing; otherwise 409
    listing everything that is. The recall holds stay (see the module docstring)."""
    require(user, PERM_APPROVE, _("close recalls"))
    why = text("summary", summary, required=True)
    campaign = fresh(campaign)
    require_open(campaign, _("close"))
    missing = close_blockers(campaign)
    if missing:
        raise Conflict(
            _("Cannot close %(n)s yet: %(what)s")
            % {"n": campaign.number, "what": "; ".join(m["message"] for m in missing)},
            field="status",
            details={"missing": missing},
        )
    signature_precheck(
        user=user,
        password=password,
        object_type="recalls.recallcampaign",
        object_repr=str(campaign),
    )
    with transaction.atomic():
        campaign = locked(campaign)
        require_open(campaign, _("close"))
        if close_blockers(campaign):
            raise Conflict(_("%(n)s changed while closing; try again") % {"n": campaign.number})
        before = audit.snapshot(campaign)
        at = now()
        campaign.status = CampaignStatus.CLOSED
        campaign.closed_at = at
        campaign.closed_by = user
        campaign.close_summary = why
        summary_deadline_add(campaign, at)
        campaign.save()
        audit.record_update(campaign, before, user=user, reason=why)
        signature_apply(record=campaign, meaning="closed", user=user, password=password, reason=why)
    return campaign
