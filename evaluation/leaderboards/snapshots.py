"""The one module that calls the rating engine (`evaluation.leaderboards.engine`), and the
format a computed leaderboard is stored in (`LeaderboardSnapshot.data`, the API's `data`).

The stored format is this module's, not the engine's, so pages and the API read a stable shape:

    {"format": 1,
     "models": [names, best first],
     "ratings": [{"model", "rating", "lower", "upper", "rank" (null: provisional), "battles",
                  "provisional"}, ...] in the same order,
     "win_rate", "predicted": m x m lists (row model against column model, same order; null
                  where there is no data),
     "battles": m x m list of battle counts,
     "rounds", "seed", "anchor" (the model pinned, or null: ratings average 1000),
     "style_coefficients": {feature: coefficient (null: the feature never varied)} or null}
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from evaluation.leaderboards import engine

DATA_FORMAT = 1


@dataclass(frozen=True)
class FitParameters:
    rounds: int
    seed: int
    anchor: str | None
    min_battles: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def engine_min_battles() -> int:
    """The engine's own threshold below which a model is provisional."""
    return int(engine.MIN_BATTLES)


def _anchor_for(models: set[str], anchor: str | None) -> str | None:
    # A leaderboard whose battles never involved the anchor model is centred on 1000 instead.
    return anchor if anchor in models else None


def _matrix(values: Any, order: list[int], digits: int | None) -> list[list[float | int | None]]:
    rows = []
    for i in order:
        row: list[float | int | None] = []
        for j in order:
            value = float(values[i][j])
            if math.isnan(value):
                row.append(None)
            elif digits is None:
                row.append(int(value))
            else:
                row.append(round(value, digits))
        rows.append(row)
    return rows


def leaderboard_data(board: Any) -> dict[str, Any]:
    """A fitted `engine.Leaderboard` in the stored format."""
    position = {name: index for index, name in enumerate(board.models)}
    order = [position[rating.model] for rating in board.ratings]
    coefficients = board.style_coefficients
    return {
        "format": DATA_FORMAT,
        "models": [rating.model for rating in board.ratings],
        "ratings": [
            {
                "model": rating.model,
                "rating": round(float(rating.rating), 2),
                "lower": round(float(rating.lower), 2),
                "upper": round(float(rating.upper), 2),
                "rank": None if rating.provisional or rating.rank is None else int(rating.rank),
                "battles": int(rating.battles),
                "provisional": bool(rating.provisional),
            }
            for rating in board.ratings
        ],
        "win_rate": _matrix(board.win_rate, order, 4),
        "predicted": _matrix(board.predicted, order, 4),
        "battles": _matrix(board.battles, order, None),
        "rounds": int(board.rounds),
        "seed": int(board.seed),
        "anchor": board.anchor,
        "style_coefficients": (
            {str(name): None if value is None else round(float(value), 4) for name, value in coefficients.items()}
            if coefficients is not None
            else None
        ),
    }


def leaderboard_compute(counts: list[tuple[str, str, str, int]], *, parameters: FitParameters) -> dict[str, Any]:
    """Fit the ratings and their bootstrap intervals from (model A, model B, winner, count) rows."""
    models = {row[0] for row in counts} | {row[1] for row in counts}
    board = engine.leaderboard(
        engine.BattleCounts.from_counts(counts),
        rounds=parameters.rounds,
        seed=parameters.seed,
        anchor=_anchor_for(models, parameters.anchor),
        min_battles=parameters.min_battles,
    )
    return leaderboard_data(board)


def style_leaderboard_compute(
    battles: Iterable[tuple[str, str, str, str, str]], *, models: set[str], parameters: FitParameters
) -> dict[str, Any]:
    """Fit with style control from (model A, model B, winner, answer A's text, answer B's text)
    per battle; each answer's style features are computed as the battles stream by."""
    rows: Iterable[tuple[str, str, str, Mapping[str, int], Mapping[str, int]]] = (
        (a, b, winner, engine.style_features(text_a), engine.style_features(text_b))
        for a, b, winner, text_a, text_b in battles
    )
    board = engine.style_leaderboard(
        rows,
        rounds=parameters.rounds,
        seed=parameters.seed,
        anchor=_anchor_for(models, parameters.anchor),
        min_battles=parameters.min_battles,
    )
    return leaderboard_data(board)
