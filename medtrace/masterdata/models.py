"""Master data: parties, locations, products (device models with their DIs), materials, BOMs.

Invariants that must survive bugs elsewhere live in the database (unique DIs, one base DI per
product, positive BOM quantities); format rules live in `validators.py` and run through
`full_clean()` in the services and in the admin's model forms.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from medtrace.lib import udi

from . import validators as v


def _related_or_none(instance: models.Model, name: str) -> Any:
    """The related object if set (saved or not), else None, without raising DoesNotExist."""
    try:
        return getattr(instance, name)
    except ObjectDoesNotExist:
        return None


class PartyRole(models.TextChoices):
    MANUFACTURER = "manufacturer", _("Manufacturer")
    SUPPLIER = "supplier", _("Supplier")
    DISTRIBUTOR = "distributor", _("Distributor")
    HOSPITAL = "hospital", _("Hospital")
    CARRIER = "carrier", _("Carrier")
    SERVICE_PROVIDER = "service_provider", _("Service provider")


class Party(models.Model):
    """An organisation the manufacturer deals with, or the manufacturer itself."""

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    role = models.CharField(_("role"), max_length=32, choices=PartyRole.choices)
    gln = models.CharField(
        _("GLN"),
        max_length=13,
        blank=True,
        validators=[v.validate_gln],
        help_text=_("GS1 Global Location Number, 13 digits with check digit."),
    )
    gs1_company_prefix = models.CharField(
        _("GS1 company prefix"),
        max_length=12,
        blank=True,
        help_text=_("Needed to turn this party's GTINs, SSCCs and GLNs into EPC URNs."),
    )
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[v.validate_uscc],
        help_text=_("统一社会信用代码 (18 characters)."),
    )
    country = models.CharField(
        _("country"), max_length=2, default="CN", help_text=_("ISO 3166-1 alpha-2 code.")
    )
    province = models.CharField(_("province"), max_length=64, blank=True)
    city = models.CharField(_("city"), max_length=64, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    # Identifiers other regulators' UDI databases key a labeler by (exports: GUDID, EUDAMED).
    duns = models.CharField(
        _("DUNS number"),
        max_length=9,
        blank=True,
        validators=[v.validate_duns],
        help_text=_("9-digit D-U-N-S number of the labeler (FDA GUDID)."),
    )
    eudamed_srn = models.CharField(
        _("EUDAMED SRN"),
        max_length=20,
        blank=True,
        validators=[v.validate_srn],
        help_text=_("Single registration number in EUDAMED, e.g. CN-MF-000012345."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["gln"], condition=~Q(gln=""), name="party_gln_unique"),
            models.UniqueConstraint(
                fields=["uscc"], condition=~Q(uscc=""), name="party_uscc_unique"
            ),
            models.CheckConstraint(condition=Q(role__in=PartyRole.values), name="party_role_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.gs1_company_prefix:
            if not re.fullmatch(r"\d{4,12}", self.gs1_company_prefix):
                raise ValidationError(
                    {"gs1_company_prefix": _("A GS1 company prefix has 4 to 12 digits.")}
                )
            if self.gln and not self.gln.startswith(self.gs1_company_prefix):
                raise ValidationError(
                    {
                        "gln": _(
                            "GLN %(gln)s does not start with the party's GS1 company prefix "
                            "%(gcp)s."
                        )
                        % {"gln": self.gln, "gcp": self.gs1_company_prefix}
                    }
                )
        if not re.fullmatch(r"[A-Z]{2}", self.country or ""):
            raise ValidationError(
                {
                    "country": _(
                        "Country is an ISO 3166-1 alpha-2 code in capitals, e.g. CN, US, DE."
                    )
                }
            )


class LicenceKind(models.TextChoices):
    BUSINESS_LICENCE = "business_licence", _("Business licence (营业执照)")
    PRODUCTION = "production_licence", _("Medical device production licence (医疗器械生产许可证)")
    PRODUCTION_FILING = (
        "production_filing",
        _("Class I production filing (第一类医疗器械生产备案凭证)"),
    )
    DISTRIBUTION = (
        "distribution_licence",
        _("Medical device distribution licence (医疗器械经营许可证)"),
    )
    DISTRIBUTION_FILING = (
        "distribution_filing",
        _("Class II distribution filing (第二类医疗器械经营备案凭证)"),
    )
    MEDICAL_INSTITUTION = (
        "medical_institution_licence",
        _("Medical institution practice licence (医疗机构执业许可证)"),
    )
    ISO13485 = "iso13485", _("ISO 13485 certificate")


# What a licence number of each kind must contain, from the NMPA numbering rules, e.g.
# 浙药监械生产许20190001号, 沪浦食药监械经营许20160022号, 沪浦食药监械经营备20160022号.
_LICENCE_MARKERS: dict[str, tuple[str, str]] = {
    LicenceKind.PRODUCTION: ("械生产许", "浙药监械生产许20190001号"),
    LicenceKind.PRODUCTION_FILING: ("械生产备", "浙杭药监械生产备20190001号"),
    LicenceKind.DISTRIBUTION: ("械经营许", "沪浦食药监械经营许20160022号"),
    LicenceKind.DISTRIBUTION_FILING: ("械经营备", "沪浦食药监械经营备20160022号"),
}

# Which licence kinds make sense for which party roles.
_LICENCES_BY_ROLE: dict[str, set[str]] = {
    PartyRole.MANUFACTURER: {
        LicenceKind.BUSINESS_LICENCE,
        LicenceKind.PRODUCTION,
        LicenceKind.PRODUCTION_FILING,
        LicenceKind.ISO13485,
    },
    PartyRole.SUPPLIER: {
        LicenceKind.BUSINESS_LICENCE,
        LicenceKind.PRODUCTION,
        LicenceKind.PRODUCTION_FILING,
        LicenceKind.ISO13485,
    },
    PartyRole.DISTRIBUTOR: {
        LicenceKind.BUSINESS_LICENCE,
        LicenceKind.DISTRIBUTION,
        LicenceKind.DISTRIBUTION_FILING,
        LicenceKind.ISO13485,
    },
    PartyRole.HOSPITAL: {LicenceKind.MEDICAL_INSTITUTION},
    PartyRole.CARRIER: {LicenceKind.BUSINESS_LICENCE},
    PartyRole.SERVICE_PROVIDER: {LicenceKind.BUSINESS_LICENCE, LicenceKind.ISO13485},
}


class PartyLicence(models.Model):
    party = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="licences", verbose_name=_("party")
    )
    kind = models.CharField(_("licence type"), max_length=40, choices=LicenceKind.choices)
    number = models.CharField(_("number"), max_length=64)
    issuer = models.CharField(_("issued by"), max_length=120, blank=True)
    scope = models.TextField(_("scope"), blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    scan = models.ForeignKey(
        "lifecycle.Attachment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("scan"),
        help_text=_("The scanned certificate (its SHA-256 is kept with the file)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Regulated records (DMR, registrations, approved suppliers): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    class Meta:
        verbose_name = _("licence")
        verbose_name_plural = _("licences")
        ordering = ["party_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "number"], name="licence_kind_number_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=LicenceKind.values), name="licence_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        marker = _LICENCE_MARKERS.get(self.kind)
        if marker and self.number and marker[0] not in self.number:
            errors["number"] = _("A %(kind)s number contains '%(marker)s', e.g. %(example)s.") % {
                "kind": self.get_kind_display(),
                "marker": marker[0],
                "example": marker[1],
            }
        if self.issued_on and self.expires_on and self.expires_on <= self.issued_on:
            errors["expires_on"] = _("Expiry date must be after the issue date.")
        if self.party_id and self.kind:
            allowed = _LICENCES_BY_ROLE.get(self.party.role, set())
            if self.kind not in allowed:
                errors["kind"] = _("A %(role)s cannot hold a %(kind)s; allowed: %(allowed)s.") % {
                    "role": self.party.get_role_display(),
                    "kind": self.get_kind_display(),
                    "allowed": ", ".join(sorted(allowed)),
                }
        if errors:
            raise ValidationError(errors)


class LocationKind(models.TextChoices):
    SITE = "site", _("Site")
    WAREHOUSE = "warehouse", _("Warehouse")
    BIN = "bin", _("Bin")
    PRODUCTION_LINE = "production_line", _("Production line")
    HOSPITAL_DEPARTMENT = "hospital_department", _("Hospital department")


# A location may only sit inside a location of these kinds.
_LOCATION_PARENTS: dict[str, set[str]] = {
    LocationKind.SITE: set(),
    LocationKind.WAREHOUSE: {LocationKind.SITE},
    LocationKind.BIN: {LocationKind.WAREHOUSE},
    LocationKind.PRODUCTION_LINE: {LocationKind.SITE},
    LocationKind.HOSPITAL_DEPARTMENT: {LocationKind.SITE},
}


class Location(models.Model):
    """A physical place, identified in the ledger by its SGLN (EPCIS readPoint / bizLocation)."""

    party = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="locations", verbose_name=_("party")
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("inside"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=LocationKind.choices)
    code = models.CharField(
        _("code"),
        max_length=40,
        help_text=_("Short code printed on the location label, e.g. WH1-A-03."),
    )
    name = models.CharField(_("name"), max_length=200)
    gln = models.CharField(_("GLN"), max_length=13, validators=[v.validate_gln])
    extension = models.CharField(
        _("GLN extension"),
        max_length=20,
        default="0",
        help_text=_("AI (254) extension component; 0 means the GLN itself."),
    )
    sgln = models.CharField(_("SGLN"), max_length=100, unique=True, editable=False)
    address = models.CharField(_("address"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["party_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["party", "code"], name="location_party_code_unique"),
            models.UniqueConstraint(fields=["gln", "extension"], name="location_gln_ext_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=LocationKind.values), name="location_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        parent = self.parent if self.parent_id else None
        if parent is not None:
            allowed = _LOCATION_PARENTS.get(self.kind, set())
            if parent.kind not in allowed:
                errors["parent"] = _("A %(kind)s cannot be inside a %(parent)s.") % {
                    "kind": self.get_kind_display(),
                    "parent": parent.get_kind_display(),
                }
            elif parent.party_id != self.party_id:
                errors["parent"] = _("The enclosing location belongs to another party.")
            elif self.pk and parent.pk == self.pk:
                errors["parent"] = _("A location cannot be inside itself.")
        if self.extension and not re.fullmatch(r"[!%-?A-Z_a-z\"]{1,20}", self.extension):
            errors["extension"] = _("The GLN extension is 1-20 GS1 CSET 82 characters (AI 254).")
        if not errors and self.gln and self.party_id:
            prefix = self.party.gs1_company_prefix
            if not prefix or not self.gln.startswith(prefix):
                errors["gln"] = _(
                    "GLN %(gln)s must start with %(party)s's GS1 company prefix (%(gcp)s) so its "
                    "SGLN can be formed; set the party's company prefix first."
                ) % {"gln": self.gln, "party": self.party.name, "gcp": prefix or "-"}
            else:
                try:
                    self.sgln = udi.sgln_urn(self.gln, self.extension or "0", len(prefix))
                except udi.UdiError as exc:
                    errors["gln"] = str(exc)
        if errors:
            raise ValidationError(errors)


class IssuingAgency(models.TextChoices):
    GS1 = "gs1", "GS1"
    HIBCC = "hibcc", "HIBCC"


class RiskClass(models.TextChoices):
    I = "I", _("Class I")  # noqa: E741 - the regulatory name of the class
    II = "II", _("Class II")
    III = "III", _("Class III")


class TrackingMode(models.TextChoices):
    SERIAL = "serial", _("Serial number")
    LOT = "lot", _("Lot / batch")


class PiElement(models.TextChoices):
    LOT = "lot", _("Lot (10)")
    SERIAL = "serial", _("Serial (21)")
    EXPIRY = "expiry", _("Expiry date (17)")
    MANUFACTURED = "manufactured", _("Manufacturing date (11)")


class MriSafety(models.TextChoices):
    # FDA GUDID "MRI Safety Status" values (ASTM F2503 marking); NMPA 磁共振(MR)安全相关信息.
    MR_SAFE = "mr_safe", _("MR safe")
    MR_CONDITIONAL = "mr_conditional", _("MR conditional")
    MR_UNSAFE = "mr_unsafe", _("MR unsafe")
    NOT_LABELLED = "not_labelled", _("Labelling has no MRI safety information")


class Product(models.Model):
    """A device model (规格型号) as registered with the regulator; its DIs hang below it."""

    manufacturer = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="products", verbose_name=_("manufacturer")
    )
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    model = models.CharField(
        _("model / specification"),
        max_length=120,
        help_text=_("型号规格 as on the registration certificate."),
    )
    description = models.TextField(_("description"), blank=True)
    issuing_agency = models.CharField(
        _("issuing agency"), max_length=8, choices=IssuingAgency.choices, default=IssuingAgency.GS1
    )
    gcp_length = models.PositiveSmallIntegerField(
        _("GS1 company prefix length"),
        null=True,
        blank=True,
        validators=[v.validate_gcp_length],
        help_text=_("Digits of the GS1 company prefix inside the GTIN; needed for EPC URNs."),
    )
    nmpa_registration_no = models.CharField(
        _("NMPA registration / filing no."),
        max_length=40,
        validators=[v.validate_nmpa_registration],
        help_text=_("注册证号 / 备案号"),
    )
    risk_class = models.CharField(_("risk class"), max_length=3, choices=RiskClass.choices)
    implantable = models.BooleanField(_("implantable"), default=False)
    sterile = models.BooleanField(_("sterile"), default=False)
    single_use = models.BooleanField(_("single use"), default=False)
    tracking = models.CharField(_("tracking mode"), max_length=8, choices=TrackingMode.choices)
    shelf_life_days = models.PositiveIntegerField(
        _("shelf life (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
    )
    classification_code = models.CharField(
        _("classification code"),
        max_length=16,
        blank=True,
        validators=[v.validate_nmpa_classification],
        help_text=_("医疗器械分类编码, e.g. 14-02-01"),
    )
    gmdn_code = models.CharField(
        _("GMDN code"), max_length=5, blank=True, validators=[v.validate_gmdn]
    )
    nhsa_code = models.CharField(
        _("NHSA consumable code"),
        max_length=20,
        blank=True,
        validators=[v.validate_nhsa_code],
        help_text=_("医保耗材编码"),
    )
    udi_pi_elements = models.JSONField(
        _("UDI-PI elements on the label"),
        default=list,
        help_text=_(
            "Which production identifiers the label carries: lot, serial, expiry, manufactured."
        ),
    )
    # UDI database data (NMPA UDID per YY/T 1752/1753, FDA GUDID, EUDAMED), used by the DI
    # exports. All optional: an export lists what is still missing instead of guessing.
    trade_name = models.CharField(
        _("trade name"), max_length=200, blank=True, help_text=_("商品名称 / brand name.")
    )
    catalog_number = models.CharField(
        _("catalogue number"),
        max_length=60,
        blank=True,
        help_text=_("产品货号或编号 / REF on the label."),
    )
    is_kit = models.BooleanField(
        _("kit / procedure pack"), null=True, blank=True, help_text=_("是否为包类/组套类产品")
    )
    mri_safety = models.CharField(
        _("MRI safety"), max_length=16, blank=True, choices=MriSafety.choices
    )
    sterilize_before_use = models.BooleanField(
        _("sterilize before use"), null=True, blank=True, help_text=_("使用前是否需要进行灭菌")
    )
    sterilization_method = models.CharField(
        _("sterilization method"),
        max_length=120,
        blank=True,
        help_text=_("灭菌方式, e.g. ethylene oxide, irradiation, steam."),
    )
    max_reuses = models.PositiveIntegerField(
        _("maximum number of reuses"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("最大重复使用次数; empty when unlimited or single use."),
    )
    direct_marking = models.BooleanField(
        _("direct marking"),
        null=True,
        blank=True,
        help_text=_("是否有本体直接标识: the UDI is marked on the device itself."),
    )
    direct_marking_di = models.CharField(
        _("direct marking DI"),
        max_length=24,
        blank=True,
        help_text=_("本体产品标识, when it differs from the unit DI."),
    )
    storage_conditions = models.CharField(
        _("storage and handling conditions"),
        max_length=300,
        blank=True,
        help_text=_("特殊存储或操作条件, e.g. 2-8 °C, keep dry."),
    )
    udi_published_on = models.DateField(
        _("DI publication date"), null=True, blank=True, help_text=_("产品标识发布日期")
    )
    fda_product_code = models.CharField(
        _("FDA product code"),
        max_length=3,
        blank=True,
        validators=[v.validate_fda_product_code],
        help_text=_("Three letters, e.g. FRN (GUDID)."),
    )
    basic_udi_di = models.CharField(
        _("Basic UDI-DI"),
        max_length=25,
        blank=True,
        validators=[v.validate_basic_udi_di],
        help_text=_("EU MDR Basic UDI-DI (EUDAMED), up to 25 characters."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Regulated records (DMR, registrations, approved suppliers): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "model"], name="product_manufacturer_model_unique"
            ),
            models.CheckConstraint(
                condition=Q(risk_class__in=RiskClass.values), name="product_risk_class_valid"
            ),
            models.CheckConstraint(
                condition=Q(tracking__in=TrackingMode.values), name="product_tracking_valid"
            ),
            models.CheckConstraint(
                condition=Q(issuing_agency__in=IssuingAgency.values),
                name="product_issuing_agency_valid",
            ),
            models.CheckConstraint(
                condition=Q(mri_safety="") | Q(mri_safety__in=MriSafety.values),
                name="product_mri_safety_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.model}"

    def signature_content(self) -> dict[str, object]:
        """What a product signature covers: its registration and identification data with
        every DI, not whether it is still active."""
        from medtrace.audit.services import snapshot

        data = snapshot(self)
        data.pop("active", None)
        data["identifiers"] = [
            [level, di, quantity]
            for level, di, quantity in self.identifiers.order_by(
                "packaging_level", "di"
            ).values_list("packaging_level", "di", "quantity")
        ]
        return data

    @property
    def registration_kind(self) -> str:
        return "filing" if "械备" in self.nmpa_registration_no else "registration"

    def base_identifier(self) -> ProductIdentifier | None:
        return self.identifiers.filter(packaging_level=PackagingLevel.UNIT).first()

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        elements = self.udi_pi_elements
        allowed = set(PiElement.values)  # once: .values builds a new list on every access
        if not isinstance(elements, list) or any(e not in allowed for e in elements):
            errors["udi_pi_elements"] = _("Expected a list drawn from: %(allowed)s.") % {
                "allowed": ", ".join(PiElement.values)
            }
        elif len(set(elements)) != len(elements):
            errors["udi_pi_elements"] = _("Each PI element may appear only once.")
        else:
            needed = "serial" if self.tracking == TrackingMode.SERIAL else "lot"
            if self.tracking and needed not in elements:
                errors["udi_pi_elements"] = _(
                    "A %(mode)s-tracked product must carry '%(needed)s' in its UDI-PI."
                ) % {"mode": self.tracking, "needed": needed}
            elif self.shelf_life_days and "expiry" not in elements:
                errors["udi_pi_elements"] = _(
                    "A product with a shelf life must carry 'expiry' in its UDI-PI."
                )
        # NMPA: Class I devices are filed (备案), Class II/III registered (注册证).
        reg = self.nmpa_registration_no or ""
        if self.risk_class and reg and "nmpa_registration_no" not in errors:
            if self.risk_class == RiskClass.I and "械备" not in reg:
                errors["nmpa_registration_no"] = _(
                    "A Class I device has a filing number (…械备…), not a registration number."
                )
            if self.risk_class != RiskClass.I and "械注" not in reg:
                errors["nmpa_registration_no"] = _(
                    "A Class %(c)s device has a registration number (…械注…), not a filing number."
                ) % {"c": self.risk_class}
        if self.single_use and self.max_reuses:
            errors["max_reuses"] = _("A single-use device has no number of reuses.")
        if self.direct_marking_di and not self.direct_marking:
            errors["direct_marking_di"] = _("A direct marking DI needs direct marking set to yes.")
        if self.implantable and self.tracking != TrackingMode.SERIAL:
            errors["tracking"] = _("Implantable devices must be serial-tracked.")
        if self.issuing_agency == IssuingAgency.GS1 and not self.gcp_length:
            prefix = self.manufacturer.gs1_company_prefix if self.manufacturer_id else ""
            if prefix:
                self.gcp_length = len(prefix)
            else:
                errors["gcp_length"] = _(
                    "A GS1 product needs its company prefix length (or a manufacturer with a "
                    "GS1 company prefix)."
                )
        if errors:
            raise ValidationError(errors)


class PackagingLevel(models.TextChoices):
    UNIT = "unit", _("Unit of use / base unit")
    PACK = "pack", _("Pack (中包装)")
    CASE = "case", _("Case (外箱)")
    PALLET = "pallet", _("Pallet")


_LEVEL_ORDER = [
    PackagingLevel.UNIT,
    PackagingLevel.PACK,
    PackagingLevel.CASE,
    PackagingLevel.PALLET,
]


class ProductIdentifier(models.Model):
    """A UDI-DI: one per packaging level of a product (GTIN-14, or HIBC LIC+PCN+unit of measure)."""

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="identifiers", verbose_name=_("product")
    )
    packaging_level = models.CharField(
        _("packaging level"), max_length=8, choices=PackagingLevel.choices
    )
    di = models.CharField(
        _("DI"),
        max_length=24,
        unique=True,
        help_text=_("GTIN (14 digits) or HIBC LIC+PCN+unit of measure."),
    )
    quantity = models.PositiveIntegerField(
        _("base units contained"), default=1, validators=[MinValueValidator(1)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # Regulated records (DMR, registrations, approved suppliers): a change needs a reason.
    AUDIT_REASON_REQUIRED = True

    class Meta:
        verbose_name = _("product identifier (DI)")
        verbose_name_plural = _("product identifiers (DI)")
        ordering = ["product_id", "packaging_level"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "packaging_level"], name="productidentifier_level_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="productidentifier_quantity_positive"
            ),
            models.CheckConstraint(
                condition=~Q(packaging_level="unit") | Q(quantity=1),
                name="productidentifier_unit_quantity_one",
            ),
        ]

    def __str__(self) -> str:
        return self.di

    @property
    def hibc_lic(self) -> str:
        return self.di[:4]

    @property
    def hibc_pcn(self) -> str:
        return self.di[4:-1]

    @property
    def hibc_uom(self) -> int:
        return int(self.di[-1])

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        product = _related_or_none(self, "product")
        agency = product.issuing_agency if product is not None else None
        di = (self.di or "").strip().upper()
        if agency == IssuingAgency.GS1:
            try:
                self.di = udi.normalize_gtin(di)
            except udi.UdiError as exc:
                errors["di"] = str(exc)
        elif agency == IssuingAgency.HIBCC:
            lic, pcn_uom = di[:4], di[4:]
            if not v.HIBC_LIC_RE.fullmatch(lic):
                errors["di"] = _("An HIBC LIC is 4 characters, the first a letter; got %(v)r.") % {
                    "v": lic
                }
            elif (
                len(pcn_uom) < 2
                or not v.HIBC_PCN_RE.fullmatch(pcn_uom[:-1])
                or not pcn_uom[-1].isdigit()
            ):
                errors["di"] = _(
                    "An HIBC DI is LIC + PCN (1-18 letters/digits) + a unit-of-measure digit; "
                    "got %(v)r."
                ) % {"v": di}
            else:
                self.di = di
        if self.packaging_level == PackagingLevel.UNIT and self.quantity != 1:
            errors["quantity"] = _("The base unit contains exactly 1 unit.")
        elif (
            self.packaging_level
            and self.packaging_level != PackagingLevel.UNIT
            and self.quantity < 2
        ):
            errors["quantity"] = _("A %(level)s contains at least 2 base units.") % {
                "level": self.get_packaging_level_display()
            }
        if errors:
            raise ValidationError(errors)

    @property
    def level_rank(self) -> int:
        return _LEVEL_ORDER.index(PackagingLevel(self.packaging_level))


# Materials and BOMs live in their own module; they are this app's models all the same.
from .models_materials import (  # noqa: E402, F401
    Bom,
    BomLine,
    BomStatus,
    Material,
    MaterialKind,
    MaterialSupplier,
)
