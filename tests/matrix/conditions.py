"""Conditions (issue 5 item 7): every department reads limits, readings and excursions
(lifecycle:read); partners see none (empty lists, 404 for one record, 403 for the pages).
QA/RA owns the limits (masterdata:write); production, warehouse, QC and QA/RA record readings,
with the scope of the phase's department (warehouse:write for storage and transport)."""

from __future__ import annotations

from typing import Any

LIMITS = ("qa_ra", "admin")
RECORDERS = ("production", "warehouse", "qc", "qa_ra", "admin")


def register(m: Any) -> None:
    V = m.V
    everyone = m.expect(401, 200, 200)  # partners: an empty list
    m.api_case("GET /api/v1/conditions/profiles", everyone)
    m.api_case(
        "POST /api/v1/conditions/profiles",
        m.only(LIMITS, 201),
        body={"product_id": "{product_id}", "phase": "storage", "temperature_max": 30},
    )
    m.api_case(
        "PUT /api/v1/conditions/profiles/{profile_id}",
        m.only(LIMITS, 200),
        url=V + "/conditions/profiles/{cond_profile_id}",
        body={"temperature_max": 35, "reason": "matrix"},
    )
    m.api_case(
        "POST /api/v1/conditions/readings",
        m.only(RECORDERS, 201),
        body={
            "phase": "storage",
            "device": "MX-ST",
            "location": "{cond_location}",
            "targets": ["{unit_a}"],
            "readings": [
                {"time": "2025-03-07T10:00:00+08:00", "type": "temperature", "value": 21.5}
            ],
        },
    )
    m.add(
        "POST /api/v1/conditions/import",
        m.Case(
            "POST",
            V + "/conditions/import",
            m.only(RECORDERS, 422),  # no file: the service's 422, after the permission check
            form={"phase": "storage"},
        ),
    )
    m.api_case("GET /api/v1/conditions/records", everyone)
    m.api_case(
        "GET /api/v1/conditions/records/{number}",
        m.expect(401, 200, 404),
        url=V + "/conditions/records/{cond_record}",
    )
    m.api_case("GET /api/v1/conditions/excursions", everyone)

    page = m.expect(302, 200, 403)
    for route, url in (
        ("/conditions/", "/conditions/"),
        ("/conditions/profiles/", "/conditions/profiles/"),
        ("/conditions/records/<str:number>/", "/conditions/records/{cond_record}/"),
    ):
        m.add(route, m.Case("GET", url, page, session=True))
    m.add(
        "/conditions/import/",
        m.Case(
            "POST",
            "/conditions/import/",
            m.only(RECORDERS, 422, anon=302),  # no file chosen
            session=True,
            form={"phase": "storage"},
        ),
    )
    m.add(
        "/conditions/profiles/<int:pk>/",
        m.Case(
            "POST",
            "/conditions/profiles/{cond_profile_id}/",
            m.only(LIMITS, 302, anon=302),  # changed, back to the list
            session=True,
            form={"phase": "storage", "temperature_max": "36", "reason": "matrix"},
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.conditions import services

    profile = services.profile_create(
        product=w.device, data={"phase": "all", "temperature_max": 40}, user=None, reason="matrix"
    )
    done = services.readings_record(
        targets=[values["unit_a"]],
        readings=[{"time": "2025-03-06T10:00:00+08:00", "type": "humidity", "value": 50}],
        phase="transport",  # no location: the world's events name no readPoint
        device="MX-LOG",
        location=None,
        user=None,
    )
    return {
        "cond_profile_id": profile.pk,
        "cond_record": done.record.number,
        "cond_location": w.plant.sgln,
    }
