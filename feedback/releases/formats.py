"""The records of a release's export files, built from the pool's items; pure, no Django.

Each function takes one item as the release selectors hand it over (a plain dict: contributor
ids already pseudonymised for the release, text already PII-redacted) and returns the export
record(s) for one file. Every record of a file has the same keys with the same types, the
columns of `SCHEMAS[kind]`, so the Parquet schema of a file never depends on its rows and the
JSONL and Parquet files of a kind hold the same rows. `docs/release-formats.md` describes every
file, field and rule for the people who download a release.

Messages everywhere are `{"role", "content"}` dicts (the chat format of TRL and FastChat);
only the message trees use OpenAssistant's names (`prompter`, `text`).
"""

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
CLAIM_LABELS = ("true", "false", "subjective", "unverifiable")
# The verdict of a claim whose top labels are tied (or that nobody labelled).
CLAIM_TIE_LABEL = "unverifiable"

# A rated answer is desirable (label True) from this mean helpfulness up, undesirable (False)
# up to UNDESIRABLE_AT, and left out of the unpaired file in between.
DESIRABLE_FROM = 3.5
UNDESIRABLE_AT = 2.5
RATING_MIN, RATING_MAX = 1, 5

MESSAGE_ROLES = {"user": "prompter", "assistant": "assistant"}
# A message's creation time as the message trees write it (`created_date_format`).
_CREATED_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00")

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
_MESSAGES = pa.list_(_MESSAGE)

EXPORT_KINDS: tuple[str, ...] = ("battles", "preferences", "unpaired", "message_trees", "claims")

SCHEMAS: dict[str, pa.Schema] = {
    "battles": pa.schema(
        [
            ("id", pa.string()),
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("winner", pa.string()),
            ("judge", pa.string()),
            ("conversation_a", _MESSAGES),
            ("conversation_b", _MESSAGES),
            ("turn", pa.int64()),
            ("anony", pa.bool_()),
            ("language", pa.string()),
            ("tstamp", pa.float64()),
            ("community", pa.string()),
            ("licence", pa.string()),
        ]
    ),
    "preferences": pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("prompt", _MESSAGES),
            ("chosen", _MESSAGES),
            ("rejected", _MESSAGES),
            ("community", pa.string()),
            ("language", pa.string()),
            ("licence", pa.string()),
        ]
    ),
    "unpaired": pa.schema(
        [
            ("id", pa.string()),
            ("prompt", _MESSAGES),
            ("completion", _MESSAGES),
            ("label", pa.bool_()),
            ("score", pa.float64()),
            ("community", pa.string()),
            ("language", pa.string()),
            ("licence", pa.string()),
        ]
    ),
    "message_trees": pa.schema(
        [
            ("message_id", pa.string()),
            ("parent_id", pa.string()),
            ("conversation_id", pa.string()),
            ("role", pa.string()),
            ("text", pa.string()),
            ("lang", pa.string()),
            ("rank", pa.float64()),
            ("labels", pa.list_(pa.struct([("name", pa.string()), ("value", pa.float64())]))),
            ("author", pa.string()),
            ("model", pa.string()),
            ("synthetic", pa.bool_()),
            ("created_date", pa.string()),
            ("review_count", pa.int64()),
            ("community", pa.string()),
            ("licence", pa.string()),
        ]
    ),
    "claims": pa.schema(
        [
            ("answer_id", pa.string()),
            ("prompt", pa.string()),
            ("answer", pa.string()),
            (
                "claims",
                pa.list_(
                    pa.struct(
                        [
                            ("text", pa.string()),
                            ("label", pa.string()),
                            ("votes", pa.list_(pa.struct([("label", pa.string()), ("count", pa.int64())]))),
                            ("agreement", pa.float64()),
                        ]
                    )
                ),
            ),
            ("annotators", pa.int64()),
            ("community", pa.string()),
            ("language", pa.string()),
            ("licence", pa.string()),
        ]
    ),
}


