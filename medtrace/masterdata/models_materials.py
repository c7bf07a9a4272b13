"""Materials, their approved sources and bills of materials (split from ``models.py``)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import validators as v
from .models import Party, PartyRole, Product, TrackingMode


class MaterialKind(models.TextChoices):
    COMPONENT = "component", _("Component")
    RAW_MATERIAL = "raw_material", _("Raw material")
    SUBASSEMBLY = "subassembly", _("Sub-assembly")
    PACKAGING = "packaging", _("Packaging")


class Material(models.Model):
    """A purchased or made input: a component (often serialized) or a raw material (lot-tracked)."""

    code = models.CharField(_("part number"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=MaterialKind.choices)
    tracking = models.CharField(_("tracking mode"), max_length=8, choices=TrackingMode.choices)
    uom = models.CharField(
        _("unit of measure"),
        max_length=16,
        default="EA",
        help_text=_("UN/ECE Rec 20 code, e.g. EA, KGM, MTR, LTR."),
    )
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True, validators=[v.validate_gtin14])
    gcp_length = models.PositiveSmallIntegerField(
        _("GS1 company prefix length"), null=True, blank=True, validators=[v.validate_gcp_length]
    )
    critical = models.BooleanField(
        _("critical to quality"),
        default=False,
        help_text=_("Critical components need incoming inspection and per-unit genealogy."),
    )
    suppliers: models.ManyToManyField[Party, MaterialSupplier] = models.ManyToManyField(
        Party, through="MaterialSupplier", related_name="supplied_materials"
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Regulated records (DMR, registrations, approved suppliers): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    class Meta:
        verbose_name = _("material")
        verbose_name_plural = _("materials")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["gtin"], condition=~Q(gtin=""), name="material_gtin_unique"
            ),
            models.CheckConstraint(
                condition=Q(tracking__in=TrackingMode.values), name="material_tracking_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MaterialKind.values), name="material_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        if self.tracking == TrackingMode.SERIAL and self.uom != "EA":
            raise ValidationError({"uom": _("A serial-tracked material is counted in EA.")})
        if not re.fullmatch(r"[A-Z0-9]{2,3}", self.uom or ""):
            raise ValidationError({"uom": _("Unit of measure is a UN/ECE Rec 20 code like EA.")})


class MaterialSupplier(models.Model):
    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="sources")
    supplier = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="material_sources")
    supplier_part_no = models.CharField(_("supplier part number"), max_length=60, blank=True)
    approved = models.BooleanField(_("approved"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Regulated records (DMR, registrations, approved suppliers): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    class Meta:
        verbose_name = _("material source")
        verbose_name_plural = _("material sources")
        constraints = [
            models.UniqueConstraint(
                fields=["material", "supplier"], name="materialsupplier_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.material.code} <- {self.supplier.name}"

    def clean(self) -> None:
        if self.supplier_id and self.supplier.role not in (
            PartyRole.SUPPLIER,
            PartyRole.MANUFACTURER,
        ):
            raise ValidationError(
                {
                    "supplier": _("%(name)s is a %(role)s, not a supplier.")
                    % {"name": self.supplier.name, "role": self.supplier.get_role_display()}
                }
            )


class BomStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RELEASED = "released", _("Released")
    OBSOLETE = "obsolete", _("Obsolete")


class Bom(models.Model):
    """A versioned bill of materials. A released BOM is frozen: changes need a new version."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="boms")
    version = models.CharField(_("version"), max_length=20)
    status = models.CharField(
        _("status"), max_length=10, choices=BomStatus.choices, default=BomStatus.DRAFT
    )
    effective_from = models.DateField(_("effective from"), null=True, blank=True)
    note = models.TextField(_("change note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    # Regulated records (DMR, registrations, approved suppliers): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    class Meta:
        verbose_name = _("BOM")
        verbose_name_plural = _("BOMs")
        ordering = ["product_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="bom_product_version"),
            models.CheckConstraint(
                condition=Q(status__in=BomStatus.values), name="bom_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} BOM {self.version}"

    def signature_content(self) -> dict[str, object]:
        """What a BOM signature covers: the structure, not its lifecycle status."""
        return {
            "product_id": self.product_id,
            "version": self.version,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "note": self.note,
            "lines": [
                {"material_id": m, "quantity": str(q), "position": p}
                for m, q, p in self.lines.order_by("position", "id").values_list(
                    "material_id", "quantity", "position"
                )
            ],
        }


class BomLine(models.Model):
    bom = models.ForeignKey(Bom, on_delete=models.PROTECT, related_name="lines")
    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="bom_lines")
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=12,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    position = models.CharField(_("position / reference"), max_length=40, blank=True)

    # Regulated records (DMR, registrations, approved suppliers): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    class Meta:
        verbose_name = _("BOM line")
        verbose_name_plural = _("BOM lines")
        ordering = ["bom_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bom", "material"], name="bomline_unique_material"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="bomline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.material.code} x {self.quantity}"

    def clean(self) -> None:
        if (
            self.material_id
            and self.material.tracking == TrackingMode.SERIAL
            and self.quantity is not None
            and self.quantity != int(self.quantity)
        ):
            raise ValidationError(
                {
                    "quantity": _(
                        "%(code)s is serial-tracked: the quantity must be a whole number."
                    )
                    % {"code": self.material.code}
                }
            )
