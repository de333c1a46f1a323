"""The release Merkle tree against RFC 6962's published vectors and a textbook implementation.

No database: `feedback.releases.merkle` is pure computation. The snippets of
`docs/verifying-records.md` are run here exactly as printed.
"""

import hashlib
import json
import random
import re
import tracemalloc
from pathlib import Path
from types import MappingProxyType

import pytest

from feedback.releases.merkle import (
    EMPTY_ROOT,
    MerkleTreeBuilder,
    audit_path,
    audit_path_from_leaves,
    canonical_json,
    jsonl_leaves,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_audit_path,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "verifying-records.md"

# The leaf inputs of RFC 6962's test tree, as Certificate Transparency implementations use them
# (google/certificate-transparency; transparency-dev/merkle, testonly/constants.go).
RFC_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
# Published roots of the trees over the first n of them, n = 0..8 (RootHashes()).
RFC_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Published leaf hashes of the 8 leaves (NodeHashes()[0]).
RFC_LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# Published audit paths (transparency-dev/merkle, TestRefInclusionProof): (index, size, path).
RFC_PATHS = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


# --- the textbook definitions (RFC 6962 section 2.1), written independently of the module ---


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_mth(entries: list[bytes]) -> bytes:
    if not entries:
        return sha256(b"")
    if len(entries) == 1:
        return sha256(b"\x00" + entries[0])
    k = largest_power_of_two_below(len(entries))
    return sha256(b"\x01" + reference_mth(entries[:k]) + reference_mth(entries[k:]))


def reference_path(m: int, entries: list[bytes]) -> list[bytes]:
    if len(entries) == 1:
        return []
    k = largest_power_of_two_below(len(entries))
    if m < k:
        return reference_path(m, entries[:k]) + [reference_mth(entries[k:])]
    return reference_path(m - k, entries[k:]) + [reference_mth(entries[:k])]


def reference_sides(m: int, n: int) -> list[str]:
    """On which side of the way up each path hash sits, for leaf m of n: the shape of the path."""
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return reference_sides(m, k) + ["right"]
    return reference_sides(m - k, n - k) + ["left"]


def entries_of(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed * 100_003 + n)
    return [rng.randbytes(rng.randrange(0, 40)) for _ in range(n)]


def flip_bit(value: bytes, position: int = 0) -> bytes:
    changed = bytearray(value)
    changed[position % len(changed)] ^= 1
    return bytes(changed)


def flip_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


def doc_snippets() -> dict[str, object]:
    """Exec every ```python block of the doc, as printed, and return what they define."""
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2
    namespace: dict[str, object] = {}
    for block in blocks:
        assert len(block.splitlines()) <= 25
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


# --- known answers ---


class TestPublishedVectors:
    @pytest.mark.parametrize("n", range(9))
    def test_roots_of_the_first_n_leaves(self, n):
        assert merkle_root(RFC_LEAVES[:n]).hex() == RFC_ROOTS[n]

    @pytest.mark.parametrize("n", range(9))
    def test_the_builder_gives_the_same_roots(self, n):
        builder = MerkleTreeBuilder()
        for data in RFC_LEAVES[:n]:
            builder.add(data)
        assert builder.size == n
        assert builder.root().hex() == RFC_ROOTS[n]

    def test_leaf_hashes(self):
        assert [leaf_hash(data).hex() for data in RFC_LEAVES] == RFC_LEAF_HASHES

    def test_empty_tree_is_the_hash_of_the_empty_string(self):
        assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
        assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    def test_hash_prefixes(self):
        assert leaf_hash(b"abc") == sha256(b"\x00abc")
        left, right = sha256(b"l"), sha256(b"r")
        assert node_hash(left, right) == sha256(b"\x01" + left + right)
        # A leaf whose data is two hashes does not pass for the node over them.
        assert leaf_hash(left + right) != node_hash(left, right)

    @pytest.mark.parametrize(("index", "size", "expected"), RFC_PATHS)
    def test_published_audit_paths(self, index, size, expected):
        leaf_hashes = [leaf_hash(data) for data in RFC_LEAVES[:size]]
        assert [h.hex() for h in audit_path(leaf_hashes, index)] == expected
        path, tree_size, root = audit_path_from_leaves(iter(RFC_LEAVES[:size]), index)
        assert ([h.hex() for h in path], tree_size, root.hex()) == (expected, size, RFC_ROOTS[size])
        assert verify_audit_path(RFC_LEAVES[index], index, size, [bytes.fromhex(h) for h in expected], root)

    def test_the_reference_implementation_agrees_with_the_published_roots(self):
        assert [reference_mth(RFC_LEAVES[:n]).hex() for n in range(9)] == RFC_ROOTS


# --- roots ---


class TestRoots:
    def test_merkle_root_equals_the_textbook_definition_up_to_300(self):
        entries = entries_of(300)
        for n in range(301):
            assert merkle_root(entries[:n]) == reference_mth(entries[:n]), n

    def test_builder_equals_merkle_root_for_every_n_up_to_300(self):
        entries = entries_of(300, seed=1)
        builder = MerkleTreeBuilder()
        assert builder.size == 0
        assert builder.root() == merkle_root([]) == EMPTY_ROOT
        for n, data in enumerate(entries, start=1):
            builder.add(data)
            assert builder.size == n
            assert builder.root() == merkle_root(entries[:n]), n

    @pytest.mark.parametrize(
        "n", [511, 512, 513, 1000, 4095, 4096, 4097, *random.Random(6962).sample(range(300, 20_000), 4)]
    )
    def test_builder_equals_merkle_root_for_larger_n(self, n):
        entries = [i.to_bytes(4, "big") for i in range(n)]
        builder = MerkleTreeBuilder()
        for data in entries:
            builder.add(data)
        assert builder.size == n
        assert builder.root() == merkle_root(entries)

    def test_builder_keeps_one_hash_per_set_bit_of_its_size(self):
        builder = MerkleTreeBuilder()
        for n in range(1, 2_000):
            builder.add(b"x")
            assert len(builder._subtrees) == bin(n).count("1") <= n.bit_length()

    def test_root_can_be_read_between_leaves(self):
        builder = MerkleTreeBuilder()
        for data in RFC_LEAVES[:5]:
            builder.add(data)
        assert builder.root().hex() == RFC_ROOTS[5]
        assert builder.root().hex() == RFC_ROOTS[5]
        for data in RFC_LEAVES[5:]:
            builder.add(data)
        assert builder.root().hex() == RFC_ROOTS[8]

    def test_order_matters(self):
        entries = entries_of(10)
        assert merkle_root(entries) != merkle_root(entries[::-1])


# --- audit paths ---


def all_proofs(max_n: int = 64):
    for n in range(1, max_n + 1):
        entries = entries_of(n, seed=2)
        leaf_hashes = [leaf_hash(data) for data in entries]
        root = reference_mth(entries)
        for m in range(n):
            yield n, m, entries, leaf_hashes, root


class TestAuditPaths:
    def test_every_index_of_every_n_up_to_64_matches_the_definition_and_verifies(self):
        for n, m, entries, leaf_hashes, root in all_proofs():
            path = audit_path(leaf_hashes, m)
            assert path == reference_path(m, entries), (n, m)
            assert audit_path_from_leaves(iter(entries), m) == (path, n, root), (n, m)
            assert verify_audit_path(entries[m], m, n, path, root), (n, m)

    @pytest.mark.parametrize("n", [255, 256, 257, 1000, 1025, *random.Random(9162).sample(range(300, 5_000), 3)])
    def test_larger_trees(self, n):
        entries = entries_of(n, seed=3)
        leaf_hashes = [leaf_hash(data) for data in entries]
        root = merkle_root(entries)
        for m in {0, 1, n // 2, n - 2, n - 1, *random.Random(n).sample(range(n), 5)}:
            path = audit_path(leaf_hashes, m)
            assert audit_path_from_leaves(iter(entries), m) == (path, n, root)
            assert verify_audit_path(entries[m], m, n, path, root)
            assert len(path) <= (n - 1).bit_length()

    def test_a_changed_record_fails(self):
        for n, m, entries, leaf_hashes, root in all_proofs():
            path = audit_path(leaf_hashes, m)
            assert not verify_audit_path(entries[m] + b"!", m, n, path, root), (n, m)
            if entries[m]:
                assert not verify_audit_path(flip_bit(entries[m], m), m, n, path, root), (n, m)

    def test_a_changed_path_hash_fails(self):
        for n, m, entries, leaf_hashes, root in all_proofs():
            path = audit_path(leaf_hashes, m)
            for position in range(len(path)):
                changed = [*path]
                changed[position] = flip_bit(path[position], n + m)
                assert not verify_audit_path(entries[m], m, n, changed, root), (n, m, position)
            if len(path) >= 2:
                swapped = [path[1], path[0], *path[2:]]
                assert not verify_audit_path(entries[m], m, n, swapped, root), (n, m)

    def test_another_index_fails(self):
        for n, m, entries, leaf_hashes, root in all_proofs():
            path = audit_path(leaf_hashes, m)
            for other in range(-1, n + 2):
                if other != m:
                    assert not verify_audit_path(entries[m], other, n, path, root), (n, m, other)

    def test_another_size_fails_unless_the_path_has_the_same_shape(self):
        # RFC 6962 proofs bind the size only through the path's shape: leaf 0's path in a tree
        # of 3 has the shape of leaf 0's path in a tree of 4 and checks against the root of 3.
        # The root and the size must both come from the manifest.
        for n, m, entries, leaf_hashes, root in all_proofs():
            path = audit_path(leaf_hashes, m)
            for other_size in range(-1, 70):
                if other_size == n:
                    continue
                same_shape = m < other_size and reference_sides(m, other_size) == reference_sides(m, n)
                assert verify_audit_path(entries[m], m, other_size, path, root) == same_shape, (n, m, other_size)
        entries = RFC_LEAVES[:3]
        path = audit_path([leaf_hash(data) for data in entries], 0)
        assert verify_audit_path(entries[0], 0, 4, path, merkle_root(entries))
        assert not verify_audit_path(entries[0], 0, 4, path, merkle_root(RFC_LEAVES[:4]))
        assert not verify_audit_path(entries[0], 0, 2, path, merkle_root(entries))

    def test_another_root_fails(self):
        for n, m, entries, leaf_hashes, root in all_proofs():
            path = audit_path(leaf_hashes, m)
            assert not verify_audit_path(entries[m], m, n, path, flip_bit(root, m)), (n, m)
            assert not verify_audit_path(entries[m], m, n, path, reference_mth(entries[:-1])), (n, m)
            assert not verify_audit_path(entries[m], m, n, path, root.hex().encode()), (n, m)
            assert not verify_audit_path(entries[m], m, n, path, root[:31]), (n, m)
            assert not verify_audit_path(entries[m], m, n, path, b""), (n, m)

    def test_a_path_too_short_or_too_long_fails(self):
        extra = sha256(b"extra")
        for n, m, entries, leaf_hashes, root in all_proofs():
            path = audit_path(leaf_hashes, m)
            assert not verify_audit_path(entries[m], m, n, [*path, extra], root), (n, m)
            assert not verify_audit_path(entries[m], m, n, [extra, *path], root), (n, m)
            if path:
                assert not verify_audit_path(entries[m], m, n, [*path, *path], root), (n, m)
            for position in range(len(path)):
                shorter = path[:position] + path[position + 1 :]
                assert not verify_audit_path(entries[m], m, n, shorter, root), (n, m, position)

    def test_wrong_input_of_the_right_types_returns_false(self):
        entries = entries_of(5)
        root = merkle_root(entries)
        path = audit_path([leaf_hash(data) for data in entries], 3)
        assert verify_audit_path(entries[3], 3, 5, path, root)
        assert verify_audit_path(entries[3], 3, 5, tuple(path), root)
        for index, size in [(-1, 5), (5, 5), (3, 0), (0, 0), (3, -4), (10**30, 5), (3, 10**30)]:
            assert verify_audit_path(entries[3], index, size, path, root) is False
        for bad in (b"", path[0][:31], path[0] + b"\x00", path[0].hex().encode()):
            assert verify_audit_path(entries[3], 3, 5, [bad, *path[1:]], root) is False
        assert verify_audit_path(entries[3], 3, 5, [], root) is False
        # A one-leaf tree: the root is the leaf hash and the path is empty.
        assert verify_audit_path(b"only", 0, 1, [], leaf_hash(b"only"))
        assert not verify_audit_path(b"only", 0, 1, [leaf_hash(b"x")], leaf_hash(b"only"))

    def test_a_leaf_cannot_pass_for_an_inner_node(self):
        entries = entries_of(4)
        leaf_hashes = [leaf_hash(data) for data in entries]
        root = merkle_root(entries)
        left_pair = node_hash(leaf_hashes[0], leaf_hashes[1])
        # The data of the inner node over leaves 0 and 1, offered as leaf 0 of a tree of 2.
        assert not verify_audit_path(leaf_hashes[0] + leaf_hashes[1], 0, 2, [audit_path(leaf_hashes, 2)[1]], root)
        assert node_hash(left_pair, node_hash(leaf_hashes[2], leaf_hashes[3])) == root

    def test_indexes_outside_the_tree_are_refused_when_building_a_path(self):
        entries = entries_of(5)
        leaf_hashes = [leaf_hash(data) for data in entries]
        for index in (-1, 5, 6):
            with pytest.raises(ValueError, match="outside a tree of 5 leaves|negative"):
                audit_path(leaf_hashes, index)
            with pytest.raises(ValueError, match="outside a tree of 5 leaves|negative"):
                audit_path_from_leaves(iter(entries), index)
        with pytest.raises(ValueError, match="outside a tree of 0 leaves"):
            audit_path([], 0)
        with pytest.raises(ValueError, match="outside a tree of 0 leaves"):
            audit_path_from_leaves(iter([]), 0)


class TestStreamingMemory:
    """The streaming functions hold O(log n) hashes, never the leaves or their hashes."""

    N = 60_000  # leaf hashes alone would take 60_000 x 65 bytes (about 3.9 MB) as bytes objects

    @staticmethod
    def leaves(n):
        for i in range(n):
            yield i.to_bytes(4, "big")

    def peak_bytes(self, function):
        tracemalloc.start()
        try:
            result = function()
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def test_builder(self):
        def build():
            builder = MerkleTreeBuilder()
            for data in self.leaves(self.N):
                builder.add(data)
            return builder.root()

        root, peak = self.peak_bytes(build)
        assert root == merkle_root(list(self.leaves(self.N)))
        assert peak < 32_000

    def test_audit_path_from_leaves(self):
        index = 41_234
        (path, size, root), peak = self.peak_bytes(lambda: audit_path_from_leaves(self.leaves(self.N), index))
        entries = list(self.leaves(self.N))
        assert (path, size, root) == (
            audit_path([leaf_hash(data) for data in entries], index),
            self.N,
            merkle_root(entries),
        )
        assert peak < 32_000


# --- canonical JSON and JSONL ---


class TestCanonicalJson:
    def test_keys_sorted_and_no_whitespace(self):
        record = {"b": 1, "a": [1, 2.5, {"d": None, "c": True}], "A": "x y"}
        assert canonical_json(record) == b'{"A":"x y","a":[1,2.5,{"c":true,"d":null}],"b":1}'

    def test_the_same_record_in_any_key_order_gives_the_same_bytes(self):
        assert canonical_json({"x": 1, "y": {"q": 2, "p": 3}}) == canonical_json({"y": {"p": 3, "q": 2}, "x": 1})

    def test_non_ascii_is_kept_as_utf8(self):
        data = canonical_json({"text": "café 日本 🙂"})
        assert data == '{"text":"café 日本 🙂"}'.encode()
        assert b"\xc3\xa9" in data
        assert b"\\u" not in data
        assert canonical_json({"é": "é"}) == b'{"\xc3\xa9":"\xc3\xa9"}'

    def test_control_characters_and_quotes_are_escaped_as_json_requires(self):
        assert canonical_json({"s": 'a"b\\c\nd\te\x01'}) == b'{"s":"a\\"b\\\\c\\nd\\te\\u0001"}'
        # U+2028 is valid raw in JSON and kept as it is.
        assert canonical_json({"s": "\u2028"}) == b'{"s":"\xe2\x80\xa8"}'

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), [1, {"x": float("nan")}]])
    def test_nan_and_infinity_are_refused(self, value):
        with pytest.raises(ValueError):
            canonical_json({"value": value})

    def test_lone_surrogates_are_refused(self):
        with pytest.raises(ValueError):
            canonical_json({"s": "\ud800"})

    def test_any_mapping(self):
        assert canonical_json(MappingProxyType({"b": 2, "a": 1})) == b'{"a":1,"b":2}'

    def test_round_trips_through_a_jsonl_line(self):
        record = {"z": [1, -0.5, 1e100, 10**30], "k": "ü\u2028"}
        line = json.dumps(record, ensure_ascii=True, indent=None)
        assert canonical_json(json.loads(line)) == canonical_json(record)


