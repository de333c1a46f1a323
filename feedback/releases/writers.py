"""Streaming writers of a release's files: JSONL, Parquet and a `datasets` DatasetDict; no Django.

`ReleaseWriter` takes the records of `formats` one at a time and writes, for every kind of
`EXPORT_KINDS`, `<kind>.jsonl` (one canonical JSON line per record) and `<kind>.parquet` (row
groups of up to `batch_size` records, with the kind's fixed schema), in memory bounded by a
few batches and one row group per open kind, whatever the size of the release. A process of
its own (`merkle_process`) hashes every JSONL line as a Merkle leaf, file by file in the order
of `EXPORT_KINDS` (the manifest's `files` order), as `merkle.py` defines them: so `merkle_root`
commits to exactly the lines of the files, while the kinds themselves may be written in any
order, or side by side.

`dataset_dict_save` turns the written Parquet files into a `datasets.DatasetDict` on disk.
`datasets` is imported only there, so the web process can import this module without it.
"""

import ctypes
import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from feedback.releases.formats import EXPORT_KINDS, SCHEMAS
from feedback.releases.merkle import canonical_json
from feedback.releases.merkle_process import file_hash

DEFAULT_BATCH_SIZE = 10_000
# The lines of a kind go to its background thread in batches of DEFAULT_BATCH_SIZE records or
# BATCH_BYTES of JSON, whichever comes first, and each batch is parsed by pyarrow on its own:
# per kind, one batch is being filled and at most `_QUEUED_BATCHES` wait or are being written,
# and three kinds are written side by side. (On a release of 100,000 battles, batches of 1 MB
# instead of 4 MB took 34 MB off the peak, in the same time.)
BATCH_BYTES = 1 << 20
# A Parquet row group gathers parsed batches up to DEFAULT_BATCH_SIZE records or this many
# bytes of JSON. Every row group stays in the writer's memory as metadata until the file
# closes, about 900 bytes per column (13 KB per row group of battles): with a row group per
# 1 MB batch, the three files written side by side held 50 MB of it at the end of a million
# battles. Row groups of 4 MB take a quarter of that, for at most 4 MB of parsed data per kind.
ROW_GROUP_BYTES = 4 << 20
_QUEUED_BATCHES = 3  # per kind: a short queue rides out a slow batch without holding up Python
_FREE_TEXT = frozenset({"text", "prompt", "answer"})
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
_MMAP_THRESHOLD = 256 << 10
_malloc_tuned = False
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_COLUMNS = {kind: frozenset(schema.names) for kind, schema in SCHEMAS.items()}


def memory_settle() -> None:
    """Make a long build's memory what it uses, not what it once used.

    pyarrow's default allocator (mimalloc) keeps the pages of freed batches for reuse, and
    glibc's malloc keeps freed heap; both count in the process's resident memory. The first
    call switches pyarrow's Python-level pool to the system allocator for this process (its
    C++ code takes the pool `ARROW_DEFAULT_MEMORY_POOL` names, which the settings set to
    `system` before pyarrow is imported) and has glibc map every block of 256 KiB or more on
    its own, so that freeing it returns it (by default glibc raises that threshold to the
    largest block freed so far, up to 32 MiB, and such blocks then stay in the heap); every
    call hands freed heap back to the kernel (`malloc_trim`). Where the C library is not
    glibc, only the pool changes. Measured on a 100,000-battle release: 36 MB less at the
    peak of the battles stage, and about 60 MB less before `datasets` (77 MB of imports)
    builds the DatasetDict; the environment variable took 50-60 MB more off.
    """
    global _malloc_tuned
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL(None)
        if not _malloc_tuned:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            _malloc_tuned = True
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to tune or trim
        pass


