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
import mmap
import os
from collections import Counter
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
_BLOCK_BYTES = 1 << 20  # pyarrow's block, about 2,500 battles: measured the fastest, and the least memory
_CHECK_BYTES = 16 << 20  # the byte check reads the file in pieces of about this size
_JSON_WHITESPACE = b" \t\r"
_OUTCOME_CODES = {outcome: code for code, outcome in enumerate(OUTCOMES)}
_NEWLINE, _CARRIAGE_RETURN, _OPEN, _CLOSE = (ord(character) for character in "\n\r{}")
_FIRST_NON_ASCII = 0x80


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
    cells, blind, other = fast if fast is not None else _exact_counts(path)
    if not blind:
        detail = f"all {other} battles are non-blind" if other else "it holds no battles"
        raise BattlesFileError(f"{path}: no blind battles (anony == true) to rate: {detail}.")
    return BattleCounts.from_counts(cells.rows()), blind, other


class _Cells:
    """Blind battles counted per (model_a, model_b, winner) in a dense array that grows with the
    number of models (not battles): 150 models are 90,000 cells."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.capacity = 64
        self.counts = np.zeros(self.capacity * self.capacity * len(OUTCOMES), dtype=np.int64)

    def model_codes(self, names: list[str]) -> list[int]:
        codes = [self.index.setdefault(name, len(self.index)) for name in names]
        if len(self.index) > self.capacity:
            old = self.counts.reshape(self.capacity, self.capacity, len(OUTCOMES))
            while len(self.index) > self.capacity:
                self.capacity *= 2
            grown = np.zeros((self.capacity, self.capacity, len(OUTCOMES)), dtype=np.int64)
            grown[: old.shape[0], : old.shape[1]] = old
            self.counts = grown.ravel()
        return codes

    def add(self, model_a: np.ndarray, model_b: np.ndarray, winner: np.ndarray) -> None:
        keys = (model_a * self.capacity + model_b) * len(OUTCOMES) + winner
        added = np.bincount(keys)
        self.counts[: added.size] += added

    def rows(self) -> list[tuple[str, str, str, int]]:
        names = sorted(self.index, key=self.index.__getitem__)
        rows = []
        for key in np.flatnonzero(self.counts).tolist():
            pair, outcome = divmod(key, len(OUTCOMES))
            first, second = divmod(pair, self.capacity)
            rows.append((names[first], names[second], OUTCOMES[outcome], int(self.counts[key])))
        return rows


# ---------------------------------------------------------------------------------------------
# The fast path


def _fast_counts(path: Path) -> tuple["_Cells", int, int] | None:
    """(cells, blind battles, non-blind battles), or None when the exact path must decide.

    The file is mapped, not read, and taken a piece (whole lines, about `_CHECK_BYTES`) at a
    time: the piece's bytes are checked in place, pyarrow parses it from the same memory, and its
    pages are released from this process before the next piece, so the memory stays flat.
    """
    cells = _Cells()
    blind = other = 0
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return cells, 0, 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            start = 0
            while start < size:
                end = min(start + _CHECK_BYTES, size)
                if end < size:  # up to the end of a line; a line longer than a piece extends it
                    newline = mapped.find(b"\n", end - 1)
                    end = size if newline == -1 else newline + 1
                lines = _piece_object_lines(mapped, start, end)
                if lines is None:
                    return None
                if lines:
                    counted = _piece_counts(mapped, start, end, lines, cells)
                    if counted is None:
                        return None
                    blind += counted
                    other += lines - counted
                _release(mapped, start, end)
                start = end
    return cells, blind, other


def _piece_counts(mapped: mmap.mmap, start: int, end: int, lines: int, cells: "_Cells") -> int | None:
    """Parse the piece start:end with pyarrow and add its blind battles to `cells`; their number,
    or None if pyarrow refuses it, reads another number of rows than it has lines, or a value is
    wrong. No view of the mapping outlives the call."""
    source = pa.py_buffer(mapped).slice(start, end - start)
    try:
        table = pa_json.read_json(
            pa.BufferReader(source),
            read_options=pa_json.ReadOptions(block_size=_BLOCK_BYTES),
            parse_options=pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    finally:
        del source
    if table.num_rows != lines:
        return None
    counted = _columns_codes([table.column(name).combine_chunks() for name in REQUIRED_FIELDS], cells)
    if counted is None:
        return None
    model_a, model_b, winner, is_blind = counted
    cells.add(model_a[is_blind], model_b[is_blind], winner[is_blind])
    return int(is_blind.sum())


def _columns_codes(columns: list[pa.Array], cells: "_Cells"):
    """(model_a, model_b, winner codes, blind mask) of the four columns, or None if any value is
    wrong (a missing field or a null, an empty model name, an unknown winner, a model playing
    itself)."""
    if any(column.null_count for column in columns):
        return None
    codes = []
    for position, column in enumerate(columns[:3]):
        encoded = column.dictionary_encode()
        values = encoded.dictionary.to_pylist()
        if position < 2:  # a model: its index among every model of the file
            if "" in values:
                return None
            lookup = cells.model_codes(values)
        else:
            if not set(values) <= _OUTCOME_CODES.keys():
                return None
            lookup = [_OUTCOME_CODES[outcome] for outcome in values]
        codes.append(np.array(lookup, dtype=np.int64)[encoded.indices.to_numpy()])
    model_a, model_b, winner = codes
    if (model_a == model_b).any():
        return None
    return model_a, model_b, winner, columns[3].to_numpy(zero_copy_only=False)


def _release(mapped: mmap.mmap, start: int, end: int) -> None:
    """Drop a finished piece's pages from this process (the page cache keeps them)."""
    if hasattr(mmap, "MADV_DONTNEED"):
        first = start - start % mmap.PAGESIZE
        if end > first:
            mapped.madvise(mmap.MADV_DONTNEED, first, end - first)


