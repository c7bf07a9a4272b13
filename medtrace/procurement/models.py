"""Procurement: purchase orders, goods receipts, supplier material lots and incoming inspection.

- ``PurchaseOrder`` + ``PurchaseOrderLine``: what we ordered from a qualified supplier.
- ``GoodsReceipt`` + ``GoodsReceiptLine``: what arrived against a PO (per line: the supplier's lot
  or serials, expiry, quantity), with the supplier's certificate of conformity (CoC) attached as a
  ``lifecycle.Attachment`` (its SHA-256 is on the attachment row).
- ``MaterialLot``: the received stock production consumes. One row per supplier lot of a
  lot-tracked material, or one row per serial of a serial-tracked component. ``epc`` is its
  identifier in the ledger (the lot's class URN, or the serial's EPC). Quantities only grow
  through the services: accepted + rejected <= received, consumed <= accepted (database checks).
- ``IncomingInspection``: the result of incoming inspection of one MaterialLot (one per lot: a
  decision is final; a later finding is a nonconformance, not a new inspection).

Documents are never deleted: a PO is cancelled (status + reason), not removed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0")


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RELEASED = "released", _("Released")
    PARTIALLY_RECEIVED = "partially_received", _("Partially received")
    RECEIVED = "received", _("Received")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_PO_STATUSES = (
    PurchaseOrderStatus.DRAFT,
    PurchaseOrderStatus.RELEASED,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
)
RECEIVABLE_PO_STATUSES = (PurchaseOrderStatus.RELEASED, PurchaseOrderStatus.PARTIALLY_RECEIVED)


class PurchaseOrder(models.Model):
    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    supplier = models.ForeignKey(
        "masterdata.Party",
        on_delete=models.PROTECT,
        related_name="purchase_orders",
        verbose_name=_("supplier"),
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=PurchaseOrderStatus.choices,
        default=PurchaseOrderStatus.DRAFT,
    )
    expected_on = models.DateField(_("expected on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        ordering = ["-id"]
        default_permissions = ("add", "change", "view")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PurchaseOrderStatus.values), name="po_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="po_status_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_PO_STATUSES


class PurchaseOrderLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField(_("line"))
    material = models.ForeignKey(
        "masterdata.Material",
        on_delete=models.PROTECT,
        related_name="purchase_order_lines",
        verbose_name=_("material"),
    )
    quantity = models.DecimalField(_("quantity ordered"), max_digits=14, decimal_places=4)
    uom = models.CharField(_("unit of measure"), max_length=16)
    received_qty = models.DecimalField(
        _("quantity received"), default=ZERO, max_digits=14, decimal_places=4
    )

    class Meta:
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        ordering = ["order_id", "position"]
        default_permissions = ("add", "change", "view")
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="poline_order_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="poline_quantity_positive"),
            models.CheckConstraint(condition=Q(received_qty__gte=0), name="poline_received_gte0"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.position} {self.material_id} x {self.quantity}"

    @property
    def open_qty(self) -> Decimal:
        return max(self.quantity - self.received_qty, ZERO)


class GoodsReceipt(models.Model):
    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("PO")
    )
    supplier = models.ForeignKey(
        "masterdata.Party", on_delete=models.PROTECT, related_name="+", verbose_name=_("supplier")
    )
    location = models.ForeignKey(
        "masterdata.Location",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("incoming / quarantine location"),
    )
    delivery_note = models.CharField(_("supplier's delivery note"), max_length=64, blank=True)
    coc = models.ForeignKey(
        "lifecycle.Attachment",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("certificate of conformity"),
    )
    note = models.TextField(_("note"), blank=True)
    received_at = models.DateTimeField(_("received at"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("goods receipt")
        verbose_name_plural = _("goods receipts")
        ordering = ["-id"]
        default_permissions = ("add", "view")

    def __str__(self) -> str:
        return self.number


class GoodsReceiptLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    receipt = models.ForeignKey(GoodsReceipt, on_delete=models.PROTECT, related_name="lines")
    order_line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines"
    )
    lot = models.CharField(_("supplier lot"), max_length=64, blank=True)
    expires_on = models.DateField(_("expiry"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity received"), max_digits=14, decimal_places=4)
    over_receipt = models.BooleanField(_("over-receipt"), default=False)

    class Meta:
        verbose_name = _("goods receipt line")
        verbose_name_plural = _("goods receipt lines")
        ordering = ["receipt_id", "id"]
        default_permissions = ("add", "view")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="grline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id}: {self.lot or '-'} x {self.quantity}"


class MaterialLotStatus(models.TextChoices):
    AWAITING_INSPECTION = "awaiting_inspection", _("Awaiting inspection")
    ACCEPTED = "accepted", _("Accepted")
    PARTLY_ACCEPTED = "partly_accepted", _("Partly accepted")
    REJECTED = "rejected", _("Rejected")


class MaterialLot(models.Model):
    """One supplier lot (lot-tracked material) or one serial (serial-tracked component)."""

    id = models.BigAutoField(primary_key=True)
    material = models.ForeignKey(
        "masterdata.Material",
        on_delete=models.PROTECT,
        related_name="lots",
        verbose_name=_("material"),
    )
    supplier = models.ForeignKey(
        "masterdata.Party",
        on_delete=models.PROTECT,
        related_name="supplied_lots",
        verbose_name=_("supplier"),
    )
    receipt_line = models.ForeignKey(
        GoodsReceiptLine, on_delete=models.PROTECT, related_name="material_lots"
    )
    tracking = models.CharField(_("tracking mode"), max_length=8)
    identifier = models.CharField(
        _("lot or serial"),
        max_length=64,
        help_text=_("The supplier lot of a lot-tracked material, else the component serial."),
    )
    lot = models.CharField(_("supplier lot"), max_length=64, blank=True)
    epc = models.CharField(_("EPC"), max_length=512, unique=True)
    expires_on = models.DateField(_("expiry"), null=True, blank=True)
    uom = models.CharField(_("unit of measure"), max_length=16)
    received_qty = models.DecimalField(_("received"), max_digits=14, decimal_places=4)
    accepted_qty = models.DecimalField(_("accepted"), default=ZERO, max_digits=14, decimal_places=4)
    rejected_qty = models.DecimalField(_("rejected"), default=ZERO, max_digits=14, decimal_places=4)
    consumed_qty = models.DecimalField(_("consumed"), default=ZERO, max_digits=14, decimal_places=4)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=MaterialLotStatus.choices,
        default=MaterialLotStatus.AWAITING_INSPECTION,
    )
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("material lot")
        verbose_name_plural = _("material lots")
        ordering = ["-id"]
        default_permissions = ("view",)
        constraints = [
            # A serial is received once per material, and a supplier lot is one row.
            models.UniqueConstraint(
                fields=["material", "tracking", "identifier"], name="materiallot_identifier_uniq"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MaterialLotStatus.values), name="materiallot_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(received_qty__gt=0)
                & Q(accepted_qty__gte=0)
                & Q(rejected_qty__gte=0)
                & Q(consumed_qty__gte=0),
                name="materiallot_qty_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(accepted_qty__lte=F("received_qty") - F("rejected_qty")),
                name="materiallot_inspected_lte_received",
            ),
            models.CheckConstraint(
                condition=Q(consumed_qty__lte=F("accepted_qty")),
                name="materiallot_consumed_lte_accepted",
            ),
            models.CheckConstraint(
                condition=~Q(tracking="serial") | Q(received_qty=1),
                name="materiallot_serial_qty_one",
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="materiallot_status_idx"),
            models.Index(fields=["material", "status"], name="materiallot_material_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.material_id}/{self.identifier}"

    @property
    def available_qty(self) -> Decimal:
        return self.accepted_qty - self.consumed_qty


class IncomingInspection(models.Model):
    """The inspection decision on one MaterialLot. Serials of one receipt line inspected
    together share the inspection (report) number."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, db_index=True)
    material_lot = models.OneToOneField(
        MaterialLot, on_delete=models.PROTECT, related_name="inspection"
    )
    result = models.CharField(_("result"), max_length=20, choices=MaterialLotStatus.choices)
    accepted_qty = models.DecimalField(_("accepted"), max_digits=14, decimal_places=4)
    rejected_qty = models.DecimalField(_("rejected"), max_digits=14, decimal_places=4)
    note = models.TextField(_("findings"), blank=True)
    inspected_at = models.DateTimeField(_("inspected at"))
    inspected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("incoming inspection")
        verbose_name_plural = _("incoming inspections")
        ordering = ["-id"]
        default_permissions = ("add", "view")
        constraints = [
            models.CheckConstraint(
                condition=Q(accepted_qty__gte=0) & Q(rejected_qty__gte=0),
                name="iqc_qty_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class MaterialConsumption(models.Model):
    """One draw of accepted material by production (the reference names the work order/unit).

    ``MaterialLot.consumed_qty`` is the running sum of these rows; production's ledger events
    (TransformationEvent / AssociationEvent) say which unit the material went into.
    """

    id = models.BigAutoField(primary_key=True)
    material_lot = models.ForeignKey(
        MaterialLot, on_delete=models.PROTECT, related_name="consumptions"
    )
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    reference = models.CharField(_("reference"), max_length=128)
    consumed_at = models.DateTimeField(_("consumed at"))
    consumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("material consumption")
        verbose_name_plural = _("material consumptions")
        ordering = ["id"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="consumption_qty_positive"),
        ]
        indexes = [models.Index(fields=["reference"], name="consumption_reference_idx")]

    def __str__(self) -> str:
        return f"{self.material_lot_id} x {self.quantity} ({self.reference})"
