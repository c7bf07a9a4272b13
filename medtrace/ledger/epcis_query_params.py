"""SimpleEventQuery parameters (EPCIS 2.0 §8.2.7.1) parsed into one Django filter.

The same parser reads a URL query string (REST ``GET .../events?EQ_bizStep=shipping``) and a
named query's JSON (``rest/query-schema.json``). Every parameter becomes part of one ``Q``:
columns of ``Event`` and ``IN (subquery)`` on the index tables (``epcis_query_filters``), or a
``JsonMatch`` on the stored document (``epcis_query_document``), so a query runs as a single
SQL statement whatever its size. Vocabulary values accept any CBV spelling (bare word, GS1 Web
URI, EPCIS 1.x URN) and EPCs accept GS1 Digital Link URIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import epcis_query_document, epcis_query_filters
from .epcis_query_parser import EventQuery, Parser, QueryError, Raw, parse_time

__all__ = ["EventQuery", "QueryError", "parse_query", "parse_time"]

# Query-language keys that are not filters.
_NOT_FILTERS = frozenset({"@context"})
_FIXED = {**epcis_query_filters.FIXED, **epcis_query_document.FIXED}
# The extension-field family comes last: its pattern would also match the others' names.
_FAMILIES = [*epcis_query_filters.FAMILIES, *epcis_query_document.FAMILIES]


def parse_query(params: Mapping[str, Raw], *, from_url: bool, epc_scope: Any = None) -> EventQuery:
    """Parse query parameters. URL values are lists of strings (``QueryDict.lists()``).

    ``epc_scope``: for a partner, the subquery of EPCs its MATCH_ parameters may match.
    """
    parser = Parser(from_url=from_url, epc_scope=epc_scope)
    for name, raw in params.items():
        _parameter(parser, name, raw)
    parser.finish()
    return parser.query


def _parameter(parser: Parser, name: str, raw: Raw) -> None:
    if name in _NOT_FILTERS and not parser.from_url:
        return
    if name in parser.seen:
        raise QueryError(name, f"{name} is given more than once")
    parser.seen.add(name)
    handler = _FIXED.get(name)
    if handler is not None:
        handler(parser, name, raw)
        return
    for pattern, family in _FAMILIES:
        match = pattern.match(name)
        if match:
            family(parser, name, raw, match)
            return
    raise QueryError(
        name,
        f"unknown query parameter {name!r}; see EPCIS 2.0 §8.2.7.1 for the SimpleEventQuery "
        "parameters (e.g. eventType, GE_eventTime, EQ_bizStep, MATCH_epc)",
    )
