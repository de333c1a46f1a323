"""The schedule of training (docs/runs.md): every minute, fail the runs whose worker died; every ten
minutes, start the runs each community's training policy asks for."""

from django.db import migrations

REAP_NAME = "Fail training runs whose worker died (every minute)"
SCHEDULE_NAME = "Start the training runs community policies ask for (every ten minutes)"


def schedule_add(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    every_ten_minutes, _ = IntervalSchedule.objects.get_or_create(every=600, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=REAP_NAME, defaults={"task": "training.runs_reap", "interval": every_minute, "enabled": True}
    )
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={"task": "training.runs_schedule", "interval": every_ten_minutes, "enabled": True},
    )


def schedule_remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[REAP_NAME, SCHEDULE_NAME]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0001_runs_registry_policy"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_add, schedule_remove)]
