"""GS1 CBV 2.0 "EPCIS Event Hash ID" (CBV 2.0 §8.9): a content hash that identifies an event.

``event_hash(event)`` returns ``ni:///sha-256;<hex>?ver=CBV2.0``, the SHA-256 of the event's
canonical *pre-hash string* (``prehash_string(event)``), so that the same event written in a
different but equivalent way (other key order, list order, time zone, timestamp or number
precision, EPC URN instead of GS1 Digital Link, CBV bare word instead of Web URI) gets the same
ID, and any change of content a different one.

The canonical form follows the GS1 reference implementation (RalphTro/epcis-event-hash-generator,
1.9.3, the program that produced the CBV examples); every hash in its conformance examples is
reproduced by the tests. Where its JSON reader and the algorithm's written rules disagree, we
follow what its published hashes show; where its output depends on an accident of its Python
code (see "Deliberate differences" below), we follow the written rule.

Pre-hash string
---------------
``eventType=<type>`` followed by the fields in this order, each written ``name=value`` for a value
and ``name`` followed by its children for a structure, concatenated without separators:

1. eventTime, eventTimeZoneOffset, certificationInfo, parentID, epcList, inputEPCList, childEPCs,
   quantityList, childQuantityList, inputQuantityList, outputEPCList, outputQuantityList, action,
   transformationID, bizStep, disposition, persistentDisposition (set, unset), readPoint (id),
   bizLocation (id), sensorElementList (sensorMetadata, sensorReport; see ``_SENSOR_ELEMENT``).
   Repeated values of one field (the EPCs of a list, the quantity elements, the sensor reports)
   are each rendered and then sorted by code point. User extensions inside readPoint, bizLocation,
   quantityElement, sensorElement, sensorMetadata and sensorReport follow that element's own
   fields, sorted.
2. Every other field, each rendered and all of them sorted together: bizTransactionList,
   sourceList, destinationList (each entry ``type=...`` then its value), ilmd, and the user
   extensions (``{namespace IRI}localName``). The reference orders these three standard lists
   alphabetically among the extensions, which is what its published hashes contain, rather than
   before the sensor elements as the algorithm's table says.

recordTime, eventID, errorDeclaration, the JSON-LD keywords (``@context`` ...), ``rdfs:comment``
and any field named in an ``ignoreFields`` declaration are left out; so are empty values, empty
lists and empty structures.

Values are normalised: surrounding whitespace trimmed; timestamps (eventTime and the sensor
time, startTime, endTime) in UTC, ``YYYY-MM-DDThh:mm:ss.sssZ``, rounded to the millisecond;
numbers without a ``+``, leading or trailing zeros (``452.0`` -> ``452``, ``0.10`` -> ``0.1``); CBV
bare words and 1.x URNs as their https://ref.gs1.org/cbv/ Web URI and sensor measurement types
and alert types as their https://gs1.org/voc/ term; CURIEs of standard fields expanded with the
@context; EPC URNs (``urn:epc:id``, ``urn:epc:class``, ``urn:epc:idpat``) and GS1 Digital Link
URIs as the constrained canonical Digital Link (``https://id.gs1.org``, no query string, only the
finest identification level, no CPV).

Deliberate differences from reference 1.9.3 (none is exercised by its examples; a randomised
comparison of 1,500 valid events outside these cases gave identical pre-hash strings):

- Timestamps round half up at the fourth fractional digit (the written rule); Python's
  ``round`` in the reference rounds an exact half to even (``.1425`` -> ``.142``), and it drops
  the event on ``.9995``; a timestamp without offset is read as UTC, not as the machine's local
  time.
- Bare CBV words are expanded in their own fields only; the reference replaces any string of the
  document that happens to be the suffix of a CBV URI expanded somewhere in the document.
- The prefixes of the standard EPCIS context (``gs1``, ``cbv``, ``cbvmda`` ...) are known without
  being repeated in the document's own @context; values of user extensions are literals
  (JSON-LD: not expanded); JSON ``true``/``false`` are written ``true``/``false`` (as in XML, the
  reference writes ``True``); JSON ``null`` is an absent value (the reference writes ``None``).
- A bizTransaction/source/destination is always ``type`` then value, whatever the key order of
  the JSON object; an entry without type is its value alone (the reference fails on the whole
  document).
- Extension fields are recognised by their expanded ``{namespace}`` name, also when the namespace
  does not end in ``/``; empty extension values and empty structures (``"ilmd": {}``) are left
  out (the reference writes their bare name); nested JSON arrays are flattened.
- EPC URNs of a 12-digit company prefix with an empty GRAI asset type, or with an empty GDTI
  document type or SGCN coupon reference in a pattern URI, are converted; the reference leaves
  them as URNs. EPC URNs whose parts have the wrong number of digits stay as written (the
  reference turns some of them into malformed links). Its domain test reads ``id.gs1.org`` as a
  regular expression (any character for the dots); ours does not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from medtrace.lib.epcis import cbv

__all__ = [
    "HASH_ALGORITHM_VERSION",
    "canonical_timestamp",
    "canonical_value",
    "event_hash",
    "event_hashes",
    "prehash_string",
]

HASH_ALGORITHM_VERSION = "CBV2.0"

# --------------------------------------------------------------------------------------------
# Tree model: (name, text, children). A JSON object becomes a node with children, a JSON list
# becomes repeated nodes of the same name, a scalar becomes a node with text.
# --------------------------------------------------------------------------------------------

_Node = tuple[str, str, list["_Node"]]
# A field order: (name, order of its children or None for a plain value) per field.
_Order = tuple[tuple[str, "_Order | None"], ...]

_QUANTITY_ELEMENT: _Order = (("epcClass", None), ("quantity", None), ("uom", None))
_EPCS: _Order = (("epc", None),)
_QUANTITIES: _Order = (("quantityElement", _QUANTITY_ELEMENT),)
_SENSOR_METADATA: _Order = tuple(
    (name, None)
    for name in (
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    )
)
_SENSOR_REPORT: _Order = tuple(
    (name, None)
    for name in (
        "type",
        "exception",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "time",
        "microorganism",
        "chemicalSubstance",
        "value",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uriValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "uom",
        "coordinateReferenceSystem",
    )
)
_SENSOR_ELEMENT: _Order = (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT))
_ID: _Order = (("id", None),)

_EVENT_ORDER: _Order = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", _QUANTITIES),
    ("childQuantityList", _QUANTITIES),
    ("inputQuantityList", _QUANTITIES),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITIES),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", _ID),
    ("bizLocation", _ID),
    ("sensorElementList", (("sensorElement", _SENSOR_ELEMENT),)),
)

# Top-level fields that never enter the hash (CBV 2.0 §8.9: they are not event content).
_EXCLUDED = frozenset({"type", "eventID", "recordTime", "errorDeclaration"})
# The three lists whose entries carry a type; the entry's value is under the singular name.
_TYPED_LISTS = {
    "bizTransactionList": ("bizTransaction", "bizTransactionType"),
    "sourceList": ("source", "sourceDestType"),
    "destinationList": ("destination", "sourceDestType"),
}
_TYPED_ENTRY_FIELDS = frozenset({"type", "bizTransaction", "source", "destination"})
# Names of the XML data model that the JSON binding spells differently.
_RENAMED = {
    "inputEPC": "epc",
    "outputEPC": "epc",
    "inputQuantity": "quantityElement",
    "outputQuantity": "quantityElement",
    "childQuantity": "quantityElement",
}
_RDFS_COMMENT = "{http://www.w3.org/2000/01/rdf-schema#}comment"

# --------------------------------------------------------------------------------------------
# Vocabularies written bare in JSON-LD.
# --------------------------------------------------------------------------------------------

GS1_VOC = "https://gs1.org/voc/"

# Sensor measurement types (sensorReport.type): the terms of the EPCIS 2.0 context, each mapped
# to gs1:<term>. The tests check this list against the context.
_MEASUREMENT_TYPES = frozenset(
    [
        "AbsoluteHumidity",
        "AbsorbedDose",
        "AbsorbedDoseRate",
        "Acceleration",
        "Altitude",
        "AmountOfSubstance",
        "AmountOfSubstancePerUnitVolume",
        "Angle",
        "AngularAcceleration",
        "AngularMomentum",
        "AngularVelocity",
        "Area",
        "Capacitance",
        "Conductance",
        "Conductivity",
        "Count",
        "Density",
        "Dimensionless",
        "DoseEquivalent",
        "DoseEquivalentRate",
        "DynamicViscosity",
        "ElectricCharge",
        "ElectricCurrent",
        "ElectricCurrentDensity",
        "ElectricFieldStrength",
        "Energy",
        "Exposure",
        "Force",
        "Frequency",
        "Illuminance",
        "Inductance",
        "Irradiance",
        "KinematicViscosity",
        "Length",
        "LinearMomentum",
        "Luminance",
        "LuminousFlux",
        "LuminousIntensity",
        "MagneticFlux",
        "MagneticFluxDensity",
        "MagneticVectorPotential",
        "Mass",
        "MassConcentration",
        "MassFlowRate",
        "MassPerAreaTime",
        "MemoryCapacity",
        "MolalityOfSolute",
        "MolarEnergy",
        "MolarMass",
        "MolarVolume",
        "Power",
        "Pressure",
        "RadiantFlux",
        "RadiantIntensity",
        "Radioactivity",
        "RelativeHumidity",
        "Resistance",
        "Resistivity",
        "SolidAngle",
        "SpecificVolume",
        "Speed",
        "SurfaceDensity",
        "SurfaceTension",
        "Temperature",
        "Time",
        "Torque",
        "Voltage",
        "Volume",
        "VolumeFlowRate",
        "VolumeFraction",
        "VolumetricFlux",
        "Wavenumber",
    ]
)

# (parent field, field) -> vocabulary of the bare words allowed there. "" is the event itself.
_VOCABULARY_FIELDS = {
    ("", "bizStep"): "bizStep",
    ("", "disposition"): "disposition",
    ("persistentDisposition", "set"): "disposition",
    ("persistentDisposition", "unset"): "disposition",
    ("sensorReport", "type"): "measurementType",
    ("sensorReport", "exception"): "sensorAlertType",
    ("sensorReport", "component"): "component",
}


def _expand_vocabulary(kind: str, value: str) -> str:
    """The Web URI of a bare vocabulary word; any other value unchanged."""
    if kind == "measurementType":
        return GS1_VOC + value if value in _MEASUREMENT_TYPES else value
    if kind == "sensorAlertType":
        return GS1_VOC + value if value in cbv.SENSOR_ALERT_TYPES else value
    try:
        return cbv.to_uri(kind, value)
    except ValueError:  # a bare word that is no CBV term: JSON-LD leaves it as it is
        return value


# --------------------------------------------------------------------------------------------
# JSON-LD @context: prefix -> namespace IRI.
# --------------------------------------------------------------------------------------------

# The prefixes the standard EPCIS 2.0 context defines; a document may redefine them.
_STANDARD_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1_VOC,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}


def _collect_prefixes(context: object, into: dict[str, str]) -> None:
    if isinstance(context, Mapping):
        for key, value in context.items():
            if not isinstance(key, str) or key.startswith("@"):
                continue
            if isinstance(value, Mapping):
                value = value.get("@id")
            if isinstance(value, str) and ":" in value:
                into[key] = value
    elif isinstance(context, list | tuple):
        for entry in context:
            _collect_prefixes(entry, into)
    # a context URL (str) brings no prefix of its own beyond the standard ones


def _prefixes(context: object) -> dict[str, str]:
    prefixes = dict(_STANDARD_PREFIXES)
    _collect_prefixes(context, prefixes)
    return prefixes


def _split_curie(text: str, prefixes: Mapping[str, str]) -> tuple[str, str] | None:
    """(namespace IRI, local name) if ``text`` is a CURIE with a known prefix."""
    prefix, colon, local = text.partition(":")
    if not colon or local.startswith("//"):
        return None
    namespace = prefixes.get(prefix)
    return None if namespace is None else (namespace, local)


def _field_name(key: str, prefixes: Mapping[str, str]) -> str:
    """A JSON key as the pre-hash names it: ``example:f`` -> ``{https://ns.example.com/}f``."""
    if ":" not in key:
        return key
    curie = _split_curie(key, prefixes)
    return key if curie is None else "{" + curie[0] + "}" + curie[1]


# --------------------------------------------------------------------------------------------
# JSON -> tree
# --------------------------------------------------------------------------------------------


def _scalar_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # numbers (int, float, Decimal) and anything else by its str()


class _Reader:
    """Turns one JSON event into the tree, expanding names and standard-field values."""

    __slots__ = ("prefixes",)

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes

    def children(self, obj: Mapping[str, Any], parent: str, standard: bool) -> list[_Node]:
        out: list[_Node] = []
        for key, value in obj.items():
            if not isinstance(key, str) or key.startswith("@") or key == "comment":
                continue
            name = _field_name(key, self.prefixes)
            if name == _RDFS_COMMENT:
                continue
            field_is_standard = standard and not name.startswith("{")
            typed = _TYPED_LISTS.get(name) if standard else None
            if typed is not None:
                out.append((name, "", self._typed_entries(value, *typed)))
            elif name.endswith("List"):
                item = _RENAMED.get(name[:-4], name[:-4])
                items = [
                    self.node(item, element, parent, field_is_standard)
                    for element in _elements(value)
                ]
                out.append((name, "", [n for n in items if n is not None]))
            elif name == "childEPCs":
                epcs = [self.node("epc", element, name, True) for element in _elements(value)]
                out.append((name, "", [n for n in epcs if n is not None]))
            else:
                for element in _elements(value):
                    node = self.node(name, element, parent, field_is_standard)
                    if node is not None:
                        out.append(node)
        return out

    def node(self, name: str, value: Any, parent: str, standard: bool) -> _Node | None:
        if _is_mapping(value):
            children = self.children(value, name, standard)
            if name == "quantity" and children:
                name = "quantityElement"
            return (_RENAMED.get(name, name), "", children)
        if isinstance(value, str):
            text = self.standard_value(parent, name, value) if standard else value
        else:
            scalar = _scalar_text(value)
            if scalar is None:
                return None
            text = scalar
        return (_RENAMED.get(name, name), text, [])

    def standard_value(self, parent: str, name: str, text: str) -> str:
        """A value of a standard EPCIS field: CURIE and bare-word expansion (JSON-LD typing)."""
        text = text.strip()
        if ":" in text:
            curie = _split_curie(text, self.prefixes)
            if curie is not None:
                text = curie[0] + curie[1]
        kind = _VOCABULARY_FIELDS.get((parent, name))
        if kind is not None:
            text = _expand_vocabulary(kind, text)
        return text

    def _typed_entries(self, value: object, value_name: str, kind: str) -> list[_Node]:
        """bizTransaction/source/destination entries: type, then the value, then extensions."""
        entries: list[_Node] = []
        for element in _elements(value):
            if _is_mapping(element):
                type_text = _scalar_text(element.get("type"))
                id_text = _scalar_text(element.get(value_name))
                rest = {k: v for k, v in element.items() if k not in ("type", value_name)}
                extensions = self.children(rest, value_name, False)
            else:
                type_text, id_text, extensions = None, _scalar_text(element), []
            parts: list[_Node] = []
            if type_text is not None:
                type_text = _expand_vocabulary(kind, self.standard_value("", "", type_text))
                parts.append(("type", type_text, []))
            if id_text is not None:
                parts.append((value_name, self.standard_value("", "", id_text), []))
            entries.append(("", "", parts + extensions))
        return entries


def _elements(value: object) -> list[Any]:
    """The values of a JSON member: the items of a list (nested lists flattened), else itself."""
    if type(value) is list or isinstance(value, list | tuple):
        if any(type(item) is list or isinstance(item, list | tuple) for item in value):
            flat: list[Any] = []
            for item in value:
                flat.extend(_elements(item))
            return flat
        return list(value)
    return [value]


def _is_mapping(value: object) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


# --------------------------------------------------------------------------------------------
# Tree -> pre-hash string
# --------------------------------------------------------------------------------------------

_TIME_FIELDS = frozenset({"eventTime", "time", "startTime", "endTime"})


def _render_ordered(children: list[_Node], order: _Order, nested: bool) -> tuple[str, list[_Node]]:
    """The fields named in ``order``, in that order; returns (string, nodes not consumed).

    In a nested element (readPoint, sensorReport ...) its user extensions follow its own fields.
    A node is consumed when all of its children were; the rest goes to the generic part.
    """
    by_name: dict[str, list[_Node]] = {}
    for child in children:
        by_name.setdefault(child[0], []).append(child)
    parts: list[str] = []
    leftovers: list[_Node] = []
    for name, sub_order in order:
        group = by_name.pop(name, None)
        if not group:
            continue
        rendered: list[str] = []
        for child in group:
            text, leftover = _render_field(child, sub_order)
            if text:
                rendered.append(text)
            if leftover is not None:
                leftovers.append(leftover)
        rendered.sort()
        parts.extend(rendered)
    if nested and by_name:
        extensions: list[_Node] = []
        for name, group in by_name.items():
            (extensions if name.startswith("{") else leftovers).extend(group)
        parts.append(_render_generic(extensions))
    else:
        for group in by_name.values():
            leftovers.extend(group)
    return "".join(parts), leftovers


def _render_field(node: _Node, sub_order: _Order | None) -> tuple[str, _Node | None]:
    name, text, children = node
    value = ""
    if text:
        text = text.strip()
        if text:
            value = "=" + (
                canonical_timestamp(text) if name in _TIME_FIELDS else canonical_value(text)
            )
    nested = ""
    leftover: _Node | None = None
    if sub_order is not None:
        nested, rest = _render_ordered(children, sub_order, True)
        if rest:
            leftover = (name, "", rest)
    elif children:
        leftover = (name, "", children)
    if value or nested:
        return name + value + nested, leftover
    return "", leftover


def _render_generic(nodes: Iterable[_Node]) -> str:
    """Fields outside the canonical order: each rendered, all sorted by code point."""
    rendered = [text for text in map(_render_generic_node, nodes) if text]
    rendered.sort()
    return "".join(rendered)


def _render_generic_node(node: _Node) -> str:
    name, text, children = node
    if text:
        text = text.strip()
    value = "=" + canonical_value(text) if text else ""
    if name == "" and children:
        # a bizTransaction/source/destination entry: type, then value, then anything else sorted
        fixed = [c for c in children if c[0] in _TYPED_ENTRY_FIELDS]
        others = [c for c in children if c[0] not in _TYPED_ENTRY_FIELDS]
        return "".join(map(_render_generic_node, fixed)) + _render_generic(others)
    nested = _render_generic(children) if children else ""
    if value or nested:
        return name + value + nested
    return ""


def _prehash(event: Mapping[str, Any], prefixes: Mapping[str, str], ignore: frozenset[str]) -> str:
    if not isinstance(event, Mapping):
        raise TypeError(f"an EPCIS event is a mapping, not {type(event).__name__}")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise ValueError("an EPCIS event needs its 'type' (ObjectEvent, AggregationEvent ...)")
    children = _Reader(prefixes).children(event, "", True)
    children = [c for c in children if c[0] not in _EXCLUDED and c[0] not in ignore]
    ordered, rest = _render_ordered(children, _EVENT_ORDER, False)
    return "eventType=" + event_type.strip() + ordered + _render_generic(rest)


def _ignored_names(ignore_fields: Iterable[str], prefixes: Mapping[str, str]) -> frozenset[str]:
    if isinstance(ignore_fields, str):
        ignore_fields = [ignore_fields]
    return frozenset(_field_name(f, prefixes) for f in ignore_fields if isinstance(f, str))


def prehash_string(
    event: Mapping[str, Any], *, context: object = None, ignore_fields: Iterable[str] = ()
) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON(-LD) event.

    ``context`` is the JSON-LD @context in scope (the document's and the event's own): it maps the
    prefixes of namespaced fields (``example:myField``) to their IRIs. The prefixes of the
    standard EPCIS context are always known. An event-level ``@context`` inside ``event`` is
    merged after ``context``. ``ignore_fields`` are top-level fields to leave out, as named by an
    ``ignoreFields`` declaration of the document (``"example:captureID"``).
    """
    prefixes = _prefixes(context)
    if isinstance(event, Mapping) and "@context" in event:
        _collect_prefixes(event["@context"], prefixes)
    return _prehash(event, prefixes, _ignored_names(ignore_fields, prefixes))


def _ni(prehash: str) -> str:
    digest = hashlib.sha256(prehash.encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_ALGORITHM_VERSION}"


def event_hash(
    event: Mapping[str, Any], *, context: object = None, ignore_fields: Iterable[str] = ()
) -> str:
    """The CBV 2.0 Event Hash ID of one event: ``ni:///sha-256;<lowercase hex>?ver=CBV2.0``.

    Arguments as for ``prehash_string``. Raises ValueError for an event without ``type``.
    """
    return _ni(prehash_string(event, context=context, ignore_fields=ignore_fields))


def _document_events(document: Mapping[str, Any]) -> tuple[list[Any], list[Mapping[str, Any]]]:
    """(events, the objects that may declare ignoreFields) of an EPCIS(Query)Document."""
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        raise ValueError("an EPCIS document needs its 'epcisBody'")
    declarers: list[Mapping[str, Any]] = [document]
    header = document.get("epcisHeader")
    if isinstance(header, Mapping):
        declarers.append(header)
    if "eventList" in body:
        events = body["eventList"]
    elif "event" in body:
        events = [body["event"]]
    elif isinstance(body.get("queryResults"), Mapping):
        results = body["queryResults"]
        declarers.append(results)
        results_body = results.get("resultsBody")
        events = results_body.get("eventList", []) if isinstance(results_body, Mapping) else []
    else:
        raise ValueError("the 'epcisBody' holds no 'eventList', 'event' or 'queryResults'")
    if not isinstance(events, list):
        raise ValueError("'eventList' must be a list of events")
    return events, declarers


def _declared_ignore_fields(
    declarers: Sequence[Mapping[str, Any]], prefixes: Mapping[str, str]
) -> list[str]:
    """Fields listed by any ``<prefix>:ignoreFields`` member of the document or query results."""
    found: list[str] = []
    for holder in declarers:
        for key, value in holder.items():
            if not isinstance(key, str):
                continue
            name = _field_name(key, prefixes)
            local = name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
            if local != "ignoreFields":
                continue
            for item in _elements(value):
                if isinstance(item, str):
                    found.append(item)
    return found


def event_hashes(document: Mapping[str, Any]) -> list[str]:
    """The Event Hash IDs of all events of an EPCISDocument or EPCISQueryDocument, in order.

    Each event is read with the document's @context merged with its own, and without the fields
    the document declares in an ``ignoreFields`` member (document, header or query results).
    """
    if not isinstance(document, Mapping):
        raise TypeError(f"an EPCIS document is a mapping, not {type(document).__name__}")
    events, declarers = _document_events(document)
    prefixes = _prefixes(document.get("@context"))
    ignore = _ignored_names(_declared_ignore_fields(declarers, prefixes), prefixes)
    hashes: list[str] = []
    for event in events:
        event_prefixes: Mapping[str, str] = prefixes
        if isinstance(event, Mapping) and "@context" in event:
            merged = dict(prefixes)
            _collect_prefixes(event["@context"], merged)
            event_prefixes = merged
        hashes.append(_ni(_prehash(event, event_prefixes, ignore)))
    return hashes


# --------------------------------------------------------------------------------------------
# Value normalisation
# --------------------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?"
)


def canonical_timestamp(text: str) -> str:
    """An ISO 8601 date-time as ``YYYY-MM-DDThh:mm:ss.sssZ`` (UTC, rounded to milliseconds).

    The millisecond is rounded half up on the fourth fractional digit. Without offset the time is
    read as UTC. Text that is no date-time is returned unchanged.
    """
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return text
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = match.groups()
    try:
        if sign:
            offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
            zone = timezone(-offset if sign == "-" else offset)
        else:
            zone = UTC
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            tzinfo=zone,
        )
        milliseconds = 0
        if fraction:
            milliseconds = int(fraction[:3].ljust(3, "0"))
            if len(fraction) > 3 and fraction[3] >= "5":
                milliseconds += 1
        moment = (moment + timedelta(milliseconds=milliseconds)).astimezone(UTC)
    except (ValueError, OverflowError):
        return text
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


_CBV_URN_PREFIX = "urn:epcglobal:cbv:"
_CBV_URN_TO_WEB = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)
_NUMBER_START = frozenset("+-.0123456789iInN")


def _canonical_number(text: str) -> str | None:
    """``+1.50`` -> ``1.5``, ``452.0`` -> ``452``; None if ``text`` is not a finite number."""
    if text[0] not in _NUMBER_START and not text[0].isdigit():
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number == int(number):
        return str(int(number))
    return str(number)


def canonical_value(text: str) -> str:
    """A field value as the pre-hash writes it (numbers, CBV URNs, EPCs, Digital Links)."""
    text = text.strip()
    if not text:
        return text
    if _CBV_URN_PREFIX in text:
        for urn, web in _CBV_URN_TO_WEB:
            text = text.replace(urn, web)
    number = _canonical_number(text)
    if number is not None:
        return number
    if "." not in text:
        return text
    if text.startswith("urn:epc:"):
        converted = _epc_urn_to_digital_link(text)
    elif text.startswith("http"):
        converted = _constrained_digital_link(text)
    else:
        return text
    return text if converted is None else converted


# --------------------------------------------------------------------------------------------
# EPC URN -> canonical GS1 Digital Link (EPC Tag Data Standard 2.0 §6-§8, GS1 Digital Link 1.2)
# --------------------------------------------------------------------------------------------


def _check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of a key without it (weights 3, 1, 3 ... from the right)."""
    total = 3 * sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2]))
    return str(-total % 10)


