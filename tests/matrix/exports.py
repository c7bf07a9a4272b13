"""Exports (issue 7 item 5). DI data for the UDI databases (NMPA UDID, GUDID, EUDAMED): every
department (they read products), never a partner (403: the maker's regulatory submissions).
FHIR Devices follow the trace rules: every department, partners within their custody (another
party's unit is a 404); the Device search always answers a partner with its own devices. The
exports page: everyone signed in (partners see their FHIR downloads only)."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    v = m.V
    for name in ("cn-udi-di", "gudid", "eudamed"):
        m.add(
            f"GET /api/v1/exports/{name}",
            m.Case("GET", v + f"/exports/{name}", m.expect(401, 200, 403)),
            m.Case("GET", v + f"/exports/{name}?format=xlsx", m.expect(401, 200, 403)),
        )
    m.api_case(
        "GET /api/v1/fhir/Device/{id}",
        m.expect(401, 200, 404, distributor=200, hospital_a=200),
        url=v + "/fhir/Device/{unit_a_q}",
    )
    m.add(
        "GET /api/v1/fhir/Device",
        m.Case("GET", v + "/fhir/Device", m.expect(401, 200)),
        m.Case(
            "GET",
            v + "/fhir/Device?holder={gln_b}",
            m.expect(401, 200, 404, hospital_b=200),
        ),
    )
    m.add("/exports/", m.Case("GET", "/exports/", m.expect(302, 200), session=True))
