"""The ERP documents an event names in its bizTransactionList, as links to their pages.

Our services name a document ``urn:epcglobal:cbv:bt:<our GLN>:<number>`` (lifecycle.events.bt)
and number it ``<KIND>-<year>-<n>`` (lifecycle.services.next_number), so the number says which
table holds it. All the documents of a page are looked up together with the page's other small
reads (``unit_batch``: one statement), whatever the length of the history. A
document a user may not open (no view permission, or a partner login) is shown as its number,
without a link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from django.apps import apps
from django.urls import reverse

from medtrace.accounts.models import User

from . import vocab
from .unit_batch import Branch

_NUMBER = re.compile(r"^([A-Z]{2,4})-\d{4}-\d{6,}$")

# Kind -> the model numbering it.
MODELS: dict[str, str] = {
    "AE": "complaints.AdverseEvent",
    "CMP": "complaints.Complaint",
    "COND": "conditions.ConditionRecord",
    "GR": "procurement.GoodsReceipt",
    "HOLD": "quality.Hold",
    "IB": "service.InstalledUnit",
    "INS": "quality.InspectionResult",
    "IQC": "procurement.IncomingInspection",
    "MP": "service.MaintenancePlan",
    "MV": "service.MaintenanceVisit",
    "NC": "quality.Nonconformance",
    "PL": "warehouse.PickList",
    "PO": "procurement.PurchaseOrder",
    "RC": "recalls.RecallCampaign",
    "RCV": "distribution.ShipmentReceipt",
    "REL": "quality.Release",
    "RMA": "distribution.ReturnAuthorization",
    "RN": "recalls.RecallNotice",
    "SC": "warehouse.StockCount",
    "SCR": "service.ScrapRecord",
    "SHP": "distribution.Shipment",
    "SM": "warehouse.StockMove",
    "SO": "distribution.SalesOrder",
    "ST": "service.ServiceTicket",
    "TC": "lifecycle.TraceCertificate",
    "WO": "production.WorkOrder",
}

# Kinds with a page of their own (URL name, by pk or by number); the others open their record
# page (web:record: the record with its history and signatures).
PAGES: dict[str, tuple[str, str]] = {
    "CMP": ("complaints:detail", "number"),
    "GR": ("procurement:receipt_detail", "pk"),
    "IB": ("service:installation", "pk"),
    "NC": ("quality:nc_detail", "pk"),
    "PL": ("warehouse:pick_list", "pk"),
    "PO": ("procurement:po_detail", "pk"),
    "RC": ("recalls:detail", "number"),
    "RMA": ("distribution:return", "pk"),
    "RN": ("recalls:notice", "number"),
    "SC": ("warehouse:count", "pk"),
    "SCR": ("service:scrap_detail", "pk"),
    "SHP": ("distribution:shipment", "pk"),
    "SO": ("distribution:order", "pk"),
    "ST": ("service:ticket", "pk"),
    "WO": ("production:order_detail", "pk"),
}


@dataclass(frozen=True)
class Document:
    number: str
    label: str  # what kind of document, in words
    url: str  # "" when the reader cannot open it
    value: str  # the bizTransaction as the event names it


def number_of(value: str) -> str:
    """The document number inside a bizTransaction identifier (its last segment)."""
    tail = re.split(r"[:/]", value.rstrip("/"))[-1]
    return unquote(tail) or value


def kind_of(number: str) -> str | None:
    match = _NUMBER.match(number)
    return match.group(1) if match and match.group(1) in MODELS else None


def branches(numbers: Iterable[str]) -> list[Branch]:
    """The reads of our documents among ``numbers`` (an index probe of each table's unique
    number), as ``unit_batch`` branches ``doc:<kind>`` of {number, id} (and a work order's
    production date: the unit's label carries it)."""
    by_kind: dict[str, list[str]] = {}
    for number in sorted(set(numbers)):
        kind = kind_of(number)
        if kind is not None:
            by_kind.setdefault(kind, []).append(number)
    out = []
    for kind, wanted in sorted(by_kind.items()):
        fields = {"number": "number", "id": "id"}
        if kind == "WO":
            fields["date"] = "production_date"
        out.append(
            Branch(
                f"doc:{kind}",
                apps.get_model(MODELS[kind]).objects.filter(number__in=wanted),
                fields,
            )
        )
    return out


def found(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """number -> its row ({number, id[, date]}), from the batch's ``doc:`` branches."""
    return {
        row["number"]: row
        for name, items in rows.items()
        if name.startswith("doc:")
        for row in items
    }


def _url(kind: str, number: str, pk: Any, user: User | None) -> str:
    if user is not None and user.party_id is not None:
        return ""
    model = apps.get_model(MODELS[kind])
    opts = model._meta
    if user is not None and not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return ""
    page = PAGES.get(kind)
    if page is not None and page[1] == "number":
        return reverse(page[0], args=[number])
    if pk is None:
        return ""
    if page is not None:
        return reverse(page[0], args=[pk])
    return reverse("web:record", args=[opts.label_lower, pk])


def documents(
    items: Iterable[dict[str, Any]], known: dict[str, dict[str, Any]], user: User | None
) -> list[Document]:
    """The bizTransactionList entries ``items`` as Documents (one per number)."""
    out: list[Document] = []
    seen: set[str] = set()
    for item in items:
        value = item.get("bizTransaction") or ""
        number = number_of(value)
        if not value or number in seen:
            continue
        seen.add(number)
        kind = kind_of(number)
        # Our number says exactly what it is; a partner's document has only its CBV type.
        if kind is not None:
            label = str(vocab.DOCUMENT_KINDS[kind])
        else:
            label = vocab.document_type_label(item.get("type"))
        url = _url(kind, number, (known.get(number) or {}).get("id"), user) if kind else ""
        out.append(Document(number, label, url, value))
    return out


def certificate_pdf_url(number: str) -> str:
    return f"/api/v1/certificates/{quote(number)}/pdf"