# One character of an EPC component: a URI-safe character or a %-escape of one (TDS "GS3A3").
_GS3A3 = (
    r"(?:%(?:2[125-9A-Fa-f]|3[0-9A-Fa-f]|4[1-9A-Fa-f]|5[0-9AaFf]|6[1-9A-Fa-f]|7[0-9Aa])"
    r"|[!'()*+,\-.0-9:;=A-Z_a-z])"
)
# One character of a CPI component part reference (TDS "CPRefChar").
_CPREF = r"(?:%(?:2[3DFdf]|3[0-9]|4[1-9A-Fa-f]|5[0-9Aa])|[0-9A-Z\-])"

_EPC_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(\d{6,12})\.(.*)", re.DOTALL)
_DIGITS_THEN_COMPONENT = re.compile(rf"(\d*)\.({_GS3A3}*)")
_DIGITS_ONLY = re.compile(r"\d*")
_DIGITS_THEN_STAR = re.compile(r"(\d*)\.\*")
_COMPONENT = re.compile(rf"{_GS3A3}+")
_CPI = re.compile(rf"({_CPREF}+)\.(\d{{1,12}})")
_CPI_PATTERN = re.compile(rf"({_CPREF}+)\.\*")
_ITIP = re.compile(rf"(\d*)\.(\d\d)\.(\d\d)\.({_GS3A3}+)")
_ITIP_PATTERN = re.compile(r"(\d*)\.(\d\d)\.(\d\d)\.\*")
_SGCN = re.compile(r"(\d*)\.(\d{1,12})")


