"""The trace endpoints over HTTP: identifiers in URLs, scopes, roles, partner custody, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from medtrace.accounts.models import User
from medtrace.trace.schemas import BackwardOut, ForwardOut, TimelineOut

from . import factories as f

pytestmark = pytest.mark.django_db

TRACE = ["trace:read"]


@pytest.fixture
def w() -> f.World:
    return f.world()


def _error(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error", "message", "field", "details"}
    assert body["error"] == code
    assert body["message"]


def _delivered(w: f.World, hospital_a: User, hospital_b: User) -> tuple[str, str, str]:
    lot, unit_a, unit_b = w.resin_lot("API-L"), w.device_sn("API-A"), w.device_sn("API-B")
    maker = w.pgln(w.maker)
    assert hospital_a.party is not None and hospital_b.party is not None
    f.capture(
        f.transform(f.t(1), input_lots=[(lot, 2)], outputs=[unit_a, unit_b]),
        *[f.obj([unit], f.t(5), biz_step="receiving",
                sources=[("possessing_party", maker)],
                destinations=[("possessing_party", w.pgln(party)),
                              ("owning_party", w.pgln(party))])
          for unit, party in ((unit_a, hospital_a.party), (unit_b, hospital_b.party))],
    )  # fmt: skip
    return lot, unit_a, unit_b


def test_a_department_user_reads_a_timeline_named_by_a_url_encoded_digital_link(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    unit = w.device_sn("API-1")
    f.capture(f.commission([unit], f.t(1)))
    link = f"https://id.gs1.org/01/{w.gtin(w.device)}/21/API-1"

    response = api_client(warehouse_clerk, TRACE).get(
        f"/api/v1/units/{quote(link, safe='')}/timeline"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    TimelineOut.model_validate(body)
    assert (body["epc"], body["count"]) == (unit, 1)
    assert body["events"][0]["phase"] == "production"


@pytest.mark.parametrize("form", ["(01){gtin}(21)API-2", "]d201{gtin}21API-2", "API-2"])
def test_the_timeline_url_takes_other_identifier_forms(
    form: str, w: f.World, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    f.capture(f.commission([w.device_sn("API-2")], f.t(1)))
    ident = quote(form.format(gtin=w.gtin(w.device)), safe="")

    response = api_client(qa_manager, TRACE).get(f"/api/v1/units/{ident}/timeline")

    assert response.status_code == 200, response.content
    assert response.json()["epc"] == w.device_sn("API-2")


def test_backward_and_forward_answer_in_their_documented_shapes(
    w: f.World, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    lot, board, device = w.resin_lot("API-3"), w.board_sn("API-3"), w.device_sn("API-3")
    f.capture(
        f.transform(f.t(1), input_lots=[(lot, 1)], outputs=[board]),
        f.transform(f.t(2), inputs=[board], outputs=[device]),
    )
    client = api_client(qa_manager, TRACE)

    back = client.get("/api/v1/trace/backward", {"id": device, "include_history": "true"})
    fwd = client.get("/api/v1/trace/forward", {"id": f"(01){w.resin.gtin}(10)API-3"})

    assert (back.status_code, fwd.status_code) == (200, 200)
    assert BackwardOut.model_validate(back.json()).root.children[0].epc == board
    forward = ForwardOut.model_validate(fwd.json())
    assert (forward.count, [u.epc for u in forward.units]) == (2, [board, device])
    assert fwd["Content-Type"] == "application/json; charset=utf-8"


def test_unknown_and_ambiguous_identifiers_get_the_error_shape(
    w: f.World, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    f.capture(f.commission([w.device_sn("TWIN"), w.board_sn("TWIN")], f.t(1)))
    client = api_client(qa_manager, TRACE)

    missing = client.get("/api/v1/trace/forward", {"id": "NO-SUCH"})
    twins = client.get("/api/v1/units/TWIN/timeline")
    broken = client.get("/api/v1/trace/backward", {"id": "(01)06901234000116(21)X"})

    assert missing.status_code == 404
    _error(missing.json(), "not_found")
    assert twins.status_code == 409
    _error(twins.json(), "conflict")
    assert len(twins.json()["details"]["candidates"]) == 2
    assert broken.status_code == 422
    _error(broken.json(), "validation_failed")
    assert broken.json()["field"] == "id"


def test_a_token_without_the_trace_scope_is_refused(
    w: f.World, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    f.capture(f.commission([w.device_sn("API-S")], f.t(1)))

    response = api_client(qa_manager, ["masterdata:read"]).get(
        "/api/v1/trace/forward", {"id": w.device_sn("API-S")}
    )

    assert response.status_code == 403
    _error(response.json(), "permission_denied")
    assert response.json()["details"]["required_scope"] == "trace:read"


def test_a_user_without_a_department_role_is_refused(
    w: f.World, api_client: Callable[..., Client]
) -> None:
    nobody = User.objects.create_user(username="nobody", password="pw-nobody")
    f.capture(f.commission([w.device_sn("API-R")], f.t(1)))

    response = api_client(nobody, TRACE).get("/api/v1/units/API-R/timeline")

    assert response.status_code == 403
    _error(response.json(), "permission_denied")


def test_anonymous_callers_are_refused(w: f.World) -> None:
    response = Client().get("/api/v1/trace/forward", {"id": "X"})

    assert response.status_code == 401


def test_a_hospital_sees_only_the_units_it_holds(
    w: f.World, hospital_a: User, hospital_b: User, api_client: Callable[..., Client]
) -> None:
    lot, unit_a, _unit_b = _delivered(w, hospital_a, hospital_b)
    client = api_client(hospital_a, TRACE)

    forward = client.get("/api/v1/trace/forward", {"id": lot}).json()

    assert [u["epc"] for u in forward["units"]] == [unit_a]
    assert [(s["name"], s["count"]) for s in forward["summary"]] == [
        (hospital_a.party.name, 1)  # type: ignore[union-attr]
    ]
    assert forward["lots"] == []


def test_a_hospital_cannot_learn_of_another_hospitals_unit(
    w: f.World, hospital_a: User, hospital_b: User, api_client: Callable[..., Client]
) -> None:
    lot, unit_a, unit_b = _delivered(w, hospital_a, hospital_b)
    client = api_client(hospital_a, TRACE)

    own = client.get(f"/api/v1/units/{quote(unit_a, safe='')}/timeline")
    other = client.get(f"/api/v1/units/{quote(unit_b, safe='')}/timeline")
    by_serial = client.get("/api/v1/trace/backward", {"id": "API-B"})
    lot_tree = client.get("/api/v1/trace/backward", {"id": lot})

    assert own.status_code == 200
    assert (other.status_code, by_serial.status_code, lot_tree.status_code) == (404, 404, 404)
    _error(other.json(), "not_found")


def test_the_openapi_document_describes_the_trace_endpoints(
    qa_manager: User, api_client: Callable[..., Client]
) -> None:
    paths = api_client(qa_manager).get("/api/v1/openapi.json").json()["paths"]

    assert {"/api/v1/units/{id}/timeline", "/api/v1/trace/backward",
            "/api/v1/trace/forward"} <= set(paths)  # fmt: skip
    forward = paths["/api/v1/trace/forward"]["get"]["responses"]["200"]
    assert forward["content"]["application/json"]["schema"]["$ref"].endswith("ForwardOut")
