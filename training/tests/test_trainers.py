"""The trainers (training/trainers/) on a tiny model: each method learns, the held-out split, errors, cancelling.

Pure-engine tests: no database. `tiny_base_model` (conftest.py) is a 2-layer model with the
built-in model's tokenizer and chat template, so each training run takes seconds.
"""

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from training.trainers import (
    BaseModelError,
    TrainingCancelled,
    TrainingConfig,
    TrainingConfigError,
    TrainingDataError,
    TrainingOutputError,
    train,
)
from training.trainers.data import held_out_split, method_rows

ANSWER_GOOD = "Yes, gladly."
ANSWER_BAD = "No. Never, not ever, under no circumstances at all."


def toy_pairs(count: int, *, corrections_every: int = 2) -> list[dict]:
    """Release-format preference records where the chosen answer is always the same short one: learnable."""
    pairs = []
    for number in range(count):
        source = "correction" if number % corrections_every == 0 else "arena"
        pairs.append(
            {
                "id": f"{source}-{number}",
                "source": source,
                "prompt": [{"role": "user", "content": f"Would you help me with task number {number}?"}],
                "chosen": [{"role": "assistant", "content": ANSWER_GOOD}],
                "rejected": [{"role": "assistant", "content": ANSWER_BAD}],
                "community": "open-commons",
                "language": "en",
                "licence": "CC-BY-4.0",
                "_leaf_index": 100 + number,
            }
        )
    return pairs


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected_held_out_ids(ids: list[str], fraction: float, seed: int) -> list[str]:
    """The held-out split as documented, computed here without the engine: lowest SHA-256(seed NUL id)."""
    count = max(1, int(len(ids) * fraction + 0.5))
    ranked = sorted(ids, key=lambda record_id: hashlib.sha256(f"{seed}\x00{record_id}".encode()).hexdigest())
    chosen = set(ranked[:count])
    return [record_id for record_id in ids if record_id in chosen]


def assert_trained_folder(result, *, weight_files: set[str]) -> None:
    names = {path.name for path in result.folder.iterdir()}
    assert {"config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"} <= names
    assert not any(name.startswith("adapter_") for name in names)
    assert set(result.weights) == weight_files
    assert result.weights == {name: file_sha256(result.folder / name) for name in weight_files}
    assert not (result.folder.parent / f".{result.folder.name}.partial").exists()


def assert_history(result, logged: list[dict], *, steps: int, eval_steps: list[int]) -> None:
    assert logged == result.history
    assert [entry["step"] for entry in result.history] == list(range(1, steps + 1))
    for entry in result.history:
        assert entry["loss"] > 0
        assert entry["learning_rate"] > 0
        assert entry["tokens_per_second"] > 0
    assert [entry["step"] for entry in result.history if "eval_loss" in entry] == eval_steps


# -- the split -----------------------------------------------------------------------------------


def test_held_out_split_is_the_seeds_lowest_hashes_and_ignores_file_order():
    rows = method_rows("dpo", toy_pairs(30))
    ids = [row["id"] for row in rows]
    train_rows, held_out = held_out_split(rows, 0.2, 7, method="dpo")
    assert [row["id"] for row in held_out] == expected_held_out_ids(ids, 0.2, 7)
    assert len(held_out) == 6
    assert len(train_rows) == 24
    assert {row["id"] for row in train_rows} == set(ids) - {row["id"] for row in held_out}

    _, held_out_reversed = held_out_split(list(reversed(rows)), 0.2, 7, method="dpo")
    assert {row["id"] for row in held_out_reversed} == {row["id"] for row in held_out}
    _, held_out_other_seed = held_out_split(rows, 0.2, 8, method="dpo")
    assert [row["id"] for row in held_out_other_seed] == expected_held_out_ids(ids, 0.2, 8)
    assert {row["id"] for row in held_out_other_seed} != {row["id"] for row in held_out}