class TestJsonlLeaves:
    def test_lines_become_canonical_records_and_blank_lines_are_skipped(self):
        lines = ['{"b": 1, "a": "é"}\n', "\n", '{"c":[]}\r\n', "   \n"]
        assert list(jsonl_leaves(lines)) == ['{"a":"é","b":1}'.encode(), b'{"c":[]}']

    def test_a_line_that_is_not_an_object_is_refused(self):
        with pytest.raises(ValueError, match="Line 2 is not a JSON object"):
            list(jsonl_leaves(['{"a":1}\n', "[1, 2]\n"]))

    def test_a_file_with_u2028_in_a_string_is_one_record_per_line(self, tmp_path):
        path = tmp_path / "records.jsonl"
        path.write_text('{"s":"a\u2028b"}\n{"s":"c"}\n', encoding="utf-8")
        with path.open(encoding="utf-8") as lines:
            assert list(jsonl_leaves(lines)) == ['{"s":"a\u2028b"}'.encode(), b'{"s":"c"}']


# --- the snippets of docs/verifying-records.md ---


def proof_response(records: list[dict], index: int) -> dict:
    """What the proof endpoint returns for records[index], through JSON as over HTTP."""
    path, size, root = audit_path_from_leaves((canonical_json(record) for record in records), index)
    body = {
        "record": records[index],
        "leaf_index": index,
        "tree_size": size,
        "audit_path": [h.hex() for h in path],
        "root": root.hex(),
    }
    return json.loads(json.dumps(body, ensure_ascii=False))


