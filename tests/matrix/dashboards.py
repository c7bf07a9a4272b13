"""Dashboards (issue 8 item 5): the recall dashboard, the KPI dashboard and "My work" are pages
for our own staff; every department (the auditor included, read-only) opens them; partners are
refused (403: their portal is their view)."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    staff = m.expect(302, 200, 403)
    for route in ("/recalls/dashboard/", "/kpis/", "/work/"):
        m.add(route, m.Case("GET", route, staff, session=True))
