"""Reading the audit trail and the signatures of a record, with the access rules in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import QuerySet

from medtrace.errors import NotFound, PermissionDenied

from .models import AuditEntry
from .signatures import SignatureView, signatures_for

# Apps whose records have a history page; others (sessions, axes, …) are infrastructure.
RECORD_APPS = frozenset(
    {
        "masterdata", "accounts", "ledger", "audit", "alerts", "service", "trace", "lifecycle",
        "procurement", "production", "quality", "warehouse", "distribution", "conditions",
        "recalls", "complaints",
    }
)  # fmt: skip


@dataclass(frozen=True)
class RecordRef:
    object_type: str
    object_id: str
    model: type[models.Model]
    instance: models.Model | None  # None once deleted: its history stays readable


def _can_view_model(user: Any, model: type[models.Model]) -> bool:
    if user is None:
        return True
    opts = model._meta
    return bool(user.has_perm(f"{opts.app_label}.view_{opts.model_name}"))


def resolve_record(object_type: str, object_id: str, *, user: Any) -> RecordRef:
    """The record ``object_type`` (``app_label.model``) ``object_id`` as ``user`` may see it.

    Unknown types, records a user may not see, and partner users (master-data history is
    internal) all answer 404: the existence of a record is not leaked.
    """
    app_label, _dot, model_name = object_type.lower().partition(".")
    try:
        model = apps.get_model(app_label, model_name) if app_label in RECORD_APPS else None
    except LookupError:
        model = None
    if model is None or (user is not None and getattr(user, "party_id", None) is not None):
        raise NotFound(f"No record {object_type} {object_id}")
    if not _can_view_model(user, model):
        raise NotFound(f"No record {object_type} {object_id}")
    try:
        pk = model._meta.pk.to_python(object_id)
    except Exception:
        raise NotFound(f"No record {object_type} {object_id}") from None
    instance = model._default_manager.filter(pk=pk).first()
    label = model._meta.label_lower
    if (
        instance is None
        and not AuditEntry.objects.filter(object_type=label, object_id=str(object_id)).exists()
    ):
        raise NotFound(f"No record {object_type} {object_id}")
    return RecordRef(label, str(object_id), model, instance)


def record_history(ref: RecordRef) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(object_type=ref.object_type, object_id=ref.object_id).order_by(
        "seq"
    )


def record_signatures(ref: RecordRef) -> list[SignatureView]:
    if ref.instance is None:
        return []
    return signatures_for(ref.instance)


def require_audit_reader(user: Any) -> None:
    if user is not None and not user.has_perm("audit.view_auditentry"):
        raise PermissionDenied(
            "Reading the whole audit trail needs the auditor, QA/RA or administrator role",
            details={"required": "audit.view_auditentry"},
        )


def audit_entries(
    *,
    user: Any,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    require_audit_reader(user)
    qs = AuditEntry.objects.order_by("-seq")
    if object_type:
        qs = qs.filter(object_type=object_type.lower())
    if object_id:
        qs = qs.filter(object_id=object_id)
    if actor:
        qs = qs.filter(actor_name=actor)
    if action:
        qs = qs.filter(action=action)
    if since:
        qs = qs.filter(at__gte=since)
    if until:
        qs = qs.filter(at__lt=until)
    return qs
