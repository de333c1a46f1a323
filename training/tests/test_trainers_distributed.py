"""The trainer's entry point under `torchrun --nproc_per_node 2` on CPU (gloo), unchanged, on the tiny model."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from training.tests.test_trainers import toy_pairs

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_entry_point_runs_unchanged_under_torchrun_with_two_cpu_processes(tiny_base_model, tmp_path):
    pairs_path = tmp_path / "pairs.jsonl"
    pairs_path.write_text("".join(json.dumps(pair) + "\n" for pair in toy_pairs(24)), encoding="utf-8")
    output = tmp_path / "model"
    config_path = tmp_path / "config.json"
    config_path.write_text(
        json.dumps(
            {
                "method": "reward",
                "base_model": str(tiny_base_model),
                "output_dir": str(output),
                "max_steps": 3,
                "per_device_batch_size": 2,
                "learning_rate": 1e-3,
                "eval_steps": 3,
            }
        ),
        encoding="utf-8",
    )
    result_path = tmp_path / "result.json"
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "OMP_NUM_THREADS": "1",  # two processes on two cores
        "CUDA_VISIBLE_DEVICES": "",
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "training.trainers.run",
        "--config", str(config_path), "--pairs", str(pairs_path), "--out", str(result_path),
    ]  # fmt: skip
    completed = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-4000:]

    # Both ranks trained the same 3 steps; only the main one printed the log lines and wrote the result.
    lines = completed.stdout.splitlines()
    assert sorted(line for line in lines if line.startswith("training.trainers.run:")) == [
        "training.trainers.run: rank 0 of 2 on cpu: 3 steps",
        "training.trainers.run: rank 1 of 2 on cpu: 3 steps",
    ]
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert [entry["step"] for entry in logged] == [1, 2, 3]

    result = json.loads(result_path.read_text(encoding="utf-8"))
    assert result["world_size"] == 2
    assert result["history"] == logged
    assert result["folder"] == str(output)
    assert result["weights"] == {
        "model.safetensors": hashlib.sha256((output / "model.safetensors").read_bytes()).hexdigest()
    }
    assert result["metrics"]["train_steps"] == 3.0
    # TRL's token counter gathers both ranks' tokens; the result's total is the last log's.
    assert result["metrics"]["train_tokens"] == logged[-1]["num_tokens"]
    assert set(result["train_ids"]).isdisjoint(result["held_out_ids"])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "model", "pairs.jsonl", "result.json"]


def test_the_entry_point_reports_a_training_error_as_json(tiny_base_model, tmp_path):
    (tmp_path / "pairs.jsonl").write_text(json.dumps(toy_pairs(1)[0]) + "\n", encoding="utf-8")
    config = {"method": "dpo", "base_model": str(tiny_base_model), "output_dir": str(tmp_path / "model")}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    command = [
        sys.executable, "-m", "training.trainers.run",
        "--config", str(tmp_path / "config.json"), "--pairs", str(tmp_path / "pairs.jsonl"),
        "--out", str(tmp_path / "result.json"),
    ]  # fmt: skip
    completed = subprocess.run(
        command, capture_output=True, text=True, cwd=REPOSITORY, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )  # fmt: skip
    assert completed.returncode == 2
    message = (
        "Too few records to train dpo: 1 preference pairs, and a held-out split of 1 must leave at least one to "
        "train on. Publish a release with more feedback, or lower the selection's filters."
    )
    assert json.loads((tmp_path / "result.json").read_text(encoding="utf-8")) == {
        "error": {"type": "TrainingDataError", "message": message}
    }
    assert completed.stderr.strip().endswith(f"training.trainers.run: TrainingDataError: {message}")
    assert not (tmp_path / "model").exists()
