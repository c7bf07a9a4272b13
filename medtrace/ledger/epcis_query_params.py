"""SimpleEventQuery parameters (EPCIS 2.0 §8.2.7.1) parsed into one Django filter.

The same parser reads a URL query string (REST ``GET .../events?EQ_bizStep=shipping``) and a
named query's JSON (``rest/query-schema.json``). Every parameter becomes part of one ``Q``:
columns of ``Event``, ``IN (subquery)`` on the index tables (``EventEpc``, ``EventQuantity``,
``EventBizTransaction``, ``EventSourceDest``, ``EventRetraction``) or a ``JsonMatch`` on the
stored document, so a query runs as a single SQL statement whatever its size.

List values in a URL are separated by ``|`` (the OpenAPI's pipeDelimited style); a ``,`` also
separates them when every part is a URI (or, for vocabulary parameters, a bare word), so an EPC
whose serial contains a comma is still read whole. Vocabulary values accept any CBV spelling
(bare word, GS1 Web URI, EPCIS 1.x URN) and EPCs accept GS1 Digital Link URIs.
"""

from __future__ import annotations

import contextlib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL

from medtrace.lib import udi
from medtrace.lib.epcis import cbv
from medtrace.masterdata.models import Location

from .epcis_query_json import All, AnyOf, Condition, JsonMatch, Test
from .epcis_query_units import compatible_units, convert
from .identifiers import EpcResolver
from .models import (
    EventBizTransaction,
    EventEpc,
    EventQuantity,
    EventRetraction,
    EventSourceDest,
    EventType,
)

__all__ = ["EventQuery", "QueryError", "parse_query", "parse_time"]

PARAMETER_EXCEPTION = "epcisException:QueryParameterException"
EVENT_TYPES = frozenset(EventType.values)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
GS1_VOC = "https://gs1.org/voc/"
# Query-language keys that are not filters (paging is the REST binding's, not the query's).
_NOT_FILTERS = frozenset({"@context"})


class QueryError(Exception):
    """A parameter the query cannot run with; rendered as an RFC 7807 problem."""

    def __init__(
        self,
        parameter: str | None,
        message: str,
        *,
        type_: str = PARAMETER_EXCEPTION,
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.type = type_
        self.status = status


@dataclass
class EventQuery:
    """A parsed query: ``q`` filters ``Event``; ``record_range`` is applied by the selector."""

    q: Q = field(default_factory=Q)
    order_by: str | None = None  # "eventTime" | "recordTime"
    descending: bool = True
    event_count_limit: int | None = None
    max_event_count: int | None = None
    record_ge: datetime | None = None
    record_lt: datetime | None = None


Raw = Any
Handler = Callable[["_Parser", str, Raw], None]


def parse_query(params: Mapping[str, Raw], *, from_url: bool) -> EventQuery:
    """Parse query parameters. URL values are lists of strings (``QueryDict.lists()``)."""
    parser = _Parser(from_url=from_url)
    for name, raw in params.items():
        parser.parameter(name, raw)
    parser.finish()
    return parser.query


# ---------------------------------------------------------------------------------------------
# Reading raw values


_BARE_WORD = re.compile(r"[A-Za-z0-9_.\-]+\Z")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_OFFSET_SPACE = re.compile(r"(T[0-9:.]+) (\d\d:?\d\d)\Z")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|z|[+-]\d\d:\d\d)\Z")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def _split(value: str, kind: str) -> list[str]:
    out: list[str] = []
    for part in value.split("|"):
        pieces = part.split(",")
        if len(pieces) > 1 and kind != "text" and all(_list_item(p, kind) for p in pieces):
            out.extend(pieces)
        else:
            out.append(part)
    return out


def _list_item(piece: str, kind: str) -> bool:
    if _SCHEME.match(piece):
        return True
    return kind == "word" and _BARE_WORD.match(piece) is not None


