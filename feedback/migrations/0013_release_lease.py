"""A release build holds a lease on its row while its worker builds (feedback/jobs/lease.py), and
the schedule fails every minute the builds whose worker died (on)."""

from django.db import migrations, models
from django.utils import timezone

TASK_NAME = "Fail release builds whose worker died (every minute)"


def builds_in_flight_lapse(apps, schema_editor):
    """Builds left building by a worker from before leases never renew one: their lease has run
    out now, so the next reaping fails them (a live one finishes on its own worker regardless)."""
    Release = apps.get_model("feedback", "Release")
    for release in Release.objects.filter(status="building"):
        release.heartbeat_at = release.started_at
        release.lease_expires_at = timezone.now()
        release.save(update_fields=["heartbeat_at", "lease_expires_at"])


def schedule_add(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={"task": "feedback.release_builds_reap", "interval": every_minute, "enabled": True},
    )


def schedule_remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0012_text_key_sha256"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="release",
            name="worker",
            field=models.CharField(blank=True, help_text="host:pid of the worker that runs it.", max_length=300),
        ),
        migrations.AddField(
            model_name="release",
            name="lease_token",
            field=models.CharField(blank=True, help_text="The attempt that holds the lease.", max_length=32),
        ),
        migrations.AddField(
            model_name="release",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, help_text="When its worker last answered.", null=True),
        ),
        migrations.AddField(
            model_name="release",
            name="lease_expires_at",
            field=models.DateTimeField(
                blank=True, help_text="Running and past this time: its worker is dead.", null=True
            ),
        ),
        migrations.RunPython(builds_in_flight_lapse, migrations.RunPython.noop),
        migrations.RunPython(schedule_add, schedule_remove),
    ]
