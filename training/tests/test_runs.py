"""The run lifecycle through its services and task: start (idempotent, reads a published release,
never the live pool), cancel, retry, the lease's reaper, the Celery options and the schedule.
Runs that train: test_runs_training.py."""

import importlib
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected
from community.models import Membership, User
from community.tests.factories import MembershipFactory, UserFactory
from training.models import Run, TrainingPolicy
from training.runs.execute import run_execute
from training.runs.schedule import runs_schedule, training_due
from training.runs.services import run_cancel, run_retry, run_start, run_work_folder, runs_reap
from training.tasks import run_execute_task, runs_reap_task
from training.tests.runs_setup import community_with_votes, release_published, votes_add

pytestmark = pytest.mark.django_db

DEAD_WORKER = "gpu-3:777"


@pytest.fixture(autouse=True)
def folders(tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()


@pytest.fixture
def published():
    community, owner, _ = community_with_votes(votes=3)
    return community, owner, release_published(community)


def running_run(community, *, lease_left: timedelta, worker: str = DEAD_WORKER) -> Run:
    """A run as a worker leaves it mid-training: running, its lease holding `lease_left` from now
    (negative: run out), a partial file in its work folder."""
    now = timezone.now()
    run = Run.objects.create(
        community=community,
        method="dpo",
        status=Run.Status.RUNNING,
        progress=40,
        stage="Training: step 20 of 50",
        started_at=now - timedelta(minutes=20),
        worker=worker,
        lease_token=uuid.uuid4().hex,
        heartbeat_at=now - timedelta(minutes=3),
        lease_expires_at=now + lease_left,
    )
    work = run_work_folder(run)
    work.mkdir(parents=True)
    (work / "partial.safetensors").write_bytes(b"half")
    return run


def test_a_start_records_its_inputs_and_queues_one_task(published, django_capture_on_commit_callbacks):
    community, owner, release = published
    with django_capture_on_commit_callbacks() as callbacks:
        run = run_start(actor=owner, community=community, method="dpo", seed=7, training={"max_steps": 3})
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert (run.kind, run.method, run.status, run.seed, run.created_by) == ("training", "dpo", "queued", 7, owner)
    assert run.release == release
    assert run.release_merkle_root == release.merkle_root
    assert len(release.merkle_root) == 64
    assert run.config == {
        "method": "dpo",
        "base_model": str(settings.TRAINING_BASE_MODEL),
        "training": {"max_steps": 3},
        "selection": {},
    }
    assert run.code_version not in ("", "unknown")


def test_the_same_idempotency_key_returns_the_first_run_and_queues_nothing(
    published, django_capture_on_commit_callbacks
):
    community, owner, _ = published
    first = run_start(actor=owner, community=community, method="sft", idempotency_key="click-1")
    with django_capture_on_commit_callbacks() as callbacks:
        again = run_start(actor=owner, community=community, method="dpo", idempotency_key="click-1")
    assert again.pk == first.pk
    assert again.method == "sft"
    assert callbacks == []
    assert Run.objects.count() == 1


def test_a_run_reads_the_newest_published_release_or_the_version_asked(published):
    community, owner, first = published
    judge = Membership.objects.filter(community=community, role=Membership.Role.MEMBER).first().user
    votes_add(community=community, judge=judge, votes=1, start=50)
    second = release_published(community)
    assert run_start(actor=owner, community=community, method="dpo").release == second
    assert run_start(actor=owner, community=community, method="dpo", release_version=1).release == first
    with pytest.raises(RequestRejected, match=r"has no published release v9\."):
        run_start(actor=owner, community=community, method="dpo", release_version=9)


def test_a_community_without_a_published_release_is_refused_and_nothing_is_recorded():
    community, owner, _ = community_with_votes(votes=1)
    with pytest.raises(RequestRejected) as refused:
        run_start(actor=owner, community=community, method="dpo")
    assert refused.value.message == (
        f"{community.slug} has no published release yet: publish one, or train on a fresh one."
    )
    assert Run.objects.count() == 0
    fresh = run_start(actor=owner, community=community, method="dpo", fresh_release=True)
    assert (fresh.release, fresh.fresh_release, fresh.release_merkle_root) == (None, True, "")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"method": "kto"}, "Unknown training method 'kto': use one of reward, dpo, sft."),
        ({"seed": -1}, "The seed is a whole number from 0 to 2^32 - 1."),
        ({"seed": True}, "The seed is a whole number from 0 to 2^32 - 1."),
        ({"training": {"max_steps": 0}}, "max_steps is from 1 to 100000."),
        ({"training": {"max_steps": 2.5}}, "max_steps must be a whole number."),
        ({"training": {"epochs": 2}}, "Unknown training option 'epochs'."),
        ({"training": {"lora": "yes"}}, "lora is true or false."),
        ({"selection": {"colour": "red"}}, "Unknown selection settings: colour."),
        ({"base_model": "../etc"}, "The base model is a folder name in the models directory."),
        ({"release_version": 1, "fresh_release": True}, "Choose a release or a fresh release, not both."),
        ({"idempotency_key": "k" * 101}, "The idempotency key is a string of at most 100 characters."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_records_nothing(published, fields, message):
    community, owner, _ = published
    start = {"method": "dpo"} | fields
    with pytest.raises(RequestRejected) as refused:
        run_start(actor=owner, community=community, **start)
    assert refused.value.message == message
    assert refused.value.status_code == 400
    assert Run.objects.count() == 0


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("volunteer", False),
        ("researcher", False),
        ("platform moderator", False),
        ("community moderator", False),
        ("owner", True),
        ("community admin", True),
        ("platform admin", True),
    ],
)
def test_only_the_owner_and_admins_start_cancel_and_retry(published, who, allowed):
    community, owner, _ = published
    actor = {
        "volunteer": lambda: MembershipFactory(community=community).user,
        "researcher": lambda: UserFactory(role=User.Role.RESEARCHER),
        "platform moderator": lambda: UserFactory(role=User.Role.MODERATOR),
        "community moderator": lambda: MembershipFactory(community=community, role=Membership.Role.MODERATOR).user,
        "owner": lambda: owner,
        "community admin": lambda: MembershipFactory(community=community, role=Membership.Role.ADMIN).user,
        "platform admin": lambda: UserFactory(role=User.Role.ADMIN),
    }[who]()
    queued = run_start(actor=owner, community=community, method="dpo")
    failed = Run.objects.create(community=community, method="dpo", status=Run.Status.FAILED, error="boom")
    if allowed:
        assert run_start(actor=actor, community=community, method="sft").status == "queued"
        assert run_cancel(actor=actor, run_id=queued.pk).status == "cancelled"
        assert run_retry(actor=actor, run_id=failed.pk).retry_of == failed
        return
    runs = Run.objects.count()
    with pytest.raises(NotAllowed):
        run_start(actor=actor, community=community, method="sft")
    with pytest.raises(NotAllowed):
        run_cancel(actor=actor, run_id=queued.pk)
    with pytest.raises(NotAllowed):
        run_retry(actor=actor, run_id=failed.pk)
    assert Run.objects.count() == runs
    queued.refresh_from_db()
    assert (queued.status, queued.cancel_requested_at) == ("queued", None)