def _units(component: str) -> int:
    """Characters of an EPC component, a %-escape counting as one."""
    return len(component) - 2 * component.count("%")


def _web_escape(component: str) -> str:
    """Percent-encode the characters GS1 Digital Link escapes (its Table 7-1) that EPCs allow."""
    for char, escape in (
        ("!", "%21"),
        ("(", "%28"),
        (")", "%29"),
        ("*", "%2A"),
        ("+", "%2B"),
        (",", "%2C"),
        (":", "%3A"),
    ):
        component = component.replace(char, escape)
    return component


def _gtin(company_prefix: str, item_reference: str) -> str:
    """GTIN-14 from company prefix and indicator + item reference (13 digits together)."""
    body = item_reference[:1] + company_prefix + item_reference[1:]
    return body + _check_digit(body)


def _epc_urn_to_digital_link(uri: str) -> str | None:
    match = _EPC_URN.fullmatch(uri)
    if match is None:
        return None
    kind, scheme, prefix, rest = match.groups()
    handler = _EPC_SCHEMES.get((kind, scheme))
    return None if handler is None else handler(prefix, rest)


_DL = "https://id.gs1.org/"


def _serialised(prefix: str, rest: str, key_digits: int, max_serial: int) -> tuple[str, str] | None:
    """(reference, serial) of ``<reference>.<serial>`` with prefix+reference = key_digits."""
    match = _DIGITS_THEN_COMPONENT.fullmatch(rest)
    if match is None:
        return None
    reference, serial = match.groups()
    if len(prefix) + len(reference) != key_digits or not 1 <= _units(serial) <= max_serial:
        return None
    return reference, serial


