"""Run the data selection on a release folder and print its report (Markdown, or JSON with --json)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.selection import (
    ReleaseReadError,
    SelectionConfig,
    SelectionConfigError,
    release_preferences_read,
    select,
    selection_manifest_write,
)


def _json_object(path: str, what: str) -> dict:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"The {what} file {path} cannot be read as JSON: {error}") from None
    if not isinstance(value, dict):
        raise CommandError(f"The {what} file {path} must hold one JSON object.")
    return value


def _weights(text: str) -> dict[str, float]:
    weights = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        group, separator, weight = part.partition("=")
        try:
            weights[group.strip()] = float(weight)
        except ValueError:
            separator = ""
        if not separator or not group.strip():
            raise CommandError(f"--mixing-weights takes GROUP=WEIGHT pairs separated by commas, not {part!r}.")
    return weights


class Command(BaseCommand):
    help = "Run the training data selection on a published release folder and print what each filter removed."

    def add_arguments(self, parser):
        parser.add_argument("--release-dir", required=True, help="The release folder (it holds manifest.json).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of Markdown.")
        parser.add_argument("--config", help="A JSON file of selection settings (docs/selection.md); options override.")
        parser.add_argument("--languages", help="Keep only these language codes, separated by commas.")
        parser.add_argument("--min-chars", type=int)
        parser.add_argument("--max-chars", type=int)
        parser.add_argument("--max-repetition", type=float)
        parser.add_argument("--max-symbol-ratio", type=float)
        parser.add_argument("--near-duplicate-threshold", type=float)
        parser.add_argument("--min-agreement", type=float, help="Needs --agreement.")
        parser.add_argument("--agreement", help="A JSON file mapping record ids to their agreement (0 to 1).")
        parser.add_argument("--keep-flagged", action="store_true", help="Keep records whose chosen answer was flagged.")
        parser.add_argument("--mixing-key", choices=["community", "topic", "language"])
        parser.add_argument("--mixing-weights", help="GROUP=WEIGHT pairs separated by commas, e.g. en=2,fr=1.")
        parser.add_argument("--topics", help="A JSON file mapping record ids to topics (for --mixing-key topic).")
        parser.add_argument("--seed", type=int)
        parser.add_argument(
            "--perplexity-model", help="A causal LM folder (or a folder name in MODELS_DIR) to score answers with."
        )
        parser.add_argument("--perplexity-max", type=float, help="Needs --perplexity-model.")
        parser.add_argument("--manifest-out", help="Also write the selection manifest (JSON) to this path.")

    def handle(self, *args, **options):
        values = _json_object(options["config"], "config") if options["config"] else {}
        for name in (
            "min_chars",
            "max_chars",
            "max_repetition",
            "max_symbol_ratio",
            "near_duplicate_threshold",
            "min_agreement",
            "mixing_key",
            "seed",
            "perplexity_max",
        ):
            if options[name] is not None:
                values[name] = options[name]
        if options["languages"]:
            values["languages"] = [code.strip() for code in options["languages"].split(",") if code.strip()]
        if options["keep_flagged"]:
            values["drop_flagged"] = False
        if options["mixing_weights"]:
            values["mixing_weights"] = _weights(options["mixing_weights"])
        try:
            config = SelectionConfig.from_dict(values)
        except (SelectionConfigError, TypeError) as error:
            raise CommandError(str(error)) from None
        if config.min_agreement is not None and not options["agreement"]:
            raise CommandError("--min-agreement needs --agreement FILE: releases carry no agreement per pair.")
        agreement = _json_object(options["agreement"], "agreement") if options["agreement"] else None
        topics = _json_object(options["topics"], "topics") if options["topics"] else None
        perplexity = None
        if options["perplexity_model"]:
            if config.perplexity_max is None:
                raise CommandError("--perplexity-model needs --perplexity-max.")
            folder = Path(options["perplexity_model"])
            if not folder.is_dir() and (Path(settings.MODELS_DIR) / folder).is_dir():
                folder = Path(settings.MODELS_DIR) / folder
            from training.selection.perplexity import causal_lm_perplexity

            try:
                perplexity = causal_lm_perplexity(folder)
            except ValueError as error:
                raise CommandError(str(error)) from None
        elif config.perplexity_max is not None:
            raise CommandError("--perplexity-max needs --perplexity-model to score the answers.")
        try:
            records = release_preferences_read(Path(options["release_dir"]))
            selection = select(records, config, perplexity=perplexity, agreement=agreement, topics=topics)
        except (ReleaseReadError, SelectionConfigError) as error:
            raise CommandError(str(error)) from None
        if options["manifest_out"]:
            try:
                selection_manifest_write(selection, Path(options["manifest_out"]))
            except OSError as error:
                raise CommandError(f"The manifest cannot be written: {error}") from None
        if options["json"]:
            output = {
                "selection_merkle_root": selection.merkle_root,
                "records_kept": len(selection.kept),
                "manifest": options["manifest_out"],
                "report": selection.report.as_json(),
            }
            self.stdout.write(json.dumps(output, ensure_ascii=False))
        else:
            self.stdout.write(selection.report.as_markdown(), ending="")
            self.stdout.write(f"Selection Merkle root: {selection.merkle_root}")