def test_cancelling_a_queued_run_ends_it_and_its_task_then_does_nothing(published):
    community, owner, _ = published
    run = run_start(actor=owner, community=community, method="dpo")
    cancelled = run_cancel(actor=owner, run_id=run.pk)
    assert (cancelled.status, cancelled.stage) == ("cancelled", "Cancelled")
    assert cancelled.error == f"Cancelled by {owner.email} before it started."
    assert cancelled.finished_at is not None
    run_execute_task.run(run.pk)  # the message still in the queue
    run.refresh_from_db()
    assert (run.status, run.started_at, run.worker) == ("cancelled", None, "")
    assert not run_work_folder(run).exists()
    with pytest.raises(Conflict, match=r"^The run has ended \(cancelled\); there is nothing to cancel\.$"):
        run_cancel(actor=owner, run_id=run.pk)


def test_cancelling_a_running_run_asks_its_worker_to_stop(published):
    community, owner, _ = published
    run = running_run(community, lease_left=timedelta(minutes=2))
    asked = run_cancel(actor=owner, run_id=run.pk)
    assert asked.status == "running"
    assert asked.cancel_requested_at is not None
    assert asked.error == f"Cancelled by {owner.email}."
    first_request = asked.cancel_requested_at
    assert run_cancel(actor=owner, run_id=run.pk).cancel_requested_at == first_request


def test_a_retry_is_a_new_run_with_the_same_inputs_once(published):
    community, owner, release = published
    run = run_start(
        actor=owner,
        community=community,
        method="reward",
        seed=3,
        training={"max_steps": 4, "lora": True},
        selection={"min_chars": 5},
    )
    with pytest.raises(Conflict, match=r"^Only a failed or cancelled run can be retried\.$"):
        run_retry(actor=owner, run_id=run.pk)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED, error="The worker died.")
    retry = run_retry(actor=owner, run_id=run.pk)
    assert retry.pk != run.pk
    assert (retry.retry_of, retry.status, retry.release, retry.seed, retry.method) == (
        run,
        "queued",
        release,
        3,
        "reward",
    )
    assert retry.config == run.config
    assert run_retry(actor=owner, run_id=run.pk).pk == retry.pk


