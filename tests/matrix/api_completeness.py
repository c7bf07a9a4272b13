"""Endpoints added so that every capability has an API (issue 7 §6): a user's own API tokens
(everyone signed in; someone else's token is 404), a licence's renewal (who changes master
data), retiring a maintenance plan (who plans maintenance) and closing a pick list (the
warehouse)."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    v = m.V
    m.api_case("GET /api/v1/tokens", m.expect(401, 200))
    m.api_case(
        "POST /api/v1/tokens",
        m.expect(401, 201),  # the token of each persona carries masterdata:read
        body={"name": "matrix", "scopes": ["masterdata:read"], "days": 1},
    )
    m.api_case(
        "POST /api/v1/tokens/{token_id}/revoke",
        m.expect(401, 404, hospital_a=200),  # hospital A's own token; anyone else's is 404
        url=v + "/tokens/{token_a}/revoke",
    )
    m.api_case(
        "PATCH /api/v1/parties/{party_id}/licences/{licence_id}",
        m.only(("procurement", "sales", "qa_ra", "admin"), 200),
        url=v + "/parties/{supplier_id}/licences/{md_licence}",
        body={"expires_on": "2031-12-31", "reason": "matrix: renewed"},
    )
    m.api_case(
        "PATCH /api/v1/maintenance-plans/{plan_id}",
        m.only(("service", "qa_ra", "admin"), 200),
        url=v + "/maintenance-plans/{svc_plan}",
        body={"active": False, "reason": "matrix"},
    )
    m.api_case(
        "POST /api/v1/pick-lists/{id}/close",
        m.only(("warehouse", "admin"), 200),
        url=v + "/pick-lists/{wh_pick_list}/close",
        body={"reference": "matrix"},
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.masterdata import services

    licence = services.licence_add(
        party=w.supplier,
        data={"kind": "business_licence", "number": "91310000MA1FL0002Y"},
        user=None,
    )
    return {"md_licence": licence.pk}
