"""Alerts, alert rules and the outbox over the API (mounted at /api/v1/).

- ``GET /alerts`` is the caller's work queue (``scope=mine``: addressed to them or their roles,
  or assigned to them; ``assigned``; ``all`` for QA/RA, the auditor and the administrator);
  ``GET /alerts/{id}``; ``POST /alerts/{id}/acknowledge|assign|resolve|dismiss``.
  Scopes ``alerts:read`` and ``alerts:write``; acting needs the alert to be addressed to the
  caller (or the administrator role).
- ``GET /alert-rules[/{kind}]`` (scope ``alerts:read``), ``PATCH /alert-rules/{kind}`` (scope
  ``alerts:manage``, permission ``alerts.change_alertrule``: QA/RA, administrator).
- ``GET /outbox?status=dead`` and ``POST /outbox/{id}/replay`` (scope ``outbox:manage``,
  permission ``alerts.change_outboxmessage``: the administrator).

Partners have no work queue: partner tokens cannot carry these scopes.
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed

from . import lifecycle, outbox, ruleconfig, rules, selectors
from .models import Alert, AlertRule, AlertRuleKind, OutboxMessage

router = Router(tags=["alerts"])

READ, WRITE, RULES, OUTBOX = "alerts:read", "alerts:write", "alerts:manage", "outbox:manage"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class _Mapped:
    """A lazily shaped queryset, so the paginator slices in SQL."""

    def __init__(self, qs: QuerySet[Any], shape: Callable[[Any], dict[str, Any]]) -> None:
        self.qs, self.shape = qs, shape

    def __len__(self) -> int:
        return self.qs.count()

    def __getitem__(self, index: slice) -> list[dict[str, Any]]:
        return [self.shape(row) for row in self.qs[index]]


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    if request.user.party_id is not None:
        raise PermissionDenied("Alerts are for our own staff; partner accounts have no work queue")
    return request.user


# Alerts ----------------------------------------------------------------------------------------


class AlertOut(Schema):
    id: int
    kind: str
    severity: str
    status: str
    title: str
    message: str
    recipient_role: str
    recipient_user_id: int | None
    assigned_to_id: int | None
    assigned_to: str | None = Field(description="The assignee's user name")
    object_type: str
    object_id: str
    dedupe_key: str
    created_at: datetime


class AlertDetailOut(AlertOut):
    evidence: dict[str, Any]
    assigned_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str
    dismissed_at: datetime | None
    dismissed_by: str | None
    dismiss_reason: str
    can_act: bool = Field(
        description="Whether the caller may acknowledge, assign, resolve, dismiss"
    )


def _name(user: User | None) -> str | None:
    return user.username if user is not None else None


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "title": alert.title,
        "message": alert.message,
        "recipient_role": alert.recipient_role,
        "recipient_user_id": alert.recipient_user_id,
        "assigned_to_id": alert.assigned_to_id,
        "assigned_to": _name(alert.assigned_to),
        "object_type": alert.object_type,
        "object_id": alert.object_id,
        "dedupe_key": alert.dedupe_key,
        "created_at": alert.created_at,
    }


def _detail(alert: Alert, user: User) -> dict[str, Any]:
    return {
        **_alert(alert),
        "evidence": alert.evidence
        if isinstance(alert.evidence, dict)
        else {"value": alert.evidence},
        "assigned_at": alert.assigned_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": _name(alert.acknowledged_by),
        "resolved_at": alert.resolved_at,
        "resolved_by": _name(alert.resolved_by),
        "resolution": alert.resolution,
        "dismissed_at": alert.dismissed_at,
        "dismissed_by": _name(alert.dismissed_by),
        "dismiss_reason": alert.dismiss_reason,
        "can_act": lifecycle.can_act(alert, user),
    }


@router.get("/alerts", response=list[AlertOut])
@paginate(Pagination)
def list_alerts(
    request: HttpRequest,
    scope: Literal["mine", "assigned", "all"] = "mine",
    status: Literal["live", "open", "acknowledged", "resolved", "dismissed", "any"] = "live",
    kind: str = "",
) -> list[dict[str, Any]]:
    """The caller's work queue, newest first: by default the live (open or acknowledged) alerts
    addressed to them, their roles, or assigned to them."""
    user = _user(request, READ)
    queue = selectors.work_queue(user=user, scope=scope, status=status, kind=kind[:64])
    return _Mapped(queue.alerts, _alert)  # type: ignore[return-value]


@router.get("/alerts/{alert_id}", response=AlertDetailOut)
def get_alert(request: HttpRequest, alert_id: int) -> dict[str, Any]:
    """One alert with its evidence and its lifecycle so far."""
    user = _user(request, READ)
    return _detail(selectors.alert_get(alert_id=alert_id, user=user), user)


class NoteIn(StrictIn):
    note: str = Field("", max_length=4000, description="Optional note for the audit trail")


class AssignIn(StrictIn):
    assignee_id: int = Field(description="The user who takes it on (a member of its role)")
    note: str = Field("", max_length=4000)


class ResolveIn(StrictIn):
    resolution: str = Field(max_length=4000, description="What was done about it (required)")


class DismissIn(StrictIn):
    reason: str = Field(max_length=4000, description="Why it is a false alarm (required)")


def _after(request: HttpRequest, alert: Alert, user: User) -> dict[str, Any]:
    return _detail(selectors.alert_get(alert_id=alert.pk, user=user), user)


@router.post("/alerts/{alert_id}/acknowledge", response=AlertDetailOut)
def acknowledge_alert(request: HttpRequest, alert_id: int, payload: NoteIn) -> dict[str, Any]:
    """Open -> acknowledged (409 from any other status)."""
    user = _user(request, WRITE)
    alert = lifecycle.alert_acknowledge(alert_id=alert_id, user=user, note=payload.note)
    return _after(request, alert, user)


@router.post("/alerts/{alert_id}/assign", response=AlertDetailOut)
def assign_alert(request: HttpRequest, alert_id: int, payload: AssignIn) -> dict[str, Any]:
    """Give a live alert to a person who can act on it."""
    user = _user(request, WRITE)
    assignee = User.objects.filter(pk=payload.assignee_id).first()
    if assignee is None:
        # Authorization first: an outsider learns nothing about the users from this call.
        selectors.alert_get(alert_id=alert_id, user=user)
        raise ValidationFailed(f"assignee_id: no user {payload.assignee_id}", field="assignee_id")
    alert = lifecycle.alert_assign(
        alert_id=alert_id, user=user, assignee=assignee, note=payload.note
    )
    return _after(request, alert, user)


@router.post("/alerts/{alert_id}/resolve", response=AlertDetailOut)
def resolve_alert(request: HttpRequest, alert_id: int, payload: ResolveIn) -> dict[str, Any]:
    """A real problem, dealt with; ``resolution`` says how."""
    user = _user(request, WRITE)
    alert = lifecycle.alert_resolve(alert_id=alert_id, user=user, resolution=payload.resolution)
    return _after(request, alert, user)


@router.post("/alerts/{alert_id}/dismiss", response=AlertDetailOut)
def dismiss_alert(request: HttpRequest, alert_id: int, payload: DismissIn) -> dict[str, Any]:
    """A false alarm (counted in the false-alarm KPI); ``reason`` says why."""
    user = _user(request, WRITE)
    alert = lifecycle.alert_dismiss(alert_id=alert_id, user=user, reason=payload.reason)
    return _after(request, alert, user)


# Rules -----------------------------------------------------------------------------------------


class RuleOut(Schema):
    kind: str
    label: str
    enabled: bool
    severity: str
    threshold: Decimal | None
    threshold_help: str
    window: timedelta | None = Field(description="ISO 8601 duration, e.g. P30DT00H00M00S")
    window_seconds: int | None = Field(description="The window in seconds")
    window_help: str
    params: dict[str, Any]
    params_help: str
    recipient_role: str
    recipient_user_id: int | None
    recipient_user: str | None
    email: bool
    updated_at: datetime
    updated_by: str | None


class RulePatch(StrictIn):
    enabled: bool | None = None
    severity: Literal["info", "warning", "critical"] | None = None
    threshold: Decimal | None = Field(
        None, description="What it means depends on the rule (threshold_help)"
    )
    window: timedelta | None = Field(
        None, description="ISO 8601 duration (P30D, PT12H) or a number of seconds; null for none"
    )
    params: dict[str, Any] | None = None
    recipient_role: str | None = Field(None, description='A role, or "" for none')
    recipient_user_id: int | None = Field(None, description="A user, or null for none")
    email: bool | None = None
    reason: str = Field("", max_length=2000, description="Why (for the audit trail)")


def _rule(row: AlertRule) -> dict[str, Any]:
    spec = rules.SPECS[row.kind]
    return {
        "kind": row.kind,
        "label": str(AlertRuleKind(row.kind).label),
        "enabled": row.enabled,
        "severity": row.severity,
        "threshold": row.threshold,
        "threshold_help": str(spec.threshold_help),
        "window": row.window,
        "window_seconds": row.window_seconds,
        "window_help": str(spec.window_help),
        "params": row.params,
        "params_help": str(spec.params_help),
        "recipient_role": row.recipient_role,
        "recipient_user_id": row.recipient_user_id,
        "recipient_user": _name(row.recipient_user),
        "email": row.email,
        "updated_at": row.updated_at,
        "updated_by": _name(row.updated_by),
    }


def _rules_reader(request: HttpRequest) -> User:
    user = _user(request, READ)
    if not user.has_perm(ruleconfig.PERM_VIEW):
        raise PermissionDenied(f"Reading alert rules needs the permission {ruleconfig.PERM_VIEW}")
    return user


@router.get("/alert-rules", response=list[RuleOut])
def list_rules(request: HttpRequest) -> list[dict[str, Any]]:
    """Every alert rule with its settings and what they mean."""
    _rules_reader(request)
    return [_rule(rules.rule(kind)) for kind in AlertRuleKind.values]


def _kind(kind: str) -> str:
    if kind not in AlertRuleKind.values:
        raise NotFound(
            f"No alert rule {kind[:64]!r}: the rules are {', '.join(AlertRuleKind.values)}"
        )
    return kind


@router.get("/alert-rules/{kind}", response=RuleOut)
def get_rule(request: HttpRequest, kind: str) -> dict[str, Any]:
    _rules_reader(request)
    return _rule(rules.rule(_kind(kind)))


@router.patch("/alert-rules/{kind}", response=RuleOut)
def patch_rule(request: HttpRequest, kind: str, payload: RulePatch) -> dict[str, Any]:
    """Change some settings of a rule (only the fields sent); every wrong field is listed."""
    user = _user(request, RULES)
    data = payload.model_dump(exclude_unset=True)
    reason = data.pop("reason", "")
    if "recipient_user_id" in data:
        pk = data.pop("recipient_user_id")
        recipient = User.objects.filter(pk=pk).first() if pk is not None else None
        if pk is not None and recipient is None:
            if not user.has_perm(ruleconfig.PERM_CHANGE):
                ruleconfig.rule_update(kind=_kind(kind), user=user, changes={})  # 403
            raise ValidationFailed(f"recipient_user_id: no user {pk}", field="recipient_user_id")
        data["recipient_user"] = recipient
    for name in ("enabled", "email", "severity"):
        if name in data and data[name] is None:
            raise ValidationFailed(f"{name}: cannot be null", field=name)
    if "params" in data and data["params"] is None:
        data["params"] = {}
    row = ruleconfig.rule_update(kind=_kind(kind), user=user, changes=data, reason=reason)
    return _rule(row)


# Outbox ----------------------------------------------------------------------------------------


class AttemptOut(Schema):
    number: int
    worker_id: str
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    detail: str


class OutboxOut(Schema):
    id: int
    key: str
    handler: str
    event_type: str
    target: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]
    attempt_log: list[AttemptOut]


class ReplayIn(StrictIn):
    reason: str = Field(max_length=2000, description="Why it is sent again (required)")


def _message(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.pk,
        "key": m.key,
        "handler": m.handler,
        "event_type": m.event_type,
        "target": m.target,
        "status": m.status,
        "attempts": m.attempts,
        "max_attempts": m.max_attempts,
        "next_attempt_at": m.next_attempt_at,
        "last_error": m.last_error,
        "created_at": m.created_at,
        "delivered_at": m.delivered_at,
        "payload": m.payload if isinstance(m.payload, dict) else {"value": m.payload},
        "attempt_log": [
            {
                "number": a.number,
                "worker_id": a.worker_id,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "ok": a.ok,
                "detail": a.detail,
            }
            for a in m.attempt_log.all()
        ],
    }


@router.get("/outbox", response=list[OutboxOut])
@paginate(Pagination)
def list_outbox(
    request: HttpRequest, status: Literal["dead", "pending", "delivered"] = "dead"
) -> list[dict[str, Any]]:
    """Outbox messages in a status (dead letters by default), newest first, with every
    attempt: the administrator's view of what could not be delivered."""
    user = _user(request, OUTBOX)
    return _Mapped(selectors.outbox_messages(user=user, status=status), _message)  # type: ignore[return-value]


@router.post("/outbox/{message_id}/replay", response=OutboxOut)
def replay_outbox(request: HttpRequest, message_id: int, payload: ReplayIn) -> dict[str, Any]:
    """Send a dead (or delivered) message again, with a fresh set of attempts and the same
    idempotency key."""
    user = _user(request, OUTBOX)
    message = outbox.replay(message_id, user=user, reason=payload.reason)
    message = OutboxMessage.objects.prefetch_related("attempt_log").get(pk=message.pk)
    return _message(message)
