"""CBV 2.0 vocabularies (GS1 Core Business Vocabulary, ratified June 2022).

The term lists are written here from the CBV 2.0 standard and its ontology
(https://ref.gs1.org/cbv); the conformance tests prove they equal the ontology and the JSON-LD
sub-contexts. The app never reads those files at run time.

A CBV term has three spellings:

- the bare term used in EPCIS 2.0 JSON-LD (``"shipping"``), which the EPCIS context expands to
- the GS1 Web URI (``https://ref.gs1.org/cbv/BizStep-shipping``), the canonical form in CBV 2.0
  and in the event hash, and
- the EPCIS 1.x URN (``urn:epcglobal:cbv:bizstep:shipping``), which CBV 2.0 keeps as
  an equivalent (owl:sameAs in the ontology).

A ``cbv:`` CURIE (``cbv:BizStep-shipping``) is the Web URI abbreviated with the prefix the
standard EPCIS context defines, so it is read as the Web URI.

We store the bare term for CBV values (one spelling per term keeps queries simple) and any other
URI unchanged. These functions accept all three spellings; the JSON validator (values.py) is
stricter, like the GS1 JSON Schema, and refuses the 1.x URN spelling in JSON documents.
"""

from __future__ import annotations

import re

__all__ = [
    "BIZ_STEPS",
    "BIZ_TRANSACTION_TYPES",
    "COMPONENTS",
    "DISPOSITIONS",
    "ERROR_REASONS",
    "SENSOR_ALERT_TYPES",
    "SOURCE_DEST_TYPES",
    "VOCABULARIES",
    "WEB_URI_BASE",
    "is_uri",
    "normalize",
    "not_a_term_message",
    "to_bare",
    "to_uri",
]

WEB_URI_BASE = "https://ref.gs1.org/cbv/"

# CBV 2.0 business steps (cbv:BizStep-*).
BIZ_STEPS: frozenset[str] = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    }
)

# CBV 2.0 dispositions (cbv:Disp-*).
DISPOSITIONS: frozenset[str] = frozenset(
    {
        "active",
        "available",
        "completeness_inferred",
        "completeness_verified",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_class",
        "mismatch_instance",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    }
)

# CBV 2.0 business transaction types (cbv:BTT-*).
BIZ_TRANSACTION_TYPES: frozenset[str] = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)

# CBV 2.0 source/destination types (cbv:SDT-*).
SOURCE_DEST_TYPES: frozenset[str] = frozenset({"location", "owning_party", "possessing_party"})

# CBV 2.0 error reasons (cbv:ER-*).
ERROR_REASONS: frozenset[str] = frozenset({"did_not_occur", "incorrect_data"})

# CBV 2.0 sensor measurement components (cbv:Comp-*, sensorReport.component).
COMPONENTS: frozenset[str] = frozenset(
    {
        "x",
        "y",
        "z",
        "axial_distance",
        "azimuth",
        "height",
        "spherical_radius",
        "polar_angle",
        "elevation_angle",
        "easting",
        "northing",
        "latitude",
        "longitude",
        "altitude",
    }
)

# Sensor alert types (sensorReport.exception) are GS1 Web Vocabulary terms (gs1:ALARM_CONDITION),
# not CBV terms, but EPCIS 2.0 JSON-LD writes them bare in the same way.
SENSOR_ALERT_TYPES: frozenset[str] = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})

VOCABULARIES: dict[str, frozenset[str]] = {
    "bizStep": BIZ_STEPS,
    "disposition": DISPOSITIONS,
    "bizTransactionType": BIZ_TRANSACTION_TYPES,
    "sourceDestType": SOURCE_DEST_TYPES,
    "errorReason": ERROR_REASONS,
}

# kind -> (Web URI class prefix, 1.x URN segment, human name, example term)
_SPELLINGS: dict[str, tuple[str, str, str, str]] = {
    "bizStep": ("BizStep", "bizstep", "business step", "shipping"),
    "disposition": ("Disp", "disp", "disposition", "in_transit"),
    "bizTransactionType": ("BTT", "btt", "business transaction type", "po"),
    "sourceDestType": ("SDT", "sdt", "source/destination type", "owning_party"),
    "errorReason": ("ER", "er", "error reason", "incorrect_data"),
    "component": ("Comp", "comp", "sensor component", "x"),
}

_TERMS: dict[str, frozenset[str]] = {**VOCABULARIES, "component": COMPONENTS}

# RFC 3986 scheme followed by ':'; a bare CBV term never contains ':'.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def is_uri(value: str) -> bool:
    """True if ``value`` starts with a URI scheme (or a CURIE prefix, which looks the same)."""
    return _SCHEME.match(value) is not None


def _spelling(kind: str) -> tuple[str, str, str, str]:
    try:
        return _SPELLINGS[kind]
    except KeyError:
        raise ValueError(
            f"unknown CBV vocabulary {kind!r}; expected one of {', '.join(_SPELLINGS)}"
        ) from None


def to_bare(kind: str, value: str) -> str | None:
    """The bare CBV term if ``value`` is any spelling of a CBV term of ``kind``, else None."""
    web_class, urn_segment, _, _ = _spelling(kind)
    terms = _TERMS[kind]
    if value in terms:
        return value
    for prefix in (
        f"{WEB_URI_BASE}{web_class}-",
        f"urn:epcglobal:cbv:{urn_segment}:",
        f"cbv:{web_class}-",
    ):
        if value.startswith(prefix):
            term = value[len(prefix) :]
            return term if term in terms else None
    return None


def to_uri(kind: str, value: str) -> str:
    """The canonical GS1 Web URI of a CBV term in any spelling; other URIs unchanged.

    Raises ValueError for a bare word that is not a CBV term of ``kind``.
    """
    bare = to_bare(kind, value)
    if bare is not None:
        return f"{WEB_URI_BASE}{_SPELLINGS[kind][0]}-{bare}"
    if is_uri(value):
        return value
    raise ValueError(not_a_term_message(kind, value))


def normalize(kind: str, value: str) -> str:
    """The stored form: the bare term for a CBV term in any spelling, any other URI unchanged.

    Raises ValueError for a bare word that is not a CBV term of ``kind``.
    """
    bare = to_bare(kind, value)
    if bare is not None:
        return bare
    if is_uri(value):
        return value
    raise ValueError(not_a_term_message(kind, value))


def not_a_term_message(kind: str, value: str) -> str:
    """The message for a bare word that is not a CBV term of ``kind``."""
    _, _, human, example = _spelling(kind)
    return f"{kind} {value!r} is not a CBV 2.0 {human}; use a CBV term such as {example!r} or a URI"
