"""Training throughput: the platform's DPO and SFT trainers against a minimal TRL script, same data, same run.

For each method (dpo, sft), in one process, on the same base model (the built-in
SmolLM2-135M-Instruct unless --base-model names another folder) and the same records:

- platform: `training.trainers.train` (what a run's worker calls): held-out split by the seed,
  TRL's trainer built by the platform, its progress callback, evaluation on the held-out split
  at the end, the model folder saved and hashed;
- baseline: the minimal TRL script a researcher would write: `DPOTrainer` / `SFTTrainer` from the
  model folder's path with a `DPOConfig` / `SFTConfig` of the same batch size, steps, learning
  rate, seed, max length and precision, trained on exactly the platform's training rows, no
  evaluation, `save_model` at the end.

Throughput is measured the same way for both: the tokens TRL counts (`num_tokens`) over the time
spent inside optimiser steps (from the first `on_step_begin` of a step to its `on_step_end`),
leaving out the first step (one-time set-up inside it). The platform's figures come from its own
history; the baseline gets a callback that records the same two things. The overhead is
1 - platform / baseline (goal: under 10 %). End-to-end wall times (load, train, evaluate, save)
are printed too. Runs alternate platform / baseline when --repeats > 1, and each figure is the
median over the repeats.

On a GPU the same script uses it (bf16 where supported), with no option to set.

Usage: .venv/bin/python bench/training_throughput.py [--steps 8] [--batch-size 4] [--pairs 96]
           [--repeats 1] [--methods dpo,sft] [--base-model FOLDER] [--json]
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LEARNING_RATE = {"dpo": 1e-6, "sft": 2e-5}  # TRL's defaults, given to both sides explicitly
SEED = 0
MAX_LENGTH = 256


def records(count: int) -> list[dict]:
    """Preference records in the release's format, answers of varied lengths; every one also a correction."""
    subjects = ["a bicycle chain", "sourdough bread", "a leaking tap", "tomato seedlings", "a cover letter"]
    pairs = []
    for number in range(count):
        subject = subjects[number % len(subjects)]
        detail = " Explain each step briefly." * (number % 4)
        pairs.append(
            {
                "id": f"correction-{number}",
                "source": "correction",
                "prompt": [{"role": "user", "content": f"How do I look after {subject}?{detail}"}],
                "chosen": [
                    {
                        "role": "assistant",
                        "content": f"Start by checking {subject} once a week. " * (1 + number % 3)
                        + "Would you like more detail on any step?",
                    }
                ],
                "rejected": [{"role": "assistant", "content": f"{subject.capitalize()} is not my concern. " * 2}],
                "community": "bench",
                "language": "en",
                "licence": "CC-BY-4.0",
            }
        )
    return pairs


def steady_throughput(history: list[dict]) -> tuple[float, float]:
    """(tokens, seconds) inside optimiser steps 2..N, from entries with step, num_tokens, tokens_per_second."""
    train_entries = [entry for entry in history if "num_tokens" in entry and "tokens_per_second" in entry]
    tokens = seconds = 0.0
    for previous, entry in zip(train_entries, train_entries[1:], strict=False):
        delta = entry["num_tokens"] - previous["num_tokens"]
        tokens += delta
        seconds += delta / entry["tokens_per_second"]
    return tokens, seconds


def platform_run(method: str, base: Path, pairs: list[dict], arguments, folder: Path) -> dict:
    from training.trainers import TrainingConfig, train

    config = TrainingConfig(
        method=method,
        base_model=base,
        output_dir=folder / f"platform-{method}",
        max_steps=arguments.steps,
        learning_rate=LEARNING_RATE[method],
        per_device_batch_size=arguments.batch_size,
        seed=SEED,
        max_length=MAX_LENGTH,
        eval_steps=arguments.steps,
    )
    started = time.perf_counter()
    result = train(config, pairs)
    wall = time.perf_counter() - started
    tokens, seconds = steady_throughput(result.history)
    shutil.rmtree(result.folder)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds, "wall_seconds": wall}


