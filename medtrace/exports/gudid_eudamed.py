"""GUDID-style DI records (FDA Global UDI Database, 21 CFR 830 subpart E) and EUDAMED-style
UDI-DI records (EU MDR Annex VI part A section 2 and part B).

Keys follow the names of the systems' own data dictionaries (GUDID Data Elements Reference
Table, as AccessGUDID publishes them; EUDAMED's UDI/Device registration data) in camelCase. The
values are medtrace's master data; what medtrace does not keep (premarket submission numbers,
prescription status, latex labelling, the EU MDR risk class, the EMDN code, ...) is exported
empty and listed in the report, never guessed: an NMPA class III device is not thereby an EU
class III device.
"""

from __future__ import annotations

from typing import Any

from medtrace.masterdata.models import IssuingAgency, MriSafety, PackagingLevel

from .di_common import (
    DeviceData,
    DiFormat,
    Spec,
    SubList,
    contains_count,
    date_text,
    kept,
    package_check,
)

_AGENCY: dict[str, str] = {IssuingAgency.GS1: "GS1", IssuingAgency.HIBCC: "HIBCC"}
_GUDID_MRI = {
    MriSafety.MR_SAFE: "MR Safe",
    MriSafety.MR_CONDITIONAL: "MR Conditional",
    MriSafety.MR_UNSAFE: "MR Unsafe",
    MriSafety.NOT_LABELLED: "Labeling does not contain MRI Safety Information",
}
_GUDID_PACKAGE_TYPE = {
    PackagingLevel.PACK: "Box",
    PackagingLevel.CASE: "Case",
    PackagingLevel.PALLET: "Pallet",
}
_GUDID_STORAGE = {
    "temperature": ("Storage Environment Temperature", "Degrees Celsius"),
    "humidity": ("Storage Environment Humidity", "Percent (%) Relative Humidity"),
}
_EU_PI = (
    ("lot", "BATCH_NUMBER"),
    ("serial", "SERIAL_NUMBER"),
    ("manufactured", "MANUFACTURING_DATE"),
    ("expiry", "EXPIRATION_DATE"),
)
_EU_STORAGE = {"temperature": "TEMPERATURE", "humidity": "HUMIDITY"}


def _agency(d: DeviceData) -> str:
    return _AGENCY.get(d.product.issuing_agency, "")


def _dm_differs(d: DeviceData) -> bool | None:
    if not d.product.direct_marking:
        return None
    return bool(d.product.direct_marking_di) and d.product.direct_marking_di != d.unit_di


def _not_kept(key: str, label: str, note: str, required: bool = False) -> Spec:
    return Spec(key, label, lambda d: None, "", required, note)


def _gudid_packages(d: DeviceData) -> list[dict[str, Any]]:
    return [
        {
            "packageDI": package.di,
            "quantityPerPackage": contains_count(package, lower),
            "containsDINumber": lower.di if lower is not None else "",
            "packageType": _GUDID_PACKAGE_TYPE.get(PackagingLevel(package.packaging_level), ""),
            "packageStatus": "In Commercial Distribution"
            if d.product.active
            else "Not in Commercial Distribution",
        }
        for package, lower in d.packages
    ]


def _gudid_storage(d: DeviceData) -> list[dict[str, Any]]:
    return [
        {
            "storageHandlingType": _GUDID_STORAGE[limit.measurement][0],
            "storageHandlingLow": limit.low,
            "storageHandlingHigh": limit.high,
            "storageHandlingUnit": _GUDID_STORAGE[limit.measurement][1],
        }
        for limit in d.storage
    ]


def _english_name_check(d: DeviceData) -> list[tuple[str, str]]:
    if not d.maker.name_en:
        return [
            (
                "companyName",
                f"companyName: GUDID records the labeler in Latin characters; set the English "
                f"name of {d.maker.name} (manufacturer.name_en)",
            )
        ]
    return []


