"""AutoBencher's difficulty, separability and novelty of a candidate dataset (METHODS §2, docs/autobencher.md)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluation.autobencher.metrics import AutoBencherInputError, candidate_metrics


def _json_object(path: Path, what: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"The {what} file {path} cannot be read: {error.strerror or error}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"The {what} file {path} is not UTF-8.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"The {what} file {path} is not JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    except RecursionError:
        raise CommandError(f"The {what} file {path} nests too deeply.") from None
    if not isinstance(value, dict):
        raise CommandError(f"The {what} file {path} must hold one JSON object.")
    return value


class Command(BaseCommand):
    # Reads two files and computes: no database, URL or deployment check belongs before it.
    requires_system_checks: list[str] = []
    help = (
        "AutoBencher's metrics of a candidate dataset: difficulty (1 - best accuracy), separability (mean absolute "
        "deviation of the accuracies) and novelty (1 - Spearman between the accuracies and their least-squares "
        "prediction from the existing benchmarks; null with a reason when undefined)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--candidate", required=True, type=Path, help="A JSON object {model: accuracy} on the candidate."
        )
        parser.add_argument(
            "--existing",
            required=True,
            type=Path,
            help="A JSON object {benchmark: {model: accuracy}} covering every candidate model.",
        )
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, candidate: Path, existing: Path, as_json: bool, **options):
        candidate_scores = _json_object(candidate, "candidate")
        existing_scores = _json_object(existing, "existing benchmarks")
        try:
            metrics = candidate_metrics(candidate_scores, existing_scores)
        except AutoBencherInputError as error:
            raise CommandError(str(error)) from None
        report = {"difficulty": metrics.difficulty, "separability": metrics.separability, "novelty": metrics.novelty}
        if metrics.novelty is None:
            report["reason"] = metrics.reason
        if as_json:
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
            return
        self.stdout.write(
            f"{len(metrics.models)} models, {len(metrics.benchmarks)} existing benchmarks.\n"
            f"difficulty    {metrics.difficulty:.4f}\n"
            f"separability  {metrics.separability:.4f}\n"
            + (
                f"novelty       {metrics.novelty:.4f}"
                if metrics.novelty is not None
                else f"novelty       undefined: {metrics.reason}"
            )
        )
