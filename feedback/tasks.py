"""Celery entry points of the feedback app: take ids, call one service, decide retries."""

from celery import shared_task

from feedback.models import Message
from inference.client import EndpointError


@shared_task(
    name="feedback.answer_claims_split",
    autoretry_for=(EndpointError,),
    retry_backoff=30,
    max_retries=5,
    time_limit=300,
    acks_late=True,
    ignore_result=True,
)
def answer_claims_split(answer_id: int) -> None:
    from feedback.taskqueue.services.claims import answer_claims_split as split

    answer = Message.objects.filter(pk=answer_id).select_related("conversation__community").first()
    if answer is not None:
        split(answer=answer)


@shared_task(name="feedback.release_build", time_limit=6 * 3600, acks_late=True, ignore_result=True)
def release_build_task(release_id: int) -> None:
    from feedback.releases.services import release_build

    release_build(release_id=release_id)


@shared_task(name="feedback.releases_build_all", time_limit=600, ignore_result=True)
def releases_build_all() -> None:
    """Queue a release build of every community (the weekly schedule; builds run one by one)."""
    from community.models import Community
    from feedback.releases.services import release_build_start

    for community in Community.objects.all():
        release_build_start(actor=None, community=community)
