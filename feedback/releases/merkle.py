"""The Merkle tree that commits a release to its records: RFC 6962 (Certificate Transparency), no Django.

A release's manifest carries `merkle_root`, the root of a SHA-256 Merkle tree over its records,
built exactly as RFC 6962 section 2.1 builds the tree of a Certificate Transparency log:

    MTH({})       = SHA-256()                                   (the empty string)
    MTH({d0})     = SHA-256(0x00 || d0)                         (leaf hash)
    MTH(D[n])     = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) (node hash), k < n <= 2k a power of two

The leaves, in order, are the lines of the release's JSONL files, file by file in the order of
the manifest's `files` list, each re-serialised by `canonical_json`. The distinct 0x00 / 0x01
prefixes keep a leaf from ever passing for an inner node.

An inclusion proof for leaf m of a tree of n leaves is RFC 6962's audit path PATH(m, D[n]): the
hashes of the siblings of the subtrees on the way from the leaf to the root, nearest first.
`verify_audit_path` checks one with the iterative algorithm of RFC 9162 section 2.1.3.2; the
public docs (`docs/verifying-records.md`) give the same check in a few lines of Python.

Memory: `MerkleTreeBuilder` and `audit_path_from_leaves` read the leaves once and keep only
O(log n) hashes (one per set bit of the number of leaves read so far, plus the path), so a
release of millions of records is committed to, or proved from, in constant memory.
`merkle_root` and `audit_path` take a sequence held in memory and are the direct, recursive
reading of the definitions.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """The bytes of a record as it enters the tree: JSON, UTF-8, keys sorted, no whitespace.

    Separators are `,` and `:`, non-ASCII characters are kept as they are (as UTF-8, not as
    `\\u` escapes), and keys are sorted by Python's string order (by code point). NaN and
    the infinities are not JSON and raise ValueError, as does a lone surrogate (it has no
    UTF-8 encoding). Numbers are written as Python's `json` writes them, so a verifier
    re-serialises a record with Python's `json` module (`docs/verifying-records.md`).
    """
    text = json.dumps(
        record if isinstance(record, dict) else dict(record),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def jsonl_leaves(lines: Iterable[str]) -> Iterator[bytes]:
    """The leaf data of the lines of one JSONL file: each record re-serialised by `canonical_json`.

    Lines holding only whitespace (such as a trailing empty line) are not records and are
    skipped. A line that is not a JSON object raises ValueError. Pass a text file opened with
    `encoding="utf-8"` (iterating it splits at line ends only), never `str.splitlines()`: that
    also splits at U+2028, U+0085 and others, which canonical JSON keeps unescaped in strings.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError(f"Line {number} is not a JSON object.")
        yield canonical_json(record)


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node from its children's hashes."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two k with k < size <= 2k (size >= 2): where RFC 6962 splits D[size]."""
    return 1 << ((size - 1).bit_length() - 1)


def _subtree_hash(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) from the leaves' hashes, by RFC 6962's recursive definition (end > start)."""
    size = end - start
    if size == 1:
        return leaf_hashes[start]
    middle = start + _split(size)
    return node_hash(_subtree_hash(leaf_hashes, start, middle), _subtree_hash(leaf_hashes, middle, end))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf data (not their hashes); SHA-256 of the empty string for no leaves.

    Holds the n leaf hashes in memory (32 bytes each); `MerkleTreeBuilder` does the same in
    O(log n) memory from a stream.
    """
    if not leaves:
        return EMPTY_ROOT
    hashes = [leaf_hash(data) for data in leaves]
    return _subtree_hash(hashes, 0, len(hashes))


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of perfect subtrees of decreasing size, left to right, into one root.

    RFC 6962 splits n at the largest power of two below it, which is the leftmost perfect
    subtree of the binary decomposition of n; the rest is split the same way. So the root is
    node(P1, node(P2, ... node(P[j-1], Pj))): fold from the right.
    """
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


class MerkleTreeBuilder:
    """The root of a tree whose leaves arrive one at a time, in O(log n) memory.

    Keeps the hashes of the perfect subtrees that the leaves so far decompose into, largest
    (leftmost) first: one per set bit of `size`. Adding a leaf merges equal-sized subtrees
    like a binary carry; `root()` folds the remaining ones from the right, which is RFC 6962's
    split rule. `root()` does not change the state, so more leaves may follow.
    """

    def __init__(self) -> None:
        self.size = 0
        self._subtrees: list[bytes] = []

    def add(self, leaf_data: bytes) -> None:
        current = leaf_hash(leaf_data)
        carry = self.size
        while carry & 1:
            current = node_hash(self._subtrees.pop(), current)
            carry >>= 1
        self._subtrees.append(current)
        self.size += 1

    def root(self) -> bytes:
        if not self._subtrees:
            return EMPTY_ROOT
        return _fold_right(self._subtrees)


def _path(leaf_hashes: Sequence[bytes], index: int, start: int, end: int) -> list[bytes]:
    """PATH(index, D[start:end]) with index relative to start, by RFC 6962 section 2.1.1."""
    size = end - start
    if size == 1:
        return []
    split = _split(size)
    middle = start + split
    if index < split:
        return [*_path(leaf_hashes, index, start, middle), _subtree_hash(leaf_hashes, middle, end)]
    return [*_path(leaf_hashes, index - split, middle, end), _subtree_hash(leaf_hashes, start, middle)]


def audit_path(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962's audit path PATH(index, D[n]) from the n leaves' hashes, nearest sibling first.

    Raises ValueError for an index outside 0 <= index < n (there is no path in an empty tree).
    """
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"Leaf index {index} is outside a tree of {len(leaf_hashes)} leaves.")
    return _path(leaf_hashes, index, 0, len(leaf_hashes))


