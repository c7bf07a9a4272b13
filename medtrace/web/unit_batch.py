"""Many small reads of one page in one statement.

The unit page needs a dozen tiny lists from as many tables (its product, the names of its places
and parties, who recorded its events, its documents, what is open against it...). Each is an
index probe of a few rows, and on a busy server the round trip costs more than the read: so they
go to the database together, as one ``UNION ALL`` whose branches each return (branch name, one
JSON object per row). ``JSONObject`` is Django's own (json_object on SQLite, json_build_object on
PostgreSQL), so the statement is the same on both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import JSONObject


@dataclass(frozen=True)
class Branch:
    name: str
    queryset: QuerySet[Any]
    fields: Mapping[str, Any]  # JSON key -> field path or expression


def run(branches: list[Branch]) -> dict[str, list[dict[str, Any]]]:
    """Each branch's rows as dicts, in one statement (branch order is not row order: sort)."""
    out: dict[str, list[dict[str, Any]]] = {b.name: [] for b in branches}
    parts = [
        b.queryset.order_by()
        .annotate(_branch=Value(b.name, output_field=CharField()), _row=JSONObject(**b.fields))
        .values_list("_branch", "_row")
        for b in branches
    ]
    if not parts:
        return out
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    for name, row in combined:
        out[name].append(row if isinstance(row, dict) else json.loads(row))
    return out


def as_datetime(value: Any) -> datetime | None:
    """A datetime out of a JSON row: ISO text (PostgreSQL) or SQLite's naive UTC text."""
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return date.fromisoformat(str(value)[:10])


def as_json(value: Any) -> Any:
    """A JSON field nested in a row: a value on PostgreSQL, its text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value
