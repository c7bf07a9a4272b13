"""Webhook subscriptions (issue 6): the administrator lists, creates and rotates them (scope
webhooks:manage); the auditor reads the list (never a secret); every other role is refused
(403), and partner tokens cannot carry the scope (403).

World: one subscription of hospital A's system."""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    V = m.V
    m.api_case("GET /api/v1/webhook-subscriptions", m.only(("admin", "auditor"), 200, partners=403))
    m.api_case(
        "POST /api/v1/webhook-subscriptions",
        m.only(("admin",), 201),
        body={
            "url": "https://hospital-a.example.com/hooks",
            "event_types": ["recall.notice"],
            "party_id": "{hospital_a_id}",
        },
    )
    m.api_case(
        "POST /api/v1/webhook-subscriptions/{subscription_id}/rotate",
        m.only(("admin",), 200),
        url=V + "/webhook-subscriptions/{webhook_sub_a}/rotate",
        body={"grace_hours": 1},
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.alerts import webhooks

    sub, _secret = webhooks.webhook_subscription_create(
        url="https://hospital-a.example.com/medtrace",
        event_types=["*"],
        party=w.hospital,
        user=users["admin"],
    )
    return {"webhook_sub_a": sub.pk}
