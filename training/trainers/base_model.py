"""The base model a run starts from: a local folder holding a causal language model and its tokenizer.

Only the worker, commands, benchmarks and tests import this module (it imports transformers).
Nothing is ever fetched from a model hub: every load is `local_files_only`.
"""

import json
import os
from pathlib import Path

from training.trainers import BaseModelError

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is first imported

_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def _causal_architectures() -> set[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    names: set[str] = set()
    for value in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values():
        names.update(value if isinstance(value, tuple | list) else (value,))
    return names


def base_model_check(folder: Path) -> dict:
    """Check that `folder` holds a causal LM with weights and a tokenizer with a chat template; return its config.

    Raises BaseModelError saying what is wrong: the folder is missing, has no config.json, its
    architecture is not a causal language model (a reward model's sequence classifier, say), it
    has no weight file, or its tokenizer has no chat template.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BaseModelError(f"The base model folder {folder} does not exist.")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise BaseModelError(f"{folder} is not a model folder: it has no config.json.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BaseModelError(f"{config_path} cannot be read as JSON: {error}.") from error
    if not isinstance(config, dict):
        raise BaseModelError(f"{config_path} is not a JSON object.")
    causal = _causal_architectures()
    architectures = config.get("architectures") or []
    if architectures:
        if not any(name in causal for name in architectures):
            raise BaseModelError(
                f"{folder} is not a causal language model: its architecture is {', '.join(map(str, architectures))}. "
                "Train from a chat model's folder (AutoModelForCausalLM), not from a reward model or an encoder."
            )
    else:
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        if config.get("model_type") not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            raise BaseModelError(
                f"{folder} is not a causal language model: its model type is {config.get('model_type')!r}."
            )
    if not any(path.suffix in _WEIGHT_SUFFIXES and path.is_file() for path in folder.iterdir()):
        raise BaseModelError(f"{folder} has no weight file (*.safetensors).")
    return config


def base_tokenizer_load(folder: Path):
    """The base model's tokenizer, which must have a chat template (the release's records are conversations)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        raise BaseModelError(f"The tokenizer of {folder} cannot be loaded: {error}") from error
    if not getattr(tokenizer, "chat_template", None):
        raise BaseModelError(
            f"The tokenizer of {folder} has no chat template: the trainers format the release's conversations with it."
        )
    return tokenizer


def base_model_load(folder: Path, *, sequence_classifier: bool, dtype=None):
    """Load the base weights: as a causal LM, or as a one-score sequence classifier (a reward model's head)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    model_class = AutoModelForSequenceClassification if sequence_classifier else AutoModelForCausalLM
    extra = {"num_labels": 1} if sequence_classifier else {}
    try:
        return model_class.from_pretrained(folder, local_files_only=True, dtype=dtype or torch.float32, **extra)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise BaseModelError(f"The weights in {folder} cannot be loaded: {error}") from error
