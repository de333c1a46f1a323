"""Agreement statistics against published numbers, hand arithmetic and a brute-force definition."""

import math
import random
from collections import Counter
from fractions import Fraction
from itertools import permutations

import pytest

from feedback.quality.agreement import (
    LEVELS,
    agreement_interpretation,
    fleiss_counts,
    fleiss_kappa,
    fleiss_kappa_from_labels,
    krippendorff_alpha,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the reliability data with
# missing values: 4 coders (rows) x 12 units (columns), values 1-5, None where a coder gave none.
CODER_A = [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None]
CODER_B = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3]
CODER_C = [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None]
CODER_D = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]
KRIPPENDORFF_UNITS = [list(unit) for unit in zip(CODER_A, CODER_B, CODER_C, CODER_D, strict=True)]

# Fleiss (1971) as tabled on Wikipedia: 10 items, 14 raters each, 5 categories.
FLEISS_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


# Published values


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_published_example(level, published):
    alpha = krippendorff_alpha(KRIPPENDORFF_UNITS, level=level)
    assert round(alpha, 3) == published


def test_krippendorff_published_example_exact_nominal():
    # Unit 12 has a single value and is dropped, leaving n = 40 pairable values with
    # n_1 = 9, n_2 = 13, n_3 = 10, n_4 = 5, n_5 = 3. Only three units disagree, each with m = 4:
    #   unit 2 [2, 2, 3, 2]: 6 ordered unequal pairs / 3 = 2
    #   unit 6 [1, 2, 3, 4]: 12 / 3 = 4
    #   unit 8 [1, 1, 2, 1]: 6 / 3 = 2
    #   D_o = (2 + 4 + 2) / 40 = 1/5
    #   D_e = (40² - (9² + 13² + 10² + 5² + 3²)) / (40 * 39) = 1216 / 1560 = 152/195
    #   alpha = 1 - (1/5) / (152/195) = 1 - 39/152 = 113/152 ≈ 0.7434
    assert krippendorff_alpha(KRIPPENDORFF_UNITS, level="nominal") == pytest.approx(113 / 152, abs=1e-12)


def test_fleiss_published_example():
    # Category totals 20, 28, 39, 21, 32 of N * n = 140 ratings:
    #   P_e = (20² + 28² + 39² + 21² + 32²) / 140² = 4170 / 19600 = 417 / 1960 ≈ 0.21276
    # P_i = (sum_j n_ij² - 14) / (14 * 13); sum_j n_ij² per item: 196, 60, 70, 94, 74, 98, 58, 46,
    # 66, 66, so P = (sum - 140) / (10 * 182) = (828 - 140) / 1820 = 172 / 455 ≈ 0.37802
    #   kappa = (172/455 - 417/1960) / (1 - 417/1960) = 4211 / 20059 ≈ 0.20993
    squares = [sum(count * count for count in row) for row in FLEISS_COUNTS]
    assert squares == [196, 60, 70, 94, 74, 98, 58, 46, 66, 66]
    mean_agreement = Fraction(sum(squares) - 140, 1820)
    chance_agreement = Fraction(417, 1960)
    assert mean_agreement == Fraction(172, 455)
    assert (mean_agreement - chance_agreement) / (1 - chance_agreement) == Fraction(4211, 20059)

    kappa = fleiss_kappa(FLEISS_COUNTS)
    assert kappa == pytest.approx(4211 / 20059, abs=1e-12)
    assert round(kappa, 3) == 0.210


# Hand-computed cases


def test_alpha_three_unit_nominal_case():
    # Units ["a", "a"], ["a", "b"], ["b", "b", "b", None]; ["a"] has one value and is dropped.
    #   ["a", "a"]:      m = 2, o_aa += 2 * 1 / 1 = 2
    #   ["a", "b"]:      m = 2, o_ab += 1, o_ba += 1
    #   ["b", "b", "b"]: m = 3, o_bb += 3 * 2 / 2 = 3
    # o = [[2, 1], [1, 3]], n_a = 3, n_b = 4, n = 7
    #   D_o = (o_ab + o_ba) / n = 2/7
    #   D_e = (n_a n_b + n_b n_a) / (n (n - 1)) = 24 / 42 = 4/7
    #   alpha = 1 - (2/7) / (4/7) = 1/2
    units = [["a", "a"], ["a", "b"], ["b", "b", "b", None], ["a"]]
    assert krippendorff_alpha(units, level="nominal") == pytest.approx(0.5, abs=1e-12)


