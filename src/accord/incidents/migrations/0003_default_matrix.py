"""The default priority matrix (ITIL 3x3, P1-P5) and desk settings."""

from django.db import migrations

DEFAULT = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}


def forwards(apps, schema_editor):
    PriorityRule = apps.get_model("incidents", "PriorityRule")
    DeskSettings = apps.get_model("incidents", "DeskSettings")
    for (impact, urgency), priority in DEFAULT.items():
        PriorityRule.objects.get_or_create(
            impact=impact, urgency=urgency, defaults={"priority": priority}
        )
    if not DeskSettings.objects.exists():
        DeskSettings.objects.create(auto_close_days=5)


def backwards(apps, schema_editor):
    apps.get_model("incidents", "PriorityRule").objects.all().delete()
    apps.get_model("incidents", "DeskSettings").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