def test_method_rows_keep_only_the_columns_trl_reads():
    pairs = toy_pairs(4)
    assert method_rows("reward", pairs)[1] == {
        "id": "arena-1",
        "prompt": pairs[1]["prompt"],
        "chosen": pairs[1]["chosen"],
        "rejected": pairs[1]["rejected"],
    }
    assert method_rows("sft", pairs) == [
        {"id": "correction-0", "prompt": pairs[0]["prompt"], "completion": pairs[0]["chosen"]},
        {"id": "correction-2", "prompt": pairs[2]["prompt"], "completion": pairs[2]["chosen"]},
    ]


# -- each method learns ----------------------------------------------------------------------


def test_reward_model_learns_the_toy_preference_and_reports_exact_held_out_accuracy(tiny_base_model, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    pairs = toy_pairs(40)
    logged: list[dict] = []
    config = TrainingConfig(
        method="reward", base_model=tiny_base_model, output_dir=tmp_path / "reward", max_steps=5, learning_rate=1e-3
    )
    result = train(config, pairs, on_log=logged.append)

    assert_history(result, logged, steps=5, eval_steps=[1, 2, 3, 4, 5])  # eval_steps=None: every max_steps // 5
    assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]
    assert_trained_folder(result, weight_files={"model.safetensors"})
    ids = [pair["id"] for pair in pairs]
    assert result.held_out_ids == expected_held_out_ids(ids, 0.1, 0)
    assert result.train_ids == [record_id for record_id in ids if record_id not in result.held_out_ids]
    assert result.metrics["train_records"] == 36.0
    assert result.metrics["held_out_records"] == 4.0
    assert result.metrics["train_steps"] == 5.0
    assert result.device == "cpu"
    assert result.world_size == 1

    # The folder is a one-score sequence classifier; scoring the held-out pairs one by one from
    # the saved files gives the accuracy the trainer reported.
    model = AutoModelForSequenceClassification.from_pretrained(result.folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(result.folder, local_files_only=True)
    assert model.config.num_labels == 1
    assert model.config.architectures == ["LlamaForSequenceClassification"]
    model.eval()

    def score(messages: list[dict]) -> float:
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        with torch.no_grad():
            return model(input_ids=torch.tensor([ids])).logits[0, 0].item()

    held_out = [pair for pair in pairs if pair["id"] in result.held_out_ids]
    wins = sum(score(pair["prompt"] + pair["chosen"]) > score(pair["prompt"] + pair["rejected"]) for pair in held_out)
    assert result.metrics["held_out_accuracy"] == wins / len(held_out)
    assert result.metrics["held_out_accuracy"] == 1.0


def test_reward_pairwise_accuracy_counts_pair_by_pair(tiny_base_model):
    """Batched, padded scoring of a random-headed classifier agrees with scoring each sequence alone."""
    import datasets
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.trainers.reward import reward_pairwise_accuracy

    torch.manual_seed(3)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_base_model, num_labels=1, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_base_model, local_files_only=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()

    def ids(messages: list[dict]) -> list[int]:
        return tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]

    rows = []
    for number in range(11):
        prompt = [{"role": "user", "content": f"Question {number}" + " and more" * number}]
        rows.append(
            {
                "chosen_ids": ids(prompt + [{"role": "assistant", "content": "A" * (number + 1)}]),
                "rejected_ids": ids(prompt + [{"role": "assistant", "content": f"B{number} " * (11 - number)}]),
            }
        )

    def score(token_ids: list[int]) -> float:
        with torch.no_grad():
            return model(input_ids=torch.tensor([token_ids])).logits[0, 0].item()

    wins = sum(score(row["chosen_ids"]) > score(row["rejected_ids"]) for row in rows)
    accuracy = reward_pairwise_accuracy(model, datasets.Dataset.from_list(rows), tokenizer.pad_token_id, 4)
    assert accuracy == wins / 11
    assert 0 < wins < 11  # a random head: both outcomes occur, so the count is really checked


