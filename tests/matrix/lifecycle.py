"""Traceability certificates: whoever may read the unit's trace (partners within custody)."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    a = m.expect(401, 200, 404, distributor=200, hospital_a=200)
    b = m.expect(401, 200, 404, hospital_b=200)
    m.add(
        "GET /api/v1/units/{path:id}/certificate",
        m.Case("GET", m.V + "/units/{unit_a_q}/certificate", a),
        m.Case("GET", m.V + "/units/{unit_b_q}/certificate?format=json", b),
    )
    for suffix in ("", "/pdf", "/verify"):
        m.add(
            "GET /api/v1/certificates/{number}" + suffix,
            m.Case("GET", m.V + "/certificates/{certificate_a}" + suffix, a),
        )
    m.add(
        "/trace/certificate/",
        m.Case(
            "GET",
            "/trace/certificate/?id={unit_a_q}",
            m.expect(302, 200, 404, distributor=200, hospital_a=200),
            session=True,
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.lifecycle.certificate import certificate_issue

    return {"certificate_a": certificate_issue(id=values["unit_a"], user=None).number}
