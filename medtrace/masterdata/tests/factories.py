"""Small factories for master data: valid by default, override what a test is about."""

from __future__ import annotations

import itertools
from typing import Any

from medtrace.lib import udi
from medtrace.masterdata import services
from medtrace.masterdata.models import Bom, Location, Material, Party, Product

_seq = itertools.count(1)


def gln(prefix: str, ref: int = 0) -> str:
    body = prefix + str(ref).rjust(12 - len(prefix), "0")
    return body + udi.gs1_check_digit(body)


def gtin(prefix: str, item: int, indicator: str = "0") -> str:
    body = indicator + prefix + str(item).rjust(12 - len(prefix), "0")
    return body + udi.gs1_check_digit(body)


def party(*, role: str = "manufacturer", prefix: str | None = None, **extra: Any) -> Party:
    n = next(_seq)
    prefix = prefix or f"69{n:05d}"
    data = {"name": f"Party {n}", "role": role, "gln": gln(prefix), "gs1_company_prefix": prefix}
    data.update(extra)
    return services.party_create(data=data, user=None)


def product(
    *,
    manufacturer: Party | None = None,
    tracking: str = "serial",
    identifiers: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Product:
    manufacturer = manufacturer or party()
    n = next(_seq)
    data: dict[str, Any] = {
        "manufacturer_id": manufacturer.pk,
        "name": f"Device {n}",
        "model": f"M-{n}",
        "nmpa_registration_no": "国械注准20203140123",
        "risk_class": "II",
        "tracking": tracking,
        "udi_pi_elements": ["serial"] if tracking == "serial" else ["lot", "expiry"],
        "shelf_life_days": None if tracking == "serial" else 365,
    }
    data.update(extra)
    if identifiers is None:
        identifiers = [{"packaging_level": "unit", "di": gtin(manufacturer.gs1_company_prefix, n)}]
    return services.product_create(data=data, identifiers=identifiers, user=None)


def location(*, owner: Party, kind: str = "site", ref: int | None = None, **extra: Any) -> Location:
    n = next(_seq)
    data = {
        "party_id": owner.pk,
        "kind": kind,
        "code": f"L{n}",
        "name": f"Location {n}",
        "gln": gln(owner.gs1_company_prefix, ref if ref is not None else n),
    }
    data.update(extra)
    return services.location_create(data=data, user=None)


def material(*, tracking: str = "lot", **extra: Any) -> Material:
    n = next(_seq)
    data = {
        "code": f"MAT-{n}",
        "name": f"Material {n}",
        "kind": "component",
        "tracking": tracking,
        "uom": "EA",
    }
    data.update(extra)
    return services.material_create(data=data, user=None)


def bom(*, product_: Product, lines: list[tuple[Material, str]], version: str = "A") -> Bom:
    return services.bom_create(
        product=product_,
        version=version,
        lines=[{"material_id": m.pk, "quantity": q} for m, q in lines],
        user=None,
    )