def test_dpo_learns_the_toy_preference(tiny_base_model, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pairs = toy_pairs(40)
    logged: list[dict] = []
    config = TrainingConfig(
        method="dpo",
        base_model=tiny_base_model,
        output_dir=tmp_path / "dpo",
        max_steps=4,
        learning_rate=1e-3,
        per_device_batch_size=2,
        eval_steps=2,
    )
    result = train(config, pairs, on_log=logged.append)

    assert_history(result, logged, steps=4, eval_steps=[2, 4])
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]
    assert result.history[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # log 2: policy == reference at step 1
    assert result.metrics["held_out_reward_accuracy"] == 1.0
    assert result.metrics["held_out_reward_margin"] > 0
    assert result.metrics["held_out_loss"] == result.history[-1]["eval_loss"]
    assert_trained_folder(result, weight_files={"model.safetensors"})
    assert (result.folder / "generation_config.json").is_file()
    assert set(result.train_ids).isdisjoint(result.held_out_ids)
    assert result.held_out_ids == expected_held_out_ids([pair["id"] for pair in pairs], 0.1, 0)

    model = AutoModelForCausalLM.from_pretrained(result.folder, local_files_only=True)
    assert model.config.architectures == ["LlamaForCausalLM"]
    tokenizer = AutoTokenizer.from_pretrained(result.folder, local_files_only=True)
    assert tokenizer.chat_template == (tiny_base_model / "chat_template.jinja").read_text(encoding="utf-8")


def test_sft_learns_the_corrections_only(tiny_base_model, tmp_path):
    from transformers import AutoModelForCausalLM

    pairs = toy_pairs(40)  # 20 corrections, 20 arena pairs
    logged: list[dict] = []
    config = TrainingConfig(
        method="sft",
        base_model=tiny_base_model,
        output_dir=tmp_path / "sft",
        max_steps=6,
        learning_rate=2e-2,
        per_device_batch_size=2,
        eval_steps=3,
    )
    result = train(config, pairs, on_log=logged.append)

    assert_history(result, logged, steps=6, eval_steps=[3, 6])
    assert result.history[-1]["loss"] < 0.7 * result.history[0]["loss"]
    corrections = [pair["id"] for pair in pairs if pair["source"] == "correction"]
    assert result.held_out_ids == expected_held_out_ids(corrections, 0.1, 0)
    assert len(result.held_out_ids) == 2
    assert sorted(result.train_ids + result.held_out_ids) == sorted(corrections)
    assert set(result.train_ids).isdisjoint(result.held_out_ids)
    assert result.metrics["held_out_loss"] == result.history[-1]["eval_loss"]
    assert 0 <= result.metrics["held_out_token_accuracy"] <= 1
    assert_trained_folder(result, weight_files={"model.safetensors"})
    AutoModelForCausalLM.from_pretrained(result.folder, local_files_only=True)


def test_lora_adapters_are_merged_into_a_plain_folder(tiny_base_model, tmp_path):
    """With lora=True only the adapted linear layers change; the saved folder has no adapter, just weights."""
    from safetensors.torch import load_file

    config = TrainingConfig(
        method="sft",
        base_model=tiny_base_model,
        output_dir=tmp_path / "lora",
        max_steps=3,
        learning_rate=2e-2,
        per_device_batch_size=2,
        lora=True,
        lora_r=4,
        eval_steps=3,
    )
    result = train(config, toy_pairs(20))

    assert_trained_folder(result, weight_files={"model.safetensors"})
    base = load_file(tiny_base_model / "model.safetensors")
    trained = load_file(result.folder / "model.safetensors")
    assert set(trained) == set(base)
    assert (trained["model.embed_tokens.weight"] == base["model.embed_tokens.weight"]).all()
    assert (trained["model.layers.0.input_layernorm.weight"] == base["model.layers.0.input_layernorm.weight"]).all()
    assert not (
        trained["model.layers.0.self_attn.q_proj.weight"] == base["model.layers.0.self_attn.q_proj.weight"]
    ).all()
    assert result.history[-1]["loss"] < result.history[0]["loss"]


# -- cancelling and faults ------------------------------------------------------------------


def test_should_stop_cancels_between_steps_and_keeps_nothing(tiny_base_model, tmp_path):
    asked = []

    def should_stop() -> bool:
        asked.append(True)
        return len(asked) >= 3  # asked before training, after step 1, then after step 2: stop there

    logged: list[dict] = []
    output = tmp_path / "cancelled"
    config = TrainingConfig(
        method="reward", base_model=tiny_base_model, output_dir=output, max_steps=20, per_device_batch_size=2
    )
    with pytest.raises(TrainingCancelled, match="cancelled; no model was saved"):
        train(config, toy_pairs(12), on_log=logged.append, should_stop=should_stop)
    assert len(asked) == 3
    assert [entry["step"] for entry in logged] == [1, 2]
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_full_disk_while_saving_keeps_nothing(tiny_base_model, tmp_path, monkeypatch):
    output = tmp_path / "full"
    staging = tmp_path / ".full.partial"
    real_replace = os.replace

    def replace(source, target, *args, **kwargs):
        if Path(source) == staging:  # the disk is outside the system: it fills exactly when the model moves in
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    config = TrainingConfig(
        method="reward", base_model=tiny_base_model, output_dir=output, max_steps=1, per_device_batch_size=2
    )
    with pytest.raises(TrainingOutputError, match="The disk filled while the model was saved"):
        train(config, toy_pairs(6))
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_records_longer_than_max_length_are_a_clear_error(tiny_base_model, tmp_path):
    config = TrainingConfig(method="reward", base_model=tiny_base_model, output_dir=tmp_path / "m", max_length=8)
    with pytest.raises(TrainingDataError, match="No training record fits in max_length=8 tokens"):
        train(config, toy_pairs(6))
    assert list(tmp_path.iterdir()) == []


# -- bad input, refused before anything loads --------------------------------------------------


@pytest.mark.parametrize(
    ("method", "pairs", "message"),
    [
        ("reward", [], "Too few records to train reward: 0 preference pairs"),
        ("dpo", toy_pairs(1), "Too few records to train dpo: 1 preference pairs, and a held-out split of 1"),
        ("sft", toy_pairs(6, corrections_every=7), "Too few records to train sft: 1 corrections"),
    ],
)
def test_too_few_records_for_a_split(tiny_base_model, tmp_path, method, pairs, message):
    config = TrainingConfig(method=method, base_model=tiny_base_model, output_dir=tmp_path / "m")
    with pytest.raises(TrainingDataError, match=message):
        train(config, pairs)
    assert list(tmp_path.iterdir()) == []


def _record(**changes) -> dict:
    record = toy_pairs(1)[0]
    record.update(changes)
    return record


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([{"prompt": []}], "Record 0 has no string 'id'"),
        ([_record(chosen=None)], "Record correction-0: 'chosen' must be a non-empty list of messages"),
        (
            [_record(chosen=[{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}])],
            "'chosen' must hold exactly one message, not 2",
        ),
        ([_record(prompt=[{"role": "assistant", "content": "hi"}])], "'prompt' must end with a user message"),
        ([_record(rejected=[{"role": "assistant", "content": 3}])], "every message in 'rejected' must be"),
        ([_record(id="x"), _record(id="x")], "Record x appears twice"),
        ([{key: value for key, value in _record().items() if key != "rejected"}], "has no 'rejected'"),
    ],
)
def test_malformed_records_are_refused_by_name(tmp_path, pairs, message):
    config = TrainingConfig(method="dpo", base_model=tmp_path / "never-read", output_dir=tmp_path / "m")
    with pytest.raises(TrainingDataError, match=message):
        train(config, pairs)


