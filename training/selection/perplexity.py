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
        rows = []
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            rows.append((([start] if start is not None else []) + ids)[:max_length])
        # Batches of similar lengths pad little; the scores go back in the texts' order.
        order = sorted(range(len(rows)), key=lambda position: len(rows[position]))
        scores = [math.nan] * len(rows)
        for first in range(0, len(order), batch_size):
            batch = order[first : first + batch_size]
            width = max(2, max(len(rows[position]) for position in batch))
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for number, position in enumerate(batch):
                row = rows[position]
                input_ids[number, : len(row)] = torch.tensor(row, dtype=torch.long)
                attention[number, : len(row)] = 1
            with torch.inference_mode():
                logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
                for number, position in enumerate(batch):
                    predicted = len(rows[position]) - 1  # tokens with one before them
                    if predicted < 1:
                        continue  # nothing to predict: NaN
                    loss = torch.nn.functional.cross_entropy(
                        logits[number, :predicted].float(), input_ids[number, 1 : predicted + 1].to(device)
                    )
                    scores[position] = math.exp(loss.item())
            del logits
        return scores

    return perplexity
