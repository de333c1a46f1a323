"""Contributor trust scores (pure, no Django): callers gather plain data and pass it in.

Three signals, each with the amount of evidence behind it (docs/moderation.md, "Contributor
trust", states the same definitions for readers):

- gold accuracy: the share of a contributor's answers to gold items that were right (the rule
  per task kind is `feedback.taskqueue.gold`); evidence: gold items answered.
- consensus agreement: for every item the contributor answered that at least two other people
  answered too, how well their answer agrees with the others' consensus, from 0 to 1 (per kind
  below); the mean over those items; evidence: the number of items.
- outlier score (arena judges): how much less likely the judge's votes are under the current
  ratings than a typical judge's. With P(a beats b) = 1 / (1 + 10 ** ((R_b - R_a) / 400)), a
  vote for a has log-likelihood ln P, a vote for b ln (1 - P), a tie (either kind) half of each.
  The judge's mean log-likelihood per vote is compared with the median of that mean over the
  judges with at least `min_votes` votes: score = median - judge's mean, in nats per vote, so 0
  is typical and higher is more outlying. Votes naming a model without a rating are skipped.

Consensus per task kind (`others` are the other people's responses to the same item):

- rate: per rating scale, 1 - |own value - mean of the others' values| / 4; the item's
  agreement is the mean over the scales the contributor rated (a scale needs two other values).
- flag: for every label, the others' majority is "yes" when more than half of them chose it and
  "no" when fewer than half did (an even split says nothing); the agreement is 1 when the
  contributor's choice matches every majority, else 0.
- rank: each answer's place in a ranking is the position of its group (1 for the best); the
  others' consensus place is the mean of their places. Over every pair of answers that both the
  contributor and the consensus put in a strict order, the agreement is the share of pairs put
  in the same order (no such pair: the item does not count).
- check_claims: for every claim the contributor judged that at least two others judged, the
  others' verdict is the one most of them gave (a tie for the most: the claim does not count);
  the agreement is the share of those claims where the contributor gave it.
- correct (writing a better answer) has no single right answer and no consensus score.
"""

import math
import statistics
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

TIES = frozenset({"tie", "tie (bothbad)"})
CONSENSUS_KINDS = ("rate", "flag", "rank", "check_claims")


@dataclass(frozen=True)
class Measure:
    """A score with the evidence behind it: `value` is None when `count` is 0."""

    value: float | None
    count: int


@dataclass(frozen=True)
class OutlierScore:
    votes: int
    """Votes of the judge that could be scored (both models rated)."""
    mean_log_likelihood: float
    """Mean natural log-likelihood per vote under the ratings."""
    score: float | None
    """Median over typical judges minus this judge's mean; higher is more outlying; None when no
    judge has enough votes to set the median."""


# Gold accuracy


def gold_accuracy(outcomes: Iterable[tuple[Hashable, bool]]) -> dict[Hashable, Measure]:
    """(contributor, was right) per answered gold item to each contributor's share right."""
    right: dict[Hashable, int] = defaultdict(int)
    answered: dict[Hashable, int] = defaultdict(int)
    for contributor, is_right in outcomes:
        answered[contributor] += 1
        right[contributor] += bool(is_right)
    return {contributor: Measure(right[contributor] / count, count) for contributor, count in answered.items()}


# Consensus agreement, one function per kind


def rating_agreement(own: Mapping[str, int], others: Sequence[Mapping[str, int]]) -> float | None:
    per_scale = []
    for scale, value in own.items():
        values = [other[scale] for other in others if scale in other]
        if len(values) >= 2:
            per_scale.append(1 - abs(value - sum(values) / len(values)) / 4)
    return sum(per_scale) / len(per_scale) if per_scale else None


def flag_agreement(own: Iterable[str], others: Sequence[Iterable[str]]) -> float | None:
    if len(others) < 2:
        return None
    own_labels = set(own)
    other_sets = [set(labels) for labels in others]
    for label in own_labels.union(*other_sets):
        chosen = sum(label in labels for labels in other_sets)
        if 2 * chosen > len(other_sets) and label not in own_labels:
            return 0.0
        if 2 * chosen < len(other_sets) and label in own_labels:
            return 0.0
    return 1.0


def _places(order: Sequence[Sequence[Hashable]]) -> dict[Hashable, int]:
    return {answer: position for position, group in enumerate(order, start=1) for answer in group}


