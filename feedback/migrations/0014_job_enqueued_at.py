from django.db import migrations, models
from django.db.models import F


def queued_builds_sent_when_created(apps, schema_editor):
    """A build queued before this migration was sent when it was created."""
    Release = apps.get_model("feedback", "Release")
    Release.objects.filter(status="queued").update(enqueued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0013_release_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="release",
            name="enqueued_at",
            field=models.DateTimeField(
                blank=True, help_text="When its task was last sent to the queue (while it is queued).", null=True
            ),
        ),
        migrations.RunPython(queued_builds_sent_when_created, migrations.RunPython.noop),
    ]
