"""The selection manifest, its RFC 6962 Merkle root, and proofs that a released record was or was not selected.

The selection tree is built exactly like the release's (feedback/releases/merkle.py): its
leaves are the kept records in release order, each as its canonical JSON, which is the same
bytes as the record's line in the release. So one record's line hashes to the same leaf in
both trees, and `selection_proof` needs only the manifest and that line. docs/selection.md
shows how anyone checks a proof.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from feedback.releases.merkle import (
    EMPTY_ROOT,
    audit_path,
    audit_path_from_leaves,
    canonical_json,
    leaf_hash,
    node_hash,
    verify_audit_path,
)

from .release import ReleaseReadError, release_leaves, release_manifest_read

MANIFEST_FORMAT = "feedback-commons-selection/1"
LEAF_INDEX = "_leaf_index"


def record_leaf(record: dict[str, Any]) -> bytes:
    """The record's Merkle leaf: its canonical JSON without the `_leaf_index` the reader added."""
    return canonical_json({key: value for key, value in record.items() if key != LEAF_INDEX})


def selection_manifest_build(
    kept: list[dict[str, Any]], *, root: bytes, config: dict[str, Any], report: dict[str, Any]
) -> dict[str, Any]:
    """The manifest of a selection: its release, config, kept records (id, leaf index, leaf hash),
    per-filter counts, the full report and the selection root."""
    return {
        "format": MANIFEST_FORMAT,
        "release": report.get("release"),
        "config": config,
        "records_in": report["records_in"],
        "records_kept": len(kept),
        "filters": {entry["name"]: {"records_in": entry["records_in"], "removed": entry["removed"]}
                    for entry in report["filters"]},
        "report": report,
        "merkle_root": root.hex(),
        "merkle_tree_size": len(kept),
        "merkle_leaves": "the kept records in release order, each as its canonical JSON (the release's leaf bytes)",
        "kept": [
            {
                "id": record.get("id"),
                "leaf_index": record.get(LEAF_INDEX),
                "leaf_hash": leaf_hash(record_leaf(record)).hex(),
            }
            for record in kept
        ],
    }  # fmt: skip


def selection_manifest_write(selection: Any, path: Path) -> None:
    """Write the selection's manifest as JSON to `path`, atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(selection.manifest, file, ensure_ascii=False, indent=1)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def root_from_leaf_hashes(hashes: list[bytes]) -> bytes:
    """MTH of a tree given its leaves' hashes (RFC 6962: split at the largest power of two below n)."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(root_from_leaf_hashes(hashes[:split]), root_from_leaf_hashes(hashes[split:]))


class SelectionProofError(ValueError):
    """The input to a proof is not usable: a line that is not a JSON object, a manifest without leaves."""


def _release_inclusion(leaf: bytes, release_dir: Path, expected_root: str | None) -> dict[str, Any]:
    """Where the leaf is in the release tree, with its audit path checked against the release root."""
    manifest = release_manifest_read(release_dir)
    root_hex = manifest["merkle_root"]
    if expected_root and root_hex.lower() != expected_root.lower():
        return {
            "in_release": False,
            "release_statement": f"The release folder's root {root_hex} is not the selection's release root "
            f"{expected_root}: this is another release.",
        }
    leaves = enumerate(release_leaves(release_dir, manifest))
    index = next((position for position, data in leaves if data == leaf), None)
    if index is None:
        return {"in_release": False, "release_statement": "The record is not a leaf of the release."}
    path, size, root = audit_path_from_leaves(release_leaves(release_dir, manifest), index)
    verified = verify_audit_path(leaf, index, size, path, bytes.fromhex(root_hex)) and root.hex() == root_hex
    return {
        "in_release": verified,
        "release_proof": {
            "leaf_index": index,
            "tree_size": size,
            "audit_path": [sibling.hex() for sibling in path],
            "root": root_hex,
        },
    }


def selection_proof(manifest: dict[str, Any], record_line: bytes, *, release_dir: Path | None = None) -> dict[str, Any]:
    """A proof that the record on `record_line` (a line of the release's preferences.jsonl) was, or was not, selected.

    Included: `{"included": True, "record", "leaf_index", "tree_size", "audit_path", "root", ...}`,
    the same shape as the release's proofs (docs/verifying-records.md), verified here against
    the manifest's root; `leaf_index` is the position in the selection tree and
    `release_leaf_index` the one in the release tree.

    Not included: `{"included": False, "leaf_hash", "statement"}`: the record's leaf hash is
    not among the manifest's `kept` leaf hashes, whose tree has the manifest's root (checked
    here). With `release_dir`, the proof also shows that the record is in the release
    (`in_release`, `release_proof`: its audit path in the release tree, checked against the
    release's root), which is what makes the absence meaningful: a changed record is in
    neither tree.
    """
    try:
        record = json.loads(record_line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SelectionProofError(f"The record line is not JSON: {error}.") from None
    if not isinstance(record, dict):
        raise SelectionProofError("The record line is not a JSON object.")
    try:
        kept_hashes = [bytes.fromhex(entry["leaf_hash"]) for entry in manifest["kept"]]
        root = bytes.fromhex(manifest["merkle_root"])
    except (KeyError, TypeError, ValueError):
        raise SelectionProofError("The manifest has no valid `kept` leaf hashes and `merkle_root`.") from None
    leaf = record_leaf(record)
    digest = leaf_hash(leaf)
    release = manifest.get("release") or {}
    proof: dict[str, Any] = {"id": record.get("id"), "leaf_hash": digest.hex(), "root": manifest["merkle_root"]}
    try:
        index = kept_hashes.index(digest)
    except ValueError:
        index = None
    if index is not None:
        path = audit_path(kept_hashes, index)
        verified = verify_audit_path(leaf, index, len(kept_hashes), path, root)
        proof.update(
            included=verified,
            record={key: value for key, value in record.items() if key != LEAF_INDEX},
            leaf_index=index,
            tree_size=len(kept_hashes),
            audit_path=[sibling.hex() for sibling in path],
            release_leaf_index=manifest["kept"][index].get("leaf_index"),
            release_root=release.get("merkle_root"),
        )
        if not verified:
            proof["statement"] = "The manifest's kept leaves do not hash to its root: the manifest was changed."
    else:
        same_id = [entry for entry in manifest["kept"] if entry.get("id") == record.get("id")]
        statement = f"No kept leaf has this record's hash, so it is not in the selection of {len(kept_hashes)} records."
        if same_id:
            statement += " A record with the same id was kept with other content: this line is not that record."
        consistent = root_from_leaf_hashes(kept_hashes) == root
        if not consistent:
            statement = "The manifest's kept leaves do not hash to its root: it was changed and proves nothing."
        proof.update(included=False, tree_size=len(kept_hashes), statement=statement)
        proof["manifest_consistent"] = consistent
    if release_dir is not None:
        try:
            proof.update(_release_inclusion(leaf, Path(release_dir), release.get("merkle_root")))
        except ReleaseReadError as error:
            proof.update(in_release=False, release_statement=str(error))
    return proof
