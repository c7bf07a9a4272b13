"""What is open against a unit (alerts, holds, recalls) and its documents and certificates, for
its page: the reads as ``unit_batch`` branches (they go to the database with the page's other
small reads, in one statement), and what the page shows from their rows.

A partner login gets its own recall notices and the unit's traceability certificates; holds,
alerts, supplier certificates, inspections and service reports are the maker's internal record
(DESIGN §9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import pgettext

from medtrace.accounts.models import User
from medtrace.trace.selectors import Target

from . import unit_documents, vocab
from .unit_batch import Branch, as_datetime
from .unit_history import lot_class_of, lot_q, model, record_url

ALERTS_SHOWN = 20


def _choice(label: str, field: str, value: Any) -> str:
    choices = dict(model(label)._meta.get_field(field).choices or ())
    return str(choices.get(value, value or ""))


def _is_partner(user: User | None) -> bool:
    return user is not None and user.party_id is not None


def branches(*, target: Target, user: User | None, parts: list[dict[str, Any]]) -> list[Branch]:
    """The reads of the header's open items and of the records' documents."""
    state = target.state or {}
    epc, gtin, lot = target.epc, state.get("gtin"), state.get("lot")
    lot_class = lot_class_of(epc, lot)
    targets = [t for t in (epc, lot_class) if t]
    out = [
        Branch("recalls", model("recalls.AffectedUnit").objects.filter(epc=epc).exclude(
            campaign__status="closed"), {
            "number": "campaign__number", "title": "campaign__title",
            "status": "campaign__status", "campaign_drill": "campaign__drill",
            "created_at": "campaign__created_at", "unit_status": "status", "drill": "drill",
            "notice": "notice__number", "consignee": "notice__consignee_id",
        }),
        Branch("certificates", model("lifecycle.TraceCertificate").objects.filter(epc=epc),
               {"number": "number", "at": "issued_at"}),
    ]  # fmt: skip
    if _is_partner(user):
        return out
    container = state.get("container")
    held = [t for t in (*targets, container) if t]
    alerts = model("alerts.Alert").objects.filter(
        Q(object_type="unit", object_id=epc[:64])
        | (Q(evidence__gtin=gtin, evidence__lot=lot) if gtin and lot else Q(pk__in=[])),
        status__in=("open", "acknowledged"),
    )
    if user is not None and not user.has_perm("alerts.view_alert"):
        alerts = alerts.filter(
            Q(recipient_user=user)
            | Q(assigned_to=user)
            | Q(recipient_role__in=user.groups.values("name"))
        )
    out += [
        Branch("holds", model("quality.Hold").objects.filter(
            Q(target__in=held) | lot_q(gtin, lot), lifted_at__isnull=True), {
            "id": "id", "number": "number", "kind": "kind", "target": "target",
            "reason": "reason", "at": "placed_at",
        }),
        Branch("alerts", alerts, {
            "id": "id", "title": "title", "severity": "severity", "status": "status",
            "at": "created_at",
        }),
        Branch("cocs", model("procurement.MaterialLot").objects.filter(
            epc__in={p["epc"] for p in parts}), {
            "identifier": "identifier", "material": "material__name",
            "supplier": "supplier__name", "receipt": "receipt_line__receipt_id",
            "number": "receipt_line__receipt__number",
            "at": "receipt_line__receipt__received_at", "file": "receipt_line__receipt__coc__name",
        }),
        Branch("inspections", model("quality.InspectionResult").objects.filter(
            target__in=targets), {
            "id": "id", "number": "number", "at": "inspected_at", "result": "result",
        }),
        Branch("releases", model("quality.ReleaseItem").objects.filter(
            Q(target__in=targets) | lot_q(gtin, lot)), {
            "id": "release_id", "number": "release__number", "at": "release__released_at",
        }),
        Branch("visits", model("service.MaintenanceVisit").objects.filter(unit_epc=epc), {
            "number": "number", "at": "performed_at", "attachment": "attachment_id",
            "file": "attachment__name", "result": "result",
        }),
        Branch("tickets", model("service.ServiceTicket").objects.filter(unit_epc=epc), {
            "number": "number", "at": "opened_at", "attachment": "test_attachment_id",
            "file": "test_attachment__name", "status": "status",
        }),
    ]  # fmt: skip
    return out


# Open against the unit ---------------------------------------------------------------------------


def holds(rows: list[dict[str, Any]], *, epc: str, container: str | None) -> list[dict[str, Any]]:
    out = []
    for row in sorted(rows, key=lambda r: (str(r["at"]), r["id"])):
        if row["target"] == epc:
            scope = pgettext("hold scope", "this unit")
        elif row["target"] == container:
            scope = pgettext("hold scope", "its container")
        else:
            scope = pgettext("hold scope", "its lot")
        out.append({
            "number": row["number"], "kind": _choice("quality.Hold", "kind", row["kind"]),
            "reason": row["reason"], "placed_at": as_datetime(row["at"]), "on": scope,
            "url": reverse("web:record", args=["quality.hold", row["id"]]),
        })  # fmt: skip
    return out


def recalls(rows: list[dict[str, Any]], *, user: User | None) -> list[dict[str, Any]]:
    partner_id = user.party_id if user is not None else None
    can_open = user is None or user.has_perm("recalls.view_recallcampaign")
    out = []
    for row in sorted(rows, key=lambda r: (str(r["created_at"]), r["number"])):
        if partner_id is not None:
            # A partner knows of a recall by the notice addressed to it, never by the campaign.
            if not row["notice"] or row["drill"] or row["consignee"] != partner_id:
                continue
            number = row["notice"]
            url = reverse("recalls:portal_notice", args=[number])
        else:
            number = row["number"]
            url = reverse("recalls:detail", args=[number]) if can_open else ""
        out.append({
            "number": number, "title": row["title"], "url": url,
            "status": _choice("recalls.RecallCampaign", "status", row["status"]),
            "unit_status": _choice("recalls.AffectedUnit", "status", row["unit_status"]),
            "drill": bool(row["campaign_drill"]),
        })  # fmt: skip
    return out


def alerts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    newest = sorted(rows, key=lambda r: (str(r["at"]), r["id"]), reverse=True)[:ALERTS_SHOWN]
    return [
        {
            "title": row["title"],
            "severity": _choice("alerts.Alert", "severity", row["severity"]),
            "severity_term": row["severity"],
            "status": _choice("alerts.Alert", "status", row["status"]),
            "created_at": as_datetime(row["at"]),
            "url": reverse("alerts:detail", args=[row["id"]]),
        }
        for row in newest
    ]


# Documents and certificates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    kind: str
    title: str
    when: datetime | None
    url: str
    detail: str = ""


def _id_param(epc: str) -> str:
    return urlencode({"id": epc})


def _attachment_url(epc: str, attachment_id: int | None) -> str:
    if not attachment_id:
        return ""
    return reverse("web:unit_attachment", args=[attachment_id]) + "?" + _id_param(epc)


def unit_attachments(epc: str) -> set[int]:
    """Attachments of the unit's own service records (maintenance and repair test reports)."""
    visits = model("service.MaintenanceVisit").objects.filter(unit_epc=epc).order_by()
    tickets = model("service.ServiceTicket").objects.filter(unit_epc=epc).order_by()
    rows = (
        visits.exclude(attachment=None)
        .values_list("attachment_id", flat=True)
        .union(
            tickets.exclude(test_attachment=None).values_list("test_attachment_id", flat=True),
            all=True,
        )
    )
    return set(rows)


