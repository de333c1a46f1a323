"""Executing a training run on a worker (the `ml` queue) or in the foreground (`manage.py train`).

    claim (queued → running, under a lease) → the release (a fresh one built and published first
    when asked) → data selection (its manifest and root) → the trainer (TRL, in this process) →
    the model card → the model folder into MODELS_DIR and its registry entry, in one step.

Only workers and commands import this module: the engines import torch lazily, inside
`train`. Everything a run writes is in a hidden work folder of MODELS_DIR until the end; a run
that fails, is cancelled or whose worker dies leaves nothing behind and registers nothing.
"""

import errno
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from feedback.jobs.lease import LEASE_FIELDS, LeaseLost, lease_end, lease_grant, lease_kept
from feedback.models import Release
from training.models import Run, TrainedModel
from training.runs.services import run_model_name, run_partial_outputs_remove, run_work_folder

logger = logging.getLogger(__name__)

LOG_LINES = 200
FRESH_RELEASE_POLL_SECONDS = 2.0
PROMOTION_PROMPTS = 64  # held-out prompts a new chat model is compared on, at most


class RunInputError(Exception):
    """The run's inputs cannot be used (its release is gone or failed to build): the message says why."""


class RunCancelled(Exception):
    """The run was cancelled before its trainer started."""


def device_describe() -> str:
    """Where the trainer will run: the GPU(s) torch sees, or the CPU with its thread count."""
    import torch

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names = ", ".join(sorted({torch.cuda.get_device_name(index) for index in range(count)}))
        return f"cuda ({count} × {names})"
    return f"cpu ({torch.get_num_threads()} threads)"


class RunLog:
    """The run's log tail: the last LOG_LINES lines, each with its UTC time."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=LOG_LINES)

    def add(self, line: str) -> None:
        self.lines.append(f"{timezone.now().strftime('%H:%M:%S')} {line}")
        logger.info("%s", line)

    def text(self) -> str:
        return "\n".join(self.lines)


LOG_LEFT_OUT = ("logits/", "logps/", "entropy", "num_tokens", "runtime", "samples_per_second", "steps_per_second")


def _log_entry_line(entry: dict[str, Any]) -> str:
    """One logged step as a log line: loss, learning rate, throughput and the held-out metrics."""
    parts = [f"step {entry.get('step')}"]
    for name, value in entry.items():
        if name in ("step", "epoch") or any(part in name for part in LOG_LEFT_OUT):
            continue
        parts.append(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}")
    return " ".join(parts)


def _fresh_release(run: Run, progress: Callable[..., None], should_stop: Callable[[], bool]) -> Release:
    """Build and publish a new release of the run's community with the release build service."""
    from feedback.releases.services import release_build, release_build_start, release_publish

    progress(1, "Building a fresh release")
    release = release_build_start(actor=None, community=run.community)
    try:
        release_build(release_id=release.pk)  # built here, unless a release worker claimed it first
    except Exception as error:
        raise RunInputError(f"The fresh release {release.name} failed to build: {error}") from error
    while True:
        release.refresh_from_db()
        if release.status in (Release.Status.READY, Release.Status.PUBLISHED):
            break
        if release.status == Release.Status.FAILED:
            raise RunInputError(f"The fresh release {release.name} failed to build: {release.error}")
        if should_stop():
            raise RunCancelled
        progress(1, f"Waiting for the release {release.name} to build ({release.progress}%)")
        time.sleep(FRESH_RELEASE_POLL_SECONDS)
    return release_publish(actor=None, release_id=release.pk)


