"""What a selection keeps: its settings, with the defaults every training run starts from.

docs/selection.md explains each setting and why its default is what it is.
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

MIXING_KEYS = ("community", "topic", "language")


class SelectionConfigError(ValueError):
    """A selection setting out of its range, of the wrong type, or unknown: the message says which."""


@dataclass(frozen=True)
class SelectionConfig:
    """The settings of one selection. All have defaults; `from_dict` builds one from JSON.

    - `min_chars`, `max_chars`: the chosen answer's length in characters (stripped) must lie in
      [min_chars, max_chars]; the prompt (all its messages) must not be longer than max_chars.
    - `max_repetition`: the largest share of repeated word 3-grams allowed in the chosen
      answer and in the prompt (0: every 3-gram distinct; near 1: one phrase over and over).
    - `max_symbol_ratio`: the largest share of non-space characters that are neither letters
      nor digits, in the chosen answer and in the prompt.
    - `languages`: keep only records whose `language` is one of these codes; None keeps all.
    - `near_duplicate_threshold`: a record whose MinHash similarity (estimated Jaccard over
      word 3-grams of its prompt, chosen and rejected texts) to an earlier kept record is at
      least this is a near-duplicate and goes.
    - `min_agreement`: drop records whose agreement (given by the caller, 0 to 1) is below it;
      None turns the filter off.
    - `drop_flagged`: drop records whose chosen answer volunteers flagged (spam, toxic, ...).
    - `mixing_weights`: the share each group (by `mixing_key`) should have among the kept
      records, e.g. {"en": 2, "fr": 1}; groups not named get none. None keeps every group as it is.
    - `mixing_key`: what groups records for mixing: "community", "topic" or "language".
    - `seed`: which records the mixing keeps when it samples a group down.
    - `perplexity_max`: drop records whose chosen answer's perplexity under the base model is
      above it; None turns the filter off (it needs a perplexity function from the caller).
    """

    min_chars: int = 2
    max_chars: int = 20_000
    max_repetition: float = 0.5
    max_symbol_ratio: float = 0.5
    languages: tuple[str, ...] | None = None
    near_duplicate_threshold: float = 0.8
    min_agreement: float | None = None
    drop_flagged: bool = True
    mixing_weights: dict[str, float] | None = None
    mixing_key: str = "language"
    seed: int = 0
    perplexity_max: float | None = None

    def __post_init__(self) -> None:
        def number(name: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SelectionConfigError(f"{name} must be a finite number, not {value!r}.")
            return float(value)

        for name in ("min_chars", "max_chars", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SelectionConfigError(f"{name} must be a whole number, not {value!r}.")
        if self.min_chars < 0:
            raise SelectionConfigError(f"min_chars must be at least 0, not {self.min_chars}.")
        if self.max_chars < self.min_chars:
            raise SelectionConfigError(f"max_chars ({self.max_chars}) is below min_chars ({self.min_chars}).")
        for name in ("max_repetition", "max_symbol_ratio"):
            if not 0.0 <= number(name, getattr(self, name)) <= 1.0:
                raise SelectionConfigError(f"{name} is a share from 0 to 1, not {getattr(self, name)}.")
        if not 0.0 < number("near_duplicate_threshold", self.near_duplicate_threshold) <= 1.0:
            raise SelectionConfigError(
                f"near_duplicate_threshold is a similarity above 0 and at most 1, not {self.near_duplicate_threshold}."
            )
        if self.min_agreement is not None and not 0.0 <= number("min_agreement", self.min_agreement) <= 1.0:
            raise SelectionConfigError(f"min_agreement is a share from 0 to 1, not {self.min_agreement}.")
        if self.perplexity_max is not None and not number("perplexity_max", self.perplexity_max) > 0:
            raise SelectionConfigError(f"perplexity_max must be above 0, not {self.perplexity_max}.")
        if not isinstance(self.drop_flagged, bool):
            raise SelectionConfigError(f"drop_flagged must be true or false, not {self.drop_flagged!r}.")
        if self.languages is not None:
            if isinstance(self.languages, str) or not all(isinstance(code, str) and code for code in self.languages):
                raise SelectionConfigError(f"languages must be a list of language codes, not {self.languages!r}.")
            if not self.languages:
                raise SelectionConfigError("languages is empty: it would keep nothing (null keeps every language).")
            object.__setattr__(self, "languages", tuple(self.languages))
        if self.mixing_key not in MIXING_KEYS:
            raise SelectionConfigError(f"mixing_key must be one of {', '.join(MIXING_KEYS)}, not {self.mixing_key!r}.")
        if self.mixing_weights is not None:
            if not isinstance(self.mixing_weights, Mapping) or not self.mixing_weights:
                raise SelectionConfigError("mixing_weights must map at least one group to its weight.")
            weights = {}
            for group, weight in self.mixing_weights.items():
                if not isinstance(group, str) or number(f"the weight of {group!r}", weight) < 0:
                    raise SelectionConfigError(f"The weight of {group!r} must be a number of at least 0.")
                weights[group] = float(weight)
            if not any(weights.values()):
                raise SelectionConfigError("mixing_weights gives every group 0: it would keep nothing.")
            object.__setattr__(self, "mixing_weights", weights)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "SelectionConfig":
        """A config from JSON-like values (lists for tuples); unknown names raise SelectionConfigError."""
        if not isinstance(values, Mapping):
            raise SelectionConfigError("A selection config is a JSON object.")
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SelectionConfigError(f"Unknown selection settings: {', '.join(map(str, unknown))}.")
        values = dict(values)
        if isinstance(values.get("languages"), list):
            values["languages"] = tuple(values["languages"])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON values (tuples become lists)."""
        values = asdict(self)
        if values["languages"] is not None:
            values["languages"] = list(values["languages"])
        return values
