"""The lease of a long job (feedback/jobs/lease.py) on release builds: held while building, a dead
worker's build failed with the reason and its files removed, claimed once, never resurrected.
The real worker killed mid-build: tests/test_dead_worker.py."""

import importlib
import os
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from community.tests.factories import CommunityFactory, UserFactory
from feedback.jobs.lease import LEASE_FIELDS, LeaseLost, lease_end, lease_grant, lease_kept, lease_renew, leases_reap
from feedback.models import Release
from feedback.releases.services import release_build, release_build_start, release_builds_reap
from feedback.tasks import release_build_task, release_builds_reap_task

pytestmark = pytest.mark.django_db

DEAD_WORKER = "node-7:4242"


@pytest.fixture(autouse=True)
def releases_dir(tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    return settings.RELEASES_DIR


def build_in_flight(community, *, lease_left: timedelta, worker: str = DEAD_WORKER) -> Release:
    """A build as a worker leaves it in its first stage: building, its lease renewed ten minutes
    after it started and holding `lease_left` from now (negative: run out), a partial file on disk."""
    now = timezone.now()
    version = Release.objects.filter(community=community).count() + 1
    release = Release.objects.create(
        community=community,
        version=version,
        status="building",
        progress=5,
        stage="Writing arena battles",
        started_at=now - timedelta(minutes=20),
        worker=worker,
        lease_token=uuid.uuid4().hex,
        heartbeat_at=now - timedelta(minutes=10),
        lease_expires_at=now + lease_left,
    )
    work = Path(settings.RELEASES_DIR) / f".{release.name}.building"
    work.mkdir(parents=True)
    (work / "battles.jsonl").write_text('{"id": "battle-1"}\n')
    return release


def reason_of(release: Release) -> str:
    return (
        f"The worker {DEAD_WORKER} stopped answering at "
        f"{release.heartbeat_at.strftime('%Y-%m-%d %H:%M:%S UTC')}; its lease ran out."
    )


def test_a_build_holds_the_lease_of_its_process_and_ends_it_when_built(releases_dir):
    community = CommunityFactory()
    queued = release_build_start(actor=UserFactory(role="admin"), community=community)
    assert (queued.worker, queued.lease_token, queued.heartbeat_at, queued.lease_expires_at) == ("", "", None, None)
    built = release_build(release_id=queued.pk)
    assert (built.status, built.progress, built.worker) == ("ready", 100, f"{socket.gethostname()}:{os.getpid()}")
    assert len(built.lease_token) == 32 and built.lease_expires_at is None  # the lease ended with the build
    assert built.started_at <= built.finished_at <= built.heartbeat_at  # renewed up to its last write
    assert sorted(path.name for path in Path(releases_dir).iterdir()) == [built.name]


def test_a_start_fails_the_build_of_a_dead_worker_removes_its_files_and_queues_a_new_one(releases_dir):
    community = CommunityFactory()
    dead = build_in_flight(community, lease_left=timedelta(minutes=-8))
    new = release_build_start(actor=UserFactory(role="admin"), community=community)
    assert (new.pk != dead.pk, new.version, new.status) == (True, 2, "queued")
    failed = Release.objects.get(pk=dead.pk)
    assert (failed.status, failed.error, failed.progress, failed.lease_expires_at) == (
        "failed",
        reason_of(dead),
        5,
        None,
    )
    assert failed.finished_at is not None
    assert list(Path(releases_dir).iterdir()) == []


def test_the_progress_the_page_polls_turns_into_the_reason_once_the_build_is_reaped(client):
    from django.utils.html import escape

    dead = build_in_flight(CommunityFactory(), lease_left=timedelta(seconds=-1))
    client.force_login(UserFactory(role="admin"))
    url = f"/releases/{dead.pk}/?part=progress"
    polling = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Building: Writing arena battles" in polling and "hx-trigger" in polling
    release_builds_reap_task()
    shown = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert f"The build failed: {escape(reason_of(dead))}" in shown and "hx-trigger" not in shown


def test_a_live_lease_is_left_alone_and_a_start_returns_that_build(releases_dir):
    community = CommunityFactory()
    live = build_in_flight(community, lease_left=timedelta(seconds=90), worker="node-8:77")
    assert release_builds_reap() == []
    again = release_build_start(actor=UserFactory(role="admin"), community=community)
    assert again.pk == live.pk
    row = Release.objects.get(pk=live.pk)
    assert (row.status, row.error, row.worker, row.lease_expires_at) == (
        "building",
        "",
        "node-8:77",
        live.lease_expires_at,
    )
    assert [path.name for path in Path(releases_dir).iterdir()] == [f".{live.name}.building"]
    assert Release.objects.count() == 1


def test_the_scheduled_reaper_fails_the_dead_builds_of_every_community(releases_dir):
    first, second, third = CommunityFactory.create_batch(3)
    dead = [build_in_flight(first, lease_left=timedelta(seconds=-1)), build_in_flight(second, lease_left=timedelta(0))]
    live = build_in_flight(third, lease_left=timedelta(minutes=1), worker="node-8:77")
    release_builds_reap_task()
    assert {release.pk: (release.status, release.error) for release in Release.objects.all()} == {
        dead[0].pk: ("failed", reason_of(dead[0])),
        dead[1].pk: ("failed", reason_of(dead[1])),
        live.pk: ("building", ""),
    }
    assert [path.name for path in Path(releases_dir).iterdir()] == [f".{live.name}.building"]
    reaped = list(Release.objects.order_by("pk").values_list("pk", "status", "finished_at"))
    release_builds_reap_task()  # once only: nothing more happens
    assert list(Release.objects.order_by("pk").values_list("pk", "status", "finished_at")) == reaped


def test_a_redelivered_build_does_nothing_to_a_failed_or_claimed_release(releases_dir):
    """acks_late + reject_on_worker_lost deliver a build again when its worker was lost (and Redis
    after the visibility timeout): a build is claimed once, so the second delivery writes nothing."""
    failed = build_in_flight(CommunityFactory(), lease_left=timedelta(seconds=-1))
    release_builds_reap()
    claimed = build_in_flight(CommunityFactory(), lease_left=timedelta(seconds=90), worker="node-8:77")
    before = {release.pk: release for release in Release.objects.all()}
    release_build_task(failed.pk)
    release_build_task(claimed.pk)
    release_build_task(claimed.pk + 1000)  # a release that does not exist: nothing to do
    fields = ["status", "progress", "error", "worker", "lease_token", "heartbeat_at", "lease_expires_at", "folder"]
    assert {release.pk: [getattr(release, field) for field in fields] for release in Release.objects.all()} == {
        pk: [getattr(release, field) for field in fields] for pk, release in before.items()
    }
    assert before[failed.pk].status == "failed" and before[claimed.pk].status == "building"
    assert [path.name for path in Path(releases_dir).iterdir()] == [f".{claimed.name}.building"]


def test_a_worker_declared_dead_can_neither_renew_nor_finish_its_job():
    release = Release.objects.create(community=CommunityFactory(), version=1)
    with transaction.atomic():  # as a build claims its release
        release = Release.objects.select_for_update().get(pk=release.pk)
        release.status = "building"
        lease = lease_grant(release)
        release.save(update_fields=["status", *LEASE_FIELDS])
    lease_renew(lease, progress=30, stage="Halfway")
    cleaned = []
    reaped = leases_reap(Release, cleanup=cleaned.append, now=timezone.now() + timedelta(seconds=lease.seconds + 1))
    assert [job.pk for job in reaped] == [job.pk for job in cleaned] == [release.pk]
    with pytest.raises(LeaseLost):
        lease_renew(lease, progress=60, stage="Later")
    with pytest.raises(LeaseLost):
        lease_end(lease, status="ready", progress=100)
    row = Release.objects.get(pk=release.pk)
    assert (row.status, row.progress, row.stage) == ("failed", 30, "Halfway")
    assert row.error.startswith(f"The worker {socket.gethostname()}:{os.getpid()} stopped answering at ")


def test_a_build_that_fails_records_the_error_ends_its_lease_and_leaves_no_files(releases_dir):
    community = CommunityFactory()
    queued = release_build_start(actor=None, community=community)
    Path(releases_dir).mkdir(parents=True)
    (Path(releases_dir) / queued.name).write_text("a file where the release's folder goes")
    with pytest.raises(NotADirectoryError):
        release_build(release_id=queued.pk)
    row = Release.objects.get(pk=queued.pk)
    assert (row.status, row.lease_expires_at) == ("failed", None)
    assert row.error.startswith("[Errno 20] Not a directory")
    assert sorted(path.name for path in Path(releases_dir).iterdir()) == [queued.name]  # only the obstacle


def test_builds_left_building_from_before_leases_are_reaped():
    migration = importlib.import_module("feedback.migrations.0013_release_lease")
    from django.apps import apps

    started = timezone.now() - timedelta(days=3)
    stuck = Release.objects.create(community=CommunityFactory(), version=1, status="building", started_at=started)
    migration.builds_in_flight_lapse(apps, None)
    assert [release.pk for release in release_builds_reap()] == [stuck.pk]
    row = Release.objects.get(pk=stuck.pk)
    assert (row.status, row.error) == (
        "failed",
        f"The worker (unknown) stopped answering at {started.strftime('%Y-%m-%d %H:%M:%S UTC')}; its lease ran out.",
    )


def test_long_builds_are_acked_late_given_back_when_the_worker_is_lost_and_time_limited():
    from config.celery import app

    options = (
        release_build_task.acks_late,
        release_build_task.reject_on_worker_lost,
        release_build_task.time_limit,
        release_build_task.soft_time_limit,
    )
    assert options == (True, True, settings.JOB_TIME_LIMIT, settings.JOB_TIME_LIMIT - 60)
    if settings.REDIS_URL:  # Redis gives an unacknowledged task to another worker after this long
        assert app.conf.broker_transport_options["visibility_timeout"] == settings.JOB_TIME_LIMIT + 3600


@pytest.mark.django_db(transaction=True)
def test_the_lease_thread_renews_while_the_job_works_and_notices_when_it_is_taken_away(settings):
    settings.JOB_LEASE_SECONDS = 1  # a beat every quarter second
    release = Release.objects.create(community=CommunityFactory(), version=1, status="building")
    lease = lease_grant(release)
    release.save(update_fields=LEASE_FIELDS)
    with lease_kept(lease) as keeper:
        assert keeper.in_thread
        assert wait_until(lambda: Release.objects.get(pk=release.pk).heartbeat_at > release.heartbeat_at)
        Release.objects.filter(pk=release.pk).update(status="failed")  # as the reaper does
        assert wait_until(keeper.is_lost.is_set)
        with pytest.raises(LeaseLost):
            keeper.check()
    assert Release.objects.get(pk=release.pk).status == "failed"


@pytest.mark.django_db(serialized_rollback=True)
def test_the_reaper_is_on_the_schedule_every_minute():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="feedback.release_builds_reap")
    assert (task.interval.every, task.interval.period, task.enabled) == (60, "seconds", True)


