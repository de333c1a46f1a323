"""Arena ratings: Bradley-Terry maximum likelihood with bootstrap intervals; pure (numpy, scipy).

The method is ../shared/METHODS.md §1 (the one Chatbot Arena publishes); `docs/leaderboards.md`
explains it for newcomers.

Scale. Model i beats model j with probability

    P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400)),

so 400 rating points are a factor of 10 in the odds of winning (100 points: 64% to 36%). A tie,
and a "tie (bothbad)", counts as half a win for each side. Internally the fit works in natural
log-odds, theta = R * ln(10) / 400.

Anchoring. The likelihood only sees rating differences, so the ratings are pinned by a
convention: by default their mean is 1000 (in `leaderboard`, the mean over the models that are
not provisional, whose ratings are stable from one bootstrap round to the next; in
`fit_ratings`, over all models); with `anchor="some-model"`
that model is at `anchor_rating` (1000 unless said otherwise) and the others relative to it.
Bootstrap rounds are anchored the same way, so a named anchor has a zero-width interval.

Counting. The fit uses battles aggregated to counts per unordered pair of models and outcome
(`BattleCounts`): the cost of a fit is O(models²) per Newton iteration, whatever the number of
battles. Which side a model sat on does not enter the model (no first-position term), so
(a, b, "model_a") and (b, a, "model_b") are the same event.

Regularisation. Newton's method solves the penalised likelihood with a Gaussian prior of
precision `REGULARIZATION` (1e-6) on each theta, that is a standard deviation of 1000 log-odds
units (about 174,000 rating points). It changes nothing measurable on a connected league (less
than 0.001 points in the reference check of `bench/arena_ratings.py` and the tests) but makes
every case well posed: a model that won or lost every battle gets a large finite rating instead
of an infinite one, and separate groups of models that never met one another (a disconnected
comparison graph, see `BattleCounts.is_connected`) are each centred on the common mean, since
the battles say nothing about how the groups compare.

Intervals. `leaderboard` resamples the battles with replacement (a multinomial draw over the
aggregated counts, exactly the same distribution; see `multinomial_draws`), refits each round and reports the 2.5 and
97.5 percentiles of each model's rating; the rating itself is the fit on all battles. Rank is
1 + the number of ranked models whose lower bound is above the model's upper bound. Models
with fewer than `min_battles` battles are provisional: fitted and listed, not ranked (and not
counted in the others' ranks).

Style control. `style_leaderboard` adds per-battle covariates to the logistic model: for each
style feature (`style_features`), the normalised difference (f_a - f_b) / (f_a + f_b) (0 when
both are 0), divided by its root mean square over the battles. The ratings are the model terms
with style held fixed; the coefficients say how many rating points one unit of each covariate
is worth.
"""

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from scipy.linalg import lapack
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

OUTCOMES = ("model_a", "model_b", "tie", "tie (bothbad)")
SCALE = 400.0  # rating points per factor of BASE in the odds
BASE = 10.0
MEAN_RATING = 1000.0
LOG_ODDS_PER_POINT = math.log(BASE) / SCALE
MIN_BATTLES = 50
DEFAULT_ROUNDS = 100
REGULARIZATION = 1e-6
INTERVAL_PERCENTILES = (2.5, 97.5)
STYLE_FEATURES = ("length", "headers", "list_items", "bold")

# Newton's method: stop when no theta moves by more than this (about 2e-8 rating points), and
# never move a theta by more than MAX_STEP log-odds in one iteration (keeps far-off starts sane).
_TOLERANCE = 1e-10
_MAX_STEP = 2.0
_MAX_ITERATIONS = 200
# Bootstrap draws over at least this many battles use the Poisson route of multinomial_draws.
_POISSON_FROM = 10_000
# Bootstrap rounds fitted together: each holds a few models x models arrays while it is fitted.
_ROUNDS_PER_BLOCK = 20
# Separate groups of models (a disconnected league) are tied together by the prior alone, whose
# curvature is tiny: there rounding error sets a floor of about 1e-5 log-odds on the steps.
# A step below _STALL that no longer halves has reached that floor (0.002 rating points).
_STALL = 1e-5

# Columns of BattleCounts.pair_counts: first model of the pair won, second won, tie of either kind.
_FIRST, _SECOND, _TIE = 0, 1, 2


def _check_battle(model_a: Any, model_b: Any, winner: Any) -> None:
    if not isinstance(model_a, str) or not isinstance(model_b, str) or not model_a or not model_b:
        raise ValueError(f"Model names must be non-empty strings, got {model_a!r} and {model_b!r}.")
    if winner not in OUTCOMES:
        raise ValueError(f"Unknown winner {winner!r}; expected one of {', '.join(OUTCOMES)}.")
    if model_a == model_b:
        raise ValueError(f"Model {model_a!r} plays itself; a battle needs two different models.")