def test_a_dead_workers_run_is_failed_with_the_reason_and_its_files_removed_on_start(published):
    community, owner, _ = published
    dead = running_run(community, lease_left=timedelta(seconds=-1))
    live = running_run(community, lease_left=timedelta(minutes=2), worker="gpu-4:1")
    run_start(actor=owner, community=community, method="dpo")
    dead.refresh_from_db()
    live.refresh_from_db()
    answered = dead.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert dead.status == "failed"
    assert dead.error == f"The worker {DEAD_WORKER} stopped answering at {answered}; its lease ran out."
    assert dead.finished_at is not None
    assert not run_work_folder(dead).exists()
    assert live.status == "running"
    assert live.error == ""
    assert (run_work_folder(live) / "partial.safetensors").read_bytes() == b"half"
    retry = run_retry(actor=owner, run_id=dead.pk)
    assert retry.status == "queued"


def test_the_scheduled_reaper_fails_dead_runs_and_leaves_a_half_moved_model_folder_nowhere(published):
    community, _, _ = published
    dead = running_run(community, lease_left=timedelta(seconds=-5))
    half_registered = Path(settings.MODELS_DIR) / f"{community.slug}-dpo-run{dead.pk}"
    half_registered.mkdir()
    (half_registered / "config.json").write_text("{}")
    runs_reap_task.run()
    dead.refresh_from_db()
    assert dead.status == "failed"
    assert not half_registered.exists()
    assert not run_work_folder(dead).exists()
    assert runs_reap() == []


def test_a_redelivered_task_of_a_claimed_run_writes_nothing(published):
    community, _, _ = published
    run = running_run(community, lease_left=timedelta(minutes=2))
    before = Run.objects.filter(pk=run.pk).values().get()
    assert run_execute(run_id=run.pk).pk == run.pk
    assert Run.objects.filter(pk=run.pk).values().get() == before
    assert (run_work_folder(run) / "partial.safetensors").read_bytes() == b"half"


def test_runs_are_long_ml_tasks_acked_late_and_time_limited_and_the_reaper_is_light():
    from celery import current_app

    assert run_execute_task.acks_late is True
    assert run_execute_task.reject_on_worker_lost is True
    assert run_execute_task.time_limit == settings.JOB_TIME_LIMIT
    assert run_execute_task.soft_time_limit == settings.JOB_TIME_LIMIT - 60
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    router = current_app.amqp.router
    assert router.route({}, "training.run_execute")["queue"].name == "ml"
    assert router.route({}, "training.runs_reap")["queue"].name == "default"
    assert router.route({}, "training.runs_schedule")["queue"].name == "default"


def test_the_reaper_and_the_training_schedule_are_on_the_beat_schedule():
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("training.migrations.0002_schedule_runs_reap_and_training")
    from django.apps import apps

    migration.schedule_add(apps, None)  # idempotent; transactional tests empty the table
    reap = PeriodicTask.objects.get(task="training.runs_reap")
    schedule = PeriodicTask.objects.get(task="training.runs_schedule")
    assert (reap.enabled, reap.interval.every, reap.interval.period) == (True, 60, "seconds")
    assert (schedule.enabled, schedule.interval.every, schedule.interval.period) == (True, 600, "seconds")


def test_the_schedule_trains_after_enough_new_preferences_and_at_most_every_interval(
    django_capture_on_commit_callbacks,
):
    community, _, _ = community_with_votes(votes=3)
    policy = TrainingPolicy.objects.create(community=community, is_scheduled=True, min_new_preferences=3)
    now = timezone.now()
    assert training_due(policy=policy, now=now) == (True, "3 new accepted preferences since the last run.")
    with django_capture_on_commit_callbacks() as callbacks:
        first = runs_schedule(now=now)
        again = runs_schedule(now=now)
    assert len(first) == 1
    assert again == []  # a run in flight
    assert len(callbacks) == 1
    run = first[0]
    assert (run.trigger, run.fresh_release, run.method, run.config["training"]) == (
        "schedule",
        True,
        "dpo",
        {"max_steps": 50},
    )
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)
    assert training_due(policy=policy, now=now) == (False, "The last run started less than 24 h ago.")
    later = now + timedelta(hours=25)
    assert training_due(policy=policy, now=later) == (
        False,
        "0 new accepted preferences since the last run; 3 needed.",
    )
    judge = Membership.objects.filter(community=community, role=Membership.Role.MEMBER).first().user
    votes_add(community=community, judge=judge, votes=3, start=10)
    assert training_due(policy=policy, now=later) == (True, "3 new accepted preferences since the last run.")
    policy.is_scheduled = False
    policy.save()
    assert runs_schedule(now=later) == []
