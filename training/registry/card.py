"""The model card of a trained model, in the Hugging Face format: YAML front matter (`base_model`,
`license`, `datasets`, `tags`, `model-index` with its held-out results), then prose: intended
use, training data, the selection report, limitations. Saved as README.md in the model folder,
so `huggingface_hub` uploads it and the Hub shows it. Pure: no Django, no torch."""

import json
from dataclasses import dataclass, field
from typing import Any

# Hugging Face licence identifiers of the data licences communities use; others are "other".
LICENCE_IDS = {
    "CC BY 4.0": "cc-by-4.0",
    "CC BY-SA 4.0": "cc-by-sa-4.0",
    "CC BY-NC 4.0": "cc-by-nc-4.0",
    "CC BY-NC-SA 4.0": "cc-by-nc-sa-4.0",
    "CC0 1.0": "cc0-1.0",
    "CC0": "cc0-1.0",
    "ODC-By": "odc-by",
    "ODbL": "odbl",
    "Apache 2.0": "apache-2.0",
    "MIT": "mit",
}

TASKS = {
    "reward": ("text-classification", "Reward modelling (pairwise preference)"),
    "dpo": ("text-generation", "Direct preference optimisation"),
    "sft": ("text-generation", "Supervised fine-tuning on volunteers' better answers"),
}

METHOD_WORDS = {
    "reward": "a reward model (a sequence classifier with one score) trained with TRL's RewardTrainer",
    "dpo": "a chat model fine-tuned with direct preference optimisation (TRL's DPOTrainer)",
    "sft": "a chat model fine-tuned on volunteers' better answers (TRL's SFTTrainer)",
}


@dataclass
class CardInputs:
    name: str
    community_name: str
    community_slug: str
    method: str
    base_model: str
    licence_name: str
    licence_url: str
    release_name: str
    release_merkle_root: str
    selection_merkle_root: str
    records_kept: int
    metrics: dict[str, float]
    selection_report_markdown: str
    weights: dict[str, str]
    run_id: int
    code_version: str
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    is_synthetic: bool = False


def _yaml_scalar(value: Any) -> str:
    """A YAML scalar: JSON is a subset of YAML, so strings and numbers are written as JSON."""
    return json.dumps(value, ensure_ascii=False)


def licence_id(licence_name: str) -> str:
    return LICENCE_IDS.get(licence_name.strip(), "other")


def front_matter(card: CardInputs) -> str:
    task_type, task_name = TASKS[card.method]
    licence = licence_id(card.licence_name)
    lines = [
        "---",
        f"base_model: {_yaml_scalar(card.base_model)}",
        f"license: {_yaml_scalar(licence)}",
    ]
    if licence == "other":
        lines += [f"license_name: {_yaml_scalar(card.licence_name)}", f"license_link: {_yaml_scalar(card.licence_url)}"]
    lines += [
        "datasets:",
        f"- {_yaml_scalar('feedback-commons/' + card.release_name)}",
        f"library_name: {_yaml_scalar('transformers')}",
        f"pipeline_tag: {_yaml_scalar(task_type)}",
        "tags:",
        f"- {_yaml_scalar('trl')}",
        f"- {_yaml_scalar(card.method)}",
        f"- {_yaml_scalar('feedback-commons')}",
        "model-index:",
        f"- name: {_yaml_scalar(card.name)}",
        "  results:",
        "  - task:",
        f"      type: {_yaml_scalar(task_type)}",
        f"      name: {_yaml_scalar(task_name)}",
        "    dataset:",
        f"      name: {_yaml_scalar(card.release_name + ' (held-out split)')}",
        f"      type: {_yaml_scalar('feedback-commons/' + card.release_name)}",
        f"      split: {_yaml_scalar('held-out')}",
        "    metrics:",
    ]
    numeric = {key: value for key, value in sorted(card.metrics.items()) if isinstance(value, (int, float))}
    if not numeric:
        lines[-1] = "    metrics: []"
    for key, value in numeric.items():
        lines += [f"    - type: {_yaml_scalar(key)}", f"      value: {_yaml_scalar(float(value))}"]
    lines.append("---")
    return "\n".join(lines) + "\n"


def model_card_markdown(card: CardInputs) -> str:
    """The whole README.md."""
    metrics_rows = "\n".join(
        f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |"
        for key, value in sorted(card.metrics.items())
    )
    weights_rows = "\n".join(f"| `{name}` | `{digest}` |" for name, digest in sorted(card.weights.items()))
    lineage = f"`{card.parent}` → `{card.name}`" if card.parent else f"`{card.base_model}` → `{card.name}`"
    synthetic = (
        "\n**The community's pool holds synthetic demo data**: this model learned from made-up records, "
        "not from people.\n"
        if card.is_synthetic
        else ""
    )
    loader = "AutoModelForSequenceClassification" if card.method == "reward" else "AutoModelForCausalLM"
    return (
        front_matter(card)
        + f"""
# {card.name}

{METHOD_WORDS[card.method][0].upper() + METHOD_WORDS[card.method][1:]}, from `{card.base_model}`, on the
published release `{card.release_name}` of the Feedback Commons community **{card.community_name}**
(`{card.community_slug}`).
{synthetic}
## Intended use

Research on learning from open human feedback, and serving back to the community's arena, where
its volunteers judge it against other models. It is not meant for decisions about people, nor for
any use the data licence ({card.licence_name}) does not allow.

```python
from transformers import {loader}, AutoTokenizer
model = {loader}.from_pretrained("path/to/{card.name}")
tokenizer = AutoTokenizer.from_pretrained("path/to/{card.name}")
```

## Training data

- Release: `{card.release_name}`, Merkle root `{card.release_merkle_root}` (RFC 6962 over its JSONL lines).
- Selection: {card.records_kept} preference records kept; the kept records' own Merkle root is
  `{card.selection_merkle_root}`. `selection.json` in this folder lists every kept record's id and
  leaf index, so anyone can prove that a released record was, or was not, in the training set.
- Licence: {card.licence_name} ({card.licence_url}), inherited from the community's data licence.

### Selection report

{card.selection_report_markdown.strip()}

## Training

- Method: {card.method}; base model: `{card.base_model}`; lineage: {lineage}.
- Run {card.run_id}, seed {card.seed}, code version `{card.code_version}`.
- Configuration: `{json.dumps(card.config, sort_keys=True)}`

## Evaluation (held-out split of the release, never trained on)

| metric | value |
|---|---|
{metrics_rows or "| (none) | |"}

## Files

| file | SHA-256 |
|---|---|
{weights_rows}

## Limitations

A small base model trained for few steps on one community's feedback: it inherits the base
model's limits and the biases of the volunteers and prompts of the pool; its held-out figures
come from the same release and say nothing of other data. Preference data reward what volunteers
liked, which is not always what is true.
"""
    )


def card_parts(card: str) -> tuple[str, str]:
    """A model card's YAML front matter (without its `---` lines) and its prose; no front matter
    gives ("", card)."""
    if not card.startswith("---\n"):
        return "", card
    _, front, prose = card.split("---\n", 2)
    return front, prose
