"""Alerts: something a person must look at, addressed to a role or a user.

This is the in-app inbox that every module raises into (DESIGN §3 alerts/). Rules, channels
(email, webhooks) and the outbox arrive with the alerts issue; the record and its lifecycle
fields are here so that earlier modules (e.g. a signing lock-out) already alert QA.
``WebhookSubscription`` names the partner systems that receive signed event POSTs
(``webhooks.py``; recall notices are the first event, issue 6).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medtrace.core.fields import EncryptedTextField


class AlertSeverity(models.TextChoices):
    INFO = "info", _("information")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("open")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")
    DISMISSED = "dismissed", _("dismissed as a false alarm")


class Alert(models.Model):
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=64)
    severity = models.CharField(
        _("severity"), max_length=8, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    title = models.CharField(_("title"), max_length=200)
    message = models.TextField(_("message"), blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    recipient_role = models.CharField(_("recipient role"), max_length=32, blank=True)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
        verbose_name=_("recipient user"),
    )
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN
    )
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    # Raised by a rule (``rules.fire``): the same (kind, dedupe_key) is never open twice.
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, blank=True)
    # Lifecycle (``lifecycle.py``): each step is audited with its reason.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_alerts",
        verbose_name=_("assigned to"),
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolution = models.TextField(_("resolution"), blank=True)
    dismissed_at = models.DateTimeField(_("dismissed at"), null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("dismissed by"),
    )
    dismiss_reason = models.TextField(_("why it is a false alarm"), blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient_role", "status"], name="alert_role_idx"),
            models.Index(fields=["recipient_user", "status"], name="alert_user_idx"),
            models.Index(fields=["assigned_to", "status"], name="alert_assignee_idx"),
            models.Index(fields=["kind", "created_at"], name="alert_kind_idx"),
        ]
        constraints = [
            # A rule never has two live alerts for the same thing (two evaluators racing
            # included): the second insert fails, and ``rules.fire`` returns None.
            models.UniqueConstraint(
                fields=["kind", "dedupe_key"],
                condition=Q(status__in=["open", "acknowledged"]) & ~Q(dedupe_key=""),
                name="alert_live_dedupe_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AlertRuleKind(models.TextChoices):
    QC_FAILURE = "qc_failure", _("QC failure")
    COMPLAINT_CLUSTER = "complaint_cluster", _("complaint cluster")
    EXPIRY_STOCK = "expiry_stock", _("expiry of stock")
    EXPIRY_INSTALLED = "expiry_installed", _("expiry in the installed base")
    MAINTENANCE_DUE = "maintenance_due", _("maintenance or calibration due")
    RECALL_UNACKNOWLEDGED = "recall_unacknowledged", _("recall notice unacknowledged")
    YIELD_OUT_OF_CONTROL = "yield_out_of_control", _("yield out of control")
    AUDIT_CHAIN_FAILED = "audit_chain_failed", _("audit-chain verification failed")
    DUPLICATE_SCAN = "duplicate_scan", _("unit scanned in two places")


class AlertRule(models.Model):
    """The configuration of one alert rule (one row per kind; ``rules.py`` has the contract).

    ``threshold`` and ``window`` mean what the kind says (``rules.SPECS``): days ahead for an
    expiry, a count of complaints, sigmas for yield, minutes between two scans. ``params``
    holds the kind's other settings. Alerts go to ``recipient_role`` and/or ``recipient_user``;
    with ``email`` on, the recipients also get an e-mail (through the outbox).
    """

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("rule"), max_length=32, choices=AlertRuleKind.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    severity = models.CharField(
        _("severity"), max_length=8, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    threshold = models.DecimalField(
        _("threshold"), max_digits=12, decimal_places=3, null=True, blank=True
    )
    # Stored in seconds (the audit trail keeps plain numbers); ``window`` is the timedelta.
    window_seconds = models.PositiveIntegerField(_("window (seconds)"), null=True, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    recipient_role = models.CharField(_("recipient role"), max_length=32, blank=True)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recipient user"),
    )
    email = models.BooleanField(_("e-mail the recipients"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["id"]
        default_permissions = ("change", "view")
        constraints = [
            models.CheckConstraint(
                condition=~Q(recipient_role="") | Q(recipient_user__isnull=False),
                name="alertrule_has_recipient",
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_kind_display())

    @property
    def window(self) -> timedelta | None:
        return None if self.window_seconds is None else timedelta(seconds=self.window_seconds)

    @window.setter
    def window(self, value: timedelta | None) -> None:
        self.window_seconds = None if value is None else int(value.total_seconds())


class WebhookSubscription(models.Model):
    """A receiver of signed webhook POSTs: a partner's system (``party``) or one of ours.

    The secret signs each delivery (``alerts.webhooks.sign``). It is stored encrypted with the
    field key (the sender needs it in clear to sign, so a hash would not do), shown once when it
    is created or rotated, and never again. A rotation keeps the old secret valid until
    ``previous_secret_expires_at``: meanwhile each delivery carries a signature under both, so
    the receiver can switch over without losing a message.
    """

    # The shared secrets never enter the audit trail (only that they changed).
    AUDIT_MASKED_FIELDS = ("secret", "previous_secret")

    id = models.BigAutoField(primary_key=True)
    party = models.ForeignKey(
        "masterdata.Party",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="webhook_subscriptions",
        verbose_name=_("party"),
        help_text=_("The partner whose system receives the events; empty for one of our systems."),
    )
    system_name = models.CharField(
        _("system"),
        max_length=100,
        blank=True,
        help_text=_("For our own systems (QMS, CRM, ...): the receiving system's name."),
    )
    url = models.URLField(_("URL"), max_length=2000)
    secret = EncryptedTextField(_("secret"))
    previous_secret = EncryptedTextField(_("previous secret"), blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret valid until"), null=True, blank=True
    )
    event_types = models.JSONField(
        _("event types"),
        default=list,
        help_text=_('The events delivered, e.g. ["recall.notice"]; ["*"] for every event.'),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    rotated_at = models.DateTimeField(_("secret rotated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["id"]
        default_permissions = ("add", "change", "view")
        constraints = [
            models.CheckConstraint(
                condition=Q(party__isnull=False) | ~Q(system_name=""),
                name="webhooksub_party_or_system",
            ),
        ]
        indexes = [models.Index(fields=["party", "active"], name="webhooksub_party_idx")]

    def __str__(self) -> str:
        return f"{self.party or self.system_name} → {self.url}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    DEAD = "dead", _("dead letter")


class OutboxMessage(models.Model):
    """One thing to send, written in the transaction of the change that caused it (DESIGN §4).

    The worker (``medtrace worker``) claims a due message for a lease, runs its handler (a
    webhook POST, an e-mail, an EPCIS subscription push ...) outside any transaction, and records
    the attempt. A failed attempt is retried with exponential backoff until ``max_attempts``,
    then the message is a dead letter, which an administrator can inspect and replay. A worker
    killed mid-attempt leaves the lease to expire, and the next worker sends the message again:
    delivery is at least once, and ``key`` (sent as the receiver's idempotency key) is the same
    for every attempt, so a receiver recognises a duplicate.
    """

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    handler = models.CharField(_("handler"), max_length=64)
    event_type = models.CharField(_("event type"), max_length=64)
    target = models.CharField(_("target"), max_length=500, blank=True)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveIntegerField(_("maximum attempts"), default=8)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    lease_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    worker_id = models.CharField(_("worker"), max_length=64, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["id"]
        default_permissions = ("change", "view")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
            models.Index(fields=["event_type", "status"], name="outbox_event_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.target or self.handler} ({self.status})"


class OutboxAttempt(models.Model):
    """One try at sending an outbox message: when, by which worker, and what happened. A row
    with no ``finished_at`` is an attempt whose worker died before it could record the end."""

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(
        OutboxMessage,
        on_delete=models.PROTECT,
        related_name="attempt_log",
        verbose_name=_("message"),
    )
    number = models.PositiveIntegerField(_("attempt"))
    worker_id = models.CharField(_("worker"), max_length=64, blank=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    ok = models.BooleanField(_("succeeded"), null=True)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        verbose_name = _("outbox attempt")
        verbose_name_plural = _("outbox attempts")
        ordering = ["message_id", "number"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="outbox_attempt_unique")
        ]

    def __str__(self) -> str:
        return f"{self.message_id}#{self.number}"


class PeriodicRun(models.Model):
    """When a periodic job of the worker (``alerts.schedule``) last ran, so that several workers
    run it once per period between them, and a restarted worker knows what is due."""

    name = models.CharField(_("job"), max_length=64, primary_key=True)
    last_started_at = models.DateTimeField(_("last started at"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished at"), null=True, blank=True)
    last_result = models.TextField(_("last result"), blank=True)

    class Meta:
        verbose_name = _("periodic job")
        verbose_name_plural = _("periodic jobs")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return self.name