def _reference(prefix: str, rest: str, key_digits: int) -> str | None:
    """The reference of ``<reference>`` (digits only) with prefix+reference = key_digits."""
    if _DIGITS_ONLY.fullmatch(rest) is None or len(prefix) + len(rest) != key_digits:
        return None
    return rest


def _pattern_reference(prefix: str, rest: str, key_digits: int) -> str | None:
    """The reference of a pattern ``<reference>.*`` with prefix+reference = key_digits."""
    match = _DIGITS_THEN_STAR.fullmatch(rest)
    if match is None or len(prefix) + len(match.group(1)) != key_digits:
        return None
    return match.group(1)


def _sgtin(prefix: str, rest: str) -> str | None:
    parts = _serialised(prefix, rest, 13, 20)
    if parts is None or not parts[0]:
        return None
    return f"{_DL}01/{_gtin(prefix, parts[0])}/21/{_web_escape(parts[1])}"


def _lgtin(prefix: str, rest: str) -> str | None:
    parts = _serialised(prefix, rest, 13, 20)
    if parts is None or not parts[0]:
        return None
    return f"{_DL}01/{_gtin(prefix, parts[0])}/10/{_web_escape(parts[1])}"


def _upui(prefix: str, rest: str) -> str | None:
    parts = _serialised(prefix, rest, 13, 28)
    if parts is None or not parts[0]:
        return None
    return f"{_DL}01/{_gtin(prefix, parts[0])}/235/{_web_escape(parts[1])}"


