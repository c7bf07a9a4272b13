"""Master-data writes. Every write validates in full and runs in one transaction.

Deleting master data is not offered: records referenced by history must stay, so a record that is
no longer used is deactivated (`active=False`) instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.core.validation import save_validated, validation_failed_from
from medtrace.errors import Conflict, PermissionDenied, SequenceViolation, ValidationFailed

from .models import (
    Bom,
    BomLine,
    BomStatus,
    Location,
    Material,
    MaterialSupplier,
    Party,
    PartyLicence,
    Product,
    ProductIdentifier,
)


def _require(user: User | None, perm: str) -> None:
    # CLI and data migrations act as the system (user=None); people need the permission.
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied(f"You need the permission {perm!r} for this change")


def _reason(data: Mapping[str, Any], reason: str) -> tuple[dict[str, Any], str]:
    """Split the change's reason (a pseudo-field every change payload may carry) from the data."""
    values = dict(data)
    given = values.pop("reason", None)
    return values, (reason or str(given or "")).strip()


def _assign(instance: Any, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]}: unknown field; expected one of {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
    for key, value in data.items():
        if key.endswith("_id") and value is not None:
            related = instance._meta.get_field(key[:-3]).related_model
            if not related.objects.filter(pk=value).exists():
                raise ValidationFailed(
                    f"{key}: no {related._meta.verbose_name} with id {value}", field=key
                )
        setattr(instance, key, value)


PARTY_FIELDS = {
    "name",
    "name_en",
    "role",
    "gln",
    "gs1_company_prefix",
    "uscc",
    "country",
    "province",
    "city",
    "address",
    "postal_code",
    "contact_name",
    "contact_phone",
    "contact_email",
    "duns",
    "eudamed_srn",
    "active",
}
LICENCE_FIELDS = {"kind", "number", "issuer", "scope", "issued_on", "expires_on", "scan_id"}
LOCATION_FIELDS = {
    "party_id",
    "parent_id",
    "kind",
    "code",
    "name",
    "gln",
    "extension",
    "address",
    "active",
}
# The UDI database data of a product (exports to NMPA UDID, GUDID, EUDAMED).
UDI_DATA_FIELDS = (
    "trade_name",
    "catalog_number",
    "is_kit",
    "mri_safety",
    "sterilize_before_use",
    "sterilization_method",
    "max_reuses",
    "direct_marking",
    "direct_marking_di",
    "storage_conditions",
    "udi_published_on",
    "fda_product_code",
    "basic_udi_di",
)
PRODUCT_FIELDS = {
    "manufacturer_id",
    "name",
    "name_en",
    "model",
    "description",
    "issuing_agency",
    "gcp_length",
    "nmpa_registration_no",
    "risk_class",
    "implantable",
    "sterile",
    "single_use",
    "tracking",
    "shelf_life_days",
    "classification_code",
    "gmdn_code",
    "nhsa_code",
    "udi_pi_elements",
    *UDI_DATA_FIELDS,
    "active",
}
IDENTIFIER_FIELDS = {"packaging_level", "di", "quantity"}
MATERIAL_FIELDS = {
    "code",
    "name",
    "name_en",
    "kind",
    "tracking",
    "uom",
    "gtin",
    "gcp_length",
    "critical",
    "active",
}


def party_create(*, data: Mapping[str, Any], user: User | None) -> Party:
    _require(user, "masterdata.add_party")
    party = Party()
    _assign(party, data, PARTY_FIELDS)
    with transaction.atomic():
        save_validated(party)
        audit.record_create(party, user=user)
    return party


def party_update(
    *, party: Party, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> Party:
    _require(user, "masterdata.change_party")
    data, reason = _reason(data, reason)
    with transaction.atomic():
        party = Party.objects.select_for_update().get(pk=party.pk)
        before = audit.snapshot(party)
        if "role" in data and data["role"] != party.role and party.licences.exists():
            raise ValidationFailed(
                "role: cannot change the role of a party that holds licences; "
                "create a new party instead",
                field="role",
            )
        _assign(party, data, PARTY_FIELDS)
        save_validated(party)
        audit.record_update(party, before, user=user, reason=reason)
    return party


def licence_add(
    *, party: Party, data: Mapping[str, Any], user: User | None, prefix: str = ""
) -> PartyLicence:
    _require(user, "masterdata.add_partylicence")
    licence = PartyLicence(party=party)
    _assign(licence, data, LICENCE_FIELDS)
    with transaction.atomic():
        save_validated(licence, prefix=prefix)
        audit.record_create(licence, user=user)
    return licence


def licence_update(
    *, licence: PartyLicence, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> PartyLicence:
    """Change a licence (e.g. a renewal's new expiry date, or its scan: ``scan_id``)."""
    _require(user, "masterdata.change_partylicence")
    data, reason = _reason(data, reason)
    with transaction.atomic():
        licence = PartyLicence.objects.select_for_update().get(pk=licence.pk)
        before = audit.snapshot(licence)
        _assign(licence, data, LICENCE_FIELDS - {"kind"})
        save_validated(licence)
        audit.record_update(licence, before, user=user, reason=reason)
    return licence


def location_create(*, data: Mapping[str, Any], user: User | None) -> Location:
    _require(user, "masterdata.add_location")
    location = Location()
    _assign(location, data, LOCATION_FIELDS)
    with transaction.atomic():
        save_validated(location)
        audit.record_create(location, user=user)
    return location


def location_update(
    *, location: Location, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> Location:
    _require(user, "masterdata.change_location")
    data, reason = _reason(data, reason)
    if "party_id" in data and data["party_id"] != location.party_id:
        raise ValidationFailed(
            "party_id: a location cannot move to another party", field="party_id"
        )
    with transaction.atomic():
        location = Location.objects.select_for_update().get(pk=location.pk)
        before = audit.snapshot(location)
        _assign(location, data, LOCATION_FIELDS)
        save_validated(location)
        audit.record_update(location, before, user=user, reason=reason)
    return location


def product_create(
    *, data: Mapping[str, Any], identifiers: Sequence[Mapping[str, Any]], user: User | None
) -> Product:
    """Create a device model with its DIs; all of it is stored, or none of it."""
    _require(user, "masterdata.add_product")
    if not identifiers:
        raise ValidationFailed(
            "identifiers: a product needs at least its base-unit DI (packaging_level 'unit')",
            field="identifiers",
        )
    product = Product()
    _assign(product, data, PRODUCT_FIELDS)
    with transaction.atomic():
        save_validated(product)
        audit.record_create(product, user=user)
        for index, item in enumerate(identifiers):
            identifier_add(
                product=product, data=item, user=user, prefix=f"identifiers[{index}].", check=False
            )
        check_identifier_set(product)
    return product


def product_update(
    *, product: Product, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> Product:
    _require(user, "masterdata.change_product")
    data, reason = _reason(data, reason)
    frozen = {"issuing_agency", "tracking", "manufacturer_id"} & set(data)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        before = audit.snapshot(product)
        for field in sorted(frozen):
            if data[field] != getattr(product, field):
                # Changing these changes what every existing UDI of the product means.
                raise ValidationFailed(
                    f"{field}: cannot be changed once the product exists; a different "
                    "identification scheme or tracking mode is a new device model with new DIs",
                    field=field,
                )
        _assign(product, data, PRODUCT_FIELDS)
        save_validated(product)
        audit.record_update(product, before, user=user, reason=reason)
    return product


def identifier_add(
    *,
    product: Product,
    data: Mapping[str, Any],
    user: User | None,
    prefix: str = "",
    check: bool = True,
) -> ProductIdentifier:
    if check:
        _require(user, "masterdata.add_productidentifier")
    identifier = ProductIdentifier(product=product)
    _assign(identifier, data, IDENTIFIER_FIELDS)
    with transaction.atomic():
        _normalise_di(identifier, prefix=prefix)
        if ProductIdentifier.objects.filter(di=identifier.di).exists():
            owner = ProductIdentifier.objects.select_related("product").get(di=identifier.di)
            raise ValidationFailed(
                f"{prefix}di: DI {identifier.di} is already used by {owner.product}",
                field=f"{prefix}di",
                details=[
                    {"field": f"{prefix}di", "code": "duplicate_di", "message": "DI already in use"}
                ],
            )
        save_validated(identifier, prefix=prefix)
        audit.record_create(identifier, user=user)
    return identifier


def _normalise_di(identifier: ProductIdentifier, *, prefix: str) -> None:
    # Run clean() before the uniqueness check so "00844588003288" and "844588003288" collide.
    try:
        identifier.clean()
    except ValidationError as exc:
        raise validation_failed_from(exc, prefix=prefix) from exc


def identifier_levels_problem(levels: Sequence[tuple[str, int]]) -> str | None:
    """What is wrong with a product's DI set, given as (packaging level, base units) pairs:
    it needs a base-unit DI, and each higher level a whole multiple of the one below it."""
    if not any(level == "unit" for level, _ in levels):
        return "a product needs a base-unit DI (packaging_level 'unit')"
    order = ["unit", "pack", "case", "pallet"]
    ranked = sorted(levels, key=lambda lq: order.index(lq[0]))
    for (lower, lower_qty), (higher, higher_qty) in itertools.pairwise(ranked):
        if higher_qty <= lower_qty or higher_qty % lower_qty:
            return (
                f"a {higher} holds {higher_qty} units, which is not a whole multiple above the "
                f"{lower}'s {lower_qty}"
            )
    return None


def check_identifier_set(product: Product) -> None:
    levels = list(product.identifiers.values_list("packaging_level", "quantity"))
    problem = identifier_levels_problem(levels)
    if problem is not None:
        raise ValidationFailed(f"identifiers: {problem}", field="identifiers")


def material_create(
    *, data: Mapping[str, Any], suppliers: Sequence[Mapping[str, Any]] = (), user: User | None
) -> Material:
    _require(user, "masterdata.add_material")
    material = Material()
    _assign(material, data, MATERIAL_FIELDS)
    with transaction.atomic():
        save_validated(material)
        audit.record_create(material, user=user)
        for index, item in enumerate(suppliers):
            material_supplier_add(
                material=material,
                data=item,
                user=user,
                prefix=f"suppliers[{index}].",
                check=False,
            )
    return material


def material_update(
    *, material: Material, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> Material:
    _require(user, "masterdata.change_material")
    data, reason = _reason(data, reason)
    with transaction.atomic():
        material = Material.objects.select_for_update().get(pk=material.pk)
        before = audit.snapshot(material)
        if (
            "tracking" in data
            and data["tracking"] != material.tracking
            and material.bom_lines.exists()
        ):
            raise ValidationFailed(
                "tracking: cannot change the tracking mode of a material used in a BOM",
                field="tracking",
            )
        _assign(material, data, MATERIAL_FIELDS)
        save_validated(material)
        audit.record_update(material, before, user=user, reason=reason)
    return material


def material_supplier_add(
    *,
    material: Material,
    data: Mapping[str, Any],
    user: User | None,
    prefix: str = "",
    check: bool = True,
) -> MaterialSupplier:
    if check:
        _require(user, "masterdata.add_materialsupplier")
    source = MaterialSupplier(material=material)
    _assign(source, data, {"supplier_id", "supplier_part_no", "approved"})
    with transaction.atomic():
        save_validated(source, prefix=prefix)
        audit.record_create(source, user=user)
    return source


def bom_create(
    *,
    product: Product,
    version: str,
    lines: Sequence[Mapping[str, Any]],
    note: str = "",
    effective_from: Any = None,
    user: User | None,
) -> Bom:
    _require(user, "masterdata.add_bom")
    if not lines:
        raise ValidationFailed("lines: a BOM needs at least one component line", field="lines")
    with transaction.atomic():
        bom = Bom(product=product, version=version, note=note, effective_from=effective_from)
        save_validated(bom)
        audit.record_create(bom, user=user)
        for index, item in enumerate(lines):
            line = BomLine(bom=bom)
            _assign(line, item, {"material_id", "quantity", "position"})
            save_validated(line, prefix=f"lines[{index}].")
            audit.record_create(line, user=user)
    return bom


def bom_release(*, bom: Bom, user: User | None, reason: str = "") -> Bom:
    """Release a draft BOM; the previously released version of the product becomes obsolete.

    The release itself is the reason for the change unless the caller gives one; an
    e-signature (meaning "released") is applied separately by whoever approves it.
    """
    _require(user, "masterdata.change_bom")
    reason = reason.strip() or f"BOM {bom.version} released"
    with transaction.atomic():
        bom = Bom.objects.select_for_update().get(pk=bom.pk)
        if bom.status != BomStatus.DRAFT:
            raise SequenceViolation(
                f"BOM {bom.version} is {bom.status}; only a draft BOM can be released",
                field="status",
            )
        if not bom.lines.exists():
            raise ValidationFailed("lines: cannot release an empty BOM", field="lines")
        for previous in Bom.objects.select_for_update().filter(
            product=bom.product, status=BomStatus.RELEASED
        ):
            before = audit.snapshot(previous)
            previous.status = BomStatus.OBSOLETE
            previous.save(update_fields=["status"])
            audit.record_update(
                previous, before, user=user, reason=f"superseded by BOM {bom.version}"
            )
        before = audit.snapshot(bom)
        bom.status = BomStatus.RELEASED
        bom.released_at = timezone.now()
        bom.save(update_fields=["status", "released_at"])
        audit.record_update(bom, before, user=user, reason=reason)
    return bom


def bom_line_add(*, bom: Bom, data: Mapping[str, Any], user: User | None) -> BomLine:
    _require(user, "masterdata.add_bomline")
    with transaction.atomic():
        bom = Bom.objects.select_for_update().get(pk=bom.pk)
        if bom.status != BomStatus.DRAFT:
            raise Conflict(
                f"BOM {bom.version} is {bom.status} and frozen; create a new version to change it",
                field="bom",
            )
        line = BomLine(bom=bom)
        _assign(line, data, {"material_id", "quantity", "position"})
        save_validated(line)
        audit.record_create(line, user=user)
    return line


def _delete_unreferenced(instance: Any, *, user: User | None, reason: str = "") -> None:
    """Delete a master record created by mistake; anything already referenced must stay.

    Records that other records (or, later, ledger events) point to are protected by the
    database (on_delete=PROTECT); those are deactivated with `active=False` instead.
    """
    before, pk = audit.snapshot(instance), instance.pk
    try:
        with transaction.atomic():
            instance.delete()
            # Checked after the delete, inside its transaction: a referenced record answers
            # 409 (deactivate it) whatever the reason.
            audit.record_delete(instance, before, object_id=pk, user=user, reason=reason)
    except ProtectedError as exc:
        kinds = sorted({str(obj._meta.verbose_name) for obj in exc.protected_objects})
        raise Conflict(
            f"{instance._meta.verbose_name} {instance} is referenced by "
            f"{', '.join(str(k) for k in kinds)}; deactivate it (active=false) instead",
            details={"referenced_by": [str(k) for k in kinds]},
        ) from exc


def party_delete(*, party: Party, user: User | None, reason: str = "") -> None:
    _require(user, "masterdata.delete_party")
    _delete_unreferenced(party, user=user, reason=reason)


def location_delete(*, location: Location, user: User | None, reason: str = "") -> None:
    _require(user, "masterdata.delete_location")
    _delete_unreferenced(location, user=user, reason=reason)


def material_delete(*, material: Material, user: User | None, reason: str = "") -> None:
    _require(user, "masterdata.delete_material")
    _delete_unreferenced(material, user=user, reason=reason)


def product_delete(*, product: Product, user: User | None, reason: str = "") -> None:
    """Delete a product with its DIs, if nothing else refers to it yet."""
    _require(user, "masterdata.delete_product")
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        if product.boms.exists():
            raise Conflict(
                f"product {product} has BOMs; deactivate it (active=false) instead",
                details={"referenced_by": ["BOM"]},
            )
        reason = audit.require_reason(product, reason, action="delete")
        for identifier in product.identifiers.all():
            before, pk = audit.snapshot(identifier), identifier.pk
            identifier.delete()
            audit.record_delete(identifier, before, object_id=pk, user=user, reason=reason)
        _delete_unreferenced(product, user=user, reason=reason)


def bom_delete(*, bom: Bom, user: User | None, reason: str = "") -> None:
    """Only a draft BOM may be deleted; a released one is part of the device history."""
    _require(user, "masterdata.delete_bom")
    with transaction.atomic():
        bom = Bom.objects.select_for_update().get(pk=bom.pk)
        if bom.status != BomStatus.DRAFT:
            raise Conflict(
                f"BOM {bom.version} is {bom.status}; only a draft BOM can be deleted",
                field="status",
            )
        reason = audit.require_reason(bom, reason, action="delete")
        for line in bom.lines.all():
            before, pk = audit.snapshot(line), line.pk
            line.delete()
            audit.record_delete(line, before, object_id=pk, user=user, reason=reason)
        before, pk = audit.snapshot(bom), bom.pk
        bom.delete()
        audit.record_delete(bom, before, object_id=pk, user=user, reason=reason)