def baseline_run(method: str, base: Path, train_rows: list[dict], arguments, folder: Path) -> dict:
    """The minimal TRL script, plus the measuring callback."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.started = None
            self.seconds = 0.0
            self.history: list[dict] = []

        def on_step_begin(self, args, state, control, **kwargs):
            if self.started is None:
                self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds += time.perf_counter() - self.started
            self.started = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "num_tokens" in logs and "loss" in logs:
                tokens_before = self.history[-1]["num_tokens"] if self.history else 0.0
                self.history.append(
                    {
                        "num_tokens": logs["num_tokens"],
                        "tokens_per_second": (logs["num_tokens"] - tokens_before) / self.seconds,
                    }
                )
                self.seconds = 0.0

    on_gpu = torch.cuda.is_available()
    common = {
        "output_dir": str(folder / f"baseline-{method}"),
        "max_steps": arguments.steps,
        "learning_rate": LEARNING_RATE[method],
        "per_device_train_batch_size": arguments.batch_size,
        "seed": SEED,
        "data_seed": SEED,
        "max_length": MAX_LENGTH,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "bf16": on_gpu and torch.cuda.is_bf16_supported(),
        "use_cpu": not on_gpu,
        "activation_checkpointing": False,
    }
    timer = StepTimer()
    started = time.perf_counter()
    if method == "dpo":
        from trl import DPOConfig, DPOTrainer

        dataset = Dataset.from_list([{key: row[key] for key in ("prompt", "chosen", "rejected")} for row in train_rows])
        trainer = DPOTrainer(model=str(base), args=DPOConfig(**common), train_dataset=dataset, callbacks=[timer])
    else:
        from trl import SFTConfig, SFTTrainer

        dataset = Dataset.from_list([{"prompt": row["prompt"], "completion": row["chosen"]} for row in train_rows])
        trainer = SFTTrainer(model=str(base), args=SFTConfig(**common), train_dataset=dataset, callbacks=[timer])
    trainer.train()
    trainer.save_model()
    wall = time.perf_counter() - started
    history = [{"step": index + 1, **entry} for index, entry in enumerate(timer.history)]
    tokens, seconds = steady_throughput(history)
    shutil.rmtree(folder / f"baseline-{method}", ignore_errors=True)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds, "wall_seconds": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--methods", default="dpo,sft")
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    if arguments.steps < 3:
        parser.error("--steps must be at least 3 (the first step is left out of the throughput)")

    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()
    from inference.builtin import builtin_model_prepare
    from training.trainers.data import held_out_split, method_rows

    base = arguments.base_model or builtin_model_prepare(Path(os.environ.get("MODELS_DIR", ROOT / "var" / "models")))
    pairs = records(arguments.pairs)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({os.cpu_count()} cores)"
    report = {"base_model": base.name, "device": device, "steps": arguments.steps, "batch_size": arguments.batch_size,
              "torch_threads": torch.get_num_threads(), "methods": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="training-throughput-") as scratch:
        folder = Path(scratch)
        for method in arguments.methods.split(","):
            rows = method_rows(method, pairs)
            train_rows, _ = held_out_split(rows, 0.1, SEED, method=method)
            # The baseline trains on the platform's training split, in the shape each TRL trainer reads.
            by_id = {pair["id"]: pair for pair in pairs}
            baseline_rows = [by_id[row["id"]] for row in train_rows]
            runs: dict[str, list[dict]] = {"platform": [], "baseline": []}
            for repeat in range(arguments.repeats):
                runs["platform"].append(platform_run(method, base, pairs, arguments, folder))
                runs["baseline"].append(baseline_run(method, base, baseline_rows, arguments, folder))
                if not arguments.json:
                    print(
                        f"  {method} round {repeat + 1}: platform {runs['platform'][-1]['tokens_per_second']:.1f}"
                        f" tok/s, baseline {runs['baseline'][-1]['tokens_per_second']:.1f} tok/s",
                        flush=True,
                    )
            summary = {"rounds": runs}
            for side, measured in runs.items():
                summary[side] = {
                    "tokens_per_second": statistics.median(run["tokens_per_second"] for run in measured),
                    "tokens": measured[0]["tokens"],
                    "wall_seconds": statistics.median(run["wall_seconds"] for run in measured),
                }
            summary["overhead"] = (
                1 - summary["platform"]["tokens_per_second"] / summary["baseline"]["tokens_per_second"]
            )
            summary["same_tokens"] = summary["platform"]["tokens"] == summary["baseline"]["tokens"]
            report["methods"][method] = summary
            if not arguments.json:
                platform, baseline = summary["platform"], summary["baseline"]
                print(
                    f"{method}: platform {platform['tokens_per_second']:.0f} tok/s, baseline "
                    f"{baseline['tokens_per_second']:.0f} tok/s, overhead {100 * summary['overhead']:+.1f} % "
                    f"(tokens counted {summary['platform']['tokens']:.0f} / {summary['baseline']['tokens']:.0f}); "
                    f"wall {summary['platform']['wall_seconds']:.1f} s / {summary['baseline']['wall_seconds']:.1f} s",
                    flush=True,
                )
    if arguments.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"base {report['base_model']} on {device}, {arguments.steps} steps of batch {arguments.batch_size}, "
              f"{report['torch_threads']} torch threads")  # fmt: skip


if __name__ == "__main__":
    main()
