"""The Merkle root of a release's files, computed by a process of its own while the build goes
on; no Django.

Run as `python -m feedback.releases.merkle_process`. It reads commands on standard input, one
per line, naming the release's files in the order of the manifest's `files`:

- `file <path>`: a complete file;
- `follow <path>`: a JSONL file still being written: its lines are taken as they are written,
  until `done <path>` says the file is complete;
- an empty line: the last file has been named.

It hashes every line of every JSONL file, in that order, as one leaf of an RFC 6962 tree
(`merkle.MerkleTreeBuilder`: the writer writes every line as canonical JSON, so a line's bytes
are its leaf data), and every file whole with SHA-256 for the manifest. Finally it prints, as
one JSON object, the number of leaves (`leaves`), the root in hex (`root`) and each file's
SHA-256 in hex by file name (`sha256`).

Hashing in another process takes a few microseconds a record off the build, on a core it does
not use, and it commits to the bytes on disk: exactly what a verifier downloads. Following the
file being written means that when the build ends, the tree is all but done.
`writers.ReleaseWriter` starts it and names each kind's files as they come.
"""

import hashlib
import json
import os
import select

from feedback.releases.merkle import MerkleTreeBuilder

_READ_BUFFER = 1 << 20
_POLL_SECONDS = 0.05


class Commands:
    """The command lines of a file descriptor (standard input), each waited for at most as
    long as asked."""

    def __init__(self, descriptor: int = 0) -> None:
        self.descriptor = descriptor
        self.buffer = b""
        self.is_closed = False

    def next(self, timeout: float | None = None) -> str | None:
        """The next line without its newline; None if none came within `timeout` seconds."""
        while b"\n" not in self.buffer:
            if self.is_closed:
                raise SystemExit("The list of files ended without its closing empty line.")
            ready, _, _ = select.select([self.descriptor], [], [], timeout)
            if not ready:
                return None
            data = os.read(self.descriptor, 1 << 16)
            self.is_closed = not data
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return os.fsdecode(line)


def _lines_add(tree: MerkleTreeBuilder, pending: bytes, block: bytes) -> bytes:
    """Add the complete lines of `pending + block` as leaves; return the incomplete rest."""
    lines = (pending + block).split(b"\n")
    for line in lines[:-1]:
        tree.add(line)
    return lines[-1]


def file_hash(path: str, tree: MerkleTreeBuilder | None, commands: Commands | None = None) -> str:
    """The SHA-256 (hex) of the file at `path`. With a tree, each of its lines, without the
    newline, is added to it as the next leaf (a JSONL file); with `commands`, the file is still
    being written: it is read as it grows until the command `done <path>` comes."""
    digest = hashlib.sha256()
    pending = b""
    is_complete = commands is None
    with open(path, "rb", buffering=0) as stream:
        while True:
            block = stream.read(_READ_BUFFER)
            if block:
                digest.update(block)
                if tree is not None:
                    pending = _lines_add(tree, pending, block)
                continue
            if is_complete:
                break
            command = commands.next(_POLL_SECONDS)
            if command is not None:
                if command != f"done {path}":
                    raise SystemExit(f"Expected 'done {path}' while following it, got {command!r}.")
                is_complete = True  # read what was written since, then stop
    if pending:
        raise ValueError(f"{path}: the last line has no newline; the file is not complete.")
    return digest.hexdigest()


def main() -> None:
    tree = MerkleTreeBuilder()
    sha256 = {}
    commands = Commands()
    while command := commands.next():
        verb, _, path = command.partition(" ")
        if verb not in ("file", "follow"):
            raise SystemExit(f"Unknown command {command!r}.")
        lines = tree if path.endswith(".jsonl") else None
        sha256[os.path.basename(path)] = file_hash(path, lines, commands if verb == "follow" else None)
    print(json.dumps({"leaves": tree.size, "root": tree.root().hex(), "sha256": sha256}), flush=True)


if __name__ == "__main__":
    main()
