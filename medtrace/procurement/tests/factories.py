"""Procurement test data: the trace world with a qualified supplier and an incoming location."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from medtrace.masterdata import services as md_services
from medtrace.masterdata.models import Location, Party, PartyLicence
from medtrace.masterdata.tests import factories as md
from medtrace.procurement import services
from medtrace.procurement.models import GoodsReceipt, MaterialLot, PurchaseOrder
from medtrace.trace.tests.factories import World, world

_n = itertools.count(1)
COC = b"%PDF-1.4\n% Certificate of conformity\n"


@dataclass
class Proc:
    w: World
    incoming: Location
    licences: dict[str, PartyLicence]

    @property
    def supplier(self) -> Party:
        return self.w.supplier


def qualify(party: Party, *, iso_expires: date | None = None) -> dict[str, PartyLicence]:
    n = next(_n)
    far = timezone.localdate() + timedelta(days=3 * 365)
    out = {}
    for kind, number, expires in [
        ("business_licence", f"9131000{n:04d}MA1FL", None),
        ("production_licence", f"沪食药监械生产许2020{n:04d}号", far),
        ("iso13485", f"CN-13485-2024-{n:04d}", iso_expires or far),
    ]:
        out[kind] = md_services.licence_add(
            party=party,
            data={"kind": kind, "number": number, "expires_on": expires},
            user=None,
        )
    return out


def proc_world() -> Proc:
    w = world()
    licences = qualify(w.supplier)
    incoming = md.location(owner=w.maker, kind="warehouse", name="待检区 Incoming")
    return Proc(w, incoming, licences)


def purchase_order(
    p: Proc, lines: list[tuple[Any, Any]] | None = None, *, release: bool = True
) -> PurchaseOrder:
    lines = lines or [(p.w.resin, 100), (p.w.pump, 3)]
    return services.purchase_order_create(
        supplier=p.supplier,
        lines=[{"material_id": m.pk, "quantity": q} for m, q in lines],
        user=None,
        release=release,
    )


def receive(
    p: Proc,
    order: PurchaseOrder,
    lines: list[dict[str, Any]],
    *,
    coc: bytes = COC,
    user: Any = None,
) -> GoodsReceipt:
    return services.goods_receipt_create(
        order=order,
        location=p.incoming,
        lines=lines,
        coc_name="coc.pdf",
        coc_content=coc,
        coc_content_type="application/pdf",
        user=user,
    )


def accepted_lots(p: Proc) -> tuple[MaterialLot, list[MaterialLot]]:
    """A released PO received and fully accepted: the resin lot (100 EA) and 3 pump serials."""
    order = purchase_order(p)
    expiry = timezone.localdate() + timedelta(days=365)
    receive(
        p,
        order,
        [
            {"line": 1, "lot": "R-001", "quantity": 100, "expires_on": expiry},
            {"line": 2, "serials": ["P-1", "P-2", "P-3"]},
        ],
    )
    resin = MaterialLot.objects.get(identifier="R-001")
    services.inspection_record(lot=resin, accepted_qty=Decimal(100), user=None)
    pumps = list(MaterialLot.objects.filter(material=p.w.pump).order_by("identifier"))
    services.inspection_record_serials(receipt_line=pumps[0].receipt_line, user=None)
    resin.refresh_from_db()
    for lot in pumps:
        lot.refresh_from_db()
    return resin, pumps
