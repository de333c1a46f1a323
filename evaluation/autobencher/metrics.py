"""AutoBencher's metrics of a candidate dataset (METHODS §2, arXiv 2407.08351).

v is the vector of the evaluated models' accuracies on the candidate dataset:

- difficulty = 1 - max(v);
- separability = the mean absolute deviation of v around its mean;
- novelty = 1 - Spearman(v, v_hat), where v_hat is the least-squares prediction of v, with an
  intercept, from the same models' accuracies on the existing benchmarks (a models x benchmarks
  matrix). It is undefined, and returned as None with the reason, when there are not more models
  than existing benchmarks + 1 (the fit would interpolate v), or when v or v_hat is constant (no
  rank correlation). The paper counts an undefined correlation as novelty 1; we say why instead.

Spearman's correlation is Pearson's on ranks, tied values sharing their average rank. v is ranked
as given; v_hat comes out of a floating-point solve, so predictions within PREDICTION_TIE_TOLERANCE
of each other (two models with the same existing accuracies, say) are ranked as ties.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PREDICTION_TIE_TOLERANCE = 1e-9


class AutoBencherInputError(ValueError):
    """Accuracies that the metrics cannot use."""


def difficulty(accuracies: Sequence[float] | np.ndarray) -> float:
    """1 - the best model's accuracy."""
    values = np.asarray(accuracies, dtype=np.float64)
    if values.size == 0:
        raise AutoBencherInputError("Difficulty needs at least one model's accuracy.")
    return float(1.0 - values.max())


def separability(accuracies: Sequence[float] | np.ndarray) -> float:
    """The mean absolute deviation of the accuracies around their mean."""
    values = np.asarray(accuracies, dtype=np.float64)
    if values.size == 0:
        raise AutoBencherInputError("Separability needs at least one model's accuracy.")
    return float(np.abs(values - values.mean()).mean())


def average_ranks(values: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """1-based ranks; values within `tolerance` of their sorted neighbour form one tie group sharing the mean rank."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_group = np.ones(values.size, dtype=bool)
    new_group[1:] = np.diff(ordered) > tolerance
    group = np.cumsum(new_group) - 1
    positions = np.arange(1, values.size + 1, dtype=np.float64)
    sums = np.bincount(group, weights=positions)
    counts = np.bincount(group)
    ranks = np.empty(values.size)
    ranks[order] = (sums / counts)[group]
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx * dy).sum() / math.sqrt((dx * dx).sum() * (dy * dy).sum()))


@dataclass(frozen=True)
class Novelty:
    value: float | None
    reason: str | None
    prediction: np.ndarray | None  # v_hat, when the fit could be made


def novelty(candidate: Sequence[float] | np.ndarray, existing: np.ndarray) -> Novelty:
    """1 - Spearman(v, v_hat) for v = candidate (one accuracy per model) and `existing` (models x benchmarks)."""
    v = np.asarray(candidate, dtype=np.float64)
    matrix = np.asarray(existing, dtype=np.float64).reshape(v.size, -1)
    models, benchmarks = matrix.shape
    if models <= benchmarks + 1:
        return Novelty(
            None,
            f"Novelty needs more models than existing benchmarks + 1: {models} models and {benchmarks} existing "
            f"benchmarks (at least {benchmarks + 2} models).",
            None,
        )
    design = np.column_stack([np.ones(models), matrix])
    coefficients, *_ = np.linalg.lstsq(design, v, rcond=None)
    prediction = design @ coefficients
    if np.ptp(v) == 0:
        return Novelty(
            None,
            f"Every model has the same accuracy on the candidate ({v[0]:g}): "
            "a constant vector has no rank correlation.",
            prediction,
        )
    prediction_ranks = average_ranks(prediction, PREDICTION_TIE_TOLERANCE)
    if np.ptp(prediction_ranks) == 0:
        why = (
            "there are no existing benchmarks" if benchmarks == 0 else "the existing benchmarks do not tell them apart"
        )
        return Novelty(
            None,
            f"The least-squares prediction is the same for every model ({why}): a constant vector has no rank "
            "correlation.",
            prediction,
        )
    return Novelty(1.0 - _pearson(average_ranks(v), prediction_ranks), None, prediction)


@dataclass(frozen=True)
class CandidateMetrics:
    difficulty: float
    separability: float
    novelty: float | None
    reason: str | None  # why novelty is None
    models: tuple[str, ...]
    benchmarks: tuple[str, ...]


def _accuracy(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AutoBencherInputError(f"{where} must be a number, not {value!r}.")
    if not 0 <= value <= 1:
        raise AutoBencherInputError(f"{where} must be an accuracy between 0 and 1, not {value!r}.")
    return float(value)


def candidate_metrics(
    candidate: Mapping[str, object], existing: Mapping[str, Mapping[str, object]]
) -> CandidateMetrics:
    """Difficulty, separability and novelty of a candidate `{model: accuracy}` against existing benchmarks
    `{benchmark: {model: accuracy}}`. The models are the candidate's; every existing benchmark must have an
    accuracy for each of them (accuracies of other models are not used)."""
    if not isinstance(candidate, Mapping) or not candidate:
        raise AutoBencherInputError("The candidate must map at least one model to its accuracy.")
    if not isinstance(existing, Mapping):
        raise AutoBencherInputError("The existing benchmarks must map each benchmark to {model: accuracy}.")
    models = tuple(candidate)
    v = np.array([_accuracy(candidate[model], f"The candidate's accuracy of {model!r}") for model in models])
    columns = []
    for benchmark, scores in existing.items():
        if not isinstance(scores, Mapping):
            raise AutoBencherInputError(f"The existing benchmark {benchmark!r} must map models to accuracies.")
        missing = [model for model in models if model not in scores]
        if missing:
            raise AutoBencherInputError(
                f"The existing benchmark {benchmark!r} has no accuracy for {', '.join(map(repr, missing))}."
            )
        for model, value in scores.items():
            _accuracy(value, f"The accuracy of {model!r} on {benchmark!r}")
        columns.append([float(scores[model]) for model in models])
    matrix = np.array(columns, dtype=np.float64).T.reshape(len(models), len(columns))
    result = novelty(v, matrix)
    return CandidateMetrics(
        difficulty=difficulty(v),
        separability=separability(v),
        novelty=result.value,
        reason=result.reason,
        models=models,
        benchmarks=tuple(existing),
    )