def test_alpha_small_interval_case():
    # Units [1, 2] and [3, 3]: n_1 = 1, n_2 = 1, n_3 = 2, n = 4; o_12 = o_21 = 1, o_33 = 2.
    #   D_o = (1 * 1² + 1 * 1²) / 4 = 1/2
    #   D_e = 2 * (1*1 * 1² + 1*2 * 2² + 1*2 * 1²) / (4 * 3) = 2 * 11 / 12 = 11/6
    #   alpha = 1 - (1/2) / (11/6) = 8/11
    assert krippendorff_alpha([[1, 2], [3, 3]], level="interval") == pytest.approx(8 / 11, abs=1e-12)


def test_alpha_small_ordinal_case():
    # Units [1, 3] and [2, 2]: n_1 = 1, n_2 = 2, n_3 = 1, n = 4; o_13 = o_31 = 1, o_22 = 2.
    #   delta²(1, 2) = (n_1 + n_2 - (n_1 + n_2)/2)² = (3 - 1.5)² = 2.25
    #   delta²(2, 3) = (n_2 + n_3 - (n_2 + n_3)/2)² = 2.25
    #   delta²(1, 3) = (n_1 + n_2 + n_3 - (n_1 + n_3)/2)² = (4 - 1)² = 9
    #   D_o = (1 * 9 + 1 * 9) / 4 = 4.5
    #   D_e = 2 * (1*2 * 2.25 + 1*1 * 9 + 2*1 * 2.25) / (4 * 3) = 36 / 12 = 3
    #   alpha = 1 - 4.5 / 3 = -0.5
    assert krippendorff_alpha([[1, 3], [2, 2]], level="ordinal") == pytest.approx(-0.5, abs=1e-12)


def test_alpha_small_ratio_case():
    # Same units [1, 3] and [2, 2], ratio differences ((c - k) / (c + k))²:
    #   delta²(1, 3) = (2/4)² = 1/4, delta²(1, 2) = (1/3)² = 1/9, delta²(2, 3) = (1/5)² = 1/25
    #   D_o = 2 * 1 * 1/4 / 4 = 1/8
    #   D_e = 2 * (1*2 * 1/9 + 1*1 * 1/4 + 2*1 * 1/25) / 12 = 497/5400
    #   alpha = 1 - (1/8) / (497/5400) = 1 - 675/497 = -178/497
    assert krippendorff_alpha([[1, 3], [2, 2]], level="ratio") == pytest.approx(-178 / 497, abs=1e-12)


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_perfect_agreement_is_one(level):
    # Every unit agrees, two distinct values overall: D_o = 0, D_e > 0.
    assert krippendorff_alpha([[1, 1, 1], [2, 2], [2, None, 2]], level=level) == pytest.approx(1.0, abs=1e-12)


def test_fleiss_perfect_agreement_is_one():
    # P_i = (3² - 3) / (3 * 2) = 1 for both items, P = 1; p = [1/2, 1/2], P_e = 1/2.
    #   kappa = (1 - 1/2) / (1 - 1/2) = 1
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0


def test_fleiss_small_disagreement_case():
    # Two raters: item 1 both in category 0, item 2 split.
    #   P_1 = (2² - 2) / 2 = 1, P_2 = (1 + 1 - 2) / 2 = 0, P = 1/2
    #   p = [3/4, 1/4], P_e = 9/16 + 1/16 = 5/8
    #   kappa = (1/2 - 5/8) / (1 - 5/8) = -1/3
    assert fleiss_kappa([[2, 0], [1, 1]]) == pytest.approx(-1 / 3, abs=1e-12)


# Undefined and invalid input


@pytest.mark.parametrize(
    "units",
    [
        [],
        [[1], [2, None], [None, None]],  # no unit has two values
        [[3, 3], [3, 3, 3], [3, None]],  # one distinct value overall: D_e = 0
    ],
)
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_undefined_is_none(units, level):
    assert krippendorff_alpha(units, level=level) is None