GUDID_SPECS: tuple[Spec, ...] = (
    Spec("primaryDI", "Primary DI", lambda d: d.unit_di, "identifiers (unit DI)", True),
    Spec("issuingAgency", "Issuing agency", _agency, "issuing_agency", True),
    Spec("deviceCount", "Device count", lambda d: d.unit.quantity if d.unit else None,
         "identifiers (unit quantity)", True),
    Spec("unitOfUseDI", "Unit of use DI", lambda d: "", "identifiers (unit DI)"),
    Spec("brandName", "Brand name", lambda d: d.product.trade_name, "trade_name", True),
    Spec("versionModelNumber", "Version or model", lambda d: d.product.model, "model", True),
    Spec("catalogNumber", "Catalog number", lambda d: d.product.catalog_number, "catalog_number"),
    Spec("companyName", "Company name", lambda d: kept(d.maker.name_en, d.maker.name),
         "manufacturer.name_en", True),
    Spec("dunsNumber", "Labeler DUNS number", lambda d: d.maker.duns, "manufacturer.duns", True),
    Spec("deviceDescription", "Device description", lambda d: d.product.description,
         "description"),
    Spec("publishDate", "DI record publish date", lambda d: date_text(d.product.udi_published_on),
         "udi_published_on", True),
    Spec("commercialDistributionStatus", "Commercial distribution status",
         lambda d: "In Commercial Distribution" if d.product.active
         else "Not in Commercial Distribution", "active", True),
    _not_kept("commercialDistributionEndDate", "Commercial distribution end date",
              "not kept in medtrace"),
    Spec("directMarking", "Device subject to direct marking", lambda d: d.product.direct_marking,
         "direct_marking", True),
    Spec("DMDIDifferentFromPrimaryDI", "Direct marking DI different from primary DI",
         _dm_differs, "direct_marking_di", lambda d: bool(d.product.direct_marking)),
    Spec("DMDI", "Direct marking DI", lambda d: d.product.direct_marking_di if _dm_differs(d)
         else "", "direct_marking_di"),
    Spec("MRISafetyStatus", "MRI safety status",
         lambda d: _GUDID_MRI.get(MriSafety(d.product.mri_safety)) if d.product.mri_safety
         else "", "mri_safety", True),
    Spec("deviceSterile", "Device packaged as sterile", lambda d: d.product.sterile, "sterile",
         True),
    Spec("sterilizationPriorToUse", "Requires sterilization prior to use",
         lambda d: d.product.sterilize_before_use, "sterilize_before_use", True),
    Spec("sterilizationMethods", "Sterilization method", lambda d: d.product.sterilization_method,
         "sterilization_method", lambda d: bool(d.product.sterilize_before_use)),
    Spec("singleUse", "For single use", lambda d: d.product.single_use, "single_use", True),
    Spec("deviceKit", "Kit", lambda d: d.product.is_kit, "is_kit", True),
    Spec("lotBatch", "Lot or batch number on the label", lambda d: d.pi("lot"),
         "udi_pi_elements", True),
    Spec("serialNumber", "Serial number on the label", lambda d: d.pi("serial"),
         "udi_pi_elements", True),
    Spec("manufacturingDate", "Manufacturing date on the label", lambda d: d.pi("manufactured"),
         "udi_pi_elements", True),
    Spec("expirationDate", "Expiration date on the label", lambda d: d.pi("expiry"),
         "udi_pi_elements", True),
    _not_kept("donationIdNumber", "Donation identification number (HCT/P)",
              "HCT/P donation numbers: not kept in medtrace"),
    Spec("gmdnCode", "GMDN preferred term code", lambda d: d.product.gmdn_code, "gmdn_code",
         True),
    Spec("productCode", "FDA product code", lambda d: d.product.fda_product_code,
         "fda_product_code", True),
    _not_kept("premarketSubmissionNumber", "FDA premarket submission number",
              "510(k) / PMA / De Novo numbers: not kept in medtrace", True),
    _not_kept("rx", "Prescription use (Rx)", "prescription status: not kept in medtrace", True),
    _not_kept("otc", "Over the counter (OTC)", "prescription status: not kept in medtrace", True),
    _not_kept("labeledContainsNRL", "Labeled as containing natural rubber latex",
              "latex labelling: not kept in medtrace", True),
    _not_kept("labeledNoNRL", "Labeled as not made with natural rubber latex",
              "latex labelling: not kept in medtrace", True),
    _not_kept("deviceCombinationProduct", "Combination product", "not kept in medtrace", True),
    _not_kept("deviceHCTP", "Human cell or tissue product (HCT/P)", "not kept in medtrace",
              True),
    Spec("specialStorageConditions", "Special storage conditions",
         lambda d: d.product.storage_conditions, "storage_conditions"),
    _not_kept("clinicalSizes", "Clinically relevant sizes", "not kept in medtrace"),
    Spec("customerContactPhone", "Customer contact phone", lambda d: d.maker.contact_phone,
         "manufacturer.contact_phone"),
    Spec("customerContactEmail", "Customer contact e-mail", lambda d: d.maker.contact_email,
         "manufacturer.contact_email"),
)  # fmt: skip

GUDID = DiFormat(
    name="gudid",
    title="GUDID DI records",
    standard="FDA GUDID (21 CFR 830 subpart E), GUDID Data Elements Reference Table",
    specs=GUDID_SPECS,
    lists=(
        SubList(
            "packages",
            "Packages",
            (
                ("packageDI", "Package DI"),
                ("quantityPerPackage", "Quantity per package"),
                ("containsDINumber", "Contains DI"),
                ("packageType", "Package type"),
                ("packageStatus", "Package status"),
            ),
            _gudid_packages,
        ),
        SubList(
            "storageHandling",
            "Storage and handling",
            (
                ("storageHandlingType", "Type"),
                ("storageHandlingLow", "Low value"),
                ("storageHandlingHigh", "High value"),
                ("storageHandlingUnit", "Unit"),
            ),
            _gudid_storage,
        ),
    ),
    checks=(package_check, _english_name_check),
    key_field="primaryDI",
)


# EUDAMED ---------------------------------------------------------------------------------------


