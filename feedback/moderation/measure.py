"""Precision and recall of the toxicity detector on its labelled set.

    .venv/bin/python -m feedback.moderation.measure            # the figures for docs/moderation.md
    .venv/bin/python -m feedback.moderation.measure --errors   # and every miss and false alarm

The labelled set is JSON Lines, one example a line: `{"text": ..., "toxic": true | false,
"category": ...}` (category: insult, profanity, threat, slur, hate, harassment, or clean).
A prediction is `toxicity_score(text).is_toxic`. Precision is tp / (tp + fp), recall
tp / (tp + fn), over the whole set; recall is also given per category of toxic example.
"""

import argparse
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from feedback.moderation.toxicity import toxicity_score

LABELLED_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "toxicity_labelled.jsonl"


def toxicity_examples_load(path: Path = LABELLED_PATH) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def toxicity_scores(examples: Iterable[Mapping]) -> dict:
    """{"precision", "recall", "tp", "fp", "fn", "tn", "recall_by_category": {category: recall}}."""
    counts: Counter = Counter()
    by_category: dict[str, Counter] = {}
    for example in examples:
        predicted = toxicity_score(example["text"]).is_toxic
        labelled = bool(example["toxic"])
        outcome = {(True, True): "tp", (True, False): "fp", (False, True): "fn", (False, False): "tn"}
        counts[outcome[(predicted, labelled)]] += 1
        if labelled:
            by_category.setdefault(example["category"], Counter())["tp" if predicted else "fn"] += 1
    return {
        "precision": _ratio(counts["tp"], counts["tp"] + counts["fp"]),
        "recall": _ratio(counts["tp"], counts["tp"] + counts["fn"]),
        **{key: counts[key] for key in ("tp", "fp", "fn", "tn")},
        "recall_by_category": {
            category: _ratio(count["tp"], count["tp"] + count["fn"]) for category, count in sorted(by_category.items())
        },
    }


def toxicity_errors(examples: Iterable[Mapping]) -> list[tuple[str, float, str]]:
    """("missed" | "false alarm", score, text) for every wrong prediction."""
    errors = []
    for example in examples:
        result = toxicity_score(example["text"])
        if result.is_toxic != bool(example["toxic"]):
            errors.append(("missed" if example["toxic"] else "false alarm", result.score, example["text"]))
    return errors


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list every miss and false alarm")
    arguments = parser.parse_args()
    examples = toxicity_examples_load()
    scores = toxicity_scores(examples)
    print(f"{len(examples)} examples, {scores['tp'] + scores['fn']} toxic")
    print(f"precision {scores['precision']:.3f}  recall {scores['recall']:.3f}")
    print(f"tp {scores['tp']}  fp {scores['fp']}  fn {scores['fn']}  tn {scores['tn']}")
    for category, recall in scores["recall_by_category"].items():
        print(f"  recall on {category}: {recall:.3f}")
    if arguments.errors:
        for outcome, score, text in toxicity_errors(examples):
            print(f"{outcome:12} {score:.2f}  {text}")


if __name__ == "__main__":
    main()
