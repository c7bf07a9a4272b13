"""AlertRule.window is kept in seconds (``window_seconds``): the audit trail stores plain
numbers, not durations. The values move over here; 0007 drops the old column."""

from django.db import migrations, models


def copy(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    for row in AlertRule.objects.exclude(window=None):
        AlertRule.objects.filter(pk=row.pk).update(
            window_seconds=int(row.window.total_seconds())
        )


def back(apps, schema_editor):
    from datetime import timedelta

    AlertRule = apps.get_model("alerts", "AlertRule")
    for row in AlertRule.objects.exclude(window_seconds=None):
        AlertRule.objects.filter(pk=row.pk).update(window=timedelta(seconds=row.window_seconds))


class Migration(migrations.Migration):
    dependencies = [("alerts", "0005_seed_alert_rules")]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="window_seconds",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="window (seconds)"
            ),
        ),
        migrations.RunPython(copy, back),
    ]
