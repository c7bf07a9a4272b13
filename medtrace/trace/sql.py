"""Small SQL helpers shared by the trace walks: the same text runs on SQLite and PostgreSQL.

The walks are raw SQL (recursive CTEs) because they are the hot read path (DESIGN §10). The
few places where the two databases spell something differently are isolated here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from medtrace.ledger.models import (
    Event,
    EventBizTransaction,
    EventEpc,
    EventQuantity,
    EventRetraction,
    GenealogyEdge,
    UnitState,
)
from medtrace.masterdata.models import Product, ProductIdentifier

# Table names come from the models, so a rename there cannot silently break the SQL here.
EDGE = GenealogyEdge._meta.db_table
EVENT = Event._meta.db_table
EVENT_EPC = EventEpc._meta.db_table
EVENT_QTY = EventQuantity._meta.db_table
EVENT_BTT = EventBizTransaction._meta.db_table
RETRACTION = EventRetraction._meta.db_table
UNIT = UnitState._meta.db_table
PRODUCT = Product._meta.db_table
PRODUCT_ID = ProductIdentifier._meta.db_table

# Deeper than any real bill of materials or packing hierarchy; it only bounds a cycle that bad
# data could create (UNION already drops repeated rows).
MAX_DEPTH = 32


def values_table(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> tuple[str, list[Any]]:
    """A small list of rows as one SQL row source with one parameter per column (PostgreSQL
    ``unnest`` of arrays) or one in all (SQLite ``json_each``), whatever the number of rows.

    ``columns`` are (name, PostgreSQL type) pairs. The planner sees the real values, so it
    probes the indexes instead of guessing at a CTE's size.
    """
    names = ", ".join(name for name, _ in columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{pg_type}[]" for _, pg_type in columns)
        params = [[row[i] for row in rows] for i in range(len(columns))]
        return f"SELECT * FROM unnest({arrays}) AS v({names})", params
    picks = ", ".join(
        f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _) in enumerate(columns)
    )
    return f"SELECT {picks} FROM json_each(%s)", [json.dumps([list(row) for row in rows])]


def db_datetime(value: Any) -> Any:
    """A datetime read back from a raw row, as a parameter compared with stored datetimes."""
    return connection.ops.adapt_datetimefield_value(aware(value))


def json_key(column: str, key: str) -> str:
    """SQL giving the JSON text of one top-level key of a JSON column (NULL when absent)."""
    if connection.vendor == "postgresql":
        return f"(({column}) -> '{key}')::text"
    return f"json_extract({column}, '$.{key}')"


def json_text(column: str) -> str:
    """SQL giving a JSON column as JSON text."""
    if connection.vendor == "postgresql":
        return f"({column})::text"
    return column


def json_has_key(column: str, key: str) -> str:
    if connection.vendor == "postgresql":
        return f"(({column}) ? '{key}')"
    return f"(json_type({column}, '$.{key}') IS NOT NULL)"


def loads(value: Any) -> Any:
    """A JSON value read through json_key/json_text (text), or already decoded by the driver."""
    if value is None:
        return None
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def aware(value: Any) -> datetime | None:
    """A datetime from a raw row: SQLite gives naive UTC datetimes (or text for expressions)."""
    if value is None:
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return None
        value = parsed
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


def iso(value: Any) -> str | None:
    """UTC ISO 8601 with a Z, as the EPCIS interfaces print times."""
    moment = aware(value)
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def trace_reads() -> Iterator[None]:
    """Run a trace's statements with PostgreSQL's JIT off (one SET LOCAL, no savepoint).

    Fan-out statistics (hundreds of events share a work order's bizTransaction) push the cost
    estimate of small, index-driven statements past jit_above_cost; compiling them then took
    15 of a timeline's 20 ms on the 1.5M-event bench store. SET LOCAL ends with the
    transaction, so nothing else on the connection is affected.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def stream(sql: str, params: Sequence[Any], size: int = 2000) -> Iterator[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        while True:
            rows = cursor.fetchmany(size)
            if not rows:
                return
            yield from rows
