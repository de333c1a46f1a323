"""Conformal factuality (METHODS §4, arXiv 2402.10978): the threshold, its guarantee and its validity check.

An answer is split into claims, each with a confidence score and a volunteer's label. For a level
a (a = 1: "every kept claim is correct"), an answer's value r(x) comes from walking its claims'
distinct scores from high to low: at each score t take the claims scoring >= t; r(x) is the first
t at which the fraction of correct claims in that set falls below a, and minus infinity when it
never does. The threshold for a miscoverage alpha is the ceil((n + 1)(1 - alpha))-th smallest of
the n calibration values; serving keeps the claims scoring >= the threshold. For a new answer
exchangeable with the calibration answers:

    1 - alpha <= P(the kept claims are correct at level a) <= 1 - alpha + 1 / (n + 1)

The lower bound needs the finite r values to be distinct (the per-claim tie-breaking noise makes
them so; `ConformalThreshold.tied_answers` counts the answers that share one). The upper bound
also needs a = 1: below a, a larger set of claims can climb back above the level, so an answer
can be correct at a threshold under its r(x).

Levels and miscoverages are exact rationals of the decimal that was written (0.1 is 1/10), so the
quantile index and the "falls below a" comparisons are exact: no float rounding decides whether
a calibration set is big enough or whether 9 correct claims out of 10 reach a = 0.9.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

DEFAULT_SPLITS = 1000

# At most this many (split, test answer) cells are evaluated at once in the validity check.
_VALIDITY_BLOCK_CELLS = 2_000_000


class ConformalInputError(ValueError):
    """A miscoverage, a level, a claim table or a split setting that the method cannot use."""


def _exact(value: object, name: str) -> Fraction:
    """A number as the exact rational of its shortest decimal: 0.1 -> 1/10, "0.05" -> 1/20."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise ConformalInputError(f"{name} must be a number, not {value!r}.")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConformalInputError(f"{name} must be a finite number, not {value!r}.")
        return Fraction(repr(value))
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ConformalInputError(f"{name} must be a number, not {value!r}.") from None
    raise ConformalInputError(f"{name} must be a number, not {value!r}.")


def alpha_parse(value: object) -> Fraction:
    """The miscoverage alpha, strictly between 0 and 1."""
    alpha = _exact(value, "alpha")
    if not 0 < alpha < 1:
        raise ConformalInputError(f"alpha must be strictly between 0 and 1, not {value}.")
    return alpha


def level_parse(value: object) -> Fraction:
    """The level a: the fraction of kept claims that must be correct, in (0, 1]."""
    level = _exact(value, "a")
    if not 0 < level <= 1:
        raise ConformalInputError(f"a must be greater than 0 and at most 1, not {value}.")
    return level


def conformal_quantile_index(n: int, alpha: object) -> int:
    """ceil((n + 1)(1 - alpha)), computed exactly: the 1-based rank of the threshold among n values."""
    return math.ceil((n + 1) * (1 - alpha_parse(alpha)))


def conformal_minimum_n(alpha: object) -> int:
    """The fewest calibration answers for which the quantile index is at most n (ceil((1 - alpha) / alpha), >= 1)."""
    value = alpha_parse(alpha)
    return max(1, math.ceil((1 - value) / value))


def conformal_guarantee(n: int, alpha: object) -> tuple[float, float]:
    """(1 - alpha, 1 - alpha + 1 / (n + 1)): bounds on the probability that a new answer is correct at level a."""
    value = alpha_parse(alpha)
    return float(1 - value), float(1 - value + Fraction(1, n + 1))