# orjson writes what `merkle.canonical_json` writes (keys sorted by code point, the same
# separators, UTF-8, the same string escapes, the same shortest digits for floats) except for
# floats below 1e-4 in magnitude, where Python writes `1e-05` and orjson `0.00001` (and `1e-07`
# against `1e-7`), and NaN and the infinities, which canonical JSON refuses and orjson writes as
# null. A record's floats sit in its kind's float columns, at the top or in the structs of a
# list column (`_float_fields`): a number anywhere else does not parse into the kind's Parquet
# schema, and the build fails. So the writer checks those few values, not the line's bytes
# (searching every line for `e-` and `0.000` cost 1.7 microseconds a line), and a record that
# holds such a float is written by `canonical_json` itself.
_ORJSON_EXACT_FROM = 1e-4


def _float_fields(schema: pa.Schema) -> tuple[tuple[str, str | None], ...]:
    """(column, None) for each float column of the schema, (column, field) for each float
    field of the structs of a list column."""
    fields: list[tuple[str, str | None]] = []
    for column in schema:
        if pa.types.is_floating(column.type):
            fields.append((column.name, None))
        elif pa.types.is_list(column.type) and pa.types.is_struct(column.type.value_type):
            struct = column.type.value_type
            fields += [
                (column.name, struct.field(i).name)
                for i in range(struct.num_fields)
                if pa.types.is_floating(struct.field(i).type)
            ]
    return tuple(fields)


_FLOATS = {kind: _float_fields(schema) for kind, schema in SCHEMAS.items()}


def _orjson_writes_alike(value: Any) -> bool:
    """Whether orjson writes this value of a float column as Python's json does."""
    if isinstance(value, float):
        return value == 0.0 or _ORJSON_EXACT_FROM <= abs(value) <= sys.float_info.max
    return True  # None, an int, or what the schema refuses


def _record_line(kind: str, record: Mapping[str, Any]) -> bytes:
    """The record's canonical JSON line, after checking it has exactly the kind's columns."""
    names = _COLUMNS[kind]
    if record.keys() != names:
        missing, extra = sorted(names - set(record)), sorted(set(record) - names)
        raise ValueError(f"A {kind} record has the wrong keys: missing {missing}, extra {extra}.")
    for column, field in _FLOATS[kind]:
        value = record[column]
        if field is None:
            if not _orjson_writes_alike(value):
                return canonical_json(record)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and not _orjson_writes_alike(item.get(field)):
                    return canonical_json(record)
    if not isinstance(record, dict):
        return canonical_json(record)
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits, a subclass orjson refuses...
        return canonical_json(record)


def _statistics_columns(schema: pa.Schema) -> list[str]:
    """The columns whose Parquet row groups carry min/max statistics: the short scalar ones
    (ids, models, languages, scores...), which readers filter on. Free text and chats get none:
    their minimum and maximum are whole texts, kept in the file's footer and, while writing,
    in memory for every row group (25 MB more per million battles, growing to the end)."""
    return [field.name for field in schema if not pa.types.is_nested(field.type) and field.name not in _FREE_TEXT]


