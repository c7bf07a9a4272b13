"""Master-data reads."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from medtrace.errors import ValidationFailed
from medtrace.lib import udi

from .models import Bom, BomLine, Location, Material, MaterialSupplier, Party, Product


def party_list(*, role: str | None = None, q: str | None = None) -> QuerySet[Party]:
    qs = Party.objects.prefetch_related("licences__scan")
    if role:
        qs = qs.filter(role=role)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(name_en__icontains=q) | Q(gln=q))
    return qs.order_by("name", "id")


def location_list(*, party_id: int | None = None, kind: str | None = None) -> QuerySet[Location]:
    qs = Location.objects.all()
    if party_id:
        qs = qs.filter(party_id=party_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("party_id", "code")


def product_list(*, q: str | None = None, active: bool | None = None) -> QuerySet[Product]:
    qs = Product.objects.select_related("manufacturer").prefetch_related("identifiers")
    if q:
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(name_en__icontains=q)
            | Q(model__icontains=q)
            | Q(nmpa_registration_no__icontains=q)
            | Q(identifiers__di=q)
        ).distinct()
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("name", "id")


def product_by_di(di: str) -> Product | None:
    return (
        Product.objects.select_related("manufacturer")
        .prefetch_related("identifiers")
        .filter(identifiers__di=di)
        .first()
    )


def material_list(*, q: str | None = None) -> QuerySet[Material]:
    qs = Material.objects.prefetch_related(
        Prefetch("sources", queryset=MaterialSupplier.objects.select_related("supplier"))
    )
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(name_en__icontains=q))
    return qs.order_by("code")


def bom_list(*, product_id: int | None = None) -> QuerySet[Bom]:
    qs = Bom.objects.prefetch_related(
        Prefetch("lines", queryset=BomLine.objects.select_related("material"))
    )
    if product_id:
        qs = qs.filter(product_id=product_id)
    return qs.order_by("product_id", "version")


def gcp_length_for(digits: str) -> int | None:
    """Company-prefix length for a GTIN/SSCC/GLN: from the product, else a party's prefix."""
    if len(digits) == 14:
        product = Product.objects.filter(identifiers__di=digits).only("gcp_length").first()
        if product and product.gcp_length:
            return product.gcp_length
    body = digits[1:] if len(digits) in (14, 18) else digits
    prefixes = Party.objects.exclude(gs1_company_prefix="").values_list(
        "gs1_company_prefix", flat=True
    )
    matches = [p for p in prefixes if body.startswith(p)]
    if matches:
        return max(len(p) for p in matches)
    # Otherwise GS1's published prefix-length table (as shipped with biip).
    return udi.gcp_length_for(digits)


def resolve_udi(text: str) -> tuple[udi.Identity, Product | None]:
    """Parse any identifier form (DESIGN §5) and find the product its DI belongs to.

    Raises ValidationFailed with the parser's exact reason for an invalid identifier.
    """
    try:
        identity = udi.parse(text, gcp_length=gcp_length_for)
    except udi.UdiError as exc:
        raise ValidationFailed(str(exc), field="udi", details={"ai": exc.field}) from exc
    product = product_by_di(identity.di) if identity.di else None
    return identity, product