@dataclass(frozen=True)
class ClaimTable:
    """Every claim of a set of answers, flat: which answer it belongs to, its score, whether it is correct."""

    answer: np.ndarray  # int64, the answer's index, 0 .. answers - 1
    score: np.ndarray  # float64, finite
    correct: np.ndarray  # bool
    answers: int

    @classmethod
    def from_answers(cls, scores: Sequence[Sequence[float]], correct: Sequence[Sequence[bool]]) -> ClaimTable:
        """From one list of claim scores and one list of correctness flags per answer (same lengths)."""
        if len(scores) != len(correct):
            raise ConformalInputError(f"{len(scores)} answers have scores but {len(correct)} have labels.")
        sizes = [len(answer_scores) for answer_scores in scores]
        for index, (answer_scores, answer_correct) in enumerate(zip(scores, correct, strict=True)):
            if len(answer_scores) != len(answer_correct):
                raise ConformalInputError(
                    f"Answer {index} has {len(answer_scores)} scores but {len(answer_correct)} labels."
                )
        flat_scores = np.fromiter((float(s) for answer in scores for s in answer), dtype=np.float64)
        flat_correct = np.fromiter((bool(c) for answer in correct for c in answer), dtype=bool)
        if not np.all(np.isfinite(flat_scores)):
            raise ConformalInputError("Every claim score must be a finite number.")
        answer_index = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        return cls(answer=answer_index, score=flat_scores, correct=flat_correct, answers=len(sizes))

    def with_scores(self, scores: Sequence[Sequence[float]]) -> ClaimTable:
        """The same claims and labels under another score."""
        other = ClaimTable.from_answers(scores, [[False] * len(answer) for answer in scores])
        if not np.array_equal(other.answer, self.answer):
            raise ConformalInputError("Each score must give one value per claim of every answer.")
        return ClaimTable(answer=self.answer, score=other.score, correct=self.correct, answers=self.answers)

    @property
    def claims_per_answer(self) -> np.ndarray:
        return np.bincount(self.answer, minlength=self.answers)


def _below_level(correct_kept: np.ndarray, kept: np.ndarray, level: Fraction) -> np.ndarray:
    """correct_kept / kept < level, exactly (an empty set counts as fraction 1, never below)."""
    p, q = level.numerator, level.denominator
    largest = int(kept.max(initial=0))
    if largest and max(p, q) * largest >= 2**62:
        correct_kept, kept = correct_kept.astype(object), kept.astype(object)
    return correct_kept * q < kept * p


def conformal_r_values(table: ClaimTable, a: object) -> np.ndarray:
    """r(x) of every answer at level a (minus infinity where the fraction of correct claims never falls below a)."""
    level = level_parse(a)
    r = np.full(table.answers, -np.inf)
    if table.score.size == 0:
        return r
    order = np.lexsort((-table.score, table.answer))  # by answer, then score from high to low
    answer, score, correct = table.answer[order], table.score[order], table.correct[order]
    starts = np.concatenate(([0], np.cumsum(table.claims_per_answer)[:-1]))
    positions = np.arange(answer.size)
    kept = positions - starts[answer] + 1
    correct_before = np.concatenate(([0], np.cumsum(correct)))
    correct_kept = correct_before[positions + 1] - correct_before[starts[answer]]
    # A set "claims scoring >= t" ends at the last claim of t's tie group within the answer.
    group_end = np.ones(answer.size, dtype=bool)
    group_end[:-1] = (answer[1:] != answer[:-1]) | (score[1:] != score[:-1])
    failing = np.flatnonzero(group_end & _below_level(correct_kept, kept, level))
    failing_answers, first = np.unique(answer[failing], return_index=True)
    r[failing_answers] = score[failing[first]]
    return r


@dataclass(frozen=True)
class ConformalThreshold:
    """The calibrated threshold, or the refusal when n is too small for alpha."""

    threshold: float | None  # None: refused (keep no claim); -inf: keep every claim
    n: int
    alpha: float
    a: float
    index: int  # ceil((n + 1)(1 - alpha)), 1-based
    minimum_n: int
    lower: float | None
    upper: float | None
    tied_answers: int  # answers whose finite r(x) equals another answer's
    reason: str | None = None

    @property
    def is_refused(self) -> bool:
        return self.threshold is None

    @property
    def keeps_every_claim(self) -> bool:
        return self.threshold == -math.inf


