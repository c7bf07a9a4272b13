"""Reads of alerts: a person's work queue, one alert, and the outbox's problem messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from medtrace.accounts.models import User
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed

from . import lifecycle
from .models import Alert, AlertStatus, OutboxMessage, OutboxStatus

SCOPES = ("mine", "assigned", "all")
LIVE = "live"  # the status filter "open or acknowledged": the default of a work queue
STATUS_FILTERS = (LIVE, *AlertStatus.values, "any")


def _mine(user: User) -> Q:
    roles = list(user.groups.values_list("name", flat=True))
    return Q(recipient_user=user) | Q(recipient_role__in=roles) | Q(assigned_to=user)


def _require_staff(user: User) -> None:
    if user.party_id is not None:
        raise PermissionDenied("Alerts are for our own staff; partner accounts have no work queue")


@dataclass(frozen=True)
class Queue:
    alerts: QuerySet[Alert]
    counts: dict[str, int]  # live alerts per status (open, acknowledged, live), scope and kind
    kinds: dict[str, int]  # live alerts per kind, within the scope


def work_queue(*, user: User, scope: str = "mine", status: str = LIVE, kind: str = "") -> Queue:
    """``user``'s alerts: addressed to them or their roles or assigned to them (``mine``), only
    assigned to them (``assigned``), or every alert (``all``: who may read every alert)."""
    _require_staff(user)
    if scope not in SCOPES:
        raise ValidationFailed(
            f"scope: expected one of {', '.join(SCOPES)}, got {scope!r}", field="scope"
        )
    if status not in STATUS_FILTERS:
        raise ValidationFailed(
            f"status: expected one of {', '.join(STATUS_FILTERS)}, got {status!r}", field="status"
        )
    qs = Alert.objects.all()
    if scope == "mine":
        qs = qs.filter(_mine(user))
    elif scope == "assigned":
        qs = qs.filter(assigned_to=user)
    elif not (user.has_perm("alerts.view_alert") or lifecycle.is_admin(user)):
        raise PermissionDenied(
            "scope=all: reading every alert needs the permission alerts.view_alert "
            "(QA/RA, the auditor, the administrator); use scope=mine",
            field="scope",
        )
    # One grouped count over the live alerts of the scope (index on role/user/assignee and
    # status); concluded alerts are not counted: they only grow, and nobody works them.
    counts: dict[str, int] = {str(s): 0 for s in lifecycle.LIVE}
    kinds: dict[str, int] = {}
    for row in (
        qs.filter(status__in=lifecycle.LIVE)
        .values("kind", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + row["n"]
        if not kind or row["kind"] == kind:
            counts[row["status"]] += row["n"]
    counts[LIVE] = counts[AlertStatus.OPEN] + counts[AlertStatus.ACKNOWLEDGED]
    kinds = dict(sorted(kinds.items()))
    if kind:
        qs = qs.filter(kind=kind)
    if status == LIVE:
        qs = qs.filter(status__in=lifecycle.LIVE)
    elif status != "any":
        qs = qs.filter(status=status)
    qs = qs.select_related("recipient_user", "assigned_to").order_by("-created_at", "-id")
    return Queue(alerts=qs, counts=counts, kinds=kinds)


def live_count(user: User) -> int:
    """The number shown next to "Alerts" in the navigation."""
    if user.party_id is not None:
        return 0
    return Alert.objects.filter(_mine(user), status__in=lifecycle.LIVE).count()


def alert_get(*, alert_id: int, user: User) -> Alert:
    _require_staff(user)
    alert = (
        Alert.objects.select_related(
            "recipient_user",
            "assigned_to",
            "acknowledged_by",
            "resolved_by",
            "dismissed_by",
        )
        .filter(pk=alert_id)
        .first()
    )
    if alert is None or not lifecycle.can_view(alert, user):
        # Not addressed to them: as if it did not exist (its title may say too much).
        raise NotFound(f"No alert {alert_id}")
    return alert


def alert_history(alert: Alert) -> list[Any]:
    """The audited steps of ``alert`` (raised, acknowledged, assigned, ...), oldest first: shown
    to whoever may see the alert."""
    from medtrace.audit.models import AuditEntry

    return list(
        AuditEntry.objects.filter(object_type="alerts.alert", object_id=str(alert.pk))
        .order_by("seq")
        .only("at", "actor_name", "action", "changes", "reason")
    )


def assignees(alert: Alert) -> QuerySet[User]:
    """Who an alert may be assigned to: active internal members of its role, its user, and the
    administrators."""
    q = Q(is_superuser=True) | Q(groups__name="admin")
    if alert.recipient_role:
        q |= Q(groups__name=alert.recipient_role)
    if alert.recipient_user_id:
        q |= Q(pk=alert.recipient_user_id)
    return (
        User.objects.filter(q, is_active=True, party__isnull=True).distinct().order_by("username")
    )


def outbox_messages(*, user: User, status: str = OutboxStatus.DEAD) -> QuerySet[OutboxMessage]:
    """Messages of the outbox in ``status`` (dead letters by default), newest first, with their
    attempt log: for the administrator (who may replay them)."""
    from .outbox import PERM_REPLAY

    if not user.has_perm(PERM_REPLAY):
        raise PermissionDenied(
            "The outbox is the administrator's (permission alerts.change_outboxmessage)",
            details={"required_permission": PERM_REPLAY},
        )
    if status not in OutboxStatus.values:
        raise ValidationFailed(
            f"status: expected one of {', '.join(OutboxStatus.values)}, got {status!r}",
            field="status",
        )
    return (
        OutboxMessage.objects.filter(status=status).prefetch_related("attempt_log").order_by("-id")
    )


def outbox_counts() -> dict[str, Any]:
    counts = {s: 0 for s in OutboxStatus.values}
    for row in OutboxMessage.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts
