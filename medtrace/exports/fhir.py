"""HL7 FHIR R4 (4.0.1) ``Device`` resources for units, and ``Bundle`` searchsets of them.

A hospital's system reads what it holds: each unit of one of our products as a Device with its
UDI (udiCarrier), lot, serial, dates, model, type and holder. What goes in and why:

- ``id``: the unit's EPC URN in FHIR's id alphabet (``[A-Za-z0-9.-]``, at most 64): the
  ``urn:epc:id:`` prefix dropped and every other character escaped as ``-HH`` (``-`` itself as
  ``-2D``). ``fhir_id`` / ``epc_from_fhir_id`` convert both ways. An EPC too long for 64
  characters gets no id; the read endpoint still accepts any identifier form (DESIGN §5).
- ``identifier``: the EPC URN (system ``urn:ietf:rfc:3986``), and the serial number (type SNO).
- ``udiCarrier``: the DI, its issuer (the R4 spec's naming systems: GS1
  ``http://hl7.org/fhir/NamingSystem/gs1-di``, HIBCC ``.../hibcc-dI``), the jurisdiction
  (NMPA by default; FDA ``.../fda-udi`` or the EU ``.../eu-ec-udi`` on request), the
  human-readable UDI as the label prints it (only the PI elements the product's label carries,
  and only when every one is known), entry type ``barcode``.
- ``status`` from the unit's disposition: ``entered-in-error`` when every event naming the unit
  was retracted, ``inactive`` when it is destroyed, disposed, expired, recalled, damaged,
  stolen, non-conformant or otherwise out of use, ``active`` otherwise, ``unknown`` without one.
- ``manufactureDate``: the date of the unit's commissioning event (in its own time zone).
- ``owner`` and ``location``: the current holder and place. A partner gets them only when the
  holder is the partner itself: where a unit went after it left them is another party's business.

Never in a Device: the patient (``Device.patient``), implant records or anything from them
(DESIGN §8). Nothing here reads the service app's implant records.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Min, Q

from medtrace.accounts.models import User
from medtrace.ledger.identifiers import Holder, resolve_holders
from medtrace.ledger.models import EpcRole, Event, EventEpc, EventRetraction
from medtrace.lib import udi
from medtrace.masterdata.models import IssuingAgency, Location, PackagingLevel, Product

FHIR_JSON = "application/fhir+json"
EPC_SYSTEM = "urn:ietf:rfc:3986"
GLN_SYSTEM = "https://www.gs1.org/gln"
ISSUERS = {
    IssuingAgency.GS1: "http://hl7.org/fhir/NamingSystem/gs1-di",
    IssuingAgency.HIBCC: "http://hl7.org/fhir/NamingSystem/hibcc-dI",
}
JURISDICTIONS = {
    "cn": "https://udi.nmpa.gov.cn",
    "us": "http://hl7.org/fhir/NamingSystem/fda-udi",
    "eu": "http://hl7.org/fhir/NamingSystem/eu-ec-udi",
}
GMDN_SYSTEM = "https://www.gmdnagency.org"
NMPA_CLASSIFICATION_SYSTEM = "https://www.nmpa.gov.cn/ylqx/classification"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

# CBV 2.0 dispositions under which a device is out of use.
INACTIVE_DISPOSITIONS = frozenset(
    {
        "damaged",
        "destroyed",
        "disposed",
        "expired",
        "inactive",
        "mismatch_class",
        "mismatch_instance",
        "mismatch_quantity",
        "no_pedigree_match",
        "non_conformant",
        "recalled",
        "stolen",
        "unavailable",
    }
)

_ID_SAFE = re.compile(r"[A-Za-z0-9.]")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_EPC_ID = "urn:epc:id:"


def fhir_id(epc: str) -> str | None:
    body = epc[len(_EPC_ID) :] if epc.startswith(_EPC_ID) else epc
    out = "".join(
        ch if _ID_SAFE.fullmatch(ch) else "".join(f"-{b:02X}" for b in ch.encode()) for ch in body
    )
    return out if len(out) <= 64 else None


def epc_from_fhir_id(value: str) -> str | None:
    """The EPC a ``fhir_id`` stands for, or None when ``value`` is not one."""
    if not _FHIR_ID.fullmatch(value) or "-3A" not in value:
        return None
    try:
        raw = bytearray()
        i = 0
        while i < len(value):
            if value[i] == "-":
                raw.append(int(value[i + 1 : i + 3], 16))
                i += 3
            else:
                raw.extend(value[i].encode())
                i += 1
        body = raw.decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if body.startswith("urn:") else _EPC_ID + body


@dataclass(frozen=True)
class UnitRow:
    """What a Device is built from: the unit's projected state."""

    epc: str
    product_id: int | None
    gtin: str | None
    serial: str | None
    lot: str | None
    expiry: date | None
    disposition: str | None
    biz_location: str | None
    holder: str | None  # possessing (else owning) party identifier, as the ledger spells it
    retracted: bool = False  # every event naming it was retracted