class BattleCounts:
    """Battles aggregated per unordered pair of models and outcome.

    Attributes: `models` (sorted names), `total` (battles), `model_battles` (name -> battles the
    model played), `outcome_totals` (outcome -> battles), and the arrays the fit uses:
    `pair_first`, `pair_second` (model indices, first < second) and `pair_counts` (one row per
    pair: first won, second won, ties of both kinds).
    """

    def __init__(self, models: Sequence[str], cells: Mapping[tuple[int, int, int], int], outcome_totals: Mapping):
        self.models: list[str] = list(models)
        self.index: dict[str, int] = {name: position for position, name in enumerate(self.models)}
        pairs = sorted({(first, second) for first, second, _ in cells})
        row_of = {pair: row for row, pair in enumerate(pairs)}
        self.pair_first = np.array([pair[0] for pair in pairs], dtype=np.intp)
        self.pair_second = np.array([pair[1] for pair in pairs], dtype=np.intp)
        self.pair_counts = np.zeros((len(pairs), 3), dtype=np.int64)
        for (first, second, outcome), count in cells.items():
            self.pair_counts[row_of[(first, second)], outcome] += count
        self.total = int(self.pair_counts.sum())
        per_model = np.zeros(len(self.models), dtype=np.int64)
        pair_totals = self.pair_counts.sum(axis=1)
        np.add.at(per_model, self.pair_first, pair_totals)
        np.add.at(per_model, self.pair_second, pair_totals)
        self.model_battles: dict[str, int] = {name: int(per_model[i]) for i, name in enumerate(self.models)}
        self.outcome_totals: dict[str, int] = {outcome: int(outcome_totals.get(outcome, 0)) for outcome in OUTCOMES}

    def __repr__(self) -> str:
        return f"BattleCounts({len(self.models)} models, {self.total} battles)"

    @classmethod
    def from_counts(cls, rows: Iterable[tuple[str, str, str, int]]) -> "BattleCounts":
        """From (model_a, model_b, winner, count) rows, as a SQL GROUP BY gives them (repeats add up)."""
        ordered: Counter = Counter()
        for model_a, model_b, winner, count in rows:
            _check_battle(model_a, model_b, winner)
            if isinstance(count, bool) or not isinstance(count, int | np.integer):
                raise ValueError(f"A battle count must be an integer, got {count!r}.")
            if count < 0:
                raise ValueError(f"Negative battle count {count} for {model_a!r} against {model_b!r}.")
            if count:
                ordered[(model_a, model_b, winner)] += int(count)
        return cls._from_ordered(ordered)

    @classmethod
    def from_battles(cls, rows: Iterable[tuple[str, str, str]]) -> "BattleCounts":
        """From one (model_a, model_b, winner) row per battle; streams, memory grows with pairs only."""
        return cls.from_counts((model_a, model_b, winner, 1) for model_a, model_b, winner in rows)

    @classmethod
    def from_arrays(
        cls, models: Sequence[str], model_a: np.ndarray, model_b: np.ndarray, winner: np.ndarray
    ) -> "BattleCounts":
        """From integer arrays: indices into `models` for each side and into OUTCOMES for the winner."""
        names = list(models)
        if len(set(names)) != len(names):
            raise ValueError("Model names must be unique.")
        model_a, model_b, winner = (np.asarray(values, dtype=np.int64) for values in (model_a, model_b, winner))
        if not model_a.shape == model_b.shape == winner.shape or model_a.ndim != 1:
            raise ValueError("model_a, model_b and winner must be 1-d arrays of one length.")
        m = len(names)
        if model_a.size:
            if min(model_a.min(), model_b.min()) < 0 or max(model_a.max(), model_b.max()) >= m:
                raise ValueError("A model index is out of range.")
            if winner.min() < 0 or winner.max() >= len(OUTCOMES):
                raise ValueError(f"A winner code is out of range; codes index {OUTCOMES}.")
            same = np.flatnonzero(model_a == model_b)
            if same.size:
                raise ValueError(f"Model {names[model_a[same[0]]]!r} plays itself (battle {same[0]}).")
        # Put each pair in (lower index, higher index) order and say who won from that order.
        # Models are re-indexed by their sorted names so that `models` comes out sorted, and a
        # name without battles is left out (as from_counts does).
        played = np.zeros(m, dtype=bool)
        played[model_a] = True
        played[model_b] = True
        order = np.array(
            [i for i in np.argsort(np.array(names, dtype=object), kind="stable") if played[i]], dtype=np.int64
        )
        rank = np.zeros(m, dtype=np.int64)
        rank[order] = np.arange(order.size)
        m = order.size
        a, b = rank[model_a], rank[model_b]
        first, second = np.minimum(a, b), np.maximum(a, b)
        a_is_first = a < b
        outcome = np.full(winner.shape, _TIE, dtype=np.int64)
        outcome[winner == 0] = np.where(a_is_first[winner == 0], _FIRST, _SECOND)
        outcome[winner == 1] = np.where(a_is_first[winner == 1], _SECOND, _FIRST)
        keys = (first * m + second) * 3 + outcome
        counts = np.bincount(keys, minlength=m * m * 3)
        present = np.flatnonzero(counts)
        cells = {(int(key // 3 // m), int(key // 3 % m), int(key % 3)): int(counts[key]) for key in present}
        totals = np.bincount(winner, minlength=len(OUTCOMES))
        return cls([names[i] for i in order], cells, {outcome: int(totals[i]) for i, outcome in enumerate(OUTCOMES)})

    @classmethod
    def _from_ordered(cls, ordered: Mapping[tuple[str, str, str], int]) -> "BattleCounts":
        models = sorted({name for model_a, model_b, _ in ordered for name in (model_a, model_b)})
        index = {name: position for position, name in enumerate(models)}
        cells: Counter = Counter()
        totals: Counter = Counter()
        for (model_a, model_b, winner), count in ordered.items():
            a, b = index[model_a], index[model_b]
            if winner == "model_a":
                outcome = _FIRST if a < b else _SECOND
            elif winner == "model_b":
                outcome = _SECOND if a < b else _FIRST
            else:
                outcome = _TIE
            cells[(min(a, b), max(a, b), outcome)] += count
            totals[winner] += count
        return cls(models, cells, totals)

    def wins_matrix(self, pair_counts: np.ndarray | None = None) -> np.ndarray:
        """m x m (or rounds x m x m for stacked counts): wins of row over column, ties as half."""
        counts = self.pair_counts if pair_counts is None else pair_counts
        m = len(self.models)
        wins = np.zeros(counts.shape[:-2] + (m, m))
        half_ties = 0.5 * counts[..., _TIE]
        wins[..., self.pair_first, self.pair_second] = counts[..., _FIRST] + half_ties
        wins[..., self.pair_second, self.pair_first] = counts[..., _SECOND] + half_ties
        return wins

    def battles_matrix(self) -> np.ndarray:
        """m x m int array: battles between row and column (either side), symmetric, 0 diagonal."""
        m = len(self.models)
        battles = np.zeros((m, m), dtype=np.int64)
        totals = self.pair_counts.sum(axis=1)
        battles[self.pair_first, self.pair_second] = totals
        battles[self.pair_second, self.pair_first] = totals
        return battles

    def is_connected(self) -> bool:
        """Whether every model is linked to every other by a chain of battles (ratings comparable)."""
        m = len(self.models)
        if m <= 1:
            return True
        graph = coo_matrix((np.ones(len(self.pair_first)), (self.pair_first, self.pair_second)), shape=(m, m))
        components, _ = connected_components(graph, directed=False)
        return components == 1


# ---------------------------------------------------------------------------------------------
# Fitting


def _fix_mean_direction(hessian: np.ndarray) -> None:
    """Give the (m x m, or stacked) Hessian a well-conditioned curvature along the constant vector.

    Ratings are defined up to a constant: the log-likelihood's Hessian is a graph Laplacian
    whose null space holds the constant vector (the prior alone gives it curvature
    `regularization`, which makes the solve ill-conditioned). Adding c/m to every entry gives
    that direction curvature c and leaves every direction orthogonal to it unchanged; the
    iterate is kept at mean zero, where the penalised optimum lies (its gradient sums to
    -regularization * sum(theta)), so the step is the exact Newton step.
    """
    m = hessian.shape[-1]
    diagonal = np.arange(m)
    scale = hessian[..., diagonal, diagonal].mean(axis=-1) / m
    hessian += scale[..., None, None]


def _solve(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Solve each m x m system of a stack, one LAPACK call (dgesv) each.

    Not `numpy.linalg.solve` on the whole stack: with the systems this small, OpenBLAS's worker
    threads do not help, and on a busy machine they spin waiting for a core and slow the whole
    process several-fold (measured: the bootstrap's solves took 4x longer, and the numpy work
    around them slowed too). Called one by one, these systems run on the calling thread.
    """
    solutions = np.empty_like(vectors)
    for row in range(vectors.shape[0]):
        _, _, solution, info = lapack.dgesv(matrices[row], vectors[row])
        if info != 0:
            raise np.linalg.LinAlgError("The fit's curvature matrix is singular.")
        solutions[row] = solution
    return solutions


def _converged(largest: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Steps below _TOLERANCE, or steps down at the floating-point floor (no longer shrinking)."""
    return (largest <= _TOLERANCE) | ((largest <= _STALL) & (largest >= 0.5 * previous))


def _newton(wins: np.ndarray, theta: np.ndarray, regularization: float) -> np.ndarray:
    """Penalised Bradley-Terry MLE by Newton's method, for a stack of win matrices at once.

    wins: (rounds, m, m) wins of row over column (ties as half); theta: (rounds, m) start in
    natural log-odds. Maximises sum_ij wins_ij log sigmoid(theta_i - theta_j) - reg/2 |theta|².
    Each iteration costs O(m²) for the gradient and Hessian plus one m x m solve per round.
    """
    theta = np.array(theta, dtype=float)
    theta -= theta.mean(axis=-1, keepdims=True)
    games = wins + np.swapaxes(wins, -1, -2)
    scores = wins.sum(axis=-1)
    m = wins.shape[-1]
    diagonal = np.arange(m)
    active = np.arange(wins.shape[0])
    previous = np.full(wins.shape[0], np.inf)
    for _ in range(_MAX_ITERATIONS):
        current = theta[active]
        games_now = games[active]
        p = expit(current[:, :, None] - current[:, None, :])
        expected = games_now * p
        gradient = scores[active] - expected.sum(axis=-1) - regularization * current
        hessian = expected * (1.0 - p)
        hessian *= -1.0
        hessian[:, diagonal, diagonal] = -hessian.sum(axis=-1) + regularization
        _fix_mean_direction(hessian)
        step = _solve(hessian, gradient)
        largest = np.abs(step).max(axis=-1)
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(largest, 1e-300))[:, None]
        moved = current + step
        theta[active] = moved - moved.mean(axis=-1, keepdims=True)
        converged = _converged(largest, previous[active])
        previous[active] = largest
        active = active[~converged]
        if active.size == 0:
            return theta
    raise ArithmeticError("The Bradley-Terry fit did not converge; please report the battles that caused it.")


def _ratings_from_theta(
    theta: np.ndarray, anchor_index: int | None, anchor_rating: float, mean_over: np.ndarray | None = None
) -> np.ndarray:
    """Ratings on the 400-point scale: the anchor model at anchor_rating, or the mean of the
    models `mean_over` (indices; all models when None) at anchor_rating."""
    ratings = theta / LOG_ODDS_PER_POINT
    if anchor_index is None:
        chosen = ratings if mean_over is None else ratings[..., mean_over]
        return ratings - chosen.mean(axis=-1, keepdims=True) + anchor_rating
    return ratings - ratings[..., anchor_index : anchor_index + 1] + anchor_rating


def _anchor_index(models: Sequence[str], anchor: str | None) -> int | None:
    if anchor is None:
        return None
    try:
        return list(models).index(anchor)
    except ValueError:
        raise ValueError(f"The anchor model {anchor!r} has no battles here.") from None


def _fit_theta(counts: BattleCounts, regularization: float) -> np.ndarray:
    if counts.total == 0:
        raise ValueError("There are no battles to rate.")
    m = len(counts.models)
    return _newton(counts.wins_matrix()[None], np.zeros((1, m)), regularization)[0]


def fit_ratings(
    counts: BattleCounts,
    *,
    anchor: str | None = None,
    anchor_rating: float = MEAN_RATING,
    regularization: float = REGULARIZATION,
) -> dict[str, float]:
    """Bradley-Terry ratings by maximum likelihood on the counts, model name -> rating.

    400 points per factor 10 in the odds; mean `anchor_rating` (1000) over the models, or the
    `anchor` model at `anchor_rating`. `regularization` is the prior precision described in
    the module docstring (0 gives the plain MLE, which exists only for a connected league in
    which no model won or lost every battle).
    """
    anchor_index = _anchor_index(counts.models, anchor)
    theta = _fit_theta(counts, regularization)
    ratings = _ratings_from_theta(theta, anchor_index, anchor_rating)
    return {name: float(ratings[i]) for i, name in enumerate(counts.models)}


# ---------------------------------------------------------------------------------------------
# Leaderboards


@dataclass
class ModelRating:
    model: str
    rating: float
    lower: float
    upper: float
    rank: int | None  # None for a provisional model
    battles: int
    provisional: bool


@dataclass
class Leaderboard:
    """A fitted leaderboard. Matrices are indexed like `models` (best rated first)."""

    models: list[str]
    ratings: list[ModelRating]  # best rated first
    win_rate: np.ndarray  # row's share of wins against column, ties as half; NaN: never met
    predicted: np.ndarray  # P(row beats column) from the ratings; NaN on the diagonal
    battles: np.ndarray  # battles between row and column, symmetric
    rounds: int
    seed: int
    anchor: str | None
    style_coefficients: dict[str, float | None] | None = None
    anchor_rating: float = MEAN_RATING
    min_battles: int = MIN_BATTLES
    total_battles: int = 0
    is_connected: bool = True
    style_intervals: dict[str, tuple[float, float] | None] | None = None

    def rating_of(self, model: str) -> ModelRating:
        for rating in self.ratings:
            if rating.model == model:
                return rating
        raise KeyError(model)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: ratings to 0.01 points, probabilities to 1e-4, NaN as None."""

        def matrix(values: np.ndarray, digits: int | None) -> list[list[Any]]:
            return [[_rounded(value, digits) for value in row] for row in values.tolist()]

        return {
            "models": list(self.models),
            "ratings": [
                {
                    "model": rating.model,
                    "rating": _rounded(rating.rating, 2),
                    "lower": _rounded(rating.lower, 2),
                    "upper": _rounded(rating.upper, 2),
                    "rank": rating.rank,
                    "battles": rating.battles,
                    "provisional": rating.provisional,
                }
                for rating in self.ratings
            ],
            "win_rate": matrix(self.win_rate, 4),
            "predicted": matrix(self.predicted, 4),
            "battles": [[int(value) for value in row] for row in self.battles.tolist()],
            "rounds": self.rounds,
            "seed": self.seed,
            "anchor": self.anchor,
            "anchor_rating": self.anchor_rating,
            "min_battles": self.min_battles,
            "total_battles": self.total_battles,
            "is_connected": self.is_connected,
            "scale": {"points": SCALE, "odds_factor": BASE},
            "style_coefficients": None
            if self.style_coefficients is None
            else {name: _rounded(value, 2) for name, value in self.style_coefficients.items()},
            "style_intervals": None
            if self.style_intervals is None
            else {
                name: None if bounds is None else [_rounded(bounds[0], 2), _rounded(bounds[1], 2)]
                for name, bounds in self.style_intervals.items()
            },
        }


def _rounded(value: float | None, digits: int | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits) if digits is not None else float(value)


def ranks_from_intervals(lower: Sequence[float], upper: Sequence[float]) -> list[int]:
    """Rank i = 1 + the number of models j whose lower bound is strictly above i's upper bound."""
    lower_bounds = np.asarray(lower, dtype=float)
    upper_bounds = np.asarray(upper, dtype=float)
    above = lower_bounds[None, :] > upper_bounds[:, None]
    return [int(value) for value in 1 + above.sum(axis=1)]


def _check_options(rounds: int, min_battles: int) -> None:
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}.")
    if isinstance(min_battles, bool) or not isinstance(min_battles, int) or min_battles < 0:
        raise ValueError(f"min_battles must be a non-negative integer, got {min_battles!r}.")


def _assemble(
    counts: BattleCounts,
    ratings: np.ndarray,
    samples: np.ndarray,
    *,
    rounds: int,
    seed: int,
    anchor: str | None,
    anchor_rating: float,
    min_battles: int,
) -> Leaderboard:
    """The leaderboard from point ratings (m) and bootstrap ratings (rounds x m), in model order."""
    lower, upper = np.percentile(samples, INTERVAL_PERCENTILES, axis=0)
    battles_of = np.array([counts.model_battles[name] for name in counts.models])
    provisional = battles_of < min_battles
    ranked = np.flatnonzero(~provisional)
    rank_values = ranks_from_intervals(lower[ranked], upper[ranked])
    rank: list[int | None] = [None] * len(counts.models)
    for position, value in zip(ranked, rank_values, strict=True):
        rank[position] = value
    order = sorted(range(len(counts.models)), key=lambda i: (-ratings[i], counts.models[i]))
    wins = counts.wins_matrix()[np.ix_(order, order)]
    battles = counts.battles_matrix()[np.ix_(order, order)]
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = np.where(battles > 0, wins / battles, np.nan)
    ordered_ratings = ratings[order]
    predicted = 1.0 / (1.0 + BASE ** ((ordered_ratings[None, :] - ordered_ratings[:, None]) / SCALE))
    np.fill_diagonal(predicted, np.nan)
    return Leaderboard(
        models=[counts.models[i] for i in order],
        ratings=[
            ModelRating(
                model=counts.models[i],
                rating=float(ratings[i]),
                lower=float(lower[i]),
                upper=float(upper[i]),
                rank=rank[i],
                battles=int(battles_of[i]),
                provisional=bool(provisional[i]),
            )
            for i in order
        ],
        win_rate=win_rate,
        predicted=predicted,
        battles=battles,
        rounds=rounds,
        seed=seed,
        anchor=anchor,
        anchor_rating=anchor_rating,
        min_battles=min_battles,
        total_battles=counts.total,
        is_connected=counts.is_connected(),
    )


def _established(counts: BattleCounts, min_battles: int) -> np.ndarray | None:
    """Indices of the models with at least min_battles battles; None (all models) if there are none.

    Leaderboards put the mean of these at 1000: a provisional model's rating swings widely from
    one bootstrap round to the next (in some it has no battle at all) and would otherwise drag
    every other model's interval with it.
    """
    established = np.flatnonzero([counts.model_battles[name] >= min_battles for name in counts.models])
    return established if established.size else None


def multinomial_draws(rng: np.random.Generator, total: int, probabilities: np.ndarray, rounds: int) -> np.ndarray:
    """(rounds, cells) exact draws of Multinomial(total, probabilities).

    For large totals this is faster than `Generator.multinomial` (which draws one binomial per
    cell in turn): draw independent Poisson counts with means s·p for s = total − 4·sqrt(total),
    redraw a row in the rare case (about 3e-5) that it sums to more than total, then add the
    missing total − sum battles one by one from p. It is exact: given its sum S, a vector of
    independent Poisson counts with means proportional to p is Multinomial(S, p); adding an
    independent Multinomial(total − S, p) gives Multinomial(total, p) whatever S was.
    """
    if total < _POISSON_FROM:
        return rng.multinomial(total, probabilities, size=rounds)
    means = (total - 4.0 * math.sqrt(total)) * probabilities
    cumulative = np.cumsum(probabilities)
    draws = rng.poisson(means, size=(rounds, probabilities.size))
    for row in range(rounds):
        while (missing := total - int(draws[row].sum())) < 0:
            draws[row] = rng.poisson(means)
        picks = np.searchsorted(cumulative, rng.random(missing) * cumulative[-1], side="right")
        draws[row] += np.bincount(picks, minlength=probabilities.size)
    return draws


def bootstrap_counts(counts: BattleCounts, *, rounds: int, seed: int) -> np.ndarray:
    """(rounds, pairs, 3) resampled pair counts: battles drawn with replacement, as a multinomial."""
    flat = counts.pair_counts.ravel()
    present = np.flatnonzero(flat)
    rng = np.random.default_rng(seed)
    draws = multinomial_draws(rng, counts.total, flat[present] / counts.total, rounds)
    resampled = np.zeros((rounds, flat.size), dtype=np.int64)
    resampled[:, present] = draws
    return resampled.reshape(rounds, *counts.pair_counts.shape)


def leaderboard(
    counts: BattleCounts,
    *,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
    anchor: str | None = None,
    anchor_rating: float = MEAN_RATING,
    min_battles: int = MIN_BATTLES,
    regularization: float = REGULARIZATION,
) -> Leaderboard:
    """Ratings with bootstrap intervals, ranks and the matrices the pages draw.

    All bootstrap rounds are fitted together (one stacked Newton iteration for every round
    still moving), started from the fit on all battles.
    """
    _check_options(rounds, min_battles)
    anchor_index = _anchor_index(counts.models, anchor)
    theta = _fit_theta(counts, regularization)
    resampled = bootstrap_counts(counts, rounds=rounds, seed=seed)
    thetas = np.empty((rounds, theta.size))
    for first in range(0, rounds, _ROUNDS_PER_BLOCK):  # blocks of rounds bound the memory
        block = slice(first, min(first + _ROUNDS_PER_BLOCK, rounds))
        wins = counts.wins_matrix(resampled[block])
        thetas[block] = _newton(wins, np.broadcast_to(theta, (wins.shape[0], theta.size)), regularization)
    mean_over = _established(counts, min_battles)
    return _assemble(
        counts,
        _ratings_from_theta(theta, anchor_index, anchor_rating, mean_over),
        _ratings_from_theta(thetas, anchor_index, anchor_rating, mean_over),
        rounds=rounds,
        seed=seed,
        anchor=anchor,
        anchor_rating=anchor_rating,
        min_battles=min_battles,
    )


# ---------------------------------------------------------------------------------------------
# Style control

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADER = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_BOLD = re.compile(r"\*\*(?=\S)(?:.*?\S)?\*\*|__(?=\S)(?:.*?\S)?__")


def style_features(text: str) -> dict[str, int]:
    """Style counts of one answer, the covariates of style control.

    - `length`: characters (Unicode code points) of the answer, whitespace included;
    - `headers`: Markdown ATX header lines (`#` to `######` then a space);
    - `list_items`: bulleted (`-`, `*`, `+`) or numbered (`1.`, `1)`) list item lines;
    - `bold`: bold runs (`**...**` or `__...__`).
    Lines inside fenced code blocks (``` or ~~~) count for length only.
    """
    headers = list_items = bold = 0
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        if _HEADER.match(line):
            headers += 1
        elif _LIST_ITEM.match(line) and not _THEMATIC_BREAK.match(line):
            list_items += 1
        bold += len(_BOLD.findall(line))
    return {"length": len(text), "headers": headers, "list_items": list_items, "bold": bold}


def _style_design(
    rows: Iterable[tuple[str, str, str, Mapping[str, int], Mapping[str, int]]],
) -> tuple[BattleCounts, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(counts, a, b, outcome scores, normalised covariates, feature names) from style rows."""
    names: list[str] | None = None
    battles: list[tuple[str, str, str]] = []
    features: list[list[float]] = []
    for model_a, model_b, winner, style_a, style_b in rows:
        _check_battle(model_a, model_b, winner)
        if names is None:
            names = list(style_a)
            if not names:
                raise ValueError("Style control needs at least one style feature.")
        for style in (style_a, style_b):
            if sorted(style) != sorted(names):
                raise ValueError(f"Every answer needs the same style features {names}, got {sorted(style)}.")
            if any(not isinstance(style[name], int | float) or style[name] < 0 for name in names):
                raise ValueError(f"Style features must be non-negative numbers, got {dict(style)}.")
        battles.append((model_a, model_b, winner))
        features.append([style_a[name] for name in names] + [style_b[name] for name in names])
    if not battles:
        raise ValueError("There are no battles to rate.")
    counts = BattleCounts.from_battles(battles)
    index = counts.index
    a = np.array([index[battle[0]] for battle in battles], dtype=np.intp)
    b = np.array([index[battle[1]] for battle in battles], dtype=np.intp)
    score = np.array([{"model_a": 1.0, "model_b": 0.0}.get(battle[2], 0.5) for battle in battles])
    values = np.array(features, dtype=float)
    k = len(names)
    value_a, value_b = values[:, :k], values[:, k:]
    total = value_a + value_b
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = np.where(total > 0, (value_a - value_b) / total, 0.0)
    root_mean_square = np.sqrt((difference**2).mean(axis=0))
    covariates = np.divide(difference, root_mean_square, out=np.zeros_like(difference), where=root_mean_square > 0)
    return counts, a, b, score, covariates, names


def _style_objective(
    m: int,
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    covariates: np.ndarray,
    weight: np.ndarray,
    parameters: np.ndarray,
    regularization: float,
) -> float:
    """The penalised log-likelihood that `_style_newton` maximises (ties as half a win)."""
    logit = parameters[a] - parameters[b] + covariates @ parameters[m:]
    likelihood = weight * (score * log_expit(logit) + (1.0 - score) * log_expit(-logit))
    return float(likelihood.sum() - 0.5 * regularization * parameters @ parameters)


def _style_newton(
    m: int,
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    covariates: np.ndarray,
    weight: np.ndarray,
    start: np.ndarray,
    regularization: float,
) -> np.ndarray:
    """Penalised logistic MLE of (theta_1..m, beta_1..k) with P(a wins) = sigmoid(theta_a - theta_b + z·beta).

    A tie is a half win (score 0.5); `weight` is how many times each battle counts (the
    bootstrap's draw). Per iteration O(battles · k²) plus an (m + k)² solve.

    Newton's method with a backtracking line search on the penalised log-likelihood, which is
    strictly concave (the prior), so it converges from any start. A capped step is not enough
    here: in a small slice (or a bootstrap draw of one) the battles can be separable along a
    direction that mixes the style terms with the models' (a style covariate of a few
    hundredths that decides every battle it appears in), and the penalised optimum then lies
    hundreds of log-odds units away, which steps of at most `_MAX_STEP` took longer than
    `_MAX_ITERATIONS` to reach. The full Newton step covers about one unit of the separating
    margin per iteration there, and near the optimum it is accepted as it is (quadratic
    convergence).
    """
    k = covariates.shape[1]
    parameters = np.array(start, dtype=float)
    size = m + k
    pair_keys = a * m + b
    parameters[:m] -= parameters[:m].mean()
    previous = np.inf
    for _ in range(_MAX_ITERATIONS):
        theta, beta = parameters[:m], parameters[m:]
        p = expit(theta[a] - theta[b] + covariates @ beta)
        residual = weight * (score - p)
        gradient = np.empty(size)
        gradient[:m] = np.bincount(a, residual, minlength=m) - np.bincount(b, residual, minlength=m)
        gradient[m:] = covariates.T @ residual
        gradient -= regularization * parameters
        curvature = weight * p * (1.0 - p)
        pair_weight = np.bincount(pair_keys, curvature, minlength=m * m).reshape(m, m)
        pair_weight += pair_weight.T
        hessian = np.zeros((size, size))
        hessian[:m, :m] = -pair_weight
        hessian[np.arange(m), np.arange(m)] = pair_weight.sum(axis=1)
        weighted = covariates * curvature[:, None]
        cross = np.zeros((m, k))  # no columns when no style feature varies: the plain fit
        for j in range(k):
            cross[:, j] = np.bincount(a, weighted[:, j], minlength=m) - np.bincount(b, weighted[:, j], minlength=m)
        hessian[:m, m:] = cross
        hessian[m:, :m] = cross.T
        hessian[m:, m:] = covariates.T @ weighted
        hessian[np.arange(size), np.arange(size)] += regularization
        _fix_mean_direction(hessian[:m, :m])
        step = _solve(hessian[None], gradient[None])[0]
        largest = float(np.abs(step).max())
        if _converged(np.array([largest]), np.array([previous]))[0]:
            parameters += step
            parameters[:m] -= parameters[:m].mean()
            return parameters
        previous = largest
        parameters = _style_line_search(m, a, b, score, covariates, weight, parameters, step, gradient, regularization)
    raise ArithmeticError(
        f"The style-control fit did not converge in {_MAX_ITERATIONS} Newton iterations "
        f"(last step {previous:.3g} log-odds); please report the battles that caused it."
    )


def _style_line_search(
    m: int,
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    covariates: np.ndarray,
    weight: np.ndarray,
    parameters: np.ndarray,
    step: np.ndarray,
    gradient: np.ndarray,
    regularization: float,
) -> np.ndarray:
    """The next iterate: the Newton step, halved until it raises the objective enough (Armijo).

    A step already at the floating-point floor (below `_STALL`) is taken as it is: there the
    objective's change is lost in rounding. Ratings are re-centred after the step (the
    likelihood does not see a common shift, and centring only raises the prior's term).
    """
    objective = partial(_style_objective, m, a, b, score, covariates, weight, regularization=regularization)
    now = objective(parameters)
    slope = float(gradient @ step)  # > 0: the curvature matrix is positive definite
    fraction = 1.0
    largest = float(np.abs(step).max())
    while True:
        moved = parameters + fraction * step
        moved[:m] -= moved[:m].mean()
        if fraction * largest <= _STALL or objective(moved) >= now + 1e-4 * fraction * slope:
            return moved
        fraction *= 0.5


def style_leaderboard(
    rows: Iterable[tuple[str, str, str, Mapping[str, int], Mapping[str, int]]],
    *,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
    anchor: str | None = None,
    anchor_rating: float = MEAN_RATING,
    min_battles: int = MIN_BATTLES,
    regularization: float = REGULARIZATION,
) -> Leaderboard:
    """Ratings with style held fixed: rows are (model_a, model_b, winner, features of a, of b).

    Features are what `style_features` returns (any common set of non-negative counts works).
    Covariate j of a battle is (f_a - f_b) / (f_a + f_b), divided by its root mean square over
    the battles (so no centring: swapping the sides flips its sign). `style_coefficients` are in
    rating points per unit of that covariate; a feature that never differs gets None. The
    bootstrap resamples battles with replacement (multinomial weights) and refits everything.
    """
    _check_options(rounds, min_battles)
    counts, a, b, score, covariates, names = _style_design(rows)
    anchor_index = _anchor_index(counts.models, anchor)
    m = len(counts.models)
    varies = np.abs(covariates).sum(axis=0) > 0
    used = covariates[:, varies]
    n = score.size
    start = np.zeros(m + int(varies.sum()))
    point = _style_newton(m, a, b, score, used, np.ones(n), start, regularization)
    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, point.size))
    for round_number in range(rounds):
        weight = rng.multinomial(n, np.full(n, 1.0 / n)).astype(float)
        samples[round_number] = _style_newton(m, a, b, score, used, weight, point, regularization)
    mean_over = _established(counts, min_battles)
    board = _assemble(
        counts,
        _ratings_from_theta(point[:m], anchor_index, anchor_rating, mean_over),
        _ratings_from_theta(samples[:, :m], anchor_index, anchor_rating, mean_over),
        rounds=rounds,
        seed=seed,
        anchor=anchor,
        anchor_rating=anchor_rating,
        min_battles=min_battles,
    )
    coefficients: dict[str, float | None] = {}
    intervals: dict[str, tuple[float, float] | None] = {}
    column = m
    for j, name in enumerate(names):
        if not varies[j]:
            coefficients[name] = None
            intervals[name] = None
            continue
        coefficients[name] = float(point[column] / LOG_ODDS_PER_POINT)
        low, high = np.percentile(samples[:, column] / LOG_ODDS_PER_POINT, INTERVAL_PERCENTILES)
        intervals[name] = (float(low), float(high))
        column += 1
    board.style_coefficients = coefficients
    board.style_intervals = intervals
    return board
