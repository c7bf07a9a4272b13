"""Changing an alert rule's settings: who may, what each field accepts, and the audit entry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from medtrace.accounts.models import User
from medtrace.alerts import ruleconfig, rules
from medtrace.alerts.models import AlertRule
from medtrace.audit.models import AuditEntry
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db


def test_qa_changes_threshold_window_params_and_recipients_audited(
    qa_manager: User, warehouse_clerk: User
) -> None:
    row = ruleconfig.rule_update(
        kind="complaint_cluster",
        user=qa_manager,
        changes={
            "threshold": "2",
            "window": timedelta(days=60),
            "params": {"dimensions": ["lot"]},
            "recipient_role": "qc",
            "recipient_user": warehouse_clerk,
            "email": False,
            "severity": "critical",
        },
        reason="two complaints are enough for an implant",
    )
    assert row.threshold == Decimal(2) and row.window == timedelta(days=60)
    assert row.params == {"dimensions": ["lot"]}
    assert (row.recipient_role, row.recipient_user, row.email) == ("qc", warehouse_clerk, False)
    assert row.updated_by == qa_manager
    entry = AuditEntry.objects.filter(object_type="alerts.alertrule").latest("seq")
    assert entry.reason == "two complaints are enough for an implant"
    assert entry.actor_name == "qa_manager"
    assert entry.changes["threshold"] == ["3.000", "2.000"] or "threshold" in entry.changes
    # The next fire follows the new settings.
    fired = rules.fire("complaint_cluster", dedupe_key="lot:X", title="t")
    assert fired is not None and (fired.recipient_role, fired.severity) == ("qc", "critical")


def test_a_disabled_rule_stays_configured(admin_user: User) -> None:
    ruleconfig.rule_update(kind="duplicate_scan", user=admin_user, changes={"enabled": False})
    assert rules.rule("duplicate_scan").enabled is False
    assert rules.rule("duplicate_scan").threshold == 10


def test_other_roles_may_not_change_rules(warehouse_clerk: User, auditor: User) -> None:
    for user in (warehouse_clerk, auditor):
        with pytest.raises(PermissionDenied):
            ruleconfig.rule_update(kind="expiry_stock", user=user, changes={"threshold": 30})


def test_every_wrong_field_is_named(qa_manager: User) -> None:
    with pytest.raises(ValidationFailed) as err:
        ruleconfig.rule_update(
            kind="yield_out_of_control",
            user=qa_manager,
            changes={
                "threshold": "-1",
                "window": timedelta(0),
                "params": {"lots": 3, "min_lots": 5, "colour": "red"},
                "recipient_role": "boss",
                "severity": "loud",
            },
        )
    fields = [d["field"] for d in err.value.details]
    assert fields == ["severity", "threshold", "window", "params.colour", "params.min_lots",
                      "recipient_role"]  # fmt: skip
    assert rules.rule("yield_out_of_control").threshold == 3  # nothing was applied


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("expiry_stock", {"threshold": None}, "threshold"),
        ("expiry_stock", {"threshold": "abc"}, "threshold"),
        ("expiry_stock", {"threshold": "1.0001"}, "threshold"),
        ("complaint_cluster", {"window": None}, "window"),
        ("complaint_cluster", {"params": {"dimensions": ["lot", "lot"]}}, "params.dimensions"),
        ("complaint_cluster", {"params": {"dimensions": []}}, "params.dimensions"),
        ("complaint_cluster", {"params": []}, "params"),
        ("maintenance_due", {"params": {"overdue": "yes"}}, "params.overdue"),
        (
            "recall_unacknowledged",
            {"params": {"escalation": ["qa_ra", "ceo"]}},
            "params.escalation",
        ),
        ("recall_unacknowledged", {"params": {"repeat_hours": 0}}, "params.repeat_hours"),
        ("expiry_stock", {"recipient_role": "", "recipient_user": None}, "recipient_role"),
        ("expiry_stock", {"colour": "red"}, "colour"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_field(
    qa_manager: User, kind: str, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        ruleconfig.rule_update(kind=kind, user=qa_manager, changes=changes)
    assert err.value.field == field, err.value.message


def test_a_partner_user_cannot_be_a_recipient(qa_manager: User, hospital_a: User) -> None:
    with pytest.raises(ValidationFailed) as err:
        ruleconfig.rule_update(
            kind="expiry_stock", user=qa_manager, changes={"recipient_user": hospital_a}
        )
    assert err.value.field == "recipient_user"


def test_an_unknown_rule_is_not_found(qa_manager: User) -> None:
    with pytest.raises(NotFound):
        ruleconfig.rule_update(kind="nope", user=qa_manager, changes={})


def test_the_stored_params_hold_only_what_was_set(qa_manager: User) -> None:
    ruleconfig.rule_update(
        kind="yield_out_of_control", user=qa_manager, changes={"params": {"lots": 50}}
    )
    assert AlertRule.objects.get(kind="yield_out_of_control").params == {"lots": 50}
    assert rules.rule("yield_out_of_control").params == {
        "lots": 50,
        "min_lots": 5,
        "min_sigma": 0.01,
    }
