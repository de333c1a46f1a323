"""Splitting an answer into atomic claims (pure, no Django): the prompt the community's model
gets, and the parsing of what it writes back, with a sentence split as the fallback."""

import re

CLAIMS_PROMPT = (
    "Split the answer below into short, self-contained factual claims. "
    "Write one claim per line. Do not number them and do not add anything else.\n\nAnswer:\n{answer}"
)
MAX_CLAIMS = 20
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|\(\d+\))\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ0-9\"'“])")


def claims_from_model_output(output: str, answer: str) -> list[str]:
    """The claims in the model's reply: one per line, bullets and numbers removed, duplicates and
    lines that merely repeat the instruction dropped. Empty if the reply is unusable."""
    claims: list[str] = []
    for line in output.splitlines():
        claim = _BULLET.sub("", line).strip().strip('"').strip()
        if len(claim) < 8 or claim.lower().startswith(("answer:", "claims:", "here are")) or claim in claims:
            continue
        claims.append(claim)
    return claims[:MAX_CLAIMS]


def claims_from_sentences(answer: str) -> list[str]:
    """One claim per sentence: the fallback when the model gives nothing usable (volunteers can
    edit, split or add claims in the task)."""
    text = " ".join(_BULLET.sub("", line).strip() for line in answer.splitlines() if line.strip())
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if len(s.strip()) >= 8]
    return sentences[:MAX_CLAIMS]