def _messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Copies of chat messages with exactly the keys `role` and `content`, both strings."""
    return [{"role": str(message["role"]), "content": str(message["content"])} for message in messages]


def _assistant(content: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": str(content)}]


def _history_and_answer(conversation: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """(the messages before the answer, the answer) of a battle side that ends with its answer."""
    messages = _messages(conversation)
    if len(messages) < 2 or messages[-1]["role"] != "assistant":
        raise ValueError("A battle conversation must hold a prompt and end with the side's assistant answer.")
    return messages[:-1], messages[-1]


def battle_record(battle: Mapping[str, Any]) -> dict[str, Any]:
    """One row of `battles`: a vote in FastChat's arena-battle shape (what its leaderboard code reads)."""
    if battle["winner"] not in WINNERS:
        raise ValueError(f"Unknown battle winner {battle['winner']!r}; expected one of {WINNERS}.")
    return {
        "id": f"battle-{battle['id']}",
        "model_a": str(battle["model_a"]),
        "model_b": str(battle["model_b"]),
        "winner": battle["winner"],
        "judge": str(battle["judge"]),
        "conversation_a": _messages(battle["conversation_a"]),
        "conversation_b": _messages(battle["conversation_b"]),
        "turn": int(battle["turn"]),
        "anony": bool(battle["anony"]),
        "language": str(battle["language"]),
        "tstamp": float(battle["tstamp"]),
        "community": str(battle["community"]),
        "licence": str(battle["licence"]),
    }