def conformal_threshold_from_r_values(
    r_values: Sequence[float] | np.ndarray, alpha: object, a: object
) -> ConformalThreshold:
    """The ceil((n + 1)(1 - alpha))-th smallest r value, or a refusal when that index exceeds n."""
    alpha_value, level = alpha_parse(alpha), level_parse(a)
    r = np.sort(np.asarray(r_values, dtype=np.float64))
    if np.isnan(r).any() or (r == np.inf).any():
        raise ConformalInputError("r values are finite numbers or minus infinity.")
    n = int(r.size)
    index = conformal_quantile_index(n, alpha_value)
    minimum_n = conformal_minimum_n(alpha_value)
    finite = r[np.isfinite(r)]
    _, counts = np.unique(finite, return_counts=True)
    tied = int(counts[counts > 1].sum())
    if index > n:
        reason = (
            f"{n} calibration answers are too few for alpha = {float(alpha_value):g}: the threshold is the "
            f"ceil((n + 1)(1 - alpha)) = {index}-th smallest of the {n} values, and at least {minimum_n} answers "
            "are needed. No claim would be kept."
        )
        return ConformalThreshold(
            threshold=None,
            n=n,
            alpha=float(alpha_value),
            a=float(level),
            index=index,
            minimum_n=minimum_n,
            lower=None,
            upper=None,
            tied_answers=tied,
            reason=reason,
        )
    lower, upper = conformal_guarantee(n, alpha_value)
    return ConformalThreshold(
        threshold=float(r[index - 1]),
        n=n,
        alpha=float(alpha_value),
        a=float(level),
        index=index,
        minimum_n=minimum_n,
        lower=lower,
        upper=upper,
        tied_answers=tied,
    )


def conformal_threshold(table: ClaimTable, alpha: object, a: object) -> ConformalThreshold:
    """The conformal threshold of a calibration set of answers (METHODS §4)."""
    return conformal_threshold_from_r_values(conformal_r_values(table, a), alpha, a)


def conformal_keep(scores: Sequence[float] | np.ndarray, threshold: float | None) -> np.ndarray:
    """Which claims of an answer are kept: score >= threshold; none when the calibration refused (None)."""
    values = np.asarray(scores, dtype=np.float64)
    if threshold is None:
        return np.zeros(values.shape, dtype=bool)
    return values >= threshold


