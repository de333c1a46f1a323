"""Streaming writers of a release's files: JSONL, Parquet and a `datasets` DatasetDict; no Django.

`ReleaseWriter` takes the records of `formats` one at a time and writes, for every kind of
`EXPORT_KINDS`, `<kind>.jsonl` (one canonical JSON line per record) and `<kind>.parquet` (row
groups of `batch_size` records, with the kind's fixed schema), in memory bounded by one batch,
whatever the size of the release. While it writes, it feeds every JSONL line to a
`MerkleTreeBuilder`, so `merkle_root` commits to exactly the lines of the files, file by file
in the order of `EXPORT_KINDS` (the manifest's `files` order), as `merkle.py` defines the leaves.

Because the tree's leaves follow the files' order, the records must arrive kind by kind, in
the order of `EXPORT_KINDS`: all battles, then all preferences, and so on (a kind may have no
records). A record of a kind that comes after a later kind raises ValueError; keeping them
apart would otherwise mean holding a whole kind in memory.

`dataset_dict_save` turns the written Parquet files into a `datasets.DatasetDict` on disk.
`datasets` is imported only there, so the web process can import this module without it.
"""

import ctypes
import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from feedback.releases.formats import EXPORT_KINDS, SCHEMAS
from feedback.releases.merkle import MerkleTreeBuilder, canonical_json_fast

DEFAULT_BATCH_SIZE = 10_000
# A Parquet row group closes at DEFAULT_BATCH_SIZE records or at this many bytes of JSON,
# whichever comes first: long conversations would otherwise make a batch of 10,000 records
# weigh hundreds of megabytes. (Small row groups keep the build small: three batches are in
# memory at most, one being filled, one waiting and one being converted.)
BATCH_BYTES = 4 << 20
_HASH_CHUNK = 1 << 20
_FILE_BUFFER = 1 << 20
_COLUMNS = {kind: frozenset(schema.names) for kind, schema in SCHEMAS.items()}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def memory_settle() -> None:
    """Make a long build's memory what it uses, not what it once used.

    pyarrow's default allocator (mimalloc) keeps the pages of freed batches for reuse, and
    glibc's malloc keeps freed heap; both count in the process's resident memory. The first
    call switches pyarrow to the system allocator for this process; every call hands freed
    heap back to the kernel (`malloc_trim`, where the C library has it). Measured on a
    100,000-battle release: 36 MB less at the peak of the battles stage, and about 60 MB
    less before `datasets` (77 MB of imports) builds the DatasetDict.
    """
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _record_line(kind: str, record: Mapping[str, Any]) -> bytes:
    """The record's canonical JSON line, after checking it has exactly the kind's columns."""
    names = _COLUMNS[kind]
    if record.keys() != names:
        missing, extra = sorted(names - set(record)), sorted(set(record) - names)
        raise ValueError(f"A {kind} record has the wrong keys: missing {missing}, extra {extra}.")
    return canonical_json_fast(record)