def _failure_message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"The disk filled up while the run wrote its files ({error.filename or 'a file'}); nothing was kept."
    text = str(error).strip()
    return (text or type(error).__name__)[:4000]


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that say what is wrong with the run's inputs: the run fails with the message, and
    the worker carries on (no traceback, no retry)."""
    from training.selection import ReleaseReadError, SelectionConfigError
    from training.trainers import TrainingError

    return (RunInputError, TrainingError, SelectionConfigError, ReleaseReadError)


def run_execute(*, run_id: int, on_progress: Callable[[Run], None] | None = None) -> Run:
    """Execute a queued run. Idempotent: a run no longer queued (claimed by another delivery,
    cancelled, failed by the reaper, ended) is returned as it is. `on_progress(run)` is called
    after every progress write (the command's progress bar)."""
    with transaction.atomic():
        run = Run.objects.select_for_update(of=("self",)).select_related("community", "release").get(pk=run_id)
        if run.status != Run.Status.QUEUED:
            return run
        run.status = Run.Status.RUNNING
        run.started_at = timezone.now()
        run.device = device_describe()
        run.stage = "Starting"
        lease = lease_grant(run)
        run.save(update_fields=["status", "started_at", "device", "stage", *LEASE_FIELDS])

    log = RunLog()
    log.add(f"Run {run.pk} on {run.device} (worker {lease.worker}, code {run.code_version})")
    work = run_work_folder(run)
    final = Path(settings.MODELS_DIR) / run_model_name(run)
    run_partial_outputs_remove(run)
    work.mkdir(parents=True)
    expected = _expected_errors()
    try:
        with lease_kept(lease) as keeper:

            def progress(percent: float, stage: str, **fields: Any) -> None:
                if stage != run.stage:
                    log.add(stage)
                run.stage = stage
                keeper.renew(progress=int(percent), stage=stage[:200], log_tail=log.text(), **fields)
                if on_progress is not None:
                    run.refresh_from_db()
                    on_progress(run)

            def should_stop() -> bool:
                keeper.check()
                return Run.objects.filter(pk=run.pk, cancel_requested_at__isnull=False).exists()

            model, held_out_prompts = _train_and_register(run, lease, work, final, log, progress, should_stop)
    except LeaseLost:
        # Declared dead meanwhile: the run is failed already, with the reason; leave nothing.
        run_partial_outputs_remove(run)
        logger.warning("Run %s was failed while its worker still ran it; it stopped", run.pk)
        return Run.objects.get(pk=run.pk)
    except BaseException as error:  # noqa: BLE001 (every outcome is written, then re-raised when unexpected)
        run_partial_outputs_remove(run)
        from training.trainers import TrainingCancelled

        now = timezone.now()
        if isinstance(error, (TrainingCancelled, RunCancelled)):
            log.add("Cancelled: stopped between two steps; nothing was kept")
            fields = {"status": Run.Status.CANCELLED, "stage": "Cancelled"}
        else:
            message = _failure_message(error)
            log.add(f"Failed: {message}")
            fields = {"status": Run.Status.FAILED, "stage": "Failed", "error": message}
        try:
            lease_end(lease, finished_at=now, log_tail=log.text(), **fields)
        except LeaseLost:
            pass
        is_expected = isinstance(error, (*expected, TrainingCancelled, RunCancelled)) or (
            isinstance(error, OSError) and error.errno == errno.ENOSPC
        )
        if not is_expected:
            logger.exception("Run %s failed", run.pk)
            raise
        logger.warning("Run %s ended %s: %s", run.pk, fields["status"], fields.get("error", ""))
        return Run.objects.get(pk=run.pk)
    logger.info("Run %s succeeded: model %s", run.pk, model.name)
    if model.method != Run.Method.REWARD:
        _promotion_consider(model, held_out_prompts)
    return Run.objects.get(pk=run.pk)


def _promotion_consider(model: TrainedModel, prompts: list[list[dict]]) -> None:
    """After a chat model is registered: compare it with the community's current model and
    promote it if it wins by the margin (docs/runs.md). Never undoes the run's success."""
    from training.registry.services import model_promotion_consider

    try:
        considered = model_promotion_consider(model_id=model.pk, prompts=prompts[:PROMOTION_PROMPTS])
    except Exception:
        logger.exception("The promotion check of %s failed", model.name)
        return
    logger.info("Promotion of %s: %s", model.name, considered.promotion.get("decision"))


def _train_and_register(
    run: Run,
    lease: Any,
    work: Path,
    final: Path,
    log: RunLog,
    progress: Callable[..., None],
    should_stop: Callable[[], bool],
) -> tuple[TrainedModel, list[list[dict]]]:
    from training.registry.services import model_register_prepare, trained_model_create
    from training.selection import SelectionConfig, release_preferences_read, select, selection_manifest_write
    from training.trainers import TrainingConfig, train

    config = run.config or {}
    release = run.release
    if release is None:
        release = _fresh_release(run, progress, should_stop)
        run.release = release
    if release.status != Release.Status.PUBLISHED:
        raise RunInputError(f"The release {release.name} is not published; runs read published releases only.")
    run.release_merkle_root = release.merkle_root
    release_dir = Path(settings.RELEASES_DIR) / release.folder
    progress(3, f"Reading the release {release.name}", release=release, release_merkle_root=release.merkle_root)

    records = release_preferences_read(release_dir)
    selection_config = SelectionConfig.from_dict({"seed": run.seed, **(config.get("selection") or {})})
    selection = select(records, selection_config)
    selection_manifest_write(selection, work / "selection.json")
    report = selection.report.as_json()
    progress(
        8,
        f"Selected {selection.report.records_kept} of {selection.report.records_in} preference records",
        selection_merkle_root=selection.merkle_root,
        selection_report=report,
    )
    if should_stop():
        raise RunCancelled

    options = dict(config.get("training") or {})
    training_config = TrainingConfig(
        method=run.method,
        base_model=Path(config.get("base_model") or settings.TRAINING_BASE_MODEL),
        output_dir=work / "model",
        seed=run.seed,
        **options,
    )
    history: list[dict[str, Any]] = []

    def on_log(entry: dict[str, Any]) -> None:
        history.append(entry)
        step = entry.get("step") or 0
        log.add(_log_entry_line(entry))
        progress(
            10 + 80 * min(step, training_config.max_steps) / training_config.max_steps,
            f"Training: step {step} of {training_config.max_steps}",
            metrics=history,
        )

    progress(10, f"Training ({run.get_method_display()}) on {training_config.base_model.name}")
    result = train(training_config, selection.kept, on_log=on_log, should_stop=should_stop)
    progress(92, "Writing the model card and registering the model", metrics=result.history or history)

    entry = model_register_prepare(
        run=run,
        release=release,
        selection=selection,
        selection_manifest=work / "selection.json",
        result=result,
        base_model=training_config.base_model,
        name=final.name,
    )
    result.folder.rename(final)
    try:
        with transaction.atomic():
            model = trained_model_create(entry)
            log.add(f"Registered the model {model.name}")
            lease_end(
                lease,
                status=Run.Status.SUCCEEDED,
                progress=100,
                stage="Succeeded",
                final_metrics=result.metrics,
                metrics=result.history or history,
                outputs={
                    "model": model.pk,
                    "folder": str(final),
                    "weights": entry["weights"],
                    "trainer_device": getattr(result, "device", ""),
                    "world_size": getattr(result, "world_size", 1),
                },
                log_tail=log.text(),
                finished_at=timezone.now(),
            )
    except BaseException:
        import shutil

        shutil.rmtree(final, ignore_errors=True)
        raise
    run_partial_outputs_remove(run)  # the work folder (the model folder is registered: kept)
    held_out = set(map(str, getattr(result, "held_out_ids", []) or []))
    prompts = [record["prompt"] for record in selection.kept if str(record.get("id")) in held_out]
    return model, prompts
