"""Comparing a newly trained chat model with the community's current one, for promotion: both answer
the same held-out prompts of the release (greedy, so the comparison is repeatable), the
community's newest reward model scores every answer, and the candidate's win rate (a tie counts
half) comes with a 95 % percentile bootstrap interval over the prompts. No Django; torch and
transformers are imported inside the functions (only workers and tests call them)."""

import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Comparison:
    prompts: int
    wins: float  # a tie counts half
    win_rate: float
    low: float  # 95 % percentile bootstrap interval of the win rate, over the prompts
    high: float

    def as_json(self) -> dict:
        return dict(self.__dict__)


def outcomes(candidate_scores: list[float], current_scores: list[float]) -> list[float]:
    """1 where the candidate's answer scored higher, 0.5 for a tie, 0 where it scored lower."""
    if len(candidate_scores) != len(current_scores):
        raise ValueError("Both models need one score per prompt.")
    return [
        1.0 if new > old else 0.5 if new == old else 0.0
        for new, old in zip(candidate_scores, current_scores, strict=True)
    ]


def win_rate_interval(results: list[float], *, resamples: int = 2000, seed: int = 0) -> Comparison:
    """The win rate and its 95 % percentile bootstrap interval (prompts resampled with replacement)."""
    if not results:
        raise ValueError("No prompt to compare the models on.")
    size = len(results)
    rng = random.Random(seed)  # noqa: S311 (resampling, not cryptography)
    rates = sorted(sum(rng.choices(results, k=size)) / size for _ in range(resamples))
    low = rates[int(0.025 * (resamples - 1))]
    high = rates[int(round(0.975 * (resamples - 1)))]
    wins = sum(results)
    return Comparison(prompts=size, wins=wins, win_rate=wins / size, low=low, high=high)


def answers_generate(folder: Path, prompts: list[list[dict]], *, max_new_tokens: int = 48) -> list[str]:
    """Each prompt's greedy answer from the chat model in `folder`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    answers = []
    with torch.no_grad():
        for messages in prompts:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
            if not isinstance(ids, torch.Tensor):  # newer tokenizers return a BatchEncoding
                ids = ids["input_ids"]
            output = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
            answers.append(tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True).strip())
    return answers


def answers_score(reward_folder: Path, prompts: list[list[dict]], answers: list[str]) -> list[float]:
    """The reward model's score of each (prompt, answer)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(reward_folder, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        reward_folder, dtype=torch.float32, local_files_only=True
    ).eval()
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    scores = []
    with torch.no_grad():
        for messages, answer in zip(prompts, answers, strict=True):
            text = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": answer}], tokenize=False)
            encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=1024)
            scores.append(float(model(**encoded).logits[0, 0]))
    return scores


def models_compare(
    *, candidate: Path, current: Path, reward: Path, prompts: list[list[dict]], max_new_tokens: int = 48, seed: int = 0
) -> Comparison:
    """The candidate's win rate over the current model on `prompts`, judged by the reward model."""
    new = answers_score(reward, prompts, answers_generate(candidate, prompts, max_new_tokens=max_new_tokens))
    old = answers_score(reward, prompts, answers_generate(current, prompts, max_new_tokens=max_new_tokens))
    return win_rate_interval(outcomes(new, old), seed=seed)
