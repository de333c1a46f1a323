"""The TrainerCallback every trainer gets: forwards each logged step to `on_log`, stops on `should_stop`.

One entry per logged step, complete: TRL's training log (loss, learning rate, grad norm, its own
metrics), tokens per second over the steps since the previous log (TRL's `num_tokens` counter,
which counts every process's tokens, over the time spent inside those optimiser steps), and, on a
step that evaluated, the held-out metrics (`eval_*`) merged in. Under torchrun only the main
process calls `on_log`; a stop asked on any process stops them all at the same step.
"""

import math
import time
from collections.abc import Callable

from transformers import TrainerCallback

_TRAINING_KEYS = ("loss", "learning_rate", "grad_norm", "epoch")


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class TrainingProgressCallback(TrainerCallback):
    def __init__(
        self,
        on_log: Callable[[dict], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.on_log_callable = on_log
        self.should_stop_callable = should_stop
        self.history: list[dict] = []
        self.summary: dict = {}
        self.is_cancelled = False
        self._pending: dict | None = None
        self._evaluation_due = False
        self._step_started_at: float | None = None
        self._seconds_since_log = 0.0
        self._tokens_at_log = 0.0
        self.total_step_seconds = 0.0
        self.train_tokens = 0.0

    # -- stopping ----------------------------------------------------------------------------

    def _stop_asked(self, args) -> bool:
        asked = bool(self.should_stop_callable()) if self.should_stop_callable is not None else False
        import torch.distributed as distributed

        if distributed.is_available() and distributed.is_initialized() and distributed.get_world_size() > 1:
            import torch

            flag = torch.tensor([1 if asked else 0], device=args.device)
            distributed.all_reduce(flag, op=distributed.ReduceOp.MAX)
            asked = bool(flag.item())
        return asked

    def on_train_begin(self, args, state, control, **kwargs):
        # Asked before the first step too: a run cancelled while the models loaded never trains.
        if self._stop_asked(args):
            self.is_cancelled = True
            control.should_training_stop = True
        return control

    def on_step_begin(self, args, state, control, **kwargs):
        if self._step_started_at is None:
            self._step_started_at = time.perf_counter()
        return control

    def on_step_end(self, args, state, control, **kwargs):
        if self._step_started_at is not None:
            seconds = time.perf_counter() - self._step_started_at
            self._seconds_since_log += seconds
            self.total_step_seconds += seconds
            self._step_started_at = None
        if self._stop_asked(args):
            self.is_cancelled = True
            control.should_training_stop = True
            control.should_evaluate = False
            control.should_save = False
        # DefaultFlowCallback ran before this one: whether this step's log will be followed by an evaluation.
        self._evaluation_due = bool(control.should_evaluate)
        return control

    # -- logging -----------------------------------------------------------------------------

    def _emit(self, entry: dict, state) -> None:
        self.history.append(entry)
        if self.on_log_callable is not None and state.is_world_process_zero:
            self.on_log_callable(dict(entry))

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        numeric = {key: float(value) for key, value in logs.items() if _numeric(value)}
        if "loss" in logs:
            if self._pending is not None:  # an evaluation that never came (should not happen): keep the entry
                self._emit(self._pending, state)
                self._pending = None
            entry = {"step": state.global_step}
            entry.update({key: numeric[key] for key in _TRAINING_KEYS if key in numeric})
            entry.update({key: value for key, value in numeric.items() if key not in entry})
            tokens = numeric.get("num_tokens")
            if tokens is not None:
                self.train_tokens = tokens
                if self._seconds_since_log > 0:
                    entry["tokens_per_second"] = (tokens - self._tokens_at_log) / self._seconds_since_log
                self._tokens_at_log = tokens
            self._seconds_since_log = 0.0
            if self._evaluation_due:
                self._pending = entry
            else:
                self._emit(entry, state)
        elif any(key.startswith("eval_") for key in logs):
            evaluated = {key: value for key, value in numeric.items() if key.startswith("eval_")}
            if self._pending is not None and self._pending["step"] == state.global_step:
                entry, self._pending = self._pending, None
                entry.update(evaluated)
            else:
                entry = {"step": state.global_step, **evaluated}
            self._emit(entry, state)
        elif "train_runtime" in logs:
            self.summary = numeric
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self._pending is not None:
            self._emit(self._pending, state)
            self._pending = None
        return control

    def held_out_metrics(self) -> dict[str, float]:
        """The last evaluation's metrics (`eval_*`), from the end of training."""
        for entry in reversed(self.history):
            evaluated = {key: value for key, value in entry.items() if key.startswith("eval_")}
            if evaluated:
                return evaluated
        return {}
