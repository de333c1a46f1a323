"""How much volunteers agree on the same items: Krippendorff's alpha and Fleiss' kappa.

Pure computation (numpy only, no Django): callers gather the values per item and pass them in.

- `krippendorff_alpha` takes any number of coders per item, missing values and four levels of
  measurement (nominal labels, ordinal Likert steps, interval and ratio numbers).
- `fleiss_kappa` is the classic statistic for nominal labels when every item has the same
  number of raters; `fleiss_kappa_from_labels` builds its input from label lists.
- `agreement_interpretation` puts either number into words for a page.
"""

import math
import numbers
import operator
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Literal

import numpy as np

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")

Value = float | str | None


def krippendorff_alpha(
    units: Mapping[Hashable, Sequence[Value]] | Sequence[Sequence[Value]],
    *,
    level: Level = "interval",
) -> float | None:
    """Krippendorff's alpha over `units`: one entry per item, holding the values its coders gave.

    `units` is either a mapping from an item's id to its values or a sequence of value lists.
    Which coder gave which value does not matter, only the values given to the same item. A
    missing value is `None` (or a float NaN); an item left with fewer than two values cannot be
    paired with anything and is dropped.

    Computed from the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's
    Alpha-Reliability"): an item with m values adds 1/(m-1) to o[c][k] for every ordered pair of
    its values (c, k) taken from different coders; n_c are the row totals and n the number of
    pairable values. Then

        D_o = 1/n            * sum_c sum_k o[c][k]  * delta2(c, k)
        D_e = 1/(n * (n-1))  * sum_c sum_k n_c n_k  * delta2(c, k)
        alpha = 1 - D_o / D_e

    with delta2 by `level`: nominal 0 if c == k else 1; ordinal
    (sum of n_g for g from c to k - (n_c + n_k) / 2) ** 2 over the values in order; interval
    (c - k) ** 2; ratio ((c - k) / (c + k)) ** 2, which needs values >= 0. Nominal values may be
    any hashable labels, ordinal values anything mutually comparable, interval and ratio values
    numbers.

    1 is perfect agreement, 0 agreement no better than chance, below 0 systematic disagreement.

    Returns None when alpha is undefined: fewer than two pairable values in all, or a single
    distinct value across every item (D_e == 0). In the second case the coders agree perfectly,
    yet the data cannot tell agreement from a lack of variation, so there is no alpha.

    The matrices are (number of distinct values) squared: meant for rating scales and label sets,
    not for thousands of distinct real numbers.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}.")
    pairable_units = _pairable_units(units.values() if isinstance(units, Mapping) else units)
    if not pairable_units:
        return None

    value_totals = Counter(value for unit in pairable_units for value in unit)
    values = _ordered_values(value_totals, level)
    index = {value: position for position, value in enumerate(values)}
    totals = np.array([value_totals[value] for value in values], dtype=float)
    pairable_count = int(totals.sum())

    coincidences = np.zeros((len(values), len(values)))
    for unit in pairable_units:
        counts = Counter(index[value] for value in unit)
        positions = np.fromiter(counts.keys(), dtype=int)
        in_unit = np.fromiter(counts.values(), dtype=float)
        pairs = np.outer(in_unit, in_unit) - np.diag(in_unit)
        coincidences[np.ix_(positions, positions)] += pairs / (len(unit) - 1)

    differences = _squared_differences(values, totals, level)
    expected = float(np.outer(totals, totals).ravel() @ differences.ravel()) / (pairable_count * (pairable_count - 1))
    if expected == 0:
        return None
    observed = float(coincidences.ravel() @ differences.ravel()) / pairable_count
    return 1 - observed / expected


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa (1971) for N items, each put by the same number n of raters into k categories.

    `counts[i][j]` is how many raters put item i into category j. With
    P_i = (sum_j counts[i][j] ** 2 - n) / (n * (n - 1)) the agreement on item i, P the mean of
    the P_i, p_j = sum_i counts[i][j] / (N * n) and P_e = sum_j p_j ** 2:

        kappa = (P - P_e) / (1 - P_e)

    Raises ValueError when the rows differ in length or in total (the number of raters must be
    the same for every item: see `fleiss_kappa_from_labels`), when a row has fewer than two
    raters, or when a count is negative or not a whole number. Returns None when there are no
    items, or when every rating falls into one category (P_e == 1: agreement is perfect but
    kappa is undefined).
    """
    rows = [[_whole_count(count) for count in row] for row in counts]
    if not rows:
        return None
    categories = len(rows[0])
    if any(len(row) != categories for row in rows):
        raise ValueError("Every item needs a count for every category: the rows differ in length.")
    raters = sum(rows[0])
    for position, row in enumerate(rows):
        if sum(row) != raters:
            raise ValueError(
                f"Fleiss' kappa needs the same number of raters for every item: item 0 has {raters}, "
                f"item {position} has {sum(row)}."
            )
    if raters < 2:
        raise ValueError(f"Fleiss' kappa needs at least 2 raters per item, not {raters}.")

    matrix = np.array(rows, dtype=float)
    items = len(rows)
    category_totals = matrix.sum(axis=0)
    if category_totals.max() == items * raters:
        return None
    item_agreement = ((matrix**2).sum(axis=1) - raters) / (raters * (raters - 1))
    mean_agreement = float(item_agreement.mean())
    proportions = category_totals / (items * raters)
    chance_agreement = float((proportions**2).sum())
    return (mean_agreement - chance_agreement) / (1 - chance_agreement)


