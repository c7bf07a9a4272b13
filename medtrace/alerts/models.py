"""Alerts: something a person must look at, addressed to a role or a user.

This is the in-app inbox that every module raises into (DESIGN §3 alerts/). Rules, channels
(email, webhooks) and the outbox arrive with the alerts issue; the record and its lifecycle
fields are here so that earlier modules (e.g. a signing lock-out) already alert QA.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient_role", "status"], name="alert_role_idx")]

    def __str__(self) -> str:
        return self.title