def ranking_agreement(
    own: Sequence[Sequence[Hashable]], others: Sequence[Sequence[Sequence[Hashable]]]
) -> float | None:
    if len(others) < 2:
        return None
    own_places = _places(own)
    other_places = [_places(order) for order in others]
    consensus = {}
    for answer in own_places:
        places = [places[answer] for places in other_places if answer in places]
        if len(places) >= 2:
            consensus[answer] = sum(places) / len(places)
    same = considered = 0
    for first, second in combinations(sorted(consensus, key=str), 2):
        own_order = own_places[second] - own_places[first]
        their_order = consensus[second] - consensus[first]
        if own_order == 0 or their_order == 0:
            continue
        considered += 1
        same += (own_order > 0) == (their_order > 0)
    return same / considered if considered else None


def claims_agreement(own: Mapping[Hashable, str], others: Sequence[Mapping[Hashable, str]]) -> float | None:
    matches = []
    for claim, verdict in own.items():
        verdicts = [other[claim] for other in others if claim in other]
        if len(verdicts) < 2:
            continue
        counts: dict[str, int] = defaultdict(int)
        for given in verdicts:
            counts[given] += 1
        most = max(counts.values())
        leaders = [given for given, count in counts.items() if count == most]
        if len(leaders) == 1:
            matches.append(1.0 if verdict == leaders[0] else 0.0)
    return sum(matches) / len(matches) if matches else None


_AGREEMENT = {
    "rate": rating_agreement,
    "flag": flag_agreement,
    "rank": ranking_agreement,
    "check_claims": claims_agreement,
}


def item_agreement(kind: str, own: Any, others: Sequence[Any]) -> float | None:
    """One response's agreement with the others on the same item; None when it cannot count
    (fewer than two others, a kind without consensus, nothing comparable)."""
    agreement = _AGREEMENT.get(kind)
    if agreement is None or len(others) < 2:
        return None
    return agreement(own, others)


def consensus_agreement(responses: Iterable[tuple[Hashable, str, Hashable, Any]]) -> dict[Hashable, Measure]:
    """(item, kind, contributor, response) rows to each contributor's mean agreement with the
    others over the items where it can be computed. A response's shape by kind: rate
    {scale: value}, flag [labels], rank [[answer, ...], ...] best first, check_claims
    {claim: verdict}. One response per contributor and item (a later row replaces an earlier)."""
    items: dict[Hashable, tuple[str, dict[Hashable, Any]]] = {}
    for item, kind, contributor, response in responses:
        items.setdefault(item, (kind, {}))[1][contributor] = response
    total: dict[Hashable, float] = defaultdict(float)
    counted: dict[Hashable, int] = defaultdict(int)
    for kind, by_contributor in items.values():
        if len(by_contributor) < 3:
            continue
        for contributor, response in by_contributor.items():
            others = [other for who, other in by_contributor.items() if who != contributor]
            agreement = item_agreement(kind, response, others)
            if agreement is not None:
                total[contributor] += agreement
                counted[contributor] += 1
    return {contributor: Measure(total[contributor] / count, count) for contributor, count in counted.items()}


# Outlier score for arena judges


def win_probability(rating_a: float, rating_b: float) -> float:
    """P(a beats b) on the Elo scale the arena ratings use."""
    return 1 / (1 + 10 ** ((rating_b - rating_a) / 400))


def vote_log_likelihood(rating_a: float, rating_b: float, winner: str) -> float:
    """ln of the probability of this vote: ln P for model_a, ln (1 - P) for model_b, half each for a tie."""
    p = win_probability(rating_a, rating_b)
    if winner == "model_a":
        return math.log(p)
    if winner == "model_b":
        return math.log(1 - p)
    if winner in TIES:
        return 0.5 * math.log(p) + 0.5 * math.log(1 - p)
    raise ValueError(f"Unknown winner {winner!r}.")


def outlier_scores(
    votes: Iterable[tuple[Hashable, str, str, str]], ratings: Mapping[str, float], *, min_votes: int = 20
) -> dict[Hashable, OutlierScore]:
    """(judge, model_a, model_b, winner) votes and model ratings to each judge's outlier score.

    Judges with at least `min_votes` scored votes set the typical mean log-likelihood (their
    median); every judge with a scored vote gets a score against it (read it with its `votes`).
    """
    total: dict[Hashable, float] = defaultdict(float)
    count: dict[Hashable, int] = defaultdict(int)
    for judge, model_a, model_b, winner in votes:
        if model_a not in ratings or model_b not in ratings:
            continue
        total[judge] += vote_log_likelihood(ratings[model_a], ratings[model_b], winner)
        count[judge] += 1
    means = {judge: total[judge] / count[judge] for judge in count}
    typical = [mean for judge, mean in means.items() if count[judge] >= min_votes]
    median = statistics.median(typical) if typical else None
    return {
        judge: OutlierScore(
            votes=count[judge], mean_log_likelihood=mean, score=None if median is None else median - mean
        )
        for judge, mean in means.items()
    }
