"""API schemas for master data. Inputs forbid unknown fields: nothing is silently dropped."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from ninja import Schema
from pydantic import ConfigDict, Field


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class LicenceIn(StrictIn):
    kind: str = Field(
        description="business_licence, production_licence, production_filing, "
        "distribution_licence, distribution_filing, medical_institution_licence "
        "or iso13485"
    )
    number: str
    issuer: str = ""
    scope: str = ""
    issued_on: date | None = None
    expires_on: date | None = None
    scan_id: int | None = Field(
        None, description="An uploaded attachment holding the certificate scan"
    )


class LicenceOut(Schema):
    id: int
    kind: str
    number: str
    issuer: str
    scope: str
    issued_on: date | None
    expires_on: date | None
    scan_id: int | None
    scan_sha256: str | None = Field(None, description="SHA-256 of the scan file")

    @staticmethod
    def resolve_scan_sha256(obj: object) -> str | None:
        scan = getattr(obj, "scan", None)
        return scan.sha256 if scan is not None else None


class PartyIn(StrictIn):
    name: str
    role: str = Field(
        description="manufacturer, supplier, distributor, hospital, carrier or service_provider"
    )
    name_en: str = ""
    gln: str = Field("", description="13-digit GLN with a valid check digit")
    gs1_company_prefix: str = ""
    uscc: str = Field("", description="统一社会信用代码, 18 characters")
    country: str = "CN"
    province: str = ""
    city: str = ""
    address: str = ""
    postal_code: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    duns: str = Field("", description="9-digit D-U-N-S number (FDA GUDID labeler)")
    eudamed_srn: str = Field("", description="EUDAMED single registration number")
    licences: list[LicenceIn] = []


class PartyPatch(StrictIn):
    reason: str | None = Field(
        None,
        description="Why the record changes (recorded in the audit trail); required for "
        "regulated records: products, materials and their DIs, licences and sources",
    )
    name: str | None = None
    name_en: str | None = None
    role: str | None = None
    gln: str | None = None
    gs1_company_prefix: str | None = None
    uscc: str | None = None
    country: str | None = None
    province: str | None = None
    city: str | None = None
    address: str | None = None
    postal_code: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    duns: str | None = None
    eudamed_srn: str | None = None
    active: bool | None = None


class PartyOut(Schema):
    id: int
    name: str
    name_en: str
    role: str
    gln: str
    gs1_company_prefix: str
    uscc: str
    country: str
    province: str
    city: str
    address: str
    postal_code: str
    contact_name: str
    contact_phone: str
    contact_email: str
    duns: str
    eudamed_srn: str
    active: bool
    licences: list[LicenceOut]
    created_at: datetime
    updated_at: datetime


class LocationIn(StrictIn):
    party_id: int
    kind: str = Field(description="site, warehouse, bin, production_line or hospital_department")
    code: str
    name: str
    gln: str
    extension: str = "0"
    parent_id: int | None = None
    address: str = ""


class LocationPatch(StrictIn):
    reason: str | None = Field(
        None,
        description="Why the record changes (recorded in the audit trail); required for "
        "regulated records: products, materials and their DIs, licences and sources",
    )
    name: str | None = None
    code: str | None = None
    parent_id: int | None = None
    gln: str | None = None
    extension: str | None = None
    address: str | None = None
    active: bool | None = None


class LocationOut(Schema):
    id: int
    party_id: int
    parent_id: int | None
    kind: str
    code: str
    name: str
    gln: str
    extension: str
    sgln: str
    address: str
    active: bool


class IdentifierIn(StrictIn):
    packaging_level: str = Field(description="unit, pack, case or pallet")
    di: str = Field(description="GTIN (8/12/13/14 digits, stored as 14) or HIBC LIC+PCN+UoM")
    quantity: int = 1


class IdentifierOut(Schema):
    id: int
    packaging_level: str
    di: str
    quantity: int


class ProductIn(StrictIn):
    manufacturer_id: int
    name: str
    model: str
    nmpa_registration_no: str
    risk_class: str = Field(description="I, II or III")
    tracking: str = Field(description="serial or lot")
    identifiers: list[IdentifierIn]
    udi_pi_elements: list[str] = Field(description="subset of lot, serial, expiry, manufactured")
    name_en: str = ""
    description: str = ""
    issuing_agency: str = Field("gs1", description="gs1 or hibcc")
    gcp_length: int | None = None
    implantable: bool = False
    sterile: bool = False
    single_use: bool = False
    shelf_life_days: int | None = None
    classification_code: str = ""
    gmdn_code: str = ""
    nhsa_code: str = ""
    trade_name: str = ""
    catalog_number: str = ""
    is_kit: bool | None = None
    mri_safety: str = Field(
        "", description="mr_safe, mr_conditional, mr_unsafe, not_labelled, or empty"
    )
    sterilize_before_use: bool | None = None
    sterilization_method: str = ""
    max_reuses: int | None = None
    direct_marking: bool | None = None
    direct_marking_di: str = ""
    storage_conditions: str = ""
    udi_published_on: date | None = None
    fda_product_code: str = ""
    basic_udi_di: str = ""


class ProductPatch(StrictIn):
    reason: str | None = Field(
        None,
        description="Why the record changes (recorded in the audit trail); required for "
        "regulated records: products, materials and their DIs, licences and sources",
    )
    name: str | None = None
    name_en: str | None = None
    model: str | None = None
    description: str | None = None
    nmpa_registration_no: str | None = None
    risk_class: str | None = None
    gcp_length: int | None = None
    implantable: bool | None = None
    sterile: bool | None = None
    single_use: bool | None = None
    shelf_life_days: int | None = None
    classification_code: str | None = None
    gmdn_code: str | None = None
    nhsa_code: str | None = None
    udi_pi_elements: list[str] | None = None
    active: bool | None = None
    issuing_agency: str | None = None
    tracking: str | None = None
    trade_name: str | None = None
    catalog_number: str | None = None
    is_kit: bool | None = None
    mri_safety: str | None = None
    sterilize_before_use: bool | None = None
    sterilization_method: str | None = None
    max_reuses: int | None = None
    direct_marking: bool | None = None
    direct_marking_di: str | None = None
    storage_conditions: str | None = None
    udi_published_on: date | None = None
    fda_product_code: str | None = None
    basic_udi_di: str | None = None


class ProductOut(Schema):
    id: int
    manufacturer_id: int
    manufacturer_name: str = Field(alias="manufacturer.name")
    name: str
    name_en: str
    model: str
    description: str
    issuing_agency: str
    gcp_length: int | None
    nmpa_registration_no: str
    registration_kind: str
    risk_class: str
    implantable: bool
    sterile: bool
    single_use: bool
    tracking: str
    shelf_life_days: int | None
    classification_code: str
    gmdn_code: str
    nhsa_code: str
    udi_pi_elements: list[str]
    trade_name: str
    catalog_number: str
    is_kit: bool | None
    mri_safety: str
    sterilize_before_use: bool | None
    sterilization_method: str
    max_reuses: int | None
    direct_marking: bool | None
    direct_marking_di: str
    storage_conditions: str
    udi_published_on: date | None
    fda_product_code: str
    basic_udi_di: str
    active: bool
    identifiers: list[IdentifierOut]


class MaterialSupplierIn(StrictIn):
    supplier_id: int
    supplier_part_no: str = ""
    approved: bool = True


class MaterialSupplierOut(Schema):
    supplier_id: int
    supplier_name: str = Field(alias="supplier.name")
    supplier_part_no: str
    approved: bool


class MaterialIn(StrictIn):
    code: str
    name: str
    kind: str = Field(description="component, raw_material, subassembly or packaging")
    tracking: str = Field(description="serial or lot")
    name_en: str = ""
    uom: str = "EA"
    gtin: str = ""
    gcp_length: int | None = None
    critical: bool = False
    suppliers: list[MaterialSupplierIn] = []


class MaterialPatch(StrictIn):
    reason: str | None = Field(
        None,
        description="Why the record changes (recorded in the audit trail); required for "
        "regulated records: products, materials and their DIs, licences and sources",
    )
    name: str | None = None
    name_en: str | None = None
    kind: str | None = None
    tracking: str | None = None
    uom: str | None = None
    gtin: str | None = None
    gcp_length: int | None = None
    critical: bool | None = None
    active: bool | None = None


class MaterialOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    kind: str
    tracking: str
    uom: str
    gtin: str
    gcp_length: int | None
    critical: bool
    active: bool
    sources: list[MaterialSupplierOut]


class BomLineIn(StrictIn):
    material_id: int
    quantity: Decimal = Field(gt=0)
    position: str = ""


class BomLineOut(Schema):
    id: int
    material_id: int
    material_code: str = Field(alias="material.code")
    quantity: Decimal
    position: str


class BomIn(StrictIn):
    product_id: int
    version: str
    lines: list[BomLineIn]
    note: str = ""
    effective_from: date | None = None


class BomOut(Schema):
    id: int
    product_id: int
    version: str
    status: str
    effective_from: date | None
    note: str
    released_at: datetime | None
    lines: list[BomLineOut]