def _eu_packages(d: DeviceData) -> list[dict[str, Any]]:
    return [
        {
            "packageUdiDi": package.di,
            "quantity": contains_count(package, lower),
            "containsUdiDi": lower.di if lower is not None else "",
        }
        for package, lower in d.packages
    ]


def _eu_storage(d: DeviceData) -> list[dict[str, Any]]:
    return [
        {
            "conditionType": _EU_STORAGE[limit.measurement],
            "minimum": limit.low,
            "maximum": limit.high,
            "unit": "°C" if limit.unit == "Cel" else "%RH",
        }
        for limit in d.storage
    ]


EUDAMED_SPECS: tuple[Spec, ...] = (
    Spec("basicUdiDi", "Basic UDI-DI", lambda d: d.product.basic_udi_di, "basic_udi_di", True),
    Spec("udiDi", "UDI-DI", lambda d: d.unit_di, "identifiers (unit DI)", True),
    Spec("issuingEntity", "UDI issuing entity", _agency, "issuing_agency", True),
    Spec("manufacturerSrn", "Manufacturer SRN", lambda d: d.maker.eudamed_srn,
         "manufacturer.eudamed_srn", True),
    Spec("manufacturerName", "Manufacturer name", lambda d: kept(d.maker.name_en, d.maker.name),
         "manufacturer.name_en"),
    Spec("referenceCatalogueNumber", "Reference / catalogue number",
         lambda d: d.product.catalog_number, "catalog_number"),
    Spec("deviceModel", "Device model", lambda d: d.product.model, "model", True),
    Spec("deviceName", "Device name", lambda d: kept(d.product.name_en, d.product.name), "name_en"),
    Spec("tradeName", "Trade name", lambda d: d.product.trade_name, "trade_name"),
    _not_kept("riskClass", "Risk class (EU MDR)",
              "EU MDR class (I, IIa, IIb, III): not kept in medtrace; the NMPA class differs",
              True),
    Spec("implantable", "Implantable", lambda d: d.product.implantable, "implantable", True),
    Spec("quantityOfDevice", "Quantity of device", lambda d: d.unit.quantity if d.unit else None,
         "identifiers (unit quantity)", True),
    Spec("unitOfUseUdiDi", "Unit of use UDI-DI", lambda d: "", "identifiers (unit DI)"),
    Spec("productionIdentifiers", "Type of UDI-PI",
         lambda d: [name for element, name in _EU_PI if d.pi(element)], "udi_pi_elements", True),
    Spec("directMarking", "Direct marking", lambda d: d.product.direct_marking,
         "direct_marking", True),
    Spec("directMarkingUdiDi", "Direct marking UDI-DI",
         lambda d: d.product.direct_marking_di if _dm_differs(d) else "", "direct_marking_di"),
    Spec("sterile", "Labelled as sterile", lambda d: d.product.sterile, "sterile", True),
    Spec("sterilisationBeforeUse", "Need for sterilisation before use",
         lambda d: d.product.sterilize_before_use, "sterilize_before_use", True),
    Spec("singleUse", "Labelled as single use", lambda d: d.product.single_use, "single_use",
         True),
    Spec("maxNumberOfReuses", "Maximum number of reuses", lambda d: d.product.max_reuses,
         "max_reuses"),
    _not_kept("containsLatex", "Containing latex", "latex labelling: not kept in medtrace", True),
    _not_kept("emdnCode", "EMDN code", "EU nomenclature (EMDN): not kept in medtrace", True),
    _not_kept("clinicalSizes", "Clinical sizes", "not kept in medtrace"),
    Spec("storageHandlingConditions", "Storage and handling conditions (text)",
         lambda d: d.product.storage_conditions, "storage_conditions"),
    _not_kept("criticalWarnings", "Critical warnings or contra-indications",
              "not kept in medtrace"),
    Spec("additionalDescription", "Additional product description",
         lambda d: d.product.description, "description"),
    _not_kept("websiteInformation", "Website for additional information",
              "not kept in medtrace"),
    Spec("marketStatus", "Status on the market",
         lambda d: "ON_THE_MARKET" if d.product.active else "NO_LONGER_PLACED_ON_THE_MARKET",
         "active", True),
)  # fmt: skip

EUDAMED = DiFormat(
    name="eudamed",
    title="EUDAMED UDI-DI records",
    standard="EU MDR 2017/745 Annex VI (UDI-DI data elements), EUDAMED UDI/Device module",
    specs=EUDAMED_SPECS,
    lists=(
        SubList(
            "packages",
            "Packages",
            (
                ("packageUdiDi", "Package UDI-DI"),
                ("quantity", "Quantity"),
                ("containsUdiDi", "Contains UDI-DI"),
            ),
            _eu_packages,
        ),
        SubList(
            "storageHandling",
            "Storage and handling",
            (
                ("conditionType", "Condition"),
                ("minimum", "Minimum"),
                ("maximum", "Maximum"),
                ("unit", "Unit"),
            ),
            _eu_storage,
        ),
    ),
    checks=(package_check,),
    key_field="udiDi",
)
