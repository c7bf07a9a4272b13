"""Recall documents (issue 6): the notice PDF goes to staff who read notices and to the
consignee's own users (recall:ack; another party's notice is a 404); the regulator reports (PDF,
XLSX) to staff who read recalls (recalls:read; partner tokens cannot carry it: 403).

World: the recalls part's recall (rc_number) with its notice to hospital A (rn_a)."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    v = m.V
    m.api_case(
        "GET /api/v1/recall-notices/{number}/pdf",
        m.expect(401, 200, 404, hospital_a=200),
        url=v + "/recall-notices/{rn_a}/pdf",
    )
    for fmt in ("pdf", "xlsx"):
        m.add(
            f"GET /api/v1/recalls/{{number}}/reports/{{kind}}.{fmt}",
            m.Case(
                "GET",
                v + f"/recalls/{{rc_number}}/reports/cn_report.{fmt}",
                m.expect(401, 200, 403),
            ),
            m.Case(
                "GET",
                v + f"/recalls/{{rc_number}}/reports/fda_806.{fmt}?lang=en",
                m.expect(401, 200, 403),
            ),
        )
