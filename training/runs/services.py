"""Writes of runs: start (idempotent), cancel, retry, and the reaper of runs whose worker died.

A run is the lifecycle of every machine-learning job (docs/runs.md): `run_start` records its
inputs and queues it on the `ml` queue; the worker executes it (training/runs/execute.py, which
alone imports the engines); `run_cancel` stops it between steps; `runs_reap` fails the runs whose
worker stopped answering (feedback/jobs/lease.py). No torch here: the web process imports this.
"""

import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected
from community.models import Community, User
from community.permissions import can_govern
from feedback.jobs.lease import leases_reap, queued_jobs_resend
from feedback.models import Release
from training.models import Run

logger = logging.getLogger(__name__)

# Settings of the engines a run may carry in its config (the rest of TrainingConfig is the run's own).
TRAINING_OPTIONS = {
    "max_steps": int,
    "learning_rate": float,
    "per_device_batch_size": int,
    "gradient_accumulation_steps": int,
    "held_out_fraction": float,
    "lora": bool,
    "lora_r": int,
    "max_length": int,
    "beta": float,
    "logging_steps": int,
    "eval_steps": int,
}
MAX_STEPS_LIMIT = 100_000


def run_may_manage(*, user: User, community: Community) -> bool:
    """Who starts, cancels and retries a community's runs and reads their logs: its owner and
    admins, and platform admins (community/permissions.py `can_govern`)."""
    return can_govern(user, community)


