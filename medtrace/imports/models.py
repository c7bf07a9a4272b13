"""Import jobs: one uploaded CSV or XLSX file of one kind, validated row by row and stored all
or nothing (issue 7 item 4).

A job records who imported which file (name, size and SHA-256), what became of it (status,
every error by row and column) and what it created. Its progress (``processed_rows`` of
``total_rows`` in the current ``phase``) is what the import page polls. Jobs are never deleted:
they are the record of where imported master data and legacy histories came from.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ImportKind(models.TextChoices):
    PARTIES = "parties", _("Parties")
    LOCATIONS = "locations", _("Locations")
    PRODUCTS = "products", _("Products and their DIs")
    MATERIALS = "materials", _("Materials")
    HISTORY = "history", _("Legacy serial histories")


class ImportStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("import status", "uploaded, not run yet")
    RUNNING = "running", pgettext_lazy("import status", "running")
    VALID = "valid", pgettext_lazy("import status", "valid (dry run, nothing stored)")
    INVALID = "invalid", pgettext_lazy("import status", "refused, nothing stored")
    IMPORTED = "imported", pgettext_lazy("import status", "imported")
    FAILED = "failed", pgettext_lazy("import status", "failed, nothing stored")


FINISHED = (ImportStatus.VALID, ImportStatus.INVALID, ImportStatus.IMPORTED, ImportStatus.FAILED)


class ImportPhase(models.TextChoices):
    WAITING = "waiting", pgettext_lazy("import phase", "waiting")
    READING = "reading", pgettext_lazy("import phase", "reading and validating")
    CHECKING = "checking", pgettext_lazy("import phase", "checking against the database")
    STORING = "storing", pgettext_lazy("import phase", "storing")
    DONE = "done", pgettext_lazy("import phase", "done")


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ImportJob(models.Model):
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    phase = models.CharField(
        _("phase"), max_length=16, choices=ImportPhase.choices, default=ImportPhase.WAITING
    )
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=8, choices=FileFormat.choices)
    file_size = models.PositiveBigIntegerField(_("size (bytes)"))
    file_sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("imported by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Data rows of the file, once known (a CSV is counted before it is read; an XLSX says).
    total_rows = models.PositiveIntegerField(_("rows in the file"), null=True, blank=True)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    # [{"row", "column", "message", "expected", "value", "code"}], at most MAX_ERRORS of them.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # What was (or, in a dry run, would be) created: {"parties": 12, "events": 40, ...}.
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    # The ledger capture jobs that stored a history import's events.
    capture_jobs = models.JSONField(_("capture jobs"), default=list, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-id"]
        default_permissions = ("add", "view")
        permissions = [
            ("import_history", _("Can import legacy serial histories into the ledger")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["parties", "locations", "products", "materials", "history"]),
                name="importjob_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["pending", "running", "valid", "invalid", "imported", "failed"]
                ),
                name="importjob_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.kind}, {self.file_name})"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int | None:
        if not self.total_rows:
            return None
        return min(100, round(100 * self.processed_rows / self.total_rows))
