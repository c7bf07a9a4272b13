"""The API's shared contract: what schemathesis found, kept fixed by plain tests (issue 7 §6).

- Every operation documents the error responses, in one error shape.
- Each schema has one name in the OpenAPI document (two classes called ``PlanOut`` used to
  overwrite each other).
- Odd input is a 4xx in the error shape, never a 500: unbounded pagination, integers beyond
  64 bits, text no database stores (NUL, lone surrogates), paths that name no endpoint.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from medtrace.api import api
from medtrace.core import openapi

ERROR_KEYS = {"error", "message", "field", "details"}


@pytest.fixture
def client(admin_user: Any, api_client: Any) -> Client:
    from medtrace.accounts.services import scopes_for

    return api_client(admin_user, scopes=sorted(scopes_for(admin_user)))


def _document() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_operation_documents_the_error_responses() -> None:
    document = _document()
    assert document["components"]["schemas"]["Error"]["required"] == sorted(
        ERROR_KEYS, key=["error", "message", "field", "details"].index
    )
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            missing = {"400", "401", "403", "404", "409", "422"} - declared
            assert not missing, f"{method.upper()} {path} does not document {missing}"


def test_every_list_bounds_its_limit_and_offset() -> None:
    """Lists page with medtrace.core.pagination.Pagination, not ninja's unbounded one (an
    offset of 10**30 reached SQLite and failed there)."""
    for path, operations in _document()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] in ("limit", "offset"):
                    assert "maximum" in parameter["schema"], (method.upper(), path, parameter)


def test_two_schemas_of_one_class_name_get_two_names() -> None:
    schemas = _document()["components"]["schemas"]

    # The maintenance plan (service) and the inspection plan (quality) are both PlanOut in code.
    assert "interval_days" in schemas["ServicePlanOut"]["properties"]
    assert "characteristics" in schemas["QualityPlanOut"]["properties"]
    assert "PlanOut" not in schemas
    paths = _document()["paths"]
    listed = paths["/api/v1/maintenance-plans/{plan_id}"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("/ServicePlanOut")


def test_one_name_is_one_schema() -> None:
    """Whatever two first-pass components share a final name have the same schema."""
    first = openapi.DocumentSchema(api, "api/v1/", naming=None)
    naming = openapi._naming(first.definitions)
    by_name: dict[str, set[str]] = {}
    for key, text in first.definitions.items():
        name = naming.names.get(key, key)
        renamed = openapi._REF.sub(lambda m: f'"{naming.names.get(m[1], m[1])}"', text)
        by_name.setdefault(name, set()).add(renamed)
    assert {name for name, texts in by_name.items() if len(texts) > 1} == set()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("offset=-1", "offset")],
)
def test_pagination_out_of_bounds_is_refused_naming_the_parameter(
    client: Client, query: str, field: str
) -> None:
    response = client.get(f"/api/v1/parties?{query}")

    assert response.status_code == 422, response.content
    assert response.json()["field"] == field


@pytest.mark.django_db
def test_a_huge_offset_is_refused_not_sent_to_the_database(client: Client) -> None:
    response = client.get(f"/api/v1/parties?offset={10**30}")

    assert response.status_code == 422
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["field"] == "offset"


@pytest.mark.django_db
def test_an_integer_beyond_64_bits_is_a_422_naming_it_or_simply_matches_nothing(
    client: Client,
) -> None:
    response = client.get(f"/api/v1/shipments?sales_order_id={10**25}")

    if connection.vendor == "sqlite":  # SQLite cannot bind it: refused, naming the parameter
        assert response.status_code == 422, response.content
        assert response.json()["field"] == "sales_order_id"
        assert "between" in response.json()["message"]
    else:  # PostgreSQL compares it as a numeric: no such order
        assert response.status_code == 200, response.content
        assert response.json() == []


@pytest.mark.django_db
def test_nul_in_a_query_parameter_is_refused_naming_it(client: Client) -> None:
    response = client.get("/api/v1/parties", {"q": "ab\x00c"})

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "q"
    assert "NUL" in body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "problem"), [("a\\u0000b", "NUL"), ("a\\ud800b", "lone surrogate")]
)
def test_text_no_database_stores_is_refused_in_a_json_body(
    client: Client, text: str, problem: str
) -> None:
    body = '{"name": "ok", "role": "supplier", "contacts": [{"note": "' + text + '"}]}'

    response = client.post("/api/v1/parties", body, content_type="application/json")

    assert response.status_code == 422
    error = response.json()
    assert error["field"] == "contacts[0].note"
    assert problem in error["message"]


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_a_bad_request_in_the_error_shape(client: Client) -> None:
    response = client.post("/api/v1/parties", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/api/v1/containers/a%0Ab/label.svg", "/api/v2/parties"]
)
def test_a_path_that_names_no_endpoint_is_a_json_404(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == ERROR_KEYS
    assert body["error"] == "not_found"


@pytest.mark.django_db
def test_a_page_that_does_not_exist_is_still_a_page(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/pick-lists/%C2%B2", "/api/v1/stock-counts/%C2%B2"])
def test_a_unicode_digit_is_not_an_id(client: Client, path: str) -> None:
    """'²'.isdigit() is true but int('²') fails: such a path was a 500."""
    response = client.get(path)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_a_unicode_digit_is_not_a_page_size(client: Client) -> None:
    response = client.get("/epcis/events", {"perPage": "²"})

    assert response.status_code == 400
    assert "perPage" in response.content.decode()


@pytest.mark.django_db
def test_a_unicode_digit_beside_a_huge_number_does_not_break_the_error(client: Client) -> None:
    response = client.get(f"/api/v1/shipments?sales_order_id={10**25}&status=²")

    assert response.status_code in (200, 422)