def status_of(row: UnitRow) -> str:
    if row.retracted:
        return "entered-in-error"
    if not row.disposition or row.disposition == "unknown":
        return "unknown"
    return "inactive" if row.disposition in INACTIVE_DISPOSITIONS else "active"


@dataclass
class Context:
    """Everything the Devices of a page of units share, loaded in a fixed number of queries."""

    products: dict[int, Product]
    holders: dict[str, Holder]
    locations: dict[str, Location]
    made: dict[str, date]
    user: User | None
    jurisdiction: str

    @classmethod
    def load(cls, rows: list[UnitRow], *, user: User | None, jurisdiction: str) -> Context:
        product_ids = {r.product_id for r in rows if r.product_id is not None}
        products = {
            p.pk: p
            for p in Product.objects.filter(pk__in=product_ids)
            .select_related("manufacturer")
            .prefetch_related("identifiers")
        }
        holders = resolve_holders({r.holder for r in rows if r.holder})
        places = {r.biz_location for r in rows if r.biz_location}
        found = Location.objects.filter(sgln__in=places).select_related("party")
        locations = {loc.sgln: loc for loc in found}
        return cls(products, holders, locations, commissioned_on([r.epc for r in rows]), user,
                   jurisdiction)  # fmt: skip


def commissioned_on(epcs: list[str]) -> dict[str, date]:
    """The local date of each unit's (first, not retracted) commissioning event."""
    out: dict[str, date] = {}
    for start in range(0, len(epcs), 500):
        part = epcs[start : start + 500]
        firsts = (
            EventEpc.objects.filter(
                epc__in=part,
                role=EpcRole.EPC,
                event__biz_step="commissioning",
                event__action="ADD",
                event__retraction__isnull=True,
            )
            .values("epc")
            .annotate(first=Min("event_id"))
        )
        by_event: dict[int, list[str]] = {}
        for row in firsts:  # one commissioning event names many units
            by_event.setdefault(row["first"], []).append(row["epc"])
        for pk, when, offset in Event.objects.filter(pk__in=by_event).values_list(
            "pk", "event_time", "event_time_zone_offset"
        ):
            for epc in by_event[pk]:
                out[epc] = _local_date(when, offset)
    return out


def _local_date(when: Any, offset: str) -> date:
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", offset or "")
    if match is None:
        return when.date()
    delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return (when + delta if match.group(1) == "+" else when - delta).date()


def all_retracted(epc: str) -> bool:
    """True when events name ``epc`` and every one of them was retracted."""
    named = EventEpc.objects.filter(epc=epc)
    return (
        named.exists()
        and not named.exclude(event_id__in=EventRetraction.objects.values("event_id")).exists()
    )


def _carrier_hrf(row: UnitRow, product: Product, made: date | None) -> str | None:
    """The human-readable UDI as the product's label prints it, or None when a PI element the
    label carries is unknown for this unit (a wrong HRF is worse than none)."""
    elements = set(product.udi_pi_elements or [])
    values = {"serial": row.serial, "lot": row.lot, "expiry": row.expiry, "manufactured": made}
    if any(not values[e] for e in elements if e in values):
        return None
    unit = next(
        (i for i in product.identifiers.all() if i.packaging_level == PackagingLevel.UNIT), None
    )
    if unit is None:
        return None
    picked = {name: values[name] if name in elements else None for name in values}
    try:
        if product.issuing_agency == IssuingAgency.HIBCC:
            return udi.build_hibc(
                lic=unit.hibc_lic,
                pcn=unit.hibc_pcn,
                uom=unit.hibc_uom,
                **picked,  # type: ignore[arg-type]
            )
        data = udi.build_element_string(gtin=unit.di, **picked)  # type: ignore[arg-type]
        return udi.parse(data, gcp_length=product.gcp_length).hri()
    except udi.UdiError:
        return None


def _reference(holder: Holder | None) -> dict[str, Any] | None:
    if holder is None or not (holder.name or holder.gln):
        return None
    ref: dict[str, Any] = {}
    if holder.gln:
        ref["identifier"] = {"system": GLN_SYSTEM, "value": holder.gln}
    ref["display"] = holder.name or holder.gln
    return ref


