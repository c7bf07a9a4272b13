"""Quality (issue 5 item 3): every department reads the quality records (lifecycle:read);
partners see none of them (403 for lists, 404 for one record). Who writes follows roles.py:
QA/RA owns inspection plans; QC and QA/RA inspect, disposition, lift holds and release; anyone
who finds a problem opens a nonconformance (not sales, not the auditor); warehouse and service
may also hold or quarantine."""

from __future__ import annotations

from typing import Any

PLAN_W = ("qa_ra", "admin")
QC = ("qc", "qa_ra", "admin")
NC_OPEN = ("procurement", "production", "qc", "warehouse", "service", "qa_ra", "admin")
HOLDERS = ("qc", "warehouse", "service", "qa_ra", "admin")


def register(m: Any) -> None:
    V = m.V
    staff_list = m.expect(401, 200, 403)
    staff_one = m.expect(401, 200, 404)
    m.api_case("GET /api/v1/inspection-plans", staff_list)
    m.api_case(
        "POST /api/v1/inspection-plans",
        m.only(PLAN_W, 201),
        body={
            "code": "MX-NEW-PLAN",
            "name": "New plan",
            "kind": "incoming",
            "material_id": "{material_id}",
            "characteristics": [{"name": "Moisture", "upper": "0.02", "unit": "%"}],
        },
    )
    m.api_case(
        "GET /api/v1/inspection-plans/{plan_id}",
        staff_one,
        url=V + "/inspection-plans/{q_plan_id}",
    )
    m.api_case(
        "PATCH /api/v1/inspection-plans/{plan_id}",
        m.only(PLAN_W, 200),
        url=V + "/inspection-plans/{q_plan_id}",
        body={"name": "Renamed", "reason": "matrix"},
    )
    m.api_case(
        "POST /api/v1/inspections",
        m.only(QC, 422),  # a required value is missing: 422 for those who may inspect
        body={"plan_id": "{q_plan_id}", "target": "{q_lot}", "values": {}},
    )
    m.api_case("GET /api/v1/inspections", staff_list, url=V + "/inspections?target={q_lot_q}")
    m.api_case("GET /api/v1/nonconformances", staff_list)
    m.api_case(
        "POST /api/v1/nonconformances",
        m.only(NC_OPEN, 201),
        body={"targets": [], "title": "Matrix", "description": "matrix", "hold": False},
    )
    m.api_case(
        "GET /api/v1/nonconformances/{nc_id}",
        staff_one,
        url=V + "/nonconformances/{q_nc_id}",
    )
    m.api_case(
        "POST /api/v1/nonconformances/{nc_id}/disposition",
        m.only(QC, 422),  # wrong password
        url=V + "/nonconformances/{q_nc_id}/disposition",
        body={"disposition": "rework", "reason": "matrix", "password": "wrong"},
    )
    m.api_case(
        "POST /api/v1/nonconformances/{nc_id}/close",
        m.only(QC, 409),  # not dispositioned yet
        url=V + "/nonconformances/{q_nc_id}/close",
        body={"note": "matrix"},
    )
    m.api_case("GET /api/v1/holds", staff_list)
    m.api_case(
        "POST /api/v1/holds",
        m.only(HOLDERS, 201),
        body={"targets": ["{q_lot}"], "reason": "matrix", "kind": "quarantine"},
    )
    m.api_case(
        "POST /api/v1/holds/{hold_id}/lift",
        m.only(QC, 200),
        url=V + "/holds/{q_hold_id}/lift",
        body={"reason": "matrix"},
    )
    m.api_case("GET /api/v1/releases", staff_list)
    m.api_case(
        "POST /api/v1/releases",
        m.only(QC, 422),  # wrong password
        body={"targets": ["{unit_a}"], "password": "wrong"},
    )

    page = m.expect(302, 200, 403)
    for route, url in (
        ("/quality/", "/quality/"),
        ("/quality/inspect/", "/quality/inspect/?scan={q_lot_q}"),
        ("/quality/nonconformances/", "/quality/nonconformances/"),
        ("/quality/nonconformances/<int:pk>/", "/quality/nonconformances/{q_nc_id}/"),
        ("/quality/holds/", "/quality/holds/"),
        ("/quality/release/", "/quality/release/"),
    ):
        m.add(route, m.Case("GET", url, page, session=True))
    m.add(
        "/quality/holds/<int:pk>/lift/",
        m.Case(
            "POST",
            "/quality/holds/{q_hold_id}/lift/",
            m.only(QC, 302, anon=302),  # lifted, back to the list
            session=True,
            form={"reason": "matrix"},
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import quote

    from medtrace.quality import services

    plan = services.inspection_plan_create(
        data={
            "code": "MX-IQ",
            "name": "Incoming resin",
            "kind": "incoming",
            "material_id": w.resin.pk,
            "characteristics": [{"name": "Moisture", "upper": "0.02", "unit": "%"}],
        },
        user=None,
    )
    nc = services.nonconformance_open(
        targets=[], title="Matrix NC", description="matrix", user=None, hold=False
    )
    lot = w.resin_lot("MX-L")
    (hold,) = services.hold_place(targets=[w.resin_lot("MX-HOLD")], reason="matrix", user=None)
    return {
        "q_plan_id": plan.pk,
        "q_nc_id": nc.pk,
        "q_hold_id": hold.pk,
        "q_lot": lot,
        "q_lot_q": quote(lot, safe=""),
    }
