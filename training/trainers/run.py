"""The trainer's entry point: one process, or several under `torchrun` / `accelerate launch`, unchanged.

    python -m training.trainers.run --config CONFIG.json --pairs PAIRS.jsonl --out RESULT.json
    torchrun --nproc_per_node 2 -m training.trainers.run --config ... --pairs ... --out ...
    accelerate launch -m training.trainers.run --config ... --pairs ... --out ...

CONFIG.json holds a `TrainingConfig` (`TrainingConfig.to_json()`: method, base_model, output_dir,
...); PAIRS.jsonl one release `preferences` record a line. The main process prints one JSON line
per logged step on stdout and writes RESULT.json (`TrainingResult.to_json()`), or, when the run
could not train, `{"error": {"type": ..., "message": ...}}` and exits with status 2. Every process
ends with a line `training.trainers.run: rank R of W on DEVICE: N steps`.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from training.trainers import TrainingConfig, TrainingError, train


def _rank() -> int:
    import torch.distributed as distributed

    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank()
    return int(os.environ.get("RANK", "0"))


def _pairs_read(path: Path) -> list[dict]:
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                pairs.append(json.loads(line))
            except ValueError as error:
                raise TrainingError(f"{path}, line {number}, is not JSON: {error}") from error
    return pairs


def _json_write(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    staging.write_text(json.dumps(value, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(staging, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.trainers.run", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="the TrainingConfig as JSON")
    parser.add_argument("--pairs", type=Path, required=True, help="the preference records, one JSON object a line")
    parser.add_argument("--out", type=Path, required=True, help="where the main process writes the result JSON")
    arguments = parser.parse_args(argv)
    is_main = int(os.environ.get("RANK", "0")) == 0

    def on_log(entry: dict) -> None:
        print(json.dumps(entry, sort_keys=True), flush=True)

    try:
        config = TrainingConfig.from_json(json.loads(arguments.config.read_text(encoding="utf-8")))
        pairs = _pairs_read(arguments.pairs)
        result = train(config, pairs, on_log=on_log)
    except (TrainingError, OSError, ValueError) as error:
        if is_main:
            _json_write(arguments.out, {"error": {"type": type(error).__name__, "message": str(error)}})
        print(f"training.trainers.run: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 2
    if _rank() == 0:
        _json_write(arguments.out, result.to_json())
    steps = int(result.metrics.get("train_steps", 0))
    print(f"training.trainers.run: rank {_rank()} of {result.world_size} on {result.device}: {steps} steps", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
