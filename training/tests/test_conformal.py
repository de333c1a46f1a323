"""Conformal factuality (training/calibration/conformal.py) against independent computations: a brute-force r(x)
and threshold with exact rationals, the refusal boundary, the guarantee's closed form, every split of a small set
enumerated, and random splits of synthetic calibrated data."""

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest

from training.calibration.conformal import (
    ClaimTable,
    ConformalInputError,
    conformal_guarantee,
    conformal_keep,
    conformal_minimum_n,
    conformal_quantile_index,
    conformal_r_values,
    conformal_split_factuality,
    conformal_threshold,
    conformal_threshold_from_r_values,
    conformal_validity,
)


def brute_r(scores, correct, a):
    """METHODS §4 read literally: distinct scores high to low, the set scoring >= t, the first t below a."""
    for t in sorted(set(scores), reverse=True):
        kept = [flag for score, flag in zip(scores, correct, strict=True) if score >= t]
        if Fraction(sum(kept), len(kept)) < a:
            return t
    return -math.inf


def brute_threshold(r_values, alpha):
    """The smallest k with k / (n + 1) >= 1 - alpha, found by counting; None when k would exceed n."""
    n = len(r_values)
    k = next(k for k in range(1, n + 2) if Fraction(k, n + 1) >= 1 - alpha)
    return None if k > n else sorted(r_values)[k - 1]


def random_answers(rng, answers, *, tie_values=None):
    scores, correct = [], []
    for _ in range(answers):
        size = rng.randint(0, 6)
        if tie_values:
            scores.append([float(rng.choice(tie_values)) for _ in range(size)])
        else:
            scores.append([rng.random() for _ in range(size)])
        correct.append([rng.random() < 0.7 for _ in range(size)])
    return scores, correct


@pytest.mark.parametrize("seed", range(40))
def test_r_values_and_threshold_match_brute_force(seed):
    rng = random.Random(seed)
    # Half the cases draw scores from a few values, so ties inside an answer and across answers are common.
    tie_values = [-1, 0, 1, 2, 3] if seed % 2 else None
    scores, correct = random_answers(rng, rng.randint(1, 25), tie_values=tie_values)
    table = ClaimTable.from_answers(scores, correct)
    for a_text in ("1", "0.75", "0.5", "0.3"):
        a = Fraction(a_text)
        expected_r = [brute_r(s, c, a) for s, c in zip(scores, correct, strict=True)]
        assert conformal_r_values(table, a_text).tolist() == expected_r
        for alpha_text in ("0.05", "0.1", "0.3", "0.5", "0.9"):
            result = conformal_threshold(table, alpha_text, a_text)
            expected = brute_threshold(expected_r, Fraction(alpha_text))
            assert result.threshold == expected
            assert result.is_refused == (expected is None)
            assert result.n == len(scores)


def test_r_value_walks_tie_groups_whole():
    # Scores 3, 2, 2, 1 with the second claim at 2 false: the set scoring >= 2 holds both claims at 2.
    table = ClaimTable.from_answers([[3.0, 2.0, 2.0, 1.0]], [[True, True, False, True]])
    assert conformal_r_values(table, 1).tolist() == [2.0]
    # At a = 0.6: {3} is 1, {3, 2, 2} is 2/3 >= 0.6, {all} is 3/4: never below.
    assert conformal_r_values(table, "0.6").tolist() == [-math.inf]
    # At a = 0.7: 2/3 < 0.7 at t = 2.
    assert conformal_r_values(table, "0.7").tolist() == [2.0]


def test_level_reached_exactly_is_not_below():
    # 7 correct of 10 claims reach a = 0.7: "falls below a" is strict, and the fraction equal to a is not below.
    table = ClaimTable.from_answers([[float(i) for i in range(10, 0, -1)]], [[True] * 7 + [False] * 3])
    assert conformal_r_values(table, "0.7").tolist() == [-math.inf]
    assert conformal_r_values(table, 0.7).tolist() == [-math.inf]
    assert conformal_r_values(table, "0.71").tolist() == [1.0]  # all ten: 7/10 < 0.71


def test_answer_without_claims_and_all_correct_is_minus_infinity():
    table = ClaimTable.from_answers([[], [0.4, 0.2]], [[], [True, True]])
    assert conformal_r_values(table, 1).tolist() == [-math.inf, -math.inf]
    result = conformal_threshold(table, "0.5", 1)
    assert result.threshold == -math.inf
    assert result.keeps_every_claim


