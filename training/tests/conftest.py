"""Fixtures of the training tests: a tiny causal LM built from the built-in model's config."""

from pathlib import Path

import pytest

TINY_MODEL_SHAPE = {
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 1024,
}


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a tiny randomly initialised causal LM with the built-in model's tokenizer and chat template.

    Same architecture, vocabulary and chat template as SmolLM2-135M-Instruct (its config.json, with
    2 layers, hidden size 64 and 4 heads), about 3.3 M parameters, so a training step takes
    milliseconds. Built once per test session (the built-in model is converted first if the models
    folder lacks it); seeded, so every session builds the same weights.
    """
    # Imported here: torch and transformers would slow down every test run that does not train.
    import torch
    from django.conf import settings
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from inference.builtin import builtin_model_prepare

    builtin = builtin_model_prepare(Path(settings.MODELS_DIR))
    folder = tmp_path_factory.mktemp("models") / "tiny-smollm2"
    config = AutoConfig.from_pretrained(builtin, local_files_only=True)
    for name, value in TINY_MODEL_SHAPE.items():
        setattr(config, name, value)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig.from_pretrained(builtin, local_files_only=True)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(builtin, local_files_only=True).save_pretrained(folder)
    return folder
