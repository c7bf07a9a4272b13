"""Identify any UDI, and render UDI labels (PNG/SVG).

A partner user (DESIGN §9) identifies any code, but learns the product only when it is in its
scope (``medtrace.accounts.scoping.scope_products``); a label of another product is 404.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.errors import NotFound

from . import labelling, selectors
from .models import Product

router = Router(tags=["identifiers and labels"])


def _visible(request: HttpRequest, product: Product | None) -> Product | None:
    """``product`` if the requesting user may see it (a partner: a product of its units)."""
    user = request.user if isinstance(request.user, User) else None
    if product is None or not scoping.is_partner(user):
        return product
    return scoping.scope_products(user, Product.objects.filter(pk=product.pk)).first()


_IMAGE_RESPONSES: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "The label image",
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            },
        }
    }
}


class ProductRef(Schema):
    id: int
    name: str
    model: str
    nmpa_registration_no: str
    tracking: str


class IdentityOut(Schema):
    scheme: str
    di: str | None
    gtin: str | None
    serial: str | None
    lot: str | None
    expiry: date | None
    manufactured: date | None
    sscc: str | None
    gln: str | None
    epc: str | None
    hri: str
    digital_link: str | None
    ais: list[tuple[str, str]]
    product: ProductRef | None


@router.get("/identify", response=IdentityOut)
def identify(request: HttpRequest, udi: str) -> dict[str, Any]:
    """Parse any identifier form (raw scan, element string, Digital Link, HIBC, EPC URN)."""
    require_scope(request, "masterdata:read")
    identity, product = selectors.resolve_udi(udi)
    product = _visible(request, product)
    hibc = identity.hibc
    return {
        "scheme": identity.scheme,
        "di": identity.di,
        "gtin": identity.gtin,
        "serial": identity.serial or (hibc.serial if hibc else None),
        "lot": identity.lot or (hibc.lot if hibc else None),
        "expiry": identity.expiry or (hibc.expiry if hibc else None),
        "manufactured": identity.manufactured or (hibc.manufactured if hibc else None),
        "sscc": identity.sscc,
        "gln": identity.gln,
        "epc": identity.epc,
        "hri": identity.hri(),
        "digital_link": identity.digital_link,
        "ais": list(identity.ais),
        "product": product,
    }


def _image(content: bytes, media_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=media_type)
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@router.get("/labels", openapi_extra=_IMAGE_RESPONSES)
def label_from_udi(
    request: HttpRequest,
    udi: str,
    symbology: Literal["datamatrix", "qr"] = "datamatrix",
    format: Literal["png", "svg"] = "png",
) -> HttpResponse:
    """Render the label for a UDI given in any form; its DI must belong to a product."""
    require_scope(request, "labels:read")
    identity, product = selectors.resolve_udi(udi)
    if product is not None and _visible(request, product) is None:
        # The same answer as an unknown DI (labelling.request_from_udi).
        raise NotFound(f"udi: DI {identity.di} belongs to no product in medtrace", field="udi")
    req = labelling.request_from_udi(udi, symbology=symbology)
    content, media_type = labelling.render(req, format)
    return _image(content, media_type, f"udi-label.{format}")


@router.get("/products/{product_id}/label", openapi_extra=_IMAGE_RESPONSES)
def product_label(
    request: HttpRequest,
    product_id: int,
    serial: str | None = None,
    lot: str | None = None,
    expiry: date | None = None,
    manufactured: date | None = None,
    packaging_level: Literal["unit", "pack", "case", "pallet"] = "unit",
    symbology: Literal["datamatrix", "qr"] = "datamatrix",
    format: Literal["png", "svg"] = "png",
) -> HttpResponse:
    """Render the label of one unit (serial) or lot of a product."""
    require_scope(request, "labels:read")
    product = scoping.visible_or_404(
        scoping.scope_products(
            request.user if isinstance(request.user, User) else None, Product.objects.all()
        ),
        "product",
        pk=product_id,
    )
    req = labelling.LabelRequest(
        product=product,
        serial=serial,
        lot=lot,
        expiry=expiry,
        manufactured=manufactured,
        packaging_level=packaging_level,
        symbology=symbology,
    )
    content, media_type = labelling.render(req, format)
    return _image(content, media_type, f"{product.model}-label.{format}")