def _piece_object_lines(mapped: mmap.mmap, start: int, end: int) -> int | None:
    """Non-blank lines of the piece start:end of the file (whole lines), or None if it is not
    UTF-8 or one of its lines is not `{...}`. The piece is looked at in place; no view of the
    mapping outlives the call (the mapping cannot be closed while one does)."""
    data = np.frombuffer(mapped, dtype=np.uint8, count=end - start, offset=start)
    if data.max() >= _FIRST_NON_ASCII:
        try:
            mapped[start:end].decode("utf-8")
        except UnicodeDecodeError:
            return None
    newlines = np.flatnonzero(data == _NEWLINE)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [data.size]))
    if ends[-1] == starts[-1]:  # the piece ends with a newline: no line after it
        starts, ends = starts[:-1], ends[:-1]
    if starts.size and (ends > starts).all():  # the common case: no empty line
        last = ends - 1
        last[data[last] == _CARRIAGE_RETURN] -= 1
        if (last >= starts).all() and (data[starts] == _OPEN).all() and (data[last] == _CLOSE).all():
            return int(starts.size)
    lines = 0  # blank lines, or whitespace around a line: look at each line
    for line in mapped[start:end].split(b"\n"):
        stripped = line.strip(_JSON_WHITESPACE)
        if not stripped:
            continue
        if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
            return None
        lines += 1
    return lines


# ---------------------------------------------------------------------------------------------
# The exact path


def _exact_counts(path: Path) -> tuple["_Cells", int, int]:
    """Line by line, every check in order; the first bad line raises BattlesFileError."""
    counter: Counter = Counter()
    other = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            record = _record(raw, f"{path}, line {number}")
            if record is None:
                continue
            model_a, model_b, winner, anony = _checked(record, f"{path}, line {number}")
            if anony:
                counter[(model_a, model_b, winner)] += 1
            else:
                other += 1
    cells = _Cells()
    for (model_a, model_b, winner), count in counter.items():
        a, b = cells.model_codes([model_a, model_b])
        cells.counts[(a * cells.capacity + b) * len(OUTCOMES) + _OUTCOME_CODES[winner]] += count
    return cells, counter.total(), other


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