def code_version() -> str:
    """`git describe` of the checkout, or the package version when there is no git."""
    try:
        result = subprocess.run(  # noqa: S603
            ["git", "describe", "--always", "--dirty", "--tags"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        result = None
    if result is not None and result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip()
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"feedback-commons {version('feedback-commons')}"
    except PackageNotFoundError:
        return "unknown"


def base_model_resolve(name: str | None) -> Path:
    """The base model's folder: a folder name under MODELS_DIR, an absolute path, or (empty) the
    TRAINING_BASE_MODEL setting. Whether it is a causal LM the trainer checks (BaseModelError)."""
    if not name:
        return Path(settings.TRAINING_BASE_MODEL)
    path = Path(name)
    if path.is_absolute():
        return path
    if len(path.parts) != 1 or name.startswith("."):
        raise RequestRejected("The base model is a folder name in the models directory.")
    return Path(settings.MODELS_DIR) / name


def _training_options(options: dict[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise RequestRejected("The training options are a JSON object.")
    clean: dict[str, Any] = {}
    for name, value in options.items():
        kind = TRAINING_OPTIONS.get(name)
        if kind is None:
            raise RequestRejected(f"Unknown training option {name!r}.")
        if value is None:
            continue
        if kind is bool:
            if not isinstance(value, bool):
                raise RequestRejected(f"{name} is true or false.")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise RequestRejected(f"{name} must be a {'whole ' if kind is int else ''}number.")
        clean[name] = kind(value)
    steps = clean.get("max_steps")
    if steps is not None and not 1 <= steps <= MAX_STEPS_LIMIT:
        raise RequestRejected(f"max_steps is from 1 to {MAX_STEPS_LIMIT}.")
    return clean


def release_for_training(*, community: Community, version: int | None) -> Release:
    """The published release of `community` a run reads: `version`, or the newest."""
    releases = Release.objects.filter(community=community, status=Release.Status.PUBLISHED)
    if version is not None:
        release = releases.filter(version=version).first()
        if release is None:
            raise RequestRejected(f"{community.slug} has no published release v{version}.")
        return release
    release = releases.order_by("-version").first()
    if release is None:
        raise RequestRejected(f"{community.slug} has no published release yet: publish one, or train on a fresh one.")
    return release


def run_start(
    *,
    actor: User | None,
    community: Community,
    method: str,
    release_version: int | None = None,
    fresh_release: bool = False,
    seed: int = 0,
    base_model: str | None = None,
    training: dict[str, Any] | None = None,
    selection: dict[str, Any] | None = None,
    idempotency_key: str = "",
    trigger: str = "manual",
    retry_of: Run | None = None,
    enqueue: bool = True,
) -> Run:
    """Record a training run and queue it on the `ml` queue. The same `idempotency_key` (per
    community) returns the first run and queues nothing. `actor=None` is the system (schedule,
    command). Bad input raises RequestRejected (400); a refusal NotAllowed (403)."""
    if actor is not None and not run_may_manage(user=actor, community=community):
        raise NotAllowed("Only the community's owner and admins start training runs.")
    if not isinstance(idempotency_key, str) or len(idempotency_key) > 100:
        raise RequestRejected("The idempotency key is a string of at most 100 characters.")
    if idempotency_key:
        existing = Run.objects.filter(community=community, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    if method not in Run.Method.values:
        raise RequestRejected(f"Unknown training method {method!r}: use one of {', '.join(Run.Method.values)}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise RequestRejected("The seed is a whole number from 0 to 2^32 - 1.")
    if fresh_release and release_version is not None:
        raise RequestRejected("Choose a release or a fresh release, not both.")
    options = _training_options(training)
    if selection is not None and not isinstance(selection, dict):
        raise RequestRejected("The selection settings are a JSON object.")
    if selection:
        from training.selection import SelectionConfig, SelectionConfigError

        try:
            SelectionConfig.from_dict(selection)
        except (SelectionConfigError, TypeError) as error:
            raise RequestRejected(str(error)) from error
    base = base_model_resolve(base_model)
    runs_reap()  # a run whose worker died is failed here, before anything looks at runs in flight
    release = None if fresh_release else release_for_training(community=community, version=release_version)
    config = {
        "method": method,
        "base_model": str(base),
        "training": options,
        "selection": selection or {},
    }
    try:
        with transaction.atomic():
            run = Run.objects.create(
                kind=Run.Kind.TRAINING,
                method=method,
                community=community,
                release=release,
                release_merkle_root=release.merkle_root if release else "",
                fresh_release=fresh_release,
                config=config,
                seed=seed,
                code_version=code_version(),
                idempotency_key=idempotency_key,
                trigger=trigger,
                retry_of=retry_of,
                created_by=actor,
                stage="Waiting for an ml worker" if enqueue else "Starting",
                enqueued_at=timezone.now() if enqueue else None,
            )
            if enqueue:
                from training.tasks import run_execute_task

                transaction.on_commit(lambda: run_execute_task.delay(run.pk))
    except IntegrityError:  # a concurrent start with the same key won the race
        return Run.objects.get(community=community, idempotency_key=idempotency_key)
    logger.info("Run %s queued: %s on %s", run.pk, method, release or "a fresh release")
    return run


def run_cancel(*, actor: User | None, run_id: int) -> Run:
    """Cancel a run: a queued one at once; a running one is asked to stop, and its worker stops
    between two steps and marks it cancelled. Cancelling an ended run is a Conflict (409)."""
    with transaction.atomic():
        run = Run.objects.select_for_update(of=("self",)).select_related("community").get(pk=run_id)
        if actor is not None and not run_may_manage(user=actor, community=run.community):
            raise NotAllowed("Only the community's owner and admins cancel training runs.")
        who = actor.display_name or actor.email if actor is not None else "the system"
        now = timezone.now()
        if run.status == Run.Status.QUEUED:
            run.status = Run.Status.CANCELLED
            run.cancel_requested_at = now
            run.finished_at = now
            run.stage = "Cancelled"
            run.error = f"Cancelled by {who} before it started."
            run.save(update_fields=["status", "cancel_requested_at", "finished_at", "stage", "error"])
        elif run.status == Run.Status.RUNNING:
            if run.cancel_requested_at is None:
                run.cancel_requested_at = now
                run.error = f"Cancelled by {who}."
                run.save(update_fields=["cancel_requested_at", "error"])
        else:
            raise Conflict(f"The run has ended ({run.get_status_display().lower()}); there is nothing to cancel.")
    return run


def run_retry(*, actor: User | None, run_id: int) -> Run:
    """A new run with the same inputs as a failed or cancelled one (the same release, unless it
    was to build a fresh one; the same config and seed)."""
    run = Run.objects.select_related("community", "release").get(pk=run_id)
    if actor is not None and not run_may_manage(user=actor, community=run.community):
        raise NotAllowed("Only the community's owner and admins retry training runs.")
    if run.status not in (Run.Status.FAILED, Run.Status.CANCELLED):
        raise Conflict("Only a failed or cancelled run can be retried.")
    config = run.config or {}
    return run_start(
        actor=actor,
        community=run.community,
        method=run.method,
        release_version=None if run.fresh_release else (run.release.version if run.release else None),
        fresh_release=run.fresh_release,
        seed=run.seed,
        base_model=config.get("base_model"),
        training=config.get("training") or None,
        selection=config.get("selection") or None,
        idempotency_key=f"retry-of-{run.pk}",
        trigger=run.trigger,
        retry_of=run,
    )


def run_work_folder(run: Run) -> Path:
    """Where a run writes while it works: hidden in MODELS_DIR, so the model server never lists it."""
    return Path(settings.MODELS_DIR) / f".run-{run.pk}.working"


def run_model_name(run: Run) -> str:
    """The name of the model a run trains: its folder under MODELS_DIR and its model id."""
    return f"{run.community.slug}-{run.method}-run{run.pk}"


def run_partial_outputs_remove(run: Run) -> None:
    """A failed, cancelled or dead run's files: its work folder, and its model folder unless the
    model was registered (the registry entry and the run's success are one transaction, after the
    folder is in place: a worker killed between the two leaves a folder that this removes)."""
    from training.models import TrainedModel

    shutil.rmtree(run_work_folder(run), ignore_errors=True)
    if not TrainedModel.objects.filter(run=run).exists():
        shutil.rmtree(Path(settings.MODELS_DIR) / run_model_name(run), ignore_errors=True)


def runs_reap() -> list[Run]:
    """Fail every run whose worker stopped answering (its lease ran out) and remove its files.
    Runs on every start of a run and every minute on the schedule. A run queued too long gets
    its task sent again (its message may have been lost with a killed worker: docs/jobs.md)."""
    from training.tasks import run_execute_task

    queued_jobs_resend(Run, send=lambda run: run_execute_task.delay(run.pk))
    return leases_reap(Run, cleanup=run_partial_outputs_remove)
