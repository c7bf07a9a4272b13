"""The material stock as production sees it: resolve a scanned component, consume it.

Procurement owns the material stock (goods receipts, incoming inspection, ``MaterialLot``) and
publishes two calls that this module wraps:

- ``medtrace.procurement.selectors.material_lot_resolve(text, *, material=None) -> MaterialLot``
- ``medtrace.procurement.services.material_consume(*, items, user, reference) -> None``
  (refuses not-inspected, rejected, expired, held or insufficient stock, in the caller's
  transaction).

Until those exist (the apps are built in parallel), ``material_resolve`` falls back to reading
the scan itself (GTIN + lot/serial, or a ``urn:medtrace:lot|serial:<part number>:...`` URN) and
``material_consume`` records nothing: no stock is checked. ``procurement_available()`` says
which mode is in force; the DHR reports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from medtrace.accounts.models import User
from medtrace.errors import NotFound
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Material, Party, TrackingMode
from medtrace.masterdata.selectors import gcp_length_for


@dataclass
class MaterialRef:
    """A scanned component lot or serial, as production records it."""

    material: Material
    tracking: str  # "lot" or "serial" (TrackingMode)
    identifier: str  # the lot or serial number
    epc: str  # lot class URN or instance EPC, as the ledger names it
    supplier: Party | None = None
    expiry: date | None = None
    lot: Any = None  # procurement's MaterialLot, when procurement resolved the scan
    source_work_order: Any = None  # a sub-assembly made in-house: the WorkOrder that made it

    @property
    def is_serial(self) -> bool:
        return self.tracking == TrackingMode.SERIAL


def _procurement(name: str) -> Callable[..., Any] | None:
    module, _dot, attr = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None
    return found if callable(found) else None


def procurement_available() -> bool:
    """Whether procurement's stock calls exist (else scans are read without stock checks)."""
    return (
        _procurement("medtrace.procurement.selectors.material_lot_resolve") is not None
        and _procurement("medtrace.procurement.services.material_consume") is not None
    )


def _supplier_of(lot: Any) -> Party | None:
    for path in (
        "supplier",
        "receipt.supplier",
        "goods_receipt.supplier",
        "receipt_line.receipt.supplier",
    ):
        value: Any = lot
        for part in path.split("."):
            value = getattr(value, part, None)
            if value is None:
                break
        if isinstance(value, Party):
            return value
    return None


def _from_lot(lot: Any) -> MaterialRef:
    material = lot.material
    tracking = str(getattr(lot, "tracking", "") or material.tracking)
    identifier = str(lot.identifier)
    epc = getattr(lot, "epc", "") or (
        ev.material_serial_epc(material, identifier)
        if tracking == TrackingMode.SERIAL
        else ev.material_lot_class(material, identifier)
    )
    return MaterialRef(
        material=material,
        tracking=tracking,
        identifier=identifier,
        epc=epc,
        supplier=_supplier_of(lot),
        expiry=getattr(lot, "expires_on", None) or getattr(lot, "expiry", None),
        lot=lot,
    )


def _from_scan(text: str, material: Material | None) -> MaterialRef | None:
    """Read a component scan without procurement: GTIN + lot/serial, or our private URN."""
    text = text.strip()
    for kind, tracking in (("lot", TrackingMode.LOT), ("serial", TrackingMode.SERIAL)):
        prefix = f"urn:medtrace:{kind}:"
        if text.startswith(prefix):
            code, _colon, value = text[len(prefix) :].partition(":")
            found = Material.objects.filter(code=unquote(code)).first()
            if found is None or not value:
                return None
            return _ref(found, tracking, unquote(value))
    try:
        identity = udi.parse(text, gcp_length=gcp_length_for)
    except udi.UdiError:
        return None
    if not identity.gtin or not (identity.lot or identity.serial):
        return None
    found = Material.objects.filter(gtin=identity.gtin).first()
    if found is None or (material is not None and found.pk != material.pk):
        return None
    if identity.serial:
        return _ref(found, TrackingMode.SERIAL, identity.serial, identity.expiry)
    assert identity.lot is not None
    return _ref(found, TrackingMode.LOT, identity.lot, identity.expiry)


def _ref(material: Material, tracking: str, value: str, expiry: date | None = None) -> MaterialRef:
    epc = (
        ev.material_serial_epc(material, value)
        if tracking == TrackingMode.SERIAL
        else ev.material_lot_class(material, value)
    )
    return MaterialRef(
        material=material, tracking=tracking, identifier=value, epc=epc, expiry=expiry
    )


def material_resolve(text: str, *, material: Material | None = None) -> MaterialRef:
    """The received material lot or serial ``text`` names.

    Procurement's answer when it is available; else the scan read on its own (no stock known).
    Raises NotFound (never received / unknown) or ValidationFailed (unreadable, wrong material).
    """
    resolve = _procurement("medtrace.procurement.selectors.material_lot_resolve")
    if resolve is not None:
        return _from_lot(resolve(text, material=material, field="components"))
    ref = _from_scan(text, material)
    if ref is None:
        raise NotFound(
            f"components: {text!r} names no material lot or serial we know (a GS1 label with "
            "the material's GTIN and (10) lot or (21) serial was expected)",
            field="components",
        )
    return ref


def material_consume(
    *, items: Sequence[tuple[MaterialRef, Decimal]], user: User | None, reference: str
) -> None:
    """Take ``items`` out of the material stock (procurement refuses what may not be used)."""
    consume = _procurement("medtrace.procurement.services.material_consume")
    lots = [(ref.lot, qty) for ref, qty in items if ref.lot is not None]
    if consume is None or not lots:
        return
    consume(items=lots, user=user, reference=reference)
