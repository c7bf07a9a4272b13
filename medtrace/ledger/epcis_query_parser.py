"""Reading SimpleEventQuery parameter values: the parser state and the value checks.

A value comes either from a URL (``QueryDict.lists()``: lists of strings) or from a named
query's JSON (``rest/query-schema.json``: arrays, numbers, strings). List values in a URL are
separated by ``|`` (the OpenAPI's pipeDelimited style); a ``,`` also separates them when every
part is a URI (or, for vocabulary parameters, a bare word), so an EPC whose serial contains a
comma is still read whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Exists, Q

from medtrace.lib import udi
from medtrace.lib.epcis import cbv

from .epcis_query_json import JsonMatch
from .identifiers import EpcResolver
from .models import EventType

__all__ = [
    "ACTIONS", "CMP", "EVENT_TYPES", "GS1_VOC", "OFFSET_SPACE", "PARAMETER_EXCEPTION", "SCHEME",
    "TIME", "EventQuery", "Parser", "QueryError", "Raw", "digital_link", "normalize_terms",
    "parse_number", "parse_time", "read_numbers", "term_spellings",
]  # fmt: skip

PARAMETER_EXCEPTION = "epcisException:QueryParameterException"
EVENT_TYPES = frozenset(EventType.values)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
GS1_VOC = "https://gs1.org/voc/"


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
    """A parsed query. ``q`` filters ``Event``; the recordTime bounds are applied by the
    selector, on the effective recordTime of a retracted event (epcis_query_select)."""

    q: Q = field(default_factory=Q)
    order_by: str | None = None  # "eventTime" | "recordTime"
    descending: bool = True
    event_count_limit: int | None = None
    max_event_count: int | None = None
    record_ge: datetime | None = None
    record_lt: datetime | None = None


Raw = Any


_BARE_WORD = re.compile(r"[A-Za-z0-9_.\-]+\Z")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
OFFSET_SPACE = re.compile(r"(T[0-9:.]+) (\d\d:?\d\d)\Z")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|z|[+-]\d\d:\d\d)\Z")
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
    if SCHEME.match(piece):
        return True
    return kind == "word" and _BARE_WORD.match(piece) is not None


class Parser:
    """The state of one parse: the query being built and what was already seen."""

    def __init__(self, *, from_url: bool, epc_scope: Any = None) -> None:
        self.from_url = from_url
        # A partner's query: MATCH_ parameters match only the EPCs and classes of this
        # subquery (``scoping.custody_epcs``), so a redacted EPC cannot be found by name.
        self.epc_scope = epc_scope
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
        return parse_number(name, self.scalar(name, raw))

    def integer(self, name: str, raw: Raw, *, minimum: int) -> int:
        value = self.scalar(name, raw)
        if isinstance(value, bool) or not (
            isinstance(value, int)
            or (isinstance(value, str) and value.strip().isascii() and value.strip().isdigit())
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
        for candidate in (canonical, digital_link(canonical)):
            if candidate and candidate not in out:
                out.append(candidate)
        return out


def parse_time(name: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise QueryError(name, f"{name}: expected a date-time string, got {value!r}")
    text = OFFSET_SPACE.sub(r"\1+\2", value.strip())  # '+' decoded as a space in a URL
    if not TIME.match(text):
        raise QueryError(
            name,
            f"{name}: {value!r} is not an RFC 3339 date-time with a UTC offset; expected "
            "e.g. 2022-06-30T00:15:47.000-05:00 or 2022-06-30T05:15:47Z",
        )
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("z", "Z")))
    except ValueError as exc:
        raise QueryError(name, f"{name}: {value!r} is not a valid date-time ({exc})") from exc


def parse_number(name: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise QueryError(name, f"{name}: expected a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise QueryError(name, f"{name}: expected a number, got {value!r}") from None
    if not number.is_finite():
        raise QueryError(name, f"{name}: expected a finite number, got {value!r}")
    return number


def digital_link(value: str) -> str | None:
    if not value.startswith("urn:epc:"):
        return None
    try:
        return udi.parse(value).digital_link
    except udi.UdiError:
        return None


def normalize_terms(name: str, kind: str, values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(cbv.normalize(kind, value))
        except ValueError as exc:
            raise QueryError(name, f"{name}: {exc}") from None
    return out


_URN_SEGMENT = {"bizStep": "bizstep", "disposition": "disp", "errorReason": "er"}
_WEB_CLASS = {"bizStep": "BizStep", "disposition": "Disp", "errorReason": "ER"}


def term_spellings(kind: str, normalized: list[str]) -> list[str]:
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


# Comparison operator of a parameter-name prefix.
CMP = {"EQ": "=", "GT": ">", "GE": ">=", "LT": "<", "LE": "<="}


def read_numbers(p: Parser, name: str, raw: Raw) -> list[Decimal]:
    """EQ_ takes a list of numbers; GT_ / GE_ / LT_ / LE_ one number."""
    if name.startswith("EQ_"):
        if p.from_url:
            return [parse_number(name, v) for v in p.values(name, raw, "word")]
        items = raw if isinstance(raw, list) else [raw]
        return [parse_number(name, v) for v in items]
    return [p.number(name, raw)]
