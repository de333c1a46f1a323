"""Reading a published release folder for selection: its preferences with their leaf indices, its flags.

A release folder (docs/release-formats.md) holds `manifest.json` and one JSONL file per kind.
The release's Merkle root counts every line of every JSONL file, file by file in the
manifest's order, so a preference's leaf index is the number of JSONL lines of the files
before `preferences.jsonl` plus its line number. No Django: a folder is all this needs.
"""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feedback.moderation.gate_rules import FLAG_LABELS_FAILING
from feedback.releases.merkle import canonical_json, jsonl_leaves

PREFERENCES = "preferences.jsonl"
MESSAGE_TREES = "message_trees.jsonl"


class ReleaseReadError(ValueError):
    """The folder is not a readable release: no manifest, a missing or changed file. The message says what."""


class ReleasePreferences(list):
    """The preference records of a release (a list of dicts), with what the selection needs to know of it.

    `release`: the release's name, community, Merkle root and tree size (from its manifest);
    `flagged`: id -> the flag labels of the record's chosen answer (`release_flagged_ids`).
    `select` reads both when it is given this list; a plain list works too, without them.
    """

    release: dict[str, Any] | None = None
    flagged: dict[str, list[str]] | None = None


def release_manifest_read(release_dir: Path) -> dict[str, Any]:
    """The release's manifest.json; ReleaseReadError when it is missing or not a release manifest."""
    path = Path(release_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseReadError(f"{release_dir} is not a release folder: it has no manifest.json.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReleaseReadError(f"{path} cannot be read as JSON: {error}.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list) or "merkle_root" not in manifest:
        raise ReleaseReadError(f"{path} is not a release manifest (it needs `files` and `merkle_root`).")
    return manifest


def _jsonl_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    entries = [entry for entry in manifest["files"] if isinstance(entry, dict) and entry.get("format") == "jsonl"]
    for entry in entries:
        if not isinstance(entry.get("path"), str) or "/" in entry["path"] or entry["path"].startswith("."):
            raise ReleaseReadError(f"The manifest names a file outside the release: {entry.get('path')!r}.")
        if not isinstance(entry.get("rows"), int):
            raise ReleaseReadError(f"The manifest gives no row count for {entry['path']}.")
    return entries


def release_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a selection records of its release: name, community, version, Merkle root and tree size."""
    return {
        "name": manifest.get("name"),
        "community": manifest.get("community"),
        "version": manifest.get("version"),
        "merkle_root": manifest.get("merkle_root"),
        "merkle_tree_size": manifest.get("merkle_tree_size"),
    }


def _records(release_dir: Path, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The records of one JSONL file of the release, streamed line by line.

    The file's SHA-256 is computed on the way and checked against the manifest's when the last
    line has been read: a changed file raises ReleaseReadError before the caller is done.
    """
    name = entry["path"]
    digest = hashlib.sha256()
    try:
        with (Path(release_dir) / name).open("rb") as file:
            for number, raw in enumerate(file, start=1):  # binary lines end at b"\n" only
                digest.update(raw)
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise ReleaseReadError(f"Line {number} of {name} is not UTF-8.") from None
                except json.JSONDecodeError as error:
                    raise ReleaseReadError(f"Line {number} of {name} is not JSON: {error.msg}.") from None
                if not isinstance(record, dict):
                    raise ReleaseReadError(f"Line {number} of {name} is not a JSON object.")
                yield record
    except OSError as error:
        raise ReleaseReadError(f"The release file {name} cannot be read: {error.strerror or error}.") from None
    if entry.get("sha256") and digest.hexdigest() != entry["sha256"]:
        raise ReleaseReadError(f"{name} does not match the SHA-256 in the manifest: the file was changed.")


def release_preferences_read(release_dir: Path) -> ReleasePreferences:
    """The release's preference records in file order, each with `_leaf_index` set.

    The leaf index is the record's position among all the JSONL lines of the release in the
    manifest's order (the files before preferences.jsonl count by their manifest `rows`). The
    file is checked against the manifest's SHA-256 and row count. The list also carries the
    release's summary and its flagged ids (`ReleasePreferences`). ReleaseReadError on a
    missing manifest or file, a changed file or a line that is not a JSON object.
    """
    release_dir = Path(release_dir)
    manifest = release_manifest_read(release_dir)
    offset = 0
    for entry in _jsonl_entries(manifest):
        if entry["path"] == PREFERENCES:
            break
        offset += entry["rows"]
    else:
        raise ReleaseReadError(f"The release's manifest lists no {PREFERENCES}.")
    records = ReleasePreferences()
    for index, record in enumerate(_records(release_dir, entry)):
        record["_leaf_index"] = offset + index
        records.append(record)
    if len(records) != entry["rows"]:
        raise ReleaseReadError(f"{PREFERENCES} holds {len(records)} records; the manifest says {entry['rows']}.")
    records.release = release_summary(manifest)
    records.flagged = release_flagged_ids(release_dir, records, manifest=manifest)
    return records


def _path_hash(parent: bytes, role: str, text: str) -> bytes:
    return hashlib.sha256(parent + canonical_json({"role": role, "content": text})).digest()


_ROOT = b""
_ROLES = {"prompter": "user", "assistant": "assistant"}


def release_flagged_ids(
    release_dir: Path, records: list[dict[str, Any]], *, manifest: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    """Id -> flag labels, for the preference records whose chosen answer volunteers flagged.

    Preferences carry no flags; the release's message trees do: each message's `labels` hold
    the number of volunteers who raised each flag (`spam`, `toxic`, ... the labels that fail a
    quality gate, feedback/moderation/gate_rules.py). A preference's chosen answer is the
    message whose whole conversation, from the first prompt down to it, equals the record's
    `prompt` followed by its chosen message (the trees and the preferences hold the same
    redacted texts). Conversations are matched by a hash chain over (role, text) from the root,
    so memory grows by 32 bytes per message.
    """
    release_dir = Path(release_dir)
    manifest = manifest or release_manifest_read(release_dir)
    entry = next((entry for entry in _jsonl_entries(manifest) if entry["path"] == MESSAGE_TREES), None)
    if entry is None:
        return {}
    chains: dict[str, bytes] = {}
    flagged_chains: dict[bytes, list[str]] = {}
    for message in _records(release_dir, entry):
        parent = message.get("parent_id")
        if parent is not None and parent not in chains:
            continue  # its parent was left out of the release
        role = _ROLES.get(message.get("role"), str(message.get("role")))
        chain = _path_hash(_ROOT if parent is None else chains[parent], role, str(message.get("text", "")))
        chains[str(message.get("message_id"))] = chain
        labels = sorted(
            str(label.get("name"))
            for label in message.get("labels") or []
            if label.get("name") in FLAG_LABELS_FAILING and (label.get("value") or 0) > 0
        )
        if labels:
            flagged_chains[chain] = labels
    flagged: dict[str, list[str]] = {}
    if not flagged_chains:
        return flagged
    for record in records:
        chain = _ROOT
        for message in [*(record.get("prompt") or []), *(record.get("chosen") or [])]:
            chain = _path_hash(chain, str(message.get("role")), str(message.get("content", "")))
        if chain in flagged_chains:
            flagged[str(record.get("id"))] = flagged_chains[chain]
    return flagged


def release_leaves(release_dir: Path, manifest: dict[str, Any] | None = None) -> Iterator[bytes]:
    """The release's Merkle leaves in order: every JSONL line, file by file in the manifest's order."""
    release_dir = Path(release_dir)
    manifest = manifest or release_manifest_read(release_dir)
    for entry in _jsonl_entries(manifest):
        try:
            with (release_dir / entry["path"]).open(encoding="utf-8") as lines:
                yield from jsonl_leaves(lines)
        except OSError as error:
            raise ReleaseReadError(f"The release file {entry['path']} cannot be read: {error.strerror}.") from None
