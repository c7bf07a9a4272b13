"""One AlertRule per kind, with the defaults of ``alerts.rules.SPECS`` (copied: a migration
must not change when the code does)."""

from datetime import timedelta
from decimal import Decimal

from django.db import migrations

DEFAULTS = [
    # kind, severity, threshold, window, params, recipient role, e-mail
    ("qc_failure", "critical", None, None, {"hold": True}, "qc", True),
    (
        "complaint_cluster",
        "warning",
        Decimal(3),
        timedelta(days=30),
        {"dimensions": ["lot", "component_lot"]},
        "qa_ra",
        True,
    ),
    ("expiry_stock", "warning", Decimal(90), None, {}, "warehouse", False),
    ("expiry_installed", "warning", Decimal(90), None, {}, "service", False),
    ("maintenance_due", "warning", Decimal(14), None, {"overdue": True}, "service", False),
    (
        "recall_unacknowledged",
        "critical",
        Decimal(0),
        None,
        {"escalation": ["qa_ra", "admin"], "repeat_hours": 24},
        "qa_ra",
        True,
    ),
    (
        "yield_out_of_control",
        "warning",
        Decimal(3),
        None,
        {"lots": 20, "min_lots": 5},
        "production",
        False,
    ),
    ("audit_chain_failed", "critical", None, None, {}, "qa_ra", True),
    ("duplicate_scan", "critical", Decimal(10), None, {}, "qa_ra", True),
]


def seed(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    for kind, severity, threshold, window, params, role, email in DEFAULTS:
        AlertRule.objects.get_or_create(
            kind=kind,
            defaults={
                "severity": severity,
                "threshold": threshold,
                "window": window,
                "params": params,
                "recipient_role": role,
                "email": email,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0004_alert_rules_and_lifecycle")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
