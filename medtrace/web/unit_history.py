"""The e-signatures on a unit's records and the audit history of them, for the unit page.

"Its records" are the rows of other apps that name the unit or its lot (``record_sets``):
holds, releases, inspections and nonconformances on the unit or its lot, its work order,
installation, maintenance visits, service tickets, scrap record, complaints, recall campaigns and
traceability certificates, plus the ledger captures that stored its events. The signatures and
the audit entries of all of them are each read in one statement (the record sets are
subqueries), so the page costs the same whatever the length of the unit's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import reverse

from medtrace.accounts.models import User
from medtrace.audit.models import AuditAction, AuditEntry, Signature, SignatureMeaning
from medtrace.audit.signatures import content_sha256
from medtrace.lib.udi.epc import escape_component

from . import unit_documents

# The newest audit entries shown on the page; the audit trail page has the rest.
AUDIT_LIMIT = 100
# Signed records whose signatures are checked against their current content on the page.
SIGNED_RECORDS_LIMIT = 20


def lot_class_of(epc: str, lot: str | None) -> str | None:
    """The lot (class-level EPC) of a unit's lot: LGTIN for an SGTIN, the HIBC lot URN."""
    if not lot:
        return None
    if epc.startswith("urn:epc:id:sgtin:"):
        company_item = epc[len("urn:epc:id:sgtin:") :].rsplit(".", 1)[0]
        return f"urn:epc:class:lgtin:{company_item}.{escape_component(lot)}"
    if epc.startswith("urn:medtrace:hibc:"):
        di = epc[len("urn:medtrace:hibc:") :].rsplit(":", 1)[0]
        return f"urn:medtrace:hibc-lot:{di}:{escape_component(lot)}"
    return None


def model(label: str) -> Any:
    return apps.get_model(label)


def lot_q(gtin: str | None, lot: str | None) -> Q:
    """Rows about the unit's lot by (GTIN, lot); nothing when it has no lot."""
    return Q(gtin=gtin, lot=lot) if gtin and lot else Q(pk__in=[])


def record_sets(
    *, epc: str, gtin: str | None, lot: str | None, work_orders: Iterable[str]
) -> list[tuple[str, QuerySet[Any]]]:
    """(object type, queryset) of every record about the unit (see the module docstring)."""
    targets = [t for t in (epc, lot_class_of(epc, lot)) if t]
    by_lot = lot_q(gtin, lot)
    m = model
    wo = [n for n in work_orders if unit_documents.kind_of(n) == "WO"]
    return [
        ("quality.hold", m("quality.Hold").objects.filter(Q(target__in=targets) | by_lot)),
        ("quality.release", m("quality.Release").objects.filter(
            pk__in=m("quality.ReleaseItem").objects.filter(Q(target__in=targets) | by_lot)
            .values("release_id"))),
        ("quality.inspectionresult",
         m("quality.InspectionResult").objects.filter(target__in=targets)),
        ("quality.nonconformance", m("quality.Nonconformance").objects.filter(
            pk__in=m("quality.NonconformanceItem").objects.filter(target__in=targets)
            .values("nonconformance_id"))),
        ("production.workorder", m("production.WorkOrder").objects.filter(number__in=wo)),
        ("service.installedunit", m("service.InstalledUnit").objects.filter(unit_epc=epc)),
        ("service.maintenancevisit", m("service.MaintenanceVisit").objects.filter(unit_epc=epc)),
        ("service.serviceticket", m("service.ServiceTicket").objects.filter(unit_epc=epc)),
        ("service.scraprecord", m("service.ScrapRecord").objects.filter(
            pk__in=m("service.ScrapItem").objects.filter(unit_epc=epc).values("record_id"))),
        ("complaints.complaint", m("complaints.Complaint").objects.filter(unit_epc=epc)),
        ("recalls.recallcampaign", m("recalls.RecallCampaign").objects.filter(
            pk__in=m("recalls.AffectedUnit").objects.filter(epc=epc).values("campaign_id"))),
        ("recalls.affectedunit", m("recalls.AffectedUnit").objects.filter(epc=epc)),
        ("lifecycle.tracecertificate", m("lifecycle.TraceCertificate").objects.filter(epc=epc)),
    ]  # fmt: skip


def _ids_as_text(qs: QuerySet[Any]) -> QuerySet[Any]:
    return qs.order_by().annotate(_id_text=Cast("pk", CharField())).values("_id_text")


def records_q(sets: list[tuple[str, QuerySet[Any]]], capture_jobs: Iterable[str] = ()) -> Q:
    """AuditEntry / Signature rows (``object_type``, ``object_id``) of the record sets."""
    match = Q()
    for label, qs in sets:
        match |= Q(object_type=label, object_id__in=_ids_as_text(qs))
    jobs = sorted(set(capture_jobs))
    if jobs:
        match |= Q(object_type="ledger.capturejob", object_id__in=jobs)
    return match


def record_url(object_type: str, object_id: str, user: User | None) -> str:
    """The record's history page, when the reader may see records of its kind."""
    app_label, _dot, model_name = object_type.partition(".")
    if user is not None and not user.has_perm(f"{app_label}.view_{model_name}"):
        return ""
    return reverse("web:record", args=[object_type, object_id])


def signatures(sets: list[tuple[str, QuerySet[Any]]], user: User | None) -> list[dict[str, Any]]:
    """E-signatures on the unit's records, each checked against its record as it is now
    (21 CFR 11.70: a later change to the record shows the signature as invalid)."""
    rows = list(Signature.objects.filter(records_q(sets)).order_by("signed_at", "pk"))
    if not rows:
        return []
    current: dict[tuple[str, str], str] = {}
    wanted: dict[str, set[str]] = {}
    for sig in rows[-SIGNED_RECORDS_LIMIT:]:
        wanted.setdefault(sig.object_type, set()).add(sig.object_id)
    for label, ids in wanted.items():
        for record in model(label).objects.filter(pk__in=ids):
            current[(label, str(record.pk))] = content_sha256(record)
    meanings = dict(SignatureMeaning.choices)
    out = []
    for sig in rows:
        key = (sig.object_type, sig.object_id)
        out.append({
            "record": sig.object_repr,
            "url": record_url(sig.object_type, sig.object_id, user),
            "meaning": meanings.get(sig.meaning, sig.meaning),
            "printed_name": sig.printed_name,
            "signed_at": sig.signed_at,
            "reason": sig.reason,
            "valid": current[key] == sig.content_sha256 if key in current else None,
        })  # fmt: skip
    return out


def audit_history(
    sets: list[tuple[str, QuerySet[Any]]], capture_jobs: Iterable[str], user: User | None
) -> tuple[list[dict[str, Any]], bool]:
    """The newest audit entries about the unit's records (and whether there are more)."""
    rows = list(
        AuditEntry.objects.filter(records_q(sets, capture_jobs))
        .select_related("actor")
        .order_by("-seq")[: AUDIT_LIMIT + 1]
    )
    actions = dict(AuditAction.choices)
    out = [
        {
            "seq": e.seq,
            "at": e.at,
            "who": e.actor.display_name() if e.actor is not None else e.actor_name,
            "action": actions.get(e.action, e.action),
            "record": e.object_repr,
            "url": record_url(e.object_type, e.object_id, user),
            # 21 CFR 11.10(e) keeps the values; the page names the fields (values may be
            # protected data: the record's history page shows them to who may read them).
            "fields": sorted(e.changes)[:8] if isinstance(e.changes, dict) else [],
            "reason": e.reason,
        }
        for e in rows[:AUDIT_LIMIT]
    ]
    return out, len(rows) > AUDIT_LIMIT