def fleiss_counts(
    labels_per_item: Sequence[Sequence[str]],
    categories: Sequence[str] | None = None,
) -> list[list[int]]:
    """The counts matrix for `fleiss_kappa`: one row per item, one column per category.

    `categories` fixes the columns and their order; by default it is the sorted set of all labels
    given. A label outside `categories` raises ValueError. Items may have any number of labels
    here; `fleiss_kappa` itself insists on the same number for every item.
    """
    if categories is None:
        categories = sorted({label for labels in labels_per_item for label in labels})
    column = {category: position for position, category in enumerate(categories)}
    if len(column) != len(categories):
        raise ValueError("Each category may appear only once.")
    matrix = []
    for position, labels in enumerate(labels_per_item):
        row = [0] * len(categories)
        for label in labels:
            if label not in column:
                raise ValueError(f"Item {position} has the label {label!r}, which is not among the categories.")
            row[column[label]] += 1
        matrix.append(row)
    return matrix


def fleiss_kappa_from_labels(
    labels_per_item: Sequence[Sequence[str]],
    categories: Sequence[str] | None = None,
    *,
    raters: int | None = None,
) -> float | None:
    """Fleiss' kappa straight from the labels each item received.

    Fleiss' kappa needs the same number of raters on every item, so only items with exactly
    `raters` labels count; the others are left out. By default `raters` is the most common
    number of labels among items with at least two (on a tie, the larger number, which keeps
    more labels). `categories` is passed on to `fleiss_counts`; categories nobody used do not
    change kappa.

    Returns None when no item has that many labels, or when kappa is undefined (see
    `fleiss_kappa`). Raises ValueError for `raters` below 2.
    """
    if raters is None:
        sizes = Counter(len(labels) for labels in labels_per_item if len(labels) >= 2)
        if not sizes:
            return None
        raters = max(sizes, key=lambda size: (sizes[size], size))
    elif raters < 2:
        raise ValueError(f"Fleiss' kappa needs at least 2 raters per item, not {raters}.")
    kept = [labels for labels in labels_per_item if len(labels) == raters]
    if not kept:
        return None
    if categories is None:
        categories = sorted({label for labels in labels_per_item for label in labels})
    return fleiss_kappa(fleiss_counts(kept, categories))


def agreement_interpretation(value: float | None) -> str:
    """Words for an agreement coefficient (alpha or kappa), after Landis & Koch (1977).

    None: "not enough data"; below 0: "poor (worse than chance)"; up to 0.20 "slight", 0.40
    "fair", 0.60 "moderate", 0.80 "substantial", above that "almost perfect". Each bound belongs
    to the lower band.
    """
    if value is None:
        return "not enough data"
    if math.isnan(value):
        raise ValueError("An agreement coefficient cannot be NaN.")
    if value < 0:
        return "poor (worse than chance)"
    for upper, words in ((0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial")):
        if value <= upper:
            return words
    return "almost perfect"


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, numbers.Real) and math.isnan(value))


def _pairable_units(units: Iterable[Sequence[Value]]) -> list[list[Hashable]]:
    pairable = []
    for unit in units:
        if isinstance(unit, str | bytes):
            raise TypeError(f"Each unit must be a sequence of values, not the string {unit!r}.")
        present = [value for value in unit if not _is_missing(value)]
        if len(present) >= 2:
            pairable.append(present)
    return pairable


def _ordered_values(value_totals: Counter, level: Level) -> list:
    if level == "nominal":
        return list(value_totals)
    if level in ("interval", "ratio"):
        for value in value_totals:
            if not isinstance(value, numbers.Real):
                raise ValueError(f"{level.capitalize()} values must be numbers, not {value!r}.")
            if level == "ratio" and value < 0:
                raise ValueError(f"Ratio values cannot be negative, not {value!r}.")
    try:
        return sorted(value_totals)
    except TypeError as error:
        raise ValueError("Ordinal values must all be comparable with each other.") from error


def _squared_differences(values: list, totals: np.ndarray, level: Level) -> np.ndarray:
    """delta2(c, k) for every pair of distinct values, as a square matrix."""
    if level == "nominal":
        return 1 - np.eye(len(values))
    if level == "ordinal":
        position = np.arange(len(values))
        low = np.minimum.outer(position, position)
        high = np.maximum.outer(position, position)
        running = np.cumsum(totals)
        between = running[high] - running[low] + totals[low]  # sum of n_g for g from low to high
        return (between - np.add.outer(totals, totals) / 2) ** 2
    numbers_given = np.array(values, dtype=float)
    gaps = np.subtract.outer(numbers_given, numbers_given)
    if level == "interval":
        return gaps**2
    sums = np.add.outer(numbers_given, numbers_given)
    relative = np.divide(gaps, sums, out=np.zeros_like(gaps), where=sums != 0)
    return relative**2


def _whole_count(count: int) -> int:
    try:
        whole = operator.index(count)
    except TypeError as error:
        raise ValueError(f"Counts must be whole numbers, not {count!r}.") from error
    if whole < 0:
        raise ValueError(f"Counts cannot be negative, not {whole}.")
    return whole
