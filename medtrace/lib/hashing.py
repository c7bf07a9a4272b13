"""Canonical JSON and SHA-256: the one way medtrace fingerprints a record.

Audit-chain hashes, e-signature content hashes and ledger seals all hash ``canonical_json``:
keys sorted, no insignificant whitespace, UTF-8, and every number written in one normal form
(so ``100``, ``100.0`` and ``1E+2`` are the same value, as they are after a round trip through
PostgreSQL ``jsonb``). Datetimes are written in UTC ISO 8601 with microseconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["canonical_json", "jsonable", "sha256_hex"]


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValueError(f"{value!r} has no JSON form")
    normal = Decimal(str(value)).normalize()
    if normal == normal.to_integral_value():
        return str(normal.quantize(Decimal(1)))
    return format(normal, "f")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (numbers as canonical strings are NOT applied here)."""
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def _normal_numbers(value: Any) -> Any:
    """``value`` with every number in one form: integral values as int, others as float.

    So ``100``, ``100.0`` and ``Decimal("1E+2")`` all become ``100``, as a document reads
    back from PostgreSQL ``jsonb`` whatever its spelling on the wire.
    """
    if isinstance(value, dict):
        return {str(k): _normal_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal_numbers(v) for v in value]
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} has no JSON form")
        return int(value) if value.is_integer() else value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _normal_numbers(v) for k, v in value.items()}
    return _normal_numbers(jsonable(value))


def canonical_json(value: Any) -> str:
    """Keys sorted, no whitespace, UTF-8 text, numbers normalised; Python's C encoder."""
    return json.dumps(
        _normal_numbers(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def sha256_hex(value: Any) -> str:
    """SHA-256 (lowercase hex) of ``value``: bytes as they are, anything else canonicalised."""
    data = value if isinstance(value, bytes) else canonical_json(value).encode("utf-8")
    return hashlib.sha256(data).hexdigest()
