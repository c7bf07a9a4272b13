"""Complaints, adverse events and complaint signals (issue 6 items 1-3).

A complaint (ISO 13485 8.2.2; 21 CFR 820 QMSR by reference to ISO 13485; NMPA GMP) is received
from a person at the UI, from another system over the API, or from a hospital partner. It names
the device by its UDI in any form (the text as given is kept in ``udi_text``; what it resolved to
in ``unit_epc`` / ``lot_class`` / ``gtin`` / ``serial`` / ``lot`` / ``product``), is investigated
(``ComplaintInvestigation`` entries, linked to the unit's timeline and genealogy), gets a
reportability decision with its justification, may link to a CAPA (reference and/or a quality
nonconformance), and is closed with an e-signature (meaning "closed").

``received_at`` is the awareness time: the regulatory clocks of an adverse event run from it.

An adverse event (``AdverseEvent``) is the regulatory report of a reportable complaint. Its
deadlines (``AdverseEventDeadline``) are computed once, at creation, from the awareness time and
the jurisdictions, and stored: a later change of a calendar library cannot move a due date that
was already communicated. Each deadline records the submission to the regulator.

Signals: ``SignalRule`` says how many complaints against one lot, or against units made with
one supplier component lot, within how many days, raise an alert to QA; ``ComplaintSignal``
keeps the open signal per key so that a further complaint adds to it instead of alerting again.
``ComplaintComponentLot`` is the composition of the complained unit at intake (the component
lots of its backward trace), so counting complaints per component lot is one indexed query.

Complaints, adverse events and their deadlines are never deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ComplaintStatus(models.TextChoices):
    OPEN = "open", _("open")
    INVESTIGATING = "investigating", _("under investigation")
    DECIDED = "decided", _("reportability decided")
    CLOSED = "closed", _("closed")


class ComplaintChannel(models.TextChoices):
    UI = "ui", _("entered by staff")
    API = "api", _("received over the API")
    PARTNER = "partner", _("reported by a hospital")


class UdiResolution(models.TextChoices):
    NONE = "", _("no UDI yet")
    UNIT = "unit", _("one of our units")
    LOT = "lot", _("one of our lots")
    UNRESOLVED = "unresolved", _("valid UDI, not (yet) known in the ledger")


class Complaint(models.Model):
    """One complaint about a device: intake, investigation, reportability, CAPA, closure."""

    # Changes to a complaint are regulated: each one needs a reason in the audit trail.
    AUDIT_REASON_REQUIRED = True

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    status = models.CharField(
        _("status"), max_length=14, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN
    )
    channel = models.CharField(_("channel"), max_length=8, choices=ComplaintChannel.choices)
    received_at = models.DateTimeField(
        pgettext_lazy("complaint awareness time", "received at"),
        help_text=_("When we became aware of the complaint: the regulatory clocks start here."),
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    complainant_party = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("complainant"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
    )
    complainant_name = models.CharField(_("complainant name"), max_length=150, blank=True)
    complainant_contact = models.CharField(_("complainant contact"), max_length=150, blank=True)
    # The device, as given and as resolved.
    udi_text = models.CharField(_("UDI as given"), max_length=1000, blank=True)
    udi_resolution = models.CharField(
        _("UDI resolved to"),
        max_length=12,
        choices=UdiResolution.choices,
        blank=True,
        default=UdiResolution.NONE,
    )
    unit_epc = models.CharField(_("unit (EPC)"), max_length=512, blank=True)
    lot_class = models.CharField(_("lot (EPC class)"), max_length=512, blank=True)
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
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
    # What happened.
    event_date = models.DateField(_("event date"), null=True, blank=True)
    description = models.TextField(_("description"))
    injury = models.BooleanField(_("injury"), default=False)
    death = models.BooleanField(_("death"), default=False)
    # Investigation.
    investigation_summary = models.TextField(_("investigation summary"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    # Reportability decision (justified either way).
    reportable = models.BooleanField(_("reportable"), null=True, blank=True)
    reportability_justification = models.TextField(
        pgettext_lazy("complaint reportability decision", "justification"), blank=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # CAPA link.
    capa_reference = models.CharField(_("CAPA reference"), max_length=120, blank=True)
    nonconformance = models.ForeignKey(
        "quality.Nonconformance",
        verbose_name=_("nonconformance"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
    )
    # Closure (e-signed, meaning "closed").
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closure_summary = models.TextField(_("closure summary"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        default_permissions = ("add", "change", "view")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "investigating", "decided", "closed"]),
                name="complaint_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["ui", "api", "partner"]), name="complaint_channel_valid"
            ),
            # ISO 13485 8.2.2: a complaint is not closed before the reporting decision is made,
            # and it must say which device it is about.
            models.CheckConstraint(
                condition=Q(status__in=["open", "investigating"]) | Q(reportable__isnull=False),
                name="complaint_decided_has_decision",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | (~Q(udi_text="") & Q(closed_at__isnull=False)),
                name="complaint_closed_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["lot_class", "received_at"], name="complaint_lot_idx"),
            models.Index(fields=["unit_epc"], name="complaint_unit_idx"),
            models.Index(fields=["received_at"], name="complaint_received_idx"),
            models.Index(fields=["status", "received_at"], name="complaint_status_idx"),
            models.Index(fields=["complainant_party"], name="complaint_party_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_closed(self) -> bool:
        return self.status == ComplaintStatus.CLOSED


class ComplaintInvestigation(models.Model):
    """One investigation entry: what was done and what was found."""

    id = models.BigAutoField(primary_key=True)
    complaint = models.ForeignKey(
        Complaint, on_delete=models.PROTECT, related_name="investigations"
    )
    entry = models.TextField(_("entry"))
    findings = models.TextField(pgettext_lazy("complaint investigation", "findings"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("investigation entry")
        verbose_name_plural = _("investigation entries")
        default_permissions = ("view",)
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"{self.complaint_id}: {self.entry[:60]}"


class ComplaintComponentLot(models.Model):
    """A component lot (EPC class) the complained unit was made with, from its backward trace
    at intake: the evidence base of the component-lot signal."""

    id = models.BigAutoField(primary_key=True)
    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="components")
    epc_class = models.CharField(_("component lot (EPC class)"), max_length=512)

    class Meta:
        verbose_name = _("component lot of a complained unit")
        verbose_name_plural = _("component lots of complained units")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "epc_class"], name="complaintcomponent_uniq"
            )
        ]
        indexes = [models.Index(fields=["epc_class"], name="complaintcomponent_class_idx")]

    def __str__(self) -> str:
        return self.epc_class


# Adverse events ----------------------------------------------------------------------------------


class Severity(models.TextChoices):
    DEATH = "death", _("death")
    SERIOUS_INJURY = "serious_injury", _("serious injury")
    MALFUNCTION = "malfunction", _("malfunction")
    OTHER = "other", _("other")


class AdverseEventStatus(models.TextChoices):
    OPEN = "open", _("open")
    REPORTED = "reported", _("reported")
    CLOSED = "closed", _("closed")


class Jurisdiction(models.TextChoices):
    CN = "CN", _("China (NMPA)")
    US = "US", _("United States (FDA)")
    EU = "EU", _("European Union (MDR)")


class AdverseEvent(models.Model):
    """The regulatory report of a reportable complaint (中国: 医疗器械不良事件; FDA: MDR;
    EU: vigilance), with a due date per applicable jurisdiction."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    complaint = models.OneToOneField(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.PROTECT,
        related_name="adverse_event",
    )
    awareness_at = models.DateTimeField(
        _("awareness time"), help_text=_("The clocks run from here (the complaint's receipt).")
    )
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    group_event = models.BooleanField(_("group event (群体不良事件)"), default=False)
    public_health_threat = models.BooleanField(_("serious public health threat"), default=False)
    five_day = models.BooleanField(
        _("5-day report (FDA: remedial action to prevent serious harm)"), default=False
    )
    jurisdictions = models.JSONField(_("jurisdictions"), default=list)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=AdverseEventStatus.choices,
        default=AdverseEventStatus.OPEN,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("adverse event")
        verbose_name_plural = _("adverse events")
        default_permissions = ("add", "change", "view")
        ordering = ["-awareness_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(severity__in=["death", "serious_injury", "malfunction", "other"]),
                name="adverseevent_severity_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "reported", "closed"]),
                name="adverseevent_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class AdverseEventDeadline(models.Model):
    """One regulatory due date of an adverse event, frozen at creation, and its submission."""

    id = models.BigAutoField(primary_key=True)
    adverse_event = models.ForeignKey(
        AdverseEvent, on_delete=models.PROTECT, related_name="deadlines"
    )
    jurisdiction = models.CharField(_("jurisdiction"), max_length=4, choices=Jurisdiction.choices)
    key = models.CharField(_("key"), max_length=64)
    label = models.CharField(_("deadline"), max_length=200)
    basis = models.CharField(_("basis"), max_length=300, blank=True)
    due_at = models.DateTimeField(_("due at"))
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reference = models.CharField(_("regulator reference"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("adverse event deadline")
        verbose_name_plural = _("adverse event deadlines")
        default_permissions = ("view",)
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["adverse_event", "key"], name="aedeadline_key_uniq"),
            models.CheckConstraint(
                condition=Q(reported_at__isnull=True) | ~Q(reference=""),
                name="aedeadline_report_has_reference",
            ),
        ]
        indexes = [models.Index(fields=["reported_at", "due_at"], name="aedeadline_due_idx")]

    def __str__(self) -> str:
        return f"{self.adverse_event_id} {self.key}"


# Signals -----------------------------------------------------------------------------------------


class SignalDimension(models.TextChoices):
    LOT = "lot", _("lot of the complained device")
    COMPONENT_LOT = "component_lot", _("supplier component lot")


class SignalRule(models.Model):
    """``threshold`` complaints within ``window_days`` against one key of ``dimension`` raise
    a complaint signal to QA."""

    id = models.BigAutoField(primary_key=True)
    dimension = models.CharField(_("dimension"), max_length=16, choices=SignalDimension.choices)
    threshold = models.PositiveIntegerField(_("threshold (complaints)"))
    window_days = models.PositiveIntegerField(_("window (days)"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("signal rule")
        verbose_name_plural = _("signal rules")
        default_permissions = ("add", "change", "view")
        ordering = ["dimension", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dimension__in=["lot", "component_lot"]), name="signalrule_dim_valid"
            ),
            # One complaint is a complaint, two against the same lot are a pattern.
            models.CheckConstraint(condition=Q(threshold__gte=2), name="signalrule_threshold_min"),
            models.CheckConstraint(
                condition=Q(window_days__gte=1, window_days__lte=3650),
                name="signalrule_window_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dimension}: {self.threshold} / {self.window_days} d"


class SignalStatus(models.TextChoices):
    OPEN = "open", _("open")
    CLOSED = "closed", _("closed")


class ComplaintSignal(models.Model):
    """An open (or past) complaint signal for one lot or component lot, with its alert."""

    id = models.BigAutoField(primary_key=True)
    dimension = models.CharField(_("dimension"), max_length=16, choices=SignalDimension.choices)
    key = models.CharField(_("lot (EPC class)"), max_length=512)
    rule = models.ForeignKey(
        SignalRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="signals"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=SignalStatus.choices, default=SignalStatus.OPEN
    )
    complaints = models.ManyToManyField(Complaint, related_name="signals")
    alert = models.ForeignKey(
        "alerts.Alert", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evidence = models.JSONField(_("evidence"), default=dict)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("complaint signal")
        verbose_name_plural = _("complaint signals")
        default_permissions = ("view",)
        ordering = ["-last_seen", "-id"]
        constraints = [
            # At most one open signal per key: a further complaint joins it, no second alert.
            models.UniqueConstraint(
                fields=["dimension", "key"],
                condition=Q(status="open"),
                name="complaintsignal_one_open_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dimension} {self.key}"