def preference_records_from_battle(battle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of `preferences` a battle gives: one pair, or none.

    A pair needs a winner (`model_a` or `model_b`) and the same prompt history on both sides:
    every message before the two answers equal, which always holds on turn 1 and later only
    when both sides were given identical histories. Ties, "both bad" and diverged histories
    give no pair: with different contexts the two answers do not answer the same prompt.
    """
    if battle["winner"] not in WINNERS:
        raise ValueError(f"Unknown battle winner {battle['winner']!r}; expected one of {WINNERS}.")
    history_a, answer_a = _history_and_answer(battle["conversation_a"])
    history_b, answer_b = _history_and_answer(battle["conversation_b"])
    if battle["winner"] not in ("model_a", "model_b") or history_a != history_b:
        return []
    chosen, rejected = (answer_a, answer_b) if battle["winner"] == "model_a" else (answer_b, answer_a)
    return [
        {
            "id": f"battle-{battle['id']}",
            "source": "arena",
            "prompt": history_a,
            "chosen": [chosen],
            "rejected": [rejected],
            "community": str(battle["community"]),
            "language": str(battle["language"]),
            "licence": str(battle["licence"]),
        }
    ]


def preference_record_from_correction(correction: Mapping[str, Any]) -> dict[str, Any]:
    """The row of `preferences` a correction gives: the human's answer chosen over the model's."""
    prompt = _messages(correction["prompt"])
    if not prompt:
        raise ValueError("A correction needs the prompt its answer was given for.")
    return {
        "id": f"correction-{correction['id']}",
        "source": "correction",
        "prompt": prompt,
        "chosen": _assistant(correction["human_answer"]),
        "rejected": _assistant(correction["model_answer"]),
        "community": str(correction["community"]),
        "language": str(correction["language"]),
        "licence": str(correction["licence"]),
    }


def unpaired_label(helpfulness: Sequence[float]) -> tuple[bool | None, float | None]:
    """(label, mean) of an answer's helpfulness ratings: the rule of the `unpaired` file.

    The label is True when the mean is at least 3.5 (a 4 or 5 on average), False when it is at
    most 2.5 (a 1 or 2 on average), and None in between or without ratings: an answer the
    raters found middling is neither a good nor a bad example. Ratings outside 1-5 raise.
    """
    values = [float(value) for value in helpfulness]
    if not values:
        return None, None
    if any(not RATING_MIN <= value <= RATING_MAX for value in values):
        raise ValueError(f"Helpfulness ratings must lie in {RATING_MIN}-{RATING_MAX}: {values}.")
    mean = math.fsum(values) / len(values)
    if mean >= DESIRABLE_FROM:
        return True, mean
    if mean <= UNDESIRABLE_AT:
        return False, mean
    return None, mean


def unpaired_record(rated_answer: Mapping[str, Any]) -> dict[str, Any] | None:
    """The row of `unpaired` (TRL's unpaired preference format, for KTO) for a rated answer, or None.

    None when `unpaired_label` gives no label (no helpfulness ratings, or a mean strictly
    between 2.5 and 3.5): the answer is left out of the file. `score` is the mean helpfulness.
    """
    label, mean = unpaired_label(rated_answer.get("ratings", {}).get("helpfulness", []))
    if label is None:
        return None
    prompt = _messages(rated_answer["prompt"])
    if not prompt:
        raise ValueError("A rated answer needs the prompt it was given for.")
    return {
        "id": f"answer-{rated_answer['id']}",
        "prompt": prompt,
        "completion": _assistant(rated_answer["completion"]),
        "label": label,
        "score": mean,
        "community": str(rated_answer["community"]),
        "language": str(rated_answer["language"]),
        "licence": str(rated_answer["licence"]),
    }


def created_date_format(value: str | datetime) -> str:
    """A message's creation time as OpenAssistant writes it: UTC, ISO 8601, with microseconds.

    `2025-03-01T11:00:00+01:00` becomes `2025-03-01T10:00:00.000000+00:00`. One fixed form keeps
    the column a string for every reader: pyarrow's JSON reader (under
    `load_dataset("json")`) turns ISO strings without fractional seconds into naive UTC
    timestamps, and a mix of the two forms into strings. A time without a UTC offset is
    ambiguous and raises ValueError. A string already in that form is returned as it is.
    """
    if isinstance(value, str) and _CREATED_DATE.fullmatch(value):
        return value
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.utcoffset() is None:
        raise ValueError(f"A message's created_date needs a UTC offset: {value!r}.")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def message_record(message: Mapping[str, Any]) -> dict[str, Any]:
    """The row of `message_trees` for one message, in OpenAssistant's flat message-tree shape.

    `role` is `prompter` or `assistant`, as OpenAssistant names them. `labels` becomes a list of
    `{"name", "value"}` pairs sorted by name, every value a float, so the Parquet schema does not
    depend on which labels a message has. `synthetic` is True when a model wrote the message.
    `created_date` is normalised by `created_date_format`.
    """
    role = message["role"]
    if role not in MESSAGE_ROLES:
        raise ValueError(f"Unknown message role {role!r}; expected one of {tuple(MESSAGE_ROLES)}.")
    rank, labels = message.get("rank"), message.get("labels")
    parent_id, author, model = message["parent_id"], message.get("author"), message.get("model")
    return {
        "message_id": str(message["message_id"]),
        "parent_id": None if parent_id is None else str(parent_id),
        "conversation_id": str(message["conversation_id"]),
        "role": MESSAGE_ROLES[role],
        "text": str(message["text"]),
        "lang": str(message["lang"]),
        "rank": None if rank is None else float(rank),
        "labels": [{"name": str(name), "value": float(labels[name])} for name in sorted(labels)] if labels else [],
        "author": None if author is None else str(author),
        "model": None if model is None else str(model),
        "synthetic": model is not None,
        "created_date": created_date_format(message["created_date"]),
        "review_count": int(message.get("review_count", 0)),
        "community": str(message["community"]),
        "licence": str(message["licence"]),
    }


def claim_verdict(votes: Mapping[str, int]) -> tuple[str, float]:
    """(label, agreement) of one claim from its annotators' votes per label.

    The label is the one with the most votes; when two or more labels share the most votes, or
    nobody voted, it is `unverifiable`: the annotators did not settle the claim. Agreement is
    the share of the claim's votes that went to the published label (0.0 without votes, and
    possibly 0.0 for a tie that nobody called unverifiable).
    """
    unknown = set(votes) - set(CLAIM_LABELS)
    if unknown:
        raise ValueError(f"Unknown claim labels {sorted(unknown)}; expected {CLAIM_LABELS}.")
    counts = {label: int(votes.get(label, 0)) for label in CLAIM_LABELS}
    if any(count < 0 for count in counts.values()):
        raise ValueError(f"Vote counts cannot be negative: {counts}.")
    total = sum(counts.values())
    top = max(counts.values())
    leaders = [label for label in CLAIM_LABELS if counts[label] == top]
    label = leaders[0] if total and len(leaders) == 1 else CLAIM_TIE_LABEL
    return label, (counts[label] / total if total else 0.0)


def claim_record(annotation: Mapping[str, Any]) -> dict[str, Any]:
    """The row of `claims` for one answer split into claims, each with its verdict and votes.

    `votes` always lists the four labels in the order of `CLAIM_LABELS`, zero counts included.
    """
    claims = []
    for claim in annotation["claims"]:
        votes = claim.get("labels") or {}
        label, agreement = claim_verdict(votes)
        claims.append(
            {
                "text": str(claim["text"]),
                "label": label,
                "votes": [{"label": name, "count": int(votes.get(name, 0))} for name in CLAIM_LABELS],
                "agreement": agreement,
            }
        )
    return {
        "answer_id": str(annotation["answer_id"]),
        "prompt": str(annotation["prompt"]),
        "answer": str(annotation["answer"]),
        "claims": claims,
        "annotators": int(annotation["annotators"]),
        "community": str(annotation["community"]),
        "language": str(annotation["language"]),
        "licence": str(annotation["licence"]),
    }