def device(row: UnitRow, ctx: Context) -> dict[str, Any]:
    """One unit as a FHIR R4 Device (a plain dict, JSON-ready)."""
    product = ctx.products.get(row.product_id) if row.product_id is not None else None
    made = ctx.made.get(row.epc)
    resource: dict[str, Any] = {"resourceType": "Device"}
    rid = fhir_id(row.epc)
    if rid:
        resource["id"] = rid
    identifiers: list[dict[str, Any]] = [{"system": EPC_SYSTEM, "value": row.epc}]
    if row.serial:
        identifiers.append(
            {
                "type": {"coding": [{"system": V2_0203, "code": "SNO"}], "text": "Serial Number"},
                "value": row.serial,
            }
        )
    resource["identifier"] = identifiers
    if product is not None:
        unit = next(
            (i for i in product.identifiers.all() if i.packaging_level == PackagingLevel.UNIT),
            None,
        )
        carrier: dict[str, Any] = {
            "deviceIdentifier": unit.di if unit else row.gtin,
            "issuer": ISSUERS[IssuingAgency(product.issuing_agency)],
            "jurisdiction": JURISDICTIONS[ctx.jurisdiction],
        }
        hrf = _carrier_hrf(row, product, made)
        if hrf:
            carrier["carrierHRF"] = hrf
        carrier["entryType"] = "barcode"
        resource["udiCarrier"] = [carrier]
    elif row.gtin:
        resource["udiCarrier"] = [
            {"deviceIdentifier": row.gtin, "issuer": ISSUERS[IssuingAgency.GS1],
             "jurisdiction": JURISDICTIONS[ctx.jurisdiction], "entryType": "barcode"}
        ]  # fmt: skip
    resource["status"] = status_of(row)
    if product is not None:
        maker = product.manufacturer
        # The registrant's name as the jurisdiction's UDI database records it.
        local = ctx.jurisdiction == "cn" or not maker.name_en
        resource["manufacturer"] = maker.name if local else maker.name_en
    if made:
        resource["manufactureDate"] = made.isoformat()
    if row.expiry:
        resource["expirationDate"] = row.expiry.isoformat()
    if row.lot:
        resource["lotNumber"] = row.lot
    if row.serial:
        resource["serialNumber"] = row.serial
    if product is not None:
        names = [{"name": product.name, "type": "manufacturer-name"}]
        if product.trade_name:
            names.append({"name": product.trade_name, "type": "udi-label-name"})
        if product.name_en and product.name_en != product.name:
            names.append({"name": product.name_en, "type": "user-friendly-name"})
        names.append({"name": product.model, "type": "model-name"})
        resource["deviceName"] = names
        resource["modelNumber"] = product.model
        if product.catalog_number:
            resource["partNumber"] = product.catalog_number
        codings = []
        if product.gmdn_code:
            codings.append({"system": GMDN_SYSTEM, "code": product.gmdn_code})
        if product.classification_code:
            codings.append(
                {"system": NMPA_CLASSIFICATION_SYSTEM, "code": product.classification_code}
            )
        resource["type"] = {"text": product.name, **({"coding": codings} if codings else {})}
    holder = ctx.holders.get(row.holder) if row.holder else None
    own = ctx.user is None or ctx.user.party_id is None
    if holder is not None and (own or holder.party_id == ctx.user.party_id):  # type: ignore[union-attr]
        owner = _reference(holder)
        if owner:
            resource["owner"] = owner
    place = ctx.locations.get(row.biz_location) if row.biz_location else None
    if place is not None and (own or place.party_id == ctx.user.party_id):  # type: ignore[union-attr]
        resource["location"] = {
            "identifier": {"system": EPC_SYSTEM, "value": place.sgln},
            "display": f"{place.party.name} {place.name}",
        }
    return resource


def devices(rows: Iterable[UnitRow], *, user: User | None, jurisdiction: str) -> list[dict]:
    rows = list(rows)
    ctx = Context.load(rows, user=user, jurisdiction=jurisdiction)
    return [device(row, ctx) for row in rows]


def bundle(
    resources: list[dict[str, Any]],
    *,
    total: int,
    base: str,
    self_url: str,
    next_url: str | None,
) -> dict[str, Any]:
    """A searchset Bundle of Devices; ``base`` is the absolute URL of the Device endpoint."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{r['id']}" if "id" in r else _urn_uuid(r),
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def _urn_uuid(resource: dict[str, Any]) -> str:
    epc = resource["identifier"][0]["value"]
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, epc)}"


def holder_q(identifiers: Iterable[str]) -> Q:
    """Units held by a party: its identifiers as possessing party, or (no party recorded) as
    the place they are at."""
    ids = list(identifiers)
    return Q(possessing_party__in=ids) | Q(possessing_party__isnull=True, biz_location__in=ids)
