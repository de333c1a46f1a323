"""A release build whose worker is killed with `kill -9` mid-build: the lease runs out, the build
is failed with the reason, its partial files go, and a new start builds a new release."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from community.tests.factories import UserFactory
from config.celery import app
from feedback.arena import services as arena
from feedback.models import Release
from feedback.releases.services import release_build_start
from feedback.tests.factories import battle_ready

pytestmark = [pytest.mark.celery_worker]

LEASE_SECONDS = 2


def wait_until(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    return None


def worker_database_url() -> str:
    """The test database, as the worker process is to reach it."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_build_whose_worker_was_killed_fails_with_the_reason_and_a_new_start_builds(tmp_path, settings):
    settings.RELEASES_DIR = releases = tmp_path / "releases"
    battle = battle_ready()
    arena.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())
    admin = UserFactory(role="admin")
    app.control.purge()  # nothing left on the tests' queue from an earlier run
    log = tmp_path / "worker.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": worker_database_url(),
        "RELEASES_DIR": str(releases),
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    with log.open("wb") as output:
        worker = subprocess.Popen(  # noqa: S603 - our own module, with this interpreter
            [sys.executable, "-m", "tests.stalled_worker", "-Q", "default", "--pool", "prefork", "--concurrency", "1"]
            + ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool's children and the Merkle process
        )
    try:
        first = release_build_start(actor=admin, community=battle.community)
        work = Path(releases) / f".{first.name}.building"
        shown = wait_until(lambda: Release.objects.filter(pk=first.pk, progress=5).first())
        assert shown is not None, log.read_text()
        assert shown.status == "building" and work.is_dir()
        # The lease thread answers while the build is busy in its stage.
        assert wait_until(lambda: Release.objects.get(pk=first.pk).heartbeat_at > shown.heartbeat_at), log.read_text()
        host, pid = shown.worker.rsplit(":", 1)
        assert host == socket.gethostname()
        assert os.getpgid(int(pid)) == worker.pid and int(pid) != worker.pid  # a pool process of that worker
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    dead = Release.objects.get(pk=first.pk)
    assert (dead.status, dead.progress, dead.worker) == ("building", 5, shown.worker)
    time.sleep(max(0.0, (dead.lease_expires_at - timezone.now()).total_seconds()) + 0.1)

    second = release_build_start(actor=admin, community=battle.community)  # reaps first

    failed = Release.objects.get(pk=first.pk)
    answered = dead.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert (failed.status, failed.error) == (
        "failed",
        f"The worker {shown.worker} stopped answering at {answered}; its lease ran out.",
    )
    assert failed.finished_at is not None and failed.lease_expires_at is None
    assert not work.exists() and list(Path(releases).iterdir()) == []
    assert (second.pk != first.pk, second.version, second.status) == (True, 2, "queued")

    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        assert wait_until(lambda: Release.objects.get(pk=second.pk).status not in ("queued", "building"))
    built = Release.objects.get(pk=second.pk)
    assert (built.status, built.progress, built.error) == ("ready", 100, "")
    assert (Path(releases) / built.folder / "manifest.json").is_file()
    assert built.manifest["counts"]["by_kind"]["battles"] == 1
    assert sorted(path.name for path in Path(releases).iterdir()) == [built.name]
    assert Release.objects.get(pk=first.pk).status == "failed"
