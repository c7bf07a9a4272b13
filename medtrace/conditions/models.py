"""Conditions (issue 5, item 7): temperature and humidity limits, readings and excursions.

- ``ConditionProfile``: a product's limits for one phase (production, storage, transport) or
  for all of them: temperature in °C and relative humidity in %RH, each bound optional. A
  product may have several profiles; every active one that applies is checked. They are part of
  the product's specification (label, IFU, GMP clean-room rules), so a change needs a reason.
- ``ConditionRecord``: one recording of readings (a scan station's post, or one target group of
  an imported logger file), the business document behind one EPCIS ObjectEvent whose
  ``sensorElementList`` carries the readings. The readings themselves live in the ledger event.
- ``Excursion``: a limit of a profile broken by the readings of one record: which limit, the
  worst reading and when, how many readings were outside, the units and lots it affects
  (``ExcursionTarget``) and the nonconformance it raised. Every reading outside one limit of
  one record is summarised in one row, so a logger file breaching 30 times is one excursion
  per broken limit, and one nonconformance per affected set of units, not 30.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Phase(models.TextChoices):
    PRODUCTION = "production", _("Production")
    STORAGE = "storage", _("Storage")
    TRANSPORT = "transport", _("Transport")


class ProfilePhase(models.TextChoices):
    ALL = "all", _("All phases")
    PRODUCTION = "production", _("Production")
    STORAGE = "storage", _("Storage")
    TRANSPORT = "transport", _("Transport")


class Measurement(models.TextChoices):
    TEMPERATURE = "temperature", _("Temperature")
    HUMIDITY = "humidity", _("Relative humidity")


class Bound(models.TextChoices):
    MIN = "min", _("below the minimum")
    MAX = "max", _("above the maximum")


class RecordSource(models.TextChoices):
    STATION = "station", _("Scan station")
    IMPORT = "import", _("Logger import")


TEMPERATURE_RANGE = (Decimal("-100"), Decimal("200"))
HUMIDITY_RANGE = (Decimal("0"), Decimal("100"))


class ConditionProfile(models.Model):
    """A product's temperature and humidity limits for a phase (or all phases)."""

    # The limits are part of the product's specification (label, IFU): changes need a reason.
    AUDIT_REASON_REQUIRED = True

    id = models.BigAutoField(primary_key=True)
    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="condition_profiles",
    )
    phase = models.CharField(_("phase"), max_length=12, choices=ProfilePhase.choices)
    temperature_min = models.DecimalField(
        _("minimum temperature (°C)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    temperature_max = models.DecimalField(
        _("maximum temperature (°C)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    humidity_min = models.DecimalField(
        _("minimum relative humidity (%RH)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    humidity_max = models.DecimalField(
        _("maximum relative humidity (%RH)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    basis = models.CharField(
        _("basis"),
        max_length=200,
        blank=True,
        help_text=_("Where the limits come from, e.g. the IFU section or the GMP clean-room rule."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("condition profile")
        verbose_name_plural = _("condition profiles")
        # Deactivated, never deleted: excursions refer to the limits they broke.
        default_permissions = ("add", "change", "view")
        indexes = [models.Index(fields=["product", "active"], name="condprofile_product_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(temperature_min__isnull=True)
                | Q(temperature_max__isnull=True)
                | Q(temperature_min__lte=models.F("temperature_max")),
                name="condprofile_temperature_order",
            ),
            models.CheckConstraint(
                condition=Q(humidity_min__isnull=True)
                | Q(humidity_max__isnull=True)
                | Q(humidity_min__lte=models.F("humidity_max")),
                name="condprofile_humidity_order",
            ),
            models.CheckConstraint(
                condition=(Q(humidity_min__isnull=True) | Q(humidity_min__gte=0))
                & (Q(humidity_max__isnull=True) | Q(humidity_max__lte=100)),
                name="condprofile_humidity_range",
            ),
            models.CheckConstraint(
                condition=Q(temperature_min__isnull=False)
                | Q(temperature_max__isnull=False)
                | Q(humidity_min__isnull=False)
                | Q(humidity_max__isnull=False),
                name="condprofile_has_a_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} · {self.get_phase_display()} · {self.limits_text()}"

    def limit(self, measurement: str, bound: str) -> Decimal | None:
        value: Decimal | None = getattr(self, f"{measurement}_{bound}")
        return value

    def limits_text(self) -> str:
        parts = [
            text
            for text in (
                range_text(self.temperature_min, self.temperature_max, "°C"),
                range_text(self.humidity_min, self.humidity_max, "%RH"),
            )
            if text
        ]
        return ", ".join(parts)


def number_text(value: Decimal | float | None) -> str:
    """A reading or limit as people write it: 8, 2.5, -20 (no trailing zeros)."""
    if value is None:
        return ""
    quantized = Decimal(str(value)).quantize(Decimal("0.01")).normalize()
    text = format(quantized, "f")
    return "0" if text in ("-0", "") else text


def range_text(low: Decimal | None, high: Decimal | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{number_text(low)}–{number_text(high)} {unit}"
    if low is not None:
        return f"≥ {number_text(low)} {unit}"
    if high is not None:
        return f"≤ {number_text(high)} {unit}"
    return ""


class ConditionRecord(models.Model):
    """One recording of readings: the document behind one sensor-reporting EPCIS event."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    source = models.CharField(_("source"), max_length=8, choices=RecordSource.choices)
    phase = models.CharField(_("phase"), max_length=12, choices=Phase.choices)
    device = models.CharField(
        _("station or logger"),
        max_length=200,
        blank=True,
        help_text=_("As given; the event's deviceID is its URI form."),
    )
    location = models.ForeignKey(
        "masterdata.Location",
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    targets = models.JSONField(
        _("targets"),
        default=list,
        help_text=_("The units, cases and lots as the event names them."),
    )
    unit_count = models.PositiveIntegerField(
        _("units and lots covered"), default=0, help_text=_("Cases and pallets counted by content.")
    )
    reading_count = models.PositiveIntegerField(_("readings"), default=0)
    first_reading_at = models.DateTimeField(_("first reading"))
    last_reading_at = models.DateTimeField(_("last reading"))
    event = models.ForeignKey(
        "ledger.Event", verbose_name=_("event"), on_delete=models.PROTECT, related_name="+"
    )
    attachment = models.ForeignKey(
        "lifecycle.Attachment",
        verbose_name=_("logger file"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("condition record")
        verbose_name_plural = _("condition records")
        # A recording is a fact: never changed or deleted (a wrong one is retracted in the ledger).
        default_permissions = ("add", "view")
        indexes = [models.Index(fields=["-recorded_at"], name="condrecord_recent_idx")]

    def __str__(self) -> str:
        return self.number


class Excursion(models.Model):
    """The readings of one record outside one limit of one profile."""

    id = models.BigAutoField(primary_key=True)
    record = models.ForeignKey(ConditionRecord, on_delete=models.PROTECT, related_name="excursions")
    event = models.ForeignKey("ledger.Event", on_delete=models.PROTECT, related_name="+")
    profile = models.ForeignKey(ConditionProfile, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("masterdata.Product", on_delete=models.PROTECT, related_name="+")
    measurement = models.CharField(_("measurement"), max_length=12, choices=Measurement.choices)
    bound = models.CharField(_("limit broken"), max_length=3, choices=Bound.choices)
    limit = models.DecimalField(_("limit"), max_digits=6, decimal_places=2)
    value = models.DecimalField(
        _("worst reading"), max_digits=8, decimal_places=3, help_text=_("°C or %RH")
    )
    at = models.DateTimeField(_("time of the worst reading"))
    first_at = models.DateTimeField(_("first reading outside"))
    last_at = models.DateTimeField(_("last reading outside"))
    readings = models.PositiveIntegerField(_("readings outside the limit"))
    location_label = models.CharField(_("location"), max_length=300, blank=True)
    nonconformance = models.CharField(_("nonconformance"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("excursion")
        verbose_name_plural = _("excursions")
        default_permissions = ("view",)
        indexes = [models.Index(fields=["event"], name="excursion_event_idx")]

    def __str__(self) -> str:
        return f"{self.record.number} {self.measurement} {self.bound} {self.limit}"

    @property
    def unit(self) -> str:
        return "°C" if self.measurement == Measurement.TEMPERATURE else "%RH"


class ExcursionTarget(models.Model):
    """A unit, lot or container an excursion affects (containers: the scanned cases whose
    contents it affects, so the case's own timeline shows it too)."""

    id = models.BigAutoField(primary_key=True)
    excursion = models.ForeignKey(Excursion, on_delete=models.PROTECT, related_name="targets")
    epc = models.CharField(max_length=512)
    container = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["epc", "excursion"], name="excursiontarget_epc_idx")]

    def __str__(self) -> str:
        return self.epc
