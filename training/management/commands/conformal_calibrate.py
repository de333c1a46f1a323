"""The conformal factuality threshold (METHODS §4) of a claims file, with its guarantee (docs/calibration.md)."""

import json
import math
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from training.calibration.claims_file import (
    ClaimsFileError,
    claims_file_read,
    correct_labels_parse,
)
from training.calibration.conformal import (
    ClaimTable,
    ConformalInputError,
    alpha_parse,
    conformal_threshold,
    conformal_validity,
    level_parse,
)

# A refusal (too few answers for alpha) prints its JSON and exits with this status; bad input exits with 1.
REFUSAL_EXIT_STATUS = 3
# JSON has no minus infinity: "keep every claim" is written as the lowest finite double, which every
# finite score is >= (the same keep rule), with "keeps_every_claim": true beside it.
LOWEST_DOUBLE = -sys.float_info.max


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    # Reads a file and computes: no database, URL or deployment check belongs before it.
    requires_system_checks: list[str] = []
    help = (
        "The conformal factuality threshold of a claims JSONL file (one answer per line, its claims with a label "
        "and a score) for a miscoverage alpha and a level a, with the guarantee 1 - alpha <= P(correct) <= "
        "1 - alpha + 1/(n + 1). Refuses (threshold null, exit status 3) when the file has too few answers for alpha."
    )

    def add_arguments(self, parser):
        parser.add_argument("--claims", required=True, type=Path, help="The claims JSONL file.")
        parser.add_argument("--alpha", required=True, help="The miscoverage alpha, strictly between 0 and 1.")
        parser.add_argument(
            "--a", dest="level", required=True, help="The level a in (0, 1]: 1 means every kept claim is correct."
        )
        parser.add_argument(
            "--correct-labels",
            default="true",
            help="Labels that count as correct: 'true' (the default) or 'true,subjective'.",
        )
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--splits",
            type=_non_negative,
            default=0,
            help="Also check validity over this many random calibration/test halves of the file (default 0: none).",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the validity splits (default 0).")

    def handle(self, *args, claims: Path, alpha: str, level: str, correct_labels: str, as_json: bool, **options):
        try:
            alpha_value, level_value = alpha_parse(alpha), level_parse(level)
            labels = correct_labels_parse(correct_labels)
            answers = claims_file_read(claims)
        except (ClaimsFileError, ConformalInputError) as error:
            raise CommandError(str(error)) from None
        correct = [answer.correct(labels) for answer in answers]
        scores = [answer.scores for answer in answers]
        result = conformal_threshold(ClaimTable.from_answers(scores, correct), alpha_value, level_value)
        report = {
            "threshold": _threshold_number(result.threshold),
            "keeps_every_claim": result.keeps_every_claim,
            "n": result.n,
            "claims": sum(len(answer.claims) for answer in answers),
            "alpha": result.alpha,
            "a": result.a,
            "correct_labels": sorted(labels),
            "guarantee": None if result.is_refused else {"lower": result.lower, "upper": result.upper},
            "quantile_index": result.index,
            "minimum_n": result.minimum_n,
            "tied_answers": result.tied_answers,
            "refused": result.is_refused,
            "reason": result.reason,
        }
        if options["splits"]:
            report["validity"] = self._validity(correct, scores, alpha_value, level_value, options)
        if as_json:
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(_text(report))
        if result.is_refused:
            raise CommandError(result.reason, returncode=REFUSAL_EXIT_STATUS)

    def _validity(self, correct, scores, alpha, level, options) -> dict:
        try:
            validity = conformal_validity(
                correct, {"score": scores}, [alpha], level, splits=options["splits"], seed=options["seed"]
            )
        except ConformalInputError as error:
            raise CommandError(str(error)) from None
        point = validity.curves["score"][0]
        return {
            "splits": validity.splits,
            "seed": validity.seed,
            "calibration_size": validity.calibration_size,
            "test_size": validity.test_size,
            "target": point.target,
            "lower": point.lower,
            "upper": point.upper,
            "factuality": point.factuality,
            "factuality_std": point.factuality_std,
            "removed": point.removed,
            "removed_std": point.removed_std,
            "reason": point.reason,
        }


def _threshold_number(threshold: float | None) -> float | None:
    if threshold is None:
        return None
    return LOWEST_DOUBLE if threshold == -math.inf else threshold


def _text(report: dict) -> str:
    lines = [
        f"{report['n']} answers, {report['claims']} claims; correct: {', '.join(report['correct_labels'])}; "
        f"alpha {report['alpha']:g}, a {report['a']:g}."
    ]
    if report["refused"]:
        lines.append(f"Refused: {report['reason']}")
    else:
        if report["keeps_every_claim"]:
            lines.append("Threshold: minus infinity (every claim is kept).")
        else:
            lines.append(f"Threshold: {report['threshold']!r} (keep claims scoring at least this).")
        guarantee = report["guarantee"]
        event = (
            "every kept claim is correct"
            if report["a"] == 1
            else f"at least {report['a']:g} of the kept claims are correct"
        )
        lines.append(
            f"Guarantee: {guarantee['lower']:.4f} <= P({event}) <= "
            f"{guarantee['upper']:.4f}, for a new answer exchangeable with these."
        )
        if report["a"] < 1:
            lines.append(
                "Below a = 1 only the lower bound is sure: a larger set of claims can climb back above the level."
            )
    if report["tied_answers"]:
        lines.append(
            f"{report['tied_answers']} answers share their r value with another: the guarantee assumes distinct "
            "scores (add the tie-breaking noise)."
        )
    validity = report.get("validity")
    if validity and validity["factuality"] is not None:
        lines.append(
            f"Validity over {validity['splits']} splits ({validity['calibration_size']} calibrate, "
            f"{validity['test_size']} test): factuality {validity['factuality']:.4f} "
            f"(bounds {validity['lower']:.4f} - {validity['upper']:.4f}), claims removed {validity['removed']:.4f}."
        )
    elif validity:
        lines.append(f"Validity: {validity['reason']}")
    return "\n".join(lines)
