"""The API's one paginator: ninja's limit/offset, with bounds.

ninja's own ``LimitOffsetPagination`` accepts any non-negative integer, so ``offset=10**30``
reached the database and failed there (SQLite: "datatype mismatch", a 500). Bounded here, an
out-of-range ``limit`` or ``offset`` is a 422 naming the parameter and the accepted range.
"""

from __future__ import annotations

from typing import Any

from ninja import Field, Query, Schema
from ninja.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
# Far beyond any list we hold, and inside a 64-bit integer once ``limit`` is added.
MAX_OFFSET = 2**31 - 1


class Pagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(100, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)


def limit_query(default: int = 100, maximum: int = MAX_LIMIT) -> Any:
    """A list's ``limit`` query parameter, bounded in the OpenAPI document and by ninja."""
    return Query(default, ge=1, le=maximum, description=f"At most {maximum} rows")


def offset_query() -> Any:
    """A list's ``offset`` query parameter, bounded like ``Pagination``'s."""
    return Query(0, ge=0, le=MAX_OFFSET, description="Rows to skip")
