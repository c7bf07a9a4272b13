"""KPIs (issue 6 item 5): company-wide after-sales and recall figures, read by every internal
department (a token needs kpis:read); partner accounts are refused (403)."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    m.api_case("GET /api/v1/kpis", m.expect(401, 200, 403))
    m.api_case("GET /api/v1/kpis/series", m.expect(401, 200, 403))