def _sscc(prefix: str, rest: str) -> str | None:
    reference = _reference(prefix, rest, 17)
    if not reference:
        return None
    body = reference[0] + prefix + reference[1:]
    return f"{_DL}00/{body}{_check_digit(body)}"


def _sgln(prefix: str, rest: str) -> str | None:
    parts = _serialised(prefix, rest, 12, 20)
    if parts is None:
        return None
    body = prefix + parts[0]
    gln = f"{_DL}414/{body}{_check_digit(body)}"
    return gln if parts[1] == "0" else f"{gln}/254/{_web_escape(parts[1])}"


def _grai(prefix: str, rest: str) -> str | None:
    parts = _serialised(prefix, rest, 12, 16)
    if parts is None:
        return None
    body = "0" + prefix + parts[0]
    return f"{_DL}8003/{body}{_check_digit(body)}{_web_escape(parts[1])}"


def _gdti(prefix: str, rest: str) -> str | None:
    match = _DIGITS_THEN_COMPONENT.fullmatch(rest)
    if match is None:
        return None
    reference, serial = match.groups()
    # the serial may be empty; with a document type it has at most 19 characters, without 1-20
    shortest, longest = (0, 19) if reference else (1, 20)
    if len(prefix) + len(reference) != 12 or not shortest <= _units(serial) <= longest:
        return None
    body = prefix + reference
    return f"{_DL}253/{body}{_check_digit(body)}{_web_escape(serial)}"


