"""The alert pages: work queue, alert with its actions, rules and the outbox."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.alerts import rules
from medtrace.alerts.models import Alert, AlertRule, AlertStatus, OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the texts below are the sources
    return client


@pytest.fixture
def alert() -> Alert:
    fired = rules.fire(
        "expiry_stock",
        dedupe_key="lot:L1",
        title="Lot L1 expires in 30 days",
        evidence={"lot": "L1"},
    )
    assert fired is not None
    return fired


def test_the_queue_shows_my_alerts_and_the_nav_counts_them(
    alert: Alert, warehouse_clerk: User, qa_manager: User
) -> None:
    page = _client(warehouse_clerk).get("/alerts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lot L1 expires in 30 days" in html
    assert 'title="open or acknowledged alerts addressed to you">1</span>' in html
    other = _client(qa_manager).get("/alerts/").content.decode()
    assert "Lot L1 expires" not in other
    assert "Lot L1 expires" in _client(qa_manager).get("/alerts/?scope=all").content.decode()
    # A clerk asking for every alert gets their own queue.
    assert "Lot L1" in _client(warehouse_clerk).get("/alerts/?scope=all").content.decode()


def test_acting_on_an_alert_from_its_page(alert: Alert, warehouse_clerk: User) -> None:
    colleague = User.objects.create_user("clerk_2", password="pw-Long-enough-1")
    colleague.groups.add(Group.objects.get(name="warehouse"))
    client = _client(warehouse_clerk)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "&quot;lot&quot;: &quot;L1&quot;" in page and "Acknowledge" in page

    r = client.post(f"/alerts/{alert.pk}/do/acknowledge/", {"note": "on it"})
    assert r.status_code == 302
    r = client.post(f"/alerts/{alert.pk}/do/assign/", {"assignee": str(colleague.pk)})
    assert r.status_code == 302
    assert Alert.objects.get(pk=alert.pk).assigned_to == colleague
    r = client.post(f"/alerts/{alert.pk}/do/resolve/", {"resolution": ""})
    assert r.status_code == 422
    assert "a resolution note saying what was done is required" in r.content.decode()
    r = client.post(f"/alerts/{alert.pk}/do/dismiss/", {"reason": "scrapped already"})
    assert r.status_code == 302
    done = Alert.objects.get(pk=alert.pk)
    assert done.status == AlertStatus.DISMISSED
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "scrapped already" in page and "on it" in page
    assert 'id="resolve"' not in page  # concluded: no more actions
    r = client.post(f"/alerts/{alert.pk}/do/resolve/", {"resolution": "x"})
    assert r.status_code == 409


def test_outsiders_and_partners_cannot_open_an_alert(
    alert: Alert, hospital_a: User, warehouse_clerk: User
) -> None:
    sales = User.objects.create_user("sales_1", password="pw-Long-enough-1")
    sales.groups.add(Group.objects.get(name="sales"))
    assert _client(sales).get(f"/alerts/{alert.pk}/").status_code == 404
    assert _client(sales).post(f"/alerts/{alert.pk}/do/acknowledge/").status_code == 404
    qa = User.objects.create_user("qa_2", password="pw-Long-enough-1")
    qa.groups.add(Group.objects.get(name="qa_ra"))
    assert _client(qa).get(f"/alerts/{alert.pk}/").status_code == 200  # QA/RA reads all
    assert _client(qa).post(f"/alerts/{alert.pk}/do/acknowledge/").status_code == 403
    assert _client(hospital_a).get("/alerts/").status_code == 403
    assert Client().get("/alerts/").status_code == 302


def test_qa_edits_a_rule_and_a_wrong_value_is_shown_at_its_field(
    qa_manager: User, warehouse_clerk: User
) -> None:
    client = _client(qa_manager)
    assert "complaint cluster" in client.get("/alerts/rules/").content.decode()
    page = client.get("/alerts/rules/complaint_cluster/")
    assert page.status_code == 200 and 'value="30"' in page.content.decode()
    form = {
        "enabled": "on",
        "severity": "critical",
        "threshold": "2",
        "window": "12",
        "window_unit": "hours",
        "params": '{"dimensions": ["lot"]}',
        "recipient_role": "qa_ra",
        "recipient_user": "",
        "email": "on",
        "reason": "tighter for implants",
    }
    r = client.post("/alerts/rules/complaint_cluster/", form)
    assert r.status_code == 302, r.content.decode()
    row = rules.rule("complaint_cluster")
    assert row.threshold == 2 and row.window_seconds == 12 * 3600 and row.severity == "critical"
    r = client.post(
        "/alerts/rules/complaint_cluster/", {**form, "threshold": "-3", "params": "{oops"}
    )
    assert r.status_code == 422
    assert "expected a JSON object" in r.content.decode()
    r = client.post("/alerts/rules/complaint_cluster/", {**form, "threshold": "-3"})
    assert r.status_code == 422 and "expected a number from 0" in r.content.decode()
    assert AlertRule.objects.get(kind="complaint_cluster").threshold == 2
    # The clerk reads the rules, but may not edit them.
    clerk = _client(warehouse_clerk)
    assert clerk.get("/alerts/rules/").status_code == 200
    assert clerk.get("/alerts/rules/complaint_cluster/").status_code == 403
    assert client.get("/alerts/rules/nope/").status_code == 404


def test_the_administrator_sees_dead_letters_and_replays_them(
    admin_user: User, qa_manager: User
) -> None:
    message = OutboxMessage.objects.create(
        key="k-1",
        handler="webhook",
        event_type="alert.raised",
        target="https://qms.example/hook",
        payload={"subscription_id": 0, "body": {}},
        status=OutboxStatus.DEAD,
        attempts=8,
        max_attempts=8,
        next_attempt_at=timezone.now(),
        last_error="HTTP 503",
    )
    client = _client(admin_user)
    page = client.get("/alerts/outbox/").content.decode()
    assert "https://qms.example/hook" in page and "HTTP 503" in page
    r = client.post(f"/alerts/outbox/{message.pk}/replay/", {"reason": "receiver fixed"})
    assert r.status_code == 302
    message.refresh_from_db()
    assert message.max_attempts == 16  # a fresh set of attempts
    assert _client(qa_manager).get("/alerts/outbox/").status_code == 403
