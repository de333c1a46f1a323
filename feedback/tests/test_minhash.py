"""MinHash signatures and LSH band keys: exact values where they are exact, the estimate against
the exact Jaccard similarity over many pairs, and candidates found (or not) through band keys."""

import random
import subprocess
import sys

import pytest

from feedback.moderation.minhash import (
    BANDS,
    DUPLICATE_THRESHOLD,
    NUM_PERM,
    band_keys,
    candidate_probability,
    jaccard,
    shingles,
    signature,
    similarity,
)

ANSWER = (
    "Mitochondria are the powerhouse of the cell. They produce most of the chemical energy needed to "
    "power the biochemical reactions of the cell, stored in a molecule called adenosine triphosphate. "
    "They also have their own DNA, which is inherited from the mother, and they can multiply on their own "
    "when the cell needs more energy."
)
WORDS = (
    "the a of to and in is it that for on with as was at by be this from or an are which river energy cell "
    "model answer question paris city water light music history market garden train bridge winter summer"
).split()


def test_identical_texts_are_identical_and_case_and_punctuation_do_not_matter():
    assert similarity(signature(ANSWER), signature(ANSWER)) == 1.0
    assert signature(ANSWER) == signature(ANSWER.upper().replace(".", "!"))
    assert len(signature(ANSWER)) == NUM_PERM
    assert all(0 <= value < 2**32 for value in signature(ANSWER))


def test_a_copy_with_a_few_words_changed_shares_band_keys_and_passes_the_threshold():
    copy = ANSWER.replace("most", "much").replace("stored", "kept").replace("mother", "maternal line")
    assert jaccard(ANSWER, copy) >= DUPLICATE_THRESHOLD
    assert set(band_keys(signature(ANSWER))) & set(band_keys(signature(copy)))
    assert similarity(signature(ANSWER), signature(copy)) >= DUPLICATE_THRESHOLD


def test_unrelated_texts_share_no_band_key():
    texts = [
        ANSWER,
        "Paris is the capital of France and sits on the river Seine, with about two million people.",
        "To reverse a list in Python, call list.reverse() or use slicing with a step of minus one.",
        "The Treaty of Versailles was signed in 1919 and ended the state of war with Germany.",
        "Bake the bread at 220 degrees for thirty minutes until the crust sounds hollow when tapped.",
    ]
    for i, first in enumerate(texts):
        for second in texts[i + 1 :]:
            assert not set(band_keys(signature(first))) & set(band_keys(signature(second)))
            assert similarity(signature(first), signature(second)) < DUPLICATE_THRESHOLD


def test_band_keys_fit_a_signed_64_bit_integer_and_are_distinct_per_band():
    keys = band_keys(signature(ANSWER))
    assert len(keys) == BANDS == len(set(keys))
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert band_keys(signature("")) == band_keys(signature("!!! ...")) == []


def test_values_are_the_same_in_another_process_with_another_hash_seed():
    code = "from feedback.moderation.minhash import *; print(band_keys(signature('hello world, again')))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{band_keys(signature('hello world, again'))}\n"}


def test_the_estimate_is_close_to_the_exact_jaccard_over_many_pairs():
    generator = random.Random(7)
    errors = []
    for _ in range(200):
        base = [generator.choice(WORDS) for _ in range(generator.randint(30, 80))]
        other = [word if generator.random() > generator.random() * 0.6 else generator.choice(WORDS) for word in base]
        a, b = " ".join(base), " ".join(other)
        errors.append(abs(similarity(signature(a), signature(b)) - jaccard(a, b)))
    # The standard error of one estimate is at most sqrt(0.25 / 128) = 0.044.
    assert sum(errors) / len(errors) < 0.04
    assert max(errors) < 0.16


def test_shingles_and_exact_jaccard():
    assert shingles("One two three four") == {"one two three", "two three four"}
    assert shingles("Hi there") == {"hi there"}
    assert shingles("...") == set()
    assert jaccard("a b c d", "a b c e") == pytest.approx(1 / 3)


def test_candidate_probability_is_the_s_curve():
    assert candidate_probability(0.0) == 0.0
    assert candidate_probability(1.0) == 1.0
    assert candidate_probability(DUPLICATE_THRESHOLD) > 0.98
    assert candidate_probability(0.2) < 0.06


def test_signatures_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        similarity([1, 2], [1])
    with pytest.raises(ValueError):
        band_keys([1, 2, 3])
