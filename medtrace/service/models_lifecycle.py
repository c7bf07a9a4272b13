"""Use and service (issue 5 item 6): the installed base, maintenance, repair tickets and scrap.

Each row is the "why" of a ledger fact (DESIGN §4): an installation is an ``installing`` event at
a hospital department, a visit a ``maintaining`` / ``calibrating`` event, a part swap an
AssociationEvent DELETE + ADD, a scrap a ``decommissioning`` / ``destroyed`` event. The rows keep
the event they wrote (``event``), so a document and its facts point at each other.

Units are named by their EPC URN as the ledger spells it (``UnitState.epc``); serial and product
are copied for display and search. An installation may point at the unit's implant record (the
protected table, DESIGN §8); nothing of the patient is copied here or into any event.

Documents are never deleted: an installation ends as ``removed`` or ``scrapped``, a ticket as
``closed``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class InstallStatus(models.TextChoices):
    IN_USE = "in_use", _("in use")
    REMOVED = "removed", _("removed")
    SCRAPPED = "scrapped", _("scrapped")


class InstalledUnit(models.Model):
    """One unit installed at one hospital department (the installed base)."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    unit_epc = models.CharField(_("unit (EPC)"), max_length=512)
    serial = models.CharField(_("serial number"), max_length=64, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    hospital = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("hospital"),
        on_delete=models.PROTECT,
        related_name="installed_units",
    )
    department = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="installed_units",
    )
    installed_at = models.DateTimeField(_("installed at"))
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    engineer = models.CharField(
        _("engineer"),
        max_length=100,
        blank=True,
        help_text=_("Who installed the unit (printed name)."),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=InstallStatus.choices, default=InstallStatus.IN_USE
    )
    implant_record = models.ForeignKey(
        "service.ImplantRecord",
        verbose_name=_("implant record"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="installations",
        help_text=_("Only a link: no patient data is copied to the installation."),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    end_reason = models.CharField(_("reason for ending"), max_length=300, blank=True)
    event = models.ForeignKey(
        "ledger.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("installed unit")
        verbose_name_plural = _("installed base")
        default_permissions = ("add", "change", "view")
        ordering = ["-installed_at", "-id"]
        constraints = [
            # A unit is installed in one place at a time (a move ends the old installation).
            models.UniqueConstraint(
                fields=["unit_epc"],
                condition=Q(status="in_use"),
                name="installedunit_one_current_uniq",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["in_use", "removed", "scrapped"]),
                name="installedunit_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["unit_epc"], name="installedunit_unit_idx"),
            models.Index(fields=["hospital", "status"], name="installedunit_hosp_idx"),
            models.Index(fields=["product", "status"], name="installedunit_product_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.serial or self.unit_epc})"


class PlanKind(models.TextChoices):
    MAINTENANCE = "maintenance", _("maintenance")
    CALIBRATION = "calibration", _("calibration")


class MaintenancePlan(models.Model):
    """Preventive maintenance or calibration every ``interval_days`` for every installed unit
    of a product, or for one unit (``unit_epc``). ``items`` are the checklist / test items:
    ``[{"name": "flow rate", "unit": "mL/h", "min": 99.0, "max": 101.0}, ...]`` (limits
    optional: an item without limits is a check answered pass / fail)."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=PlanKind.choices)
    product = models.ForeignKey(
        "masterdata.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    unit_epc = models.CharField(
        _("unit (EPC)"),
        max_length=512,
        blank=True,
        help_text=_("Empty: the plan covers every installed unit of the product."),
    )
    interval_days = models.PositiveIntegerField(_("interval (days)"))
    items = models.JSONField(_("checklist and test items"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("maintenance plan")
        verbose_name_plural = _("maintenance plans")
        default_permissions = ("add", "change", "view")
        ordering = ["product_id", "kind", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_days__gte=1), name="maintenanceplan_interval_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["maintenance", "calibration"]),
                name="maintenanceplan_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class TestResult(models.TextChoices):
    PASS = "pass", _("pass")
    FAIL = "fail", _("fail")


class MaintenanceVisit(models.Model):
    """One maintenance or calibration visit to one unit under one plan."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    plan = models.ForeignKey(
        MaintenancePlan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="visits"
    )
    installation = models.ForeignKey(
        InstalledUnit,
        verbose_name=_("installation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="visits",
    )
    unit_epc = models.CharField(_("unit (EPC)"), max_length=512)
    serial = models.CharField(_("serial number"), max_length=64, blank=True)
    performed_at = models.DateTimeField(_("performed at"))
    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("engineer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    engineer_name = models.CharField(_("engineer"), max_length=150, blank=True)
    work_done = models.TextField(_("work done"))
    measurements = models.JSONField(_("test data"), default=list, blank=True)
    attachment = models.ForeignKey(
        "lifecycle.Attachment",
        verbose_name=_("test report"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    result = models.CharField(_("result"), max_length=4, choices=TestResult.choices)
    next_due = models.DateField(_("next due"))
    event = models.ForeignKey(
        "ledger.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("maintenance visit")
        verbose_name_plural = _("maintenance visits")
        # A visit is a record of what was done: corrected by a new visit, never edited.
        default_permissions = ("add", "view")
        ordering = ["-performed_at", "-id"]
        indexes = [
            models.Index(fields=["plan", "unit_epc", "performed_at"], name="visit_plan_unit_idx"),
            models.Index(fields=["unit_epc", "performed_at"], name="visit_unit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.serial or self.unit_epc})"


class TicketStatus(models.TextChoices):
    OPEN = "open", _("open")
    DIAGNOSED = "diagnosed", _("diagnosed")
    IN_REPAIR = "in_repair", _("in repair")
    TESTING = "testing", _("testing")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")


class ServiceTicket(models.Model):
    """A repair ticket: a fault reported on one unit, diagnosed, repaired (part swaps), tested
    before return, resolved and closed. ``time_to_resolve`` is opened -> resolved."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    unit_epc = models.CharField(_("unit (EPC)"), max_length=512)
    serial = models.CharField(_("serial number"), max_length=64, blank=True)
    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    installation = models.ForeignKey(
        InstalledUnit,
        verbose_name=_("installation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    reporter = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("reported by (party)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_tickets",
    )
    reporter_contact = models.CharField(_("contact"), max_length=150, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    symptom = models.TextField(_("symptom"))
    rma_reference = models.CharField(_("RMA reference"), max_length=64, blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    diagnosis = models.TextField(_("diagnosis"), blank=True)
    diagnosed_at = models.DateTimeField(_("diagnosed at"), null=True, blank=True)
    diagnosed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    test_measurements = models.JSONField(_("test data"), default=list, blank=True)
    test_attachment = models.ForeignKey(
        "lifecycle.Attachment",
        verbose_name=_("test report"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    test_result = models.CharField(
        _("test result"), max_length=4, choices=TestResult.choices, blank=True
    )
    tested_at = models.DateTimeField(_("tested at"), null=True, blank=True)
    tested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_note = models.CharField(_("closing note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("service ticket")
        verbose_name_plural = _("service tickets")
        default_permissions = ("add", "change", "view")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in TicketStatus]),
                name="serviceticket_status_valid",
            ),
            # Resolved means tested and passed (test data before return).
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(test_result="pass"),
                name="serviceticket_resolved_tested",
            ),
        ]
        indexes = [
            models.Index(fields=["unit_epc"], name="serviceticket_unit_idx"),
            models.Index(fields=["status", "opened_at"], name="serviceticket_status_idx"),
            models.Index(fields=["reporter", "status"], name="serviceticket_reporter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.serial or self.unit_epc})"

    @property
    def time_to_resolve(self) -> timedelta | None:
        if self.resolved_at is None:
            return None
        return self.resolved_at - self.opened_at


class PartSwap(models.Model):
    """One part taken out of the ticket's unit and one put in (AssociationEvent DELETE + ADD)."""

    id = models.BigAutoField(primary_key=True)
    ticket = models.ForeignKey(ServiceTicket, on_delete=models.PROTECT, related_name="swaps")
    removed_epc = models.CharField(_("removed part"), max_length=512)
    removed_serial = models.CharField(max_length=64, blank=True)
    installed_epc = models.CharField(_("installed part"), max_length=512)
    installed_serial = models.CharField(max_length=64, blank=True)
    swapped_at = models.DateTimeField(_("swapped at"))
    swapped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    remove_event = models.ForeignKey(
        "ledger.Event", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    add_event = models.ForeignKey(
        "ledger.Event", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        verbose_name = _("part swap")
        verbose_name_plural = _("part swaps")
        default_permissions = ()
        ordering = ["swapped_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket.number}: {self.removed_serial} -> {self.installed_serial}"


class ScrapMethod(models.TextChoices):
    DISMANTLED = "dismantled", _("dismantled, parts recycled")
    DESTROYED = "destroyed", _("destroyed on site")
    INCINERATED = "incinerated", _("incinerated (contaminated)")
    RETURNED = "returned", _("returned to the manufacturer for disposal")
    OTHER = "other", _("other")


class ScrapRecord(models.Model):
    """Scrap / decommissioning of one or more units, e-signed (meaning "approved")."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    reason = models.TextField(_("reason"))
    method = models.CharField(_("method"), max_length=12, choices=ScrapMethod.choices)
    scrapped_at = models.DateTimeField(_("scrapped at"))
    scrapped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    event = models.ForeignKey(
        "ledger.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("scrap record")
        verbose_name_plural = _("scrap records")
        default_permissions = ("add", "view")
        ordering = ["-scrapped_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(method__in=[m.value for m in ScrapMethod]),
                name="scraprecord_method_valid",
            )
        ]

    def __str__(self) -> str:
        return self.number

    def signature_content(self) -> dict[str, object]:
        return {
            "number": self.number,
            "reason": self.reason,
            "method": self.method,
            "scrapped_at": self.scrapped_at.isoformat(),
            "units": sorted(self.items.values_list("unit_epc", flat=True)),
        }


class ScrapItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    record = models.ForeignKey(ScrapRecord, on_delete=models.PROTECT, related_name="items")
    unit_epc = models.CharField(_("unit (EPC)"), max_length=512)
    serial = models.CharField(_("serial number"), max_length=64, blank=True)
    product = models.ForeignKey(
        "masterdata.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    installation = models.ForeignKey(
        InstalledUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        default_permissions = ()
        constraints = [
            # A unit is scrapped once (the state machine refuses a second scrap as well).
            models.UniqueConstraint(fields=["unit_epc"], name="scrapitem_unit_uniq")
        ]

    def __str__(self) -> str:
        return self.serial or self.unit_epc
