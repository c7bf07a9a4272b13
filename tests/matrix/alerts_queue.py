"""Alerts (issue 7 item 2): the work queue, the lifecycle steps, the rules and the outbox.

Every department has a work queue (alerts:read) and reads the alert rules; an alert is acted
on (alerts:write) by its recipients (here: the QA/RA role) and the administrator; QA/RA, the
auditor and the administrator read every alert, the auditor acts on none (403); to the other
departments an alert not addressed to them does not exist (404). QA/RA and the administrator
change rules (alerts:manage); the administrator alone sees and replays the outbox
(outbox:manage). Partners have no work queue: their tokens cannot carry these scopes, and the
pages refuse them (403).

World: one audit-chain alert (addressed to QA/RA) and one dead outbox message."""

from __future__ import annotations

from typing import Any

READ_ALL = ("qa_ra", "auditor", "admin")
ACT = ("qa_ra", "admin")


def register(m: Any) -> None:
    v = m.V
    staff = m.expect(401, 200, 403)
    alert = v + "/alerts/{mx_alert}"
    seen = m.only(READ_ALL, 200, no=404)
    acts = m.only(ACT, 200, no=404, auditor=403)

    m.api_case("GET /api/v1/alerts", staff)
    m.api_case("GET /api/v1/alerts/{alert_id}", seen, url=alert)
    m.api_case(
        "POST /api/v1/alerts/{alert_id}/acknowledge", acts, url=alert + "/acknowledge", body={}
    )
    m.api_case(
        "POST /api/v1/alerts/{alert_id}/assign",
        acts,
        url=alert + "/assign",
        body={"assignee_id": "{mx_admin_id}"},
    )
    m.api_case(
        "POST /api/v1/alerts/{alert_id}/resolve",
        acts,
        url=alert + "/resolve",
        body={"resolution": "matrix"},
    )
    m.api_case(
        "POST /api/v1/alerts/{alert_id}/dismiss",
        acts,
        url=alert + "/dismiss",
        body={"reason": "matrix"},
    )
    m.api_case("GET /api/v1/alert-rules", staff)
    m.api_case("GET /api/v1/alert-rules/{kind}", staff, url=v + "/alert-rules/expiry_stock")
    m.api_case(
        "PATCH /api/v1/alert-rules/{kind}",
        m.only(ACT, 200),
        url=v + "/alert-rules/expiry_stock",
        body={"threshold": 60, "reason": "matrix"},
    )
    m.api_case("GET /api/v1/outbox", m.only(("admin",), 200))
    m.api_case(
        "POST /api/v1/outbox/{message_id}/replay",
        m.only(("admin",), 200),
        url=v + "/outbox/{mx_dead}/replay",
        body={"reason": "matrix"},
    )

    pages = m.expect(302, 200, 403)

    def page(route: str, url: str, expected: dict[str, int]) -> None:
        m.add(route, m.Case("GET", url, expected, session=True))

    page("/alerts/", "/alerts/", pages)
    page("/alerts/rules/", "/alerts/rules/", pages)
    page("/alerts/rules/<slug:kind>/", "/alerts/rules/expiry_stock/", m.only(ACT, 200, anon=302))
    page("/alerts/outbox/", "/alerts/outbox/", m.only(("admin",), 200, anon=302))
    m.add(
        "/alerts/outbox/<int:message_id>/replay/",
        m.Case(
            "POST",
            "/alerts/outbox/{mx_dead}/replay/",
            m.only(("admin",), 302, anon=302),
            session=True,
            form={"reason": "matrix"},
        ),
    )
    page("/alerts/<int:alert_id>/", "/alerts/{mx_alert}/", m.only(READ_ALL, 200, no=404, anon=302))
    m.add(
        "/alerts/<int:alert_id>/do/<slug:action>/",
        m.Case(
            "POST",
            "/alerts/{mx_alert}/do/acknowledge/",
            m.only(ACT, 302, no=404, anon=302, auditor=403),
            session=True,
            form={"note": "matrix"},
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from django.utils import timezone

    from medtrace.alerts import rules
    from medtrace.alerts.models import OutboxMessage, OutboxStatus

    alert = rules.fire("audit_chain_failed", dedupe_key="matrix", title="Matrix: chain broken")
    assert alert is not None and alert.recipient_role == "qa_ra"
    dead = OutboxMessage.objects.create(
        key="matrix-dead",
        handler="email",
        event_type="alert.email",
        payload={"to": ["nobody@example.invalid"]},
        status=OutboxStatus.DEAD,
        attempts=8,
        max_attempts=8,
        next_attempt_at=timezone.now(),
        last_error="matrix",
    )
    return {"mx_alert": alert.pk, "mx_dead": dead.pk, "mx_admin_id": users["admin"].pk}
