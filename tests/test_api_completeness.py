"""Capabilities that had no API until issue 7 §6: a user's own tokens, a licence's renewal and
retiring a maintenance plan (closing a pick list is in the authorization matrix)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from medtrace.accounts.services import scopes_for, token_create
from medtrace.audit.models import AuditEntry
from medtrace.masterdata import services as masterdata
from medtrace.masterdata.tests import factories
from medtrace.service import services as service


def _client(user: Any, scopes: list[str]) -> Client:
    _token, raw = token_create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client: Client, url: str, body: Any = None) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.mark.django_db
def test_a_system_rotates_its_own_token_over_the_api(warehouse_clerk: Any) -> None:
    old = _client(warehouse_clerk, ["lifecycle:read", "warehouse:write"])

    created = _post(old, "/api/v1/tokens", {"name": "WMS 2", "scopes": ["lifecycle:read"]})
    assert created.status_code == 201, created.content
    new = created.json()
    assert new["token"].startswith(new["prefix"])
    assert new["scopes"] == ["lifecycle:read"]
    assert new["status"] == "active"

    fresh = Client(HTTP_AUTHORIZATION=f"Bearer {new['token']}")
    listed = fresh.get("/api/v1/tokens").json()
    assert {t["name"] for t in listed} >= {"WMS 2"}
    assert all("token" not in t for t in listed)  # the secret is never shown again

    old_id = next(t["id"] for t in listed if t["name"] != "WMS 2")
    revoked = _post(fresh, f"/api/v1/tokens/{old_id}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert old.get("/api/v1/tokens").status_code == 401


@pytest.mark.django_db
def test_a_token_cannot_create_a_wider_token(warehouse_clerk: Any) -> None:
    narrow = _client(warehouse_clerk, ["lifecycle:read"])

    response = _post(
        narrow, "/api/v1/tokens", {"name": "x", "scopes": ["lifecycle:read", "warehouse:write"]}
    )

    assert response.status_code == 403
    assert response.json()["field"] == "scopes"
    assert "warehouse:write" in response.json()["message"]


@pytest.mark.django_db
def test_someone_elses_token_is_not_found(warehouse_clerk: Any, auditor: Any) -> None:
    theirs, _raw = token_create(user=auditor, scopes=["audit:read"])
    mine = _client(warehouse_clerk, ["lifecycle:read"])

    response = _post(mine, f"/api/v1/tokens/{theirs.pk}/revoke")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.django_db
def test_a_licence_renewal_over_the_api_is_audited_with_its_reason(qa_manager: Any) -> None:
    supplier = factories.party(role="supplier")
    licence = masterdata.licence_add(
        party=supplier,
        data={"kind": "business_licence", "number": "91310000MA1FL0003A"},
        user=None,
    )
    client = _client(qa_manager, sorted(scopes_for(qa_manager)))
    url = f"/api/v1/parties/{supplier.pk}/licences/{licence.pk}"

    refused = client.patch(url, json.dumps({"kind": "iso13485"}), content_type="application/json")
    renewed = client.patch(
        url,
        json.dumps({"expires_on": "2031-12-31", "reason": "renewed"}),
        content_type="application/json",
    )

    assert refused.status_code == 422  # the kind of a licence is not changed, it is a new one
    assert renewed.status_code == 200, renewed.content
    assert renewed.json()["expires_on"] == "2031-12-31"
    entry = AuditEntry.objects.filter(object_type="masterdata.partylicence").latest("seq")
    assert entry.reason == "renewed"
    other = factories.party(role="supplier")
    wrong_party = client.patch(
        f"/api/v1/parties/{other.pk}/licences/{licence.pk}",
        json.dumps({"reason": "x"}),
        content_type="application/json",
    )
    assert wrong_party.status_code == 404


@pytest.mark.django_db
def test_a_retired_maintenance_plan_leaves_the_active_list(qa_manager: Any) -> None:
    product = factories.product()
    plan = service.maintenance_plan_create(
        data={"name": "PM", "kind": "maintenance", "product_id": product.pk, "interval_days": 30},
        user=None,
    )
    client = _client(qa_manager, sorted(scopes_for(qa_manager)))
    url = f"/api/v1/maintenance-plans/{plan.pk}"

    no_reason = client.patch(url, json.dumps({"active": False}), content_type="application/json")
    retired = client.patch(
        url,
        json.dumps({"active": False, "reason": "model withdrawn"}),
        content_type="application/json",
    )

    assert no_reason.status_code == 422
    assert no_reason.json()["field"] == "reason"
    assert retired.status_code == 200, retired.content
    assert retired.json()["active"] is False
    active = client.get("/api/v1/maintenance-plans?active=true").json()
    assert plan.pk not in [p["id"] for p in active]