def test_fleiss_undefined_is_none():
    assert fleiss_kappa([]) is None
    # Everything in one category: p = [1, 0], P_e = 1.
    assert fleiss_kappa([[4, 0], [4, 0]]) is None


def test_fleiss_unequal_rater_counts_raise():
    with pytest.raises(ValueError, match="same number of raters.*item 0 has 3, item 1 has 2"):
        fleiss_kappa([[2, 1], [1, 1]])


def test_fleiss_invalid_counts_raise():
    with pytest.raises(ValueError, match="at least 2 raters"):
        fleiss_kappa([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="differ in length"):
        fleiss_kappa([[1, 1], [2]])
    with pytest.raises(ValueError, match="negative"):
        fleiss_kappa([[3, -1], [1, 1]])
    with pytest.raises(ValueError, match="whole numbers"):
        fleiss_kappa([[1.5, 0.5], [1, 1]])


def test_alpha_invalid_input_raises():
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha([[1, 2]], level="cardinal")
    with pytest.raises(ValueError, match="Interval values must be numbers"):
        krippendorff_alpha([["a", "b"]], level="interval")
    with pytest.raises(ValueError, match="Ratio values cannot be negative"):
        krippendorff_alpha([[-1, 2]], level="ratio")
    with pytest.raises(ValueError, match="comparable"):
        krippendorff_alpha([[1, "b"]], level="ordinal")
    with pytest.raises(TypeError, match="sequence of values"):
        krippendorff_alpha(["ab", "ab"], level="nominal")


# Input forms


def test_alpha_accepts_a_mapping_and_ignores_coder_order_and_unpairable_units():
    by_item = {f"item-{position}": unit for position, unit in enumerate(KRIPPENDORFF_UNITS)}
    shuffled = [list(reversed(unit)) for unit in KRIPPENDORFF_UNITS]
    with_extra = [*KRIPPENDORFF_UNITS, [None, 5, None], [], [math.nan, 2.0]]
    for level in LEVELS:
        expected = krippendorff_alpha(KRIPPENDORFF_UNITS, level=level)
        assert krippendorff_alpha(by_item, level=level) == pytest.approx(expected, abs=1e-12)
        assert krippendorff_alpha(shuffled, level=level) == pytest.approx(expected, abs=1e-12)
        assert krippendorff_alpha(with_extra, level=level) == pytest.approx(expected, abs=1e-12)


def test_alpha_default_level_is_interval():
    assert krippendorff_alpha(KRIPPENDORFF_UNITS) == krippendorff_alpha(KRIPPENDORFF_UNITS, level="interval")


def test_fleiss_counts_from_labels():
    labels = [["spam", "ok", "ok"], ["pii"], ["ok", "ok"]]
    # Default columns: the sorted labels "ok", "pii", "spam".
    assert fleiss_counts(labels) == [[2, 0, 1], [0, 1, 0], [2, 0, 0]]
    assert fleiss_counts(labels, ["spam", "pii", "ok", "toxic"]) == [[1, 0, 2, 0], [0, 1, 0, 0], [0, 0, 2, 0]]
    with pytest.raises(ValueError, match="'pii', which is not among the categories"):
        fleiss_counts(labels, ["ok", "spam"])
    with pytest.raises(ValueError, match="only once"):
        fleiss_counts(labels, ["ok", "ok"])


def test_fleiss_from_labels_keeps_items_with_the_usual_number_of_raters():
    labels = [
        ["a", "a", "b"],
        ["b", "b", "b"],
        ["a", "b"],  # two raters: left out by default
        ["a", "a", "a"],
        ["c"],  # one rater: never pairable
    ]
    # Three raters is the most common count, so kappa is that of the three three-label items.
    expected = fleiss_kappa([[2, 1, 0], [0, 3, 0], [3, 0, 0]])
    assert fleiss_kappa_from_labels(labels) == pytest.approx(expected, abs=1e-12)
    # An unused category changes nothing.
    assert fleiss_kappa_from_labels(labels, ["a", "b", "c", "d"]) == pytest.approx(expected, abs=1e-12)
    # Asking for two raters keeps only ["a", "b"]: P = 0, p = [1/2, 1/2, 0], P_e = 1/2, kappa = -1.
    assert fleiss_kappa_from_labels(labels, raters=2) == pytest.approx(-1.0, abs=1e-12)
    assert fleiss_kappa_from_labels(labels, raters=5) is None
    assert fleiss_kappa_from_labels([["a"], ["b"]]) is None
    with pytest.raises(ValueError, match="at least 2 raters"):
        fleiss_kappa_from_labels(labels, raters=1)


def test_fleiss_from_labels_breaks_a_tie_towards_more_raters():
    labels = [["a", "b"], ["a", "a"], ["a", "a", "b"], ["b", "b", "b"]]
    assert fleiss_kappa_from_labels(labels) == pytest.approx(fleiss_kappa([[2, 1], [0, 3]]), abs=1e-12)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "not enough data"),
        (-0.3, "poor (worse than chance)"),
        (0.0, "slight"),
        (0.20, "slight"),
        (0.21, "fair"),
        (0.40, "fair"),
        (0.41, "moderate"),
        (0.60, "moderate"),
        (0.61, "substantial"),
        (0.80, "substantial"),
        (0.81, "almost perfect"),
        (1.0, "almost perfect"),
    ],
)
def test_agreement_interpretation(value, words):
    assert agreement_interpretation(value) == words