class _Parser:
    def __init__(self, *, from_url: bool) -> None:
        self.from_url = from_url
        self.query = EventQuery()
        self.seen: set[str] = set()
        self.order_direction: str | None = None
        self._resolver: EpcResolver | None = None

    @property
    def resolver(self) -> EpcResolver:
        if self._resolver is None:
            self._resolver = EpcResolver()
        return self._resolver

    def add(self, condition: Q | Exists | JsonMatch) -> None:
        self.query.q &= condition if isinstance(condition, Q) else Q(condition)

    # -- raw value access ---------------------------------------------------------------------

    def values(self, name: str, raw: Raw, kind: str = "uri") -> list[str]:
        """A non-empty list of strings."""
        if self.from_url:
            items = [v for value in raw for v in _split(value, kind)]
        elif isinstance(raw, list):
            items = raw
        elif isinstance(raw, str):
            items = [raw]
        else:
            raise QueryError(name, f"{name}: expected an array of strings, got {raw!r}")
        if not items:
            raise QueryError(name, f"{name}: expected at least one value")
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise QueryError(name, f"{name}: expected non-empty strings, got {item!r}")
        return [item.strip() if kind != "text" else item for item in items]

    def scalar(self, name: str, raw: Raw) -> Any:
        if not self.from_url:
            return raw
        if len(raw) != 1:
            raise QueryError(name, f"{name} is given {len(raw)} times; give it once")
        return raw[0]

    def time(self, name: str, raw: Raw) -> datetime:
        return parse_time(name, self.scalar(name, raw))

    def number(self, name: str, raw: Raw) -> Decimal:
        return _number(name, self.scalar(name, raw))

    def integer(self, name: str, raw: Raw, *, minimum: int) -> int:
        value = self.scalar(name, raw)
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
        ):
            raise QueryError(name, f"{name}: expected a whole number, got {value!r}")
        number = int(value)
        if number < minimum:
            raise QueryError(name, f"{name}: expected a whole number of at least {minimum}")
        return number

    def boolean(self, name: str, raw: Raw, *, empty: bool = True) -> bool:
        value = self.scalar(name, raw)
        if value is None or value == "":
            return empty
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise QueryError(name, f"{name}: expected true or false, got {value!r}")

    # -- dispatch -------------------------------------------------------------------------------

    def parameter(self, name: str, raw: Raw) -> None:
        if name in _NOT_FILTERS and not self.from_url:
            return
        if name in self.seen:
            raise QueryError(name, f"{name} is given more than once")
        self.seen.add(name)
        handler = _FIXED.get(name)
        if handler is not None:
            handler(self, name, raw)
            return
        for pattern, family in _FAMILIES:
            match = pattern.match(name)
            if match:
                family(self, name, raw, match)
                return
        raise QueryError(
            name,
            f"unknown query parameter {name!r}; see EPCIS 2.0 §8.2.7.1 for the SimpleEventQuery "
            "parameters (e.g. eventType, GE_eventTime, EQ_bizStep, MATCH_epc)",
        )

    def finish(self) -> None:
        query = self.query
        if query.event_count_limit is not None and query.max_event_count is not None:
            raise QueryError(
                "eventCountLimit",
                "eventCountLimit and maxEventCount are mutually exclusive; give one of them",
            )
        if query.event_count_limit is not None and query.order_by is None:
            raise QueryError(
                "eventCountLimit", "eventCountLimit needs orderBy (eventTime or recordTime)"
            )
        if query.order_by is not None:
            query.descending = self.order_direction != "ASC"

    # -- spellings --------------------------------------------------------------------------

    def spellings(self, value: str) -> list[str]:
        """The URN and Digital Link forms of an identifier, as stored values may use either."""
        out = [value]
        canonical = self.resolver.canonical(value)
        for candidate in (canonical, _digital_link(canonical)):
            if candidate and candidate not in out:
                out.append(candidate)
        return out


