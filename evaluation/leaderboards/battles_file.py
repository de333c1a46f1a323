"""Reading a battles file (a release's `battles.jsonl`) into the engine's counts; pure (no Django).

One battle per line, a JSON object with at least `model_a`, `model_b`, `winner` and `anony`. Only
the counts per (model_a, model_b, winner) of the blind battles (`anony` true) are kept, so memory
does not grow with the number of battles. Every line is checked, blind or not; the first bad one
raises `BattlesFileError` naming the file and the line. Blank lines are skipped.

Two readers, one verdict:

- The **fast path** hands the file to pyarrow's JSON reader (C++, several threads) with a schema of
  the four fields (the others are parsed, so a line must still be valid JSON, but never become
  Python objects), and counts each batch with numpy. pyarrow is more lenient than a line-by-line
  reader in a few ways (measured: it reads an object spread over two lines, two objects on one
  line, invalid UTF-8 inside a field it ignores, and a byte-order mark), so a separate pass over
  the bytes checks that the file is UTF-8 and that every non-blank line holds one object (it
  starts with `{` and ends with `}`, which also rules out a byte-order mark, and the reader's
  rows equal the non-blank lines). Then the values are checked column by column.
- The **exact path** reads one line at a time (orjson, and the standard library's parser where
  orjson refuses a line, since that one accepts a little more: `NaN`, integers beyond 64 bits).
  It runs whenever the fast path finds anything wrong, or anything it cannot vouch for, and it is
  the one that names the first bad line and what is wrong with it.

So a file is accepted exactly when every line passes the exact path's checks, and the counts are
the same either way (`evaluation/tests/test_arena_ratings_command.py` checks both paths).
"""

import json
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from evaluation.leaderboards.engine import OUTCOMES, BattleCounts

REQUIRED_FIELDS = ("model_a", "model_b", "winner", "anony")
_SCHEMA = pa.schema(
    [("model_a", pa.string()), ("model_b", pa.string()), ("winner", pa.string()), ("anony", pa.bool_())]
)
_BLOCK_BYTES = 4 << 20  # pyarrow's block, about 10,000 battles of the release's shape
_CHECK_BYTES = 16 << 20  # the byte check reads the file in pieces of about this size
_JSON_WHITESPACE = b" \t\r"
_OUTCOME_CODES = {outcome: code for code, outcome in enumerate(OUTCOMES)}
_NEWLINE, _CARRIAGE_RETURN, _OPEN, _CLOSE = (ord(character) for character in "\n\r{}")


class BattlesFileError(ValueError):
    """A battles file that cannot be rated; the message names the file (and the line)."""


def battles_file_counts(path: Path) -> tuple[BattleCounts, int, int]:
    """(counts of the blind battles, blind battles, non-blind battles) of a battles JSONL file."""
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise BattlesFileError(f"{path}: no such file.") from None
    except OSError as error:
        raise BattlesFileError(f"{path}: cannot be read ({error.strerror}).") from None
    fast = _fast_counts(path)
    models, model_a, model_b, winner, blind, other = fast if fast is not None else _exact_counts(path)
    if not blind:
        detail = f"all {other} battles are non-blind" if other else "it holds no battles"
        raise BattlesFileError(f"{path}: no blind battles (anony == true) to rate: {detail}.")
    return BattleCounts.from_arrays(models, model_a, model_b, winner), blind, other


# ---------------------------------------------------------------------------------------------
# The fast path


