"""Writes for arena leaderboards: start a refresh, run it (in Celery), store a snapshot.

A refresh counts every counted battle once in the database (one GROUP BY), derives the counts
of every leaderboard from it, and fits only the leaderboards whose inputs changed since their
latest snapshot: the digest of their counts and of the fit's parameters is compared, so a
refresh over an unchanged pool writes nothing and publishes nothing.
"""

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from community.errors import NotAllowed
from community.models import Community, User
from evaluation.leaderboards import counting
from evaluation.leaderboards.scopes import Scope, scope_from_key
from evaluation.models import LeaderboardCategory, LeaderboardRefresh, LeaderboardSnapshot

logger = logging.getLogger(__name__)

REFRESH_TIME_LIMIT_SECONDS = 1800


def leaderboard_may_refresh(*, user: User, community: Community | None) -> bool:
    """Admins recompute from any leaderboard page; moderators (who stand for community owners,
    as for releases) from a community's."""
    if not user.is_authenticated:
        return False
    return user.is_platform_admin or (community is not None and user.is_moderator)


def fit_parameters():
    """The fit's parameters from the settings (the engine is imported only when computing)."""
    from evaluation.leaderboards.snapshots import FitParameters, engine_min_battles

    return FitParameters(
        rounds=settings.LEADERBOARD_BOOTSTRAP_ROUNDS,
        seed=settings.LEADERBOARD_SEED,
        anchor=settings.LEADERBOARD_ANCHOR,
        min_battles=settings.LEADERBOARD_MIN_BATTLES or engine_min_battles(),
    )


def inputs_digest(*, counts: list[tuple[str, str, str, int]], parameters: dict[str, Any], style_control: bool) -> str:
    """SHA-256 over the sorted counts, the fit's parameters and the mode."""
    payload = {"counts": sorted(counts), "parameters": parameters, "style_control": style_control}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _code_version() -> str:
    from feedback.releases.services import _code_version as release_code_version

    return release_code_version()


def leaderboards_refresh_start(
    *, actor: User | None, community: Community | None = None, enqueue: bool = True
) -> LeaderboardRefresh:
    """Queue a recomputation of every leaderboard. While one is queued or running, that one is
    returned (one at a time). `actor` None is the schedule; `community` is only where the
    request came from (for the permission check): a refresh always covers every leaderboard."""
    if actor is not None and not leaderboard_may_refresh(user=actor, community=community):
        raise NotAllowed("Only admins (and moderators, for a community's leaderboard) recompute leaderboards.")
    _stale_refreshes_fail()
    in_flight = LeaderboardRefresh.objects.filter(
        status__in=[LeaderboardRefresh.Status.QUEUED, LeaderboardRefresh.Status.RUNNING]
    )
    try:
        with transaction.atomic():
            existing = in_flight.first()
            if existing is not None:
                return existing
            refresh = LeaderboardRefresh.objects.create(requested_by=actor)
            if enqueue:
                from evaluation.tasks import leaderboards_refresh as task

                transaction.on_commit(lambda: task.delay(refresh.pk))
            return refresh
    except IntegrityError:  # a concurrent start won the race
        return in_flight.get()


def _stale_refreshes_fail() -> None:
    """A run whose worker died never finishes: past the task's time limit it is marked failed,
    so it no longer blocks the next one."""
    cutoff = timezone.now() - timedelta(seconds=2 * REFRESH_TIME_LIMIT_SECONDS)
    LeaderboardRefresh.objects.filter(
        status__in=[LeaderboardRefresh.Status.QUEUED, LeaderboardRefresh.Status.RUNNING], created_at__lt=cutoff
    ).update(status=LeaderboardRefresh.Status.FAILED, error="Stopped: the worker did not finish it in time.")


def _progress(refresh: LeaderboardRefresh, progress: int, stage: str) -> None:
    LeaderboardRefresh.objects.filter(pk=refresh.pk).update(progress=progress, stage=stage[:200])


