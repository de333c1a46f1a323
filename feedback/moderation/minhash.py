"""Near-duplicate text: MinHash signatures over word shingles, and LSH band keys to find
candidates with an index.

Pure Python on `datasketch` (MinHash, pinned in requirements.lock) and numpy, no Django. A
text's shingles are its runs of `SHINGLE_WORDS` consecutive words (lower case, letters and
digits only), so "The cat sat on the mat" and "the cat sat on the mat!" are the same text. The
Jaccard similarity of two texts is |shared shingles| / |all shingles|; the fraction of equal
positions in two MinHash signatures estimates it (standard error sqrt(J(1-J)/NUM_PERM), about
0.04 at J = 0.5).

The database stores each text's `band_keys(signature)`: the signature cut into `BANDS` bands
of `ROWS` values, each band hashed (with its number) into one signed 64-bit integer. Two texts
share at least one key with probability 1 - (1 - J**ROWS)**BANDS (`candidate_probability`),
so a lookup by key finds the candidates, and `similarity` on the stored signatures keeps those
at or above `DUPLICATE_THRESHOLD`. docs/moderation.md tabulates the trade-off.

Everything is deterministic across processes, machines and runs: shingles are hashed with
SHA-1 (datasketch's default, not Python's salted `hash()`), the permutations come from a fixed
seed, and band keys are BLAKE2b digests.
"""

import hashlib
import re
from functools import lru_cache

import numpy as np
from datasketch import MinHash

NUM_PERM = 128
SEED = 5_2025
BANDS = 32
ROWS = 4
SHINGLE_WORDS = 3
# Estimated Jaccard similarity at or above which two texts are near-duplicates.
DUPLICATE_THRESHOLD = 0.6
# datasketch's permutation scheme, named so that an upgrade cannot change it silently.
_SCHEME = "affine32"
# The value of every position of an empty text's signature (no shingle to take a minimum of).
EMPTY_VALUE = (1 << 32) - 1

assert BANDS * ROWS == NUM_PERM

_WORD = re.compile(r"\w+")


def shingles(text: str) -> set[str]:
    """The text's runs of SHINGLE_WORDS words; a shorter text is one shingle of all its words;
    a text without words has none."""
    words = [word.lower() for word in _WORD.findall(text)]
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def jaccard(text_a: str, text_b: str) -> float:
    """The exact Jaccard similarity of two texts' shingles (1.0 for two texts without words)."""
    a, b = shingles(text_a), shingles(text_b)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def signature(text: str) -> list[int]:
    """NUM_PERM integers in [0, 2**32): the text's MinHash signature."""
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_permutations(), scheme=_SCHEME)
    minhash.update_batch([shingle.encode("utf-8") for shingle in sorted(shingles(text))])
    return [int(value) for value in minhash.hashvalues]


def band_keys(sig: list[int]) -> list[int]:
    """BANDS signed 64-bit integers, one per band of ROWS values, each bound to its band's
    number (equal values in different bands give different keys). An empty text's signature
    has no keys: texts without words are not near-duplicates of each other."""
    if len(sig) != NUM_PERM:
        raise ValueError(f"a signature has {NUM_PERM} values, not {len(sig)}")
    if all(value == EMPTY_VALUE for value in sig):
        return []
    keys = []
    for band in range(BANDS):
        values = np.asarray(sig[band * ROWS : (band + 1) * ROWS], dtype=">u4").tobytes()
        digest = hashlib.blake2b(band.to_bytes(2, "big") + values, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def similarity(sig_a: list[int], sig_b: list[int]) -> float:
    """The estimated Jaccard similarity: the fraction of positions where the signatures agree."""
    if len(sig_a) != len(sig_b) or not sig_a:
        raise ValueError("signatures of different lengths cannot be compared")
    return sum(a == b for a, b in zip(sig_a, sig_b, strict=True)) / len(sig_a)


def candidate_probability(jaccard_similarity: float) -> float:
    """The chance that two texts of this Jaccard similarity share at least one band key."""
    return 1.0 - (1.0 - jaccard_similarity**ROWS) ** BANDS


@lru_cache(maxsize=1)
def _permutations():
    """The permutation parameters for SEED, made once per process (the same in every one)."""
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=_SCHEME).permutations
