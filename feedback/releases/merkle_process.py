"""The Merkle root of a release's JSONL files, computed by a process of its own while the build
goes on; no Django.

Run as `python -m feedback.releases.merkle_process`. It reads the paths of a release's files
on standard input, one per line, in the order of the manifest's `files`, each given once the
file is complete; an empty line ends the list. It hashes every line of every JSONL file, in
that order, as one leaf of an RFC 6962 tree (`merkle.MerkleTreeBuilder`: the writer writes
every line as canonical JSON, so a line's bytes are its leaf data), and every file whole with
SHA-256 for the manifest. Finally it prints, as one JSON object, the number of leaves
(`leaves`), the root in hex (`root`) and each file's SHA-256 in hex by file name (`sha256`).

Hashing in another process takes a few microseconds a record off the build, on a core it does
not use, and it commits to the bytes on disk: exactly what a verifier downloads.
`writers.ReleaseWriter` starts it and hands it each kind's file as the kind is finished.
"""

import hashlib
import json
import os
import sys

from feedback.releases.merkle import MerkleTreeBuilder

_READ_BUFFER = 1 << 20


def file_hash(path: str, tree: MerkleTreeBuilder | None) -> str:
    """The SHA-256 (hex) of the file at `path`; with a tree, each of its lines, without the
    newline, is added to it as the next leaf (a JSONL file)."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=_READ_BUFFER) as stream:
        if tree is None:
            while block := stream.read(_READ_BUFFER):
                digest.update(block)
            return digest.hexdigest()
        for line in stream:
            if not line.endswith(b"\n"):
                raise ValueError(f"{path}: the last line has no newline; the file is not complete.")
            digest.update(line)
            tree.add(line[:-1])
    return digest.hexdigest()


def main() -> None:
    tree = MerkleTreeBuilder()
    sha256 = {}
    for entry in sys.stdin:
        path = entry.rstrip("\n")
        if not path:
            break
        sha256[os.path.basename(path)] = file_hash(path, tree if path.endswith(".jsonl") else None)
    else:
        raise SystemExit("The list of files ended without its closing empty line.")
    print(json.dumps({"leaves": tree.size, "root": tree.root().hex(), "sha256": sha256}), flush=True)


if __name__ == "__main__":
    main()
