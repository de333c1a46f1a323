"""Leases: how a long job (a release build, a training run) tells a live worker from a dead one.

A worker that starts a job takes a lease on the job's row: who holds it (`worker`, "host:pid"),
a token of this attempt (`lease_token`), when it last answered (`heartbeat_at`) and until when the
lease holds (`lease_expires_at`, `JOB_LEASE_SECONDS` after the last renewal). While the job runs,
a small thread renews the lease every quarter of that time, and so does every progress update.
A worker killed with `kill -9`, lost with its machine or stopped by the time limit stops
renewing; once its lease has run out, `leases_reap` marks the job failed with the reason, calls
the job's cleanup (its partial files) and so lets a new start of the same job proceed.

Every later write of the job's worker is conditional on the lease (status still running, token
still its own): a worker that comes back after it was declared dead (a stopped process, a
network partition) gets `LeaseLost` at its next progress update and stops, and its last write
(built, failed) changes nothing. A redelivered task (acks late, rejected when its worker was
lost) finds its job no longer queued and does nothing: jobs are claimed once.

How a job uses it: docs/jobs.md. The model: a concrete subclass of `LeasedJob` with `status`,
`error` and `finished_at` fields and its running and failed statuses in `LEASE_RUNNING` and
`LEASE_FAILED`. This module lives in `feedback/` because `training/` and `evaluation/` may
import `feedback/` (never the other way round): one lease for every long job.
"""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

LEASE_FIELDS = ["worker", "lease_token", "heartbeat_at", "lease_expires_at"]


class LeasedJob(models.Model):
    """The lease columns of a long job's row (an abstract model: add it to the job's bases)."""

    LEASE_QUEUED: ClassVar[str] = "queued"  # the status while its task waits for a worker
    LEASE_RUNNING: ClassVar[str] = "running"  # the status while a worker holds the lease
    LEASE_FAILED: ClassVar[str] = "failed"  # the status a dead worker's job is given

    worker = models.CharField(max_length=300, blank=True, help_text="host:pid of the worker that runs it.")
    lease_token = models.CharField(max_length=32, blank=True, help_text="The attempt that holds the lease.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When its worker last answered.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Running and past this time: its worker is dead."
    )
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last sent to the queue (while it is queued)."
    )

    class Meta:
        abstract = True


class LeaseLost(Exception):
    """The job is no longer this worker's: it was declared dead (and failed) meanwhile."""


@dataclass(frozen=True)
class Lease:
    """One attempt's hold on a job's row."""

    model: type[LeasedJob]
    pk: int
    token: str
    worker: str
    seconds: float

    def held(self) -> models.QuerySet:
        """The job's row while this attempt still holds it."""
        return self.model.objects.filter(pk=self.pk, lease_token=self.token, status=self.model.LEASE_RUNNING)


def lease_seconds() -> float:
    return float(settings.JOB_LEASE_SECONDS)


def worker_identity() -> str:
    """This process as the reaper will name it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_grant(job: LeasedJob) -> Lease:
    """Give the lease of `job` to this process. Call it inside the transaction that moves the job
    to running, on the row locked with `select_for_update`, then save `LEASE_FIELDS` with it."""
    now = timezone.now()
    lease = Lease(model=type(job), pk=job.pk, token=uuid.uuid4().hex, worker=worker_identity(), seconds=lease_seconds())
    job.worker = lease.worker
    job.lease_token = lease.token
    job.heartbeat_at = now
    job.lease_expires_at = now + timedelta(seconds=lease.seconds)
    return lease


def lease_renew(lease: Lease, **fields: Any) -> None:
    """Renew the lease, writing `fields` (progress, stage, ...) in the same statement. Raises
    `LeaseLost` (writing nothing) if the job is no longer this attempt's."""
    now = timezone.now()
    renewed = lease.held().update(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease.seconds), **fields)
    if not renewed:
        raise LeaseLost(f"{lease.model.__name__} {lease.pk} is no longer held by {lease.worker}.")


def lease_end(lease: Lease, **fields: Any) -> None:
    """The job's last write by its worker (its outcome: status and results), which also ends the
    lease. Raises `LeaseLost` (writing nothing) if the job is no longer this attempt's."""
    now = timezone.now()
    ended = lease.held().update(heartbeat_at=now, lease_expires_at=None, **fields)
    if not ended:
        raise LeaseLost(f"{lease.model.__name__} {lease.pk} is no longer held by {lease.worker}.")