def leaderboards_refresh(*, refresh_id: int) -> LeaderboardRefresh:
    """Run a queued refresh. Idempotent: a refresh another worker took, or one that finished,
    is returned as it is."""
    claimed = LeaderboardRefresh.objects.filter(pk=refresh_id, status=LeaderboardRefresh.Status.QUEUED).update(
        status=LeaderboardRefresh.Status.RUNNING, started_at=timezone.now(), stage="Counting battles"
    )
    refresh = LeaderboardRefresh.objects.get(pk=refresh_id)
    if not claimed:
        return refresh
    try:
        computed, unchanged = _scopes_recompute(refresh)
    except Exception as error:
        logger.exception("Leaderboard refresh %s failed", refresh.pk)
        LeaderboardRefresh.objects.filter(pk=refresh.pk).update(
            status=LeaderboardRefresh.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    LeaderboardRefresh.objects.filter(pk=refresh.pk).update(
        status=LeaderboardRefresh.Status.SUCCEEDED,
        progress=100,
        stage=f"Done: {computed} new snapshot{'s' if computed != 1 else ''}, {unchanged} unchanged",
        scopes_computed=computed,
        scopes_unchanged=unchanged,
        finished_at=timezone.now(),
    )
    refresh.refresh_from_db()
    return refresh


def _scopes_recompute(refresh: LeaderboardRefresh) -> tuple[int, int]:
    scopes = counting.scope_counts(
        counting.count_rows(), min_category_battles=settings.LEADERBOARD_MIN_CATEGORY_BATTLES
    )
    if not scopes:
        return 0, 0
    from evaluation.leaderboards.snapshots import leaderboard_compute, style_leaderboard_compute

    parameters = fit_parameters()
    communities = Community.objects.in_bulk([key.community_id for key in scopes if key.community_id is not None])
    modes = [False, True] if settings.LEADERBOARD_STYLE_CONTROL else [False]
    jobs = [(key, style) for key in scopes for style in modes]
    code_version = _code_version()
    computed = unchanged = 0
    skipped: list[str] = []
    for done, (key, style_control) in enumerate(jobs):
        community = communities.get(key.community_id) if key.community_id is not None else None
        scope = scope_from_key(key, style_control=style_control, community=community)
        counts = scopes[key]
        digest = inputs_digest(counts=counts, parameters=parameters.as_dict(), style_control=style_control)
        latest = LeaderboardSnapshot.objects.filter(**scope.snapshot_filter()).order_by("-version").first()
        if latest is not None and latest.inputs_digest == digest:
            unchanged += 1
            continue
        _progress(refresh, 5 + 90 * done // len(jobs), f"Fitting {_scope_words(scope)}")
        try:
            if style_control:
                models = {row[0] for row in counts} | {row[1] for row in counts}
                texts = counting.battle_texts(counting.scope_battles(key))
                data = style_leaderboard_compute(texts, models=models, parameters=parameters)
            else:
                data = leaderboard_compute(counts, parameters=parameters)
        except Exception as error:  # one leaderboard the engine cannot fit must not stop the others
            logger.exception("Could not fit %s", _scope_words(scope))
            skipped.append(_skipped_entry(scope, error))
            LeaderboardRefresh.objects.filter(pk=refresh.pk).update(skipped=skipped)
            continue
        leaderboard_snapshot_store(
            scope=scope,
            data=data,
            battles_counted=sum(row[3] for row in counts),
            inputs_digest=digest,
            parameters=parameters.as_dict(),
            code_version=code_version,
            refresh=refresh,
        )
        computed += 1
        if community is not None and key.category == LeaderboardCategory.OVERALL and not style_control:
            _judge_outliers_refresh(community, data)
    return computed, unchanged


def _judge_outliers_refresh(community: Community, data: dict[str, Any]) -> None:
    """Hand a community's new overall ratings to moderation, which scores how unlikely each
    judge's votes are under them (the outlier score of contributor trust, docs/moderation.md).
    Moderation lives in `feedback` and may not import the engine, so the ratings travel."""
    from feedback.tasks import moderation_trust_refresh_task

    ratings = {row["model"]: row["rating"] for row in data["ratings"]}
    transaction.on_commit(lambda: moderation_trust_refresh_task.delay(community.pk, ratings))


def _skipped_entry(scope: Scope, error: Exception) -> dict[str, Any]:
    """What a refresh records of a leaderboard it could not fit: the scope (so its page can say
    why it has no new snapshot), the scope in words and the engine's reason."""
    return {
        "community_id": scope.community.pk if scope.community else None,
        "category": scope.category,
        "value": scope.value,
        "style_control": scope.style_control,
        "label": _scope_words(scope),
        "reason": str(error)[:500],
    }


def _scope_words(scope: Scope) -> str:
    where = scope.community.name if scope.community else "all communities"
    return f"{where}, {scope.category_label.lower()}{' (style control)' if scope.style_control else ''}"


def snapshot_filters(scope: Scope) -> dict[str, Any]:
    """What a snapshot records about which battles it counted."""
    return {
        "community": scope.community.slug if scope.community else None,
        "topic": scope.value if scope.category == "topic" else None,
        "language": scope.value if scope.category == "language" else None,
        "style_control": scope.style_control,
        "rules": counting.COUNTING_RULES,
    }


def leaderboard_snapshot_store(
    *,
    scope: Scope,
    data: dict[str, Any],
    battles_counted: int,
    inputs_digest: str,
    parameters: dict[str, Any],
    code_version: str,
    refresh: LeaderboardRefresh | None = None,
) -> LeaderboardSnapshot:
    """Store the next version of a scope's leaderboard; pages showing it update after commit."""
    for _ in range(3):
        try:
            with transaction.atomic():
                last = LeaderboardSnapshot.objects.filter(**scope.snapshot_filter()).aggregate(last=Max("version"))
                snapshot = LeaderboardSnapshot.objects.create(
                    **scope.snapshot_filter(),
                    version=(last["last"] or 0) + 1,
                    battles_counted=battles_counted,
                    models_count=len(data.get("models", [])),
                    inputs_digest=inputs_digest,
                    filters=snapshot_filters(scope),
                    parameters=parameters,
                    code_version=code_version,
                    data=data,
                    refresh=refresh,
                )
                transaction.on_commit(lambda snapshot_id=snapshot.pk: _snapshot_announce(snapshot_id))
                return snapshot
        except IntegrityError:  # another writer took this version number: take the next one
            continue
    raise IntegrityError("Could not store the snapshot: its version number kept being taken.")


def _snapshot_announce(snapshot_id: int) -> None:
    from evaluation.leaderboards.live import snapshot_broadcast

    try:
        snapshot_broadcast(snapshot_id=snapshot_id)
    except Exception:  # a page that misses an update still shows the new snapshot on its next load
        logger.exception("Could not announce leaderboard snapshot %s", snapshot_id)


def fit_parameters_described(*, community: Community | None) -> dict[str, Any]:
    """The parameters behind the community's (or the all-communities) overall leaderboard: those
    its latest snapshot was computed with, or, before the first one, today's settings."""
    latest = (
        LeaderboardSnapshot.objects.filter(community=community, category="overall", style_control=False)
        .only("parameters")
        .order_by("-version")
        .first()
    )
    parameters = latest.parameters if latest is not None else fit_parameters().as_dict()
    return {
        "rounds": parameters.get("rounds"),
        "seed": parameters.get("seed"),
        "anchor": parameters.get("anchor"),
        "min_battles": parameters.get("min_battles"),
        "min_category_battles": settings.LEADERBOARD_MIN_CATEGORY_BATTLES,
        "refresh_minutes": settings.LEADERBOARD_REFRESH_MINUTES,
        "style_control_computed": settings.LEADERBOARD_STYLE_CONTROL,
    }
