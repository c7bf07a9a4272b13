"""What consignees answer: the acknowledgement of a notice, and what became of each unit.

The consignee's own partner users act on their own notice (another party's, or a drill's, is a
404 to them); staff act on any notice on a consignee's behalf (a phone call, a faxed form, a
drill): QA/RA acknowledges, and QA/RA, the warehouse and service record dispositions.

A disposition report is all-or-nothing: every item is checked first, and the errors name the item
(``items[3].unit``) and why (not on this notice, already reported, unknown status). A returned
unit goes into the returns process: one return authorisation (RMA) per report for the units
reported returned (``distribution.returns.rma_create``), linked from each unit; receiving the
RMA later puts them into quarantine. A drill authorises no real return.

A notice is resolved when every unit on it has a disposition; the recall is complete when every
notice is, and the CN summary-report clock starts then (``campaigns.summary_deadline_add``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import Conflict, MedtraceError, ValidationFailed

from .campaigns import summary_deadline_add
from .common import (
    PERM_NOTICE,
    PERM_REPORT,
    invalid,
    locked,
    now,
    require_notice_actor,
    require_open,
    text,
)
from .models import AffectedUnit, NoticeStatus, RecallCampaign, RecallNotice, UnitStatus

REPORTABLE = tuple(s for s in UnitStatus.values if s != UnitStatus.PENDING)
MAX_ITEMS = 10_000
PERM_RMA = "distribution.add_returnauthorization"


def _locked_notice(notice: RecallNotice) -> RecallNotice:
    return (
        RecallNotice.objects.select_for_update(of=("self",))
        .select_related("campaign", "consignee")
        .get(pk=notice.pk)
    )


def _require_sent(notice: RecallNotice) -> None:
    if notice.status == NoticeStatus.DRAFT:
        raise Conflict(
            _("%(n)s has not been sent yet") % {"n": notice.number},
            field="status",
            details={"status": notice.status},
        )


def _acknowledge(notice: RecallNotice, user: User | None, note: str) -> None:
    before = audit.snapshot(notice)
    notice.acknowledged_at = now()
    notice.acknowledged_by = user
    notice.ack_note = note
    if notice.status == NoticeStatus.SENT:
        notice.status = NoticeStatus.ACKNOWLEDGED
    notice.save()
    audit.record_update(notice, before, user=user)


def _campaign_progress(campaign: RecallCampaign, user: User | None) -> None:
    """Stamp the campaign when the last notice is acknowledged / resolved (lock held)."""
    notices = list(campaign.notices.values_list("status", "acknowledged_at"))
    if not notices:
        return
    before = audit.snapshot(campaign)
    at = now()
    if campaign.all_acknowledged_at is None and all(ack for _s, ack in notices):
        campaign.all_acknowledged_at = at
    if all(s == NoticeStatus.RESOLVED for s, _a in notices):
        summary_deadline_add(campaign, at)
    campaign.save(update_fields=["all_acknowledged_at", "deadlines", "updated_at"])
    audit.record_update(campaign, before, user=user)


def notice_acknowledge(*, notice: RecallNotice, user: User | None, note: str = "") -> RecallNotice:
    """The consignee confirms it received the notice (and will act on it)."""
    require_notice_actor(user, notice, PERM_NOTICE, _("acknowledge recall notices"))
    note = text("note", note)
    with transaction.atomic():
        campaign = locked(notice.campaign)
        require_open(campaign, _("acknowledge notices of"))
        notice = _locked_notice(notice)
        _require_sent(notice)
        if notice.acknowledged_at is not None:
            raise Conflict(
                _("%(n)s was already acknowledged on %(d)s")
                % {"n": notice.number, "d": notice.acknowledged_at.date().isoformat()},
                field="acknowledged_at",
            )
        _acknowledge(notice, user, note)
        _campaign_progress(campaign, user)
    return notice


def _resolve_unit(scan: str, units: Mapping[str, AffectedUnit]) -> AffectedUnit | None:
    if scan in units:
        return units[scan]
    from medtrace.trace.selectors import resolve_target

    try:
        epc = resolve_target(scan, user=None, allow_class=False).epc
    except MedtraceError:
        by_serial = [u for u in units.values() if u.serial == scan]
        return by_serial[0] if len(by_serial) == 1 else None
    return units.get(epc)


def _check_items(
    items: Any, units: Mapping[str, AffectedUnit]
) -> list[tuple[AffectedUnit, str, str]]:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence) or not items:
        raise invalid("items", _("report at least one unit"), "required")
    if len(items) > MAX_ITEMS:
        raise invalid("items", _("at most %(n)s items per report") % {"n": f"{MAX_ITEMS:,}"})
    errors: list[dict[str, Any]] = []
    out: list[tuple[AffectedUnit, str, str]] = []
    seen: dict[str, int] = {}

    def error(index: int, name: str, message: str, code: str) -> None:
        errors.append({"index": index, "field": f"items[{index}].{name}", "message": message,
                       "code": code})  # fmt: skip

    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            error(index, "unit", _("expected an object with unit, status and note"), "invalid")
            continue
        scan = item.get("unit")
        status = item.get("status")
        note = item.get("note") or ""
        if status not in REPORTABLE:
            error(index, "status",
                  _("%(s)r is not a disposition; expected one of %(all)s")
                  % {"s": status, "all": ", ".join(REPORTABLE)}, "invalid")  # fmt: skip
        if not isinstance(note, str) or len(note) > 500:
            error(index, "note", _("expected text of at most 500 characters"), "invalid")
            note = ""
        if not isinstance(scan, str) or not scan.strip():
            error(index, "unit", _("scan or type the unit"), "required")
            continue
        unit = _resolve_unit(scan.strip(), units)
        if unit is None:
            error(index, "unit", _("%(u)s is not on this notice") % {"u": scan}, "not_on_notice")
            continue
        if unit.epc in seen:
            error(index, "unit",
                  _("%(u)s is reported twice (also items[%(i)s])")
                  % {"u": unit.serial or unit.epc, "i": seen[unit.epc]}, "duplicate")  # fmt: skip
            continue
        seen[unit.epc] = index
        if unit.status != UnitStatus.PENDING:
            error(index, "unit",
                  _("%(u)s was already reported as %(s)s")
                  % {"u": unit.serial or unit.epc, "s": unit.get_status_display()},
                  "already_reported")  # fmt: skip
            continue
        if status in REPORTABLE:
            out.append((unit, str(status), note.strip()))
    if errors:
        first = errors[0]
        more = _(" (and %(n)s more)") % {"n": len(errors) - 1} if len(errors) > 1 else ""
        raise ValidationFailed(
            f"{first['field']}: {first['message']}{more}", field=first["field"], details=errors
        )
    return out


def unit_dispositions_report(
    *, notice: RecallNotice, items: Any, user: User | None
) -> list[AffectedUnit]:
    """Record what became of units on ``notice``: ``items`` = [{unit, status, note}], ``unit``
    in any UDI form. Returns the units updated."""
    require_notice_actor(user, notice, PERM_REPORT, _("record what became of recalled units"))
    with transaction.atomic():
        campaign = locked(notice.campaign)
        require_open(campaign, _("report on"))
        notice = _locked_notice(notice)
        _require_sent(notice)
        units = {
            u.epc: u
            for u in AffectedUnit.objects.select_for_update().filter(notice=notice).order_by("pk")
        }
        checked = _check_items(items, units)
        if notice.acknowledged_at is None:
            # Reporting what became of the units acknowledges the notice.
            _acknowledge(notice, user, _("acknowledged with a disposition report"))
        at = now()
        for unit, status, note in checked:
            unit.status = status
            unit.note = note
            unit.reported_at = at
            unit.reported_by = user
        returned = [u for u, s, _n in checked if s == UnitStatus.RETURNED]
        if returned and not notice.drill:
            from medtrace.distribution.returns import rma_create

            # The recall notice authorises the return: a consignee's user (who may not raise an
            # RMA) or a warehouse clerk reports it; the RMA records who did when they may.
            rma = rma_create(
                customer=notice.consignee,
                scans=[u.epc for u in returned],
                reason=_("Recall %(c)s, notice %(n)s") % {"c": campaign.number, "n": notice.number},
                user=user if user is not None and user.has_perm(PERM_RMA) else None,
            )
            for unit in returned:
                unit.rma = rma
        updated = [u for u, _s, _n in checked]
        AffectedUnit.objects.bulk_update(
            updated, ["status", "note", "reported_at", "reported_by", "rma"], batch_size=1000
        )
        audit.record(
            action=AuditAction.UPDATE,
            object_type=audit.label_of(notice),
            object_id=notice.pk,
            object_repr=str(notice),
            changes={
                "dispositions": [
                    {
                        "epc": u.epc,
                        "serial": u.serial,
                        "status": s,
                        "note": n,
                        "rma": u.rma.number if u.rma else None,
                    }
                    for u, s, n in checked
                ]
            },
            user=user,
        )
        if not notice.units.filter(status=UnitStatus.PENDING).exists():
            before = audit.snapshot(notice)
            notice.status = NoticeStatus.RESOLVED
            notice.resolved_at = at
            notice.save()
            audit.record_update(notice, before, user=user)
        _campaign_progress(campaign, user)
    return updated
