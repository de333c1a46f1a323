"""AutoBencher's metrics (evaluation/autobencher/metrics.py) against hand computations and an independent fit."""

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evaluation.autobencher.metrics import (
    AutoBencherInputError,
    average_ranks,
    candidate_metrics,
    difficulty,
    novelty,
    separability,
)

OBSSCALING = Path(__file__).resolve().parents[3] / "shared" / "data" / "obsscaling" / "base_llm_benchmark_eval.csv"

CANDIDATE = {"m1": 0.2, "m2": 0.5, "m3": 0.4, "m4": 0.9, "m5": 0.1}


def independent_novelty(v, existing, decimals=None):
    """Normal equations (not lstsq) for the fit with an intercept, scipy's Spearman for the correlation."""
    v = np.asarray(v, dtype=float)
    design = np.column_stack([np.ones(len(v)), np.asarray(existing, dtype=float).reshape(len(v), -1)])
    coefficients = np.linalg.solve(design.T @ design, design.T @ v)
    prediction = design @ coefficients
    if decimals is not None:
        prediction = np.round(prediction, decimals)
    return 1 - stats.spearmanr(v, prediction).statistic


def test_difficulty_and_separability_by_hand():
    metrics = candidate_metrics(CANDIDATE, {})
    assert metrics.difficulty == 1 - 0.9
    # Mean 0.42; absolute deviations 0.22, 0.08, 0.02, 0.48, 0.32; their mean 1.12 / 5.
    assert metrics.separability == pytest.approx(0.224, abs=1e-15)
    assert difficulty([1.0, 0.3]) == 0.0
    assert separability([0.7]) == 0.0
    assert separability([0.0, 1.0]) == 0.5


def test_novelty_with_one_benchmark_by_hand():
    # With one existing benchmark x the prediction is c + b x with b > 0 here (the covariance is 0.29 / 5), so
    # v_hat ranks the models as x does. Ranks of v: 2 4 3 5 1; of x: 3 2 4 5 1; sum of squared differences 6;
    # Spearman 1 - 6 * 6 / (5 * 24) = 0.7.
    existing = {"x": {"m1": 0.3, "m2": 0.2, "m3": 0.6, "m4": 0.8, "m5": 0.1}}
    metrics = candidate_metrics(CANDIDATE, existing)
    assert metrics.novelty == pytest.approx(0.3, abs=1e-12)
    assert metrics.reason is None
    assert metrics.models == ("m1", "m2", "m3", "m4", "m5")
    assert metrics.benchmarks == ("x",)


def test_novelty_zero_when_existing_benchmarks_predict_the_ranking():
    x = {"m1": 0.1, "m2": 0.7, "m3": 0.3, "m4": 0.9, "m5": 0.5}
    y = {"m1": 0.4, "m2": 0.1, "m3": 0.8, "m4": 0.3, "m5": 0.6}
    candidate = {model: 0.5 * x[model] + 0.25 * y[model] + 0.05 for model in x}
    assert candidate_metrics(candidate, {"x": x, "y": y}).novelty == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_novelty_matches_an_independent_fit(seed):
    rng = np.random.default_rng(seed)
    models, benchmarks = rng.integers(4, 15), rng.integers(1, 4)
    models = max(models, benchmarks + 2)
    existing = rng.random((models, benchmarks))
    # Accuracies on a 20-item dataset: multiples of 0.05, so ties in v are common.
    v = np.round(rng.random(models) * 20) / 20
    if np.ptp(v) == 0:
        v[0] = 1 - v[0]
    names = [f"model-{i}" for i in range(models)]
    result = candidate_metrics(
        dict(zip(names, v.tolist(), strict=True)),
        {f"bench-{j}": dict(zip(names, existing[:, j].tolist(), strict=True)) for j in range(benchmarks)},
    )
    assert result.novelty == pytest.approx(independent_novelty(v, existing), abs=1e-12)


def test_equal_predictions_are_ranked_as_ties():
    # m1 and m2 have the same existing accuracies, so the same prediction (up to floating-point rounding).
    existing = np.array([[0.3, 0.6], [0.3, 0.6], [0.5, 0.2], [0.9, 0.4], [0.1, 0.8], [0.7, 0.7]])
    v = np.array([0.2, 0.6, 0.4, 0.9, 0.1, 0.5])
    result = novelty(v, existing)
    assert result.value == pytest.approx(independent_novelty(v, existing, decimals=12), abs=1e-12)
    assert average_ranks(result.prediction, 1e-9)[0] == average_ranks(result.prediction, 1e-9)[1]


def test_average_ranks():
    assert average_ranks(np.array([0.5, 0.1, 0.5, 0.3])).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert average_ranks(np.array([1.0, 1.0 + 1e-12, 2.0]), 1e-9).tolist() == [1.5, 1.5, 3.0]


def test_too_few_models():
    # Two existing benchmarks need at least 4 models; 3 would be fitted exactly.
    candidate = {"a": 0.1, "b": 0.5, "c": 0.3}
    existing = {"x": {"a": 0.2, "b": 0.4, "c": 0.9}, "y": {"a": 0.5, "b": 0.1, "c": 0.3}}
    metrics = candidate_metrics(candidate, existing)
    assert metrics.novelty is None
    assert metrics.reason == (
        "Novelty needs more models than existing benchmarks + 1: 3 models and 2 existing benchmarks "
        "(at least 4 models)."
    )
    assert metrics.difficulty == 0.5
    candidate["d"] = 0.7
    for scores in existing.values():
        scores["d"] = 0.6
    assert candidate_metrics(candidate, existing).novelty is not None