def _sgcn(prefix: str, rest: str) -> str | None:
    match = _SGCN.fullmatch(rest)
    if match is None or len(prefix) + len(match.group(1)) != 12:
        return None
    body = prefix + match.group(1)
    return f"{_DL}255/{body}{_check_digit(body)}{match.group(2)}"


def _giai(prefix: str, rest: str) -> str | None:
    if _COMPONENT.fullmatch(rest) is None or _units(rest) > 30 - len(prefix):
        return None
    return f"{_DL}8004/{prefix}{_web_escape(rest)}"


def _ginc(prefix: str, rest: str) -> str | None:
    if _COMPONENT.fullmatch(rest) is None or _units(rest) > 30 - len(prefix):
        return None
    return f"{_DL}401/{prefix}{_web_escape(rest)}"


_Converter = Callable[[str, str], "str | None"]


def _keyed(ai: str, key_digits: int) -> _Converter:
    def convert(prefix: str, rest: str) -> str | None:
        reference = _reference(prefix, rest, key_digits)
        if reference is None:
            return None
        body = prefix + reference
        return f"{_DL}{ai}/{body}{_check_digit(body)}"

    return convert


def _cpi(prefix: str, rest: str) -> str | None:
    match = _CPI.fullmatch(rest)
    if match is None or _units(match.group(1)) > 30 - len(prefix):
        return None
    return f"{_DL}8010/{_web_escape(prefix + match.group(1))}/8011/{match.group(2)}"