class _KeptCounter:
    """Counts, for (answer, threshold) pairs, the claims scoring >= the threshold and the correct ones among them."""

    def __init__(self, table: ClaimTable):
        self.values = np.unique(table.score)
        self.stride = self.values.size + 1
        rank = np.searchsorted(self.values, table.score)
        keys = table.answer * self.stride + rank
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.correct_before = np.concatenate(([0], np.cumsum(table.correct[order])))
        answers = np.arange(table.answers, dtype=np.int64)
        self.end = np.searchsorted(self.keys, (answers + 1) * self.stride)
        self.start = np.searchsorted(self.keys, answers * self.stride)

    def counts(self, answers: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(kept, correct kept) for answers[i, j] at thresholds[i] (minus infinity keeps all, plus infinity none)."""
        threshold_rank = np.searchsorted(self.values, thresholds, side="left")
        first = np.searchsorted(self.keys, answers * self.stride + threshold_rank[:, None], side="left")
        end = self.end[answers]
        return end - first, self.correct_before[end] - self.correct_before[first]


def conformal_split_factuality(
    table: ClaimTable, alpha: object, a: object, permutations: np.ndarray, calibration_size: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per split, (the fraction of test answers whose kept claims are correct at level a, the fraction of the
    test answers' claims removed): each row of `permutations` orders the answers, the first `calibration_size`
    calibrate and the rest are the test answers. None when `calibration_size` is too small for alpha."""
    alpha_value, level = alpha_parse(alpha), level_parse(a)
    permutations = np.asarray(permutations, dtype=np.int64)
    if permutations.ndim != 2 or permutations.shape[1] != table.answers:
        raise ConformalInputError(f"Each split must order all {table.answers} answers.")
    if not 1 <= calibration_size < table.answers:
        raise ConformalInputError(
            f"The calibration size must be between 1 and {table.answers - 1} (one answer at least is for testing)."
        )
    index = conformal_quantile_index(calibration_size, alpha_value)
    if index > calibration_size:
        return None
    r = conformal_r_values(table, level)
    counter = _KeptCounter(table)
    claims = counter.end - counter.start
    p, q = level.numerator, level.denominator
    splits, test_size = permutations.shape[0], table.answers - calibration_size
    factuality = np.empty(splits)
    removed = np.empty(splits)
    block = max(1, _VALIDITY_BLOCK_CELLS // max(table.answers, 1))
    for begin in range(0, splits, block):
        rows = permutations[begin : begin + block]
        thresholds = np.partition(r[rows[:, :calibration_size]], index - 1, axis=1)[:, index - 1]
        test = rows[:, calibration_size:]
        kept, correct_kept = counter.counts(test, thresholds)
        if max(p, q) * int(kept.max(initial=0)) >= 2**62:
            kept, correct_kept = kept.astype(object), correct_kept.astype(object)
        factuality[begin : begin + block] = (correct_kept * q >= kept * p).sum(axis=1) / test_size
        test_claims = claims[test].sum(axis=1)
        kept_claims = np.asarray(kept.sum(axis=1), dtype=np.float64)
        removed[begin : begin + block] = np.where(test_claims > 0, 1 - kept_claims / np.maximum(test_claims, 1), 0.0)
    return factuality, removed


@dataclass(frozen=True)
class ValidityPoint:
    """One alpha of one score, averaged over the splits."""

    alpha: float
    target: float  # 1 - alpha
    lower: float | None
    upper: float | None
    factuality: float | None  # mean over splits of the test answers' empirical factuality
    factuality_std: float | None
    removed: float | None  # mean over splits of the fraction of the test answers' claims removed
    removed_std: float | None
    reason: str | None = None


@dataclass(frozen=True)
class ConformalValidity:
    splits: int
    seed: int
    calibration_size: int
    test_size: int
    a: float
    curves: dict[str, list[ValidityPoint]]


def conformal_validity(
    correct: Sequence[Sequence[bool]],
    scores: Mapping[str, Sequence[Sequence[float]]],
    alphas: Sequence[object],
    a: object,
    *,
    splits: int = DEFAULT_SPLITS,
    calibration_size: int | None = None,
    seed: int = 0,
) -> ConformalValidity:
    """Empirical factuality against 1 - alpha and the fraction of claims removed, per score, over `splits` random
    calibration/test splits of the answers (the same splits for every score and alpha). `correct[i]` flags the
    claims of answer i; `scores[name][i]` scores them. The calibration part is half the answers unless given."""
    level = level_parse(a)
    if not scores:
        raise ConformalInputError("Give at least one score.")
    if not alphas:
        raise ConformalInputError("Give at least one alpha.")
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise ConformalInputError(f"The number of splits must be a positive whole number, not {splits!r}.")
    answers = len(correct)
    if answers < 2:
        raise ConformalInputError(f"Splitting needs at least 2 answers, not {answers}.")
    size = answers // 2 if calibration_size is None else calibration_size
    if not 1 <= size < answers:
        raise ConformalInputError(f"The calibration size must be between 1 and {answers - 1}, not {size}.")
    alpha_values = [alpha_parse(alpha) for alpha in alphas]
    base = ClaimTable.from_answers([[0.0] * len(flags) for flags in correct], correct)
    tables = {name: base.with_scores(values) for name, values in scores.items()}
    rng = np.random.default_rng(seed)
    permutations = rng.permuted(np.tile(np.arange(answers, dtype=np.int64), (splits, 1)), axis=1)
    curves: dict[str, list[ValidityPoint]] = {}
    for name, table in tables.items():
        points = []
        for alpha in alpha_values:
            result = conformal_split_factuality(table, alpha, level, permutations, size)
            if result is None:
                points.append(
                    ValidityPoint(
                        alpha=float(alpha),
                        target=float(1 - alpha),
                        lower=None,
                        upper=None,
                        factuality=None,
                        factuality_std=None,
                        removed=None,
                        removed_std=None,
                        reason=(
                            f"{size} calibration answers are too few for alpha = {float(alpha):g} "
                            f"(at least {conformal_minimum_n(alpha)} are needed)."
                        ),
                    )
                )
                continue
            factuality, removed = result
            lower, upper = conformal_guarantee(size, alpha)
            points.append(
                ValidityPoint(
                    alpha=float(alpha),
                    target=float(1 - alpha),
                    lower=lower,
                    upper=upper,
                    factuality=float(factuality.mean()),
                    factuality_std=float(factuality.std()),
                    removed=float(removed.mean()),
                    removed_std=float(removed.std()),
                )
            )
        curves[name] = points
    return ConformalValidity(
        splits=splits, seed=seed, calibration_size=size, test_size=answers - size, a=float(level), curves=curves
    )