@pytest.mark.parametrize(
    ("alpha", "minimum"),
    [("0.1", 9), ("0.05", 19), ("0.2", 4), ("0.25", 3), ("0.3", 3), ("0.01", 99), ("0.5", 1), ("0.9", 1), ("0.15", 6)],
)
def test_refusal_boundary(alpha, minimum):
    assert conformal_minimum_n(alpha) == minimum
    refused = conformal_threshold_from_r_values([0.5] * (minimum - 1), alpha, 1)
    assert refused.threshold is None
    assert refused.is_refused
    assert refused.lower is None and refused.upper is None
    assert refused.index == minimum  # ceil(minimum * (1 - alpha)) is minimum: one past the values
    assert f"at least {minimum} answers are needed" in refused.reason
    kept = conformal_threshold_from_r_values(list(range(minimum)), alpha, 1)
    assert kept.threshold == float(minimum - 1)  # the largest of the values: index n
    assert kept.reason is None
    assert kept.index == minimum


def test_no_answers_refuse():
    result = conformal_threshold(ClaimTable.from_answers([], []), "0.5", 1)
    assert result.is_refused
    assert result.n == 0


def test_quantile_index_uses_the_decimal_written():
    # (99 + 1)(1 - 0.45) is 55 exactly; in floats it is 55.00000000000001, whose ceiling would be 56.
    assert math.ceil((99 + 1) * (1 - 0.45)) == 56
    assert conformal_quantile_index(99, 0.45) == 55
    assert conformal_quantile_index(99, "0.45") == 55
    assert conformal_quantile_index(9, 0.7) == 3
    assert conformal_minimum_n(0.7) == 1
    assert conformal_quantile_index(19, 0.05) == 19
    assert conformal_quantile_index(99, 0.1) == 90
    assert conformal_quantile_index(100, 0.1) == 91  # ceil(90.9)


@pytest.mark.parametrize("n", [9, 10, 99, 211, 1000])
@pytest.mark.parametrize("alpha", ["0.1", "0.05", "0.2"])
def test_guarantee_closed_form(n, alpha):
    lower, upper = conformal_guarantee(n, alpha)
    assert lower == float(1 - Fraction(alpha))
    assert upper == float(1 - Fraction(alpha) + Fraction(1, n + 1))
    if n >= conformal_minimum_n(alpha):
        # Never above 1 once n is big enough: (n + 1) alpha >= 1.
        assert upper <= 1
        result = conformal_threshold_from_r_values(list(range(n)), alpha, 1)
        assert (result.lower, result.upper) == (lower, upper)


def test_guarantee_examples():
    assert conformal_guarantee(9, "0.1") == (0.9, 1.0)
    assert conformal_guarantee(99, "0.1") == (0.9, 0.91)
    assert conformal_guarantee(211, "0.1") == (0.9, float(Fraction(9, 10) + Fraction(1, 212)))


def test_keep_rule():
    assert conformal_keep([0.1, 0.5, 0.5, 0.9], 0.5).tolist() == [False, True, True, True]
    assert conformal_keep([0.1, -3.0], -math.inf).tolist() == [True, True]
    assert conformal_keep([0.1, 0.9], None).tolist() == [False, False]


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "abc", "nan", True, float("nan")])
def test_bad_alpha(bad):
    with pytest.raises(ConformalInputError, match="alpha"):
        conformal_threshold_from_r_values([0.0] * 20, bad, 1)


@pytest.mark.parametrize("bad", [0, 1.01, -1, "x", float("inf")])
def test_bad_level(bad):
    with pytest.raises(ConformalInputError, match="a must"):
        conformal_threshold_from_r_values([0.0] * 20, "0.1", bad)


def test_claim_table_refuses_bad_shapes_and_scores():
    with pytest.raises(ConformalInputError, match="2 scores but 1 labels"):
        ClaimTable.from_answers([[0.1, 0.2]], [[True]])
    with pytest.raises(ConformalInputError, match="finite"):
        ClaimTable.from_answers([[float("nan")]], [[True]])


