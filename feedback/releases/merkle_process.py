"""The Merkle root of a release's JSONL files, computed by a process of its own while the build
goes on; no Django.

Run as `python -m feedback.releases.merkle_process`. It reads the paths of JSONL files on
standard input, one per line, in the order of the manifest's `files`, each given once the
file is complete; an empty line ends the list. It hashes every line of every file, in that
order, as one leaf of an RFC 6962 tree (`merkle.MerkleTreeBuilder`: the writer writes every
line as canonical JSON, so a line's bytes are its leaf data), and finally prints the number of
leaves and the root in hex, separated by a space.

Hashing in another process takes a few microseconds a record off the build, on a core it does
not use, and it commits to the bytes on disk: exactly what a verifier downloads.
`writers.ReleaseWriter` starts it and hands it each kind's file as the kind is finished.
"""

import sys

from feedback.releases.merkle import MerkleTreeBuilder

_READ_BUFFER = 1 << 20


def file_leaves_add(tree: MerkleTreeBuilder, path: str) -> None:
    """Add each line of the JSONL file at `path`, without its newline, as the tree's next leaf."""
    with open(path, "rb", buffering=_READ_BUFFER) as stream:
        for line in stream:
            if not line.endswith(b"\n"):
                raise ValueError(f"{path}: the last line has no newline; the file is not complete.")
            tree.add(line[:-1])


def main() -> None:
    tree = MerkleTreeBuilder()
    for entry in sys.stdin:
        path = entry.rstrip("\n")
        if not path:
            break
        file_leaves_add(tree, path)
    else:
        raise SystemExit("The list of files ended without its closing empty line.")
    print(tree.size, tree.root().hex(), flush=True)


if __name__ == "__main__":
    main()
