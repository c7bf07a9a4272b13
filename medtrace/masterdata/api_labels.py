"""Identify any UDI, and render UDI labels (PNG/SVG)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from medtrace.api import require_scope

from . import labelling, selectors
from .models import Product

router = Router(tags=["identifiers and labels"])

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
    product = get_object_or_404(Product, pk=product_id)
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
