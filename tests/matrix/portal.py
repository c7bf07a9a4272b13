"""The partner portal (issue 8 item 6): every partner's user opens its own portal (each list in
it is scoped to its party; medtrace/web/tests/test_portal.py checks the contents); our own staff
are refused (403: their pages are the department pages), anonymous users go to sign in."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    m.add("/portal/", m.Case("GET", "/portal/", m.expect(302, 403, 200), session=True))
