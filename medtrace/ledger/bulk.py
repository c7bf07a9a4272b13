"""Bulk writes: PostgreSQL COPY where it counts, executemany elsewhere (DESIGN §6).

Django's bulk_create builds one parameter per value; for the ledger's tens of thousands of rows
per document that costs more than the database work itself. COPY streams rows in the server's
own format at the floor rate the design measures (~170k rows/s).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

from medtrace.core.bulk_insert import insert_values


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def reserve_ids(model: type[Model], count: int) -> list[int]:
    """Primary keys for `count` new rows, taken from the table's sequence in one query."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def copy_rows(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """COPY rows into the model's table (PostgreSQL only). JSON values must be pre-serialised."""
    if not rows:
        return
    table = model._meta.db_table
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


# Below this many rows a plain multi-row INSERT beats setting up a COPY.
COPY_THRESHOLD = 200


def insert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_columns: Sequence[str] = (),
) -> None:
    """Insert plain rows (JSON columns as Python values): COPY on PostgreSQL (a multi-row
    INSERT for a few rows), one executemany on SQLite with the values adapted as the ORM would
    (``core.bulk_insert``: datetimes and decimals in SQLite's own text formats).
    """
    if not rows:
        return
    if is_postgresql() and len(rows) >= COPY_THRESHOLD:
        json_at = {i for i, c in enumerate(columns) if c in json_columns}
        if json_at:
            rows = [
                tuple(
                    json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                    if i in json_at and v is not None
                    else v
                    for i, v in enumerate(row)
                )
                for row in rows
            ]
        copy_rows(model, columns, rows)
        return
    if not is_postgresql():
        insert_values(model, columns, rows)
        return
    attnames = [getattr(model._meta.get_field(c), "attname", c) for c in columns]
    model._default_manager.bulk_create(
        [model(**dict(zip(attnames, row, strict=True))) for row in rows], batch_size=2000
    )
