"""The serial endpoints: set and read the rule, allocate; roles, scopes and partners."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from medtrace.accounts.models import User
from medtrace.production.models import AllocatedSerial

from .factories import rule, serial_product

pytestmark = pytest.mark.django_db

ALL = ["masterdata:read", "masterdata:write", "production:write"]


def _send(client: Client, method: str, url: str, body: Any = None) -> Any:
    return client.generic(method, url, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def operator(db: None) -> User:
    user = User.objects.create_user(username="operator", password="pw-operator")
    user.groups.add(Group.objects.get(name="production"))
    return user


def test_qa_sets_the_rule_and_reads_it_back(
    qa_manager: User, api_client: Callable[..., Client]
) -> None:
    product = serial_product()
    client = api_client(qa_manager, ALL)
    url = f"/api/v1/products/{product.pk}/serial-rule"

    put = _send(
        client,
        "PUT",
        url,
        {"prefix": "SN", "date_part": "YYMM", "sequence_width": 5, "reset_policy": "per_period"},
    )
    got = client.get(url)

    assert put.status_code == 200, put.content
    assert got.status_code == 200
    body = got.json()
    assert body["pattern"] == "SN{YYMM}99999"
    assert body["example"].startswith("SN") and body["example"].endswith("00001")


def test_changing_the_rule_without_a_reason_is_422(
    qa_manager: User, api_client: Callable[..., Client]
) -> None:
    product = serial_product()
    rule(product)
    client = api_client(qa_manager, ALL)
    url = f"/api/v1/products/{product.pk}/serial-rule"

    response = _send(client, "PUT", url, {"prefix": "SX", "sequence_width": 5})

    assert response.status_code == 422
    assert response.json()["field"] == "reason"
    ok = _send(client, "PUT", url, {"prefix": "SX", "sequence_width": 5, "reason": "relabel"})
    assert ok.status_code == 200 and ok.json()["prefix"] == "SX"


def test_an_invalid_prefix_is_422_naming_the_field(
    qa_manager: User, api_client: Callable[..., Client]
) -> None:
    product = serial_product()
    response = _send(
        api_client(qa_manager, ALL),
        "PUT",
        f"/api/v1/products/{product.pk}/serial-rule",
        {"prefix": "S N", "sequence_width": 5},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "prefix"


def test_a_product_without_a_rule_has_none_to_read(
    qa_manager: User, api_client: Callable[..., Client]
) -> None:
    product = serial_product()

    response = api_client(qa_manager, ALL).get(f"/api/v1/products/{product.pk}/serial-rule")

    assert response.status_code == 404 and "no serial rule" in response.json()["message"]


def test_production_allocates_serials(operator: User, api_client: Callable[..., Client]) -> None:
    product = serial_product()
    rule(product, prefix="SN", sequence_width=4)

    response = _send(
        api_client(operator, ALL),
        "POST",
        f"/api/v1/products/{product.pk}/serials",
        {"count": 3, "work_order_ref": "WO-7"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["serials"] == ["SN0001", "SN0002", "SN0003"] and body["count"] == 3
    assert body["skipped"] == []
    assert set(
        AllocatedSerial.objects.filter(product=product).values_list("work_order_ref", flat=True)
    ) == {"WO-7"}


def test_allocation_errors_are_clear(operator: User, api_client: Callable[..., Client]) -> None:
    product = serial_product()
    client = api_client(operator, ALL)
    url = f"/api/v1/products/{product.pk}/serials"

    no_rule = _send(client, "POST", url, {"count": 1})
    rule(product)
    too_many = _send(client, "POST", url, {"count": 100_001})

    assert no_rule.status_code == 409 and no_rule.json()["error"] == "conflict"
    assert too_many.status_code == 422 and too_many.json()["field"] == "count"


def test_qa_may_not_allocate_and_production_may_not_set_rules(
    qa_manager: User, operator: User, api_client: Callable[..., Client]
) -> None:
    product = serial_product()
    rule(product)

    allocate = _send(
        api_client(qa_manager, ALL), "POST", f"/api/v1/products/{product.pk}/serials", {"count": 1}
    )
    set_rule = _send(
        api_client(operator, ALL),
        "PUT",
        f"/api/v1/products/{product.pk}/serial-rule",
        {"sequence_width": 3, "reason": "x"},
    )

    assert allocate.status_code == 403
    assert set_rule.status_code == 403


def test_a_token_without_production_write_cannot_allocate(
    operator: User, api_client: Callable[..., Client]
) -> None:
    product = serial_product()
    rule(product)

    response = _send(
        api_client(operator, ["masterdata:read"]),
        "POST",
        f"/api/v1/products/{product.pk}/serials",
        {"count": 1},
    )

    assert response.status_code == 403 and "production:write" in response.json()["message"]


def test_a_partner_is_told_not_found(hospital_a: User) -> None:
    product = serial_product()
    rule(product)
    client = Client()
    client.force_login(hospital_a)

    for method, suffix, body in (
        ("GET", "serial-rule", None),
        ("PUT", "serial-rule", {"sequence_width": 3, "reason": "x"}),
        ("POST", "serials", {"count": 1}),
    ):
        response = _send(client, method, f"/api/v1/products/{product.pk}/{suffix}", body)
        assert response.status_code == 404, (method, suffix, response.content)
    assert not AllocatedSerial.objects.exists()