def documents(
    rows: dict[str, list[dict[str, Any]]],
    *,
    target: Target,
    user: User | None,
    parts: list[dict[str, Any]],
    root: dict[str, Any],
) -> list[Doc]:
    """Documents and certificates of the unit and of the lots and parts it is made of."""
    epc = target.epc
    docs = [
        Doc(str(vocab.DOCUMENT_KINDS["TC"]), row["number"], as_datetime(row["at"]),
            unit_documents.certificate_pdf_url(row["number"]))
        for row in rows["certificates"]
    ]  # fmt: skip
    if _is_partner(user):
        return _sorted(docs)

    def can(perm: str) -> bool:
        return user is None or user.has_perm(perm)

    # Supplier certificates of conformity of the lots and parts it was made from.
    coc = pgettext("unit documents", "Certificate of conformity")
    for row in rows["cocs"]:
        url = ""
        if can("procurement.view_goodsreceipt"):
            url = reverse("procurement:receipt_coc", args=[row["receipt"]])
        docs.append(Doc(
            coc, f"{row['material']} {row['identifier']} · {row['supplier']}",
            as_datetime(row["at"]), url, f"{row['number']} · {row['file']}",
        ))  # fmt: skip
    # Certificates named in EPCIS events (certificationInfo) of the unit and its parts.
    epcis = pgettext("unit documents", "Certificate (EPCIS)")
    for node in [root, *parts]:
        for cert in node.get("certificates") or []:
            uri = cert["certificationInfo"]
            docs.append(Doc(
                epcis, uri, as_datetime(cert.get("eventTime")),
                uri if uri.startswith(("http://", "https://")) else "",
                node.get("serial") or node.get("lot") or "",
            ))  # fmt: skip
    for row in rows["inspections"]:
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["INS"]), row["number"], as_datetime(row["at"]),
            record_url("quality.inspectionresult", str(row["id"]), user),
            _choice("quality.InspectionResult", "result", row["result"]),
        ))  # fmt: skip
    seen: set[int] = set()
    for row in rows["releases"]:
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["REL"]), row["number"], as_datetime(row["at"]),
            record_url("quality.release", str(row["id"]), user),
        ))  # fmt: skip
    for row in rows["visits"]:
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["MV"]), row["number"], as_datetime(row["at"]),
            _attachment_url(epc, row["attachment"]),
            row["file"] or _choice("service.MaintenanceVisit", "result", row["result"]),
        ))  # fmt: skip
    for row in rows["tickets"]:
        docs.append(Doc(
            str(vocab.DOCUMENT_KINDS["ST"]), row["number"], as_datetime(row["at"]),
            _attachment_url(epc, row["attachment"]),
            row["file"] or _choice("service.ServiceTicket", "status", row["status"]),
        ))  # fmt: skip
    if can("production.view_dhr") and can("production.view_workorder"):
        serial = (target.state or {}).get("serial") or epc
        docs.append(Doc(
            pgettext("unit documents", "Device history record"), serial, None,
            reverse("production:unit_dhr") + "?" + _id_param(epc),
        ))  # fmt: skip
    return _sorted(docs)


def _sorted(docs: list[Doc]) -> list[Doc]:
    return sorted(docs, key=lambda d: (d.when is None, d.when.isoformat() if d.when else ""))
