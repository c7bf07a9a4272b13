"""The records around one unit, for its page: what is open against it (alerts, holds, recalls),
its documents and certificates, the e-signatures on its records, and its audit history.

"Its records" are the rows of other apps that name the unit, its lot or the parts it is made of
(``record_sets``): holds, releases, inspections and nonconformances on the unit or its lot, its
work order, installation, maintenance visits, service tickets, scrap record, complaints, recall
campaigns and traceability certificates, plus the ledger captures that stored its events. The
signatures and the audit entries of all of them are each read in one statement (the record sets
are subqueries), so the page costs the same whatever the length of the unit's history.

A partner login gets its recall notices and the unit's traceability certificates; the rest is the
maker's internal record (DESIGN §9).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.translation import pgettext

from medtrace.accounts.models import User
from medtrace.audit.models import AuditAction, AuditEntry, Signature, SignatureMeaning
from medtrace.audit.signatures import content_sha256
from medtrace.lib.udi.epc import escape_component
from medtrace.trace.selectors import Target

from . import unit_documents, vocab

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


def _model(label: str) -> Any:
    return apps.get_model(label)


def record_sets(
    *, epc: str, gtin: str | None, lot: str | None, work_orders: Iterable[str]
) -> list[tuple[str, QuerySet[Any]]]:
    """(object type, queryset) of every record about the unit (see the module docstring)."""
    lot_class = lot_class_of(epc, lot)
    targets = [t for t in (epc, lot_class) if t]
    lot_q = Q(gtin=gtin, lot=lot) if gtin and lot else Q(pk__in=[])
    m = _model
    wo = [n for n in work_orders if unit_documents.kind_of(n) == "WO"]
    return [
        ("quality.hold", m("quality.Hold").objects.filter(Q(target__in=targets) | lot_q)),
        ("quality.release", m("quality.Release").objects.filter(
            pk__in=m("quality.ReleaseItem").objects.filter(Q(target__in=targets) | lot_q)
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


def _record_url(object_type: str, object_id: str, user: User | None) -> str:
    app_label, _dot, model_name = object_type.partition(".")
    if user is not None and not user.has_perm(f"{app_label}.view_{model_name}"):
        return ""
    return reverse("web:record", args=[object_type, object_id])


# Open against the unit ---------------------------------------------------------------------------


def open_holds(
    *, epc: str, gtin: str | None, lot: str | None, container: str | None
) -> list[dict[str, Any]]:
    hold = _model("quality.Hold")
    targets = [t for t in (epc, lot_class_of(epc, lot), container) if t]
    lot_q = Q(gtin=gtin, lot=lot) if gtin and lot else Q(pk__in=[])
    rows = hold.objects.filter(Q(target__in=targets) | lot_q, lifted_at__isnull=True).order_by(
        "placed_at", "pk"
    )
    return [
        {
            "number": h.number,
            "kind": h.get_kind_display(),
            "reason": h.reason,
            "placed_at": h.placed_at,
            "on": (
                pgettext("hold scope", "this unit")
                if h.target == epc
                else pgettext("hold scope", "its container")
                if h.target == container
                else pgettext("hold scope", "its lot")
            ),
            "url": reverse("web:record", args=["quality.hold", h.pk]),
        }
        for h in rows
    ]


def open_recalls(*, epc: str, user: User | None) -> list[dict[str, Any]]:
    affected = _model("recalls.AffectedUnit")
    rows = (
        affected.objects.filter(epc=epc)
        .exclude(campaign__status="closed")
        .select_related("campaign", "notice")
        .order_by("campaign__created_at", "pk")
    )
    partner_id = user.party_id if user is not None else None
    out = []
    for row in rows:
        campaign, notice = row.campaign, row.notice
        if partner_id is not None:
            # A partner knows of a recall by the notice addressed to it, never by the campaign.
            if notice is None or row.drill or notice.consignee_id != partner_id:
                continue
            url = reverse("recalls:portal_notice", args=[notice.number])
            title, number = campaign.title, notice.number
        else:
            url = ""
            if user is None or user.has_perm("recalls.view_recallcampaign"):
                url = reverse("recalls:detail", args=[campaign.number])
            title, number = campaign.title, campaign.number
        out.append({
            "number": number, "title": title, "status": campaign.get_status_display(),
            "unit_status": row.get_status_display(), "drill": campaign.drill, "url": url,
        })  # fmt: skip
    return out


def open_alerts(
    *, epc: str, gtin: str | None, lot: str | None, user: User | None
) -> list[dict[str, Any]]:
    """Live alerts about the unit or its lot that the reader may open (staff only)."""
    if user is not None and user.party_id is not None:
        return []
    from medtrace.alerts import lifecycle as alert_lifecycle
    from medtrace.alerts.models import Alert

    about = Q(object_type="unit", object_id=epc[:64])
    if gtin and lot:
        about |= Q(evidence__gtin=gtin, evidence__lot=lot)
    qs = Alert.objects.filter(about, status__in=alert_lifecycle.LIVE)
    if user is not None and not user.has_perm("alerts.view_alert"):
        roles = list(user.groups.values_list("name", flat=True))
        qs = qs.filter(Q(recipient_user=user) | Q(assigned_to=user) | Q(recipient_role__in=roles))
    return [
        {
            "title": a.title,
            "severity": a.get_severity_display(),
            "severity_term": a.severity,
            "status": a.get_status_display(),
            "created_at": a.created_at,
            "url": reverse("alerts:detail", args=[a.pk]),
        }
        for a in qs.order_by("-created_at", "-pk")[:20]
    ]


# Documents and certificates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    kind: str
    title: str
    when: Any
    url: str
    detail: str = ""


def _attachment_url(epc: str, attachment_id: int | None) -> str:
    if attachment_id is None:
        return ""
    return reverse("web:unit_attachment", args=[attachment_id]) + "?" + _id_param(epc)


def _id_param(epc: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"id": epc})


def unit_attachments(epc: str) -> dict[int, str]:
    """Attachments of the unit's own service records (maintenance and repair test reports)."""
    visit = _model("service.MaintenanceVisit")
    ticket = _model("service.ServiceTicket")
    rows = visit.objects.filter(unit_epc=epc, attachment__isnull=False).values_list(
        "attachment_id", "number"
    )
    rows = rows.union(
        ticket.objects.filter(unit_epc=epc, test_attachment__isnull=False).values_list(
            "test_attachment_id", "number"
        ),
        all=True,
    )
    return dict(rows)


