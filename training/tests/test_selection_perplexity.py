"""Perplexity under a causal LM (training/selection/perplexity.py) on a tiny model built from the base model's
config, checked against transformers' own loss; and once on the built-in model itself."""

import math
from pathlib import Path

import pytest
from django.conf import settings

from training.selection import SelectionConfig, select
from training.selection.perplexity import causal_lm_perplexity

BASE = "SmolLM2-135M-Instruct"


def base_folder() -> Path:
    folder = Path(settings.MODELS_DIR) / BASE
    if not (folder / "config.json").is_file():
        pytest.skip(f"{folder} is missing: run `python manage.py prepare_models`")
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """Two layers, hidden size 32, the base model's tokenizer, random weights from a fixed seed."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    base = base_folder()
    config = AutoConfig.from_pretrained(base)
    config.num_hidden_layers, config.hidden_size, config.intermediate_size = 2, 32, 64
    config.num_attention_heads, config.num_key_value_heads, config.head_dim = 4, 2, 8
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    folder = tmp_path_factory.mktemp("tiny-causal-lm")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder


TEXTS = ["The moon pulls the oceans.", "Hi", "", "A longer answer, with several words, to pad the others in a batch."]


def reference(folder: Path, text: str) -> float:
    """exp of transformers' own mean token loss, one text at a time, BOS first."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.tensor([[tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]])
    with torch.inference_mode():
        return math.exp(model(input_ids=ids, labels=ids).loss.item())


def test_perplexity_matches_transformers_loss_batched_or_not(tiny_model):
    batched = causal_lm_perplexity(tiny_model, batch_size=8, device="cpu")(TEXTS)
    single = causal_lm_perplexity(tiny_model, batch_size=1, device="cpu")(TEXTS)
    assert math.isnan(batched[2]) and math.isnan(single[2])  # an empty text has no token to predict
    for position in (0, 1, 3):
        expected = reference(tiny_model, TEXTS[position])
        assert batched[position] == pytest.approx(expected, rel=1e-4)
        assert single[position] == pytest.approx(expected, rel=1e-4)
    # A random model of this vocabulary is near uniform: perplexity near the vocabulary size.
    assert 10_000 < batched[0] < 200_000


def test_select_with_the_real_perplexity_function(tiny_model):
    from training.tests.test_selection import pair

    score = causal_lm_perplexity(tiny_model, device="cpu")
    records = [pair("a", chosen=TEXTS[0]), pair("b", chosen=TEXTS[3]), pair("c", chosen="Hi there")]
    values = score([TEXTS[0], TEXTS[3], "Hi there"])
    limit = sorted(values)[1]  # keeps the two lowest
    selection = select(records, SelectionConfig(perplexity_max=limit), perplexity=score)
    expected = [record["id"] for record, value in zip(records, values, strict=True) if value <= limit]
    assert [record["id"] for record in selection.kept] == expected and len(expected) == 2


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="is not a model folder: it has no config.json"):
        causal_lm_perplexity(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="does not hold a causal language model"):
        causal_lm_perplexity(tmp_path)


@pytest.mark.model
def test_the_built_in_model_finds_prose_more_likely_than_word_salad():
    score = causal_lm_perplexity(base_folder(), device="cpu")
    prose, salad = score(["The cat sat on the mat and went to sleep.", "mat sleep the on went cat and sat to the."])
    assert prose < salad
