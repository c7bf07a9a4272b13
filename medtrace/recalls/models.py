"""Recall campaigns (医疗器械召回管理办法, 21 CFR 7 and 806, EU MDR Art. 89 FSCA).

A ``RecallCampaign`` names what is recalled (its scope: a lot, a set of serials, a supplier
component lot, a product over a production period, or a work order) and why. Opening it runs the
forward trace once per start object and freezes the result as ``AffectedUnit`` rows: the list
the regulator sees stays the list the campaign worked on, however the units move afterwards (a
recompute shows the difference without changing it; an extension adds units explicitly, audited).

Every affected unit still in our hands is put on a recall hold as the campaign opens; a unit held
by a distributor or hospital is reached by a ``RecallNotice`` to that consignee, who acknowledges
it and reports what became of each unit (returned, corrected, destroyed, not found, used). The
classification (CN 一级/二级/三级, FDA class I-III, EU FSCA), its health hazard evaluation and the
approval are e-signed; the approval is the recall decision, from which the regulatory clocks run
(``deadlines``). Effectiveness checks (21 CFR 7.42(b)(3), levels A-E) sample the consignees;
closing needs every consignee resolved, a conclusion and an e-signature.

A drill (``drill=True``) runs the same flow on a frozen copy of the scope without real holds or
deliveries, and measures the time from opening to full notification.

Rows are never deleted: a campaign ends ``closed``; a unit's disposition is a new fact on its row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    OPEN = "open", _("open")
    CLOSED = "closed", _("closed")


class ScopeKind(models.TextChoices):
    LOT = "lot", _("lot")
    SERIALS = "serials", _("serial numbers")
    SUPPLIER_LOT = "supplier_lot", _("supplier component lot")
    PRODUCT_RANGE = "product_range", _("product and production period")
    WORK_ORDER = "work_order", _("work order")


class CnLevel(models.IntegerChoices):
    # 医疗器械召回管理办法 第十四条: 一级 (serious harm likely), 二级 (temporary or reversible
    # harm), 三级 (harm unlikely but recall needed).
    LEVEL_1 = 1, _("Level I (一级)")
    LEVEL_2 = 2, _("Level II (二级)")
    LEVEL_3 = 3, _("Level III (三级)")


class FdaClass(models.TextChoices):
    # 21 CFR 7.3(m)
    CLASS_I = "I", _("Class I")
    CLASS_II = "II", _("Class II")
    CLASS_III = "III", _("Class III")


class RecallDepth(models.TextChoices):
    # 21 CFR 7.42(b)(1): how far down the distribution chain the recall goes.
    WHOLESALE = "wholesale", _("wholesale")
    RETAIL = "retail", _("retail")
    USER = "user", _("user / consumer")


class EffectivenessLevel(models.TextChoices):
    # 21 CFR 7.42(b)(3)
    A = "A", _("Level A (all consignees)")
    B = "B", _("Level B (more than 10%, less than 100%)")
    C = "C", _("Level C (10%)")
    D = "D", _("Level D (2%)")
    E = "E", _("Level E (no effectiveness checks)")


class RecallCampaign(models.Model):
    """One recall (or recall drill): scope, classification, notices, effectiveness, closure."""

    AUDIT_REASON_REQUIRED = False

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=200)
    reason = models.TextField(_("reason for the recall"))
    status = models.CharField(
        _("status"), max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    drill = models.BooleanField(
        _("drill"),
        default=False,
        help_text=_(
            "A recall exercise: no real holds, no real deliveries; measures response time."
        ),
    )
    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("complaint"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recalls",
        help_text=_("The complaint (or trend of complaints) that led to the recall, if any."),
    )
    # Scope: how it was named, the parameters as given plus what they resolved to.
    scope_kind = models.CharField(
        pgettext_lazy("recall scope", "scope"), max_length=16, choices=ScopeKind.choices
    )
    scope = models.JSONField(_("scope parameters"), default=dict, blank=True)
    frozen_at = models.DateTimeField(_("scope frozen at"), null=True, blank=True)
    affected_count = models.PositiveIntegerField(_("affected units"), default=0)
    # Classification and health hazard evaluation (21 CFR 7.41; 办法 第十四条).
    cn_level = models.PositiveSmallIntegerField(
        _("NMPA recall level"), choices=CnLevel.choices, null=True, blank=True
    )
    fda_class = models.CharField(
        _("FDA recall class"), max_length=3, choices=FdaClass.choices, blank=True
    )
    eu_fsca = models.BooleanField(_("EU field safety corrective action"), default=False)
    depth = models.CharField(
        _("recall depth"), max_length=10, choices=RecallDepth.choices, blank=True
    )
    hhe = models.JSONField(
        _("health hazard evaluation"),
        default=dict,
        blank=True,
        help_text=_("hazard, severity, probability, population (at risk)."),
    )
    hhe_summary = models.TextField(_("health hazard evaluation summary"), blank=True)
    strategy = models.TextField(_("recall strategy"), blank=True)
    classified_at = models.DateTimeField(_("classified at"), null=True, blank=True)
    classified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The recall decision (办法 第十六条 clocks run from it): the e-signed approval.
    decision_at = models.DateTimeField(_("recall decision at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    all_notified_at = models.DateTimeField(_("all consignees notified at"), null=True, blank=True)
    all_acknowledged_at = models.DateTimeField(
        _("all consignees acknowledged at"), null=True, blank=True
    )
    effectiveness_level = models.CharField(
        _("effectiveness check level"),
        max_length=1,
        choices=EffectivenessLevel.choices,
        blank=True,
    )
    effective = models.BooleanField(_("effective"), null=True, blank=True)
    effectiveness_conclusion = models.TextField(_("effectiveness conclusion"), blank=True)
    effectiveness_concluded_at = models.DateTimeField(
        _("effectiveness concluded at"), null=True, blank=True
    )
    effectiveness_concluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_summary = models.TextField(_("closing summary"), blank=True)
    # Frozen at approval: list of {key, label, due (ISO), basis} (lib.clocks.Deadline).
    deadlines = models.JSONField(_("deadlines"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("recall campaign")
        verbose_name_plural = _("recall campaigns")
        ordering = ["-id"]
        default_permissions = ("add", "change", "view")
        permissions = [
            ("approve_recallcampaign", _("Can approve (e-sign) and close recall campaigns")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open", "closed"]),
                name="recallcampaign_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(cn_level__isnull=True) | Q(cn_level__in=[1, 2, 3]),
                name="recallcampaign_cn_level_valid",
            ),
            models.CheckConstraint(
                condition=Q(fda_class__in=["", "I", "II", "III"]),
                name="recallcampaign_fda_class_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "drill"], name="recall_status_idx")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def signature_content(self) -> dict[str, object]:
        """What an approval or closing signature binds (audit.signatures): the recall as
        decided - what it names and why, its classification and hazard evaluation. Progress
        bookkeeping (notices sent, acknowledgements, counts) is not the record's substance and
        does not invalidate the signatures; a new classification does."""
        return {
            "number": self.number,
            "title": self.title,
            "reason": self.reason,
            "drill": self.drill,
            "scope_kind": self.scope_kind,
            "scope": (self.scope or {}).get("params"),
            "cn_level": self.cn_level,
            "fda_class": self.fda_class,
            "eu_fsca": self.eu_fsca,
            "depth": self.depth,
            "hhe": self.hhe,
            "hhe_summary": self.hhe_summary,
            "strategy": self.strategy,
            "decision_at": self.decision_at.isoformat() if self.decision_at else None,
        }


class UnitStatus(models.TextChoices):
    """What became of one affected unit (reported by the consignee, or by us for our stock)."""

    PENDING = "pending", _("pending")
    RETURNED = "returned", _("returned")
    CORRECTED = "corrected", _("corrected on site")
    DESTROYED = "destroyed", _("destroyed")
    NOT_FOUND = "not_found", _("not found")
    USED = "used", _("used / implanted")


class UnitSource(models.TextChoices):
    TRACE = "trace", _("forward trace")
    EXTENSION = "extension", _("scope extension")


class UnitKind(models.TextChoices):
    PRODUCT = "product", _("finished device")
    COMPONENT = "component", _("component / spare part")
    LOT = "lot", _("lot (quantity-tracked)")


class AffectedUnit(models.Model):
    """One unit in a campaign's frozen scope, with where it was when the scope froze."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(
        RecallCampaign, on_delete=models.PROTECT, related_name="units", verbose_name=_("recall")
    )
    drill = models.BooleanField(_("drill"), default=False)
    epc = models.CharField(_("unit (EPC)"), max_length=512)
    kind = models.CharField(
        _("kind"), max_length=10, choices=UnitKind.choices, default=UnitKind.PRODUCT
    )
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
    holder = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("holder"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    holder_gln = models.CharField(_("holder GLN"), max_length=13, blank=True)
    holder_name = models.CharField(_("holder"), max_length=200, blank=True)
    holder_role = models.CharField(_("holder role"), max_length=32, blank=True)
    location = models.CharField(_("location"), max_length=512, blank=True)
    disposition = models.CharField(_("disposition"), max_length=64, blank=True)
    contained_in = models.CharField(_("packed in"), max_length=512, blank=True)
    installed_in = models.CharField(_("installed in"), max_length=512, blank=True)
    under_control = models.BooleanField(
        _("under our control"),
        default=False,
        help_text=_(
            "Held by us when the scope froze: blocked by a recall hold (a drill only "
            "records that it would be)."
        ),
    )
    hold = models.ForeignKey(
        "quality.Hold",
        verbose_name=_("recall hold"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    notice = models.ForeignKey(
        "recalls.RecallNotice",
        verbose_name=_("notice"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
    )
    source = models.CharField(
        _("source"), max_length=10, choices=UnitSource.choices, default=UnitSource.TRACE
    )
    added_at = models.DateTimeField(_("added at"))
    status = models.CharField(
        _("status"), max_length=10, choices=UnitStatus.choices, default=UnitStatus.PENDING
    )
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rma = models.ForeignKey(
        "distribution.ReturnAuthorization",
        verbose_name=_("return authorisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("affected unit")
        verbose_name_plural = _("affected units")
        ordering = ["campaign", "id"]
        default_permissions = ("add", "change", "view")
        permissions = [
            ("report_affectedunit", _("Can record what became of recalled units (returns)")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "epc"], name="affectedunit_uniq"),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending",
                        "returned",
                        "corrected",
                        "destroyed",
                        "not_found",
                        "used",
                    ]
                ),
                name="affectedunit_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "holder"], name="affectedunit_holder_idx"),
            models.Index(fields=["epc"], name="affectedunit_epc_idx"),
            models.Index(fields=["notice", "status"], name="affectedunit_notice_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.serial or self.epc}"


class NoticeStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SENT = "sent", _("sent")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")


class NoticeLanguage(models.TextChoices):
    ZH_HANS = "zh-hans", _("Chinese (simplified)")
    EN = "en", _("English")


class RecallNotice(models.Model):
    """The recall notice to one consignee (distributor or hospital), naming exactly its units."""

    id = models.BigAutoField(primary_key=True)
    number = models.CharField(_("number"), max_length=32, unique=True)
    campaign = models.ForeignKey(
        RecallCampaign, on_delete=models.PROTECT, related_name="notices", verbose_name=_("recall")
    )
    drill = models.BooleanField(_("drill"), default=False)
    consignee = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("consignee"),
        on_delete=models.PROTECT,
        related_name="recall_notices",
    )
    language = models.CharField(
        _("language"), max_length=8, choices=NoticeLanguage.choices, default=NoticeLanguage.EN
    )
    deadline_at = models.DateTimeField(_("notify by"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=NoticeStatus.choices, default=NoticeStatus.DRAFT
    )
    unit_count = models.PositiveIntegerField(_("units"), default=0)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ack_note = models.TextField(_("acknowledgement note"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("recall notice")
        verbose_name_plural = _("recall notices")
        ordering = ["campaign", "id"]
        default_permissions = ("add", "change", "view")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "consignee"], name="recallnotice_one_per_consignee"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "sent", "acknowledged", "resolved"]),
                name="recallnotice_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["consignee", "drill"], name="recallnotice_consignee_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number}"


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    WEBHOOK = "webhook", _("webhook")
    PORTAL = "portal", _("partner portal")


class DeliveryStatus(models.TextChoices):
    SENT = "sent", pgettext_lazy("notice delivery status", "sent")
    FAILED = "failed", pgettext_lazy("notice delivery status", "failed")
    SIMULATED = "simulated", pgettext_lazy("notice delivery status", "simulated (drill)")


class NoticeDelivery(models.Model):
    """One attempt to deliver a notice over one channel."""

    id = models.BigAutoField(primary_key=True)
    notice = models.ForeignKey(RecallNotice, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=10, choices=DeliveryChannel.choices)
    status = models.CharField(_("status"), max_length=10, choices=DeliveryStatus.choices)
    recipient = models.CharField(_("recipient"), max_length=500, blank=True)
    attempted_at = models.DateTimeField(_("attempted at"))
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        verbose_name = _("notice delivery")
        verbose_name_plural = _("notice deliveries")
        ordering = ["notice", "id"]
        default_permissions = ("add", "view")

    def __str__(self) -> str:
        return f"{self.notice} {self.channel} {self.status}"


class EffectivenessCheck(models.Model):
    """An effectiveness check (21 CFR 7.42(b)(3)) over a sample of the consignees."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(
        RecallCampaign,
        on_delete=models.PROTECT,
        related_name="effectiveness_checks",
        verbose_name=_("recall"),
    )
    level = models.CharField(
        pgettext_lazy("effectiveness check level", "level"),
        max_length=1,
        choices=EffectivenessLevel.choices,
    )
    percent = models.DecimalField(
        _("percent of consignees"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    population = models.PositiveIntegerField(_("consignees"), default=0)
    planned_count = models.PositiveIntegerField(_("consignees to contact"), default=0)
    seed = models.CharField(_("sampling seed"), max_length=64, blank=True)
    started_at = models.DateTimeField(pgettext_lazy("effectiveness check", "started at"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    conclusion = models.TextField(_("conclusion"), blank=True)

    class Meta:
        verbose_name = _("effectiveness check")
        verbose_name_plural = _("effectiveness checks")
        ordering = ["campaign", "id"]
        default_permissions = ("add", "change", "view")

    def __str__(self) -> str:
        return f"{self.campaign.number} check {self.pk} ({self.level})"


class ContactResult(models.TextChoices):
    PENDING = "pending", _("not yet contacted")
    CONFIRMED = "confirmed", _("confirmed")
    NOT_CONFIRMED = "not_confirmed", _("not confirmed")
    NO_RESPONSE = "no_response", _("no response")


class EffectivenessContact(models.Model):
    """One sampled consignee of a check: did they receive the notice and act on it?"""

    id = models.BigAutoField(primary_key=True)
    effectiveness_check = models.ForeignKey(
        EffectivenessCheck,
        on_delete=models.PROTECT,
        related_name="contacts",
        verbose_name=_("effectiveness check"),
    )
    notice = models.ForeignKey(RecallNotice, on_delete=models.PROTECT, related_name="+")
    result = models.CharField(
        _("result"), max_length=14, choices=ContactResult.choices, default=ContactResult.PENDING
    )
    contacted_at = models.DateTimeField(_("contacted at"), null=True, blank=True)
    contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("effectiveness contact")
        verbose_name_plural = _("effectiveness contacts")
        ordering = ["effectiveness_check", "id"]
        default_permissions = ("add", "change", "view")
        constraints = [
            models.UniqueConstraint(
                fields=["effectiveness_check", "notice"], name="effcontact_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice} {self.result}"