def documents(
    *, target: Target, user: User | None, parts: list[dict[str, Any]], root: dict[str, Any]
) -> list[Doc]:
    """Documents and certificates of the unit and the lots and parts it is made of."""
    epc = target.epc
    state = target.state or {}
    certificate = _model("lifecycle.TraceCertificate")
    docs = [
        Doc(str(vocab.DOCUMENT_KINDS["TC"]), c.number, c.issued_at,
            unit_documents.certificate_pdf_url(c.number))
        for c in certificate.objects.filter(epc=epc).order_by("issued_at", "pk")
    ]  # fmt: skip
    if user is not None and user.party_id is not None:
        return docs
    can = (lambda perm: True) if user is None else user.has_perm
    # Supplier certificates of conformity of the lots and parts it was made from.
    material_lot = _model("procurement.MaterialLot")
    epcs = {p["epc"] for p in parts}
    coc_label = pgettext("unit documents", "Certificate of conformity")
    for row in (
        material_lot.objects.filter(epc__in=epcs)
        .values(
            "identifier", "material__name", "supplier__name", "receipt_line__receipt_id",
            "receipt_line__receipt__number", "receipt_line__receipt__received_at",
            "receipt_line__receipt__coc__name",
        )
        .order_by("receipt_line__receipt__received_at", "pk")
    ):  # fmt: skip
        url = ""
        if can("procurement.view_goodsreceipt"):
            url = reverse("procurement:receipt_coc", args=[row["receipt_line__receipt_id"]])
        docs.append(Doc(
            coc_label,
            f"{row['material__name']} {row['identifier']} · {row['supplier__name']}",
            row["receipt_line__receipt__received_at"], url,
            f"{row['receipt_line__receipt__number']} · {row['receipt_line__receipt__coc__name']}",
        ))  # fmt: skip
    # Certificates named in EPCIS events (certificationInfo) of the unit and its parts.
    epcis_label = pgettext("unit documents", "Certificate (EPCIS)")
    for node in [root, *parts]:
        for cert in node.get("certificates") or []:
            uri = cert["certificationInfo"]
            docs.append(Doc(
                epcis_label, uri, _time(cert.get("eventTime")),
                uri if uri.startswith(("http://", "https://")) else "",
                node.get("serial") or node.get("lot") or "",
            ))  # fmt: skip
    lot_class = lot_class_of(epc, state.get("lot"))
    targets = [t for t in (epc, lot_class) if t]
    inspection = _model("quality.InspectionResult")
    for row in inspection.objects.filter(target__in=targets).order_by("inspected_at", "pk"):
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["INS"]), row.number, row.inspected_at,
            _record_url("quality.inspectionresult", str(row.pk), user),
            row.get_result_display(),
        ))  # fmt: skip
    release_item = _model("quality.ReleaseItem")
    lot_q = Q(gtin=state.get("gtin"), lot=state.get("lot")) if state.get("lot") else Q(pk__in=[])
    for item in (
        release_item.objects.filter(Q(target__in=targets) | lot_q)
        .select_related("release")
        .order_by("release__released_at", "pk")
    ):
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["REL"]), item.release.number, item.release.released_at,
            _record_url("quality.release", str(item.release_id), user),
        ))  # fmt: skip
    visit = _model("service.MaintenanceVisit")
    for row in visit.objects.filter(unit_epc=epc).select_related("attachment"):
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["MV"]), row.number, row.performed_at,
            _attachment_url(epc, row.attachment_id),
            row.attachment.name if row.attachment else row.get_result_display(),
        ))  # fmt: skip
    ticket = _model("service.ServiceTicket")
    for row in ticket.objects.filter(unit_epc=epc).select_related("test_attachment"):
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["ST"]), row.number, row.opened_at,
            _attachment_url(epc, row.test_attachment_id),
            row.test_attachment.name if row.test_attachment else row.get_status_display(),
        ))  # fmt: skip
    if can("production.view_dhr") and can("production.view_workorder"):
        docs.append(Doc(
            pgettext("unit documents", "Device history record"), state.get("serial") or epc,
            None, reverse("production:unit_dhr") + "?" + _id_param(epc),
        ))  # fmt: skip
    return sorted(docs, key=lambda d: (d.when is None, d.when or 0, d.kind)) if docs else docs


