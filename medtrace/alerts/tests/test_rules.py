"""Rule configuration and ``rules.fire``: the contract the rule evaluators build on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from medtrace.alerts import rules
from medtrace.alerts.models import (
    Alert,
    AlertRule,
    AlertRuleKind,
    AlertStatus,
    OutboxMessage,
    WebhookSubscription,
)
from medtrace.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_every_kind_is_seeded_with_its_defaults() -> None:
    assert set(AlertRule.objects.values_list("kind", flat=True)) == set(AlertRuleKind.values)
    expiry = rules.rule("expiry_stock")
    assert expiry.threshold == Decimal(90) and expiry.recipient_role == "warehouse"
    cluster = rules.rule("complaint_cluster")
    assert cluster.threshold == 3 and cluster.window == timedelta(days=30)
    yield_rule = rules.rule("yield_out_of_control")
    assert yield_rule.threshold == 3 and yield_rule.params == {
        "lots": 20,
        "min_lots": 5,
        "min_sigma": 0.01,
    }
    recall = rules.rule("recall_unacknowledged")
    assert recall.params["escalation"] == ["qa_ra", "admin"]
    assert rules.rule("duplicate_scan").threshold == 10
    assert set(rules.SPECS) == set(AlertRuleKind.values)


def test_rule_merges_the_default_params_under_the_stored_ones() -> None:
    AlertRule.objects.filter(kind="yield_out_of_control").update(params={"lots": 30})
    assert rules.rule("yield_out_of_control").params == {
        "lots": 30,
        "min_lots": 5,
        "min_sigma": 0.01,
    }


def test_a_missing_row_is_recreated_from_the_defaults() -> None:
    AlertRule.objects.filter(kind="maintenance_due").delete()
    assert rules.rule("maintenance_due").threshold == 14
    assert AlertRule.objects.filter(kind="maintenance_due").count() == 1


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="no alert rule kind 'nope'"):
        rules.rule("nope")


def test_fire_raises_an_audited_alert_for_the_rules_recipients(qa_manager: Any) -> None:
    alert = rules.fire(
        "duplicate_scan",
        dedupe_key="unit:urn:epc:id:sgtin:1.2.3",
        title="Unit scanned in two places",
        evidence={"locations": ["A", "B"]},
        object_type="unit",
        object_id="urn:epc:id:sgtin:1.2.3",
    )
    assert alert is not None
    assert (alert.kind, alert.recipient_role, alert.severity) == (
        "duplicate_scan",
        "qa_ra",
        "critical",
    )
    assert alert.dedupe_key == "unit:urn:epc:id:sgtin:1.2.3"
    assert AuditEntry.objects.filter(object_type="alerts.alert", object_id=str(alert.pk)).exists()


def test_fire_does_not_raise_twice_while_the_alert_is_live(qa_manager: Any) -> None:
    first = rules.fire("qc_failure", dedupe_key="lot:L1", title="QC failed on lot L1")
    assert first is not None
    assert rules.fire("qc_failure", dedupe_key="lot:L1", title="again") is None
    Alert.objects.filter(pk=first.pk).update(status=AlertStatus.ACKNOWLEDGED)
    assert rules.fire("qc_failure", dedupe_key="lot:L1", title="again") is None
    assert rules.fire("qc_failure", dedupe_key="lot:L2", title="QC failed on lot L2") is not None
    # Concluded: the next occurrence is a new alert.
    Alert.objects.filter(pk=first.pk).update(status=AlertStatus.RESOLVED)
    again = rules.fire("qc_failure", dedupe_key="lot:L1", title="QC failed on lot L1 again")
    assert again is not None and again.pk != first.pk


def test_the_database_refuses_a_second_live_alert_with_the_same_key() -> None:
    from django.db import IntegrityError

    Alert.objects.create(kind="qc_failure", title="x", recipient_role="qc", dedupe_key="k")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind="qc_failure", title="y", recipient_role="qc", dedupe_key="k")
    # Without a key there is no deduplication.
    Alert.objects.create(kind="qc_failure", title="x", recipient_role="qc")
    Alert.objects.create(kind="qc_failure", title="x", recipient_role="qc")


def test_a_disabled_rule_fires_nothing() -> None:
    AlertRule.objects.filter(kind="expiry_stock").update(enabled=False)
    assert rules.fire("expiry_stock", dedupe_key="lot:L1", title="expires") is None
    assert not Alert.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_a_recipient_role_override_escalates_to_that_role_only(qa_manager: Any) -> None:
    AlertRule.objects.filter(kind="recall_unacknowledged").update(recipient_user=qa_manager)
    alert = rules.fire(
        "recall_unacknowledged",
        dedupe_key="notice:1:level:2",
        title="Notice unacknowledged",
        recipient_role="admin",
    )
    assert alert is not None
    assert (alert.recipient_role, alert.recipient_user) == ("admin", None)
    with pytest.raises(ValueError, match="no role 'boss'"):
        rules.fire("recall_unacknowledged", dedupe_key="x", title="t", recipient_role="boss")


def test_fire_queues_one_email_per_recipient_with_an_address_and_the_webhook_event(
    qa_manager: Any, warehouse_clerk: Any, hospital_a: Any
) -> None:
    from medtrace.alerts import webhooks

    qa_manager.email = "qa@example.com"
    qa_manager.save()
    AlertRule.objects.filter(kind="expiry_stock").update(
        email=True, recipient_role="qa_ra", recipient_user=warehouse_clerk
    )  # the clerk has no address: no mail for the clerk
    ours = WebhookSubscription.objects.create(
        url="http://127.0.0.1:9/hook",
        secret=webhooks.new_secret(),
        event_types=["alert.raised"],
        system_name="QMS",
    )
    WebhookSubscription.objects.create(
        url="http://127.0.0.1:9/partner",
        secret=webhooks.new_secret(),
        event_types=["*"],
        party=hospital_a.party,
    )
    with transaction.atomic():
        alert = rules.fire(
            "expiry_stock", dedupe_key="lot:L9", title="Lot L9 expires in 30 days", message="m"
        )
    assert alert is not None
    mails = list(OutboxMessage.objects.filter(handler="email"))
    assert [m.payload["to"] for m in mails] == [["qa@example.com"]]
    assert "Lot L9 expires in 30 days" in mails[0].payload["subject"]
    assert f"/alerts/{alert.pk}/" in mails[0].payload["body"]
    hooks = list(OutboxMessage.objects.filter(handler="webhook"))
    assert [h.payload["subscription_id"] for h in hooks] == [ours.pk]  # never the partner's
    body = hooks[0].payload["body"]
    assert body["event"] == "alert.raised"
    assert body["alert"]["id"] == alert.pk and "evidence" not in body["alert"]
    assert hooks[0].key == f"alert.raised:{alert.pk}:{ours.pk}"


def test_no_email_when_the_rule_says_so(qa_manager: Any) -> None:
    qa_manager.email = "qa@example.com"
    qa_manager.save()
    AlertRule.objects.filter(kind="expiry_stock").update(email=False, recipient_role="qa_ra")
    assert rules.fire("expiry_stock", dedupe_key="lot:L9", title="t") is not None
    assert not OutboxMessage.objects.filter(handler="email").exists()


def test_a_failed_change_takes_its_alert_and_messages_with_it(qa_manager: Any) -> None:
    qa_manager.email = "qa@example.com"
    qa_manager.save()
    with pytest.raises(RuntimeError), transaction.atomic():
        rules.fire("audit_chain_failed", dedupe_key="chain", title="Audit chain broken")
        raise RuntimeError("rolled back")
    assert not Alert.objects.exists()
    assert not OutboxMessage.objects.exists()
