"""Which device a complaint is about: the UDI as given, parsed and resolved (DESIGN §5).

The UDI may come in any form a person or system has: a raw scan (symbology identifier and GS
separators), a bracketed GS1 element string, a Digital Link, HIBC, an EPC URN, or the bare
serial of a known unit. It must parse; a malformed one is refused with the parser's own message
on the field ``udi``. What it resolves to is recorded:

- one of our units (``unit_epc`` + its lot class, GTIN, serial, lot, product);
- one of our lots (``lot_class``, GTIN, lot, product);
- a valid UDI that the ledger does not (yet) know: staff may record the complaint anyway (a
  competitor's device, a unit from before the system, a typo to be fixed in the investigation);
  a hospital partner may not: partners complain only about devices their hospital holds or
  held, and anything else is "not found" (a partner must not learn what exists elsewhere).

The component lots of a resolved unit (its backward trace: supplier lots consumed into it or
into its installed parts, at any depth) are read with one recursive CTE over GenealogyEdge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import Conflict, MedtraceError, NotFound, ValidationFailed
from medtrace.lib import udi
from medtrace.masterdata.selectors import product_by_di, resolve_udi
from medtrace.trace.kinds import epc_kind
from medtrace.trace.sql import EDGE, MAX_DEPTH, fetch

from .common import text

# Lot-level identifiers as the ledger spells them: GS1 lots, HIBC lots, and the company lots
# of materials without a GTIN (lifecycle.events.material_lot_class).
LOT_PREFIXES = ("urn:epc:class:lgtin:", "urn:medtrace:hibc-lot:", "urn:medtrace:lot:")


@dataclass(frozen=True)
class Device:
    udi_text: str = ""
    resolution: str = ""  # "", unit, lot, unresolved (Complaint.udi_resolution)
    unit_epc: str = ""
    lot_class: str = ""
    gtin: str = ""
    serial: str = ""
    lot: str = ""
    product_id: int | None = None
    warning: str = ""
    components: list[str] = field(default_factory=list)


def _udi_error(exc: MedtraceError) -> MedtraceError:
    message = exc.message.removeprefix("id: ")
    return type(exc)(
        f"udi: {message}",
        field="udi",
        details=exc.details,
    )


def is_lot(epc: str) -> bool:
    return epc.startswith(LOT_PREFIXES)


def lot_class_of(epc: str, lot: str) -> str:
    """The lot class URN of a unit EPC and its lot ("" when it cannot be formed)."""
    if not lot:
        return ""
    try:
        identity = udi.parse(epc)
        if identity.hibc is not None:
            return udi.hibc_lot_urn(identity.hibc.di, lot)
        if identity.gtin and identity.gcp_length:
            return udi.lgtin_urn(identity.gtin, lot, identity.gcp_length)
    except (udi.UdiError, ValueError):
        return ""
    return ""


def identity_facts(epc: str) -> tuple[str, str, str]:
    try:
        identity = udi.parse(epc)
    except udi.UdiError:
        return "", "", ""
    hibc = identity.hibc
    gtin = identity.gtin or (hibc.di if hibc else None) or ""
    serial = identity.serial or (hibc.serial if hibc else None) or ""
    lot = identity.lot or (hibc.lot if hibc else None) or ""
    return gtin, serial, lot


def _product_id(gtin: str) -> int | None:
    if not gtin:
        return None
    product = product_by_di(gtin)
    return product.pk if product is not None else None


def component_lots(unit_epc: str) -> list[str]:
    """The lot classes the unit is made of: transformed edges (consumed lots) and current
    association edges (installed parts and their own lots), at any depth, in one query; plus
    the supplier lot of each serialized part fitted now (a battery pack BAT-0001 of supplier
    lot BL-2609-A counts as lot BL-2609-A), read in one more query."""
    if not unit_epc:
        return []
    sql = f"""
    WITH RECURSIVE walk(epc, depth) AS (
        SELECT g.child, 1 FROM {EDGE} g
         WHERE g.parent = %s AND g.valid_to IS NULL AND g.kind IN ('transformed', 'associated')
        UNION
        SELECT g.child, w.depth + 1 FROM {EDGE} g JOIN walk w ON g.parent = w.epc
         WHERE w.depth < {MAX_DEPTH} AND g.valid_to IS NULL
           AND g.kind IN ('transformed', 'associated')
    )
    SELECT DISTINCT epc FROM walk ORDER BY epc
    """
    reached = [row[0] for row in fetch(sql, [unit_epc])]
    lots = {epc for epc in reached if is_lot(epc)}
    parts = [epc for epc in reached if not is_lot(epc)]
    if parts:
        lots.update(serial_part_lots(parts).values())
    return sorted(lots)


def serial_part_lots(parts: list[str]) -> dict[str, str]:
    """The supplier lot class of each serialized part that was received with a supplier lot
    (procurement), else whose own ledger record names a lot (ILMD lotNumber)."""
    from medtrace.ledger.models import UnitState
    from medtrace.lifecycle.events import material_lot_class
    from medtrace.procurement.models import MaterialLot

    found: dict[str, str] = {}
    for row in MaterialLot.objects.filter(epc__in=parts).exclude(lot="").select_related("material"):
        found[row.epc] = material_lot_class(row.material, row.lot)
    rest = [epc for epc in parts if epc not in found]
    if rest:
        for epc, lot in (
            UnitState.objects.filter(epc__in=rest, product__isnull=True)
            .exclude(lot__isnull=True)
            .exclude(lot="")
            .values_list("epc", "lot")
        ):
            cls = lot_class_of(epc, lot or "")
            if cls:
                found[epc] = cls
    return found


def _unresolved(raw: str, not_found: MedtraceError) -> Device:
    """A UDI the ledger does not know: accepted for staff when it parses and names a unit or a
    lot; refused with the parser's message when it does not parse."""
    try:
        identity, product = resolve_udi(raw)
    except ValidationFailed as exc:
        if raw.startswith("urn:"):
            raise _udi_error(exc) from exc
        # Neither a UDI nor the serial of a unit: the resolver's message names both reasons.
        raise ValidationFailed(
            f"udi: {not_found.message}", field="udi", details={"udi": raw}
        ) from exc
    hibc = identity.hibc
    gtin = identity.gtin or (hibc.di if hibc else None) or ""
    serial = identity.serial or (hibc.serial if hibc else None) or ""
    lot = identity.lot or (hibc.lot if hibc else None) or ""
    if not serial and not lot:
        raise ValidationFailed(
            f"udi: {raw!r} names a product (DI {gtin}) but no unit or lot: add its serial (21) "
            "or lot (10)",
            field="udi",
        )
    unit_epc = ""
    lot_class = ""
    try:
        if serial and identity.epc:
            unit_epc = identity.epc
        elif identity.epc and not serial:
            lot_class = identity.epc if is_lot(identity.epc) else ""
        if unit_epc and lot:
            lot_class = lot_class_of(unit_epc, lot)
    except (udi.UdiError, ValueError):
        pass
    return Device(
        udi_text=raw,
        resolution="unresolved",
        unit_epc=unit_epc,
        lot_class=lot_class,
        gtin=gtin,
        serial=serial,
        lot=lot,
        product_id=product.pk if product is not None else None,
        warning=(
            f"{raw!r} is a valid UDI, but no unit or lot of it is known in the ledger "
            f"({not_found.message}); the complaint is recorded with the UDI as given"
        ),
    )


