"""Does an answer give away which model wrote it?

An answer that names its own model (or the family it belongs to) breaks the blindness of a
vote: such battles are stored with `is_blind = False` and never count for the leaderboard.
"""

import re

_GENERIC_WORDS = {"instruct", "chat", "model", "base", "gguf", "it", "hf", "v1", "v2", "v3", "the", "and"}


def identity_terms(*names: str) -> set[str]:
    """The words that identify a model, from its display name and model id.

    "SmolLM2-135M-Instruct" gives {"smollm2-135m-instruct", "smollm2", "smollm"}: the whole
    id, each distinctive part, and each part without trailing version digits.
    """
    terms: set[str] = set()
    for name in names:
        lowered = name.strip().lower()
        if not lowered:
            continue
        base = lowered.rsplit("/", 1)[-1]
        terms.add(base)
        for part in re.split(r"[\s/_\-·:,.()]+", base):
            if len(part) < 4 or part in _GENERIC_WORDS or re.fullmatch(r"[\d.]+[bmk]?", part):
                continue
            terms.add(part)
            stripped = part.rstrip("0123456789.")
            if len(stripped) >= 4:
                terms.add(stripped)
    return terms


def answer_reveals_identity(answer: str, terms: set[str]) -> bool:
    """True when the answer mentions any identity term as a whole word."""
    lowered = answer.lower()
    return any(re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", lowered) for term in terms)
