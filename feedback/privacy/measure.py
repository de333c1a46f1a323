"""Precision and recall of the personal-information detector on a labelled set.

    .venv/bin/python -m feedback.privacy.measure            # the table for docs/pii.md
    .venv/bin/python -m feedback.privacy.measure --errors   # and every miss and false alarm

The labelled set is JSON Lines, one example a line: `{"text": ..., "spans": [{"kind": ...,
"text": ...}, ...]}`; an example without personal information has an empty `spans` list.

Matching rule: within one example, a predicted match counts as a true positive when a labelled
span has the same kind and exactly the same text (character for character, so a phone number
found without its "+44" is both a false positive and a false negative). Each labelled span is
matched at most once, so two identical spans in one text need two predictions. Unmatched
predictions are false positives, unmatched labels false negatives. Counts are summed over the
examples ("all" sums every kind: micro-averaged). Precision is tp / (tp + fp) and recall
tp / (tp + fn); with nothing to divide by (no prediction, or no label of that kind) the score
is 1.0, as nothing went wrong.
"""

import argparse
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from feedback.privacy.pii import KINDS, PiiMatch, pii_find

LABELLED_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "pii_labelled.jsonl"


def pii_examples_load(path: Path = LABELLED_PATH) -> list[dict]:
    """The examples of a JSON Lines file (blank lines skipped)."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def pii_scores(
    examples: Iterable[Mapping], *, find: Callable[[str], list[PiiMatch]] = pii_find
) -> dict[str, dict[str, float | int]]:
    """{kind: {"precision", "recall", "tp", "fp", "fn"}} for each kind in `KINDS`, plus "all",
    by the matching rule in the module's docstring."""
    counts = {kind: Counter() for kind in (*KINDS, "all")}
    for example in examples:
        labelled = Counter((span["kind"], span["text"]) for span in example["spans"])
        predicted = Counter((match.kind, match.text) for match in find(example["text"]))
        for (kind, _), number in (labelled & predicted).items():
            counts[kind]["tp"] += number
        for (kind, _), number in (predicted - labelled).items():
            counts[kind]["fp"] += number
        for (kind, _), number in (labelled - predicted).items():
            counts[kind]["fn"] += number
    for kind in KINDS:
        counts["all"].update(counts[kind])
    return {kind: _score(count) for kind, count in counts.items()}


def pii_errors(
    examples: Iterable[Mapping], *, find: Callable[[str], list[PiiMatch]] = pii_find
) -> list[tuple[str, str, str, str]]:
    """(outcome, kind, span text, example text) for every miss ("missed") and false alarm
    ("false alarm"), in the order of the examples."""
    errors: list[tuple[str, str, str, str]] = []
    for example in examples:
        labelled = Counter((span["kind"], span["text"]) for span in example["spans"])
        predicted = Counter((match.kind, match.text) for match in find(example["text"]))
        for kind, text in (labelled - predicted).elements():
            errors.append(("missed", kind, text, example["text"]))
        for kind, text in (predicted - labelled).elements():
            errors.append(("false alarm", kind, text, example["text"]))
    return errors


def pii_scores_table(scores: Mapping[str, Mapping[str, float | int]]) -> str:
    """The scores as a Markdown table, one row per kind and "all" last."""
    rows = [
        "| kind | labelled | precision | recall | tp | fp | fn |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, score in scores.items():
        rows.append(
            f"| {kind} | {score['tp'] + score['fn']} | {score['precision']:.3f} | {score['recall']:.3f} "
            f"| {score['tp']} | {score['fp']} | {score['fn']} |"
        )
    return "\n".join(rows)


def _score(count: Counter) -> dict[str, float | int]:
    tp, fp, fn = count["tp"], count["fp"], count["fn"]
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Precision and recall of feedback.privacy.pii on a labelled set.")
    parser.add_argument("path", nargs="?", type=Path, default=LABELLED_PATH, help="JSON Lines file")
    parser.add_argument("--errors", action="store_true", help="also list every miss and false alarm")
    options = parser.parse_args(arguments)
    examples = pii_examples_load(options.path)
    negatives = sum(1 for example in examples if not example["spans"])
    print(f"{len(examples)} examples ({negatives} without personal information)\n")
    print(pii_scores_table(pii_scores(examples)))
    if options.errors:
        print()
        for outcome, kind, text, example in pii_errors(examples):
            print(f"- {outcome} {kind}: {text!r} in {example!r}")


if __name__ == "__main__":
    main()