def device_resolve(value: object, *, user: User | None, required: bool = False) -> Device:
    """Parse and resolve the complained device (module docstring). A partner must name a
    device their hospital holds or held (404 otherwise)."""
    from medtrace.trace.selectors import resolve_target

    partner = scoping.is_partner(user)
    raw = text("udi", value, required=required or partner, max_length=1000)
    if not raw:
        return Device()
    try:
        target = resolve_target(raw, user=user, allow_class=True)
    except NotFound as exc:
        if partner:
            raise NotFound(
                f"udi: {exc.message.removeprefix('id: ')}; a hospital reports complaints about "
                "devices it holds or held",
                field="udi",
                details=exc.details,
            ) from exc
        return _unresolved(raw, exc)
    except (ValidationFailed, Conflict) as exc:
        raise _udi_error(exc) from exc
    kind = epc_kind(target.epc)
    if kind == "container":
        raise ValidationFailed(
            f"udi: {raw!r} names a case or pallet (SSCC), not a device; scan the device's own UDI",
            field="udi",
        )
    if is_lot(target.epc):
        if partner and not scoping.epcs_in_scope(user, [target.epc]):
            raise NotFound(
                f"udi: No event in the ledger names {target.epc}; a hospital reports complaints "
                "about devices it holds or held",
                field="udi",
            )
        gtin, _serial, lot = identity_facts(target.epc)
        return Device(
            udi_text=raw,
            resolution="lot",
            lot_class=target.epc,
            gtin=gtin,
            lot=lot,
            product_id=_product_id(gtin),
        )
    if kind != "serial":
        raise ValidationFailed(
            f"udi: {raw!r} names {target.epc}, which is neither a unit nor a lot of a device",
            field="udi",
        )
    state = target.state or {}
    gtin, serial, lot = identity_facts(target.epc)
    gtin = state.get("gtin") or gtin
    serial = state.get("serial") or serial
    lot = state.get("lot") or lot
    product_id = state.get("product_id") or _product_id(gtin)
    return Device(
        udi_text=raw,
        resolution="unit",
        unit_epc=target.epc,
        lot_class=lot_class_of(target.epc, lot),
        gtin=gtin,
        serial=serial,
        lot=lot,
        product_id=product_id,
        components=component_lots(target.epc),
    )
