"""A training run whose real Celery worker is killed with `kill -9` mid-training: the lease runs
out, the run is failed with the reason naming the pool process, its files go, nothing is
registered, the arena is untouched, and it can be retried."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.utils import timezone

from config.celery import app
from inference.models import ModelEndpoint
from tests.test_dead_worker import worker_database_url
from training.models import Run, TrainedModel
from training.runs.services import run_retry, run_start, run_work_folder
from training.tests.runs_setup import community_with_votes, release_published

pytestmark = [pytest.mark.celery_worker]

LEASE_SECONDS = 2


def queues_purge() -> None:
    """Empty both queues of the tests' broker (`app.control.purge` empties only `default`)."""
    with app.connection_for_write() as connection:
        for name in ("default", "ml"):
            connection.default_channel.queue_purge(name)


def wait_until(condition, seconds=120.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    return None


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_was_killed_mid_training_fails_with_the_reason_and_leaves_nothing(
    tmp_path, settings, tiny_base_model
):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = models = tmp_path / "models"
    models.mkdir()
    community, owner, _ = community_with_votes(votes=12)
    release_published(community)
    endpoints = list(ModelEndpoint.objects.values_list("pk", "is_active"))
    queues_purge()  # nothing left on the tests' queues from an earlier run
    log = tmp_path / "worker.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": worker_database_url(),
        "RELEASES_DIR": str(settings.RELEASES_DIR),
        "MODELS_DIR": str(models),
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    with log.open("wb") as output:
        worker = subprocess.Popen(  # noqa: S603 - celery of this interpreter
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "ml", "--pool", "prefork"]
            + ["--concurrency", "1", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
            + ["--without-heartbeat"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        run = run_start(
            actor=owner,
            community=community,
            method="dpo",
            base_model=str(tiny_base_model),
            training={"max_steps": 100_000, "per_device_batch_size": 2, "max_length": 128},
        )
        shown = wait_until(lambda: Run.objects.filter(pk=run.pk, stage__startswith="Training: step").first())
        assert shown is not None, log.read_text()
        assert shown.status == "running" and run_work_folder(run).is_dir()
        assert int(shown.worker.rsplit(":", 1)[1]) != worker.pid  # a pool process of that worker
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    dead = Run.objects.get(pk=run.pk)
    assert dead.status == "running"
    time.sleep(max(0.0, (dead.lease_expires_at - timezone.now()).total_seconds()) + 0.1)
    retry_start = run_start(actor=owner, community=community, method="sft", enqueue=False)  # reaps first

    failed = Run.objects.get(pk=run.pk)
    answered = dead.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert (failed.status, failed.error) == (
        "failed",
        f"The worker {dead.worker} stopped answering at {answered}; its lease ran out.",
    )
    assert failed.finished_at is not None and failed.lease_expires_at is None
    assert list(models.iterdir()) == []
    assert TrainedModel.objects.count() == 0
    assert list(ModelEndpoint.objects.values_list("pk", "is_active")) == endpoints
    assert retry_start.status == "queued"
    retry = run_retry(actor=owner, run_id=failed.pk)
    assert (retry.retry_of_id, retry.status, retry.config) == (failed.pk, "queued", failed.config)
    queues_purge()
