"""The built-in model's one-time conversion from GGUF to a transformers folder."""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors import safe_open

from inference.builtin import BUILTIN_MODEL_ID, builtin_gguf_path, builtin_model_prepare

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def prepared_folder() -> Path:
    return builtin_model_prepare(settings.MODELS_DIR)


def test_prepare_is_idempotent(prepared_folder: Path) -> None:
    weights = prepared_folder / "model.safetensors"
    written_at = weights.stat().st_mtime_ns
    entries = sorted(path.name for path in settings.MODELS_DIR.iterdir())

    assert builtin_model_prepare(settings.MODELS_DIR) == prepared_folder == settings.MODELS_DIR / BUILTIN_MODEL_ID
    assert weights.stat().st_mtime_ns == written_at
    assert sorted(path.name for path in settings.MODELS_DIR.iterdir()) == entries


@pytest.mark.parametrize(
    ("gguf_name", "safetensors_name"),
    [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("blk.7.ffn_down.weight", "model.layers.7.mlp.down_proj.weight"),
    ],
)
def test_weights_equal_the_gguf_dequantised_independently(
    prepared_folder: Path, gguf_name: str, safetensors_name: str
) -> None:
    """gguf's own dequantiser, not transformers', reads the quantised tensor."""
    tensor = next(tensor for tensor in GGUFReader(builtin_gguf_path()).tensors if tensor.name == gguf_name)
    expected = dequantize(tensor.data, tensor.tensor_type)

    with safe_open(prepared_folder / "model.safetensors", framework="pt") as weights:
        converted = weights.get_tensor(safetensors_name).numpy()

    assert converted.dtype == np.float32
    np.testing.assert_array_equal(converted, expected.reshape(converted.shape))
