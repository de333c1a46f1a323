"""The leaderboards' entry in the database schedule (django-celery-beat), kept in step with
LEADERBOARD_REFRESH_MINUTES after every `migrate`."""

from django.conf import settings

TASK_NAME = "Recompute arena leaderboards"
TASK = "evaluation.leaderboards_refresh"


def leaderboards_schedule_ensure(**kwargs) -> None:
    """Create the periodic task, or set its interval to the setting's. Whether it is enabled is
    left to the admins (on when first created)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    minutes = max(1, settings.LEADERBOARD_REFRESH_MINUTES)
    interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period=IntervalSchedule.MINUTES)
    task, created = PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": TASK, "interval": interval, "queue": "default"}
    )
    if not created and (task.interval_id != interval.pk or task.task != TASK):
        task.interval = interval
        task.crontab = None
        task.task = TASK
        task.save(update_fields=["interval", "crontab", "task"])