def _itip(prefix: str, rest: str) -> str | None:
    match = _ITIP.fullmatch(rest)
    if match is None:
        return None
    reference, piece, total, serial = match.groups()
    if len(prefix) + len(reference) != 13 or not reference or _units(serial) > 20:
        return None
    return f"{_DL}8006/{_gtin(prefix, reference)}{piece}{total}/21/{_web_escape(serial)}"


def _sgtin_pattern(prefix: str, rest: str) -> str | None:
    reference = _pattern_reference(prefix, rest, 13)
    return f"{_DL}01/{_gtin(prefix, reference)}" if reference else None


def _keyed_pattern(ai: str, leading: str) -> _Converter:
    def convert(prefix: str, rest: str) -> str | None:
        reference = _pattern_reference(prefix, rest, 12)
        if reference is None:
            return None
        body = leading + prefix + reference
        return f"{_DL}{ai}/{body}{_check_digit(body)}"

    return convert


def _cpi_pattern(prefix: str, rest: str) -> str | None:
    match = _CPI_PATTERN.fullmatch(rest)
    if match is None or _units(match.group(1)) > 30 - len(prefix):
        return None
    return f"{_DL}8010/{_web_escape(prefix + match.group(1))}"


def _itip_pattern(prefix: str, rest: str) -> str | None:
    match = _ITIP_PATTERN.fullmatch(rest)
    if match is None:
        return None
    reference, piece, total = match.groups()
    if len(prefix) + len(reference) != 13 or not reference:
        return None
    return f"{_DL}8006/{_gtin(prefix, reference)}{piece}{total}"


_EPC_SCHEMES: dict[tuple[str, str], _Converter] = {
    ("id", "sgtin"): _sgtin,
    ("id", "sscc"): _sscc,
    ("id", "sgln"): _sgln,
    ("id", "grai"): _grai,
    ("id", "giai"): _giai,
    ("id", "gsrn"): _keyed("8018", 17),
    ("id", "gsrnp"): _keyed("8017", 17),
    ("id", "gdti"): _gdti,
    ("id", "cpi"): _cpi,
    ("id", "sgcn"): _sgcn,
    ("id", "ginc"): _ginc,
    ("id", "gsin"): _keyed("402", 16),
    ("id", "itip"): _itip,
    ("id", "upui"): _upui,
    ("id", "pgln"): _keyed("417", 12),
    ("class", "lgtin"): _lgtin,
    ("idpat", "sgtin"): _sgtin_pattern,
    ("idpat", "grai"): _keyed_pattern("8003", "0"),
    ("idpat", "gdti"): _keyed_pattern("253", ""),
    ("idpat", "sgcn"): _keyed_pattern("255", ""),
    ("idpat", "cpi"): _cpi_pattern,
    ("idpat", "itip"): _itip_pattern,
    ("idpat", "upui"): _sgtin_pattern,
}

