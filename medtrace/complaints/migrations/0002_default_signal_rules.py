"""The default complaint signal rules (issue 6 item 3): two complaints within 30 days against
one lot, and against units made with one supplier component lot. QA edits them afterwards."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

DEFAULTS = (("lot", 2, 30), ("component_lot", 2, 30))


def create_defaults(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    SignalRule = apps.get_model("complaints", "SignalRule")
    for dimension, threshold, window_days in DEFAULTS:
        if not SignalRule.objects.filter(dimension=dimension).exists():
            SignalRule.objects.create(
                dimension=dimension, threshold=threshold, window_days=window_days, active=True
            )


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_complaints_adverse_events_signals")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
