"""Work orders, their commissioning runs, per-unit genealogy records and process records.

A ``WorkOrder`` makes ``quantity`` units of one product to one released BOM version on one
production line. Commissioning (one EPCIS ObjectEvent per run, ``WorkOrderCommissioning``)
brings its units into the ledger; the assembly station then records, per produced unit, exactly
the component lots and serials scanned for it (``UnitComponent``, one row per component, each
pointing at the EPCIS event that carries it). ``ProcessRecord`` holds the process parameters,
equipment and operator of a step, per unit or for the whole order. Together with the
inspections and the QC release they make the device history record (DHR, 21 CFR 820.184 /
医疗器械生产质量管理规范 第五十六条).

Documents are never deleted: a work order is cancelled (status, with a reason) or closed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# GS1 AI 10 (batch/lot): X..20.
LOT_MAX_LENGTH = 20


class WorkOrderStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    RELEASED = "released", _("Released to production")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class WorkOrder(models.Model):
    """An order to make ``quantity`` units of ``product`` to ``bom`` on ``line``."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="work_orders",
    )
    bom = models.ForeignKey(
        "masterdata.Bom", verbose_name=_("BOM"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    lot = models.CharField(
        _("lot"),
        max_length=LOT_MAX_LENGTH,
        blank=True,
        help_text=_("GS1 AI (10); required when the product's UDI-PI carries the lot."),
    )
    production_date = models.DateField(_("production date"), null=True, blank=True)
    expiry = models.DateField(_("expiry date"), null=True, blank=True)
    line = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("production line"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=WorkOrderStatus.choices,
        default=WorkOrderStatus.PLANNED,
    )
    planned_start = models.DateField(_("planned start"), null=True, blank=True)
    planned_end = models.DateField(_("planned end"), null=True, blank=True)
    notes = models.TextField(_("operator notes"), blank=True)
    commissioned_qty = models.PositiveIntegerField(_("commissioned"), default=0)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["-id"]
        default_permissions = ("add", "change", "view")
        permissions = [
            ("view_dhr", _("Can read device history records")),
            ("close_workorder", _("Can close a work order (e-signed DHR review)")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WorkOrderStatus.values), name="workorder_status_valid"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="workorder_quantity_min"),
            models.CheckConstraint(
                condition=Q(commissioned_qty__lte=F("quantity")),
                name="workorder_commissioned_max",
            ),
            # A lot number names one lot of a product, once (it is printed on the labels).
            models.UniqueConstraint(
                fields=["product", "lot"], condition=~Q(lot=""), name="workorder_product_lot"
            ),
        ]
        indexes = [models.Index(fields=["status", "product"], name="workorder_status_idx")]

    def __str__(self) -> str:
        return self.number

    def signature_content(self) -> dict[str, object]:
        """What closing signs: the order, what it made and from what (its DHR's substance)."""
        from medtrace.audit.services import snapshot

        data = snapshot(self)
        data["components"] = [
            [unit, code, epc, str(qty)]
            for unit, code, epc, qty in UnitComponent.objects.filter(work_order=self)
            .order_by("id")
            .values_list("unit", "material__code", "epc", "quantity")
        ]
        data["process_records"] = sorted(
            ProcessRecord.objects.filter(work_order=self).values_list("pk", flat=True)
        )
        return data

    @property
    def open(self) -> bool:
        return self.status in (WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS)


class WorkOrderCommissioning(models.Model):
    """One commissioning run: the units (or the lot quantity) one EPCIS event brought to life."""

    id = models.BigAutoField(primary_key=True)
    work_order = models.ForeignKey(
        WorkOrder,
        verbose_name=_("work order"),
        on_delete=models.PROTECT,
        related_name="commissionings",
    )
    event = models.ForeignKey(
        "ledger.Event", verbose_name=_("event"), on_delete=models.PROTECT, related_name="+"
    )
    count = models.PositiveIntegerField(_("count"))
    first_serial = models.CharField(_("first serial"), max_length=20, blank=True)
    last_serial = models.CharField(_("last serial"), max_length=20, blank=True)
    commissioned_at = models.DateTimeField(_("commissioned at"))
    commissioned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("commissioning")
        verbose_name_plural = _("commissionings")
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(count__gte=1), name="commissioning_count_min")
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id}: {self.count} commissioned"