def audit_path_from_leaves(leaf_data_iter: Iterable[bytes], index: int) -> tuple[list[bytes], int, bytes]:
    """(audit path of leaf `index`, tree size, root) in one pass over the leaf data, O(log n) memory.

    Runs `MerkleTreeBuilder`'s carry and records every hash the subtree holding the leaf is
    merged with: those are the path inside the perfect subtree the leaf ends in. At the end
    the path goes on with the root of the perfect subtrees to the right of that one (if any)
    and then with each perfect subtree to its left, nearest first, which is PATH(m, D[n])
    unrolled along RFC 6962's splits. Raises ValueError when the index is negative or not
    below the number of leaves.
    """
    if index < 0:
        raise ValueError(f"Leaf index {index} is negative.")
    subtrees: list[bytes] = []
    path: list[bytes] = []
    holder: int | None = None  # position in `subtrees` of the subtree holding leaf `index`
    size = 0
    for data in leaf_data_iter:
        current = leaf_hash(data)
        holds_leaf = size == index
        carry = size
        while carry & 1:
            left = subtrees.pop()
            if holds_leaf:
                path.append(left)
            elif holder == len(subtrees):
                path.append(current)
                holds_leaf = True
            current = node_hash(left, current)
            carry >>= 1
        if holds_leaf:
            holder = len(subtrees)
        subtrees.append(current)
        size += 1
    if holder is None:
        raise ValueError(f"Leaf index {index} is outside a tree of {size} leaves.")
    if holder < len(subtrees) - 1:
        path.append(_fold_right(subtrees[holder + 1 :]))
    path.extend(reversed(subtrees[:holder]))
    return path, size, _fold_right(subtrees)


def verify_audit_path(leaf_data: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether `path` proves that `leaf_data` is leaf `index` of the tree of `tree_size` leaves with `root`.

    RFC 9162 section 2.1.3.2: walk from the leaf up, putting each path hash on the left or the
    right as the leaf's position requires, and accept only if the path is used up exactly at
    the root and the result equals `root`. Any wrong input (another record, index, size, root,
    a changed, missing or extra path hash, a hash of the wrong length) gives False, never an
    exception.

    Take `root` and `tree_size` from the release's manifest, not from the proof: RFC 6962 binds
    the size and the index only through the shape of the path (which side each hash joins on),
    so the path of leaf 2 of 3 also verifies as leaf 1 of 2 against the same root.
    """
    if not 0 <= index < tree_size:
        return False
    if len(root) != HASH_SIZE or any(len(sibling) != HASH_SIZE for sibling in path):
        return False
    position, last = index, tree_size - 1
    result = leaf_hash(leaf_data)
    for sibling in path:
        if last == 0:
            return False  # the path is longer than the tree is high
        if position & 1 or position == last:
            result = node_hash(sibling, result)
            # A right-most node without a sibling at this level moves up unchanged.
            while position and not position & 1:
                position, last = position >> 1, last >> 1
        else:
            result = node_hash(result, sibling)
        position, last = position >> 1, last >> 1
    return last == 0 and hmac.compare_digest(result, root)
