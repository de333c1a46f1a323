"""Reads for releases: who sees which, and finding a record and its proof in a release's files."""

import json
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404

from community.errors import Conflict
from community.models import User
from feedback.models import Release
from feedback.releases.merkle import audit_path_from_leaves, canonical_json

RECORD_ID_FIELDS = ("id", "message_id", "answer_id")


def release_list_for(*, viewer: User) -> QuerySet[Release]:
    """Published releases for everyone; builds in progress and drafts too for admins and moderators."""
    releases = Release.objects.select_related("community").order_by("-created_at")
    if viewer.is_authenticated and viewer.is_moderator:
        return releases
    return releases.filter(status=Release.Status.PUBLISHED)


def release_get_for(*, viewer: User, release_id: object) -> Release:
    try:
        return release_list_for(viewer=viewer).get(pk=release_id)
    except (Release.DoesNotExist, ValueError, TypeError):
        raise Http404("No such release.") from None


def release_folder(release: Release) -> Path:
    return Path(settings.RELEASES_DIR) / release.folder


# Besides the data files its manifest lists, every release has these (written by the build).
RELEASE_DOCUMENTS = {
    "manifest.json": "counts, licence, filters, files with their SHA-256, the Merkle root",
    "DATASHEET.md": "the datasheet",
    "RELEASE_NOTES.md": "what changed since the previous release",
}
DATASET_DICT_ARCHIVE = "dataset_dict.tar"


def release_file_path(*, release: Release, file_name: str) -> Path:
    """A file the manifest lists or one of the release's documents (never anything else in
    the folder)."""
    if release.folder and file_name in RELEASE_DOCUMENTS:
        return release_folder(release) / file_name
    for entry in release.manifest.get("files", []):
        if Path(entry["path"]).name == file_name:
            return release_folder(release) / Path(entry["path"]).name
    raise Http404("This release has no such file.")


def release_dataset_dict_folder(*, release: Release) -> Path:
    """The release folder, which holds the `DatasetDict` in `dataset_dict/`; 404 before it is built."""
    folder = release_folder(release)
    if not release.folder or not (folder / "dataset_dict" / "dataset_dict.json").is_file():
        raise Http404("This release has no DatasetDict.")
    return folder


def release_downloads(*, release: Release) -> list[dict]:
    """Everything of a built release a researcher can download, each with its bytes: the
    documents, then the `DatasetDict` as one tar archive. (The data files are in the manifest.)"""
    from feedback.releases.downloads import archive_members, archive_size

    if not release.folder:
        return []
    folder = release_folder(release)
    downloads = [
        {"name": name, "bytes": (folder / name).stat().st_size, "what": what}
        for name, what in RELEASE_DOCUMENTS.items()
        if (folder / name).is_file()
    ]
    if (folder / "dataset_dict" / "dataset_dict.json").is_file():
        downloads.append(
            {
                "name": DATASET_DICT_ARCHIVE,
                "bytes": archive_size(archive_members(folder)),
                "what": "every kind as a Hugging Face DatasetDict (datasets.load_from_disk), in one tar archive",
            }
        )
    return downloads


def release_example_record(*, release: Release) -> tuple[str, str] | None:
    """(file name, record id) of the first record of the release's first JSONL file that holds
    one, for the proof example on the release page; None for an empty release."""
    if not release.folder:
        return None
    for name, path in _jsonl_files(release):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    record = json.loads(line)
                    for field in RECORD_ID_FIELDS:
                        if isinstance(record.get(field), str):
                            return name, record[field]
                    break
    return None


def _jsonl_files(release: Release) -> list[tuple[str, Path]]:
    return [
        (entry["name"], release_folder(release) / Path(entry["path"]).name)
        for entry in release.manifest.get("files", [])
        if entry["path"].endswith(".jsonl")
    ]


def _lines(release: Release) -> Iterator[tuple[str, str]]:
    for name, path in _jsonl_files(release):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield name, line


def record_proof(*, release: Release, record_id: str, file_name: str | None = None) -> dict:
    """The record, its leaf index, the tree size, the audit path and the root (two passes over
    the files, constant memory). An id found in several files needs `file_name`."""
    found = []
    for index, (name, line) in enumerate(_lines(release)):
        if file_name and name != file_name:
            continue
        record = json.loads(line)
        if any(record.get(field) == record_id for field in RECORD_ID_FIELDS):
            found.append((index, name, record))
    if not found:
        raise Http404("No record with that id in this release.")
    if len(found) > 1:
        files = sorted({name for _, name, _ in found})
        raise Conflict(f"Records of several files have this id ({', '.join(files)}): add ?file=<name>.")
    index, name, record = found[0]
    path, size, root = audit_path_from_leaves((canonical_json(json.loads(line)) for _, line in _lines(release)), index)
    return {
        "release": release.name,
        "file": name,
        "record": record,
        "leaf_index": index,
        "tree_size": size,
        "audit_path": [node.hex() for node in path],
        "root": root.hex(),
    }