def parse_time(name: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise QueryError(name, f"{name}: expected a date-time string, got {value!r}")
    text = _OFFSET_SPACE.sub(r"\1+\2", value.strip())  # '+' decoded as a space in a URL
    if not _TIME.match(text):
        raise QueryError(
            name,
            f"{name}: {value!r} is not an RFC 3339 date-time with a UTC offset; expected "
            "e.g. 2022-06-30T00:15:47.000-05:00 or 2022-06-30T05:15:47Z",
        )
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("z", "Z")))
    except ValueError as exc:
        raise QueryError(name, f"{name}: {value!r} is not a valid date-time ({exc})") from exc


def _number(name: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise QueryError(name, f"{name}: expected a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise QueryError(name, f"{name}: expected a number, got {value!r}") from None
    if not number.is_finite():
        raise QueryError(name, f"{name}: expected a finite number, got {value!r}")
    return number


def _digital_link(value: str) -> str | None:
    if not value.startswith("urn:epc:"):
        return None
    try:
        return udi.parse(value).digital_link
    except udi.UdiError:
        return None


def _vocabulary(name: str, kind: str, values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(cbv.normalize(kind, value))
        except ValueError as exc:
            raise QueryError(name, f"{name}: {exc}") from None
    return out


_URN_SEGMENT = {"bizStep": "bizstep", "disposition": "disp", "errorReason": "er"}
_WEB_CLASS = {"bizStep": "BizStep", "disposition": "Disp", "errorReason": "ER"}


def _vocabulary_spellings(kind: str, normalized: list[str]) -> list[str]:
    """Every way a stored document may spell these terms (documents keep what was sent)."""
    out: list[str] = []
    for term in normalized:
        out.append(term)
        if cbv.to_bare(kind, term) is not None:
            out += [
                cbv.to_uri(kind, term),
                f"urn:epcglobal:cbv:{_URN_SEGMENT[kind]}:{term}",
                f"cbv:{_WEB_CLASS[kind]}-{term}",
            ]
    return out


# ---------------------------------------------------------------------------------------------
# Fixed-name parameters


def _event_type(p: _Parser, name: str, raw: Raw) -> None:
    values = p.values(name, raw, "word")
    for value in values:
        if value not in EVENT_TYPES and not _SCHEME.match(value):
            raise QueryError(
                name,
                f"{name}: {value!r} is not an event type; expected ObjectEvent, "
                "AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent or "
                "an extension event type URI",
            )
    p.add(Q(event_type__in=values))


def _event_time(p: _Parser, name: str, raw: Raw) -> None:
    lookup = "gte" if name.startswith("GE_") else "lt"
    p.add(Q(**{f"event_time__{lookup}": p.time(name, raw)}))


def _record_time(p: _Parser, name: str, raw: Raw) -> None:
    # Applied by the selector on the effective recordTime (see epcis_query_sql).
    value = p.time(name, raw)
    if name.startswith("GE_"):
        p.query.record_ge = value
    else:
        p.query.record_lt = value


def _action(p: _Parser, name: str, raw: Raw) -> None:
    values = p.values(name, raw, "word")
    for value in values:
        if value not in ACTIONS:
            raise QueryError(
                name, f"{name}: {value!r} is not an action; expected ADD, OBSERVE or DELETE"
            )
    p.add(Q(action__in=values))


def _biz_step(p: _Parser, name: str, raw: Raw) -> None:
    p.add(Q(biz_step__in=_vocabulary(name, "bizStep", p.values(name, raw, "word"))))


def _disposition(p: _Parser, name: str, raw: Raw) -> None:
    p.add(Q(disposition__in=_vocabulary(name, "disposition", p.values(name, raw, "word"))))


def _persistent_disposition(p: _Parser, name: str, raw: Raw) -> None:
    terms = _vocabulary(name, "disposition", p.values(name, raw, "word"))
    which = "set" if name.endswith("_set") else "unset"
    spellings = tuple(_vocabulary_spellings("disposition", terms))
    p.add(
        JsonMatch(
            "document", ("persistentDisposition", which, "*"), Test(None, "str", values=spellings)
        )
    )


def _location(p: _Parser, name: str, raw: Raw) -> None:
    column = "read_point" if name.endswith("readPoint") else "biz_location"
    values = [s for v in p.values(name, raw) for s in p.spellings(v)]
    condition = Q(**{f"{column}__in": values})
    if name.startswith("WD_"):
        condition |= Q(**{f"{column}__in": _descendant_sglns(values)})
    p.add(condition)


def _descendant_sglns(sglns: list[str]) -> RawSQL:
    """SGLNs of every master-data location inside the given ones (WD_: "with descendants")."""
    table = Location._meta.db_table
    marks = ", ".join(["%s"] * len(sglns))
    sql = (
        f"WITH RECURSIVE inside(id, sgln) AS ("
        f"SELECT id, sgln FROM {table} WHERE sgln IN ({marks}) "
        f"UNION SELECT child.id, child.sgln FROM {table} AS child "
        f"JOIN inside ON child.parent_id = inside.id) SELECT sgln FROM inside"
    )
    return RawSQL(sql, tuple(sglns))


def _transformation_id(p: _Parser, name: str, raw: Raw) -> None:
    p.add(Q(document__transformationID__in=p.values(name, raw)))


def _event_id(p: _Parser, name: str, raw: Raw) -> None:
    p.add(Q(event_id__in=p.values(name, raw)))


# MATCH_ parameters: EPCIS 2.0 §8.2.7.1.1 -- a value matches an EPC equal to it or, when it is an
# EPC pattern (urn:epc:idpat:...), every EPC the pattern covers.
_EPC_ROLES = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
}
_CLASS_ROLES = {
    "MATCH_epcClass": ("quantity", "child"),
    "MATCH_inputEPCClass": ("input",),
    "MATCH_outputEPCClass": ("output",),
    "MATCH_anyEPCClass": ("quantity", "child", "input", "output"),
}
_IDPAT = re.compile(r"urn:epc:idpat:([A-Za-z0-9\-]+):(.+)\Z")


def _pattern(name: str, value: str) -> tuple[str, list[str], bool] | None:
    """(scheme, fixed leading fields, has-wildcard) for an EPC pattern URI, else None."""
    match = _IDPAT.match(value)
    if match is None:
        return None
    scheme, body = match.groups()
    fields = body.split(".")
    fixed: list[str] = []
    wildcard = False
    for part in fields:
        if part == "*":
            wildcard = True
        elif wildcard:
            raise QueryError(
                name,
                f"{name}: {value!r} is not a valid EPC pattern; once a field is '*' every "
                "following field must be '*' (e.g. urn:epc:idpat:sgtin:0614141.107346.*)",
            )
        elif not part:
            raise QueryError(name, f"{name}: {value!r} has an empty field")
        else:
            fixed.append(part)
    return scheme, fixed, wildcard


def _match_epc(p: _Parser, name: str, raw: Raw) -> None:
    exact: list[str] = []
    prefixes: list[str] = []
    for value in p.values(name, raw):
        pattern = _pattern(name, value)
        if pattern is None:
            exact += p.spellings(value)
            continue
        scheme, fixed, wildcard = pattern
        base = f"urn:epc:id:{scheme}:" + ".".join(fixed)
        if wildcard:
            prefixes.append(base + "." if fixed else base)
        else:
            exact.append(base)
    options = [Q(epc__in=exact)] if exact else []
    options += [Q(epc__startswith=prefix) for prefix in prefixes]
    rows = EventEpc.objects.filter(reduce(operator.or_, options), role__in=_EPC_ROLES[name])
    p.add(Q(pk__in=rows.values("event_id")))


def _match_class(p: _Parser, name: str, raw: Raw) -> None:
    exact: list[str] = []
    prefixes: list[str] = []
    for value in p.values(name, raw):
        pattern = _pattern(name, value)
        if pattern is None:
            exact += p.spellings(value)
            continue
        scheme, fixed, wildcard = pattern
        exact.append(value)
        if not wildcard:
            continue
        joined = ".".join(fixed) + "." if fixed else ""
        # A product-level pattern covers the pattern classes and, for SGTIN, the lots (LGTIN).
        prefixes.append(f"urn:epc:idpat:{scheme}:{joined}")
        if scheme == "sgtin":
            prefixes.append(f"urn:epc:class:lgtin:{joined}")
    match = Q(epc_class__in=exact)
    for prefix in prefixes:
        match |= Q(epc_class__startswith=prefix)
    rows = EventQuantity.objects.filter(match, role__in=_CLASS_ROLES[name]).values("event_id")
    p.add(Q(pk__in=rows))


_CMP = {"EQ": "=", "GT": ">", "GE": ">=", "LT": "<", "LE": "<="}
_LOOKUP = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def _numbers(p: _Parser, name: str, raw: Raw) -> list[Decimal]:
    if name.startswith("EQ_"):
        if p.from_url:
            return [_number(name, v) for v in p.values(name, raw, "word")]
        items = raw if isinstance(raw, list) else [raw]
        return [_number(name, v) for v in items]
    return [p.number(name, raw)]


def _quantity(p: _Parser, name: str, raw: Raw, uom: str | None = None) -> None:
    lookup = f"quantity__{_LOOKUP[_CMP[name[:2]]]}"
    options: list[Q] = []
    for number in _numbers(p, name, raw):
        if uom is None:
            options.append(Q(**{lookup: number}))
        else:
            options += [
                Q(uom=unit, **{lookup: convert(number, uom, unit)})
                for unit in compatible_units(uom)
            ]
    rows = EventQuantity.objects.filter(reduce(operator.or_, options)).values("event_id")
    p.add(Q(pk__in=rows))


def _retraction(p: _Parser, condition: Q | JsonMatch) -> None:
    rows = EventRetraction.objects.filter(condition if isinstance(condition, Q) else Q(condition))
    p.add(Q(pk__in=rows.values("event_id")))


def _exists_error_declaration(p: _Parser, name: str, raw: Raw) -> None:
    if p.boolean(name, raw):
        p.add(Exists(EventRetraction.objects.filter(event=OuterRef("pk"))))


def _declaration_time(p: _Parser, name: str, raw: Raw) -> None:
    lookup = "gte" if name.startswith("GE_") else "lt"
    _retraction(p, Q(**{f"declaration_time__{lookup}": p.time(name, raw)}))


def _error_reason(p: _Parser, name: str, raw: Raw) -> None:
    _retraction(p, Q(reason__in=_vocabulary(name, "errorReason", p.values(name, raw, "word"))))


def _corrective_event_id(p: _Parser, name: str, raw: Raw) -> None:
    ids = tuple(p.values(name, raw))
    _retraction(p, JsonMatch("corrective_event_ids", ("*",), Test(None, "str", values=ids)))


def _order_by(p: _Parser, name: str, raw: Raw) -> None:
    value = p.scalar(name, raw)
    if value not in ("eventTime", "recordTime"):
        raise QueryError(
            name, f"{name}: {value!r} cannot order results; expected eventTime or recordTime"
        )
    p.query.order_by = value


def _order_direction(p: _Parser, name: str, raw: Raw) -> None:
    value = p.scalar(name, raw)
    if value not in ("ASC", "DESC"):
        raise QueryError(name, f"{name}: expected ASC or DESC, got {value!r}")
    p.order_direction = value


def _event_count_limit(p: _Parser, name: str, raw: Raw) -> None:
    p.query.event_count_limit = p.integer(name, raw, minimum=1)


def _max_event_count(p: _Parser, name: str, raw: Raw) -> None:
    p.query.max_event_count = p.integer(name, raw, minimum=0)


# Standard fields EXISTS_ can test: Event columns, or members of the stored document.
_EXISTS_COLUMNS = {
    "action": "action",
    "bizStep": "biz_step",
    "disposition": "disposition",
    "readPoint": "read_point",
    "bizLocation": "biz_location",
}
_EXISTS_KEYS = {
    "epcList", "quantityList", "parentID", "childEPCs", "childQuantityList", "inputEPCList",
    "outputEPCList", "inputQuantityList", "outputQuantityList", "transformationID",
    "bizTransactionList", "sourceList", "destinationList", "sensorElementList",
    "persistentDisposition", "ilmd", "certificationInfo",
}  # fmt: skip


def _exists_standard(p: _Parser, name: str, raw: Raw) -> None:
    if not p.boolean(name, raw):
        return  # EPCIS: EXISTS_ with false means "regardless"
    field_name = name.removeprefix("EXISTS_")
    if field_name == "sensorElement":  # the spelling TCR-53 uses
        field_name = "sensorElementList"
    column = _EXISTS_COLUMNS.get(field_name)
    if column is not None:
        p.add(Q(**{f"{column}__isnull": False}))
    else:
        p.add(Q(document__has_key=field_name))


# Sensor data (EPCIS 2.0 §7.3.8): sensorMetadata / sensorReport attributes.
Steps = tuple[str, ...]
_SENSOR: Steps = ("sensorElementList", "*")
_METADATA: Steps = (*_SENSOR, "sensorMetadata")
_REPORT: Steps = (*_SENSOR, "sensorReport", "*")
_METADATA_OR_REPORT = (
    "time", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules",
)  # fmt: skip


def _sensor_match(p: _Parser, paths: list[Steps], test: Condition) -> None:
    p.add(reduce(operator.or_, (Q(JsonMatch("document", path, test)) for path in paths)))


def _sensor_time(p: _Parser, name: str, raw: Raw) -> None:
    attribute = name[3:]
    paths = [_METADATA, _REPORT] if attribute in _METADATA_OR_REPORT else [_METADATA]
    test = Test(attribute, "time", _CMP[name[:2]], (p.time(name, raw),))
    _sensor_match(p, paths, test)


def _sensor_uri(p: _Parser, name: str, raw: Raw) -> None:
    attribute = name[3:]
    paths = [_METADATA, _REPORT] if attribute in _METADATA_OR_REPORT else [_REPORT]
    kind = "text" if attribute in ("stringValue", "hexBinaryValue") else "uri"
    values = p.values(name, raw, kind)
    if attribute == "hexBinaryValue":  # xsd:hexBinary is case-insensitive
        values = sorted({v for value in values for v in (value, value.upper(), value.lower())})
    _sensor_match(p, paths, Test(attribute, "str", values=tuple(values)))


def _sensor_type(p: _Parser, name: str, raw: Raw) -> None:
    spellings: list[str] = []
    for value in p.values(name, raw, "word"):
        bare = value.removeprefix(GS1_VOC).removeprefix("http://gs1.org/voc/")
        bare = bare.removeprefix("gs1:")
        if _SCHEME.match(bare):
            spellings.append(value)
        else:
            spellings += [bare, f"gs1:{bare}", f"{GS1_VOC}{bare}"]
    _sensor_match(p, [_REPORT], Test("type", "str", values=tuple(spellings)))


def _sensor_boolean(p: _Parser, name: str, raw: Raw) -> None:
    _sensor_match(
        p, [_REPORT], Test("booleanValue", "bool", values=(p.boolean(name, raw, empty=True),))
    )


def _sensor_number(p: _Parser, name: str, raw: Raw) -> None:
    cmp = _CMP[name[:2]]
    tests = tuple(Test(name[3:], "num", cmp, (n,)) for n in _numbers(p, name, raw))
    _sensor_match(p, [_REPORT], AnyOf(tests))


_FIXED: dict[str, Handler] = {
    "eventType": _event_type,
    "GE_eventTime": _event_time,
    "LT_eventTime": _event_time,
    "GE_recordTime": _record_time,
    "LT_recordTime": _record_time,
    "EQ_action": _action,
    "EQ_bizStep": _biz_step,
    "EQ_disposition": _disposition,
    "EQ_persistentDisposition_set": _persistent_disposition,
    "EQ_persistentDisposition_unset": _persistent_disposition,
    "EQ_readPoint": _location,
    "WD_readPoint": _location,
    "EQ_bizLocation": _location,
    "WD_bizLocation": _location,
    "EQ_transformationID": _transformation_id,
    **dict.fromkeys(_EPC_ROLES, _match_epc),
    **dict.fromkeys(_CLASS_ROLES, _match_class),
    **{f"{op}_quantity": _quantity for op in _CMP},
    "EQ_eventID": _event_id,
    "EXISTS_errorDeclaration": _exists_error_declaration,
    "GE_errorDeclarationTime": _declaration_time,
    "LT_errorDeclarationTime": _declaration_time,
    # rest/query-schema.json spells these two with an underscore; accept both.
    "GE_errorDeclaration_Time": _declaration_time,
    "LT_errorDeclaration_Time": _declaration_time,
    "EQ_errorReason": _error_reason,
    "EQ_correctiveEventID": _corrective_event_id,
    "orderBy": _order_by,
    "orderDirection": _order_direction,
    "eventCountLimit": _event_count_limit,
    "maxEventCount": _max_event_count,
    **{f"EXISTS_{key}": _exists_standard for key in (*_EXISTS_COLUMNS, *_EXISTS_KEYS)},
    "EXISTS_sensorElement": _exists_standard,
    **{f"{op}_{attr}": _sensor_time for op in ("GE", "LT")
       for attr in ("time", "startTime", "endTime")},
    "EQ_type": _sensor_type,
    **{f"EQ_{attr}": _sensor_uri for attr in (
        "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules",
        "microorganism", "chemicalSubstance", "stringValue", "hexBinaryValue", "uriValue")},
    "EQ_booleanValue": _sensor_boolean,
    **{f"{op}_percRank": _sensor_number for op in ("GT", "GE", "LT", "LE")},
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Parameter families with a variable part


def _typed_list(p: _Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    """EQ_bizTransaction_<type>, EQ_source_<type>, EQ_destination_<type>."""
    what, type_ = match.groups()
    vocabulary = "bizTransactionType" if what == "bizTransaction" else "sourceDestType"
    try:
        normalized = cbv.normalize(vocabulary, type_)
    except ValueError as exc:
        raise QueryError(name, f"{name}: {exc}") from None
    values = [s for v in p.values(name, raw) for s in p.spellings(v)]
    if what == "bizTransaction":
        rows = EventBizTransaction.objects.filter(type=normalized, value__in=values)
        p.add(Q(pk__in=rows.values("event_id")))
    else:
        found = EventSourceDest.objects.filter(kind=what, type=normalized, value__in=values)
        p.add(Q(pk__in=found.values("event_id")))


def _sensor_value(p: _Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    """EQ_value_CEL, GE_minValue_KEL, ...: sensor values, compared across compatible units."""
    op, attribute, uom = match.groups()
    cmp = _CMP[op]
    alternatives: list[Condition] = []
    for number in _numbers(p, name, raw):
        for unit in compatible_units(uom):
            converted = convert(number, uom, unit)
            alternatives.append(
                All(
                    (
                        Test("uom", "str", values=(unit,)),
                        _number_test(attribute, cmp, converted, exact=unit == uom),
                    )
                )
            )
    _sensor_match(p, [_REPORT], AnyOf(tuple(alternatives)))


def _number_test(key: str, cmp: str, value: Decimal, *, exact: bool) -> Condition:
    if cmp != "=" or exact:
        return Test(key, "num", cmp, (value,))
    # A converted value is rarely exact in binary floating point: equal within 1e-9 relative.
    slack = abs(value) * Decimal("1e-9") + Decimal("1e-12")
    return All((Test(key, "num", ">=", (value - slack,)), Test(key, "num", "<=", (value + slack,))))


def _quantity_uom(p: _Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    _quantity(p, name, raw, uom=match.group(3))


# Where extension fields live, by the qualifier in the parameter name.
_EXTENSION_PLACES: dict[str, tuple[str, ...]] = {
    "": (),
    "ILMD_": ("ilmd",),
    "ERROR_DECLARATION_": ("errorDeclaration",),
    "SENSORELEMENT_": _SENSOR,
    "SENSORMETADATA_": _METADATA,
    "SENSORREPORT_": _REPORT,
    "readPoint_": ("readPoint",),
    "bizLocation_": ("bizLocation",),
}


def _extension(p: _Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    """EQ_/GT_/GE_/LT_/LE_/EXISTS_ on user extension fields (EPCIS 2.0 §8.2.7.1)."""
    op, inner, place, field_name = match.groups()
    if '"' in field_name or any(ord(c) < 32 for c in field_name):
        raise QueryError(name, f"{name}: a field name cannot contain quotes or control characters")
    base = _EXTENSION_PLACES[place or ""]
    steps = (*base, "ext", "**") if inner else base
    if op == "EXISTS":
        if not p.boolean(name, raw):
            return
        condition: Condition = Test(field_name, "exists")
    elif op == "EQ":
        condition = _equals(p, name, raw, field_name)
    else:
        condition = _compare(p, name, raw, field_name, _CMP[op])
    if place == "ERROR_DECLARATION_":
        in_event = Q(JsonMatch("document", steps, condition))
        declared = EventRetraction.objects.filter(JsonMatch("document", steps, condition))
        p.add(in_event | Q(pk__in=declared.values("event_id")))
    else:
        p.add(JsonMatch("document", steps, condition))


def _equals(p: _Parser, name: str, raw: Raw, key: str) -> Condition:
    if not p.from_url and isinstance(raw, int | float) and not isinstance(raw, bool):
        return Test(key, "num", "=", (Decimal(str(raw)),))
    if not p.from_url and isinstance(raw, str) and _TIME.match(raw):
        return Test(key, "time", "=", (parse_time(name, raw),))
    values = p.values(name, raw, "text")
    tests: list[Condition] = [Test(key, "str", values=tuple(values))]
    for value in values:
        with contextlib.suppress(QueryError):
            tests.append(Test(key, "num", "=", (_number(name, value),)))
        if _TIME.match(value):
            tests.append(Test(key, "time", "=", (parse_time(name, value),)))
    return AnyOf(tuple(tests))


def _compare(p: _Parser, name: str, raw: Raw, key: str, cmp: str) -> Condition:
    value = p.scalar(name, raw)
    if isinstance(value, str) and _TIME.match(_OFFSET_SPACE.sub(r"\1+\2", value.strip())):
        return Test(key, "time", cmp, (parse_time(name, value),))
    try:
        return Test(key, "num", cmp, (_number(name, value),))
    except QueryError:
        raise QueryError(
            name, f"{name}: expected a number or an RFC 3339 date-time, got {value!r}"
        ) from None


def _master_data(p: _Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    raise QueryError(
        name,
        f"{name}: HASATTR_ and EQ_ATTR_ query EPCIS master-data attributes; this repository "
        "holds no master-data vocabulary, so these parameters are not supported",
    )


_UOM = r"([A-Z0-9]{2,4})"
_FAMILIES: list[tuple[re.Pattern[str], Callable[[_Parser, str, Raw, re.Match[str]], None]]] = [
    (re.compile(r"EQ_(bizTransaction|source|destination)_(.+)\Z"), _typed_list),
    (re.compile(rf"(EQ|GT|GE|LT|LE)_(value|minValue|maxValue|meanValue|sDev|percValue)_{_UOM}\Z"),
     _sensor_value),
    (re.compile(rf"(EQ|GT|GE|LT|LE)_(quantity)_{_UOM}\Z"), _quantity_uom),
    (re.compile(r"(HASATTR|EQ_ATTR)_(.+)\Z"), _master_data),
    (re.compile(
        r"(EQ|GT|GE|LT|LE|EXISTS)_(INNER_)?"
        r"(ILMD_|ERROR_DECLARATION_|SENSORELEMENT_|SENSORMETADATA_|SENSORREPORT_|readPoint_|"
        r"bizLocation_)?([^_:][^:]*:.+)\Z"
    ), _extension),
]  # fmt: skip
