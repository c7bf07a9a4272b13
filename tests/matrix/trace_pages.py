"""Lot, container and genealogy-graph pages: whoever may trace (partners within custody).

A lot page answers with the partner's own part of the trace (the matrix lot reached a unit of
each partner); a case packed at the maker is no partner's (404); a unit's genealogy graph is
drawn for whoever may read the unit.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def register(m: Any) -> None:
    m.add(
        "/trace/lot/",
        m.Case("GET", "/trace/lot/?id={lot_q}", m.expect(302, 200), session=True),
        m.Case("GET", "/trace/lot/?id={lot_q}&format=csv", m.expect(302, 200), session=True),
    )
    m.add(
        "/trace/container/",
        m.Case("GET", "/trace/container/?id={case_q}", m.expect(302, 200, 404), session=True),
    )
    m.add(
        "/trace/genealogy/",
        m.Case(
            "GET",
            "/trace/genealogy/?id={unit_a_q}",
            m.expect(302, 200, 404, distributor=200, hospital_a=200),
            session=True,
        ),
        m.Case(
            "GET",
            "/trace/genealogy/?id={unit_b_q}&format=svg",
            m.expect(302, 200, 404, hospital_b=200),
            session=True,
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.trace.tests import factories as f

    case = w.sscc(77)
    unit = w.device_sn("MX-CASE-1")
    f.capture(
        f.commission([unit], f.t(1), location=w.plant.sgln),
        f.aggregate(case, [unit], f.t(2), location=w.warehouse.sgln),
    )
    return {"case_q": quote(case, safe="")}
