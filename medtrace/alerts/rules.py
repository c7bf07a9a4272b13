"""Alert rules: their configuration, and ``fire``, the one way a rule raises an alert.

The contract for rule evaluators (``alerts/rules_*.py`` and hooks in other apps)
-------------------------------------------------------------------------------------

- ``rule(kind)`` gives the rule's configuration (an ``AlertRule``, one query): ``enabled``,
  ``severity``, ``threshold`` (a ``Decimal`` or None), ``window`` (a ``timedelta`` or None),
  ``params`` (a dict: the kind's defaults from ``SPECS`` overlaid with the stored values),
  ``recipient_role`` / ``recipient_user`` and ``email``. ``SPECS[kind]`` says what threshold,
  window and params mean for the kind; an evaluator reads them from the row, never hard-codes
  them (an administrator or QA/RA changes them on /alerts/rules/). A disabled rule need not be
  evaluated at all (``fire`` would drop the alert anyway).

- ``fire(kind, dedupe_key=..., title=..., ...)`` raises the alert, in the caller's transaction
  (call it inside the ``transaction.atomic`` of the change that caused it; a periodic evaluator
  opens its own). It returns the new ``Alert``, or None when the rule is disabled or an alert of
  the same ``(kind, dedupe_key)`` is still live (open or acknowledged): re-evaluating the same
  condition every sweep raises it once. ``dedupe_key`` names the thing alerted on, e.g.
  ``"lot:<epc class>"`` or ``"notice:<id>:level:1"``; once the alert is resolved or dismissed,
  the next ``fire`` with that key raises a new one. A database constraint holds this against two
  evaluators racing; the loser gets None.

  The alert goes to the rule's recipients (role and/or user); ``recipient_role=`` sends it to
  that role instead (an escalation to the next level: ``params["escalation"]`` of
  ``recall_unacknowledged`` lists the levels). ``severity=`` overrides the rule's. In the same
  transaction the channels are queued in the outbox: an e-mail to each recipient (the user, and
  the active members of the role with an address) when ``email`` is on, and the webhook event
  ``alert.raised`` to our own systems' subscriptions. The in-app inbox is the ``Alert`` row.

  ``title``, ``message`` and ``evidence`` must never hold patient data (they are e-mailed and
  shown to whole departments); the webhook carries only the alert's identity and title.

- A periodic evaluator registers with ``schedule.periodic("rule:<kind>", every=...)`` in its
  ``alerts/rules_<x>.py`` module; ``schedule`` imports every ``alerts.rules_*`` module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medtrace.accounts.models import User
from medtrace.accounts.roles import Role

from . import outbox
from .models import Alert, AlertRule, AlertRuleKind, AlertSeverity, AlertStatus
from .services import alert_raise

LIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
EVENT_RAISED = "alert.raised"


@dataclass(frozen=True)
class Spec:
    """What a kind's settings mean, and its defaults (the seed of its ``AlertRule`` row)."""

    threshold_help: Any  # lazy text
    window_help: Any = ""
    params_help: Any = ""
    severity: str = AlertSeverity.WARNING
    threshold: Decimal | None = None
    window: timedelta | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    recipient_role: str = Role.QA_RA
    email: bool = False


K = AlertRuleKind
SPECS: dict[str, Spec] = {
    K.QC_FAILURE: Spec(
        gettext_lazy("Not used: every failed inspection raises an alert."),
        params_help=gettext_lazy(
            '"hold": also hold the whole lot of a failed unit (true/false); the nonconformance '
            "always holds the failed unit itself."
        ),
        severity=AlertSeverity.CRITICAL,
        params={"hold": True},
        recipient_role=Role.QC,
        email=True,
    ),
    K.COMPLAINT_CLUSTER: Spec(
        gettext_lazy(
            "Not used here: each signal rule (Complaints > Signal rules) sets its own threshold."
        ),
        gettext_lazy("Not used here: each signal rule sets its own window."),
        gettext_lazy('"dimensions": which lots are counted, of ["lot", "component_lot"].'),
        threshold=Decimal(3),
        window=timedelta(days=30),
        params={"dimensions": ["lot", "component_lot"]},
        email=True,
    ),
    K.EXPIRY_STOCK: Spec(
        gettext_lazy("Days before expiry at which stock is reported."),
        recipient_role=Role.WAREHOUSE,
        threshold=Decimal(90),
    ),
    K.EXPIRY_INSTALLED: Spec(
        gettext_lazy("Days before expiry at which installed units are reported."),
        recipient_role=Role.SERVICE,
        threshold=Decimal(90),
    ),
    K.MAINTENANCE_DUE: Spec(
        gettext_lazy("Days ahead at which maintenance or calibration is reported as due."),
        params_help=gettext_lazy('"overdue": also alert when it is past due (true/false).'),
        recipient_role=Role.SERVICE,
        threshold=Decimal(14),
        params={"overdue": True},
    ),
    K.RECALL_UNACKNOWLEDGED: Spec(
        gettext_lazy("Hours past a notice's acknowledgement deadline before escalating."),
        params_help=gettext_lazy(
            '"escalation": the roles a notice escalates to, one level after another '
            '(e.g. ["qa_ra", "admin"]; level 1 goes to this rule\'s recipients, so name its '
            'role first); "repeat_hours": hours before the next level.'
        ),
        severity=AlertSeverity.CRITICAL,
        threshold=Decimal(0),
        params={"escalation": [Role.QA_RA.value, Role.ADMIN.value], "repeat_hours": 24},
        email=True,
    ),
    K.YIELD_OUT_OF_CONTROL: Spec(
        gettext_lazy("Control limits in standard deviations (sigma) around the mean yield."),
        params_help=gettext_lazy(
            '"lots": the last lots the limits are computed from; "min_lots": fewer lots '
            'than this and no limits are drawn; "min_sigma": the smallest spread assumed.'
        ),
        window_help=gettext_lazy("Lots completed within this period are judged; empty = 30 days."),
        recipient_role=Role.PRODUCTION,
        threshold=Decimal(3),
        params={"lots": 20, "min_lots": 5, "min_sigma": 0.01},
    ),
    K.AUDIT_CHAIN_FAILED: Spec(
        gettext_lazy("Not used: every failed verification raises an alert."),
        severity=AlertSeverity.CRITICAL,
        email=True,
    ),
    K.DUPLICATE_SCAN: Spec(
        gettext_lazy(
            "Minutes: the same unit scanned at two sites within this time (events recorded in "
            "the last 2 hours are checked)."
        ),
        severity=AlertSeverity.CRITICAL,
        threshold=Decimal(10),
        email=True,
    ),
}