def _time(value: str | None) -> Any:
    from .unit_page import parse_time

    return parse_time(value)


# Signatures and audit history --------------------------------------------------------------------


def signatures(sets: list[tuple[str, QuerySet[Any]]], user: User | None) -> list[dict[str, Any]]:
    """E-signatures on the unit's records, each checked against its record as it is now."""
    rows = list(Signature.objects.filter(records_q(sets)).order_by("signed_at", "pk"))
    if not rows:
        return []
    current: dict[tuple[str, str], str] = {}
    wanted: dict[str, set[str]] = {}
    for sig in rows[-SIGNED_RECORDS_LIMIT:]:
        wanted.setdefault(sig.object_type, set()).add(sig.object_id)
    for label, ids in wanted.items():
        for record in _model(label).objects.filter(pk__in=ids):
            current[(label, str(record.pk))] = content_sha256(record)
    meanings = dict(SignatureMeaning.choices)
    return [
        {
            "record": sig.object_repr,
            "url": _record_url(sig.object_type, sig.object_id, user),
            "meaning": meanings.get(sig.meaning, sig.meaning),
            "printed_name": sig.printed_name,
            "signed_at": sig.signed_at,
            "reason": sig.reason,
            "valid": current.get((sig.object_type, sig.object_id)) == sig.content_sha256
            if (sig.object_type, sig.object_id) in current
            else None,
        }
        for sig in rows
    ]


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
            "who": (e.actor.display_name() if e.actor is not None else e.actor_name),
            "action": actions.get(e.action, e.action),
            "record": e.object_repr,
            "url": _record_url(e.object_type, e.object_id, user),
            "fields": sorted(e.changes)[:8] if isinstance(e.changes, dict) else [],
            "reason": e.reason,
        }
        for e in rows[:AUDIT_LIMIT]
    ]
    return out, len(rows) > AUDIT_LIMIT


def unit_records(
    *,
    target: Target,
    user: User | None,
    parts: list[dict[str, Any]],
    root: dict[str, Any],
    work_orders: Iterable[str],
    capture_jobs: Iterable[str],
) -> dict[str, Any]:
    state = target.state or {}
    epc, gtin, lot = target.epc, state.get("gtin"), state.get("lot")
    partner = user is not None and user.party_id is not None
    out: dict[str, Any] = {
        "holds": [] if partner else open_holds(
            epc=epc, gtin=gtin, lot=lot, container=state.get("container")
        ),
        "recalls": open_recalls(epc=epc, user=user),
        "alerts": open_alerts(epc=epc, gtin=gtin, lot=lot, user=user),
        "documents": documents(target=target, user=user, parts=parts, root=root),
        "signatures": [],
        "audit": [],
        "audit_more": False,
        "show_records": not partner,
    }  # fmt: skip
    if partner:
        return out
    sets = record_sets(epc=epc, gtin=gtin, lot=lot, work_orders=work_orders)
    out["signatures"] = signatures(sets, user)
    out["audit"], out["audit_more"] = audit_history(sets, capture_jobs, user)
    return out
