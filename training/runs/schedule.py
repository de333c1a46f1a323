"""The training schedule: per community (its TrainingPolicy), start a run on a fresh release when at
least `min_new_preferences` new accepted preferences arrived since its last run, and at most once
every `interval_hours`. The beat schedule calls `runs_schedule` every ten minutes (docs/runs.md)."""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from community.models import Community
from feedback.models import Battle
from feedback.models.moderation import ModerationStatus
from training.models import Run, TrainingPolicy
from training.runs.services import run_start


def preferences_new_count(*, community: Community, since: datetime | None) -> int:
    """Voted battles with a winner (each a preference pair of the next release) in visible
    conversations of the community, voted after `since`."""
    battles = Battle.objects.filter(
        community=community,
        status=Battle.Status.VOTED,
        winner__in=[Battle.Winner.MODEL_A, Battle.Winner.MODEL_B],
        conversation__moderation_status=ModerationStatus.VISIBLE,
    )
    if since is not None:
        battles = battles.filter(voted_at__gt=since)
    return battles.count()


def training_due(*, policy: TrainingPolicy, now: datetime) -> tuple[bool, str]:
    """Whether the policy's community should train now, and why (or why not)."""
    if not policy.is_scheduled:
        return False, "The schedule is off."
    runs = Run.objects.filter(community=policy.community, kind=Run.Kind.TRAINING)
    if runs.filter(status__in=Run.IN_FLIGHT).exists():
        return False, "A run is in flight."
    last = runs.exclude(Q(status=Run.Status.CANCELLED) & Q(started_at__isnull=True)).order_by("-created_at").first()
    if last is not None and last.created_at > now - timedelta(hours=policy.interval_hours):
        return False, f"The last run started less than {policy.interval_hours} h ago."
    new = preferences_new_count(community=policy.community, since=last.created_at if last else None)
    if new < policy.min_new_preferences:
        return False, f"{new} new accepted preferences since the last run; {policy.min_new_preferences} needed."
    return True, f"{new} new accepted preferences since the last run."


def runs_schedule(*, now: datetime | None = None) -> list[Run]:
    """Start the runs that are due. The idempotency key names the community and the hour, so a
    schedule that fires twice starts one run."""
    now = now or timezone.now()
    started = []
    for policy in TrainingPolicy.objects.filter(is_scheduled=True).select_related("community"):
        due, _ = training_due(policy=policy, now=now)
        if not due:
            continue
        started.append(
            run_start(
                actor=None,
                community=policy.community,
                method=policy.method,
                fresh_release=True,
                training={"max_steps": policy.max_steps},
                idempotency_key=f"schedule-{now.strftime('%Y%m%dT%H')}",
                trigger="schedule",
            )
        )
    return started
