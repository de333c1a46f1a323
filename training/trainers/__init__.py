"""The trainers: reward model, DPO and SFT on a release's preference records, with TRL's own trainers.

No Django import, and no torch/transformers/trl/peft at import time: the engine is imported by the
web process's modules (services, pages) and only the worker, a command, a benchmark or a test pays
for the heavy imports, inside `train`.

    result = train(TrainingConfig(method="dpo", base_model=folder, output_dir=out), pairs)

`pairs` are release `preferences` records (docs/release-formats.md): TRL's conversational
preference format, `prompt`/`chosen`/`rejected` message lists, with their `id` and `source`.
`reward` and `dpo` train on all of them; `sft` on those whose `source` is `correction` (the prompt,
and the volunteer's answer as the completion). A held-out split is taken by the seed before
anything trains and is never trained on; every metric is measured on it. See docs/training.md.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

METHODS = ("reward", "dpo", "sft")


class TrainingError(Exception):
    """A training run could not produce a model; the message says why, in words for the run's page."""


class TrainingConfigError(TrainingError, ValueError):
    """The configuration itself is wrong (an unknown method, a fraction outside (0, 1), ...)."""


class TrainingDataError(TrainingError):
    """The records cannot be trained on: too few for a split, or not in the release's format."""


class BaseModelError(TrainingError):
    """The base model folder is missing, unreadable, or not a causal language model."""


class TrainingOutputError(TrainingError):
    """The model folder could not be written (it exists already, the disk filled)."""


class TrainingCancelled(TrainingError):
    """`should_stop()` turned true: training stopped and nothing was saved."""


@dataclass
class TrainingConfig:
    """What to train, on what base, where to, and how; every field has a documented default but the first three.

    `learning_rate=None` takes TRL's default for the method (reward 1e-4, dpo 1e-6, sft 2e-5).
    `eval_steps=None` evaluates on the held-out split five times over the run and at its end.
    `beta` is DPO's KL strength; the other methods ignore it. `lora` trains LoRA adapters (peft)
    of rank `lora_r` instead of every weight, and merges them into the saved model, so the folder
    loads like any other. bf16 is used only on a GPU that supports it, never on CPU.
    """

    method: str
    base_model: Path
    output_dir: Path
    max_steps: int = 50
    learning_rate: float | None = None
    per_device_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    held_out_fraction: float = 0.1
    seed: int = 0
    lora: bool = False
    lora_r: int = 8
    max_length: int = 512
    beta: float = 0.1
    logging_steps: int = 1
    eval_steps: int | None = None
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        self.base_model = Path(self.base_model)
        self.output_dir = Path(self.output_dir)
        if self.method not in METHODS:
            raise TrainingConfigError(f"Unknown training method {self.method!r}: use one of {', '.join(METHODS)}.")
        if not 0 < self.held_out_fraction < 1:
            raise TrainingConfigError(
                f"held_out_fraction must be between 0 and 1 (exclusive), not {self.held_out_fraction}."
            )
        positive = {
            "max_steps": self.max_steps,
            "per_device_batch_size": self.per_device_batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "lora_r": self.lora_r,
            "max_length": self.max_length,
            "logging_steps": self.logging_steps,
        }
        if self.eval_steps is not None:
            positive["eval_steps"] = self.eval_steps
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TrainingConfigError(f"{name} must be a whole number of at least 1, not {value!r}.")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise TrainingConfigError(f"learning_rate must be positive, not {self.learning_rate}.")
        if not self.beta > 0:
            raise TrainingConfigError(f"beta must be positive, not {self.beta}.")

    def to_json(self) -> dict:
        """The configuration as plain JSON values (paths as strings), as the entry point reads it."""
        values = dict(self.__dict__)
        values["base_model"] = str(self.base_model)
        values["output_dir"] = str(self.output_dir)
        return values

    @classmethod
    def from_json(cls, values: dict) -> "TrainingConfig":
        """The inverse of `to_json`; unknown keys are refused with their names."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise TrainingConfigError(f"Unknown training configuration keys: {', '.join(unknown)}.")
        missing = sorted(name for name in ("method", "base_model", "output_dir") if name not in values)
        if missing:
            raise TrainingConfigError(f"The training configuration lacks: {', '.join(missing)}.")
        return cls(**values)


@dataclass
class TrainingResult:
    """A trained model's folder, its held-out metrics, the SHA-256 of each weight file and the logged history.

    `history` has one entry per logged step (`step`, `loss`, `learning_rate`, `tokens_per_second`,
    and the held-out metrics, prefixed `eval_`, on the steps that evaluated). `train_ids` and
    `held_out_ids` are the record ids the trainer trained and evaluated on: disjoint by construction.
    """

    folder: Path
    metrics: dict[str, float]
    weights: dict[str, str]
    history: list[dict]
    train_ids: list[str] = field(default_factory=list)
    held_out_ids: list[str] = field(default_factory=list)
    device: str = "cpu"
    world_size: int = 1

    def to_json(self) -> dict:
        values = dict(self.__dict__)
        values["folder"] = str(self.folder)
        return values


def train(
    config: TrainingConfig,
    pairs: list[dict],
    *,
    on_log: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Train `config.method` on `pairs` and save the model in `config.output_dir`; see the module docstring.

    `on_log(entry)` is called on the main process once for every logged step, with the entry that
    goes into `history`, complete (with the held-out metrics when that step evaluated).
    `should_stop()` is asked after every optimiser step; when it turns true training stops, nothing
    is saved, and `TrainingCancelled` is raised. Raises `TrainingDataError`, `BaseModelError`,
    `TrainingOutputError` with a message fit to show on the run.
    """
    from training.trainers.engine import train_run

    return train_run(config, pairs, on_log=on_log, should_stop=should_stop)


__all__ = [
    "METHODS",
    "BaseModelError",
    "TrainingCancelled",
    "TrainingConfig",
    "TrainingConfigError",
    "TrainingDataError",
    "TrainingError",
    "TrainingOutputError",
    "TrainingResult",
    "train",
]
