"""Perplexity under a causal language model: the scores the selection's perplexity filter takes.

`causal_lm_perplexity(model_dir)` loads a transformers causal LM folder (the base model of a
run, say) and returns a function texts -> perplexities that `select(..., perplexity=...)`
calls. torch and transformers are imported only when it is called, so importing this module
(or the selection) costs nothing and the web process never loads them.

A text's perplexity is exp of the mean negative log-likelihood of its tokens, each predicted
from the ones before it. The text is tokenised without the chat template and preceded by the
tokenizer's BOS token (or, without one, its EOS token, as GPT-2 does), so its first token is
predicted too; a text longer than `max_length` tokens is scored on its first `max_length`. An
empty text has no token to predict and scores NaN, which the filter removes.
"""

import math
from collections.abc import Callable
from pathlib import Path


def causal_lm_perplexity(
    model_dir: Path, *, batch_size: int = 8, max_length: int = 512, device: str | None = None
) -> Callable[[list[str]], list[float]]:
    """A function that scores texts by their perplexity under the causal LM in `model_dir`.

    `device` defaults to the first CUDA device when there is one, else the CPU. Raises
    ValueError when the folder is missing or does not hold a causal LM with a tokenizer.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ValueError(f"{model_dir} is not a model folder: it has no config.json.")
    if batch_size < 1 or max_length < 2:
        raise ValueError("batch_size must be at least 1 and max_length at least 2.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{model_dir} does not hold a causal language model with its tokenizer: {error}") from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    model.eval()
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (start if start is not None else 0)

    def perplexity(texts: list[str]) -> list[float]:
        scores: list[float] = []
        for first in range(0, len(texts), batch_size):
            batch = texts[first : first + batch_size]
            rows = []
            for text in batch:
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                rows.append(([start] if start is not None else []) + ids)
            rows = [row[:max_length] for row in rows]
            width = max(2, max(len(row) for row in rows))
            input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            attention = torch.zeros((len(rows), width), dtype=torch.long)
            for number, row in enumerate(rows):
                input_ids[number, : len(row)] = torch.tensor(row, dtype=torch.long)
                attention[number, : len(row)] = 1
            input_ids, attention = input_ids.to(device), attention.to(device)
            with torch.inference_mode():
                logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()
            targets, mask = input_ids[:, 1:], attention[:, 1:].float()
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none") * mask
            counts = mask.sum(dim=1)
            for loss, count in zip(losses.sum(dim=1).tolist(), counts.tolist(), strict=True):
                scores.append(math.exp(loss / count) if count else math.nan)
        return scores

    return perplexity
