"""The records a trainer reads: checked against the release's preference format, split by the seed.

Pure Python: no torch, no datasets. The rows returned are what `datasets.Dataset.from_list` gets.
"""

import hashlib

from training.trainers import TrainingDataError

CORRECTION_SOURCE = "correction"

# Each method's columns, besides `id` (kept so the split can be read back from the trainer's datasets).
_METHOD_COLUMNS = {
    "reward": ("prompt", "chosen", "rejected"),
    "dpo": ("prompt", "chosen", "rejected"),
    "sft": ("prompt", "completion"),
}


def _messages_check(record_id: str, key: str, messages: object, *, last_role: str, single: bool) -> None:
    if not isinstance(messages, list) or not messages:
        raise TrainingDataError(f"Record {record_id}: {key!r} must be a non-empty list of messages.")
    if single and len(messages) != 1:
        raise TrainingDataError(f"Record {record_id}: {key!r} must hold exactly one message, not {len(messages)}.")
    for message in messages:
        if (
            not isinstance(message, dict)
            or set(message) != {"role", "content"}
            or message["role"] not in ("user", "assistant", "system")
            or not isinstance(message["content"], str)
        ):
            raise TrainingDataError(
                f"Record {record_id}: every message in {key!r} must be {{'role': 'user' | 'assistant', "
                "'content': string}."
            )
    if messages[-1]["role"] != last_role:
        raise TrainingDataError(f"Record {record_id}: {key!r} must end with a {last_role} message.")


def preference_record_check(record: object, position: int) -> str:
    """Check one release `preferences` record; return its id. Raises TrainingDataError naming the record."""
    if not isinstance(record, dict):
        raise TrainingDataError(f"Record {position} is not a JSON object.")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id:
        raise TrainingDataError(f"Record {position} has no string 'id'.")
    for key in ("prompt", "chosen", "rejected"):
        if key not in record:
            raise TrainingDataError(f"Record {record_id} has no {key!r}: training reads the release's preferences.")
    _messages_check(record_id, "prompt", record["prompt"], last_role="user", single=False)
    _messages_check(record_id, "chosen", record["chosen"], last_role="assistant", single=True)
    _messages_check(record_id, "rejected", record["rejected"], last_role="assistant", single=True)
    return record_id


def method_rows(method: str, pairs: list[dict]) -> list[dict]:
    """The rows `method` trains and evaluates on, in the records' order, each with its `id`.

    reward, dpo: every pair as `prompt`/`chosen`/`rejected`. sft: the corrections only, as
    `prompt`/`completion` (the volunteer's answer). Refuses malformed records and repeated ids.
    """
    if not isinstance(pairs, list):
        raise TrainingDataError("The training records must be a list of preference records.")
    seen: set[str] = set()
    rows = []
    for position, record in enumerate(pairs):
        record_id = preference_record_check(record, position)
        if record_id in seen:
            raise TrainingDataError(f"Record {record_id} appears twice in the training records.")
        seen.add(record_id)
        if method == "sft":
            if record.get("source") != CORRECTION_SOURCE:
                continue
            rows.append({"id": record_id, "prompt": record["prompt"], "completion": record["chosen"]})
        else:
            rows.append({"id": record_id, **{key: record[key] for key in _METHOD_COLUMNS[method]}})
    return rows


def held_out_order_key(seed: int, record_id: str) -> str:
    """Where a record falls in the seed's order: the held-out split is the start of that order."""
    return hashlib.sha256(f"{seed}\x00{record_id}".encode()).hexdigest()


def held_out_split(rows: list[dict], fraction: float, seed: int, *, method: str) -> tuple[list[dict], list[dict]]:
    """Split `rows` into (train, held_out), deterministically by `seed`, both in the rows' order.

    The held-out split is `round(len(rows) * fraction)` rows (at least one): those whose
    SHA-256 of (seed, id) sorts first, so a record's side depends on its id and the seed, not on
    where it sits in the file. Both sides must keep at least one row.
    """
    count = len(rows)
    held_out_count = max(1, int(count * fraction + 0.5))
    if count - held_out_count < 1:
        what = "corrections (better answers)" if method == "sft" else "preference pairs"
        raise TrainingDataError(
            f"Too few records to train {method}: {count} {what}, and a held-out split of "
            f"{held_out_count} must leave at least one to train on. Publish a release with more "
            "feedback, or lower the selection's filters."
        )
    ranked = sorted(range(count), key=lambda index: held_out_order_key(seed, rows[index]["id"]))
    held_out_indices = set(ranked[:held_out_count])
    train = [row for index, row in enumerate(rows) if index not in held_out_indices]
    held_out = [row for index, row in enumerate(rows) if index in held_out_indices]
    return train, held_out
