"""Snapshots, their versions, and starting and running a refresh (the parts that need no engine;
test_leaderboard_refresh.py runs the whole job with the engine)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from community.errors import NotAllowed
from community.tests.factories import CommunityFactory, UserFactory
from evaluation.leaderboards.schedule import TASK_NAME, leaderboards_schedule_ensure
from evaluation.leaderboards.services import (
    inputs_digest,
    leaderboard_may_refresh,
    leaderboards_refresh,
    leaderboards_refresh_start,
)
from evaluation.models import LeaderboardRefresh, LeaderboardSnapshot
from evaluation.tests.factories import snapshot_make

pytestmark = pytest.mark.django_db

PARAMETERS = {"rounds": 100, "seed": 0, "anchor": None, "min_battles": 20}


def test_versions_count_up_per_scope_and_old_snapshots_stay():
    community = CommunityFactory()
    first = snapshot_make()
    second = snapshot_make(digest="e" * 64)
    mine = snapshot_make(community=community)
    topic = snapshot_make(community=community, category="topic", value="Health")
    styled = snapshot_make(community=community, style_control=True)
    third = snapshot_make(digest="f" * 64)

    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert [mine.version, topic.version, styled.version] == [1, 1, 1]
    assert LeaderboardSnapshot.objects.filter(community=None, category="overall").count() == 3
    assert str(third) == "All communities, overall v3"
    assert str(topic) == f"{community.name}, topic Health v1"


def test_a_snapshot_records_its_inputs():
    community = CommunityFactory(slug="health-folk")
    snapshot = snapshot_make(community=community, category="language", value="fr", battles_counted=42)
    assert snapshot.filters["community"] == "health-folk"
    assert snapshot.filters["language"] == "fr"
    assert snapshot.filters["topic"] is None
    assert snapshot.filters["style_control"] is False
    assert any("blind" in rule for rule in snapshot.filters["rules"])
    assert (snapshot.battles_counted, snapshot.models_count, snapshot.code_version) == (42, 3, "abc1234")


def test_the_inputs_digest_changes_exactly_when_the_inputs_do():
    counts = [("alpha", "beta", "model_a", 3), ("alpha", "beta", "tie", 1)]
    same = inputs_digest(counts=list(reversed(counts)), parameters=PARAMETERS, style_control=False)
    assert inputs_digest(counts=counts, parameters=PARAMETERS, style_control=False) == same
    one_more_tie = [counts[0], ("alpha", "beta", "tie", 2)]
    assert inputs_digest(counts=one_more_tie, parameters=PARAMETERS, style_control=False) != same
    assert inputs_digest(counts=counts, parameters={**PARAMETERS, "rounds": 50}, style_control=False) != same
    assert inputs_digest(counts=counts, parameters=PARAMETERS, style_control=True) != same


@pytest.mark.parametrize(
    ("role", "community_scope", "allowed"),
    [
        ("volunteer", False, False),
        ("volunteer", True, False),
        ("researcher", True, False),
        ("moderator", False, False),
        ("moderator", True, True),
        ("admin", False, True),
        ("admin", True, True),
    ],
)
def test_who_may_recompute(role, community_scope, allowed):
    community = CommunityFactory() if community_scope else None
    user = UserFactory(role=role)
    assert leaderboard_may_refresh(user=user, community=community) is allowed
    if not allowed:
        with pytest.raises(NotAllowed):
            leaderboards_refresh_start(actor=user, community=community)
        assert not LeaderboardRefresh.objects.exists()


def test_one_refresh_at_a_time(django_capture_on_commit_callbacks):
    admin = UserFactory(role="admin")
    with django_capture_on_commit_callbacks() as callbacks:
        first = leaderboards_refresh_start(actor=admin)
        again = leaderboards_refresh_start(actor=None)
    assert again == first
    assert len(callbacks) == 1  # the task is sent once, after commit
    LeaderboardRefresh.objects.filter(pk=first.pk).update(status="succeeded")
    with django_capture_on_commit_callbacks() as callbacks:
        second = leaderboards_refresh_start(actor=admin)
    assert second != first
    assert len(callbacks) == 1


def test_a_refresh_whose_worker_died_stops_blocking_the_next():
    stuck = LeaderboardRefresh.objects.create(status="running")
    LeaderboardRefresh.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=2))
    fresh = leaderboards_refresh_start(actor=None, enqueue=False)
    assert fresh != stuck
    stuck.refresh_from_db()
    assert stuck.status == "failed"
    assert "did not finish" in stuck.error


def test_a_refresh_over_an_empty_pool_stores_nothing_and_finishes():
    refresh = leaderboards_refresh_start(actor=None, enqueue=False)
    done = leaderboards_refresh(refresh_id=refresh.pk)
    assert (done.status, done.progress, done.scopes_computed, done.scopes_unchanged) == ("succeeded", 100, 0, 0)
    assert done.started_at is not None and done.finished_at is not None
    assert not LeaderboardSnapshot.objects.exists()


def test_a_refresh_runs_once():
    refresh = leaderboards_refresh_start(actor=None, enqueue=False)
    LeaderboardRefresh.objects.filter(pk=refresh.pk).update(status="running", stage="taken by another worker")
    again = leaderboards_refresh(refresh_id=refresh.pk)
    assert (again.status, again.stage) == ("running", "taken by another worker")


def test_the_schedule_follows_the_setting(settings):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name=TASK_NAME)  # created after migrate
    assert (task.task, task.interval.every, task.interval.period, task.enabled) == (
        "evaluation.leaderboards_refresh",
        30,
        "minutes",
        True,
    )
    PeriodicTask.objects.filter(pk=task.pk).update(enabled=False)
    settings.LEADERBOARD_REFRESH_MINUTES = 5
    leaderboards_schedule_ensure()
    task.refresh_from_db()
    assert (task.interval.every, task.interval.period, task.enabled) == (5, "minutes", False)
    assert PeriodicTask.objects.filter(name=TASK_NAME).count() == 1
