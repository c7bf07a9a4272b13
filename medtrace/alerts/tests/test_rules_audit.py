"""Rule audit_chain_failed: the worker's daily verification alerts QA/RA when the audit chain is
broken, once per set of problems; nothing while it verifies or with the rule off."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from medtrace.alerts import schedule
from medtrace.alerts.models import Alert, AlertRule, AlertStatus
from medtrace.alerts.rules_audit import audit_chain_evaluate
from medtrace.audit.models import AuditEntry
from medtrace.masterdata.tests import factories as md

pytestmark = pytest.mark.django_db


def _tamper(seq: int) -> None:
    """Edit an audit entry as someone with database superuser rights could (on PostgreSQL the
    append-only trigger must first be bypassed)."""
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = 'replica'")
        try:
            cursor.execute(f"UPDATE {table} SET actor_name = %s WHERE seq = %s", ["mallory", seq])
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = 'origin'")


def _alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind="audit_chain_failed").order_by("pk"))


def test_an_intact_chain_raises_nothing() -> None:
    md.party()
    assert audit_chain_evaluate().startswith("audit_chain_failed: verified")
    assert _alerts() == []


def test_a_tampered_entry_alerts_qa_once_with_the_problem(qa_manager: object) -> None:
    md.party()
    md.party()
    _tamper(1)

    result = audit_chain_evaluate()

    (alert,) = _alerts()
    assert (alert.recipient_role, alert.severity) == ("qa_ra", "critical")
    assert "audit entry #1" in alert.evidence["first_problem"]
    assert "altered after it was written" in alert.evidence["first_problem"]
    assert alert.evidence["count"] == len(alert.evidence["problems"]) >= 1
    assert alert.object_type == "audit.auditentry" and alert.object_id == "1"
    assert result.endswith("1 new alerts")

    # The same broken chain: not again, even after QA resolved the alert.
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED)
    audit_chain_evaluate()
    assert len(_alerts()) == 1

    # More tampering is news.
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert last is not None
    _tamper(last)
    audit_chain_evaluate()
    assert len(_alerts()) == 2


def test_the_verify_command_raises_the_same_alert() -> None:
    md.party()
    _tamper(1)

    with pytest.raises(SystemExit):
        call_command("audit", "verify")
    audit_chain_evaluate()

    (alert,) = _alerts()  # the command's alert; the worker's run found the same problems
    assert "audit entry #1" in alert.evidence["first_problem"]


def test_a_disabled_rule_does_not_verify_or_alert() -> None:
    md.party()
    _tamper(1)
    AlertRule.objects.filter(kind="audit_chain_failed").update(enabled=False)

    assert schedule.run_due(only="rule:audit_chain_failed") == {
        "rule:audit_chain_failed": "audit_chain_failed: disabled"
    }
    assert _alerts() == []