def brute_split_factuality(scores, correct, a, alpha, order, calibration_size):
    """One split by hand: the threshold from the calibration answers, then each test answer's kept claims."""
    r = [brute_r(scores[i], correct[i], a) for i in order[:calibration_size]]
    threshold = brute_threshold(r, alpha)
    factual, kept_claims, all_claims = 0, 0, 0
    for i in order[calibration_size:]:
        kept = [c for s, c in zip(scores[i], correct[i], strict=True) if s >= threshold]
        factual += not kept or Fraction(sum(kept), len(kept)) >= a
        kept_claims += len(kept)
        all_claims += len(scores[i])
    test_size = len(order) - calibration_size
    return factual / test_size, (1 - kept_claims / all_claims) if all_claims else 0.0


def every_split(answers, calibration_size):
    rows = []
    for calibration in itertools.combinations(range(answers), calibration_size):
        rest = [i for i in range(answers) if i not in calibration]
        rows.append(list(calibration) + rest)
    return np.array(rows)


@pytest.mark.parametrize(("a", "alpha"), [("1", "0.2"), ("1", "0.4"), ("0.5", "0.2"), ("0.75", "0.3")])
def test_split_factuality_matches_brute_force_on_every_split(a, alpha):
    rng = random.Random(7)
    scores, correct = random_answers(rng, 10, tie_values=[0, 1, 2, 3])
    permutations = every_split(10, 5)
    result = conformal_split_factuality(ClaimTable.from_answers(scores, correct), alpha, a, permutations, 5)
    factuality, removed = result
    expected = [
        brute_split_factuality(scores, correct, Fraction(a), Fraction(alpha), list(row), 5) for row in permutations
    ]
    assert factuality.tolist() == pytest.approx([e[0] for e in expected], abs=1e-15)
    assert removed.tolist() == pytest.approx([e[1] for e in expected], abs=1e-15)


def test_every_split_of_distinct_values_gives_exactly_k_over_n_plus_one():
    # Each answer has a false claim, so every r(x) is finite and (continuous scores) distinct; with a = 1 an answer
    # is correct exactly when its r(x) is below the threshold. Over all splits of a fixed set (exchangeable), the
    # probability is k / (n + 1): inside [1 - alpha, 1 - alpha + 1 / (n + 1)].
    rng = random.Random(3)
    scores, correct = [], []
    for _ in range(10):
        size = rng.randint(1, 5)
        scores.append([rng.random() for _ in range(size)])
        flags = [rng.random() < 0.6 for _ in range(size)]
        flags[rng.randrange(size)] = False
        correct.append(flags)
    table = ClaimTable.from_answers(scores, correct)
    assert np.isfinite(conformal_r_values(table, 1)).all()
    permutations = every_split(10, 5)
    for alpha in ("0.2", "0.3", "0.5"):
        k = conformal_quantile_index(5, alpha)
        factuality, _ = conformal_split_factuality(table, alpha, 1, permutations, 5)
        assert factuality.mean() == pytest.approx(k / 6, abs=1e-12)
        lower, upper = conformal_guarantee(5, alpha)
        assert lower <= k / 6 <= upper


def test_split_factuality_refuses_small_calibration():
    table = ClaimTable.from_answers([[0.5]] * 10, [[True]] * 10)
    assert conformal_split_factuality(table, "0.1", 1, every_split(10, 5), 5) is None


def calibrated_answers(seed, answers):
    """Synthetic claims whose score is their probability of being true (a calibrated score)."""
    rng = np.random.default_rng(seed)
    scores, correct = [], []
    for size in rng.integers(1, 8, size=answers):
        score = rng.random(size)
        scores.append(score.tolist())
        correct.append((rng.random(size) < score).tolist())
    return scores, correct


