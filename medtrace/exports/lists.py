"""The columns of each list page's CSV/XLSX download, in one place.

A list view calls ``lists.respond(request, "<list>", queryset)`` when ``wants_export(request)``:
the queryset is the one the page shows (its filters and partner scoping), without the page's
display limit. Headers are the fields' own (translated) names.

What is left out on purpose (DESIGN §8, PIPL/GDPR): patient data. Implant records export the
unit, hospital, date and department, never the patient's name, ID number or phone, not even
masked; complaints export the complainant organisation, never a complainant's name or contact
(a complainant may be the patient) and no free text (a description may name one); the audit
trail exports which fields changed, never their values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from .tabular import Column, export_response


def _field(model: type[models.Model], path: str) -> models.Field[Any, Any]:
    current: Any = model
    field: Any = None
    for part in path.split("__"):
        field = current._meta.get_field(part)
        current = field.related_model
    return field


def _getter(path: str, labels: dict[Any, str] | None) -> Callable[[Any], Any]:
    parts = path.split("__")

    def get(row: Any) -> Any:
        current = row
        for part in parts[:-1]:
            current = getattr(current, part, None)
            if current is None:
                return None
        value = getattr(current, parts[-1], None)
        if labels is not None and value not in (None, ""):
            return labels.get(value, value)
        return value

    return get


def fields(model: type[models.Model], *paths: str) -> list[Column]:
    """Columns for model fields (``fk__field`` follows a relation), headed by each field's
    verbose name; a field with choices exports its label."""
    out = []
    for path in paths:
        field = _field(model, path)
        label = field.verbose_name
        if "__" in path:
            owner = _field(model, path.rsplit("__", 1)[0])
            label = owner.verbose_name
        # Choice labels resolved once per download (Model.get_FOO_display rebuilds and hashes
        # the translated choices on every call: most of an export's time).
        choices = getattr(field, "flatchoices", None)
        labels = {key: str(text) for key, text in choices} if choices else None
        out.append(Column(label, _getter(path, labels)))
    return out


def _base_di(product: Any) -> str:
    for identifier in product.identifiers.all():
        if identifier.packaging_level == "unit":
            return str(identifier.di)
    return ""


def _changed_fields(entry: Any) -> str:
    changes = entry.changes
    if isinstance(changes, dict):
        return ", ".join(sorted(changes))
    return ""


def _products() -> list[Column]:
    from medtrace.masterdata.models import Product

    return [
        *fields(Product, "name", "name_en", "model", "trade_name"),
        Column(_("base DI"), _base_di),
        *fields(
            Product, "risk_class", "nmpa_registration_no", "tracking", "manufacturer__name",
            "classification_code", "gmdn_code", "active",
        ),
    ]  # fmt: skip


def _audit() -> list[Column]:
    from medtrace.audit.models import AuditEntry

    return [
        *fields(
            AuditEntry, "seq", "at", "actor_name", "source", "action", "object_type", "object_id",
            "object_repr", "reason", "request_id",
        ),
        Column(_("changed fields"), _changed_fields),
        *fields(AuditEntry, "hash"),
    ]  # fmt: skip


def _implants() -> list[Column]:
    from medtrace.service.models import ImplantRecord

    # Never patient_name, patient_id_number or patient_phone (or their masked forms).
    return fields(
        ImplantRecord, "unit_epc", "udi", "serial", "lot", "product__name", "hospital__name",
        "implanted_on", "department", "surgeon", "created_at",
    )  # fmt: skip


def _complaints() -> list[Column]:
    from medtrace.complaints.models import Complaint

    # Never complainant_name, complainant_contact or free text.
    return fields(
        Complaint, "number", "received_at", "status", "channel", "complainant_party__name",
        "product__name", "gtin", "serial", "lot", "event_date", "injury", "death", "reportable",
        "capa_reference", "closed_at",
    )  # fmt: skip


def _adverse_events() -> list[Column]:
    from medtrace.complaints.models import AdverseEvent

    return [
        *fields(AdverseEvent, "number", "complaint__number", "awareness_at", "severity"),
        Column(_("jurisdictions"), lambda e: e.jurisdictions),
        *fields(AdverseEvent, "group_event", "public_health_threat", "status", "created_at"),
    ]


def _nonconformances() -> list[Column]:
    from medtrace.quality.models import Nonconformance

    return fields(
        Nonconformance, "number", "title", "category", "source", "status", "opened_at",
        "disposition",
    )  # fmt: skip


def _holds() -> list[Column]:
    from medtrace.quality.models import Hold

    return fields(
        Hold, "number", "kind", "target", "gtin", "lot", "reason", "source", "placed_at",
        "lifted_at", "lift_reason",
    )  # fmt: skip


def _recalls() -> list[Column]:
    from medtrace.recalls.models import RecallCampaign

    return fields(
        RecallCampaign, "number", "title", "status", "drill", "scope_kind", "affected_count",
        "cn_level", "fda_class", "eu_fsca", "opened_at", "all_notified_at",
        "all_acknowledged_at", "effectiveness_level", "closed_at",
    )  # fmt: skip


def _suppliers() -> list[Column]:
    # Rows: (party, qualification problems) as the supplier qualification page lists them.
    return [
        Column(_("Supplier"), lambda r: r[0].name),
        Column(_("English name"), lambda r: r[0].name_en),
        Column(_("GLN"), lambda r: r[0].gln),
        Column(_("unified social credit code"), lambda r: r[0].uscc),
        Column(_("Qualified today"), lambda r: not r[1]),
        Column(_("Problems"), lambda r: [p["message"] for p in r[1]]),
    ]


LISTS: dict[str, tuple[Callable[[], Sequence[Column]], tuple[str, ...], tuple[str, ...]]] = {
    # name: (columns, select_related, prefetch_related)
    "products": (_products, ("manufacturer",), ("identifiers",)),
    "audit-trail": (_audit, (), ()),
    "implant-records": (_implants, ("product", "hospital"), ()),
    "complaints": (_complaints, ("complainant_party", "product"), ()),
    "adverse-events": (_adverse_events, ("complaint",), ()),
    "nonconformances": (_nonconformances, (), ()),
    "holds": (_holds, (), ()),
    "recalls": (_recalls, (), ()),
    "suppliers": (_suppliers, (), ()),
}


def respond(request: HttpRequest, name: str, rows: QuerySet[Any] | list[Any]) -> HttpResponse:
    """The list ``name`` as the CSV or XLSX download ``?format=`` asks for."""
    columns, related, prefetch = LISTS[name]
    if related and isinstance(rows, QuerySet):
        rows = rows.select_related(*related)
    if prefetch and isinstance(rows, QuerySet):
        rows = rows.prefetch_related(*prefetch)
    # A streaming (CSV) or file (XLSX) response: typed as the HttpResponse the views return.
    return cast(HttpResponse, export_response(request, rows, columns(), name))