class _BatchWriter:
    """Writes batches of JSON lines to the kind's JSONL file and, as Parquet row groups, to its
    Parquet file, in a background thread.

    pyarrow parses the lines (its JSON reader, with the kind's schema) and encodes the row
    group in C++ without holding the GIL, and a large write to a file releases it too, so the
    next batches are built in Python meanwhile. At most `_QUEUED_BATCHES` batches wait or are
    being written, which bounds the memory (batches are small: `BATCH_BYTES`). Parsed batches
    are gathered into row groups of up to `group_rows` records or `ROW_GROUP_BYTES` of JSON.
    """

    def __init__(self, jsonl_path: Path, parquet_path: Path, schema: pa.Schema, *, group_rows: int) -> None:
        self.schema = schema
        self.group_rows = group_rows
        self._group: list[pa.Table] = []  # parsed batches of the row group not yet written
        self._group_rows = self._group_bytes = 0
        self.jsonl: BinaryIO = jsonl_path.open("wb")
        self.parquet: pq.ParquetWriter | None = pq.ParquetWriter(
            parquet_path, schema, write_statistics=_statistics_columns(schema)
        )
        self._options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-files")
        self._pending: deque[Future] = deque()

    def _write(self, data: bytes) -> None:
        self.jsonl.write(data)
        source = pa.BufferReader(pa.py_buffer(data))  # no copy, and read without the GIL
        # The batch as one block, parsed by this thread alone: a line longer than a block
        # would not parse, and several kinds are converted at once (each of pyarrow's own
        # threads would keep memory of its own).
        options = pa_json.ReadOptions(use_threads=False, block_size=len(data))
        table = pa_json.read_json(source, read_options=options, parse_options=self._options)
        self._group.append(table.select(self.schema.names).cast(self.schema))
        self._group_rows += table.num_rows
        self._group_bytes += len(data)
        if self._group_rows >= self.group_rows or self._group_bytes >= ROW_GROUP_BYTES:
            self._group_write()

    def _group_write(self) -> None:
        if self._group:
            self.parquet.write_table(pa.concat_tables(self._group))  # one row group: fewer than 2**20 rows
            self._group, self._group_rows, self._group_bytes = [], 0, 0

    def submit(self, lines: bytes) -> None:
        """Write `lines` (JSON lines, each ending in a newline) to the JSONL file, and to the
        Parquet file's current row group. Waits while `_QUEUED_BATCHES` batches are still to
        be written."""
        while len(self._pending) >= _QUEUED_BATCHES:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._write, lines))

    def wait(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.wait()
            self._group_write()  # the last row group (the thread has nothing left to do)
        finally:
            self._pool.shutdown()
            try:
                self.parquet.close()
                self.parquet = None  # its metadata: every row group's
            finally:
                self.jsonl.close()

    def abort(self) -> None:
        try:
            for pending in self._pending:
                if not pending.cancel():  # already started: let it finish, its error does not matter
                    pending.exception()
        finally:
            self._pending.clear()
            self._pool.shutdown()
            try:
                self.parquet.close()
            finally:
                self.jsonl.close()


class _KindFiles:
    """The files of one kind and the batch of lines not yet written to them."""

    def __init__(self, folder: Path, kind: str, batch_size: int) -> None:
        self.kind = kind
        self.batch_size = batch_size
        self.jsonl_path = folder / f"{kind}.jsonl"
        self.parquet_path = folder / f"{kind}.parquet"
        self.files = _BatchWriter(self.jsonl_path, self.parquet_path, SCHEMAS[kind], group_rows=batch_size)
        self.batch: list[bytes] = []  # the lines not yet written, without their newlines
        self.batch_bytes = 0
        self.rows = 0
        self.is_finished = False

    def write_line(self, line: bytes) -> None:
        self.batch.append(line)
        self.batch_bytes += len(line) + 1
        self.rows += 1
        if len(self.batch) >= self.batch_size or self.batch_bytes >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.batch.append(b"")  # the last line's newline
            self.files.submit(b"\n".join(self.batch))
            self.batch, self.batch_bytes = [], 0

    def finish(self) -> None:
        """Write the last batch and close the files."""
        if self.is_finished:
            return
        self.is_finished = True
        try:
            self.flush()
        finally:
            self.files.close()

    def manifest_entries(self, sha256: Mapping[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "name": self.kind,
                "path": path.name,
                "format": file_format,
                "rows": self.rows,
                "bytes": path.stat().st_size,
                "sha256": sha256[path.name],
            }
            for path, file_format in ((self.jsonl_path, "jsonl"), (self.parquet_path, "parquet"))
        ]

    def abort(self) -> None:
        """Close the files without writing the pending batch (after an error)."""
        self.batch, self.batch_bytes = [], 0
        if not self.is_finished:
            self.is_finished = True
            self.files.abort()


class _MerkleProcess:
    """`merkle_process` running beside the build. Each kind's files are named to it in the
    manifest's order: the JSONL file of the first kind not yet complete is followed while it is
    written, and the files of the kinds before it are named once complete. At the end it gives
    the tree's root and every file's SHA-256."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own module, with this interpreter
            [sys.executable, "-m", "feedback.releases.merkle_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=_PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(_PROJECT_ROOT)},
        )
        self.named = 0  # how many of EXPORT_KINDS it has been given whole
        self.following: str | None = None  # the kind whose JSONL file it follows

    def name_ready(self, kinds: Mapping[str, "_KindFiles"]) -> None:
        """Name the files that have become ready since the last call."""
        commands = []
        while self.named < len(EXPORT_KINDS):
            kind = EXPORT_KINDS[self.named]
            files = kinds.get(kind)
            if files is None:
                break
            if not files.is_finished:
                if self.following != kind:
                    commands.append(f"follow {files.jsonl_path}")
                    self.following = kind
                break
            jsonl = "done" if self.following == kind else "file"
            commands += [f"{jsonl} {files.jsonl_path}", f"file {files.parquet_path}"]
            self.named += 1
            self.following = None
        if commands and self.process.stdin is not None:
            self.process.stdin.write(b"".join(os.fsencode(command) + b"\n" for command in commands))
            self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        """{"leaves", "root" (hex), "sha256" (by file name)}, once every file has been named."""
        out, err = self.process.communicate(b"\n")
        if self.process.returncode != 0:
            raise RuntimeError(f"The Merkle tree process failed: {err.decode(errors='replace').strip()}")
        return json.loads(out)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


class ReleaseWriter:
    """Writes a release's JSONL and Parquet files into `folder`, in constant memory.

        with ReleaseWriter(folder) as writer:
            for battle in battles:
                writer.write("battles", formats.battle_record(battle))
                for pair in formats.preference_records_from_battle(battle):
                    writer.write("preferences", pair)
            writer.finish("battles")
            ...
        writer.files, writer.counts, writer.merkle_root

    Kinds may be written in any order and side by side (a battle and its preference pair in one
    pass over the pool). The Merkle tree is built by a process of its own (`merkle_process`)
    from the JSONL files on disk, file by file in the order of `EXPORT_KINDS` (the manifest's
    `files` order): it follows the first file not yet complete as it is written, so it hashes
    while the build goes on. `finish(kind)` writes a kind's last batch
    and closes its files, so a finished kind holds no memory and its file can be hashed;
    writing to it afterwards raises ValueError. Every kind gets both files, empty ones included
    (a zero-row Parquet file still has the schema). `counts` gives the records written per kind
    at any time; `files` (the manifest's list: name, path relative to the folder, format, rows,
    bytes, sha256) and `merkle_root` (hex) are available once the writer is closed without
    error. If the block raises, the files are closed but the release is incomplete: discard
    the folder.
    """

    def __init__(self, folder: Path | str, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("The batch size must be at least 1.")
        self.folder = Path(folder)
        self.batch_size = batch_size
        self.counts: dict[str, int] = dict.fromkeys(EXPORT_KINDS, 0)
        self._kinds: dict[str, _KindFiles] = {}
        self._files: list[dict[str, Any]] = []
        self._merkle = _MerkleProcess()
        self._root = ""
        self._leaf_count = 0
        self._is_closed = False
        self._is_complete = False

    def __enter__(self) -> "ReleaseWriter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def _files_of(self, kind: str) -> _KindFiles:
        if self._is_closed:
            raise ValueError("The release writer is closed.")
        files = self._kinds.get(kind)
        if files is None:
            if kind not in SCHEMAS:
                raise ValueError(f"Unknown export kind {kind!r}; expected one of {EXPORT_KINDS}.")
            self.folder.mkdir(parents=True, exist_ok=True)
            files = self._kinds[kind] = _KindFiles(self.folder, kind, self.batch_size)
            self._merkle.name_ready(self._kinds)
        if files.is_finished:
            raise ValueError(f"The files of {kind!r} are finished; nothing more can be written to them.")
        return files

    def write(self, kind: str, record: Mapping[str, Any]) -> None:
        """Append one record (built by `formats`) to the files of `kind`."""
        files = self._files_of(kind)
        files.write_line(_record_line(kind, record))
        self.counts[kind] += 1

    def finish(self, kind: str) -> None:
        """Write the kind's last Parquet batch and close its files: nothing more comes for it."""
        self._files_of(kind).finish()
        self._merkle.name_ready(self._kinds)

    def close(self) -> None:
        """Finish every kind (the ones never written get empty files), then take the tree's root."""
        if self._is_closed:
            return
        try:
            for kind in EXPORT_KINDS:
                files = self._kinds.get(kind) or self._files_of(kind)
                files.finish()
            self._merkle.name_ready(self._kinds)
            result = self._merkle.result()
            for kind in EXPORT_KINDS:
                self._files.extend(self._kinds[kind].manifest_entries(result["sha256"]))
            self._leaf_count, self._root = result["leaves"], result["root"]
            if self._leaf_count != sum(self.counts.values()):
                raise RuntimeError(
                    f"The Merkle tree has {self._leaf_count} leaves for {sum(self.counts.values())} records."
                )
        except BaseException:
            self._abort()
            raise
        self._is_closed = True
        self._is_complete = True

    def _abort(self) -> None:
        self._is_closed = True
        try:
            for files in self._kinds.values():
                files.abort()
        finally:
            self._merkle.stop()

    def _require_complete(self) -> None:
        if not self._is_complete:
            raise RuntimeError("The release is complete only once its writer has closed without error.")

    @property
    def files(self) -> list[dict[str, Any]]:
        """The manifest's file list: JSONL then Parquet for each kind, in the order of EXPORT_KINDS."""
        self._require_complete()
        return [dict(entry) for entry in self._files]

    @property
    def merkle_root(self) -> str:
        """The hex root of the RFC 6962 tree over all JSONL lines, file by file in EXPORT_KINDS order."""
        self._require_complete()
        return self._root

    @property
    def leaf_count(self) -> int:
        self._require_complete()
        return self._leaf_count


def dataset_dict_save(
    folder: Path | str, kinds: Iterable[str] = EXPORT_KINDS, *, parquet_sha256: Mapping[str, str] | None = None
) -> Path:
    """Save the kinds' Parquet files in `folder` as one `datasets.DatasetDict`, keyed by kind.

    Writes `folder / "dataset_dict"` (returned) in the layout `DatasetDict.save_to_disk` gives,
    which `datasets.load_from_disk` reads: `dataset_dict.json` naming the splits and, per kind,
    one Arrow file written by `datasets`' own `ArrowWriter` with the features of the kind's
    schema, its `dataset_info.json` (written by `datasets.DatasetInfo`) and `state.json`.

    It streams: each Parquet file is read one row group (4 MB of JSON at most) at a time and appended to the Arrow
    file, so memory stays at one row group whatever the size of the release. (Loading the
    Parquet files with `load_dataset` and calling `save_to_disk` reads them through a memory
    map of a full cached copy: 4 GB resident for a release of a million battles.)
    `feedback/tests/test_release_formats.py` checks the layout against `save_to_disk`'s.
    Each split's fingerprint is the start of its Parquet file's SHA-256, taken from
    `parquet_sha256` (by kind; the manifest has them) or computed.
    """
    import datasets
    from datasets.arrow_writer import ArrowWriter

    folder = Path(folder)
    target = folder / "dataset_dict"
    kinds = list(kinds)
    for kind in kinds:
        if kind not in SCHEMAS:
            raise ValueError(f"Unknown export kind {kind!r}; expected one of {EXPORT_KINDS}.")
    target.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        split_folder = target / kind
        split_folder.mkdir(exist_ok=True)
        parquet = pq.ParquetFile(folder / f"{kind}.parquet")
        features = datasets.Features.from_arrow_schema(parquet.schema_arrow)
        shard = "data-00000-of-00001.arrow"
        writer = ArrowWriter(features=features, path=str(split_folder / shard))
        try:
            for group in range(parquet.num_row_groups):
                writer.write_table(parquet.read_row_group(group))
            _, size = writer.finalize()
        finally:
            writer.close()
        info = datasets.DatasetInfo(features=features, dataset_size=size)
        info.write_to_directory(str(split_folder), pretty_print=True)
        state = {
            "_data_files": [{"filename": shard}],
            "_fingerprint": (
                parquet_sha256[kind] if parquet_sha256 else file_hash(str(folder / f"{kind}.parquet"), None)
            )[:16],
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": kind,
        }
        (split_folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    (target / "dataset_dict.json").write_text(json.dumps({"splits": kinds}), encoding="utf-8")
    return target
