from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alerts", "0006_alertrule_window_seconds")]

    operations = [migrations.RemoveField(model_name="alertrule", name="window")]
