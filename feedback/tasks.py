"""Celery entry points of the feedback app: take ids, call one service, decide retries."""

from celery import shared_task
from django.conf import settings

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


@shared_task(
    name="feedback.release_build",
    # A long job (docs/jobs.md): acknowledged once done, given back to the queue when its worker
    # process is lost; a redelivered build of a release already claimed does nothing.
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.JOB_TIME_LIMIT,
    soft_time_limit=settings.JOB_TIME_LIMIT - 60,  # a build stopped this way fails and cleans up
    ignore_result=True,
)
def release_build_task(release_id: int) -> None:
    from feedback.models import Release
    from feedback.releases.services import release_build

    if Release.objects.filter(pk=release_id).exists():
        release_build(release_id=release_id)


@shared_task(name="feedback.release_builds_reap", time_limit=300, ignore_result=True)
def release_builds_reap_task() -> None:
    """Fail the builds whose worker died (the schedule runs it every minute)."""
    from feedback.releases.services import release_builds_reap

    release_builds_reap()


@shared_task(name="feedback.releases_build_all", time_limit=600, ignore_result=True)
def releases_build_all() -> None:
    """Queue a release build of every community (the weekly schedule; builds run one by one)."""
    from community.models import Community
    from feedback.releases.services import release_build_start

    for community in Community.objects.all():
        release_build_start(actor=None, community=community)


@shared_task(name="feedback.moderation_trust_refresh_all", time_limit=600, ignore_result=True)
def moderation_trust_refresh_all() -> None:
    """Queue a trust refresh of every community (the daily schedule): gold accuracy and
    agreement with consensus move with every review, not only when the arena ratings change
    (each new community leaderboard snapshot also sends its ratings, for the outlier scores)."""
    from community.models import Community

    for community_id in Community.objects.values_list("pk", flat=True):
        moderation_trust_refresh_task.delay(community_id)


@shared_task(name="feedback.moderation_gates_recompute", time_limit=3600, acks_late=True, ignore_result=True)
def moderation_gates_recompute_task(community_id: int | None = None) -> None:
    """Recompute the stored quality gates of one community (or all), e.g. after a policy change."""
    from community.models import Community
    from feedback.moderation.gates import review_gates_recompute

    community = Community.objects.filter(pk=community_id).first() if community_id is not None else None
    if community_id is None or community is not None:
        review_gates_recompute(community=community)


@shared_task(name="feedback.moderation_trust_refresh", time_limit=3600, acks_late=True, ignore_result=True)
def moderation_trust_refresh_task(community_id: int, ratings: dict[str, float] | None = None) -> None:
    """Refresh a community's trust scores; `ratings` ({model name: rating}) adds outlier scores."""
    from community.models import Community
    from feedback.moderation.trust_jobs import trust_scores_refresh

    community = Community.objects.filter(pk=community_id).first()
    if community is not None:
        trust_scores_refresh(community=community, ratings=ratings)


from feedback.moderation.scan import moderation_scan  # noqa: E402, F401  (registers the task with the worker)
