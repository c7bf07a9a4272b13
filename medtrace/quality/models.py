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


# Inspection plans and results -------------------------------------------------------------------


class InspectionKind(models.TextChoices):
    INCOMING = "incoming", _("Incoming")
    IN_PROCESS = "in_process", _("In-process")
    FINAL = "final", _("Final")


class Sampling(models.TextChoices):
    ALL = "all", _("100 %")
    FIXED = "fixed", _("Fixed sample size")
    PERCENT = "percent", _("Percentage of the lot")


class InspectionPlan(models.Model):
    """What to check on a product or a material, how, and how many of a lot (DESIGN §3).

    A plan is a regulated record: every change is audited with a reason. Changing its
    characteristics or sampling raises ``version``; each result keeps the version and the limits
    it was judged against, so old results stay true after the plan changes.
    """

    AUDIT_REASON_REQUIRED = True

    id = models.BigAutoField(primary_key=True)
    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    version = models.PositiveIntegerField(_("version"), default=1)
    kind = models.CharField(_("kind"), max_length=12, choices=InspectionKind.choices)
    product = models.ForeignKey(
        "masterdata.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("product"),
    )
    material = models.ForeignKey(
        "masterdata.Material",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("material"),
    )
    sampling = models.CharField(
        _("sampling"), max_length=8, choices=Sampling.choices, default=Sampling.ALL
    )
    sample_size = models.PositiveIntegerField(_("sample size"), null=True, blank=True)
    sample_percent = models.DecimalField(
        _("sample percentage"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("inspection plan")
        verbose_name_plural = _("inspection plans")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(product__isnull=False, material__isnull=True)
                    | models.Q(product__isnull=True, material__isnull=False)
                ),
                name="inspectionplan_product_xor_material",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(sampling="all")
                    | models.Q(sampling="fixed", sample_size__gte=1)
                    | models.Q(sampling="percent", sample_percent__gt=0, sample_percent__lte=100)
                ),
                name="inspectionplan_sampling_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} {self.name}"


class CharacteristicType(models.TextChoices):
    MEASURED = "measured", _("Measured (a value against limits)")
    ATTRIBUTE = "attribute", _("Attribute (conforms or not)")


