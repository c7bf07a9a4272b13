"""Complaint handling after intake: investigation, reportability, CAPA link, signed closure.

Status flow (ISO 13485 8.2.2; 21 CFR 820.198 as carried into the QMSR)::

    open -> investigating (an investigation entry) -> decided (reportability) -> closed (signed)
    open -> decided is allowed: the decision may come before any entry (a clear case)

- An investigation entry records what was done and found; it may also name (or correct) the
  complained device's UDI, which re-reads its component lots and re-evaluates the signals.
- The reportability decision says reportable yes or no, with a justification either way; a
  "reportable" decision creates the adverse event with its deadlines in the same transaction.
- The CAPA link is a reference (the QMS's CAPA number) and/or a quality nonconformance, linked
  by number or opened from the complaint.
- Closing is e-signed (meaning "closed"): the password is checked before anything is written,
  and a complaint without a UDI or without a reportability decision cannot close (409 naming
  what is missing).

Every step is audited with its reason (complaints are regulated records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.signatures import signature_apply, signature_precheck
from medtrace.errors import Conflict, ValidationFailed
from medtrace.quality.models import Nonconformance

from . import common, device
from .adverse import AdverseEventPlan, adverse_event_store
from .common import PERM_MANAGE, invalid
from .intake import complaint_set_device
from .models import AdverseEvent, Complaint, ComplaintInvestigation, ComplaintStatus

S = ComplaintStatus


def complaint_investigate(
    *,
    complaint: Complaint,
    entry: str,
    user: User | None,
    findings: str = "",
    udi: str | None = None,
    investigation_summary: str | None = None,
    root_cause: str | None = None,
    recorded_at: Any = None,
) -> ComplaintInvestigation:
    """Add an investigation entry (and, optionally, name the device or update the summary and
    root cause). The complaint moves to ``investigating`` if it was ``open``."""
    common.require(user, PERM_MANAGE, "investigate complaints")
    common.refuse_closed(complaint, "be investigated")
    what = common.text("entry", entry, required=True, max_length=10_000)
    found_text = common.text("findings", findings, max_length=10_000)
    summary = (
        None
        if investigation_summary is None
        else common.text("investigation_summary", investigation_summary, max_length=10_000)
    )
    cause = None if root_cause is None else common.text("root_cause", root_cause, max_length=10_000)
    at = common.moment("recorded_at", recorded_at)
    found = None
    if udi not in (None, ""):
        found = device.device_resolve(udi, user=user, required=True)
    with transaction.atomic():
        locked = common.complaint_for_update(complaint)
        common.refuse_closed(locked, "be investigated")
        row = ComplaintInvestigation.objects.create(
            complaint=locked, entry=what, findings=found_text, author=user, recorded_at=at
        )
        audit.record_create(row, user=user)
        before = audit.snapshot(locked)
        if locked.status == S.OPEN:
            locked.status = S.INVESTIGATING
        if summary is not None:
            locked.investigation_summary = summary
        if cause is not None:
            locked.root_cause = cause
        if found is not None and found.udi_text != locked.udi_text:
            locked.save()
            audit.record_update(locked, before, user=user, reason=f"investigation: {what[:200]}")
            complaint_set_device(
                complaint=locked,
                found=found,
                user=user,
                reason=f"device identified in the investigation: {found.udi_text[:200]}",
            )
        else:
            locked.save()
            audit.record_update(locked, before, user=user, reason=f"investigation: {what[:200]}")
    return row


@dataclass(frozen=True)
class Decision:
    complaint: Complaint
    adverse_event: AdverseEvent | None


def complaint_decide(
    *,
    complaint: Complaint,
    reportable: Any,
    justification: str,
    user: User | None,
    severity: Any = None,
    jurisdictions: Any = None,
    group_event: Any = False,
    public_health_threat: Any = False,
    five_day: Any = False,
) -> Decision:
    """Record whether the complaint is reportable, and why (required either way). Reportable
    creates the adverse event (options: severity, jurisdictions, group event, public health
    threat, 5-day report) unless it already has one."""
    common.require(user, PERM_MANAGE, "decide on reportability")
    common.refuse_closed(complaint, "be decided again")
    answer = common.yes_no("reportable", reportable, required=True)
    why = common.text("justification", justification, required=True, max_length=10_000)
    existing = AdverseEvent.objects.filter(complaint=complaint).first()
    if answer is False and existing is not None:
        raise Conflict(
            f"reportable: {complaint.number} already has the adverse event {existing.number}; "
            "a reported event cannot be decided not reportable",
            field="reportable",
        )
    plan = None
    if answer and existing is None:
        plan = AdverseEventPlan(
            complaint,
            severity=severity,
            jurisdictions=jurisdictions,
            group_event=group_event,
            public_health_threat=public_health_threat,
            five_day=five_day,
        )
    with transaction.atomic():
        locked = common.complaint_for_update(complaint)
        common.refuse_closed(locked, "be decided again")
        before = audit.snapshot(locked)
        locked.reportable = answer
        locked.reportability_justification = why
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.status = S.DECIDED
        locked.save()
        audit.record_update(
            locked,
            before,
            user=user,
            reason=f"{'reportable' if answer else 'not reportable'}: {why[:200]}",
        )
        ae = existing
        if plan is not None:
            ae = adverse_event_store(complaint=locked, plan=plan, user=user)
    return Decision(locked, ae)


def _nonconformance(value: Any) -> Nonconformance:
    raw = str(value).strip()
    qs = Nonconformance.objects.all()
    found = qs.filter(number=raw).first()
    if found is None and raw.isascii() and raw.isdigit():
        found = qs.filter(pk=int(raw)).first()
    if found is None:
        raise invalid("nonconformance", f"no nonconformance {raw!r}", "not_found")
    return found


def complaint_link_capa(
    *,
    complaint: Complaint,
    user: User | None,
    capa_reference: str = "",
    nonconformance: Any = None,
    open_nonconformance: bool = False,
) -> Complaint:
    """Link the complaint to its CAPA: a reference and/or a nonconformance (by number, or
    opened now from the complaint, naming its unit or lot, without a hold: the goods are at
    the customer's)."""
    from medtrace.quality.nonconformance import nonconformance_open

    common.require(user, PERM_MANAGE, "link complaints to a CAPA")
    common.refuse_closed(complaint, "change its CAPA link")
    ref = common.text("capa_reference", capa_reference, max_length=120)
    nc = None
    if nonconformance not in (None, ""):
        if open_nonconformance:
            raise invalid(
                "nonconformance", "give a nonconformance number or open a new one, not both"
            )
        nc = _nonconformance(nonconformance)
    if not ref and nc is None and not open_nonconformance:
        raise invalid(
            "capa_reference",
            "give a CAPA reference, a nonconformance number, or open a nonconformance",
            "required",
        )
    with transaction.atomic():
        locked = common.complaint_for_update(complaint)
        common.refuse_closed(locked, "change its CAPA link")
        if open_nonconformance:
            target = locked.unit_epc if locked.udi_resolution == "unit" else ""
            target = target or (locked.lot_class if locked.udi_resolution == "lot" else "")
            nc = nonconformance_open(
                targets=[target] if target else [],
                title=f"Complaint {locked.number}",
                description=locked.description,
                source=locked.number,
                user=user,
                hold=False,
            )
        before = audit.snapshot(locked)
        if ref:
            locked.capa_reference = ref
        if nc is not None:
            locked.nonconformance = nc
        locked.save()
        audit.record_update(
            locked,
            before,
            user=user,
            reason="CAPA link: " + ", ".join(x for x in (ref, nc.number if nc else "") if x),
        )
    return locked


def closure_blockers(complaint: Complaint) -> list[dict[str, str]]:
    """What a complaint still lacks before it can close (empty when it can)."""
    missing = []
    if not complaint.udi_text:
        missing.append(
            {
                "field": "udi",
                "message": "the complaint names no device UDI; record it in an investigation entry",
            }
        )
    if complaint.reportable is None:
        missing.append(
            {
                "field": "reportable",
                "message": "no reportability decision; decide reportable yes or no with its "
                "justification",
            }
        )
    return missing


def _refuse_unready(complaint: Complaint) -> None:
    missing = closure_blockers(complaint)
    if missing:
        raise Conflict(
            f"{complaint.number} cannot close: " + "; ".join(m["message"] for m in missing),
            field=missing[0]["field"],
            details={"missing": [m["field"] for m in missing]},
        )


def complaint_close(*, complaint: Complaint, password: str, summary: str, user: User) -> Complaint:
    """Close the complaint with an e-signature (meaning "closed") by ``user``."""
    common.require(user, PERM_MANAGE, "close complaints")
    complaint = Complaint.objects.get(pk=complaint.pk)  # the checks read the stored values
    common.refuse_closed(complaint, "be closed again")
    why = common.text("summary", summary, required=True, max_length=10_000)
    _refuse_unready(complaint)
    if not isinstance(password, str) or not password:
        raise ValidationFailed("password: re-enter your password to sign", field="password")
    signature_precheck(
        user=user,
        password=password,
        object_type=audit.label_of(complaint),
        object_repr=complaint.number,
    )
    with transaction.atomic():
        locked = common.complaint_for_update(complaint)
        common.refuse_closed(locked, "be closed again")
        _refuse_unready(locked)
        before = audit.snapshot(locked)
        locked.status = S.CLOSED
        locked.closed_by = user
        locked.closed_at = timezone.now()
        locked.closure_summary = why
        locked.save()
        audit.record_update(locked, before, user=user, reason=f"closed: {why[:200]}")
        signature_apply(record=locked, meaning="closed", user=user, password=password, reason=why)
    return locked
