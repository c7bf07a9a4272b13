"""Build the EPCIS 2.0 events of lifecycle documents and write them to the ledger.

Every ERP step (goods receipt, commissioning, release, packing, shipment, installation, repair,
scrap, ...) describes what happened as standard EPCIS events with CBV 2.0 terms, and ``emit``
captures them through the ledger's one capture path, inside the caller's transaction (DESIGN §4):
the document rows, the events, the projections (UnitState, GenealogyEdge, UnitCustody), the
ledger seal and the audit entries commit together or not at all.

Identifiers:

- a serialized unit of one of our products: ``unit_epc(product, serial)`` (SGTIN, or the HIBC
  URN for HIBC-labelled products);
- a lot: ``lot_class(product, lot)`` (LGTIN) and ``material_lot_class(material, lot)`` (LGTIN
  when the material has a GTIN, else ``urn:medtrace:lot:<part number>:<lot>``);
- a serialized supplier component without a GTIN: ``material_serial_epc`` ->
  ``urn:medtrace:serial:<part number>:<serial>``;
- places: ``Location.sgln``; parties: ``party_pgln(party)``;
- documents: ``bt(kind, number)`` -> ``urn:epcglobal:cbv:bt:<our GLN>:<number>``, typed with
  the CBV business transaction type (po, prodorder, desadv, recadv, rma, testres, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.errors import ValidationFailed
from medtrace.ledger.models import Event
from medtrace.ledger.services import CaptureRejected, capture_document
from medtrace.lib import udi
from medtrace.masterdata.models import IssuingAgency, Material, Party, Product

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# Company-specific bizSteps for what CBV 2.0 has no term for (trace/phases.py maps them).
MAINTAINING = "urn:medtrace:bizstep:maintaining"
CALIBRATING = "urn:medtrace:bizstep:calibrating"


# Identifiers -----------------------------------------------------------------------------------


def _component(value: str) -> str:
    return quote(value, safe="-_.~")


def unit_epc(product: Product, serial: str) -> str:
    """The EPC of one serialized unit of ``product``."""
    base = product.base_identifier()
    if base is None:
        raise ValidationFailed(
            f"product: {product} has no unit-level DI; add one before making units",
            field="product",
        )
    if product.issuing_agency == IssuingAgency.HIBCC:
        return udi.hibc_urn(base.di, serial)
    return udi.sgtin_urn(base.di, serial, product.gcp_length)


def lot_class(product: Product, lot: str) -> str:
    base = product.base_identifier()
    if base is None:
        raise ValidationFailed(f"product: {product} has no unit-level DI", field="product")
    if product.issuing_agency == IssuingAgency.HIBCC:
        return udi.hibc_lot_urn(base.di, lot)
    return udi.lgtin_urn(base.di, lot, product.gcp_length)


def material_lot_class(material: Material, lot: str) -> str:
    if material.gtin:
        return udi.lgtin_urn(material.gtin, lot, material.gcp_length)
    return f"urn:medtrace:lot:{_component(material.code)}:{_component(lot)}"


def material_serial_epc(material: Material, serial: str) -> str:
    if material.gtin:
        return udi.sgtin_urn(material.gtin, serial, material.gcp_length)
    return f"urn:medtrace:serial:{_component(material.code)}:{_component(serial)}"


def party_pgln(party: Party) -> str:
    """The party as EPCIS names it in source and destination lists (PGLN URN, else its GLN)."""
    prefix = party.gs1_company_prefix
    if party.gln and prefix and party.gln.startswith(prefix):
        return f"urn:epc:id:pgln:{prefix}.{party.gln[len(prefix) : 12]}"
    if party.gln:
        return f"https://id.gs1.org/417/{party.gln}"
    raise ValidationFailed(
        f"party: {party.name} has no GLN; EPCIS source and destination lists need one",
        field="party",
    )


def our_gln() -> str:
    """The GLN our documents' bizTransaction URIs are minted under (our own party's)."""
    from .services import own_party

    return own_party().gln or "0000000000000"


def bt(kind: str, number: str, *, gln: str | None = None) -> dict[str, str]:
    """A bizTransaction entry naming one of our documents. ``gln``: ``our_gln()`` when the
    caller names many documents (an import), so our party is looked up once."""
    gln = gln or our_gln()
    return {"type": kind, "bizTransaction": f"urn:epcglobal:cbv:bt:{gln}:{_component(number)}"}


def parties(kind: str, *, owner: Party | None = None, holder: Party | None = None) -> list[dict]:
    """sourceList / destinationList entries: ``kind`` is "source" or "destination"."""
    out = []
    if owner is not None:
        out.append({"type": "owning_party", kind: party_pgln(owner)})
    if holder is not None:
        out.append({"type": "possessing_party", kind: party_pgln(holder)})
    return out


# Events ----------------------------------------------------------------------------------------


def _when(at: datetime | None) -> dict[str, str]:
    moment = at or timezone.now()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    local = timezone.localtime(moment)
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return {
        "eventTime": moment.astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "eventTimeZoneOffset": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
    }


def quantity(epc_class: str, amount: Decimal | float | int, uom: str | None = None) -> dict:
    item: dict[str, Any] = {"epcClass": epc_class, "quantity": float(amount)}
    if uom:
        item["uom"] = uom
    return item


def quantity_class(epc_class: str) -> dict[str, Any]:
    """A quantity element naming a whole lot or class, without an amount."""
    return {"epcClass": epc_class}


def _why(
    event: dict[str, Any],
    *,
    biz_step: str | None,
    disposition: str | None,
    read_point: str | None,
    biz_location: str | None,
    transactions: Iterable[dict[str, str]],
    sources: Iterable[dict[str, str]],
    destinations: Iterable[dict[str, str]],
    sensors: Sequence[dict[str, Any]] | None,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    if biz_step:
        event["bizStep"] = biz_step
    if disposition:
        event["disposition"] = disposition
    if read_point:
        event["readPoint"] = {"id": read_point}
    if biz_location:
        event["bizLocation"] = {"id": biz_location}
    if tx := list(transactions):
        event["bizTransactionList"] = tx
    if src := list(sources):
        event["sourceList"] = src
    if dst := list(destinations):
        event["destinationList"] = dst
    if sensors:
        event["sensorElementList"] = list(sensors)
    if extra:
        event.update(extra)
    return event


def object_event(
    *,
    action: str = "OBSERVE",
    epcs: Sequence[str] = (),
    quantities: Sequence[dict[str, Any]] = (),
    biz_step: str | None = None,
    disposition: str | None = None,
    at: datetime | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    transactions: Iterable[dict[str, str]] = (),
    sources: Iterable[dict[str, str]] = (),
    destinations: Iterable[dict[str, str]] = (),
    ilmd: dict[str, Any] | None = None,
    sensors: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "ObjectEvent", **_when(at), "epcList": list(epcs)}
    if quantities:
        event["quantityList"] = list(quantities)
    event["action"] = action
    if ilmd:
        event["ilmd"] = ilmd
    return _why(
        event,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        transactions=transactions,
        sources=sources,
        destinations=destinations,
        sensors=sensors,
        extra=extra,
    )


def aggregation_event(
    *,
    action: str,
    parent: str,
    children: Sequence[str] = (),
    child_quantities: Sequence[dict[str, Any]] = (),
    biz_step: str | None = None,
    disposition: str | None = None,
    at: datetime | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    transactions: Iterable[dict[str, str]] = (),
    sources: Iterable[dict[str, str]] = (),
    destinations: Iterable[dict[str, str]] = (),
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "AggregationEvent",
        **_when(at),
        "parentID": parent,
        "childEPCs": list(children),
    }
    if child_quantities:
        event["childQuantityList"] = list(child_quantities)
    event["action"] = action
    return _why(
        event,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        transactions=transactions,
        sources=sources,
        destinations=destinations,
        sensors=None,
        extra=None,
    )


def association_event(
    *,
    action: str,
    parent: str,
    children: Sequence[str] = (),
    child_quantities: Sequence[dict[str, Any]] = (),
    biz_step: str | None = None,
    disposition: str | None = None,
    at: datetime | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    transactions: Iterable[dict[str, str]] = (),
) -> dict[str, Any]:
    """An AssociationEvent: ``children`` fitted into (ADD) or removed from (DELETE) ``parent``."""
    event: dict[str, Any] = {
        "type": "AssociationEvent",
        **_when(at),
        "parentID": parent,
        "childEPCs": list(children),
    }
    if child_quantities:
        event["childQuantityList"] = list(child_quantities)
    event["action"] = action
    return _why(
        event,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        transactions=transactions,
        sources=(),
        destinations=(),
        sensors=None,
        extra=None,
    )


def transformation_event(
    *,
    inputs: Sequence[str] = (),
    input_quantities: Sequence[dict[str, Any]] = (),
    outputs: Sequence[str] = (),
    output_quantities: Sequence[dict[str, Any]] = (),
    transformation_id: str | None = None,
    biz_step: str | None = "commissioning",
    disposition: str | None = "active",
    at: datetime | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    transactions: Iterable[dict[str, str]] = (),
    ilmd: dict[str, Any] | None = None,
    sensors: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "TransformationEvent", **_when(at)}
    if inputs:
        event["inputEPCList"] = list(inputs)
    if input_quantities:
        event["inputQuantityList"] = list(input_quantities)
    if outputs:
        event["outputEPCList"] = list(outputs)
    if output_quantities:
        event["outputQuantityList"] = list(output_quantities)
    if transformation_id:
        event["transformationID"] = transformation_id
    if ilmd:
        event["ilmd"] = ilmd
    return _why(
        event,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        transactions=transactions,
        sources=(),
        destinations=(),
        sensors=sensors,
        extra=None,
    )


def document(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _when(None)["eventTime"],
        "epcisBody": {"eventList": list(events)},
    }


def emit(events: Sequence[dict[str, Any]], *, user: User | None) -> list[Event]:
    """Capture ``events`` (all or nothing) in the caller's transaction; the stored Event rows,
    in order. A ledger refusal becomes a ValidationFailed naming the event and field."""
    if not events:
        return []
    try:
        job = capture_document(data=document(events), user=user)
    except CaptureRejected as exc:
        first = exc.problems[0] if exc.problems else None
        raise ValidationFailed(
            f"The ledger refused the step's events: {first.message if first else exc}",
            field=first.field if first else None,
            details=[p.as_dict() for p in exc.problems],
        ) from exc
    rows = list(Event.objects.filter(capture_job=job).order_by("pk"))
    return rows
