"""SimpleEventQuery parameters answered by Event columns and the ledger's index tables.

Each handler adds to the one ``Q`` of the query: a column test, or ``id IN (subquery)`` on
``EventEpc``, ``EventQuantity``, ``EventBizTransaction``, ``EventSourceDest`` or
``EventRetraction``, which their indexes serve without touching the event JSON.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import reduce

from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL

from medtrace.lib.epcis import cbv
from medtrace.masterdata.models import Location

from .epcis_query_json import JsonMatch, Test
from .epcis_query_parser import (
    ACTIONS,
    CMP,
    EVENT_TYPES,
    SCHEME,
    Parser,
    QueryError,
    Raw,
    normalize_terms,
    read_numbers,
)
from .epcis_query_units import compatible_units, convert
from .models import (
    EventBizTransaction,
    EventEpc,
    EventQuantity,
    EventRetraction,
    EventSourceDest,
)

__all__ = ["FAMILIES", "FIXED"]


def _event_type(p: Parser, name: str, raw: Raw) -> None:
    values = p.values(name, raw, "word")
    for value in values:
        if value not in EVENT_TYPES and not SCHEME.match(value):
            raise QueryError(
                name,
                f"{name}: {value!r} is not an event type; expected ObjectEvent, "
                "AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent or "
                "an extension event type URI",
            )
    p.add(Q(event_type__in=values))


def _event_time(p: Parser, name: str, raw: Raw) -> None:
    lookup = "gte" if name.startswith("GE_") else "lt"
    p.add(Q(**{f"event_time__{lookup}": p.time(name, raw)}))


def _record_time(p: Parser, name: str, raw: Raw) -> None:
    # Applied by the selector on the effective recordTime (see epcis_query_sql).
    value = p.time(name, raw)
    if name.startswith("GE_"):
        p.query.record_ge = value
    else:
        p.query.record_lt = value


def _action(p: Parser, name: str, raw: Raw) -> None:
    values = p.values(name, raw, "word")
    for value in values:
        if value not in ACTIONS:
            raise QueryError(
                name, f"{name}: {value!r} is not an action; expected ADD, OBSERVE or DELETE"
            )
    p.add(Q(action__in=values))


def _biz_step(p: Parser, name: str, raw: Raw) -> None:
    p.add(Q(biz_step__in=normalize_terms(name, "bizStep", p.values(name, raw, "word"))))


def _disposition(p: Parser, name: str, raw: Raw) -> None:
    p.add(Q(disposition__in=normalize_terms(name, "disposition", p.values(name, raw, "word"))))


def _location(p: Parser, name: str, raw: Raw) -> None:
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


def _transformation_id(p: Parser, name: str, raw: Raw) -> None:
    p.add(Q(document__transformationID__in=p.values(name, raw)))


def _event_id(p: Parser, name: str, raw: Raw) -> None:
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


def _match_epc(p: Parser, name: str, raw: Raw) -> None:
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
    if p.epc_scope is not None:
        rows = rows.filter(epc__in=p.epc_scope)
    p.add(Q(pk__in=rows.values("event_id")))


def _match_class(p: Parser, name: str, raw: Raw) -> None:
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
    rows = EventQuantity.objects.filter(match, role__in=_CLASS_ROLES[name])
    if p.epc_scope is not None:
        rows = rows.filter(epc_class__in=p.epc_scope)
    p.add(Q(pk__in=rows.values("event_id")))


_LOOKUP = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def _quantity(p: Parser, name: str, raw: Raw, uom: str | None = None) -> None:
    lookup = f"quantity__{_LOOKUP[CMP[name[:2]]]}"
    options: list[Q] = []
    for number in read_numbers(p, name, raw):
        if uom is None:
            options.append(Q(**{lookup: number}))
        else:
            options += [
                Q(uom=unit, **{lookup: convert(number, uom, unit)})
                for unit in compatible_units(uom)
            ]
    rows = EventQuantity.objects.filter(reduce(operator.or_, options)).values("event_id")
    p.add(Q(pk__in=rows))


def _retraction(p: Parser, condition: Q | JsonMatch) -> None:
    rows = EventRetraction.objects.filter(condition if isinstance(condition, Q) else Q(condition))
    p.add(Q(pk__in=rows.values("event_id")))


def _exists_error_declaration(p: Parser, name: str, raw: Raw) -> None:
    if p.boolean(name, raw):
        p.add(Exists(EventRetraction.objects.filter(event=OuterRef("pk"))))


def _declaration_time(p: Parser, name: str, raw: Raw) -> None:
    lookup = "gte" if name.startswith("GE_") else "lt"
    _retraction(p, Q(**{f"declaration_time__{lookup}": p.time(name, raw)}))


def _error_reason(p: Parser, name: str, raw: Raw) -> None:
    _retraction(p, Q(reason__in=normalize_terms(name, "errorReason", p.values(name, raw, "word"))))


def _corrective_event_id(p: Parser, name: str, raw: Raw) -> None:
    ids = tuple(p.values(name, raw))
    _retraction(p, JsonMatch("corrective_event_ids", ("*",), Test(None, "str", values=ids)))


def _order_by(p: Parser, name: str, raw: Raw) -> None:
    value = p.scalar(name, raw)
    if value not in ("eventTime", "recordTime"):
        raise QueryError(
            name, f"{name}: {value!r} cannot order results; expected eventTime or recordTime"
        )
    p.query.order_by = value


def _order_direction(p: Parser, name: str, raw: Raw) -> None:
    value = p.scalar(name, raw)
    if value not in ("ASC", "DESC"):
        raise QueryError(name, f"{name}: expected ASC or DESC, got {value!r}")
    p.order_direction = value


def _event_count_limit(p: Parser, name: str, raw: Raw) -> None:
    p.query.event_count_limit = p.integer(name, raw, minimum=1)


def _max_event_count(p: Parser, name: str, raw: Raw) -> None:
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


def _exists_standard(p: Parser, name: str, raw: Raw) -> None:
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
def _typed_list(p: Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
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


def _quantity_uom(p: Parser, name: str, raw: Raw, match: re.Match[str]) -> None:
    _quantity(p, name, raw, uom=match.group(3))


FIXED: dict[str, Callable[[Parser, str, Raw], None]] = {
    "eventType": _event_type,
    "GE_eventTime": _event_time,
    "LT_eventTime": _event_time,
    "GE_recordTime": _record_time,
    "LT_recordTime": _record_time,
    "EQ_action": _action,
    "EQ_bizStep": _biz_step,
    "EQ_disposition": _disposition,
    "EQ_readPoint": _location,
    "WD_readPoint": _location,
    "EQ_bizLocation": _location,
    "WD_bizLocation": _location,
    "EQ_transformationID": _transformation_id,
    **dict.fromkeys(_EPC_ROLES, _match_epc),
    **dict.fromkeys(_CLASS_ROLES, _match_class),
    **{f"{op}_quantity": _quantity for op in CMP},
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
}

FAMILIES: list[tuple[re.Pattern[str], Callable[[Parser, str, Raw, re.Match[str]], None]]] = [
    (re.compile(r"EQ_(bizTransaction|source|destination)_(.+)\Z"), _typed_list),
    (re.compile(r"(EQ|GT|GE|LT|LE)_(quantity)_([A-Z0-9]{2,4})\Z"), _quantity_uom),
]
