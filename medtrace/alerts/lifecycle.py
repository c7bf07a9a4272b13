"""The lifecycle of an alert: a task in its recipients' work queue (issue 7 item 2).

::

    open ──acknowledge──> acknowledged ──resolve──> resolved
      │  └──────────────resolve─────────────────────^
      └──dismiss (false alarm)──> dismissed  <──dismiss── acknowledged

``assign`` gives a live (open or acknowledged) alert to one person, who must be able to act on
it. Resolved and dismissed are final: the next occurrence of the condition is a new alert
(``rules.fire``). Dismissal is the false-alarm count of the KPIs (``trace.kpis``).

Who may act: the recipient user, a member of the recipient role, the person it is assigned to,
or an administrator. Each step locks the alert, checks the step is possible from its status,
and is audited with its reason in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from medtrace.accounts.models import User
from medtrace.accounts.roles import Role
from medtrace.audit import services as audit
from medtrace.errors import NotFound, PermissionDenied, SequenceViolation, ValidationFailed

from .models import Alert, AlertStatus

LIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
MAX_NOTE = 4000


def is_admin(user: User) -> bool:
    return user.is_superuser or user.groups.filter(name=Role.ADMIN).exists()


def addressed_to(alert: Alert, user: User) -> bool:
    """Whether ``alert`` is in ``user``'s work queue (their own, their role's, or assigned)."""
    if not user.is_active or user.party_id is not None:
        return False
    if user.pk in (alert.recipient_user_id, alert.assigned_to_id):
        return True
    return bool(alert.recipient_role) and user.groups.filter(name=alert.recipient_role).exists()


def can_act(alert: Alert, user: User) -> bool:
    return addressed_to(alert, user) or (
        user.is_active and user.party_id is None and is_admin(user)
    )


def can_view(alert: Alert, user: User) -> bool:
    """Recipients act; QA/RA, the auditor and the administrator also read every alert."""
    if user.party_id is not None:
        return False
    return can_act(alert, user) or user.has_perm("alerts.view_alert")


def _require_actor(alert: Alert, user: User) -> None:
    if not can_view(alert, user):
        # Not addressed to them: as if it did not exist (its title may say too much).
        raise NotFound(_("No alert %(id)s") % {"id": alert.pk})
    if not can_act(alert, user):
        raise PermissionDenied(
            _(
                "Alert %(id)s is addressed to %(to)s: only its recipients, the person it is "
                "assigned to, or an administrator may act on it"
            )
            % {"id": alert.pk, "to": recipient_text(alert)},
            details={
                "recipient_role": alert.recipient_role,
                "recipient_user": alert.recipient_user_id,
            },
        )


def recipient_text(alert: Alert) -> str:
    parts = []
    if alert.recipient_role:
        label = dict(Role.choices).get(alert.recipient_role, alert.recipient_role)
        parts.append(_("role %(role)s") % {"role": label})
    if alert.recipient_user is not None:
        parts.append(alert.recipient_user.display_name())
    return pgettext("list of recipients", " and ").join(parts) or "-"


def _require_status(alert: Alert, allowed: tuple[str, ...], step: str) -> None:
    if alert.status not in allowed:
        raise SequenceViolation(
            _("Cannot %(step)s alert %(id)s: it is %(status)s (expected %(expected)s)")
            % {
                "step": step,
                "id": alert.pk,
                "status": AlertStatus(alert.status).label,
                "expected": pgettext("list of statuses", " or ").join(
                    str(AlertStatus(s).label) for s in allowed
                ),
            },
            field="status",
            details={"status": alert.status, "expected": list(allowed)},
        )


def _note(text: str, field: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(
            _("%(field)s: %(what)s is required") % {"field": field, "what": what}, field=field
        )
    if len(text) > MAX_NOTE:
        raise ValidationFailed(
            _("%(field)s: at most %(max)s characters (got %(n)s)")
            % {"field": field, "max": MAX_NOTE, "n": len(text)},
            field=field,
        )
    return text


def _step(
    alert_id: int,
    user: User,
    allowed: tuple[str, ...],
    step: str,
    change: Callable[[Alert], str],
) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise NotFound(_("No alert %(id)s") % {"id": alert_id})
        _require_actor(alert, user)
        _require_status(alert, allowed, step)
        before = audit.snapshot(alert)
        reason = change(alert)
        alert.save()
        audit.record_update(alert, before, user=user, reason=reason)
    return alert


def alert_acknowledge(*, alert_id: int, user: User, note: str = "") -> Alert:
    """Open -> acknowledged: someone has seen it and is on it."""

    def change(alert: Alert) -> str:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        return note.strip()[:MAX_NOTE] or "acknowledged"

    return _step(alert_id, user, (AlertStatus.OPEN,), pgettext("alert step", "acknowledge"), change)


def alert_assign(*, alert_id: int, user: User, assignee: User | None, note: str = "") -> Alert:
    """Give a live alert to ``assignee``, who must be able to act on it."""
    if assignee is None:
        raise ValidationFailed(_("assignee: choose the person to assign it to"), field="assignee")

    def change(alert: Alert) -> str:
        if not can_act(alert, assignee):
            raise ValidationFailed(
                _(
                    "assignee: %(name)s cannot act on this alert: assign it to an active "
                    "member of %(to)s, or to an administrator"
                )
                % {"name": assignee.display_name(), "to": recipient_text(alert)},
                field="assignee",
            )
        if alert.assigned_to_id == assignee.pk:
            raise ValidationFailed(
                _("assignee: the alert is already assigned to %(name)s")
                % {"name": assignee.display_name()},
                field="assignee",
            )
        alert.assigned_to = assignee
        alert.assigned_at = timezone.now()
        return note.strip()[:MAX_NOTE] or f"assigned to {assignee.username}"

    return _step(alert_id, user, LIVE, pgettext("alert step", "assign"), change)


def alert_resolve(*, alert_id: int, user: User, resolution: str) -> Alert:
    """A live alert was a real problem, and it has been dealt with (how: ``resolution``)."""
    text = _note(resolution, "resolution", _("a resolution note saying what was done"))

    def change(alert: Alert) -> str:
        now = timezone.now()
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, user
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now
        alert.resolved_by = user
        alert.resolution = text
        return text

    return _step(alert_id, user, LIVE, pgettext("alert step", "resolve"), change)


def alert_dismiss(*, alert_id: int, user: User, reason: str) -> Alert:
    """A live alert was a false alarm (why: ``reason``); it counts in the false-alarm rate."""
    text = _note(reason, "reason", _("the reason it is a false alarm"))

    def change(alert: Alert) -> str:
        alert.status = AlertStatus.DISMISSED
        alert.dismissed_at = timezone.now()
        alert.dismissed_by = user
        alert.dismiss_reason = text
        return text

    return _step(alert_id, user, LIVE, pgettext("alert step", "dismiss"), change)