class _ParquetWriter:
    """Turns batches of JSONL lines into Parquet row groups in a background thread.

    pyarrow parses the lines (its JSON reader, with the kind's schema) and encodes the row
    group in C++ without holding the GIL, so the next batch is built in Python meanwhile. At
    most one batch waits while another is converted, which bounds the memory to two batches.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema)
        self._options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-parquet")
        self._pending: Future | None = None

    def _convert(self, data: bytes) -> None:
        table = pa_json.read_json(io.BytesIO(data), parse_options=self._options)
        self.writer.write_table(table.select(self.schema.names).cast(self.schema))

    def submit(self, lines: bytes) -> None:
        """Convert `lines` (JSON lines, each ending in a newline) into the next row group."""
        self.wait()
        self._pending = self._pool.submit(self._convert, lines)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown()
            self.writer.close()

    def abort(self) -> None:
        try:
            if self._pending is not None:
                self._pending.exception()  # let it finish; its error does not matter any more
        finally:
            self._pending = None
            self._pool.shutdown()
            self.writer.close()


class _KindFiles:
    """The two open files of one kind and the batch of lines not yet in the Parquet file."""

    def __init__(self, folder: Path, kind: str, batch_size: int) -> None:
        self.kind = kind
        self.schema = SCHEMAS[kind]
        self.batch_size = batch_size
        self.jsonl_path = folder / f"{kind}.jsonl"
        self.parquet_path = folder / f"{kind}.parquet"
        self.jsonl: BinaryIO = self.jsonl_path.open("wb", buffering=_FILE_BUFFER)
        self.parquet = _ParquetWriter(self.parquet_path, self.schema)
        self.batch = bytearray()  # the lines not yet in the Parquet file, each ending in a newline
        self.batch_rows = 0
        self.rows = 0

    def write_line(self, line: bytes) -> None:
        start = len(self.batch)
        self.batch += line
        self.batch += b"\n"
        self.jsonl.write(memoryview(self.batch)[start:])
        self.batch_rows += 1
        self.rows += 1
        if self.batch_rows >= self.batch_size or len(self.batch) >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.batch_rows:
            self.parquet.submit(bytes(self.batch))
            self.batch, self.batch_rows = bytearray(), 0

    def close(self) -> None:
        try:
            self.flush()
            self.parquet.close()
        finally:
            self.jsonl.close()

    def abort(self) -> None:
        """Close the files without writing the pending batch (after an error)."""
        self.batch, self.batch_rows = bytearray(), 0
        try:
            self.parquet.abort()
        finally:
            self.jsonl.close()

    def manifest_entries(self) -> list[dict[str, Any]]:
        return [
            {
                "name": self.kind,
                "path": path.name,
                "format": file_format,
                "rows": self.rows,
                "bytes": path.stat().st_size,
                "sha256": _file_sha256(path),
            }
            for path, file_format in ((self.jsonl_path, "jsonl"), (self.parquet_path, "parquet"))
        ]


class ReleaseWriter:
    """Writes a release's JSONL and Parquet files into `folder`, kind by kind, in constant memory.

        with ReleaseWriter(folder) as writer:
            for battle in battles:
                writer.write("battles", formats.battle_record(battle))
            ...
        writer.files, writer.counts, writer.merkle_root

    Records of one kind go in one call each, and kinds in the order of `EXPORT_KINDS` (see the
    module docstring). Every kind gets both files, empty ones included (a zero-row Parquet file
    still has the schema). `counts` gives the records written per kind at any time; `files`
    (the manifest's list: name, path relative to the folder, format, rows, bytes, sha256) and
    `merkle_root` (hex) are available once the writer is closed without error. If the block
    raises, the files are closed but the release is incomplete: discard the folder.
    """

    def __init__(self, folder: Path | str, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("The batch size must be at least 1.")
        self.folder = Path(folder)
        self.batch_size = batch_size
        self.counts: dict[str, int] = dict.fromkeys(EXPORT_KINDS, 0)
        self._tree = MerkleTreeBuilder()
        self._next_kind = 0  # index in EXPORT_KINDS of the first kind not yet opened
        self._current: _KindFiles | None = None
        self._files: list[dict[str, Any]] = []
        self._deferred: dict[str, BinaryIO] = {}
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

    def _finish_current(self) -> None:
        if self._current is not None:
            current, self._current = self._current, None
            current.close()
            self._files.extend(current.manifest_entries())

    def _open_until(self, kind: str) -> None:
        """Finish the open kind and open the kinds up to `kind`, the skipped ones left empty."""
        target = EXPORT_KINDS.index(kind)
        while self._next_kind <= target:
            self._finish_current()
            self.folder.mkdir(parents=True, exist_ok=True)
            kind = EXPORT_KINDS[self._next_kind]
            self._current = _KindFiles(self.folder, kind, self.batch_size)
            self._next_kind += 1
            deferred = self._deferred.pop(kind, None)
            if deferred is not None:
                with deferred:
                    deferred.seek(0)
                    for line in deferred:
                        line = line[:-1]
                        self._current.write_line(line)
                        self._tree.add(line)
                        self.counts[kind] += 1

    def write(self, kind: str, record: Mapping[str, Any]) -> None:
        """Append one record (built by `formats`) to the files of `kind`."""
        if self._is_closed:
            raise ValueError("The release writer is closed.")
        if kind not in SCHEMAS:
            raise ValueError(f"Unknown export kind {kind!r}; expected one of {EXPORT_KINDS}.")
        if self._current is None or self._current.kind != kind:
            if EXPORT_KINDS.index(kind) < self._next_kind:
                raise ValueError(
                    f"Records of {kind!r} came after those of a later kind; write kinds in this order: {EXPORT_KINDS}."
                )
            self._open_until(kind)
        current = self._current
        if current is None:  # pragma: no cover - _open_until has just opened it
            raise RuntimeError(f"No open files for {kind!r}.")
        line = _record_line(kind, record)
        current.write_line(line)
        self._tree.add(line)
        self.counts[kind] += 1

    def defer(self, kind: str, record: Mapping[str, Any]) -> None:
        """Keep a record of a kind not yet opened in a temporary file; it is written, before
        anything else of its kind, when that kind opens. So two kinds can be built from one
        pass over the pool (a battle and its preference pair) in constant memory."""
        if self._is_closed:
            raise ValueError("The release writer is closed.")
        if kind not in SCHEMAS:
            raise ValueError(f"Unknown export kind {kind!r}; expected one of {EXPORT_KINDS}.")
        if EXPORT_KINDS.index(kind) < self._next_kind:
            raise ValueError(f"The files of {kind!r} are already open or written; write it, do not defer it.")
        if kind not in self._deferred:
            self._deferred[kind] = tempfile.TemporaryFile(prefix=f"release-{kind}-", buffering=_FILE_BUFFER)
        self._deferred[kind].write(_record_line(kind, record) + b"\n")

    def close(self) -> None:
        """Write what is pending, give the remaining kinds their empty files, and seal the root."""
        if self._is_closed:
            return
        try:
            self._open_until(EXPORT_KINDS[-1])
            self._finish_current()
        except BaseException:
            self._abort()
            raise
        self._is_closed = True
        self._is_complete = True

    def _abort(self) -> None:
        self._is_closed = True
        for deferred in self._deferred.values():
            deferred.close()
        self._deferred.clear()
        if self._current is not None:
            current, self._current = self._current, None
            current.abort()

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
        return self._tree.root().hex()

    @property
    def leaf_count(self) -> int:
        return self._tree.size


def dataset_dict_save(folder: Path | str, kinds: Iterable[str] = EXPORT_KINDS) -> Path:
    """Save the kinds' Parquet files in `folder` as one `datasets.DatasetDict`, keyed by kind.

    Writes `folder / "dataset_dict"` (returned) in the layout `DatasetDict.save_to_disk` gives,
    which `datasets.load_from_disk` reads: `dataset_dict.json` naming the splits and, per kind,
    one Arrow file written by `datasets`' own `ArrowWriter` with the features of the kind's
    schema, its `dataset_info.json` (written by `datasets.DatasetInfo`) and `state.json`.

    It streams: each Parquet file is read one row group at a time and appended to the Arrow
    file, so memory stays at one row group whatever the size of the release. (Loading the
    Parquet files with `load_dataset` and calling `save_to_disk` reads them through a memory
    map of a full cached copy: 4 GB resident for a release of a million battles.)
    `feedback/tests/test_release_formats.py` checks the layout against `save_to_disk`'s.
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
            "_fingerprint": _file_sha256(folder / f"{kind}.parquet")[:16],
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": kind,
        }
        (split_folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    (target / "dataset_dict.json").write_text(json.dumps({"splits": kinds}), encoding="utf-8")
    return target
