"""Celery entry points of training: take ids, call one service. Runs go to the `ml` queue
(config/settings.py routes `training.*` there); the reaper and the schedule to `default`."""

from celery import shared_task
from django.conf import settings


@shared_task(
    name="training.run_execute",
    # A long job (docs/jobs.md): acknowledged once done, given back to the queue when its worker
    # process is lost; a redelivered run that was claimed already does nothing.
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.JOB_TIME_LIMIT,
    soft_time_limit=settings.JOB_TIME_LIMIT - 60,  # a run stopped this way fails and cleans up
    ignore_result=True,
)
def run_execute_task(run_id: int) -> None:
    from training.models import Run
    from training.runs.execute import run_execute

    if Run.objects.filter(pk=run_id).exists():
        run_execute(run_id=run_id)


@shared_task(name="training.runs_reap", time_limit=300, ignore_result=True)
def runs_reap_task() -> None:
    """Fail the runs whose worker died (the schedule runs it every minute)."""
    from training.runs.services import runs_reap

    runs_reap()


@shared_task(name="training.runs_schedule", time_limit=300, ignore_result=True)
def runs_schedule_task() -> None:
    """Start the runs the communities' training policies ask for (every ten minutes)."""
    from training.runs.schedule import runs_schedule

    runs_schedule()