class LeaseKeeper:
    """Renews a lease from a thread of its own while the job works (see `lease_kept`)."""

    def __init__(self, lease: Lease, *, in_thread: bool) -> None:
        self.lease = lease
        self.in_thread = in_thread
        self.is_lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{lease.pk}", daemon=True)

    def check(self) -> None:
        """Raise `LeaseLost` if the thread found the job taken away (call it between steps)."""
        if self.is_lost.is_set():
            raise LeaseLost(f"{self.lease.model.__name__} {self.lease.pk} is no longer held by {self.lease.worker}.")

    def renew(self, **fields: Any) -> None:
        """A progress update: write `fields` and renew the lease, or raise `LeaseLost`."""
        self.check()
        try:
            lease_renew(self.lease, **fields)
        except LeaseLost:
            self.is_lost.set()
            raise

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.lease.seconds / 4):
                try:
                    lease_renew(self.lease)
                except LeaseLost:
                    self.is_lost.set()
                    logger.warning("Lost the lease of %s %s", self.lease.model.__name__, self.lease.pk)
                    return
                except Exception:  # a passing database error: the next beat tries again
                    logger.exception("Could not renew the lease of %s %s", self.lease.model.__name__, self.lease.pk)
        finally:
            connection.close()  # this thread's own connection

    def start(self) -> None:
        if self.in_thread:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


@contextmanager
def lease_kept(lease: Lease) -> Iterator[LeaseKeeper]:
    """Keep `lease` renewed while the block runs. Inside a caller's transaction (tests, commands
    run in one) another connection could neither see nor wait for the row, so there the lease is
    renewed only by the keeper's `renew` (the progress updates)."""
    keeper = LeaseKeeper(lease, in_thread=not connection.in_atomic_block)
    keeper.start()
    try:
        yield keeper
    finally:
        keeper.stop()


def lease_lapse_reason(job: LeasedJob) -> str:
    answered = job.heartbeat_at or job.lease_expires_at
    when = answered.strftime("%Y-%m-%d %H:%M:%S UTC") if answered else "an unknown time"
    return f"The worker {job.worker or '(unknown)'} stopped answering at {when}; its lease ran out."


def leases_reap(
    model: type[LeasedJob],
    *,
    cleanup: Callable[[Any], None],
    now: datetime | None = None,
) -> list[Any]:
    """Mark failed every running job of `model` whose lease has run out, with the reason, and
    call `cleanup(job)` on each (its partial files) once that is committed. Returns those jobs.
    Safe to run anywhere and often (every start of the kind, a beat schedule): a job is reaped
    once, under a row lock, and a live worker's lease is never touched."""
    now = now or timezone.now()
    expired = model.objects.filter(status=model.LEASE_RUNNING, lease_expires_at__lt=now)
    reaped = []
    for pk in list(expired.values_list("pk", flat=True)):
        with transaction.atomic():
            job = expired.select_for_update(skip_locked=True).filter(pk=pk).first()
            if job is None:  # renewed, finished or reaped meanwhile
                continue
            job.status = model.LEASE_FAILED
            job.error = lease_lapse_reason(job)
            job.finished_at = now
            job.lease_expires_at = None
            job.save(update_fields=["status", "error", "finished_at", "lease_expires_at"])
        logger.warning("%s %s failed: %s", model.__name__, job.pk, job.error)
        cleanup(job)
        reaped.append(job)
    return reaped


def queued_jobs_resend(
    model: type[LeasedJob],
    *,
    send: Callable[[Any], None],
    now: datetime | None = None,
) -> list[Any]:
    """Send the task again of every job of `model` still queued `JOB_RESEND_SECONDS` after its
    task was last sent, and return those jobs.

    A broker that drops a message its worker took (kombu's filesystem transport, the embedded
    default, deletes it on delivery) would otherwise leave a job queued for ever once that worker
    was killed before it claimed the job, and a kind that allows one job in flight (release
    builds) could never start again. Sending again is safe: a task claims its job only while it
    is queued, once, so the extra message of a job that was merely waiting does nothing.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.JOB_RESEND_SECONDS)
    resent = []
    for pk in list(model.objects.filter(status=model.LEASE_QUEUED, enqueued_at__lt=stale).values_list("pk", flat=True)):
        if model.objects.filter(pk=pk, status=model.LEASE_QUEUED, enqueued_at__lt=stale).update(enqueued_at=now):
            job = model.objects.get(pk=pk)
            transaction.on_commit(lambda job=job: send(job))
            logger.warning("%s %s still queued since %s: its task was sent again", model.__name__, pk, stale)
            resent.append(job)
    return resent
