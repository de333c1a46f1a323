"""Run one training run in the foreground: the same run, selection, trainer and registry as a
run on the `ml` queue, with a progress bar on stderr. With --json, stdout is one JSON object."""

import json

from django.core.management.base import BaseCommand, CommandError

from community.errors import RequestRejected
from community.models import Community
from training.models import Run


class Command(BaseCommand):
    help = (
        "Train a reward, DPO or SFT model of a community on one of its published releases (the newest by "
        "default) and register it; prints the model, its folder, the release and selection roots, "
        "the weights' SHA-256 and the held-out metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--community", required=True, help="The community's slug.")
        parser.add_argument("--method", required=True, choices=Run.Method.values)
        parser.add_argument("--release", type=int, default=None, help="The release version (default: the newest).")
        parser.add_argument(
            "--fresh-release", action="store_true", help="Build and publish a new release first, then train on it."
        )
        parser.add_argument("--max-steps", type=int, default=None, help="Optimiser steps (default 50).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--base-model",
            default=None,
            help="A folder of MODELS_DIR or an absolute path (default: TRAINING_BASE_MODEL)",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")

    def handle(self, *args, **options):
        from training.runs.execute import run_execute
        from training.runs.services import run_start

        community = Community.objects.filter(slug=options["community"]).first()
        if community is None:
            raise CommandError(f"No community {options['community']!r}.")
        training = {"max_steps": options["max_steps"]} if options["max_steps"] is not None else None
        try:
            run = run_start(
                actor=None,
                community=community,
                method=options["method"],
                release_version=options["release"],
                fresh_release=options["fresh_release"],
                seed=options["seed"],
                base_model=options["base_model"],
                training=training,
                trigger="command",
                enqueue=False,
            )
        except RequestRejected as rejected:
            raise CommandError(rejected.message) from None
        bar = ProgressBar(self.stderr)
        bar.show(run)
        run = run_execute(run_id=run.pk, on_progress=bar.show)
        bar.show(run)
        bar.done()
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.error or run.stage}")
        model = run.trained_model
        result = {
            "run": run.pk,
            "model": model.pk,
            "name": model.name,
            "method": model.method,
            "folder": run.outputs["folder"],
            "release": run.release.name,
            "release_merkle_root": model.release_merkle_root,
            "selection_merkle_root": model.selection_merkle_root,
            "weights": model.weights,
            "metrics": model.metrics,
            "device": run.device,
            "seconds": run.duration_seconds,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, sort_keys=True))
        else:
            self.stdout.write(f"Model {model.name} (registry id {model.pk}) in {result['folder']}")
            for name, value in sorted(model.metrics.items()):
                self.stdout.write(f"  {name}: {value:.4f}")


class ProgressBar:
    """A one-line progress bar on a terminal; one line per stage change elsewhere (logs, pipes)."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.is_tty = stream.isatty()
        self.last = ""

    def show(self, run: Run) -> None:
        filled = self.WIDTH * run.progress // 100
        line = f"[{'#' * filled}{' ' * (self.WIDTH - filled)}] {run.progress:3d}% {run.stage}"
        if self.is_tty:
            self.stream.write(f"\r{line[:120]:<120}", ending="")
            self.stream.flush()
        elif run.stage != self.last:
            self.stream.write(line)
        self.last = run.stage

    def done(self) -> None:
        if self.is_tty:
            self.stream.write("")