def wait_until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def tasks_run_eagerly():
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_a_build_whose_message_was_lost_is_sent_again_and_built(
    releases_dir, django_capture_on_commit_callbacks, tasks_run_eagerly
):
    """kombu's filesystem transport deletes a message when a worker takes it: a worker killed
    before it claimed the build took the build's only message with it. The scheduled reaper
    sends the task again once the build has waited JOB_RESEND_SECONDS, and only then."""
    community = CommunityFactory()
    sent_long_ago = timezone.now() - timedelta(seconds=settings.JOB_RESEND_SECONDS + 60)
    lost = Release.objects.create(community=community, version=1, enqueued_at=sent_long_ago)
    waiting = Release.objects.create(community=CommunityFactory(), version=1, enqueued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        release_builds_reap_task()
    assert len(callbacks) == 1
    assert Release.objects.get(pk=lost.pk).enqueued_at > sent_long_ago
    with django_capture_on_commit_callbacks(execute=False) as again:
        release_builds_reap_task()  # sent a moment ago: not again
    assert again == []
    callbacks[0]()  # the task, sent again, reaches a worker (eagerly here)
    assert Release.objects.get(pk=lost.pk).status == "ready"
    assert Release.objects.get(pk=waiting.pk).status == "queued"
    assert release_build_start(actor=UserFactory(role="admin"), community=community).version == 2
