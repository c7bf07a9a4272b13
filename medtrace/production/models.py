"""Production (issue 5, item 2): serial allocation here; work orders in ``models_orders``.

A product's ``SerialRule`` says how its serial numbers (GS1 AI 21) are built: a prefix, an
optional date part from the allocation date, and a zero-padded sequence. ``SerialCounter`` holds
the next sequence value per product and period, and is the row every allocation locks.
``AllocatedSerial`` is the register of every serial ever handed out: it is never updated or
deleted, and its (product, serial) constraint makes reuse impossible, whatever the rules did.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# GS1 AI 21 (serial number): X..20, characters of CSET 82.
SERIAL_MAX_LENGTH = 20
PREFIX_MAX_LENGTH = 16
WIDTH_MIN, WIDTH_MAX = 1, 12


class DatePart(models.TextChoices):
    NONE = "none", _("No date part")
    YYMMDD = "YYMMDD", _("Year, month and day (YYMMDD)")
    YYMM = "YYMM", _("Year and month (YYMM)")
    YYYY = "YYYY", _("Year (YYYY)")


class ResetPolicy(models.TextChoices):
    NEVER = "never", _("Never")
    PER_PERIOD = "per_period", _("With each new date part")


class SerialRule(models.Model):
    """How a product's serial numbers are built: prefix + date part + zero-padded sequence."""

    # Serials are printed on regulated labels (UDI-PI): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="serial_rules",
    )
    prefix = models.CharField(
        _("prefix"),
        max_length=PREFIX_MAX_LENGTH,
        blank=True,
        help_text=_("Fixed leading characters, from GS1 CSET 82 (the AI 21 character set)."),
    )
    date_part = models.CharField(
        _("date part"),
        max_length=8,
        choices=DatePart.choices,
        default=DatePart.NONE,
        help_text=_("Taken from the allocation date in the configured time zone."),
    )
    sequence_width = models.PositiveSmallIntegerField(
        _("sequence width"),
        validators=[MinValueValidator(WIDTH_MIN), MaxValueValidator(WIDTH_MAX)],
        help_text=_("Digits of the sequence, zero-padded."),
    )
    reset_policy = models.CharField(
        _("sequence reset"),
        max_length=12,
        choices=ResetPolicy.choices,
        default=ResetPolicy.NEVER,
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("serial rule")
        verbose_name_plural = _("serial rules")
        # Rules are changed (audited) or deactivated, never deleted: serials refer to them.
        default_permissions = ("add", "change", "view")
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(active=True), name="serialrule_one_active"
            ),
            models.CheckConstraint(
                condition=Q(date_part__in=DatePart.values), name="serialrule_date_part_valid"
            ),
            models.CheckConstraint(
                condition=Q(reset_policy__in=ResetPolicy.values),
                name="serialrule_reset_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(sequence_width__gte=WIDTH_MIN, sequence_width__lte=WIDTH_MAX),
                name="serialrule_width_range",
            ),
        ]

    def __str__(self) -> str:
        return f"serial rule of product {self.product_id}: {self.pattern}"

    @property
    def pattern(self) -> str:
        date = "" if self.date_part == DatePart.NONE else f"{{{self.date_part}}}"
        return f"{self.prefix}{date}{'9' * self.sequence_width}"


class SerialCounter(models.Model):
    """The next sequence value of a product in one period (``""`` when it never resets).

    Allocation locks this row (SELECT ... FOR UPDATE), so two stations allocating at once queue
    on it instead of reading the same value.
    """

    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    period_key = models.CharField(_("period"), max_length=16, blank=True)
    next_value = models.PositiveBigIntegerField(_("next value"), default=1)

    class Meta:
        verbose_name = _("serial counter")
        verbose_name_plural = _("serial counters")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["product", "period_key"], name="serialcounter_product_period_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"serial counter {self.product_id}/{self.period_key or '-'}: {self.next_value}"


class AllocatedSerial(models.Model):
    """One serial handed out for one product: never updated, never deleted, never reused."""

    # Few indexes: a 10,000-serial commissioning inserts 10,000 rows here, and each index
    # costs on every one. The (product, serial) unique index serves lookups by product.
    id = models.BigAutoField(primary_key=True)
    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="allocated_serials",
        db_index=False,
    )
    serial = models.CharField(_("serial number"), max_length=SERIAL_MAX_LENGTH)
    allocated_at = models.DateTimeField(_("allocated at"))
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("allocated by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    batch = models.UUIDField(_("allocation batch"))
    # Free text for allocations outside a work order (e.g. an external MES); allocations made
    # for one of our work orders also link it (and carry its number here).
    work_order_ref = models.CharField(_("work order reference"), max_length=64, blank=True)
    work_order = models.ForeignKey(
        "production.WorkOrder",
        verbose_name=_("work order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="allocated_serials",
    )

    class Meta:
        verbose_name = _("allocated serial")
        verbose_name_plural = _("allocated serials")
        default_permissions = ("add", "view")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "serial"], name="allocatedserial_product_serial_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"serial {self.serial} of product {self.product_id}"


from .models_orders import (  # noqa: E402  (the app's other models, registered with it)
    LOT_MAX_LENGTH,
    ComponentTracking,
    ProcessRecord,
    ProcessResult,
    UnitComponent,
    WorkOrder,
    WorkOrderCommissioning,
    WorkOrderStatus,
)

__all__ = [
    "LOT_MAX_LENGTH",
    "AllocatedSerial",
    "ComponentTracking",
    "DatePart",
    "ProcessRecord",
    "ProcessResult",
    "ResetPolicy",
    "SerialCounter",
    "SerialRule",
    "UnitComponent",
    "WorkOrder",
    "WorkOrderCommissioning",
    "WorkOrderStatus",
]