class InspectionCharacteristic(models.Model):
    id = models.BigAutoField(primary_key=True)
    plan = models.ForeignKey(
        InspectionPlan, on_delete=models.CASCADE, related_name="characteristics"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("characteristic"), max_length=120)
    type = models.CharField(
        _("type"), max_length=10, choices=CharacteristicType.choices, default="measured"
    )
    nominal = models.DecimalField(
        _("nominal"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    lower = models.DecimalField(
        _("lower limit"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    upper = models.DecimalField(
        _("upper limit"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    required = models.BooleanField(_("required"), default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="inspectionchar_plan_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class InspectionOutcome(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")


class InspectionResult(models.Model):
    """One inspection of one unit (``target`` = its EPC) or one lot (its class URN), judged
    automatically against the plan's limits; the measured values are its measurements."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    plan = models.ForeignKey(
        InspectionPlan, on_delete=models.PROTECT, related_name="results", verbose_name=_("plan")
    )
    plan_version = models.PositiveIntegerField(_("plan version"))
    kind = models.CharField(_("kind"), max_length=12, choices=InspectionKind.choices)
    target = models.CharField(_("inspected object"), max_length=512)
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    lot_size = models.PositiveIntegerField(_("lot size"), null=True, blank=True)
    samples = models.PositiveIntegerField(_("samples inspected"), default=1)
    result = models.CharField(_("result"), max_length=4, choices=InspectionOutcome.choices)
    inspected_at = models.DateTimeField(_("inspected at"))
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("inspection result")
        verbose_name_plural = _("inspection results")
        indexes = [
            models.Index(fields=["target", "inspected_at"], name="inspresult_target_idx"),
            models.Index(fields=["gtin", "lot"], name="inspresult_lot_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.target} {self.result}"

    @property
    def is_lot(self) -> bool:
        return self.target.startswith(
            ("urn:epc:class:", "urn:medtrace:lot:", "urn:medtrace:hibc-lot:")
        )

    def signature_content(self) -> dict[str, object]:
        return {
            "number": self.number,
            "plan": self.plan_id,
            "plan_version": self.plan_version,
            "target": self.target,
            "result": self.result,
            "inspected_at": self.inspected_at.isoformat(),
            "note": self.note,
            "measurements": [
                [m.sample, m.characteristic, str(m.value), m.conforms, m.passed]
                # .all() + sort in Python: a prefetched list is used as it is (set-based reads)
                for m in sorted(self.measurements.all(), key=lambda m: (m.sample, m.position, m.pk))
            ],
        }


class Measurement(models.Model):
    """One value of one characteristic on one sample; the limits are copied from the plan at
    inspection time (the judgement must stay reproducible after the plan changes)."""

    id = models.BigAutoField(primary_key=True)
    result = models.ForeignKey(
        InspectionResult, on_delete=models.PROTECT, related_name="measurements"
    )
    sample = models.CharField(_("sample"), max_length=64, default="1")
    position = models.PositiveIntegerField(default=0)
    characteristic = models.CharField(_("characteristic"), max_length=120)
    type = models.CharField(_("type"), max_length=10, choices=CharacteristicType.choices)
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=6, null=True, blank=True)
    conforms = models.BooleanField(_("conforms (attribute)"), null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    nominal = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    lower = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    upper = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    passed = models.BooleanField(_("passed"))

    class Meta:
        ordering = ["sample", "position", "id"]

    def __str__(self) -> str:
        return f"{self.characteristic}={self.value if self.value is not None else self.conforms}"


# Nonconformance -------------------------------------------------------------------------------


class NcCategory(models.TextChoices):
    PRODUCT = "product", _("Product")
    MATERIAL = "material", _("Purchased material")
    PROCESS = "process", _("Process")
    ENVIRONMENT = "environment", _("Environment (temperature, humidity)")
    OTHER = "other", _("Other")


class NcStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DISPOSITIONED = "dispositioned", _("Dispositioned")
    CLOSED = "closed", _("Closed")


class NcDisposition(models.TextChoices):
    REWORK = "rework", _("Rework")
    SCRAP = "scrap", _("Scrap")
    USE_AS_IS = "use_as_is", _("Use as is (concession)")
    RETURN_TO_SUPPLIER = "return_to_supplier", _("Return to supplier")


class Nonconformance(models.Model):
    """A nonconformance record (不合格品): what is wrong with which units or lots, the
    e-signed disposition (DESIGN §8) and its closure. Never deleted."""

    AUDIT_REASON_REQUIRED = True

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    category = models.CharField(
        _("category"), max_length=12, choices=NcCategory.choices, default=NcCategory.PRODUCT
    )
    source = models.CharField(
        _("source"),
        max_length=120,
        blank=True,
        help_text=_("What found it, e.g. an inspection result number or a condition excursion."),
    )
    inspection = models.ForeignKey(
        InspectionResult,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="nonconformances",
        verbose_name=_("failed inspection"),
    )
    status = models.CharField(
        _("status"), max_length=14, choices=NcStatus.choices, default=NcStatus.OPEN
    )
    opened_at = models.DateTimeField(_("opened at"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disposition = models.CharField(
        _("disposition"), max_length=20, choices=NcDisposition.choices, blank=True
    )
    disposition_reason = models.TextField(_("justification"), blank=True)
    supplier = models.ForeignKey(
        "masterdata.Party",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("supplier to return to"),
    )
    dispositioned_at = models.DateTimeField(_("dispositioned at"), null=True, blank=True)
    dispositioned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_note = models.TextField(_("closing note"), blank=True)

    class Meta:
        verbose_name = _("nonconformance")
        verbose_name_plural = _("nonconformances")
        permissions = [
            ("approve_concession", "Can approve a use-as-is concession"),
        ]
        indexes = [models.Index(fields=["status"], name="nc_status_idx")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def signature_content(self) -> dict[str, object]:
        # The disposition decision is what is signed; closing the record later must not
        # invalidate the disposition signature, so status and closure fields stay out.
        return {
            "number": self.number,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "targets": sorted(self.items.values_list("target", flat=True)),
            "disposition": self.disposition,
            "disposition_reason": self.disposition_reason,
            "supplier": self.supplier_id,
        }


class NonconformanceItem(models.Model):
    """One unit (EPC) or lot (class URN, with gtin + lot) a nonconformance covers."""

    id = models.BigAutoField(primary_key=True)
    nonconformance = models.ForeignKey(
        Nonconformance, on_delete=models.PROTECT, related_name="items"
    )
    target = models.CharField(_("object"), max_length=512)
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["target"], name="ncitem_target_idx"),
            models.Index(fields=["gtin", "lot"], name="ncitem_lot_idx"),
        ]

    def __str__(self) -> str:
        return self.target