def sample_records(n: int) -> list[dict]:
    return [
        {
            "id": f"rec-{i}",
            "text": ["café", "日本語", "plain", "🙂 émoji"][i % 4],
            "score": i / 7,
            "tags": {"z": i, "a": None},
        }
        for i in range(n)
    ]


class TestDocumentedSnippets:
    def test_the_proof_check_accepts_valid_proofs(self):
        verify_proof = doc_snippets()["verify_proof"]
        for n in range(1, 40):
            records = sample_records(n)
            root = merkle_root([canonical_json(record) for record in records]).hex()
            for index in range(n):
                proof = proof_response(records, index)
                assert proof["root"] == root
                assert verify_proof(proof, root, n), (n, index)
                assert verify_proof(proof, root.upper(), n), (n, index)

    def test_the_proof_check_rejects_tampered_proofs(self):
        verify_proof = doc_snippets()["verify_proof"]
        records = sample_records(13)
        proof = proof_response(records, 6)
        root = proof["root"]
        assert verify_proof(proof, root, 13)
        path = proof["audit_path"]
        tampered = [
            {**proof, "record": {**proof["record"], "text": "changed"}},
            {**proof, "record": {**proof["record"], "extra": 1}},
            {**proof, "record": records[5]},
            {**proof, "leaf_index": 5},
            {**proof, "leaf_index": 7},
            {**proof, "leaf_index": 13},
            {**proof, "leaf_index": -1},
            {**proof, "audit_path": [flip_hex(path[0]), *path[1:]]},
            {**proof, "audit_path": [*path[:-1], flip_hex(path[-1])]},
            {**proof, "audit_path": path[:-1]},
            {**proof, "audit_path": [*path, path[0]]},
            {**proof, "audit_path": [path[1], path[0], *path[2:]]},
            {**proof, "audit_path": []},
        ]
        for changed in tampered:
            assert not verify_proof(changed, root, 13), changed
            assert not verify_audit_path(
                canonical_json(changed["record"]),
                changed["leaf_index"],
                changed["tree_size"],
                [bytes.fromhex(h) for h in changed["audit_path"]],
                bytes.fromhex(root),
            ), changed
        # Another size: refused against the manifest's size, whether or not the path's shape fits it.
        for size in (6, 7, 8, 12, 14, 17):
            assert not verify_proof({**proof, "tree_size": size}, root, 13), size
        # Another root: in the proof, in the manifest, or in both.
        other_root = merkle_root([canonical_json(record) for record in sample_records(14)]).hex()
        assert not verify_proof({**proof, "root": other_root}, root, 13)
        assert not verify_proof({**proof, "root": other_root}, other_root, 13)
        assert not verify_proof(proof, other_root, 13)
        assert not verify_proof({**proof, "root": flip_hex(root)}, flip_hex(root), 13)

    def test_the_size_and_index_are_bound_only_through_the_manifest(self):
        verify_proof = doc_snippets()["verify_proof"]
        records = sample_records(3)
        proof = proof_response(records, 2)
        moved = {**proof, "leaf_index": 1, "tree_size": 2}
        # The hashes alone accept leaf 2 of 3 as leaf 1 of 2 (the paths have the same shape) ...
        assert verify_audit_path(
            canonical_json(records[2]),
            1,
            2,
            [bytes.fromhex(h) for h in proof["audit_path"]],
            bytes.fromhex(proof["root"]),
        )
        assert verify_proof(moved, proof["root"], 2)
        # ... so the documented check compares the size with the manifest's.
        assert not verify_proof(moved, proof["root"], 3)

    def test_the_proof_check_agrees_with_the_module_on_every_proof_up_to_24(self):
        verify_proof = doc_snippets()["verify_proof"]
        for n, m, entries, _leaf_hashes, _root in all_proofs(24):
            records = [{"i": i, "data": data.hex()} for i, data in enumerate(entries)]
            proof = proof_response(records, m)
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            for other in range(-1, n + 1):
                for size in (n - 1, n, n + 1):
                    changed = {**proof, "leaf_index": other, "tree_size": size}
                    expected = verify_audit_path(
                        canonical_json(records[m]), other, size, path, bytes.fromhex(proof["root"])
                    )
                    assert expected == (
                        other == m
                        and size == n
                        or (0 <= other < size and reference_sides(other, size) == reference_sides(m, n))
                    )
                    assert verify_proof(changed, proof["root"], size) == expected, (n, m, other, size)

    def test_the_release_root_recomputation(self, tmp_path):
        release_root = doc_snippets()["release_root"]
        records = sample_records(50)
        files = []
        for number, chunk in enumerate([records[:17], records[17:17], records[17:49], records[49:]]):
            path = tmp_path / f"part-{number}.jsonl"
            # Written as an exporter might: keys in any order, spaces, \u escapes; a blank last line.
            path.write_text("".join(json.dumps(record) + "\n" for record in chunk) + "\n", encoding="utf-8")
            files.append(str(path))
        expected = merkle_root([canonical_json(record) for record in records])
        assert release_root(files) == expected.hex()
        builder = MerkleTreeBuilder()
        for name in files:
            with open(name, encoding="utf-8") as lines:
                for data in jsonl_leaves(lines):
                    builder.add(data)
        assert builder.root() == expected
        assert release_root(list(reversed(files))) != expected.hex()

    def test_the_release_root_of_every_size_up_to_70_and_of_an_empty_release(self, tmp_path):
        release_root = doc_snippets()["release_root"]
        path = tmp_path / "all.jsonl"
        for n in range(71):
            records = sample_records(n)
            path.write_text(
                "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8"
            )
            assert release_root([str(path)]) == merkle_root([canonical_json(record) for record in records]).hex(), n
        assert release_root([]) == EMPTY_ROOT.hex()
