"""Who is acting, through which channel, under which request or command ID.

The web middleware and the CLI set this once per request or command; services read it when they
write an audit entry. It holds no Django models, so the CLI can import it before setup.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class AuditContext:
    source: str
    request_id: str
    user: Any = None  # the acting User when known from the channel (e.g. the admin's user)
    reason: str = ""  # the X-Change-Reason header of the request, if any


_current: ContextVar[AuditContext | None] = ContextVar("medtrace_audit_context", default=None)


def new_request_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def clean_request_id(value: str | None) -> str | None:
    """A client-sent X-Request-ID, if it is a sane token; else None (a fresh ID is made)."""
    if value and _REQUEST_ID.match(value):
        return value
    return None


def current() -> AuditContext:
    ctx = _current.get()
    if ctx is None:
        # Outside a request or command (a shell, a test): still traceable to one process run.
        ctx = AuditContext(source="system", request_id=new_request_id("sys-"))
        _current.set(ctx)
    return ctx


@contextmanager
def audit_context(
    *, source: str, request_id: str | None = None, user: Any = None, reason: str = ""
) -> Iterator[AuditContext]:
    ctx = AuditContext(
        source=source, request_id=request_id or new_request_id(), user=user, reason=reason
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
