"""Which kind of task to serve next: weights that favour finishing items (pure, no Django).

As in OpenAssistant, work that completes what is already there (ranking answers, reviewing
them) comes before work that adds new content (writing a better answer). A community can
override any weight in `Community.task_weights`.
"""

import random
from collections.abc import Iterable, Mapping

DEFAULT_TASK_WEIGHTS: dict[str, float] = {
    "rank": 4.0,
    "rate": 3.0,
    "flag": 2.0,
    "check_claims": 2.0,
    "correct": 1.0,
}


def task_weights_for(overrides: Mapping[str, object] | None) -> dict[str, float]:
    """The platform defaults with a community's valid overrides (non-negative numbers) applied."""
    weights = dict(DEFAULT_TASK_WEIGHTS)
    for kind, value in (overrides or {}).items():
        if kind in weights and isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            weights[kind] = float(value)
    return weights


def task_kinds_in_draw_order(weights: Mapping[str, float], available: Iterable[str], rng: random.Random) -> list[str]:
    """The available kinds in the order to try them: a weighted draw without replacement
    (each next kind drawn with probability proportional to its weight among those left).
    Kinds with weight 0 are never served."""
    left = {kind: weights.get(kind, 0.0) for kind in available if weights.get(kind, 0.0) > 0}
    order = []
    while left:
        kinds = list(left)
        point = rng.random() * sum(left.values())
        chosen = kinds[-1]  # if rounding leaves the point at the very top
        for kind in kinds:
            point -= left[kind]
            if point < 0:
                chosen = kind
                break
        order.append(chosen)
        del left[chosen]
    return order
