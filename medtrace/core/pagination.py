"""The API's one paginator: ninja's limit/offset, with bounds.

ninja's own ``LimitOffsetPagination`` accepts any non-negative integer, so ``offset=10**30``
reached the database and failed there (SQLite: "datatype mismatch", a 500). Bounded here, an
out-of-range ``limit`` or ``offset`` is a 422 naming the parameter and the accepted range.
"""

from __future__ import annotations

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
# Far beyond any list we hold, and inside a 64-bit integer once ``limit`` is added.
MAX_OFFSET = 2**31 - 1


class Pagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(100, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)
