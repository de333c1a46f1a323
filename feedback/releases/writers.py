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

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from feedback.releases.formats import EXPORT_KINDS, SCHEMAS
from feedback.releases.merkle import MerkleTreeBuilder, canonical_json

DEFAULT_BATCH_SIZE = 10_000
_HASH_CHUNK = 1 << 20


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _KindFiles:
    """The two open files of one kind and the batch of records not yet in the Parquet file."""

    def __init__(self, folder: Path, kind: str, batch_size: int) -> None:
        self.kind = kind
        self.schema = SCHEMAS[kind]
        self.names = frozenset(self.schema.names)
        self.batch_size = batch_size
        self.jsonl_path = folder / f"{kind}.jsonl"
        self.parquet_path = folder / f"{kind}.parquet"
        self.jsonl: BinaryIO = self.jsonl_path.open("wb")
        self.parquet = pq.ParquetWriter(self.parquet_path, self.schema)
        self.batch: list[Mapping[str, Any]] = []
        self.rows = 0

    def write(self, record: Mapping[str, Any]) -> bytes:
        if set(record) != self.names:
            missing, extra = sorted(self.names - set(record)), sorted(set(record) - self.names)
            raise ValueError(f"A {self.kind} record has the wrong keys: missing {missing}, extra {extra}.")
        line = canonical_json(record)
        self.jsonl.write(line + b"\n")
        self.batch.append(record)
        self.rows += 1
        if len(self.batch) >= self.batch_size:
            self.flush()
        return line

    def flush(self) -> None:
        if self.batch:
            self.parquet.write_table(pa.Table.from_pylist(self.batch, schema=self.schema))
            self.batch = []

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.parquet.close()
            self.jsonl.close()

    def abort(self) -> None:
        """Close the files without writing the pending batch (after an error)."""
        self.batch = []
        try:
            self.parquet.close()
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
            self._current = _KindFiles(self.folder, EXPORT_KINDS[self._next_kind], self.batch_size)
            self._next_kind += 1

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
        line = current.write(record)
        self._tree.add(line)
        self.counts[kind] += 1

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

    Each kind is loaded with `datasets.load_dataset("parquet", ...)` from the local file (a
    kind without rows, which `load_dataset` refuses, becomes an empty dataset with the
    features of its schema, saved as one empty shard so that `load_from_disk` reads it back)
    and the dict is written with `save_to_disk` to
    `folder / "dataset_dict"`, which is returned; read it with `datasets.load_from_disk`.
    """
    import tempfile

    import datasets

    folder = Path(folder)
    target = folder / "dataset_dict"
    with tempfile.TemporaryDirectory(prefix="release-datasets-") as cache_dir:
        splits = {}
        for kind in kinds:
            if kind not in SCHEMAS:
                raise ValueError(f"Unknown export kind {kind!r}; expected one of {EXPORT_KINDS}.")
            path = folder / f"{kind}.parquet"
            if pq.read_metadata(path).num_rows == 0:
                features = datasets.Features.from_arrow_schema(pq.read_schema(path))
                splits[kind] = datasets.Dataset.from_dict(dict.fromkeys(features, []), features=features)
            else:
                splits[kind] = datasets.load_dataset(
                    "parquet", data_files=str(path), split="train", cache_dir=cache_dir
                )
        dataset_dict = datasets.DatasetDict(splits)
        # datasets writes no shard at all for a split without rows, and `load_from_disk` then
        # fails on it (datasets 5.2): ask for one (empty) shard for those.
        empty = {kind: 1 for kind, dataset in splits.items() if dataset.num_rows == 0}
        dataset_dict.save_to_disk(str(target), num_shards=empty)
        del dataset_dict, splits
    return target
