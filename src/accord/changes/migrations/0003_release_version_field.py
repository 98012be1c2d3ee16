from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("changes", "0002_release_review_and_deployment_change")]

    operations = [
        migrations.RenameField("release", "version", "release_version"),
        migrations.AddField(
            model_name="release",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
    ]
