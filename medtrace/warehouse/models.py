"""Warehouse documents (issue 5, item 4): moves, containers (SSCC), pick lists, stock counts.

Where a unit is, what it is packed in and who holds it is the ledger's business (``UnitState``,
``GenealogyEdge``); these tables hold the *why*: the document a clerk worked on, its number,
who did it and when, and what was found. Documents are never deleted: a pick list is cancelled
or closed, a stock count is reconciled, with who and why.

- ``SsccCounter``: the next serial reference per (company prefix, extension digit), locked while
  an SSCC is taken, so two packing stations never get the same one.
- ``Container``: the register of every SSCC ever issued here (unique: never reused), with its
  level (case or pallet) and whether it is closed.
- ``StockMove`` + ``StockMoveItem``: a put-away or a move to one location.
- ``PickList`` + ``Pick``: pick a quantity of a product, first-expiry-first-out; a pick holds
  its unit (one active pick per unit, a database constraint) until the list is closed or
  cancelled.
- ``StockCount`` + ``StockCountScan`` + ``StockCountLine``: what was physically found at a
  location and its reconciliation with the ledger (matched, missing, unexpected).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SsccCounter(models.Model):
    """Next serial reference of the SSCCs of one company prefix and extension digit."""

    company_prefix = models.CharField(_("GS1 company prefix"), max_length=12)
    extension_digit = models.CharField(_("extension digit"), max_length=1)
    next_value = models.PositiveBigIntegerField(_("next serial reference"), default=1)

    class Meta:
        verbose_name = _("SSCC counter")
        verbose_name_plural = _("SSCC counters")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["company_prefix", "extension_digit"], name="ssccounter_prefix_ext_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"SSCC {self.extension_digit}{self.company_prefix}…: next {self.next_value}"


class ContainerLevel(models.TextChoices):
    CASE = "case", _("Case")
    PALLET = "pallet", _("Pallet")


class ContainerStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Container(models.Model):
    """One SSCC issued by us: never deleted, never reissued."""

    id = models.BigAutoField(primary_key=True)
    sscc = models.CharField(_("SSCC"), max_length=18, unique=True)
    epc = models.CharField(_("EPC"), max_length=100, unique=True)
    level = models.CharField(_("level"), max_length=8, choices=ContainerLevel.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=ContainerStatus.choices, default=ContainerStatus.OPEN
    )
    location = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("packed at"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("container")
        verbose_name_plural = _("containers")
        default_permissions = ("add", "change", "view")
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=ContainerLevel.values), name="container_level_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ContainerStatus.values), name="container_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} SSCC {self.sscc}"


class MoveKind(models.TextChoices):
    PUT_AWAY = "put_away", _("Put-away")
    MOVE = "move", _("Move")


class StockMove(models.Model):
    """Units and containers taken to one storage location (bizStep ``storing``)."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=MoveKind.choices)
    from_location = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_location = models.ForeignKey(
        "masterdata.Location", verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    event_id = models.CharField(_("ledger event"), max_length=512, blank=True)
    created_at = models.DateTimeField(_("moved at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        default_permissions = ("add", "view")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MoveKind.values), name="move_kind_valid")
        ]

    def __str__(self) -> str:
        return self.number


class StockMoveItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    move = models.ForeignKey(StockMove, on_delete=models.PROTECT, related_name="items")
    epc = models.CharField(_("EPC"), max_length=512)
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    product = models.ForeignKey(
        "masterdata.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_container = models.BooleanField(_("container"), default=False)
    from_sgln = models.CharField(_("from (SGLN)"), max_length=512, blank=True)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["epc"], name="moveitem_epc_idx")]

    def __str__(self) -> str:
        return f"{self.move_id}: {self.epc}"


class PickListStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PICKED = "picked", _("Picked")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class PickList(models.Model):
    """Pick ``quantity`` units of ``product`` (optionally from ``location``), FEFO."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    product = models.ForeignKey(
        "masterdata.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    location = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("pick from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    sales_order_ref = models.CharField(_("sales order"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=PickListStatus.choices, default=PickListStatus.OPEN
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(_("picked at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("closed or cancelled at"), null=True, blank=True)
    end_reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("pick list")
        verbose_name_plural = _("pick lists")
        default_permissions = ("add", "change", "view")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="picklist_quantity_pos"),
            models.CheckConstraint(
                condition=Q(status__in=PickListStatus.values), name="picklist_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Pick(models.Model):
    """One unit picked for a pick list; it stays reserved while ``active``."""

    id = models.BigAutoField(primary_key=True)
    pick_list = models.ForeignKey(PickList, on_delete=models.PROTECT, related_name="picks")
    epc = models.CharField(_("EPC"), max_length=512)
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    expiry = models.DateField(_("expiry"), null=True, blank=True)
    container = models.CharField(_("picked in container"), max_length=512, blank=True)
    fefo_better = models.CharField(
        _("earlier-expiring unit passed over"),
        max_length=512,
        blank=True,
        help_text=_("Set when FEFO was overridden: the unit FEFO would have picked."),
    )
    override_reason = models.TextField(_("FEFO override reason"), blank=True)
    active = models.BooleanField(_("reserved"), default=True)
    picked_at = models.DateTimeField(_("picked at"))
    picked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("pick")
        verbose_name_plural = _("picks")
        default_permissions = ("add", "view")
        constraints = [
            models.UniqueConstraint(fields=["pick_list", "epc"], name="pick_list_epc_uniq"),
            # A unit is picked for one list at a time, whatever the services did.
            models.UniqueConstraint(
                fields=["epc"], condition=Q(active=True), name="pick_one_active_per_unit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pick_list_id}: {self.serial or self.epc}"


class StockCountStatus(models.TextChoices):
    OPEN = "open", _("Counting")
    RECONCILED = "reconciled", _("Reconciled")


class StockCount(models.Model):
    """A physical count of one location, reconciled against the ledger."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    location = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("location"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=StockCountStatus.choices,
        default=StockCountStatus.OPEN,
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("started at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reconciled_at = models.DateTimeField(_("reconciled at"), null=True, blank=True)
    reconciled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    matched = models.PositiveIntegerField(_("matched"), default=0)
    missing = models.PositiveIntegerField(_("missing"), default=0)
    unexpected = models.PositiveIntegerField(_("unexpected"), default=0)

    class Meta:
        verbose_name = _("stock count")
        verbose_name_plural = _("stock counts")
        default_permissions = ("add", "change", "view")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=StockCountStatus.values), name="stockcount_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.number


class StockCountScan(models.Model):
    """One unit or container found at the counted location."""

    id = models.BigAutoField(primary_key=True)
    count = models.ForeignKey(StockCount, on_delete=models.PROTECT, related_name="scans")
    epc = models.CharField(_("EPC"), max_length=512)
    text = models.CharField(_("as scanned"), max_length=512)
    scanned_at = models.DateTimeField(_("scanned at"))
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["count", "epc"], name="countscan_count_epc_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.count_id}: {self.epc}"


class CountResult(models.TextChoices):
    MATCHED = "matched", _("Matched")
    MISSING = "missing", _("Missing")
    UNEXPECTED = "unexpected", _("Unexpected")


class StockCountLine(models.Model):
    """The reconciliation of one object, written when the count is reconciled."""

    id = models.BigAutoField(primary_key=True)
    count = models.ForeignKey(StockCount, on_delete=models.PROTECT, related_name="lines")
    epc = models.CharField(_("EPC"), max_length=512)
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    product = models.ForeignKey(
        "masterdata.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result = models.CharField(_("result"), max_length=12, choices=CountResult.choices)
    ledger_location = models.CharField(_("ledger location"), max_length=512, blank=True)
    ledger_where = models.CharField(_("where the ledger has it"), max_length=300, blank=True)
    container = models.CharField(_("container"), max_length=512, blank=True)
    observed = models.BooleanField(_("observation recorded"), default=False)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["count", "epc"], name="countline_count_epc_uniq"),
            models.CheckConstraint(
                condition=Q(result__in=CountResult.values), name="countline_result_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.count_id}: {self.serial or self.epc} {self.result}"
