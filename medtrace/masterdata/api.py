"""Master-data endpoints: thin wrappers over services and selectors.

Partner users (DESIGN §9) read through ``medtrace.accounts.scoping``: their own Party and
Locations and the products of the units in their scope; materials and BOMs not at all. An object
outside that scope is 404 for reads and writes alike; writing an object in scope needs the
model permission like anyone else's (403).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate
from pydantic import Field

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination
from medtrace.errors import NotFound, PermissionDenied

from . import selectors, services
from .models import Bom, Location, Material, Party, PartyLicence, Product
from .schemas import (
    BomIn,
    BomLineIn,
    BomLineOut,
    BomOut,
    IdentifierIn,
    IdentifierOut,
    LicenceIn,
    LicenceOut,
    LocationIn,
    LocationOut,
    LocationPatch,
    MaterialIn,
    MaterialOut,
    MaterialPatch,
    MaterialSupplierIn,
    MaterialSupplierOut,
    PartyIn,
    PartyOut,
    PartyPatch,
    ProductIn,
    ProductOut,
    ProductPatch,
    StrictIn,
)

router = Router(tags=["master data"])


def _read(request: HttpRequest, model: str) -> None:
    require_scope(request, "masterdata:read")
    if scoping.is_partner(_actor(request)):
        return  # a partner reads its own scope (the querysets below), whatever its perms
    if not request.user.has_perm(f"masterdata.view_{model}"):
        raise PermissionDenied(f"Your role cannot view {model} records")


def _actor(request: HttpRequest) -> User:
    # Every route is authenticated (session or bearer token), so this is a real user.
    assert isinstance(request.user, User)
    return request.user


def _write(request: HttpRequest) -> None:
    require_scope(request, "masterdata:write")


def _parties(request: HttpRequest, qs: QuerySet[Party] | None = None) -> QuerySet[Party]:
    return scoping.scope_parties(_actor(request), Party.objects.all() if qs is None else qs)


def _locations(request: HttpRequest, qs: QuerySet[Location] | None = None) -> QuerySet[Location]:
    return scoping.scope_locations(_actor(request), Location.objects.all() if qs is None else qs)


def _products(request: HttpRequest, qs: QuerySet[Product] | None = None) -> QuerySet[Product]:
    return scoping.scope_products(_actor(request), Product.objects.all() if qs is None else qs)


def _materials(request: HttpRequest, qs: QuerySet[Material] | None = None) -> QuerySet[Material]:
    return scoping.unscoped_nothing(_actor(request), Material.objects.all() if qs is None else qs)


def _boms(request: HttpRequest, qs: QuerySet[Bom] | None = None) -> QuerySet[Bom]:
    return scoping.unscoped_nothing(_actor(request), Bom.objects.all() if qs is None else qs)


# Parties -------------------------------------------------------------------------------------


@router.get("/parties", response=list[PartyOut])
@paginate(Pagination)
def list_parties(request: HttpRequest, role: str | None = None, q: str | None = None):
    _read(request, "party")
    return _parties(request, selectors.party_list(role=role, q=q))


@router.post("/parties", response={201: PartyOut})
def create_party(request: HttpRequest, payload: PartyIn) -> Status:
    _write(request)
    data = payload.model_dump(exclude={"licences"})
    with transaction.atomic():
        party = services.party_create(data=data, user=_actor(request))
        for index, licence in enumerate(payload.licences):
            services.licence_add(
                party=party,
                data=licence.model_dump(),
                user=_actor(request),
                prefix=f"licences[{index}].",
            )
    return Status(201, party)


@router.get("/parties/{party_id}", response=PartyOut)
def get_party(request: HttpRequest, party_id: int) -> Party:
    _read(request, "party")
    return scoping.visible_or_404(
        _parties(request, Party.objects.prefetch_related("licences__scan")), "party", pk=party_id
    )


@router.patch("/parties/{party_id}", response=PartyOut)
def update_party(request: HttpRequest, party_id: int, payload: PartyPatch) -> Party:
    _write(request)
    party = scoping.visible_or_404(_parties(request), "party", pk=party_id)
    return services.party_update(
        party=party, data=payload.model_dump(exclude_unset=True), user=_actor(request)
    )


@router.post("/parties/{party_id}/licences", response={201: LicenceOut})
def add_licence(request: HttpRequest, party_id: int, payload: LicenceIn):
    _write(request)
    party = scoping.visible_or_404(_parties(request), "party", pk=party_id)
    licence = services.licence_add(party=party, data=payload.model_dump(), user=_actor(request))
    return Status(201, licence)


class LicencePatch(StrictIn):
    """A renewal (new number, dates) or a new scan; the kind of a licence never changes."""

    reason: str | None = Field(None, description="Why (recorded in the audit trail)")
    number: str | None = None
    issuer: str | None = None
    scope: str | None = None
    issued_on: date | None = None
    expires_on: date | None = None
    scan_id: int | None = Field(None, description="An uploaded attachment holding the scan")


@router.patch("/parties/{party_id}/licences/{licence_id}", response=LicenceOut)
def update_licence(
    request: HttpRequest, party_id: int, licence_id: int, payload: LicencePatch
) -> PartyLicence:
    _write(request)
    party = scoping.visible_or_404(_parties(request), "party", pk=party_id)
    licence = PartyLicence.objects.filter(party=party, pk=licence_id).first()
    if licence is None:
        raise NotFound(f"No licence {licence_id} of party {party_id}", details={"id": licence_id})
    return services.licence_update(
        licence=licence, data=payload.model_dump(exclude_unset=True), user=_actor(request)
    )


@router.delete("/parties/{party_id}", response={204: None})
def delete_party(request: HttpRequest, party_id: int) -> Status:
    """Delete a party entered by mistake; a referenced party answers 409 (deactivate it)."""
    _write(request)
    services.party_delete(
        party=scoping.visible_or_404(_parties(request), "party", pk=party_id), user=_actor(request)
    )
    return Status(204, None)


# Locations -----------------------------------------------------------------------------------


@router.get("/locations", response=list[LocationOut])
@paginate(Pagination)
def list_locations(
    request: HttpRequest,
    party_id: int | None = None,
    kind: str | None = None,
):
    _read(request, "location")
    return _locations(request, selectors.location_list(party_id=party_id, kind=kind))


@router.post("/locations", response={201: LocationOut})
def create_location(request: HttpRequest, payload: LocationIn):
    _write(request)
    location = services.location_create(data=payload.model_dump(), user=_actor(request))
    return Status(201, location)


@router.get("/locations/{location_id}", response=LocationOut)
def get_location(request: HttpRequest, location_id: int) -> Location:
    _read(request, "location")
    return scoping.visible_or_404(_locations(request), "location", pk=location_id)


@router.patch("/locations/{location_id}", response=LocationOut)
def update_location(request: HttpRequest, location_id: int, payload: LocationPatch) -> Location:
    _write(request)
    location = scoping.visible_or_404(_locations(request), "location", pk=location_id)
    return services.location_update(
        location=location, data=payload.model_dump(exclude_unset=True), user=_actor(request)
    )


@router.delete("/locations/{location_id}", response={204: None})
def delete_location(request: HttpRequest, location_id: int) -> Status:
    _write(request)
    location = scoping.visible_or_404(_locations(request), "location", pk=location_id)
    services.location_delete(location=location, user=_actor(request))
    return Status(204, None)


# Products ------------------------------------------------------------------------------------


@router.get("/products", response=list[ProductOut])
@paginate(Pagination)
def list_products(
    request: HttpRequest,
    q: str | None = None,
    active: bool | None = None,
):
    _read(request, "product")
    return _products(request, selectors.product_list(q=q, active=active))


@router.post("/products", response={201: ProductOut})
def create_product(request: HttpRequest, payload: ProductIn):
    _write(request)
    data = payload.model_dump(exclude={"identifiers"})
    identifiers = [i.model_dump() for i in payload.identifiers]
    product = services.product_create(data=data, identifiers=identifiers, user=_actor(request))
    return Status(201, selectors.product_list().get(pk=product.pk))


@router.get("/products/{product_id}", response=ProductOut)
def get_product(request: HttpRequest, product_id: int) -> Product:
    _read(request, "product")
    return scoping.visible_or_404(
        _products(request, selectors.product_list()), "product", pk=product_id
    )


@router.patch("/products/{product_id}", response=ProductOut)
def update_product(request: HttpRequest, product_id: int, payload: ProductPatch) -> Product:
    _write(request)
    product = scoping.visible_or_404(_products(request), "product", pk=product_id)
    services.product_update(
        product=product, data=payload.model_dump(exclude_unset=True), user=_actor(request)
    )
    return selectors.product_list().get(pk=product_id)


@router.post("/products/{product_id}/identifiers", response={201: IdentifierOut})
def add_identifier(request: HttpRequest, product_id: int, payload: IdentifierIn):
    _write(request)
    product = scoping.visible_or_404(_products(request), "product", pk=product_id)
    with transaction.atomic():
        identifier = services.identifier_add(
            product=product, data=payload.model_dump(), user=_actor(request)
        )
        services.check_identifier_set(product)
    return Status(201, identifier)


@router.delete("/products/{product_id}", response={204: None})
def delete_product(request: HttpRequest, product_id: int) -> Status:
    _write(request)
    product = scoping.visible_or_404(_products(request), "product", pk=product_id)
    services.product_delete(product=product, user=_actor(request))
    return Status(204, None)


# Materials -----------------------------------------------------------------------------------


@router.get("/materials", response=list[MaterialOut])
@paginate(Pagination)
def list_materials(request: HttpRequest, q: str | None = None):
    _read(request, "material")
    return _materials(request, selectors.material_list(q=q))


@router.post("/materials", response={201: MaterialOut})
def create_material(request: HttpRequest, payload: MaterialIn):
    _write(request)
    material = services.material_create(
        data=payload.model_dump(exclude={"suppliers"}),
        suppliers=[s.model_dump() for s in payload.suppliers],
        user=_actor(request),
    )
    return Status(201, selectors.material_list().get(pk=material.pk))


@router.get("/materials/{material_id}", response=MaterialOut)
def get_material(request: HttpRequest, material_id: int) -> Material:
    _read(request, "material")
    return scoping.visible_or_404(
        _materials(request, selectors.material_list()), "material", pk=material_id
    )


@router.patch("/materials/{material_id}", response=MaterialOut)
def update_material(request: HttpRequest, material_id: int, payload: MaterialPatch) -> Material:
    _write(request)
    material = scoping.visible_or_404(_materials(request), "material", pk=material_id)
    services.material_update(
        material=material, data=payload.model_dump(exclude_unset=True), user=_actor(request)
    )
    return selectors.material_list().get(pk=material_id)


@router.post("/materials/{material_id}/suppliers", response={201: MaterialSupplierOut})
def add_material_supplier(
    request: HttpRequest,
    material_id: int,
    payload: MaterialSupplierIn,
):
    _write(request)
    material = scoping.visible_or_404(_materials(request), "material", pk=material_id)
    source = services.material_supplier_add(
        material=material, data=payload.model_dump(), user=_actor(request)
    )
    return Status(201, source)


@router.delete("/materials/{material_id}", response={204: None})
def delete_material(request: HttpRequest, material_id: int) -> Status:
    _write(request)
    material = scoping.visible_or_404(_materials(request), "material", pk=material_id)
    services.material_delete(material=material, user=_actor(request))
    return Status(204, None)


# BOMs ----------------------------------------------------------------------------------------


@router.get("/boms", response=list[BomOut])
@paginate(Pagination)
def list_boms(request: HttpRequest, product_id: int | None = None):
    _read(request, "bom")
    return _boms(request, selectors.bom_list(product_id=product_id))


@router.post("/boms", response={201: BomOut})
def create_bom(request: HttpRequest, payload: BomIn):
    _write(request)
    product = scoping.visible_or_404(_products(request), "product", pk=payload.product_id)
    bom = services.bom_create(
        product=product,
        version=payload.version,
        lines=[line.model_dump() for line in payload.lines],
        note=payload.note,
        effective_from=payload.effective_from,
        user=_actor(request),
    )
    return Status(201, selectors.bom_list().get(pk=bom.pk))


@router.get("/boms/{bom_id}", response=BomOut)
def get_bom(request: HttpRequest, bom_id: int) -> Bom:
    _read(request, "bom")
    return scoping.visible_or_404(_boms(request, selectors.bom_list()), "BOM", pk=bom_id)


@router.post("/boms/{bom_id}/lines", response={201: BomLineOut})
def add_bom_line(request: HttpRequest, bom_id: int, payload: BomLineIn):
    _write(request)
    bom = scoping.visible_or_404(_boms(request), "BOM", pk=bom_id)
    line = services.bom_line_add(bom=bom, data=payload.model_dump(), user=_actor(request))
    return Status(201, line)


@router.post("/boms/{bom_id}/release", response=BomOut)
def release_bom(request: HttpRequest, bom_id: int) -> Bom:
    _write(request)
    bom = scoping.visible_or_404(_boms(request), "BOM", pk=bom_id)
    services.bom_release(bom=bom, user=_actor(request))
    return selectors.bom_list().get(pk=bom_id)


@router.delete("/boms/{bom_id}", response={204: None})
def delete_bom(request: HttpRequest, bom_id: int) -> Status:
    """Delete a draft BOM; released and obsolete versions are kept."""
    _write(request)
    services.bom_delete(
        bom=scoping.visible_or_404(_boms(request), "BOM", pk=bom_id), user=_actor(request)
    )
    return Status(204, None)
