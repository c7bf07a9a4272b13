"""The hash-chained audit trail, e-signatures and signed checkpoints (DESIGN §8).

`AuditEntry` rows are append-only: on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE
(migration 0002); on SQLite `medtrace audit verify` finds any edit by recomputing the chain.
`AuditHead` is the one mutable row that serialises writers (it holds the chain's last seq and
hash, locked FOR UPDATE while an entry is appended).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    CREATE = "create", _("created")
    UPDATE = "update", _("changed")
    DELETE = "delete", _("deleted")
    SIGN = "sign", _("signed")
    SIGN_FAILED = "sign-failed", _("signature refused")
    SIGN_LOCKED = "sign-locked", _("signing locked")
    SIGN_UNLOCKED = "sign-unlocked", _("signing unlocked")
    VIEW_SENSITIVE = "view-sensitive", _("revealed protected data")
    CAPTURE = "capture", _("captured ledger events")
    CHECKPOINT = "checkpoint", _("signed checkpoint")
    TOKEN = "token", _("API token")
    RESTORE = "restore", _("restored from a backup")


class AuditSource(models.TextChoices):
    UI = "ui", _("web UI")
    API = "api", _("REST API")
    EPCIS = "epcis", _("EPCIS interface")
    ADMIN = "admin", _("admin")
    CLI = "cli", _("command line")
    SYSTEM = "system", _("system")


class AuditEntry(models.Model):
    """One change, in the order it happened. ``hash`` = SHA-256(prev_hash + canonical entry)."""

    id = models.BigAutoField(primary_key=True)
    seq = models.BigIntegerField(_("sequence"), unique=True)
    at = models.DateTimeField(_("time (UTC)"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    # The username at the time, so the entry stays readable (and hashable) on its own.
    actor_name = models.CharField(_("actor name"), max_length=150)
    source = models.CharField(_("source"), max_length=8, choices=AuditSource.choices)
    action = models.CharField(_("action"), max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(_("object type"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=300)
    # {field: [old, new]} for changes; {field: value} snapshots for create/delete.
    changes = models.JSONField(_("changes"), default=dict)
    reason = models.TextField(_("reason"), blank=True)
    request_id = models.CharField(_("request or command ID"), max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "seq"], name="audit_object_idx"),
            models.Index(fields=["actor", "seq"], name="audit_actor_idx"),
            models.Index(fields=["at"], name="audit_at_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The chain's tip (one row, id=1); locked while an entry is appended."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head #{self.seq}"


class AuditCheckpoint(models.Model):
    """An Ed25519 signature over the chain head at ``seq`` (exported to keep outside the DB)."""

    id = models.BigAutoField(primary_key=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    public_key = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    created_by = models.CharField(max_length=150)

    class Meta:
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq}"


class SignatureMeaning(models.TextChoices):
    AUTHORED = "authored", _("authored")
    REVIEWED = "reviewed", _("reviewed")
    APPROVED = "approved", _("approved")
    RELEASED = "released", _("released")
    CLOSED = "closed", _("closed")


class Signature(models.Model):
    """An electronic signature (21 CFR 11.50): who, when, what it means, over which content."""

    id = models.BigAutoField(primary_key=True)
    object_type = models.CharField(_("record type"), max_length=100)
    object_id = models.CharField(_("record id"), max_length=64)
    object_repr = models.CharField(_("record"), max_length=300)
    meaning = models.CharField(_("meaning"), max_length=16, choices=SignatureMeaning.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures"
    )
    printed_name = models.CharField(_("printed name"), max_length=150)
    username = models.CharField(_("username"), max_length=150)
    signed_at = models.DateTimeField(_("signed at (UTC)"))
    content_sha256 = models.CharField(_("content SHA-256"), max_length=64)
    reason = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("electronic signature")
        verbose_name_plural = _("electronic signatures")
        ordering = ["signed_at", "id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="signature_object_idx")]

    def __str__(self) -> str:
        return f"{self.printed_name} {self.meaning} {self.object_type}:{self.object_id}"


class SigningState(models.Model):
    """Wrong signing passwords in a row, and the lock they set (21 CFR 11.300(d))."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    failures = models.PositiveIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"signing state of {self.user_id}"
