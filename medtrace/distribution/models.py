"""Distribution: sales orders, shipments with partner receipt, and returns (RMA).

- ``SalesOrder`` (+ ``SalesOrderLine``): what a distributor or hospital ordered. Confirming it
  checks the customer's licence (NMPA: a device may only be sold to a licensed distributor or a
  licensed medical institution, 医疗器械经营监督管理办法 / 医疗器械使用质量监督管理办法).
- ``Shipment`` (+ ``ShipmentItem``): the units and SSCCs that left with one despatch note. The
  document keeps a snapshot of the consignee as it was on the day (name, address, licence
  number, ship-to), so a later master-data change does not rewrite history.
- ``ShipmentReceipt``: one receipt by the partner (UI, API or EPCIS), what it named, and the
  discrepancies it left.
- ``ReturnAuthorization`` (+ ``ReturnItem``): goods a customer may send back; receiving them
  puts them into quarantine.

Documents are never deleted: a cancellation is a status with a reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SalesOrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    CONFIRMED = "confirmed", _("Confirmed")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class SalesOrder(models.Model):
    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    customer = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="sales_orders",
    )
    ship_to = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("ship to"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    customer_po = models.CharField(
        _("customer PO"),
        max_length=64,
        blank=True,
        help_text=_("The customer's purchase order number, if they gave one."),
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=SalesOrderStatus.choices,
        default=SalesOrderStatus.DRAFT,
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    licence_number = models.CharField(
        _("licence checked"),
        max_length=64,
        blank=True,
        help_text=_("The customer's licence number found valid when the order was confirmed."),
    )
    closed_reason = models.TextField(_("reason for closing or cancelling"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sales order")
        verbose_name_plural = _("sales orders")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SalesOrderStatus.values), name="salesorder_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def open(self) -> bool:
        return self.status in (SalesOrderStatus.CONFIRMED, SalesOrderStatus.PARTIALLY_SHIPPED)


class SalesOrderLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(SalesOrder, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey(
        "masterdata.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("sales order line")
        verbose_name_plural = _("sales order lines")
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "product"], name="salesorderline_product_uniq"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="salesorderline_qty_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.product_id} x {self.quantity}"


class ShipmentStatus(models.TextChoices):
    IN_TRANSIT = "in_transit", _("In transit")
    RECEIVED = "received", _("Received")
    RECEIVED_WITH_DISCREPANCIES = "received_with_discrepancies", _("Received with discrepancies")


class Shipment(models.Model):
    """The goods that left for one consignee under one despatch note (CBV desadv)."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    sales_order = models.ForeignKey(
        SalesOrder,
        verbose_name=_("sales order"),
        on_delete=models.PROTECT,
        related_name="shipments",
    )
    consignee = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("consignee"),
        on_delete=models.PROTECT,
        related_name="shipments_received",
    )
    ship_to = models.ForeignKey(
        "masterdata.Location", verbose_name=_("ship to"), on_delete=models.PROTECT, related_name="+"
    )
    ship_from = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("shipped from"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"),
        max_length=32,
        choices=ShipmentStatus.choices,
        default=ShipmentStatus.IN_TRANSIT,
    )
    # The consignee as it was when the goods left (GSP: the despatch record names the buyer's
    # licence; later master-data edits must not rewrite it).
    consignee_name = models.CharField(_("consignee name"), max_length=200)
    consignee_address = models.CharField(_("consignee address"), max_length=400, blank=True)
    consignee_licence_kind = models.CharField(_("licence type"), max_length=40)
    consignee_licence_number = models.CharField(_("licence number"), max_length=64)
    consignee_licence_expires_on = models.DateField(_("licence expires on"), null=True, blank=True)
    ship_to_name = models.CharField(_("ship-to name"), max_length=200)
    ship_to_address = models.CharField(_("ship-to address"), max_length=300, blank=True)
    ship_to_sgln = models.CharField(_("ship-to SGLN"), max_length=100)
    customer_po = models.CharField(_("customer PO"), max_length=64, blank=True)
    unit_count = models.PositiveIntegerField(_("units"), default=0)
    note = models.TextField(_("note"), blank=True)
    shipped_at = models.DateTimeField(_("shipped at"))
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event_id = models.CharField(_("shipping event"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    missing = models.JSONField(
        _("missing"), default=list, blank=True, help_text=_("Shipped, not (yet) received.")
    )
    extra = models.JSONField(
        _("extra"),
        default=list,
        blank=True,
        help_text=_("Received against this shipment but not on it."),
    )

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-id"]
        permissions = [("receive_shipment", "Record a customer's receipt of a shipment")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def discrepant(self) -> bool:
        return self.status == ShipmentStatus.RECEIVED_WITH_DISCREPANCIES


class ShipmentItem(models.Model):
    """One object on a shipment: a scanned unit or SSCC, or something packed inside one."""

    id = models.BigAutoField(primary_key=True)
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="items")
    epc = models.CharField(_("EPC"), max_length=512)
    scanned = models.BooleanField(
        _("scanned"), default=True, help_text=_("Scanned at shipping (else packed inside one).")
    )
    container = models.CharField(_("packed in"), max_length=512, blank=True)
    product = models.ForeignKey(
        "masterdata.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    expiry = models.DateField(_("expiry"), null=True, blank=True)
    is_container = models.BooleanField(_("container"), default=False)
    receipt = models.ForeignKey(
        "ShipmentReceipt", null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )

    class Meta:
        ordering = ["shipment_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "epc"], name="shipmentitem_epc_uniq")
        ]
        indexes = [models.Index(fields=["epc"], name="shipmentitem_epc_idx")]

    def __str__(self) -> str:
        return self.epc

    @property
    def received(self) -> bool:
        return self.receipt_id is not None

    @property
    def udi(self) -> str:
        """The human-readable UDI (dates YYYY-MM-DD), or the SSCC; the EPC if neither."""
        from medtrace.lib import udi
        from medtrace.lib.udi.dates import yymmdd

        try:
            if self.gtin and self.serial:
                elements = [("01", self.gtin)]
                if self.expiry:
                    elements.append(("17", yymmdd(self.expiry)))
                if self.lot:
                    elements.append(("10", self.lot))
                elements.append(("21", self.serial))
                return udi.Identity.from_elements(tuple(elements)).hri()
            return udi.parse(self.epc).hri()
        except (udi.UdiError, ValueError):
            return self.epc


class ReceiptChannel(models.TextChoices):
    UI = "ui", _("Partner page")
    API = "api", _("API")
    EPCIS = "epcis", _("EPCIS capture")


class ShipmentReceipt(models.Model):
    """One confirmation of receipt (CBV recadv) against a shipment."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="receipts")
    channel = models.CharField(_("recorded through"), max_length=8, choices=ReceiptChannel.choices)
    received_at = models.DateTimeField(_("received at"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event_id = models.CharField(_("receiving event"), max_length=255, blank=True)
    epcs = models.JSONField(_("received"), default=list)
    missing = models.JSONField(_("missing"), default=list, blank=True)
    extra = models.JSONField(_("extra"), default=list, blank=True)

    class Meta:
        verbose_name = _("shipment receipt")
        verbose_name_plural = _("shipment receipts")
        ordering = ["shipment_id", "id"]

    def __str__(self) -> str:
        return self.number


class ReturnStatus(models.TextChoices):
    AUTHORISED = "authorised", _("Authorised")
    RECEIVED = "received", _("Received")
    CLOSED = "closed", _("Closed")


class ReturnAuthorization(models.Model):
    """A return merchandise authorisation (RMA, CBV bizTransaction type rma)."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    customer = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="returns",
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=12, choices=ReturnStatus.choices, default=ReturnStatus.AUTHORISED
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_into = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("received into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    event_id = models.CharField(_("receiving event"), max_length=255, blank=True)
    holds = models.JSONField(_("quarantine holds"), default=list, blank=True)
    closed_reason = models.TextField(_("closing note"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("return authorisation")
        verbose_name_plural = _("return authorisations")
        ordering = ["-id"]
        permissions = [("receive_returnauthorization", "Receive returned goods into quarantine")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReturnStatus.values), name="rma_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.number


class ReturnItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    rma = models.ForeignKey(ReturnAuthorization, on_delete=models.PROTECT, related_name="items")
    epc = models.CharField(_("EPC"), max_length=512)
    product = models.ForeignKey(
        "masterdata.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    received = models.BooleanField(_("received"), default=False)

    class Meta:
        ordering = ["rma_id", "id"]
        constraints = [models.UniqueConstraint(fields=["rma", "epc"], name="returnitem_epc_uniq")]
        indexes = [models.Index(fields=["epc"], name="returnitem_epc_idx")]

    def __str__(self) -> str:
        return self.epc
