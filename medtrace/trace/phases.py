"""Lifecycle phase of an event, for the unit timeline (DESIGN §7, §11 "timeline grouped by phase").

The phase comes from the event's bizStep (the CBV 2.0 term, or the last word of a company's own
bizStep URI such as ``urn:medtrace:bizstep:maintaining``):

======================  ===========================================================================
phase                   bizStep
======================  ===========================================================================
procurement             receiving / accepting of supplier material (see below)
production              commissioning, assembling, encoding, creating_class_instance
quality                 inspecting, sampling, holding (QC hold / release)
warehouse               storing, stocking, packing, unpacking, repackaging, picking,
                        staging_outbound, reserving, cycle_counting, stock_taking,
                        entering_exiting
distribution            shipping, departing, arriving, loading, unloading, transporting, consigning,
                        void_shipping; receiving / accepting at a partner (see below)
use                     installing, using, dispensing, retail_selling
service                 repairing, maintaining, servicing, calibrating, replacing, removing,
                        disassembling
end-of-life             decommissioning, destroying, disposing, scrapping, collecting, killing
======================  ===========================================================================

receiving / accepting: *service* when the disposition is ``returned`` or the event carries an RMA;
*procurement* when a source party is a supplier in master data, or when the event names only lots
and classes (quantityList: material received at supplier-lot level); *distribution* otherwise (a
distributor or hospital receiving what we shipped).

Events without a mapped bizStep (none, ``other``, ``sensor_reporting``) fall back to the
disposition (destroyed/disposed -> end-of-life, in_transit -> distribution, conformant /
non_conformant -> quality, returned / needs_replacement -> service, dispensed / retail_sold ->
use), then to the business transaction type of a TransactionEvent (po/poc -> procurement,
prodorder -> production, testprd/testres/cert -> quality, rma -> service, other documents ->
distribution), then to the event type (TransformationEvent and AssociationEvent ADD ->
production, AssociationEvent DELETE -> service, AggregationEvent -> warehouse, ObjectEvent
ADD -> production, DELETE -> end-of-life, OBSERVE -> warehouse).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PROCUREMENT = "procurement"
PRODUCTION = "production"
QUALITY = "quality"
WAREHOUSE = "warehouse"
DISTRIBUTION = "distribution"
USE = "use"
SERVICE = "service"
END_OF_LIFE = "end-of-life"

PHASES = (PROCUREMENT, PRODUCTION, QUALITY, WAREHOUSE, DISTRIBUTION, USE, SERVICE, END_OF_LIFE)

RECEIVING_STEPS = frozenset({"receiving", "accepting"})

BIZ_STEP_PHASES: dict[str, str] = {
    **dict.fromkeys(
        ("commissioning", "assembling", "encoding", "creating_class_instance"), PRODUCTION
    ),
    **dict.fromkeys(("inspecting", "sampling", "holding"), QUALITY),
    **dict.fromkeys(
        (
            "storing", "stocking", "packing", "unpacking", "repackaging", "picking",
            "staging_outbound", "reserving", "cycle_counting", "stock_taking", "entering_exiting",
        ),
        WAREHOUSE,
    ),
    **dict.fromkeys(
        (
            "shipping", "departing", "arriving", "loading", "unloading", "transporting",
            "consigning", "void_shipping",
        ),
        DISTRIBUTION,
    ),
    **dict.fromkeys(("installing", "using", "dispensing", "retail_selling"), USE),
    **dict.fromkeys(
        (
            "repairing", "maintaining", "servicing", "calibrating", "replacing", "removing",
            "disassembling",
        ),
        SERVICE,
    ),
    **dict.fromkeys(
        ("decommissioning", "destroying", "disposing", "scrapping", "collecting", "killing"),
        END_OF_LIFE,
    ),
}  # fmt: skip

_DISPOSITION_PHASES: dict[str, str] = {
    "destroyed": END_OF_LIFE,
    "disposed": END_OF_LIFE,
    "in_transit": DISTRIBUTION,
    "conformant": QUALITY,
    "non_conformant": QUALITY,
    "returned": SERVICE,
    "needs_replacement": SERVICE,
    "dispensed": USE,
    "partially_dispensed": USE,
    "retail_sold": USE,
}

_DOCUMENT_PHASES: dict[str, str] = {
    "po": PROCUREMENT,
    "poc": PROCUREMENT,
    "prodorder": PRODUCTION,
    "testprd": QUALITY,
    "testres": QUALITY,
    "cert": QUALITY,
    "rma": SERVICE,
}

_LAST_WORD = re.compile(r"[^:/#\-]+$")


def term(value: str | None) -> str | None:
    """The bare word of a bizStep/disposition: the CBV term, or a custom URI's last segment."""
    if not value:
        return None
    match = _LAST_WORD.search(value)
    return match.group(0).lower() if match else value.lower()


def phase_of(
    *,
    biz_step: str | None,
    event_type: str,
    action: str | None,
    disposition: str | None = None,
    source_roles: Iterable[str | None] = (),
    class_only: bool = False,
    btt_types: Iterable[str | None] = (),
) -> str:
    """The lifecycle phase of one event (see the module docstring for the table)."""
    step = term(biz_step)
    disp = term(disposition)
    documents = {term(t) for t in btt_types if t}
    if step in RECEIVING_STEPS:
        if disp == "returned" or "rma" in documents:
            return SERVICE
        if "supplier" in set(source_roles) or class_only:
            return PROCUREMENT
        return DISTRIBUTION
    if step in BIZ_STEP_PHASES:
        return BIZ_STEP_PHASES[step]
    if disp in _DISPOSITION_PHASES:
        return _DISPOSITION_PHASES[disp]
    if event_type == "TransactionEvent":
        for document in sorted(d for d in documents if d):
            if document in _DOCUMENT_PHASES:
                return _DOCUMENT_PHASES[document]
        return DISTRIBUTION
    if event_type == "TransformationEvent":
        return PRODUCTION
    if event_type == "AssociationEvent":
        return SERVICE if action == "DELETE" else PRODUCTION
    if event_type == "AggregationEvent":
        return WAREHOUSE
    if action == "ADD":
        return PRODUCTION
    if action == "DELETE":
        return END_OF_LIFE
    return WAREHOUSE