# --------------------------------------------------------------------------------------------
# GS1 Digital Link URI -> constrained canonical form
# --------------------------------------------------------------------------------------------

_KEY_PATH = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    "|401|ginc|402|gsin|8003|grai|8004|giai"
)
# An http(s) URI with a primary key path segment before any query or fragment.
_DL_CANDIDATE = re.compile(rf"https?:[^?#]*/(?:{_KEY_PATH})/\d{{4}}[^/]")
_DL_SHORT_NAMES = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
_PRIMARY_AIS = "01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004"
_ON_CANONICAL_DOMAIN = re.compile(rf"https://id\.gs1\.org/(?:{_PRIMARY_AIS})/\d{{4}}[^/]")
# Where the key path starts when the domain is replaced; the first key found in this order wins.
_KEY_SEGMENTS = tuple(
    f"/{ai}/"
    for ai in (
        "00",
        "01",
        "253",
        "255",
        "401",
        "402",
        "414",
        "417",
        "8003",
        "8004",
        "8006",
        "8010",
        "8017",
        "8018",
    )
)
_GTIN_DIGITS = re.compile(r"https://id\.gs1\.org/01/(\d+)")
# The characters the constrained canonical form allows in an alphanumeric key part.
_C = r"[\"'\-.0-9;<=>?A-Z_a-z]"
_WITH_GTIN = r"https://id\.gs1\.org/(?:8006/\d{18}|01/\d{14})"
_CPV_LAST = re.compile(rf"{_WITH_GTIN}/22/{_C}{{0,20}}")
_CPV_BEFORE_MORE = re.compile(rf"{_WITH_GTIN}/22/[\"'\-./0-9;<=>?A-Z_a-z]{{0,20}}")
_LOT_AND_SERIAL = re.compile(rf"{_WITH_GTIN}/10/{_C}{{0,20}}/21/{_C}{{0,20}}")
_CONSTRAINED_CANONICAL = re.compile(
    r"https://id\.gs1\.org/(?:"
    r"00/\d{18}"
    rf"|01/\d{{14}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}}|/235/{_C}{{0,28}})?"
    rf"|253/\d{{13}}{_C}{{0,17}}"
    r"|255/\d{13}\d{0,12}"
    rf"|401/{_C}{{0,30}}"
    r"|402/\d{17}"
    rf"|414/\d{{13}}(?:/254/{_C}{{0,20}})?"
    r"|417/\d{13}"
    rf"|8003/\d{{14}}{_C}{{0,16}}"
    rf"|8004/{_C}{{0,30}}"
    rf"|8006/\d{{18}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}})?"
    r"|8010/[#\-/0-9A-Z]{0,30}(?:/8011/\d{0,12})?"
    r"|8017/\d{18}"
    r"|8018/\d{18}"
    r")"
)


def _constrained_digital_link(uri: str) -> str | None:
    """The constrained canonical form of a GS1 Digital Link URI, or None if it is none.

    id.gs1.org as domain, no query string, numeric AIs instead of short names, GTIN-14, no CPV,
    no lot when there is a serial; the result must be one of the keys/qualifier combinations
    the algorithm allows (00, 01, 01+21, 01+10, 01+235, 253, 255, 401, 402, 414, 414+254, 417,
    8003, 8004, 8006, 8006+21, 8006+10, 8010, 8010+8011, 8017, 8018).
    """
    if _DL_CANDIDATE.match(uri) is None:
        return None
    uri = uri.split("?", 1)[0]
    for short, ai in _DL_SHORT_NAMES:
        if short in uri:
            uri = uri.replace(short, ai)
    if _ON_CANONICAL_DOMAIN.match(uri) is None:
        for segment in _KEY_SEGMENTS:
            start = uri.find(segment)
            if start != -1:
                uri = "https://id.gs1.org" + uri[start:]
                break
    gtin = _GTIN_DIGITS.match(uri)
    if gtin is not None:
        length = len(gtin.group(1))
        padding = {13: "0", 12: "00"}.get(length, "000000" if 8 <= length <= 11 else "")
        if padding:
            uri = uri.replace("/01/", "/01/" + padding)
    if _CPV_LAST.fullmatch(uri) is not None:
        uri = uri[: uri.find("/22/")]
    elif _CPV_BEFORE_MORE.fullmatch(uri) is not None:
        start = uri.find("/22/")
        after = uri[start + 4 :]
        uri = uri[:start] + after[after.find("/") :]
    if _LOT_AND_SERIAL.fullmatch(uri) is not None:
        start = uri.find("/10/")
        after = uri[start + 4 :]
        uri = uri[:start] + after[after.find("/") :]
    return uri if _CONSTRAINED_CANONICAL.fullmatch(uri) is not None else None