def _fast_counts(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int, int] | None:
    """The blind battles as index arrays, or None when the exact path must decide."""
    lines = _object_lines(path)
    if lines is None:
        return None
    if lines == 0:
        return [], *(np.zeros(0, dtype=np.int64),) * 3, 0, 0
    try:
        reader = pa_json.open_json(
            path,
            read_options=pa_json.ReadOptions(block_size=_BLOCK_BYTES),
            parse_options=pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    index: dict[str, int] = {}
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    rows = other = 0
    try:
        for batch in reader:
            counted = _batch_arrays(batch, index)
            if counted is None:
                return None
            model_a, model_b, winner, blind_mask = counted
            rows += batch.num_rows
            other += int(blind_mask.size - blind_mask.sum())
            pieces.append((model_a[blind_mask], model_b[blind_mask], winner[blind_mask]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if rows != lines:
        return None
    models = sorted(index, key=index.__getitem__)
    model_a, model_b, winner = (np.concatenate([piece[i] for piece in pieces]) for i in range(3))
    return models, model_a, model_b, winner, int(model_a.size), other


def _batch_arrays(batch: pa.RecordBatch, index: dict[str, int]):
    """(model_a, model_b, winner codes, blind mask) of a batch, or None if any value is wrong
    (a missing field or a null, an empty model name, an unknown winner, a model playing itself)."""
    columns = [batch.column(name) for name in REQUIRED_FIELDS]
    if any(column.null_count for column in columns):
        return None
    codes = []
    for position, column in enumerate(columns[:3]):
        encoded = column.dictionary_encode()
        values = encoded.dictionary.to_pylist()
        if position < 2:  # a model: its index among every model of the file
            if "" in values:
                return None
            lookup = [index.setdefault(name, len(index)) for name in values]
        else:
            if not set(values) <= _OUTCOME_CODES.keys():
                return None
            lookup = [_OUTCOME_CODES[outcome] for outcome in values]
        codes.append(np.array(lookup, dtype=np.int64)[encoded.indices.to_numpy()])
    model_a, model_b, winner = codes
    if (model_a == model_b).any():
        return None
    return model_a, model_b, winner, columns[3].to_numpy(zero_copy_only=False)


def _object_lines(path: Path) -> int | None:
    """The number of non-blank lines if the file is UTF-8 and each of its non-blank lines starts
    with `{` and ends with `}` (JSON whitespace aside); else None."""
    lines = 0
    carry = b""
    with path.open("rb") as handle:
        while True:
            block = handle.read(_CHECK_BYTES)
            data = carry + block
            if block:  # whole lines only: a newline never falls inside a UTF-8 sequence
                cut = data.rfind(b"\n") + 1
                piece, carry = data[:cut], data[cut:]
            else:
                piece, carry = data, b""
            if piece:
                if not piece.isascii():
                    try:
                        piece.decode("utf-8")
                    except UnicodeDecodeError:
                        return None
                counted = _piece_object_lines(piece)
                if counted is None:
                    return None
                lines += counted
            if not block:
                return lines


def _piece_object_lines(piece: bytes) -> int | None:
    """Non-blank lines of a whole number of lines, or None if one is not `{...}`."""
    data = np.frombuffer(piece, dtype=np.uint8)
    newlines = np.flatnonzero(data == _NEWLINE)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [data.size]))
    if ends[-1] == starts[-1]:  # the piece ends with a newline: no line after it
        starts, ends = starts[:-1], ends[:-1]
    if starts.size and (ends > starts).all():  # the common case: no empty line
        last = ends - 1
        carriage = data[last] == _CARRIAGE_RETURN
        last[carriage] -= 1
        if (last >= starts).all() and (data[starts] == _OPEN).all() and (data[last] == _CLOSE).all():
            return int(starts.size)
    lines = 0  # blank lines, or whitespace around a line: look at each line
    for line in piece.split(b"\n"):
        stripped = line.strip(_JSON_WHITESPACE)
        if not stripped:
            continue
        if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
            return None
        lines += 1
    return lines


# ---------------------------------------------------------------------------------------------
# The exact path


def _exact_counts(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Line by line, every check in order; the first bad line raises BattlesFileError."""
    index: dict[str, int] = {}
    codes = {outcome: code for code, outcome in enumerate(OUTCOMES)}
    model_a: list[int] = []
    model_b: list[int] = []
    winner: list[int] = []
    other = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            record = _record(raw, f"{path}, line {number}")
            if record is None:
                continue
            a, b, outcome, anony = _checked(record, f"{path}, line {number}")
            if anony:
                model_a.append(index.setdefault(a, len(index)))
                model_b.append(index.setdefault(b, len(index)))
                winner.append(codes[outcome])
            else:
                other += 1
    models = sorted(index, key=index.__getitem__)
    arrays = (np.array(values, dtype=np.int64) for values in (model_a, model_b, winner))
    return models, *arrays, len(winner), other


def _record(raw: bytes, where: str) -> object | None:
    """The line's JSON value, or None for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BattlesFileError(f"{where}: not UTF-8 text.") from None
    if not text.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # orjson is stricter: the standard library decides
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BattlesFileError(f"{where}: not valid JSON ({error.msg}, column {error.colno}).") from None
    except RecursionError:
        raise BattlesFileError(f"{where}: not valid JSON (nested too deeply).") from None


def _checked(record: object, where: str) -> tuple[str, str, str, bool]:
    if not isinstance(record, dict):
        raise BattlesFileError(f"{where}: expected a JSON object (one battle), got {type(record).__name__}.")
    missing = [field for field in REQUIRED_FIELDS if field not in record]
    if missing:
        raise BattlesFileError(f"{where}: missing field {', '.join(missing)}.")
    model_a, model_b, winner, anony = (record[field] for field in REQUIRED_FIELDS)
    for field, value in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(value, str) or not value:
            raise BattlesFileError(f"{where}: {field} must be a non-empty string, got {value!r}.")
    if winner not in OUTCOMES:
        raise BattlesFileError(
            f"{where}: unknown winner {winner!r}; expected one of {', '.join(repr(o) for o in OUTCOMES)}."
        )
    if model_a == model_b:
        raise BattlesFileError(f"{where}: model {model_a!r} plays itself.")
    if not isinstance(anony, bool):
        raise BattlesFileError(f"{where}: anony must be true or false, got {anony!r}.")
    return model_a, model_b, winner, anony
