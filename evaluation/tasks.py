"""Celery entry points of the evaluation app: take ids, call one service, decide retries."""

from celery import shared_task

from evaluation.leaderboards.services import REFRESH_TIME_LIMIT_SECONDS


@shared_task(name="evaluation.leaderboards_refresh", time_limit=REFRESH_TIME_LIMIT_SECONDS, ignore_result=True)
def leaderboards_refresh(refresh_id: int | None = None) -> None:
    """Recompute every arena leaderboard whose counts changed. Beat calls it without an id
    (every LEADERBOARD_REFRESH_MINUTES); "Recompute now" queues a refresh and passes its id.
    Only one refresh runs at a time: a second start joins the one in flight."""
    from evaluation.leaderboards.services import leaderboards_refresh as refresh_run
    from evaluation.leaderboards.services import leaderboards_refresh_start

    if refresh_id is None:
        refresh_id = leaderboards_refresh_start(actor=None, enqueue=False).pk
    refresh_run(refresh_id=refresh_id)
