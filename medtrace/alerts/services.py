"""Raising alerts. Callers pass either a role (every member sees it) or a user."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from medtrace.accounts.models import User
from medtrace.audit import services as audit

from .models import Alert, AlertSeverity, AlertStatus


def alert_raise(
    *,
    kind: str,
    title: str,
    message: str = "",
    severity: str = AlertSeverity.WARNING,
    recipient_role: str = "",
    recipient_user: User | None = None,
    evidence: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    dedupe_key: str = "",
) -> Alert:
    if not recipient_role and recipient_user is None:
        raise ValueError("an alert needs a recipient role or user")
    alert = Alert.objects.create(
        kind=kind,
        title=title[:200],
        message=message,
        severity=severity,
        recipient_role=recipient_role,
        recipient_user=recipient_user,
        evidence=evidence or {},
        object_type=object_type,
        object_id=object_id,
        dedupe_key=dedupe_key[:200],
    )
    audit.record_create(alert)  # raised by the system, in the transaction of its cause
    return alert


def alerts_for(user: User) -> QuerySet[Alert]:
    """The alerts addressed to ``user`` or to one of their department roles, or assigned to
    them (their work queue: ``selectors.work_queue``)."""
    roles = list(user.groups.values_list("name", flat=True))
    return Alert.objects.filter(
        Q(recipient_user=user) | Q(recipient_role__in=roles) | Q(assigned_to=user)
    )


def open_alerts_for(user: User) -> QuerySet[Alert]:
    return alerts_for(user).filter(status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED))