def test_constant_candidate():
    candidate = dict.fromkeys(("m1", "m2", "m3", "m4"), 0.25)
    existing = {"x": {"m1": 0.1, "m2": 0.4, "m3": 0.3, "m4": 0.8}}
    metrics = candidate_metrics(candidate, existing)
    assert metrics.novelty is None
    assert metrics.reason == (
        "Every model has the same accuracy on the candidate (0.25): a constant vector has no rank correlation."
    )
    assert metrics.separability == 0.0
    assert metrics.difficulty == 0.75


def test_constant_prediction():
    existing = {"x": dict.fromkeys(CANDIDATE, 0.6), "y": dict.fromkeys(CANDIDATE, 0.2)}
    metrics = candidate_metrics(CANDIDATE, existing)
    assert metrics.novelty is None
    assert metrics.reason == (
        "The least-squares prediction is the same for every model (the existing benchmarks do not tell them "
        "apart): a constant vector has no rank correlation."
    )


def test_no_existing_benchmarks():
    metrics = candidate_metrics(CANDIDATE, {})
    assert metrics.novelty is None
    assert metrics.reason == (
        "The least-squares prediction is the same for every model (there are no existing benchmarks): a constant "
        "vector has no rank correlation."
    )
    one = candidate_metrics({"m1": 0.4}, {})
    assert one.reason == (
        "Novelty needs more models than existing benchmarks + 1: 1 models and 0 existing benchmarks "
        "(at least 2 models)."
    )


@pytest.mark.parametrize(
    ("candidate", "existing", "message"),
    [
        ({}, {}, "The candidate must map at least one model to its accuracy."),
        ({"m": 1.5}, {}, "The candidate's accuracy of 'm' must be an accuracy between 0 and 1, not 1.5."),
        ({"m": -0.1}, {}, "between 0 and 1, not -0.1."),
        ({"m": "0.5"}, {}, "The candidate's accuracy of 'm' must be a number, not '0.5'."),
        ({"m": True}, {}, "must be a number, not True."),
        ({"m": None}, {}, "must be a number, not None."),
        ({"m": float("nan")}, {}, "must be a number, not nan."),
        ({"m": 0.5, "n": 0.2}, {"x": {"m": 0.1}}, "The existing benchmark 'x' has no accuracy for 'n'."),
        ({"m": 0.5}, {"x": [0.1]}, "The existing benchmark 'x' must map models to accuracies."),
        ({"m": 0.5}, {"x": {"m": 0.1, "other": 2}}, "The accuracy of 'other' on 'x' must be an accuracy"),
        ({"m": 0.5}, [], "The existing benchmarks must map each benchmark to {model: accuracy}."),
    ],
)
def test_bad_input(candidate, existing, message):
    with pytest.raises(AutoBencherInputError) as raised:
        candidate_metrics(candidate, existing)
    assert message in str(raised.value)


def test_extra_models_in_existing_are_not_used():
    existing = {"x": {"m1": 0.3, "m2": 0.2, "m3": 0.6, "m4": 0.8, "m5": 0.1, "m6": 0.99}}
    assert candidate_metrics(CANDIDATE, existing).novelty == pytest.approx(0.3, abs=1e-12)


@pytest.mark.skipif(not OBSSCALING.exists(), reason="the public capability table is not next to this checkout")
def test_public_capability_table():
    # GSM8K as the "candidate" against the other six benchmarks with no missing cell, on every such base model.
    with OBSSCALING.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    others = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "XWinograd"]
    complete = [row for row in rows if all(row[column] for column in [*others, "GSM8K"])]
    assert len(complete) == 129  # 148 rows, 3 lack ARC-C and 16 XWinograd
    candidate = {row["Model"]: float(row["GSM8K"]) for row in complete}
    existing = {column: {row["Model"]: float(row[column]) for row in complete} for column in others}
    metrics = candidate_metrics(candidate, existing)
    v = np.array(list(candidate.values()))
    matrix = np.array([[existing[column][model] for column in others] for model in candidate])
    assert metrics.novelty == pytest.approx(independent_novelty(v, matrix), abs=1e-12)
    assert metrics.difficulty == pytest.approx(1 - max(candidate.values()), abs=0)
    assert metrics.separability == pytest.approx(float(np.mean(np.abs(v - v.mean()))), abs=1e-15)


def test_prediction_constant_up_to_rounding():
    # x is uncorrelated with v, so the slope is 0 and v_hat is constant; floating point leaves a spread of about
    # 6e-17, which ranked as it comes would give "novelty" 1.1667.
    v = np.array([0.7, 0.2, 0.2, 0.2, 0.7])
    x = np.array([[0.1], [0.2], [0.3], [0.4], [0.5]])
    result = novelty(v, x)
    assert 0 < np.ptp(result.prediction) < 1e-15
    assert result.value is None
    assert result.reason.startswith("The least-squares prediction is the same for every model")
