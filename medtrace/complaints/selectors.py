"""Reading complaints, adverse events, signal rules and signals, with who may see what.

Internal staff with ``complaints.view_*`` read everything (every department role has it; the
auditor too). A hospital partner reads the complaints its hospital reported
(``complainant_party`` = its party), never another's (404), and none of the internal handling
(investigation notes, reportability, adverse events, signals). Other partners see no complaints.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from medtrace.accounts.models import User
from medtrace.audit.signatures import signatures_for
from medtrace.errors import MedtraceError, NotFound, PermissionDenied
from medtrace.service.lifecycle_selectors import duration_text

from . import common
from .common import PERM_AE_VIEW, PERM_RULES_VIEW, PERM_SIGNALS_VIEW, PERM_VIEW, invalid
from .decisions import closure_blockers
from .device import is_lot
from .models import (
    AdverseEvent,
    AdverseEventDeadline,
    Complaint,
    ComplaintSignal,
    ComplaintStatus,
    SignalRule,
)


def _staff_only(user: User | None, perm: str, what: str) -> None:
    if user is None:
        return
    if common.is_partner(user):
        raise PermissionDenied(f"Partner accounts cannot read {what}", details={"partner": True})
    if not user.has_perm(perm):
        raise PermissionDenied(
            f"You need the permission {perm} to read {what}", details={"required": perm}
        )


def _complaints_for(user: User | None) -> QuerySet[Complaint]:
    qs = Complaint.objects.select_related("product", "complainant_party", "reported_by")
    if user is None:
        return qs
    if common.is_partner(user):
        hospital = common.partner_hospital(user)
        return qs.filter(complainant_party=hospital) if hospital is not None else qs.none()
    if not user.has_perm(PERM_VIEW):
        raise PermissionDenied(
            f"You need the permission {PERM_VIEW} to read complaints",
            details={"required": PERM_VIEW},
        )
    return qs


def complaint_list(
    *,
    user: User | None,
    status: str | None = None,
    q: str | None = None,
    unit: str | None = None,
    lot: str | None = None,
) -> QuerySet[Complaint]:
    """Complaints, newest first; ``q`` matches number, serial, lot or the UDI as given."""
    qs = _complaints_for(user)
    if status:
        if status not in ComplaintStatus.values:
            raise invalid(
                "status",
                f"{status!r} is not a complaint status; expected one of "
                f"{', '.join(ComplaintStatus.values)}",
            )
        qs = qs.filter(status=status)
    if q and q.strip():
        text = q.strip()
        qs = qs.filter(
            Q(number__icontains=text)
            | Q(serial=text)
            | Q(lot=text)
            | Q(udi_text__icontains=text)
            | Q(complainant_name__icontains=text)
        )
    if unit:
        qs = qs.filter(unit_epc=unit.strip())
    if lot:
        qs = qs.filter(lot_class=lot.strip())
    return qs.order_by("-received_at", "-id")


def complaint_get(*, user: User | None, number: str) -> Complaint:
    found = _complaints_for(user).filter(number=number).first()
    if found is None:
        raise NotFound(f"No complaint {number}")
    return found


# Views of one complaint ---------------------------------------------------------------------


def _who(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def deadline_state(row: AdverseEventDeadline, now: datetime | None = None) -> dict[str, Any]:
    """A deadline as shown: due, reported (on time or late), overdue, with the time left."""
    now = now or timezone.now()
    if row.reported_at is not None:
        state = "reported_late" if row.reported_at > row.due_at else "reported"
    else:
        state = "overdue" if now > row.due_at else "open"
    left = int((row.due_at - now).total_seconds()) if row.reported_at is None else None
    return {
        "key": row.key,
        "jurisdiction": row.jurisdiction,
        "label": gettext(row.label),
        "basis": gettext(row.basis),
        "due_at": row.due_at,
        "reported_at": row.reported_at,
        "reported_by": _who(row.reported_by),
        "reference": row.reference,
        "state": state,
        "overdue": state in ("overdue", "reported_late"),
        "seconds_left": left,
        # "3 d 4 h" until the due time, or since it when overdue (shown as "overdue by ...").
        "countdown": duration_text(timedelta(seconds=abs(left))) if left is not None else "",
    }


def adverse_event_view(ae: AdverseEvent) -> dict[str, Any]:
    now = timezone.now()
    deadlines = [
        deadline_state(d, now)
        for d in ae.deadlines.select_related("reported_by").order_by("due_at", "id")
    ]
    return {
        "number": ae.number,
        "complaint": ae.complaint.number,
        "awareness_at": ae.awareness_at,
        "severity": ae.severity,
        "group_event": ae.group_event,
        "public_health_threat": ae.public_health_threat,
        "five_day": ae.five_day,
        "jurisdictions": list(ae.jurisdictions),
        "status": ae.status,
        "created_by": _who(ae.created_by),
        "created_at": ae.created_at,
        "deadlines": deadlines,
        "overdue": any(d["state"] == "overdue" for d in deadlines),
    }


def product_ref(product: Any) -> dict[str, Any] | None:
    if product is None:
        return None
    return {"id": product.pk, "name": product.name, "model": product.model}


def complaint_view(complaint: Complaint, *, user: User | None) -> dict[str, Any]:
    """The complaint as ``user`` may read it: a hospital partner gets what it reported and the
    status, not the internal handling."""
    party = complaint.complainant_party
    out: dict[str, Any] = {
        "number": complaint.number,
        "status": complaint.status,
        "channel": complaint.channel,
        "received_at": complaint.received_at,
        "complainant_party": {"id": party.pk, "name": party.name} if party else None,
        "complainant_name": complaint.complainant_name,
        "complainant_contact": complaint.complainant_contact,
        "udi": complaint.udi_text,
        "udi_resolution": complaint.udi_resolution,
        "unit_epc": complaint.unit_epc,
        "lot_class": complaint.lot_class,
        "gtin": complaint.gtin,
        "serial": complaint.serial,
        "lot": complaint.lot,
        "product": product_ref(complaint.product),
        "event_date": complaint.event_date,
        "description": complaint.description,
        "injury": complaint.injury,
        "death": complaint.death,
        "reported_by": _who(complaint.reported_by),
        "closed_at": complaint.closed_at,
    }
    internal: dict[str, Any] = {
        "investigation_summary": "",
        "root_cause": "",
        "reportable": None,
        "reportability_justification": "",
        "decided_by": None,
        "decided_at": None,
        "capa_reference": "",
        "nonconformance": None,
        "closed_by": None,
        "closure_summary": "",
        "investigations": [],
        "adverse_event": None,
        "signatures": [],
        "closure_missing": [],
        "component_lots": [],
        "signals": [],
    }
    if common.is_partner(user):
        return {**out, **internal}
    nc = complaint.nonconformance
    ae = AdverseEvent.objects.filter(complaint=complaint).first()
    internal.update(
        {
            "investigation_summary": complaint.investigation_summary,
            "root_cause": complaint.root_cause,
            "reportable": complaint.reportable,
            "reportability_justification": complaint.reportability_justification,
            "decided_by": _who(complaint.decided_by),
            "decided_at": complaint.decided_at,
            "capa_reference": complaint.capa_reference,
            "nonconformance": (
                {"id": nc.pk, "number": nc.number, "status": nc.status} if nc else None
            ),
            "closed_by": _who(complaint.closed_by),
            "closure_summary": complaint.closure_summary,
            "investigations": [
                {
                    "id": row.pk,
                    "entry": row.entry,
                    "findings": row.findings,
                    "author": _who(row.author),
                    "recorded_at": row.recorded_at,
                }
                for row in complaint.investigations.select_related("author").order_by(
                    "recorded_at", "id"
                )
            ],
            "adverse_event": adverse_event_view(ae) if ae is not None else None,
            "signatures": [s.as_dict() for s in signatures_for(complaint)],
            "closure_missing": [] if complaint.is_closed else closure_blockers(complaint),
            "component_lots": list(
                complaint.components.order_by("epc_class").values_list("epc_class", flat=True)
            ),
            "signals": [
                {"id": s.pk, "dimension": s.dimension, "key": s.key, "status": s.status}
                for s in complaint.signals.order_by("-last_seen")
            ],
        }
    )
    return {**out, **internal}


def backward_summary(complaint: Complaint, *, user: User | None) -> dict[str, Any] | None:
    """The complained unit's make-up from its backward trace: every component, component lot
    and supplier lot with its supplier (None when the complaint names no known unit)."""
    from medtrace.trace.selectors import trace_backward

    if complaint.udi_resolution != "unit" or not complaint.unit_epc:
        return None
    try:
        tree = trace_backward(id=complaint.unit_epc, user=user)
    except MedtraceError as exc:
        return {"error": exc.message, "components": [], "lots": []}
    rows: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        for child in node.get("children", []):
            supplier = child.get("supplier") or {}
            material = child.get("material") or {}
            product = child.get("product") or {}
            rows.append(
                {
                    "epc": child["epc"],
                    "level": child.get("level"),
                    "relation": child.get("relation"),
                    "serial": child.get("serial"),
                    "lot": child.get("lot"),
                    "is_lot": is_lot(child["epc"]),
                    "what": material.get("name") or product.get("name") or "",
                    "supplier": supplier.get("name"),
                    "supplier_gln": supplier.get("gln"),
                }
            )
            walk(child)

    walk(tree["root"])
    return {
        "error": None,
        "components": [r for r in rows if not r["is_lot"]],
        "lots": [r for r in rows if r["is_lot"]],
    }


# Adverse events, rules, signals ---------------------------------------------------------------


def adverse_event_list(
    *, user: User | None, status: str | None = None, overdue: bool | None = None
) -> QuerySet[AdverseEvent]:
    _staff_only(user, PERM_AE_VIEW, "adverse events")
    qs = AdverseEvent.objects.select_related("complaint", "created_by")
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(
            deadlines__reported_at__isnull=True, deadlines__due_at__lt=timezone.now()
        ).distinct()
    return qs.order_by("-awareness_at", "-id")


def adverse_event_get(*, user: User | None, number: str) -> AdverseEvent:
    _staff_only(user, PERM_AE_VIEW, "adverse events")
    found = (
        AdverseEvent.objects.select_related("complaint", "created_by").filter(number=number).first()
    )
    if found is None:
        raise NotFound(f"No adverse event {number}")
    return found


def signal_rule_list(*, user: User | None) -> QuerySet[SignalRule]:
    _staff_only(user, PERM_RULES_VIEW, "signal rules")
    return SignalRule.objects.order_by("dimension", "id")


def signal_rule_get(*, user: User | None, pk: int) -> SignalRule:
    _staff_only(user, PERM_RULES_VIEW, "signal rules")
    found = SignalRule.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No signal rule {pk}")
    return found


def signal_list(*, user: User | None, status: str | None = None) -> QuerySet[ComplaintSignal]:
    _staff_only(user, PERM_SIGNALS_VIEW, "complaint signals")
    qs = ComplaintSignal.objects.select_related("rule", "alert").prefetch_related("complaints")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-last_seen", "-id")


def signal_view(signal: ComplaintSignal) -> dict[str, Any]:
    return {
        "id": signal.pk,
        "dimension": signal.dimension,
        "key": signal.key,
        "status": signal.status,
        "rule_id": signal.rule_id,
        "complaints": sorted(c.number for c in signal.complaints.all()),
        "alert_id": signal.alert_id,
        "alert_status": signal.alert.status if signal.alert is not None else None,
        "evidence": signal.evidence,
        "first_seen": signal.first_seen,
        "last_seen": signal.last_seen,
        "closed_at": signal.closed_at,
    }
