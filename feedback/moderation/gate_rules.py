"""The quality gate's arithmetic: one peer review to a score from 0 to 1, and the decision (pure,
no Django).

A review is one volunteer's response to one review task on one answer:

- a rating review (the "rate" task): the volunteer's values on every rating scale of the
  community, each 1 to 5; its score is the mean over the scales of (value - 1) / 4, so 1 is
  0.0, 3 is 0.5 and 5 is 1.0;
- a flag review (the "flag" task): the labels the volunteer chose; its score is 0.0 when it
  carries any label (each label names a reason the answer cannot be used as it is: spam,
  personal information, toxic, sexual, wrong language, fails the task, reveals a model
  identity) and 1.0 when the volunteer found nothing to flag.

An answer passes the gate when at least `reviews_needed` reviews count and the weighted mean
of their scores is at least `pass_threshold`. A review's weight is its reviewer's vote weight
under the community's trust policy (1 normally; 0, so it does not count at all, for an
excluded contributor; the policy's down-weight for a down-weighted one).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FLAG_LABELS_FAILING = frozenset(
    {"spam", "personal_information", "toxic", "sexual", "wrong_language", "fails_task", "model_identity"}
)


def rating_review_score(values: Iterable[int]) -> float:
    """The mean over scales of (value - 1) / 4; ValueError for no value or one outside 1..5."""
    values = list(values)
    if not values:
        raise ValueError("A rating review needs at least one value.")
    if any(not 1 <= value <= 5 for value in values):
        raise ValueError("Rating values run from 1 to 5.")
    return sum((value - 1) / 4 for value in values) / len(values)


def flag_review_score(labels: Iterable[str]) -> float:
    """0.0 when the review raised any failing label, else 1.0."""
    return 0.0 if FLAG_LABELS_FAILING.intersection(labels) else 1.0


@dataclass(frozen=True)
class GateResult:
    review_count: int
    """Reviews that count (weight above 0)."""
    score: float | None
    """The weighted mean of their scores; None when no review counts."""
    is_accepted: bool


def gate_decide(reviews: Iterable[tuple[float, float]], *, reviews_needed: int, pass_threshold: float) -> GateResult:
    """`reviews` are (score, weight) pairs. Accepted when at least `reviews_needed` reviews have a
    weight above 0 and the weighted mean score is at least `pass_threshold`."""
    counted = [(score, weight) for score, weight in reviews if weight > 0]
    if not counted:
        return GateResult(review_count=0, score=None, is_accepted=False)
    score = sum(score * weight for score, weight in counted) / sum(weight for _, weight in counted)
    # Rounding: a mean such as (1 + 0.5 + 0.3) / 3 may land a hair below a threshold it equals.
    is_accepted = len(counted) >= reviews_needed and score >= pass_threshold - 1e-12
    return GateResult(review_count=len(counted), score=score, is_accepted=is_accepted)


def reviews_weighted(reviews: Iterable[tuple[int, float]], weights: Mapping[int, float]) -> list[tuple[float, float]]:
    """(reviewer id, score) pairs to (score, weight) pairs; reviewers missing from `weights` weigh 1."""
    return [(score, weights.get(reviewer_id, 1.0)) for reviewer_id, score in reviews]
