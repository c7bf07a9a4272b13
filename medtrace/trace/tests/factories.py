"""Test data for trace: a small world of parties and products, and EPCIS 2.0 JSON builders.

Every scenario goes through the real capture path (``capture_document``) with documents built
here; the builders write plain EPCIS 2.0 JSON-LD as a partner system would send it.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from medtrace.ledger.services import capture_document
from medtrace.lib import udi
from medtrace.masterdata.models import Location, Material, Party, Product
from medtrace.masterdata.tests import factories as md

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]

_ids = itertools.count(1)


@dataclass
class World:
    maker: Party
    supplier: Party
    distributor: Party
    hospital: Party
    plant: Location
    warehouse: Location
    dist_site: Location
    ward: Location
    device: Product  # finished device, serial-tracked
    board: Product  # sub-assembly made in-house, serial-tracked
    resin: Material  # supplier material, lot-tracked, GTIN of the supplier
    pump: Material  # supplier component, serial-tracked

    # Identifiers ---------------------------------------------------------------------------

    def gtin(self, product: Product) -> str:
        return product.identifiers.get(packaging_level="unit").di

    def unit(self, product: Product, serial: str) -> str:
        return udi.sgtin_urn(self.gtin(product), serial, 7)

    def device_sn(self, serial: str) -> str:
        return self.unit(self.device, serial)

    def board_sn(self, serial: str) -> str:
        return self.unit(self.board, serial)

    def pump_sn(self, serial: str) -> str:
        return udi.sgtin_urn(self.pump.gtin, serial, 7)

    def resin_lot(self, lot: str) -> str:
        return udi.lgtin_urn(self.resin.gtin, lot, 7)

    def sscc(self, ref: int) -> str:
        body = "0" + "6901234" + str(ref).rjust(9, "0")
        return udi.sscc_urn(body + udi.gs1_check_digit(body), 7)

    @staticmethod
    def pgln(party: Party) -> str:
        return f"urn:epc:id:pgln:{party.gs1_company_prefix}.{party.gln[7:12]}"


def world() -> World:
    maker = md.party(role="manufacturer", prefix="6901234", name="深圳迈瑞康医疗")
    supplier = md.party(role="supplier", prefix="6920001", name="Resin Supplier Co")
    distributor = md.party(role="distributor", prefix="6920002", name="华东医疗器械经销")
    hospital = md.party(role="hospital", prefix="6920003", name="第一人民医院")
    plant = md.location(owner=maker, kind="site", ref=1, name="Plant")
    warehouse = md.location(owner=maker, kind="site", ref=2, name="FG warehouse")
    dist_site = md.location(owner=distributor, kind="site", ref=1, name="DC Shanghai")
    ward = md.location(owner=hospital, kind="site", ref=1, name="ICU")
    device = md.product(
        manufacturer=maker,
        name="Infusion pump",
        model="IP-9",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 11)}],
    )
    board = md.product(
        manufacturer=maker,
        name="Control board",
        model="CB-2",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 12)}],
    )
    resin = md.material(tracking="lot", name="PC resin", gtin=md.gtin("6920001", 21), gcp_length=7)
    pump = md.material(
        tracking="serial", name="Micro pump", gtin=md.gtin("6920001", 22), gcp_length=7
    )
    from medtrace.masterdata import services

    for material in (resin, pump):
        services.material_supplier_add(
            material=material, data={"supplier_id": supplier.pk}, user=None
        )
    return World(
        maker,
        supplier,
        distributor,
        hospital,
        plant,
        warehouse,
        dist_site,
        ward,
        device,
        board,
        resin,
        pump,
    )


# EPCIS 2.0 JSON ------------------------------------------------------------------------------


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-01-01T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def capture(*events: dict[str, Any]) -> None:
    capture_document(data=document(*events), user=None)


def t(day: int, hour: int = 9) -> str:
    """A time on day ``day`` of March 2025, Beijing time."""
    return f"2025-03-{day:02d}T{hour:02d}:00:00+08:00"


def _event(
    kind: str,
    time: str,
    *,
    biz_step: str | None = None,
    disposition: str | None = None,
    read_point: str | None = None,
    location: str | None = None,
    btt: list[tuple[str, str]] | None = None,
    sources: list[tuple[str, str]] | None = None,
    destinations: list[tuple[str, str]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "eventID": f"urn:uuid:{uuid.UUID(int=next(_ids) + 0xA000)}",
        "eventTime": time,
        "eventTimeZoneOffset": "+08:00",
    }
    event.update({k: v for k, v in fields.items() if v is not None})
    if biz_step:
        event["bizStep"] = biz_step
    if disposition:
        event["disposition"] = disposition
    if read_point:
        event["readPoint"] = {"id": read_point}
    if location:
        event["bizLocation"] = {"id": location}
    if btt:
        event["bizTransactionList"] = [{"type": k, "bizTransaction": v} for k, v in btt]
    if sources:
        event["sourceList"] = [{"type": k, "source": v} for k, v in sources]
    if destinations:
        event["destinationList"] = [{"type": k, "destination": v} for k, v in destinations]
    return event


def obj(epcs: list[str], time: str, action: str = "OBSERVE", **kw: Any) -> dict[str, Any]:
    return _event("ObjectEvent", time, action=action, epcList=epcs, **kw)


def obj_lots(
    quantities: list[tuple[str, float]], time: str, action: str = "OBSERVE", **kw: Any
) -> dict[str, Any]:
    return _event(
        "ObjectEvent",
        time,
        action=action,
        epcList=[],
        quantityList=[{"epcClass": c, "quantity": q, "uom": "KGM"} for c, q in quantities],
        **kw,
    )


def commission(epcs: list[str], time: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("biz_step", "commissioning")
    kw.setdefault("disposition", "active")
    return obj(epcs, time, action="ADD", **kw)


def aggregate(
    parent: str, children: list[str] | None, time: str, action: str = "ADD", **kw: Any
) -> dict[str, Any]:
    kw.setdefault("biz_step", "packing" if action == "ADD" else "unpacking")
    return _event(
        "AggregationEvent", time, action=action, parentID=parent, childEPCs=children, **kw
    )


def associate(
    parent: str, children: list[str], time: str, action: str = "ADD", **kw: Any
) -> dict[str, Any]:
    kw.setdefault("biz_step", "assembling" if action == "ADD" else "repairing")
    return _event(
        "AssociationEvent", time, action=action, parentID=parent, childEPCs=children, **kw
    )


def transform(
    time: str,
    *,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    input_lots: list[tuple[str, float]] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    kw.setdefault("biz_step", "commissioning")
    kw.setdefault("disposition", "active")
    return _event(
        "TransformationEvent",
        time,
        inputEPCList=inputs or None,
        outputEPCList=outputs or None,
        inputQuantityList=[
            {"epcClass": c, "quantity": q, "uom": "KGM"} for c, q in (input_lots or [])
        ]
        or None,
        **kw,
    )


def transaction(
    epcs: list[str], time: str, btt: list[tuple[str, str]], action: str = "ADD", **kw: Any
) -> dict[str, Any]:
    return _event("TransactionEvent", time, action=action, epcList=epcs, btt=btt, **kw)


def retract(
    event: dict[str, Any],
    time: str,
    *,
    corrective: list[str] | None = None,
    reason: str = "incorrect_data",
) -> dict[str, Any]:
    """The same event again with an errorDeclaration (EPCIS 2.0 §7.4.1.2)."""
    declared = dict(event)
    declared["errorDeclaration"] = {
        "declarationTime": time,
        "reason": reason,
        "correctiveEventIDs": corrective or [],
    }
    return declared
