"""End to end on the real built-in model: two DPO steps on SmolLM2-135M-Instruct, saved and loaded back."""

import hashlib
from pathlib import Path

import pytest

from training.tests.test_trainers import toy_pairs
from training.trainers import TrainingConfig, train

pytestmark = pytest.mark.model


def test_dpo_trains_the_builtin_model_for_two_steps(tmp_path):
    from django.conf import settings
    from transformers import AutoModelForCausalLM

    from inference.builtin import builtin_model_prepare

    base = builtin_model_prepare(Path(settings.MODELS_DIR))
    config = TrainingConfig(
        method="dpo",
        base_model=base,
        output_dir=tmp_path / "dpo-builtin",
        max_steps=2,
        per_device_batch_size=2,
        learning_rate=1e-5,
        max_length=64,
        eval_steps=2,
    )
    result = train(config, toy_pairs(10))

    assert [entry["step"] for entry in result.history] == [1, 2]
    assert result.history[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference before the first step
    assert result.history[1]["tokens_per_second"] > 0
    assert result.metrics["held_out_records"] == 1.0
    assert 0.0 <= result.metrics["held_out_reward_accuracy"] <= 1.0
    weights = result.folder / "model.safetensors"
    assert result.weights == {"model.safetensors": hashlib.sha256(weights.read_bytes()).hexdigest()}
    assert result.weights["model.safetensors"] != hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest()
    model = AutoModelForCausalLM.from_pretrained(result.folder, local_files_only=True)
    assert model.config.num_hidden_layers == 30
    assert model.config.architectures == ["LlamaForCausalLM"]
