"""The claims file that conformal calibration reads: one JSON object per line,

    {"answer_id": str, "prompt": str,
     "claims": [{"text": str, "label": "true"|"false"|"subjective"|"unverifiable", "score": float}]}

where the score already includes any tie-breaking noise. Other keys are allowed and ignored. A bad
file or line raises ClaimsFileError naming the line (1-based); blank lines are skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

LABELS = ("true", "false", "subjective", "unverifiable")
DEFAULT_CORRECT_LABELS = frozenset({"true"})
# `--correct-labels true[,subjective]`: "true" always counts; "subjective" may be added.
OPTIONAL_CORRECT_LABELS = frozenset({"subjective"})


class ClaimsFileError(ValueError):
    """A claims file, one of its lines, or a set of correct labels that cannot be used."""


@dataclass(frozen=True)
class Claim:
    text: str
    label: str
    score: float


@dataclass(frozen=True)
class ClaimsAnswer:
    answer_id: str
    prompt: str
    claims: tuple[Claim, ...]
    line: int

    def correct(self, correct_labels: frozenset[str]) -> list[bool]:
        return [claim.label in correct_labels for claim in self.claims]

    @property
    def scores(self) -> list[float]:
        return [claim.score for claim in self.claims]


def correct_labels_parse(text: str) -> frozenset[str]:
    """`true` or `true,subjective` (either order, spaces allowed) as a set of labels."""
    labels = [part.strip() for part in text.split(",")]
    chosen = frozenset(labels)
    if "" in chosen or "true" not in chosen or not chosen <= DEFAULT_CORRECT_LABELS | OPTIONAL_CORRECT_LABELS:
        raise ClaimsFileError(f"--correct-labels takes 'true' or 'true,subjective', not {text!r}.")
    return chosen


def _claim(value: object, where: str) -> Claim:
    if not isinstance(value, dict):
        raise ClaimsFileError(f"{where} must be a JSON object.")
    text, label, score = value.get("text"), value.get("label"), value.get("score")
    if not isinstance(text, str):
        raise ClaimsFileError(f"{where}: 'text' must be a string.")
    if label not in LABELS:
        raise ClaimsFileError(f"{where}: 'label' must be one of {', '.join(LABELS)}, not {json.dumps(label)}.")
    if "score" not in value:
        raise ClaimsFileError(f"{where} has no 'score'.")
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise ClaimsFileError(f"{where}: 'score' must be a finite number, not {json.dumps(score)}.")
    return Claim(text=text, label=label, score=float(score))


def claims_line_parse(text: str, line: int, name: str = "claims file") -> ClaimsAnswer:
    """One line of a claims file."""
    where = f"{name}, line {line}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClaimsFileError(f"{where} is not JSON: {error.msg} (column {error.colno}).") from None
    except RecursionError:
        raise ClaimsFileError(f"{where} nests too deeply.") from None
    if not isinstance(value, dict):
        raise ClaimsFileError(f"{where} must be one JSON object.")
    answer_id, prompt, claims = value.get("answer_id"), value.get("prompt"), value.get("claims")
    if not isinstance(answer_id, str) or not answer_id:
        raise ClaimsFileError(f"{where}: 'answer_id' must be a non-empty string.")
    if not isinstance(prompt, str):
        raise ClaimsFileError(f"{where}: 'prompt' must be a string.")
    if not isinstance(claims, list):
        raise ClaimsFileError(f"{where}: 'claims' must be a list.")
    parsed = tuple(_claim(claim, f"{where}, claim {index}") for index, claim in enumerate(claims, start=1))
    return ClaimsAnswer(answer_id=answer_id, prompt=prompt, claims=parsed, line=line)


def claims_file_read(path: Path) -> list[ClaimsAnswer]:
    """Every answer of a claims file, in file order; answer ids are unique and there is at least one answer."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ClaimsFileError(f"The claims file {path} cannot be read: {error.strerror or error}.") from None
    answers: list[ClaimsAnswer] = []
    first_line: dict[str, int] = {}
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        try:
            text = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise ClaimsFileError(f"{path}, line {number} is not UTF-8.") from None
        if not text.strip():
            continue
        answer = claims_line_parse(text, number, str(path))
        if answer.answer_id in first_line:
            raise ClaimsFileError(
                f"{path}, line {number}: answer_id {json.dumps(answer.answer_id)} is already on line "
                f"{first_line[answer.answer_id]}."
            )
        first_line[answer.answer_id] = number
        answers.append(answer)
    if not answers:
        raise ClaimsFileError(f"The claims file {path} holds no answers.")
    return answers
