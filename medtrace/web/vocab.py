"""Words for the EPCIS/CBV terms people read on the pages: business steps, dispositions,
lifecycle phases, business transaction types, error reasons and our document kinds.

The ledger keeps the CBV 2.0 term (``shipping``, ``in_transit``) or a company URI
(``urn:medtrace:bizstep:maintaining``); pages show what it means in the reader's language
(发货 / Shipped). A term we have no words for is shown as the standard spells it, never hidden.
Contexts keep the Chinese right where one English word means two things (a phase called
"quality" and a disposition; "Received" as a step and a document).
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from medtrace.trace import phases

# CBV 2.0 business steps (and our own, trace/phases.py), as what happened to the object.
BIZ_STEPS: dict[str, Promise] = {
    "accepting": pgettext_lazy("business step", "Accepted"),
    "arriving": pgettext_lazy("business step", "Arrived"),
    "assembling": pgettext_lazy("business step", "Assembled"),
    "calibrating": pgettext_lazy("business step", "Calibrated"),
    "collecting": pgettext_lazy("business step", "Collected"),
    "commissioning": pgettext_lazy("business step", "Commissioned"),
    "consigning": pgettext_lazy("business step", "Consigned"),
    "creating_class_instance": pgettext_lazy("business step", "Lot instance created"),
    "cycle_counting": pgettext_lazy("business step", "Cycle-counted"),
    "decommissioning": pgettext_lazy("business step", "Decommissioned"),
    "departing": pgettext_lazy("business step", "Departed"),
    "destroying": pgettext_lazy("business step", "Destroyed"),
    "disassembling": pgettext_lazy("business step", "Disassembled"),
    "dispensing": pgettext_lazy("business step", "Dispensed"),
    "encoding": pgettext_lazy("business step", "Encoded"),
    "entering_exiting": pgettext_lazy("business step", "Entered or left"),
    "holding": pgettext_lazy("business step", "Held"),
    "inspecting": pgettext_lazy("business step", "Inspected"),
    "installing": pgettext_lazy("business step", "Installed"),
    "killing": pgettext_lazy("business step", "Tag deactivated"),
    "loading": pgettext_lazy("business step", "Loaded"),
    "maintaining": pgettext_lazy("business step", "Maintained"),
    "other": pgettext_lazy("business step", "Other"),
    "packing": pgettext_lazy("business step", "Packed"),
    "picking": pgettext_lazy("business step", "Picked"),
    "receiving": pgettext_lazy("business step", "Received"),
    "removing": pgettext_lazy("business step", "Removed"),
    "repackaging": pgettext_lazy("business step", "Repackaged"),
    "repairing": pgettext_lazy("business step", "Repaired"),
    "replacing": pgettext_lazy("business step", "Replaced"),
    "reserving": pgettext_lazy("business step", "Reserved"),
    "retail_selling": pgettext_lazy("business step", "Sold at retail"),
    "sampling": pgettext_lazy("business step", "Sampled"),
    "scrapping": pgettext_lazy("business step", "Scrapped"),
    "sensor_reporting": pgettext_lazy("business step", "Sensor readings reported"),
    "servicing": pgettext_lazy("business step", "Serviced"),
    "shipping": pgettext_lazy("business step", "Shipped"),
    "staging_outbound": pgettext_lazy("business step", "Staged for shipping"),
    "stock_taking": pgettext_lazy("business step", "Stock-taken"),
    "stocking": pgettext_lazy("business step", "Stocked"),
    "storing": pgettext_lazy("business step", "Stored"),
    "transporting": pgettext_lazy("business step", "Transported"),
    "unloading": pgettext_lazy("business step", "Unloaded"),
    "unpacking": pgettext_lazy("business step", "Unpacked"),
    "void_shipping": pgettext_lazy("business step", "Shipment voided"),
}

# What an event with no business step did, by its type and action (EPCIS 2.0 §7.4).
EVENT_KINDS: dict[tuple[str, str | None], Promise] = {
    ("ObjectEvent", "ADD"): pgettext_lazy("event kind", "Created"),
    ("ObjectEvent", "OBSERVE"): pgettext_lazy("event kind", "Observed"),
    ("ObjectEvent", "DELETE"): pgettext_lazy("event kind", "Retired"),
    ("AggregationEvent", "ADD"): pgettext_lazy("event kind", "Packed"),
    ("AggregationEvent", "OBSERVE"): pgettext_lazy("event kind", "Packing observed"),
    ("AggregationEvent", "DELETE"): pgettext_lazy("event kind", "Unpacked"),
    ("AssociationEvent", "ADD"): pgettext_lazy("event kind", "Part fitted"),
    ("AssociationEvent", "OBSERVE"): pgettext_lazy("event kind", "Parts observed"),
    ("AssociationEvent", "DELETE"): pgettext_lazy("event kind", "Part removed"),
    ("TransformationEvent", None): pgettext_lazy("event kind", "Made"),
    ("TransactionEvent", "ADD"): pgettext_lazy("event kind", "Linked to a document"),
    ("TransactionEvent", "OBSERVE"): pgettext_lazy("event kind", "Document observed"),
    ("TransactionEvent", "DELETE"): pgettext_lazy("event kind", "Unlinked from a document"),
}

# CBV 2.0 dispositions: the state the object was left in.
DISPOSITIONS: dict[str, Promise] = {
    "active": pgettext_lazy("disposition", "Active"),
    "available": pgettext_lazy("disposition", "Available"),
    "completeness_inferred": pgettext_lazy("disposition", "Completeness inferred"),
    "completeness_verified": pgettext_lazy("disposition", "Completeness verified"),
    "conformant": pgettext_lazy("disposition", "Conformant"),
    "container_closed": pgettext_lazy("disposition", "Container closed"),
    "container_open": pgettext_lazy("disposition", "Container open"),
    "damaged": pgettext_lazy("disposition", "Damaged"),
    "destroyed": pgettext_lazy("disposition", "Destroyed"),
    "dispensed": pgettext_lazy("disposition", "Dispensed"),
    "disposed": pgettext_lazy("disposition", "Disposed of"),
    "encoded": pgettext_lazy("disposition", "Encoded"),
    "expired": pgettext_lazy("disposition", "Expired"),
    "in_progress": pgettext_lazy("disposition", "In progress"),
    "in_transit": pgettext_lazy("disposition", "In transit"),
    "inactive": pgettext_lazy("disposition", "Inactive"),
    "mismatch_class": pgettext_lazy("disposition", "Product mismatch"),
    "mismatch_instance": pgettext_lazy("disposition", "Item mismatch"),
    "mismatch_quantity": pgettext_lazy("disposition", "Quantity mismatch"),
    "needs_replacement": pgettext_lazy("disposition", "Needs replacement"),
    "no_pedigree_match": pgettext_lazy("disposition", "No pedigree match"),
    "non_conformant": pgettext_lazy("disposition", "Non-conformant"),
    "non_sellable_other": pgettext_lazy("disposition", "Not sellable"),
    "partially_dispensed": pgettext_lazy("disposition", "Partially dispensed"),
    "recalled": pgettext_lazy("disposition", "Recalled"),
    "reserved": pgettext_lazy("disposition", "Reserved"),
    "retail_sold": pgettext_lazy("disposition", "Sold at retail"),
    "returned": pgettext_lazy("disposition", "Returned"),
    "sellable_accessible": pgettext_lazy("disposition", "Sellable, accessible"),
    "sellable_not_accessible": pgettext_lazy("disposition", "Sellable, not accessible"),
    "stolen": pgettext_lazy("disposition", "Stolen"),
    "unavailable": pgettext_lazy("disposition", "Unavailable"),
    "unknown": pgettext_lazy("disposition", "Unknown"),
}

PHASES: dict[str, Promise] = {
    phases.PROCUREMENT: pgettext_lazy("lifecycle phase", "Procurement"),
    phases.PRODUCTION: pgettext_lazy("lifecycle phase", "Production"),
    phases.QUALITY: pgettext_lazy("lifecycle phase", "Quality"),
    phases.WAREHOUSE: pgettext_lazy("lifecycle phase", "Warehouse"),
    phases.DISTRIBUTION: pgettext_lazy("lifecycle phase", "Distribution"),
    phases.USE: pgettext_lazy("lifecycle phase", "Use"),
    phases.SERVICE: pgettext_lazy("lifecycle phase", "Service"),
    phases.END_OF_LIFE: pgettext_lazy("lifecycle phase", "End of life"),
}

# CBV 2.0 business transaction types, and the ones our services add (urn:medtrace:btt:...).
DOCUMENT_TYPES: dict[str, Promise] = {
    "bol": pgettext_lazy("document type", "Bill of lading"),
    "cert": pgettext_lazy("document type", "Certificate"),
    "desadv": pgettext_lazy("document type", "Despatch advice"),
    "inv": pgettext_lazy("document type", "Invoice"),
    "pedigree": pgettext_lazy("document type", "Pedigree"),
    "po": pgettext_lazy("document type", "Purchase order"),
    "poc": pgettext_lazy("document type", "Order confirmation"),
    "prodorder": pgettext_lazy("document type", "Work order"),
    "recadv": pgettext_lazy("document type", "Receiving advice"),
    "rma": pgettext_lazy("document type", "Return authorisation"),
    "testprd": pgettext_lazy("document type", "Test procedure"),
    "testres": pgettext_lazy("document type", "Test result"),
    "upevt": pgettext_lazy("document type", "Upstream event"),
    "installation": pgettext_lazy("document type", "Installation record"),
    "service_ticket": pgettext_lazy("document type", "Service ticket"),
}

# Our document numbers start with their kind (lifecycle.services.next_number).
DOCUMENT_KINDS: dict[str, Promise] = {
    "AE": pgettext_lazy("document kind", "Adverse event report"),
    "CMP": pgettext_lazy("document kind", "Complaint"),
    "COND": pgettext_lazy("document kind", "Storage and transport conditions record"),
    "GR": pgettext_lazy("document kind", "Goods receipt"),
    "HOLD": pgettext_lazy("document kind", "Hold"),
    "IB": pgettext_lazy("document kind", "Installation record"),
    "INS": pgettext_lazy("document kind", "Inspection record"),
    "IQC": pgettext_lazy("document kind", "Incoming inspection"),
    "MP": pgettext_lazy("document kind", "Maintenance plan"),
    "MV": pgettext_lazy("document kind", "Maintenance visit"),
    "NC": pgettext_lazy("document kind", "Nonconformance"),
    "PL": pgettext_lazy("document kind", "Pick list"),
    "PO": pgettext_lazy("document kind", "Purchase order"),
    "RC": pgettext_lazy("document kind", "Recall"),
    "RCV": pgettext_lazy("document kind", "Receipt"),
    "REL": pgettext_lazy("document kind", "QC release"),
    "RMA": pgettext_lazy("document kind", "Return"),
    "RN": pgettext_lazy("document kind", "Recall notice"),
    "SC": pgettext_lazy("document kind", "Stock count"),
    "SCR": pgettext_lazy("document kind", "Scrap record"),
    "SHP": pgettext_lazy("document kind", "Shipment"),
    "SM": pgettext_lazy("document kind", "Stock move"),
    "SO": pgettext_lazy("document kind", "Sales order"),
    "ST": pgettext_lazy("document kind", "Service ticket"),
    "TC": pgettext_lazy("document kind", "Traceability certificate"),
    "WO": pgettext_lazy("document kind", "Work order"),
}

ERROR_REASONS: dict[str, Promise] = {
    "did_not_occur": pgettext_lazy("error reason", "it did not happen"),
    "incorrect_data": pgettext_lazy("error reason", "its data were wrong"),
}


def _lookup(table: dict[str, Promise], value: str | None) -> str:
    if not value:
        return ""
    word = phases.term(value) or value
    label = table.get(word)
    return str(label) if label is not None else value


def biz_step_label(value: str | None) -> str:
    """发货 / Shipped for ``shipping``; an unknown term as written."""
    return _lookup(BIZ_STEPS, value)


def disposition_label(value: str | None) -> str:
    return _lookup(DISPOSITIONS, value)


def phase_label(value: str | None) -> str:
    if not value:
        return ""
    label = PHASES.get(value)
    return str(label) if label is not None else value


def document_type_label(value: str | None) -> str:
    return _lookup(DOCUMENT_TYPES, value)


def error_reason_label(value: str | None) -> str:
    return _lookup(ERROR_REASONS, value)


def event_label(biz_step: str | None, event_type: str, action: str | None) -> str:
    """What happened, in words: the business step, else what the event type and action say."""
    if biz_step:
        return biz_step_label(biz_step)
    key = (event_type, None if event_type == "TransformationEvent" else action)
    label = EVENT_KINDS.get(key)
    return str(label) if label is not None else f"{event_type} {action or ''}".strip()
