"""What every lifecycle document shares: document numbers and stored attachments.

- ``DocumentCounter``: one row per (document kind, year), locked while a number is taken, so two
  clerks never get the same PO, shipment or ticket number (DESIGN §10: database locks, not
  in-memory state).
- ``Attachment``: a file a document points at (a certificate of conformity, a licence scan, test
  data). The bytes live under ``ATTACHMENT_DIR`` named by their SHA-256, which is also kept on
  the row; reading a file back checks it, so a swapped or damaged file is refused, not served.
  Attachments are never changed or deleted: a new scan is a new attachment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentCounter(models.Model):
    kind = models.CharField(max_length=16)
    year = models.PositiveSmallIntegerField()
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="documentcounter_kind_year_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind}-{self.year}: {self.value}"


class Attachment(models.Model):
    id = models.BigAutoField(primary_key=True)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]}…)"


class TraceCertificate(models.Model):
    """An issued traceability certificate (产品追溯证明) of one unit.

    The full content the PDF prints is kept as issued, with the SHA-256 of its canonical JSON
    (the verification hash printed on the PDF). Anyone holding the PDF can look the number up
    and compare hashes; ``verify`` also rebuilds the content from today's ledger and says
    whether the unit's record changed since issue. Never changed or deleted.
    """

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    epc = models.CharField(_("unit (EPC)"), max_length=512, db_index=True)
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content = models.JSONField(_("content"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("traceability certificate")
        verbose_name_plural = _("traceability certificates")

    def __str__(self) -> str:
        return f"{self.number} {self.epc}"
