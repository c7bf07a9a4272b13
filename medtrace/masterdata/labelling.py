"""UDI labels for a unit or lot of a product: what goes on the label, checked against the product.

The label carries exactly the UDI-PI elements the product declares (DESIGN §5): a missing one is
an error, and so is an extra one, because a label that differs from the registered UDI format is
a labelling nonconformity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from medtrace.errors import NotFound, ValidationFailed
from medtrace.lib import labels, udi

from . import selectors
from .models import IssuingAgency, PackagingLevel, Product

Symbology = Literal["datamatrix", "qr"]
ImageFormat = Literal["png", "svg"]

DL_RESOLVER = "https://id.gs1.org"


@dataclass(frozen=True)
class LabelRequest:
    product: Product
    serial: str | None = None
    lot: str | None = None
    expiry: date | None = None
    manufactured: date | None = None
    packaging_level: str = PackagingLevel.UNIT
    symbology: Symbology = "datamatrix"


def _check_pi(req: LabelRequest) -> date | None:
    product = req.product
    elements = set(product.udi_pi_elements)
    values = {
        "serial": req.serial,
        "lot": req.lot,
        "expiry": req.expiry,
        "manufactured": req.manufactured,
    }
    expiry = req.expiry
    if expiry is None and "expiry" in elements and req.manufactured and product.shelf_life_days:
        # Expiry follows from the manufacturing date and the registered shelf life.
        expiry = req.manufactured + timedelta(days=product.shelf_life_days)
        values["expiry"] = expiry
    for name in ("lot", "serial", "expiry", "manufactured"):
        if name in elements and not values[name]:
            hint = (
                " (or give manufactured, to derive it from the shelf life)"
                if name == "expiry" and product.shelf_life_days
                else ""
            )
            raise ValidationFailed(
                f"{name}: required, because the UDI-PI of {product} carries "
                f"{', '.join(product.udi_pi_elements)}{hint}",
                field=name,
            )
        if name not in elements and values[name]:
            raise ValidationFailed(
                f"{name}: {product} labels do not carry a {name}; its UDI-PI is "
                f"{', '.join(product.udi_pi_elements)}",
                field=name,
            )
    if req.manufactured and expiry and expiry <= req.manufactured:
        raise ValidationFailed("expiry: must be after the manufacturing date", field="expiry")
    return expiry


def label_spec(req: LabelRequest) -> tuple[labels.LabelSpec, udi.Identity]:
    product = req.product
    identifier = product.identifiers.filter(packaging_level=req.packaging_level).first()
    if identifier is None:
        raise ValidationFailed(
            f"packaging_level: {product} has no DI for packaging level {req.packaging_level!r}",
            field="packaging_level",
        )
    expiry = _check_pi(req)
    try:
        if product.issuing_agency == IssuingAgency.HIBCC:
            if req.symbology == "qr":
                raise ValidationFailed(
                    "symbology: HIBC products are labelled with a DataMatrix; GS1 Digital Link QR "
                    "needs a GTIN",
                    field="symbology",
                )
            data = udi.build_hibc(
                lic=identifier.hibc_lic,
                pcn=identifier.hibc_pcn,
                uom=identifier.hibc_uom,
                lot=req.lot,
                serial=req.serial,
                expiry=expiry,
                manufactured=req.manufactured,
            )
            identity = udi.parse(data)
            symbology: labels.Symbology = "hibc-datamatrix"
        else:
            data = udi.build_element_string(
                gtin=identifier.di,
                serial=req.serial,
                lot=req.lot,
                expiry=expiry,
                manufactured=req.manufactured,
            )
            identity = udi.parse(data, gcp_length=product.gcp_length)
            if req.symbology == "qr":
                data = identity.digital_link_uri(DL_RESOLVER)
                symbology = "gs1-dl-qr"
            else:
                symbology = "gs1-datamatrix"
    except udi.UdiError as exc:
        raise ValidationFailed(str(exc), field=exc.field) from exc
    lines = [f"注册证号/备案号 {product.nmpa_registration_no}", f"REF {product.model}"]
    spec = labels.LabelSpec(
        data=data, symbology=symbology, hri=identity.hri(), title=product.name, lines=lines
    )
    return spec, identity


def render(req: LabelRequest, fmt: ImageFormat) -> tuple[bytes, str]:
    """Render the label, returning (content, media type)."""
    spec, _identity = label_spec(req)
    try:
        if fmt == "svg":
            return labels.render_svg(spec).encode(), "image/svg+xml"
        return labels.render_png(spec), "image/png"
    except labels.LabelError as exc:
        raise ValidationFailed(str(exc), field="data") from exc


def request_from_udi(text: str, *, symbology: Symbology = "datamatrix") -> LabelRequest:
    """Build a label request from any UDI form; its DI must belong to a known product."""
    identity, product = selectors.resolve_udi(text)
    if product is None:
        raise NotFound(f"udi: DI {identity.di} belongs to no product in medtrace", field="udi")
    level = product.identifiers.get(di=identity.di).packaging_level
    hibc = identity.hibc
    return LabelRequest(
        product=product,
        serial=identity.serial or (hibc.serial if hibc else None),
        lot=identity.lot or (hibc.lot if hibc else None),
        expiry=identity.expiry or (hibc.expiry if hibc else None),
        manufactured=identity.manufactured or (hibc.manufactured if hibc else None),
        packaging_level=level,
        symbology=symbology,
    )