def test_agreement_interpretation_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        agreement_interpretation(math.nan)


# Independent check: alpha from its pairwise definition, value by value, without a coincidence matrix


def pairwise_alpha(units, level):
    """1 - D_o / D_e with D_o the mean disagreement of ordered value pairs within units (each unit
    weighted m_u / n, i.e. its pairs by 1 / (m_u - 1)) and D_e that of all ordered pairs of
    pairable values, whatever their unit."""
    pairable = [[value for value in unit if value is not None] for unit in units]
    pairable = [unit for unit in pairable if len(unit) >= 2]
    values = [value for unit in pairable for value in unit]
    n = len(values)
    frequency = Counter(values)

    def difference(c, k):
        if level == "nominal":
            return 0.0 if c == k else 1.0
        if level == "interval":
            return float(c - k) ** 2
        if level == "ratio":
            return 0.0 if c == k else ((c - k) / (c + k)) ** 2
        low, high = min(c, k), max(c, k)
        between = sum(count for value, count in frequency.items() if low <= value <= high)
        return (between - (frequency[c] + frequency[k]) / 2) ** 2

    observed = sum(sum(difference(c, k) for c, k in permutations(unit, 2)) / (len(unit) - 1) for unit in pairable) / n
    expected = sum(difference(c, k) for c, k in permutations(values, 2)) / (n * (n - 1))
    return 1 - observed / expected


def random_units(seed, *, decimal_values):
    rng = random.Random(seed)
    units = []
    for _ in range(rng.randint(5, 25)):
        unit = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.3:
                unit.append(None)
            elif decimal_values:
                unit.append(round(rng.uniform(0, 10), 1))
            else:
                unit.append(rng.randint(1, 5))
        units.append(unit)
    return units


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("decimal_values", [False, True])
def test_interval_alpha_matches_pairwise_definition(seed, decimal_values):
    units = random_units(seed, decimal_values=decimal_values)
    assert krippendorff_alpha(units, level="interval") == pytest.approx(
        pairwise_alpha(units, "interval"), abs=1e-9, rel=0
    )


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "ratio"])
def test_other_levels_match_pairwise_definition(seed, level):
    units = random_units(100 + seed, decimal_values=False)
    assert krippendorff_alpha(units, level=level) == pytest.approx(pairwise_alpha(units, level), abs=1e-9, rel=0)


@pytest.mark.parametrize("seed", range(10))
def test_nominal_alpha_and_fleiss_kappa_agree_on_complete_data(seed):
    # With m raters on every one of N items and nothing missing, D_o = 1 - P and
    # D_e = n / (n - 1) * (1 - P_e) with n = N m, so 1 - alpha = (1 - 1 / (N m)) * (1 - kappa).
    rng = random.Random(1000 + seed)
    raters, items = rng.randint(2, 6), rng.randint(3, 20)
    labels = [[rng.choice("xyz") for _ in range(raters)] for _ in range(items)]
    kappa = fleiss_kappa_from_labels(labels)
    alpha = krippendorff_alpha(labels, level="nominal")
    assert 1 - alpha == pytest.approx((1 - 1 / (items * raters)) * (1 - kappa), abs=1e-12)