def rule(kind: str) -> AlertRule:
    """The configuration of rule ``kind``, with the kind's default ``params`` under the stored
    ones. A missing row (a flushed test database) is created from ``SPECS``."""
    spec = SPECS.get(kind)
    if spec is None:
        raise ValueError(f"no alert rule kind {kind!r}: expected one of {', '.join(SPECS)}")
    row = AlertRule.objects.select_related("recipient_user").filter(kind=kind).first()
    if row is None:
        row = seed(kind)
    row.params = {**spec.params, **(row.params or {})}
    return row


def seed(kind: str) -> AlertRule:
    spec = SPECS[kind]
    row, _created = AlertRule.objects.get_or_create(
        kind=kind,
        defaults={
            "severity": spec.severity,
            "threshold": spec.threshold,
            "window": spec.window,
            "params": dict(spec.params),
            "recipient_role": spec.recipient_role,
            "email": spec.email,
        },
    )
    return row


def fire(
    kind: str,
    *,
    dedupe_key: str,
    title: str,
    message: str = "",
    evidence: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    severity: str | None = None,
    recipient_role: str | None = None,
) -> Alert | None:
    """Raise rule ``kind``'s alert for ``dedupe_key`` unless the rule is off or one is live."""
    config = rule(kind)
    if not config.enabled:
        return None
    if not dedupe_key:
        raise ValueError("fire() needs a dedupe_key naming what the alert is about")
    if recipient_role is not None and recipient_role not in Role.values:
        raise ValueError(f"no role {recipient_role!r}: expected one of {', '.join(Role.values)}")
    with transaction.atomic():
        if Alert.objects.filter(kind=kind, dedupe_key=dedupe_key, status__in=LIVE).exists():
            return None
        role = recipient_role if recipient_role is not None else config.recipient_role
        user = None if recipient_role is not None else config.recipient_user
        try:
            with transaction.atomic():  # a savepoint: a racing evaluator's insert wins
                alert = alert_raise(
                    kind=kind,
                    title=title,
                    message=message,
                    severity=severity or config.severity,
                    recipient_role=role,
                    recipient_user=user,
                    evidence=evidence,
                    object_type=object_type,
                    object_id=object_id,
                    dedupe_key=dedupe_key,
                )
        except IntegrityError:
            if Alert.objects.filter(kind=kind, dedupe_key=dedupe_key, status__in=LIVE).exists():
                return None
            raise
        queue_channels(alert, email=config.email)
    return alert


# Channels --------------------------------------------------------------------------------------


def recipients(alert: Alert) -> list[User]:
    """The people an alert is addressed to: its user, and the active members of its role."""
    found: dict[int, User] = {}
    if alert.recipient_user is not None and alert.recipient_user.is_active:
        found[alert.recipient_user.pk] = alert.recipient_user
    if alert.recipient_role:
        for user in User.objects.filter(
            groups__name=alert.recipient_role, is_active=True, party__isnull=True
        ).order_by("pk"):
            found.setdefault(user.pk, user)
    return list(found.values())


def alert_url(alert: Alert) -> str:
    return f"{settings.PUBLIC_URL}/alerts/{alert.pk}/"


def queue_channels(alert: Alert, *, email: bool) -> None:
    """Queue the alert's e-mails (when ``email``) and its webhook event, in the caller's
    transaction."""
    if email:
        mails = [
            (
                "email",
                "alert.email",
                _email_payload(alert, user),
                f"alert:{alert.pk}:email:{user.pk}",
                user.email,
            )
            for user in recipients(alert)
            if user.email
        ]
        outbox.emit_many(mails)
    outbox.publish(EVENT_RAISED, webhook_payload(alert), event_id=f"{EVENT_RAISED}:{alert.pk}")


def _email_payload(alert: Alert, user: User) -> dict[str, Any]:
    language = getattr(user, "language", "") or settings.LANGUAGE_CODE
    with translation.override(language):
        severity = str(AlertSeverity(alert.severity).label)
        subject = f"[medtrace] {severity}: {alert.title}"
        lines = [alert.title, ""]
        if alert.message:
            lines += [alert.message, ""]
        lines.append(_("Open the alert: %(url)s") % {"url": alert_url(alert)})
        lines.append(
            _("You receive this because the alert is addressed to you or to your department.")
        )
    return {"to": [user.email], "subject": subject, "body": "\n".join(lines)}


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """What a subscribed system learns: the alert's identity and title (never the evidence)."""
    return {
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "severity": alert.severity,
            "title": alert.title,
            "status": alert.status,
            "recipient_role": alert.recipient_role,
            "object_type": alert.object_type,
            "object_id": alert.object_id,
            "created_at": alert.created_at.isoformat(),
            "url": alert_url(alert),
        }
    }
