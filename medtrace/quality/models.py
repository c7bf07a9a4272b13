"""Quality: holds, quarantine and release (the records the unit state machine reads).

A ``Hold`` blocks picking and shipping of what it covers until it is lifted: one unit or
container (``target`` is an instance EPC) or a whole lot (``target`` is the lot's class URN, and
``gtin`` + ``lot`` match the units of that lot in ``UnitState``). Kinds: a QC hold, a quarantine
(the goods are also moved to a quarantine location), and a recall hold (placed by a recall
campaign). Lifting a hold is a new fact on the same row (who, when, why), never a deletion.

A ``Release`` says QC released a unit or a lot for distribution, with an e-signature (meaning
"released") on the release record. No unit ships before it is released (DESIGN §8).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class HoldKind(models.TextChoices):
    HOLD = "hold", _("QC hold")
    QUARANTINE = "quarantine", _("Quarantine")
    RECALL = "recall", _("Recall hold")


class Hold(models.Model):
    AUDIT_REASON_REQUIRED = True

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=HoldKind.choices)
    target = models.CharField(
        _("held object"),
        max_length=512,
        help_text=_("A unit or container EPC, or a lot's class URN."),
    )
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    reason = models.TextField(_("reason"))
    source = models.CharField(
        _("raised by"),
        max_length=64,
        blank=True,
        help_text=_("The document that placed the hold, e.g. NC-2026-000001 or RMA-2026-000003."),
    )
    placed_at = models.DateTimeField(_("placed at"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lift_reason = models.TextField(_("reason for lifting"), blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        indexes = [
            models.Index(
                fields=["target"], condition=models.Q(lifted_at__isnull=True), name="hold_open_idx"
            ),
            models.Index(
                fields=["gtin", "lot"],
                condition=models.Q(lifted_at__isnull=True),
                name="hold_open_lot_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.get_kind_display()} {self.target}"

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class Release(models.Model):
    """QC release of units or lots for distribution; e-signed (meaning "released")."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    released_at = models.DateTimeField(_("released at"))
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("release")
        verbose_name_plural = _("releases")

    def __str__(self) -> str:
        return self.number

    def signature_content(self) -> dict[str, object]:
        return {
            "number": self.number,
            "released_at": self.released_at.isoformat(),
            "note": self.note,
            "items": sorted(self.items.values_list("target", flat=True)),
        }


class ReleaseItem(models.Model):
    """One unit (instance EPC) or one lot (class URN, with gtin + lot) a release covers."""

    id = models.BigAutoField(primary_key=True)
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="items")
    target = models.CharField(_("released object"), max_length=512)
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["target"], name="releaseitem_target_idx"),
            models.Index(fields=["gtin", "lot"], name="releaseitem_lot_idx"),
        ]

    def __str__(self) -> str:
        return self.target
