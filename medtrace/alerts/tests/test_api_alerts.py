"""The alerts API: the work queue, the lifecycle steps, the rules' settings and the outbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from medtrace.accounts.models import User
from medtrace.alerts import rules
from medtrace.alerts.models import Alert, OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db

Make = Callable[..., Client]
ALL = ["alerts:read", "alerts:write", "alerts:manage", "outbox:manage"]


@pytest.fixture
def alert() -> Alert:
    fired = rules.fire(
        "expiry_stock",
        dedupe_key="lot:L1",
        title="Lot L1 expires in 30 days",
        evidence={"lot": "L1", "units": 12},
    )
    assert fired is not None
    return fired


def test_the_queue_lists_my_live_alerts_and_filters(
    api_client: Make, alert: Alert, warehouse_clerk: User, qa_manager: User
) -> None:
    rules.fire("audit_chain_failed", dedupe_key="chain", title="Chain broken")
    client = api_client(warehouse_clerk, ALL)
    body = client.get("/api/v1/alerts").json()
    assert body["count"] == 1 and body["items"][0]["id"] == alert.pk
    assert "evidence" not in body["items"][0]
    assert client.get("/api/v1/alerts", {"status": "resolved"}).json()["count"] == 0
    assert client.get("/api/v1/alerts", {"kind": "qc_failure"}).json()["count"] == 0
    assert client.get("/api/v1/alerts", {"scope": "all"}).status_code == 403
    qa = api_client(qa_manager, ALL)
    assert qa.get("/api/v1/alerts", {"scope": "all", "status": "any"}).json()["count"] == 2
    bad = client.get("/api/v1/alerts", {"status": "closed"})
    assert bad.status_code == 422


def test_the_detail_carries_the_evidence_and_whether_i_may_act(
    api_client: Make, alert: Alert, warehouse_clerk: User, qa_manager: User
) -> None:
    mine = api_client(warehouse_clerk, ALL).get(f"/api/v1/alerts/{alert.pk}").json()
    assert mine["evidence"] == {"lot": "L1", "units": 12} and mine["can_act"] is True
    qa = api_client(qa_manager, ALL).get(f"/api/v1/alerts/{alert.pk}").json()
    assert qa["can_act"] is False  # QA/RA reads every alert, acts on its own


def test_the_lifecycle_over_the_api(api_client: Make, alert: Alert, warehouse_clerk: User) -> None:
    colleague = User.objects.create_user("clerk_2", password="pw-Long-enough-1")
    colleague.groups.add(Group.objects.get(name="warehouse"))
    client = api_client(warehouse_clerk, ALL)
    url = f"/api/v1/alerts/{alert.pk}"

    r = client.post(f"{url}/acknowledge", {"note": "seen"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "warehouse_clerk"
    again = client.post(f"{url}/acknowledge", {}, content_type="application/json")
    assert again.status_code == 409 and again.json()["field"] == "status"

    r = client.post(f"{url}/assign", {"assignee_id": colleague.pk}, content_type="application/json")
    assert r.status_code == 200 and r.json()["assigned_to"] == "clerk_2"
    r = client.post(f"{url}/assign", {"assignee_id": 999999}, content_type="application/json")
    assert r.status_code == 422 and r.json()["field"] == "assignee_id"

    r = client.post(f"{url}/dismiss", {"reason": ""}, content_type="application/json")
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(
        f"{url}/dismiss", {"reason": "already scrapped"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert r.json()["dismissed_by"] == "warehouse_clerk"
    r = client.post(f"{url}/resolve", {"resolution": "x"}, content_type="application/json")
    assert r.status_code == 409
    assert "dismissed as a false alarm" in r.json()["message"]


def test_acting_needs_the_write_scope_and_to_be_a_recipient(
    api_client: Make, alert: Alert, warehouse_clerk: User, qa_manager: User
) -> None:
    read_only = api_client(warehouse_clerk, ["alerts:read"])
    r = read_only.post(
        f"/api/v1/alerts/{alert.pk}/acknowledge", {}, content_type="application/json"
    )
    assert r.status_code == 403 and r.json()["details"]["required_scope"] == "alerts:write"
    qa = api_client(qa_manager, ALL)
    r = qa.post(f"/api/v1/alerts/{alert.pk}/acknowledge", {}, content_type="application/json")
    assert r.status_code == 403


def test_partners_have_no_work_queue(api_client: Make, hospital_a: User) -> None:
    from medtrace.accounts.services import token_create
    from medtrace.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        token_create(user=hospital_a, scopes=["alerts:read"])
    client = Client()
    client.force_login(hospital_a)
    assert client.get("/api/v1/alerts").status_code == 403


def test_rules_are_read_by_everyone_and_patched_by_qa(
    api_client: Make, warehouse_clerk: User, qa_manager: User
) -> None:
    rows = api_client(warehouse_clerk, ALL).get("/api/v1/alert-rules").json()
    assert [r["kind"] for r in rows][:2] == ["qc_failure", "complaint_cluster"]
    cluster = next(r for r in rows if r["kind"] == "complaint_cluster")
    assert cluster["window_seconds"] == 30 * 86400 and cluster["threshold"] == "3.000"
    assert cluster["threshold_help"]

    clerk = api_client(warehouse_clerk, ALL)
    r = clerk.patch("/api/v1/alert-rules/expiry_stock", {"threshold": 30},
                    content_type="application/json")  # fmt: skip
    assert r.status_code == 403

    qa = api_client(qa_manager, ALL)
    r = qa.patch(
        "/api/v1/alert-rules/expiry_stock",
        {"threshold": 60, "window": None, "email": True, "recipient_user_id": warehouse_clerk.pk,
         "reason": "two months is enough"},
        content_type="application/json",
    )  # fmt: skip
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["threshold"] == "60.000" and body["email"] is True
    assert body["recipient_user"] == "warehouse_clerk" and body["updated_by"] == "qa_manager"
    r = qa.patch(
        "/api/v1/alert-rules/complaint_cluster",
        {"window": "PT12H"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["window_seconds"] == 12 * 3600
    r = qa.patch(
        "/api/v1/alert-rules/yield_out_of_control",
        {"threshold": -1, "params": {"lots": 2}},
        content_type="application/json",
    )
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["details"]] == ["threshold", "params.min_lots"]
    r = qa.patch("/api/v1/alert-rules/nope", {"enabled": False}, content_type="application/json")
    assert r.status_code == 404
    r = qa.patch("/api/v1/alert-rules/expiry_stock", {"enabled": None},
                 content_type="application/json")  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "enabled"
    r = qa.patch("/api/v1/alert-rules/expiry_stock", {"colour": "red"},
                 content_type="application/json")  # fmt: skip
    assert r.status_code == 422
    assert qa.get("/api/v1/alert-rules/expiry_stock").json()["threshold"] == "60.000"


def _dead(key: str = "k-1") -> OutboxMessage:
    from django.utils import timezone

    return OutboxMessage.objects.create(
        key=key,
        handler="email",
        event_type="alert.email",
        payload={"to": ["x@example.com"]},
        status=OutboxStatus.DEAD,
        attempts=8,
        max_attempts=8,
        next_attempt_at=timezone.now(),
        last_error="SMTPServerDisconnected",
    )


def test_the_administrator_lists_dead_letters_and_replays_one(
    api_client: Make, admin_user: User, qa_manager: User
) -> None:
    message = _dead()
    admin = api_client(admin_user, ALL)
    body = admin.get("/api/v1/outbox", {"status": "dead"}).json()
    assert body["count"] == 1 and body["items"][0]["last_error"] == "SMTPServerDisconnected"
    r = admin.post(f"/api/v1/outbox/{message.pk}/replay", {"reason": ""},
                   content_type="application/json")  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = admin.post(
        f"/api/v1/outbox/{message.pk}/replay",
        {"reason": "the mail server is back"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["status"] in ("pending", "delivered", "dead")
    assert api_client(qa_manager, ALL).get("/api/v1/outbox").status_code == 403
    r = api_client(qa_manager, ALL).post(
        f"/api/v1/outbox/{message.pk}/replay", {"reason": "x"}, content_type="application/json"
    )
    assert r.status_code == 403