def test_unknown_base_model_folder(tmp_path):
    config = TrainingConfig(method="dpo", base_model=tmp_path / "nothing-here", output_dir=tmp_path / "m")
    with pytest.raises(BaseModelError, match="nothing-here does not exist"):
        train(config, toy_pairs(10))
    (tmp_path / "empty").mkdir()
    config = TrainingConfig(method="dpo", base_model=tmp_path / "empty", output_dir=tmp_path / "m")
    with pytest.raises(BaseModelError, match="is not a model folder: it has no config.json"):
        train(config, toy_pairs(10))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty"]


@pytest.mark.parametrize(
    ("architectures", "message"),
    [
        (["LlamaForSequenceClassification"], "its architecture is LlamaForSequenceClassification"),
        (["BertModel"], "its architecture is BertModel"),
    ],
)
def test_a_folder_that_is_not_a_causal_lm(tiny_base_model, tmp_path, architectures, message):
    folder = tmp_path / "not-causal"
    folder.mkdir()
    config = json.loads((tiny_base_model / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = architectures
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "model.safetensors").write_bytes((tiny_base_model / "model.safetensors").read_bytes())
    training = TrainingConfig(method="sft", base_model=folder, output_dir=tmp_path / "m")
    with pytest.raises(BaseModelError, match=f"is not a causal language model: {message}"):
        train(training, toy_pairs(10))
    assert not (tmp_path / "m").exists()


def test_a_base_folder_without_weights(tiny_base_model, tmp_path):
    folder = tmp_path / "no-weights"
    folder.mkdir()
    (folder / "config.json").write_bytes((tiny_base_model / "config.json").read_bytes())
    with pytest.raises(BaseModelError, match="has no weight file"):
        train(TrainingConfig(method="dpo", base_model=folder, output_dir=tmp_path / "m"), toy_pairs(10))


def test_an_existing_model_folder_is_never_overwritten(tiny_base_model, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(TrainingOutputError, match="exists already: a run never overwrites a model"):
        train(TrainingConfig(method="dpo", base_model=tiny_base_model, output_dir=tmp_path / "m"), toy_pairs(10))
    assert (tmp_path / "m" / "keep.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "ppo"}, "Unknown training method 'ppo': use one of reward, dpo, sft"),
        ({"held_out_fraction": 0.0}, "held_out_fraction must be between 0 and 1"),
        ({"held_out_fraction": 1.0}, "held_out_fraction must be between 0 and 1"),
        ({"max_steps": 0}, "max_steps must be a whole number of at least 1, not 0"),
        ({"per_device_batch_size": 2.5}, "per_device_batch_size must be a whole number"),
        ({"learning_rate": -1.0}, "learning_rate must be positive"),
        ({"beta": 0}, "beta must be positive"),
    ],
)
def test_bad_configurations_are_refused(tmp_path, changes, message):
    values = {"method": "dpo", "base_model": tmp_path, "output_dir": tmp_path / "m", **changes}
    with pytest.raises(TrainingConfigError, match=message):
        TrainingConfig(**values)


def test_configuration_json_round_trip_and_unknown_keys(tmp_path):
    config = TrainingConfig(method="sft", base_model=tmp_path / "base", output_dir=tmp_path / "out", lora=True)
    assert TrainingConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    with pytest.raises(TrainingConfigError, match="Unknown training configuration keys: epochs, warmup"):
        TrainingConfig.from_json({**config.to_json(), "warmup": 1, "epochs": 2})
    with pytest.raises(TrainingConfigError, match="The training configuration lacks: base_model, output_dir"):
        TrainingConfig.from_json({"method": "sft"})


def test_the_engine_package_imports_no_machine_learning_library():
    """`training.trainers` is imported by services and pages: torch and friends load only inside train()."""
    import subprocess
    import sys

    code = (
        "import sys, training.trainers, training.trainers.data; "
        "print(sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets', 'django') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    ).stdout
    assert output.strip() == "[]"
