"""Insert many model instances fast: COPY on PostgreSQL, one executemany on SQLite.

Django's ``bulk_create`` compiles a parameter per value through each field's
``get_db_prep_save`` and, on SQLite, splits the rows into statements of 999 parameters: for an
import of 100,000 records that costs several times the database's own work. ``insert_records``
takes the primary keys first (the table's sequence on PostgreSQL; on SQLite the next ids after
the table's AUTOINCREMENT high-water mark, under the write lock the caller's transaction
holds), fills ``auto_now``/``auto_now_add`` fields and foreign keys from related records saved
meanwhile as ``save()`` would, converts only the values the backend cannot take as they are
(datetimes and dates on SQLite, JSON, decimals), and sends the rows in one go. The instances
come back with their ids, as from ``bulk_create`` (which still does fewer than ``SMALL`` rows:
one statement either way). ``insert_values`` does the same for plain rows (``ledger.bulk``).

Use it inside ``transaction.atomic()``: on SQLite the id reservation relies on the transaction's
write lock (``transaction_mode = IMMEDIATE``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, models
from django.utils import timezone

SMALL = 200  # below this many rows bulk_create's one INSERT is as fast as COPY's set-up
_AS_IS = (
    models.CharField,  # and EmailField, SlugField, ...
    models.TextField,
    models.IntegerField,  # and the positive, small, big and auto variants
    models.BooleanField,
)


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a field's Python value becomes the inserted value (None: unchanged)."""
    if isinstance(field, models.ForeignKey):
        return _converter(field.target_field)  # a UUID key's FK is a UUID too
    if connection.vendor == "postgresql" and isinstance(field, models.UUIDField):
        return None
    if isinstance(field, _AS_IS) and not isinstance(field, models.JSONField):
        return None
    if isinstance(field, models.JSONField):
        if connection.vendor == "postgresql":  # COPY takes the jsonb value as text
            return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
        return lambda v: field.get_db_prep_save(v, connection)
    if connection.vendor == "postgresql" and isinstance(field, models.DateField):
        return None  # psycopg writes datetime and date values itself
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        return lambda v: (
            adapt(v) if isinstance(v, datetime) else field.get_db_prep_save(v, connection)
        )
    if isinstance(field, models.DateField):
        adapt_date = connection.ops.adapt_datefield_value
        return lambda v: (
            adapt_date(v) if isinstance(v, date) else field.get_db_prep_save(v, connection)
        )
    return lambda v: field.get_db_prep_save(v, connection)


def _reserve(model: type[models.Model], count: int) -> list[int]:
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, model._meta.pk.column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
        # AUTOINCREMENT never reuses an id, even of a deleted row: start above both marks.
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"COALESCE((SELECT MAX({pk}) FROM {table}), 0))",
            [model._meta.db_table],
        )
        start = int(cursor.fetchone()[0]) + 1
    return list(range(start, start + count))


def insert_records(model: type[models.Model], records: Sequence[models.Model]) -> None:
    """INSERT ``records`` (unsaved ``model`` instances, validated by the caller)."""
    if not records:
        return
    if len(records) < SMALL:
        model._default_manager.bulk_create(records)  # one statement; nothing to gain below
        return
    fields = list(model._meta.concrete_fields)
    now = timezone.now()
    stamped = [
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    ids = _reserve(model, len(records))
    for record, pk in zip(records, ids, strict=True):
        # Foreign keys to records stored earlier in the same import (a product's DIs).
        record._prepare_related_fields_for_save(operation_name="insert_records")  # type: ignore[attr-defined]
        for name in stamped:
            setattr(record, name, now)
        record.pk = pk
        record._state.adding = False
        record._state.db = connection.alias
    converters = [(f.attname, _converter(f)) for f in fields]
    rows = [
        tuple(
            getattr(r, name) if convert is None else convert(getattr(r, name))
            for name, convert in converters
        )
        for r in records
    ]
    _send(model, [f.column for f in fields], rows)


def insert_values(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT plain rows: ``columns`` are field names or attnames, the values as the fields take
    them in Python (datetimes, dicts for JSON ...); ids come from the table's default."""
    if not rows:
        return
    fields: list[models.Field[Any, Any]] = [
        model._meta.get_field(c)  # type: ignore[misc]
        for c in columns
    ]
    converters = [_converter(f) for f in fields]
    if any(c is not None for c in converters):
        rows = [
            tuple(v if c is None else c(v) for v, c in zip(row, converters, strict=True))
            for row in rows
        ]
    _send(model, [str(f.column) for f in fields], rows)


def _send(model: type[models.Model], columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
