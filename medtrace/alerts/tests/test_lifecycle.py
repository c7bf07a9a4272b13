"""The lifecycle of an alert: acknowledge, assign, resolve, dismiss - permission-checked, in
sequence, audited, and feeding the false-alarm KPI."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from medtrace.accounts.models import User
from medtrace.alerts import lifecycle, rules, selectors
from medtrace.alerts.models import Alert, AlertStatus
from medtrace.audit.models import AuditEntry
from medtrace.errors import NotFound, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.trace import kpis

pytestmark = pytest.mark.django_db


def _member(username: str, role: str) -> User:
    user = User.objects.create_user(username, password="pw-Long-enough-1")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def alert() -> Alert:
    fired = rules.fire("expiry_stock", dedupe_key="lot:L1", title="Lot L1 expires in 30 days")
    assert fired is not None and fired.recipient_role == "warehouse"
    return fired


def _steps(alert: Alert) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.actor_name, e.reason)
        for e in AuditEntry.objects.filter(
            object_type="alerts.alert", object_id=str(alert.pk)
        ).order_by("seq")
    ]


def test_a_recipient_takes_an_alert_through_acknowledge_assign_and_resolve(
    alert: Alert, warehouse_clerk: User
) -> None:
    colleague = _member("clerk_2", "warehouse")

    done = lifecycle.alert_acknowledge(alert_id=alert.pk, user=warehouse_clerk, note="on it")
    assert done.status == AlertStatus.ACKNOWLEDGED and done.acknowledged_by == warehouse_clerk
    done = lifecycle.alert_assign(alert_id=alert.pk, user=warehouse_clerk, assignee=colleague)
    assert done.assigned_to == colleague and done.status == AlertStatus.ACKNOWLEDGED
    done = lifecycle.alert_resolve(
        alert_id=alert.pk, user=colleague, resolution="moved to the quarantine, scrap on Friday"
    )
    assert done.status == AlertStatus.RESOLVED and done.resolved_by == colleague
    assert done.resolution == "moved to the quarantine, scrap on Friday"

    steps = _steps(alert)
    assert [s[0] for s in steps] == ["create", "update", "update", "update"]
    assert steps[1][1:] == ("warehouse_clerk", "on it")
    assert steps[2][1:] == ("warehouse_clerk", "assigned to clerk_2")
    assert steps[3][1:] == ("clerk_2", "moved to the quarantine, scrap on Friday")


def test_dismissing_needs_a_reason_and_counts_as_a_false_alarm(
    alert: Alert, warehouse_clerk: User
) -> None:
    with pytest.raises(ValidationFailed) as err:
        lifecycle.alert_dismiss(alert_id=alert.pk, user=warehouse_clerk, reason="  ")
    assert err.value.field == "reason"
    done = lifecycle.alert_dismiss(
        alert_id=alert.pk, user=warehouse_clerk, reason="the lot was already scrapped"
    )
    assert done.status == AlertStatus.DISMISSED and done.dismiss_reason
    other = rules.fire("expiry_stock", dedupe_key="lot:L2", title="Lot L2 expires")
    assert other is not None
    lifecycle.alert_resolve(alert_id=other.pk, user=warehouse_clerk, resolution="sold first")

    rate = kpis.alert_false_alarm_rate(kpis.period_from(None, None))
    assert (rate["alerts"], rate["dismissed_false"], rate["resolved"]) == (2, 1, 1)
    assert rate["rate"] == 0.5
    assert rate["by_kind"]["expiry_stock"]["rate"] == 0.5
    assert kpis.kpis(user=warehouse_clerk)["alert_false_alarm_rate"]["rate"] == 0.5


def test_resolving_needs_a_note(alert: Alert, warehouse_clerk: User) -> None:
    with pytest.raises(ValidationFailed) as err:
        lifecycle.alert_resolve(alert_id=alert.pk, user=warehouse_clerk, resolution="")
    assert err.value.field == "resolution"
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN


@pytest.mark.parametrize(
    ("first", "then", "expected"),
    [
        ("dismiss", "resolve", "dismissed as a false alarm"),
        ("resolve", "dismiss", "resolved"),
        ("resolve", "acknowledge", "resolved"),
        ("acknowledge", "acknowledge", "acknowledged"),
        ("dismiss", "assign", "dismissed as a false alarm"),
    ],
)
def test_steps_out_of_sequence_are_refused_saying_why(
    alert: Alert, warehouse_clerk: User, first: str, then: str, expected: str
) -> None:
    colleague = _member("clerk_2", "warehouse")
    step = {
        "acknowledge": lambda: lifecycle.alert_acknowledge(alert_id=alert.pk, user=warehouse_clerk),
        "assign": lambda: lifecycle.alert_assign(
            alert_id=alert.pk, user=warehouse_clerk, assignee=colleague
        ),
        "resolve": lambda: lifecycle.alert_resolve(
            alert_id=alert.pk, user=warehouse_clerk, resolution="done"
        ),
        "dismiss": lambda: lifecycle.alert_dismiss(
            alert_id=alert.pk, user=warehouse_clerk, reason="false alarm"
        ),
    }
    step[first]()
    entries = AuditEntry.objects.count()
    with pytest.raises(SequenceViolation) as err:
        step[then]()
    assert f"it is {expected}" in err.value.message
    assert err.value.field == "status"
    assert AuditEntry.objects.count() == entries


def test_only_recipients_assignees_and_administrators_may_act(
    alert: Alert, qa_manager: User, admin_user: User, auditor: User, hospital_a: User
) -> None:
    for outsider in (qa_manager, auditor):  # they read every alert, and act on their own
        with pytest.raises(PermissionDenied, match="only its recipients"):
            lifecycle.alert_acknowledge(alert_id=alert.pk, user=outsider)
    with pytest.raises(NotFound):  # a partner does not learn that it exists
        lifecycle.alert_acknowledge(alert_id=alert.pk, user=hospital_a)
    lifecycle.alert_acknowledge(alert_id=alert.pk, user=admin_user)  # the administrator may
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.ACKNOWLEDGED


def test_an_alert_addressed_to_a_user_is_theirs_alone(qa_manager: User) -> None:
    from medtrace.alerts.models import AlertRule

    colleague = _member("qa_2", "qa_ra")
    AlertRule.objects.filter(kind="duplicate_scan").update(
        recipient_role="", recipient_user=qa_manager
    )
    fired = rules.fire("duplicate_scan", dedupe_key="unit:1", title="Scanned twice")
    assert fired is not None and fired.recipient_user == qa_manager
    with pytest.raises(PermissionDenied):
        lifecycle.alert_acknowledge(alert_id=fired.pk, user=colleague)
    lifecycle.alert_acknowledge(alert_id=fired.pk, user=qa_manager)


def test_the_assignee_must_be_able_to_act_and_then_may(
    alert: Alert, warehouse_clerk: User, qa_manager: User, hospital_a: User
) -> None:
    for wrong in (qa_manager, hospital_a):
        with pytest.raises(ValidationFailed) as err:
            lifecycle.alert_assign(alert_id=alert.pk, user=warehouse_clerk, assignee=wrong)
        assert err.value.field == "assignee"
    inactive = _member("clerk_gone", "warehouse")
    inactive.is_active = False
    inactive.save()
    with pytest.raises(ValidationFailed):
        lifecycle.alert_assign(alert_id=alert.pk, user=warehouse_clerk, assignee=inactive)
    with pytest.raises(ValidationFailed):
        lifecycle.alert_assign(alert_id=alert.pk, user=warehouse_clerk, assignee=None)
    colleague = _member("clerk_2", "warehouse")
    lifecycle.alert_assign(alert_id=alert.pk, user=warehouse_clerk, assignee=colleague)
    with pytest.raises(ValidationFailed, match="already assigned"):
        lifecycle.alert_assign(alert_id=alert.pk, user=warehouse_clerk, assignee=colleague)


def test_an_unknown_alert_is_not_found(warehouse_clerk: User) -> None:
    with pytest.raises(NotFound):
        lifecycle.alert_acknowledge(alert_id=999999, user=warehouse_clerk)


def test_the_work_queue_holds_my_roles_my_own_and_my_assigned_alerts(
    alert: Alert, warehouse_clerk: User, qa_manager: User, auditor: User, hospital_a: User
) -> None:
    other = rules.fire("audit_chain_failed", dedupe_key="chain", title="Chain broken")
    assert other is not None and other.recipient_role == "qa_ra"

    mine = selectors.work_queue(user=warehouse_clerk)
    assert list(mine.alerts) == [alert]
    assert mine.counts["live"] == 1 and mine.kinds == {"expiry_stock": 1}
    assert list(selectors.work_queue(user=qa_manager).alerts) == [other]
    # QA/RA and the auditor read every alert; the clerk may not.
    assert len(selectors.work_queue(user=auditor, scope="all").alerts) == 2
    with pytest.raises(PermissionDenied):
        selectors.work_queue(user=warehouse_clerk, scope="all")
    with pytest.raises(PermissionDenied):
        selectors.work_queue(user=hospital_a)
    # Assigned across: the admin assigns QA's alert to an administrator; it is in their queue.
    admin_2 = _member("admin_2", "admin")
    lifecycle.alert_assign(alert_id=other.pk, user=qa_manager, assignee=admin_2)
    assert list(selectors.work_queue(user=admin_2, scope="assigned").alerts) == [other]
    # Concluded alerts leave the default (live) queue but stay under their status.
    lifecycle.alert_resolve(alert_id=alert.pk, user=warehouse_clerk, resolution="done")
    assert list(selectors.work_queue(user=warehouse_clerk).alerts) == []
    resolved = selectors.work_queue(user=warehouse_clerk, status="resolved")
    assert list(resolved.alerts) == [alert] and resolved.counts["live"] == 0
    assert selectors.live_count(warehouse_clerk) == 0
    with pytest.raises(ValidationFailed):
        selectors.work_queue(user=warehouse_clerk, status="closed")


def test_outsiders_do_not_see_an_alert(alert: Alert, qa_manager: User, hospital_a: User) -> None:
    sales = _member("sales_1", "sales")
    with pytest.raises(NotFound):
        selectors.alert_get(alert_id=alert.pk, user=sales)
    with pytest.raises(PermissionDenied):
        selectors.alert_get(alert_id=alert.pk, user=hospital_a)
    assert selectors.alert_get(alert_id=alert.pk, user=qa_manager) == alert  # reads all


def test_a_resolved_alert_lets_the_rule_fire_again(alert: Alert, warehouse_clerk: User) -> None:
    assert rules.fire("expiry_stock", dedupe_key="lot:L1", title="again") is None
    lifecycle.alert_resolve(alert_id=alert.pk, user=warehouse_clerk, resolution="done")
    assert rules.fire("expiry_stock", dedupe_key="lot:L1", title="again") is not None