def test_validity_on_synthetic_data_is_within_the_bounds():
    # 14 calibration answers: for these alphas (n + 1)(1 - alpha) ends in .5, so the exact coverage k / (n + 1) sits
    # halfway between the bounds, 0.033 from each: ten times the Monte Carlo error of 1000 splits.
    scores, correct = calibrated_answers(0, 300)
    # A useless score: the same claims in random order.
    rng = np.random.default_rng(1)
    shuffled = [rng.random(len(answer)).tolist() for answer in scores]
    alphas = ["0.1", "0.3", "0.5"]
    validity = conformal_validity(
        correct, {"calibrated": scores, "random": shuffled}, alphas, 1, splits=1000, calibration_size=14
    )
    assert (validity.splits, validity.calibration_size, validity.test_size, validity.a) == (1000, 14, 286, 1.0)
    for name in ("calibrated", "random"):
        for alpha, point in zip(alphas, validity.curves[name], strict=True):
            assert (point.lower, point.upper) == conformal_guarantee(14, alpha)
            assert point.target == float(1 - Fraction(alpha))
            assert point.lower <= point.factuality <= point.upper, (name, alpha, point)
            assert point.reason is None
    # The informative score removes fewer claims for the same guarantee.
    for calibrated, uninformative in zip(validity.curves["calibrated"], validity.curves["random"], strict=True):
        assert calibrated.removed < uninformative.removed


def test_validity_is_reproducible_and_reports_refusals():
    scores, correct = calibrated_answers(2, 30)
    first = conformal_validity(correct, {"s": scores}, ["0.01", "0.2"], 1, splits=50, seed=4)
    second = conformal_validity(correct, {"s": scores}, ["0.01", "0.2"], 1, splits=50, seed=4)
    assert first == second
    refused = first.curves["s"][0]
    assert refused.factuality is None
    assert refused.reason == "15 calibration answers are too few for alpha = 0.01 (at least 99 are needed)."
    assert first.curves["s"][1].factuality is not None


def test_validity_input_errors():
    scores, correct = calibrated_answers(2, 10)
    with pytest.raises(ConformalInputError, match="splits"):
        conformal_validity(correct, {"s": scores}, ["0.2"], 1, splits=0)
    with pytest.raises(ConformalInputError, match="calibration size"):
        conformal_validity(correct, {"s": scores}, ["0.2"], 1, calibration_size=10)
    with pytest.raises(ConformalInputError, match="one value per claim"):
        conformal_validity(correct, {"s": [answer[:-1] for answer in scores]}, ["0.2"], 1)
    with pytest.raises(ConformalInputError, match="at least 2 answers"):
        conformal_validity(correct[:1], {"s": scores[:1]}, ["0.2"], 1)


def test_split_factuality_in_blocks_matches_one_block(monkeypatch):
    scores, correct = calibrated_answers(5, 40)
    table = ClaimTable.from_answers(scores, correct)
    permutations = np.random.default_rng(0).permuted(np.tile(np.arange(40), (30, 1)), axis=1)
    whole = conformal_split_factuality(table, "0.2", "0.8", permutations, 20)
    monkeypatch.setattr("training.calibration.conformal._VALIDITY_BLOCK_CELLS", 100)  # 2 splits a block
    blocks = conformal_split_factuality(table, "0.2", "0.8", permutations, 20)
    assert whole[0].tolist() == blocks[0].tolist()
    assert whole[1].tolist() == blocks[1].tolist()


def test_level_with_a_long_decimal_stays_exact():
    # a = 0.50000000000000001 is 50000000000000001 / 10^17: its products with claim counts overflow 64-bit
    # integers, so the comparisons fall back to Python integers. Exactly half correct is below it, where a float
    # would round a to 0.5 and call it reached.
    a = "0.50000000000000001"
    assert float(a) == 0.5
    # 100 claims: 100 * 10^17 is past 2^63.
    half = ([float(s) for s in range(100, 0, -1)], [True] * 50 + [False] * 50)
    every = ([float(s) for s in range(100, 0, -1)], [True] * 100)
    table = ClaimTable.from_answers([half[0]], [half[1]])
    assert conformal_r_values(table, a).tolist() == [brute_r(*half, Fraction(a))] == [1.0]
    assert conformal_r_values(table, "0.5").tolist() == [-math.inf]
    scores, correct = [half[0], half[0], every[0], every[0]], [half[1], half[1], every[1], every[1]]
    permutations = every_split(4, 2)
    factuality, removed = conformal_split_factuality(
        ClaimTable.from_answers(scores, correct), "0.5", a, permutations, 2
    )
    expected = [
        brute_split_factuality(scores, correct, Fraction(a), Fraction(1, 2), list(row), 2) for row in permutations
    ]
    assert factuality.tolist() == [e[0] for e in expected] == [1.0, 0.5, 0.5, 0.5, 0.5, 0.0]
    assert removed.tolist() == [e[1] for e in expected]