class ComponentTracking(models.TextChoices):
    LOT = "lot", _("Lot")
    SERIAL = "serial", _("Serial number")


class UnitComponent(models.Model):
    """One component lot or serial scanned into one produced unit (never shared out).

    ``unit`` is the produced unit's EPC (or the lot class of a lot-tracked order); ``epc`` is
    the component's lot class URN or instance EPC as the ledger names it.
    """

    id = models.BigAutoField(primary_key=True)
    work_order = models.ForeignKey(
        WorkOrder, verbose_name=_("work order"), on_delete=models.PROTECT, related_name="components"
    )
    unit = models.CharField(_("unit"), max_length=512)
    unit_serial = models.CharField(_("unit serial or lot"), max_length=64, blank=True)
    material = models.ForeignKey(
        "masterdata.Material",
        verbose_name=_("material"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    bom_line = models.ForeignKey(
        "masterdata.BomLine", verbose_name=_("BOM line"), on_delete=models.PROTECT, related_name="+"
    )
    tracking = models.CharField(_("tracking"), max_length=8, choices=ComponentTracking.choices)
    identifier = models.CharField(
        _("lot or serial"), max_length=64, help_text=_("The component's lot or serial number.")
    )
    epc = models.CharField(_("component EPC"), max_length=512)
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=12,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    uom = models.CharField(_("unit of measure"), max_length=16, default="EA")
    supplier = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("supplier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source_work_order = models.ForeignKey(
        WorkOrder,
        verbose_name=_("made by work order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("For a sub-assembly made in-house: the order that made it."),
    )
    # The procurement MaterialLot consumed (procurement owns that table; kept as a reference).
    material_lot_ref = models.BigIntegerField(_("material lot"), null=True, blank=True)
    event = models.ForeignKey(
        "ledger.Event", verbose_name=_("event"), on_delete=models.PROTECT, related_name="+"
    )
    station = models.CharField(_("station"), max_length=64, blank=True)
    assembled_at = models.DateTimeField(_("assembled at"))
    assembled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("unit component")
        verbose_name_plural = _("unit components")
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="unitcomponent_qty_positive"),
            models.CheckConstraint(
                condition=Q(tracking__in=ComponentTracking.values),
                name="unitcomponent_tracking_valid",
            ),
            models.CheckConstraint(
                condition=~Q(tracking=ComponentTracking.SERIAL) | Q(quantity=1),
                name="unitcomponent_serial_qty_one",
            ),
        ]
        indexes = [
            models.Index(fields=["work_order", "unit"], name="unitcomponent_unit_idx"),
            models.Index(fields=["epc"], name="unitcomponent_epc_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} in {self.unit_serial or self.unit}"


class ProcessResult(models.TextChoices):
    NONE = "", _("Not judged")
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")


class ProcessRecord(models.Model):
    """A production step as it ran: station/equipment, operator, parameters with units."""

    id = models.BigAutoField(primary_key=True)
    work_order = models.ForeignKey(
        WorkOrder,
        verbose_name=_("work order"),
        on_delete=models.PROTECT,
        related_name="process_records",
    )
    unit = models.CharField(
        _("unit"), max_length=512, blank=True, help_text=_("Empty: the step applies to the order.")
    )
    unit_serial = models.CharField(_("unit serial"), max_length=64, blank=True)
    step = models.CharField(_("step"), max_length=100)
    station = models.CharField(_("station / equipment"), max_length=64, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    operator_name = models.CharField(_("operator name"), max_length=150, blank=True)
    parameters = models.JSONField(
        _("parameters"),
        default=list,
        help_text=_('A list of {"name", "value", "unit"}, e.g. torque 0.6 N·m.'),
    )
    result = models.CharField(
        _("result"), max_length=4, blank=True, choices=ProcessResult.choices, default=""
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("process record")
        verbose_name_plural = _("process records")
        default_permissions = ("add", "view")
        constraints = [
            models.CheckConstraint(
                condition=Q(result__in=ProcessResult.values), name="processrecord_result_valid"
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(finished_at__isnull=True)
                | Q(finished_at__gte=F("started_at")),
                name="processrecord_finished_after_start",
            ),
        ]
        indexes = [models.Index(fields=["work_order", "unit"], name="processrecord_unit_idx")]

    def __str__(self) -> str:
        return f"{self.step} ({self.unit_serial or self.work_order_id})"
