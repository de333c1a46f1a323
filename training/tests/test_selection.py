"""Data selection on hand-built records: every filter, the pipeline, the report, the root and the proofs.

No database: the selection is pure. The Merkle checks recompute the RFC 6962 tree with hashlib
alone (as docs/verifying-records.md does), independently of feedback/releases/merkle.py.
"""

import hashlib
import json
import sys
from pathlib import Path

import pytest

from feedback.moderation import minhash
from feedback.releases import formats
from feedback.releases.writers import ReleaseWriter
from training.selection import (
    ReleaseReadError,
    SelectionConfig,
    SelectionConfigError,
    SelectionProofError,
    filters,
    release_preferences_read,
    select,
    selection_manifest_write,
    selection_proof,
)

# --- helpers: records, and an independent RFC 6962 ---------------------------------------------


def pair(
    record_id,
    *,
    prompt="How do tides work?",
    chosen="The moon pulls the oceans toward it as the earth turns.",
    rejected="Wind makes the tides.",
    language="en",
    community="open",
    leaf_index=None,
):
    record = {
        "id": record_id,
        "source": "arena",
        "prompt": [{"role": "user", "content": prompt}],
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "community": community,
        "language": language,
        "licence": "CC BY 4.0",
    }
    if leaf_index is not None:
        record["_leaf_index"] = leaf_index
    return record


def ids(records):
    return [record["id"] for record in records]


def removed_ids(outcome):
    return [record["id"] for record, _ in outcome.removed]


def canonical(record):
    record = {key: value for key, value in record.items() if key != "_leaf_index"}
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def rfc6962_root(leaves):
    """MTH by RFC 6962 section 2.1, written out again here with hashlib only."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])).digest()


def verify_proof(proof, root, tree_size):
    """docs/verifying-records.md's verifier, as a researcher would paste it."""
    if proof["root"].lower() != root.lower() or proof["tree_size"] != tree_size:
        return False
    data = json.dumps(proof["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    digest = hashlib.sha256(b"\x00" + data.encode("utf-8")).digest()
    position, last = proof["leaf_index"], tree_size - 1
    if not 0 <= position <= last:
        return False
    for sibling in map(bytes.fromhex, proof["audit_path"]):
        if last == 0:
            return False
        if position & 1 or position == last:
            digest = hashlib.sha256(b"\x01" + sibling + digest).digest()
            while position and not position & 1:
                position, last = position >> 1, last >> 1
        else:
            digest = hashlib.sha256(b"\x01" + digest + sibling).digest()
        position, last = position >> 1, last >> 1
    return last == 0 and digest.hex() == root.lower()


# --- the measures ------------------------------------------------------------------------------


def test_repetition_and_symbol_ratio_by_hand():
    # 3-grams of "a b c a b c": abc, bca, cab, abc -> 3 distinct of 4.
    assert filters.repetition("a b c a b c") == 0.25
    assert filters.repetition("A b C, a B c") == 0.25  # case and punctuation do not matter
    assert filters.repetition("yes yes yes yes yes yes") == 0.75  # 4 grams, 1 distinct
    assert filters.repetition("one two three") == 0.0  # one 3-gram cannot repeat
    assert filters.repetition("") == 0.0
    assert filters.symbol_ratio("ab!?") == 0.5
    assert filters.symbol_ratio("a b\n!!") == 0.5  # spaces do not count
    assert filters.symbol_ratio("नमस्ते") == 0.0  # vowel signs and virama are marks, not symbols
    assert filters.symbol_ratio("   ") == 0.0


# --- one filter at a time ----------------------------------------------------------------------


def test_language_filter_keeps_the_named_languages():
    records = [pair("a", language="en"), pair("b", language="fr"), pair("c", language="de"), pair("d", language="")]
    outcome = filters.language_filter(records, ("en", "FR"))
    assert ids(outcome.kept) == ["a", "b"]
    assert outcome.removed == [
        (records[2], "language 'de' is not one of en, fr"),
        (records[3], "language '(none)' is not one of en, fr"),
    ]
    assert ids(filters.language_filter(records, None).kept) == ["a", "b", "c", "d"]


def test_quality_filter_checks_length_repetition_and_symbols_of_answer_and_prompt():
    records = [
        pair("good"),
        pair("short", chosen="k"),
        pair("long", chosen="x" * 61),
        pair("long-prompt", prompt="p" * 61),
        pair("repeats", chosen="buy now buy now buy now buy now"),
        pair("symbols", chosen="$$$ ### !!! ok"),
        pair("prompt-repeats", prompt="tell me tell me tell me tell me"),
        pair("prompt-symbols", prompt="??? !!! ..."),
        pair("edge", chosen="ab"),  # exactly min_chars
    ]
    outcome = filters.quality_filter(records, min_chars=2, max_chars=60, max_repetition=0.5, max_symbol_ratio=0.5)
    assert ids(outcome.kept) == ["good", "edge"]
    assert [(record["id"], reason) for record, reason in outcome.removed] == [
        ("short", "chosen answer has 1 characters, fewer than 2"),
        ("long", "chosen answer has 61 characters, more than 60"),
        ("long-prompt", "prompt has 61 characters, more than 60"),
        ("repeats", "chosen answer repeats itself: 0.67 of its word 3-grams repeat (at most 0.5)"),
        ("symbols", "chosen answer is 0.82 symbols (at most 0.5)"),
        ("prompt-repeats", "prompt repeats itself: 0.67 of its word 3-grams repeat (at most 0.5)"),
        ("prompt-symbols", "prompt is 1.00 symbols (at most 0.5)"),
    ]


def test_flag_filter_drops_the_flagged_ids_and_says_when_it_has_no_flags():
    records = [pair("a"), pair("b"), pair("c")]
    outcome = filters.flag_filter(records, {"b": ["toxic", "spam"]})
    assert ids(outcome.kept) == ["a", "c"]
    assert outcome.removed == [(records[1], "chosen answer flagged by volunteers: spam, toxic")]
    without = filters.flag_filter(records, None)
    assert ids(without.kept) == ["a", "b", "c"]
    assert without.notes == ["no flag information was given, so no record was removed for flags"]


def test_agreement_filter_takes_a_mapping_and_keeps_unmeasured_records():
    records = [pair("a"), pair("b"), pair("c"), {**pair("d"), "agreement": 0.9}, pair("e")]
    outcome = filters.agreement_filter(records, {"a": 0.8, "b": 0.5, "e": float("nan")}, 0.6)
    assert ids(outcome.kept) == ["a", "c", "d"]
    assert [(record["id"], reason) for record, reason in outcome.removed] == [
        ("b", "agreement 0.50 is below 0.6"),
        ("e", "agreement nan is not a number"),
    ]
    assert outcome.notes == ["1 records had no agreement value and were kept"]
    assert ids(filters.agreement_filter(records, {"b": 0.1}, None).kept) == ["a", "b", "c", "d", "e"]


def test_exact_duplicates_are_the_same_pair_whatever_the_id():
    records = [
        pair("a"),
        pair("b", community="other"),  # same prompt, chosen and rejected: a duplicate
        pair("c", chosen="Wind makes the tides.", rejected="The moon pulls the oceans toward it as the earth turns."),
        pair("d", prompt="How do tides work ?"),
    ]
    outcome = filters.exact_duplicate_filter(records)
    assert ids(outcome.kept) == ["a", "c", "d"]
    assert outcome.removed == [(records[1], "the same prompt and answers as a")]


LONG = (
    "Tides rise and fall twice a day because the moon's gravity pulls on the oceans, and the "
    "sun adds a smaller pull of its own; when both line up, at new and full moon, the tides are "
    "highest, which sailors call spring tides, and at the quarters they are lowest."
)


def test_near_duplicates_use_the_platforms_minhash():
    records = [
        pair("a", chosen=LONG),
        pair("b", chosen=LONG.replace("sailors", "seamen")),  # one word changed
        pair("c", chosen="Photosynthesis turns light, water and carbon dioxide into sugar and oxygen."),
        pair("d", chosen=LONG.replace("twice a day", "two times daily").replace("smaller", "weaker")),
    ]
    similarity_b = minhash.similarity(
        minhash.signature(filters.near_duplicate_text(records[0])),
        minhash.signature(filters.near_duplicate_text(records[1])),
    )
    similarity_d = minhash.similarity(
        minhash.signature(filters.near_duplicate_text(records[0])),
        minhash.signature(filters.near_duplicate_text(records[3])),
    )
    assert similarity_b >= 0.8 > similarity_d  # what makes the expected ids below
    outcome = filters.near_duplicate_filter(records, 0.8)
    assert ids(outcome.kept) == ["a", "c", "d"]
    assert outcome.removed == [(records[1], f"near-duplicate of a (similarity {similarity_b:.2f})")]
    assert ids(filters.near_duplicate_filter(records, similarity_d).kept) == ["a", "c"]


def test_perplexity_filter_takes_the_scores_of_the_chosen_answers():
    records = [pair("a", chosen="short"), pair("b", chosen="a much longer answer"), pair("c", chosen="nan")]
    seen = []

    def by_length(texts):
        seen.append(list(texts))
        return [float("nan") if text == "nan" else float(len(text)) for text in texts]

    outcome = filters.perplexity_filter(records, by_length, 10.0)
    assert seen == [["short", "a much longer answer", "nan"]]
    assert ids(outcome.kept) == ["a"]
    assert [(record["id"], reason) for record, reason in outcome.removed] == [
        ("b", "perplexity 20.0 is above 10.0"),
        ("c", "perplexity nan is not a finite number"),
    ]
    with pytest.raises(ValueError, match="returned 1 scores for 3 texts"):
        filters.perplexity_filter(records, lambda texts: [1.0], 10.0)


def expected_sample(records, group_ids, count, seed):
    """The mixing rule written out: the `count` records of the group with the smallest SHA-256(seed:leaf)."""
    members = [record for record in records if record["id"] in group_ids]
    ranked = sorted(members, key=lambda record: hashlib.sha256(f"{seed}:".encode() + canonical(record)).digest())
    return {record["id"] for record in ranked[:count]}


def test_mixing_samples_each_group_to_its_weight_deterministically():
    records = [pair(f"en-{n}", chosen=f"answer {n}", language="en") for n in range(6)]
    records += [pair(f"fr-{n}", chosen=f"réponse {n}", language="fr") for n in range(2)]
    records += [pair("de-0", language="de")]
    outcome = filters.mixing_sample(records, {"en": 1, "fr": 1, "es": 3}, key="language", seed=7)
    # es has no records, so en and fr share equally: N = min(6 / 0.5, 2 / 0.5) = 4, two each.
    english = expected_sample(records, {f"en-{n}" for n in range(6)}, 2, 7)
    assert set(ids(outcome.kept)) == english | {"fr-0", "fr-1"}
    assert ids(outcome.kept) == [record["id"] for record in records if record["id"] in set(ids(outcome.kept))]
    assert outcome.groups == {
        "de": {"weight": 0.0, "before": 1, "after": 0},
        "en": {"weight": 1, "before": 6, "after": 2},
        "fr": {"weight": 1, "before": 2, "after": 2},
    }
    assert outcome.notes == ["group 'es' has weight 3 but no records"]
    reasons = dict((record["id"], reason) for record, reason in outcome.removed)
    assert reasons["de-0"] == "language 'de' has no mixing weight"
    assert {reasons[i] for i in reasons if i.startswith("en")} == {
        "sampled out of language 'en': it keeps 2 of 6 for a share of 0.50"
    }
    # The same seed keeps the same records whatever their order; the seed decides which.
    again = filters.mixing_sample(list(reversed(records)), {"en": 1, "fr": 1}, key="language", seed=7)
    assert set(ids(again.kept)) == set(ids(outcome.kept))
    kept_by_seed = {
        frozenset(ids(filters.mixing_sample(records, {"en": 1, "fr": 1}, key="language", seed=seed).kept))
        for seed in range(10)
    }
    assert len(kept_by_seed) > 1
    # Unequal weights: en 3 : fr 1 -> N = min(6 / 0.75, 2 / 0.25) = 8, en keeps 6 and fr 2.
    three_to_one = filters.mixing_sample(records, {"en": 3, "fr": 1}, key="language", seed=0)
    assert sorted(ids(three_to_one.kept)) == sorted([f"en-{n}" for n in range(6)] + ["fr-0", "fr-1"])


def test_mixing_by_community_and_by_topic():
    records = [pair("a", community="x"), pair("b", community="x"), pair("c", community="y")]
    outcome = filters.mixing_sample(records, {"y": 1}, key="community", seed=0)
    assert ids(outcome.kept) == ["c"]
    topics = {"a": "law", "b": "health"}
    by_topic = filters.mixing_sample(records, {"law": 1, "unknown": 1}, key="topic", seed=0, topics=topics)
    assert ids(by_topic.kept) == ["a", "c"]  # c has no topic: the group "unknown"
    assert by_topic.groups["health"] == {"weight": 0.0, "before": 1, "after": 0}


# --- the whole selection -----------------------------------------------------------------------


def pool():
    """Eleven records, each made to fall to one filter (or to none), in file order."""
    return [
        pair("keep-1", leaf_index=10),
        pair("german", language="de", leaf_index=11),
        pair("empty", chosen=" ", leaf_index=12),
        pair("flagged", chosen="Buy cheap watches at my site today.", leaf_index=13),
        pair("disputed", chosen="The tides come from the wind, mostly.", leaf_index=14),
        pair("keep-1-again", community="other", leaf_index=15),
        pair("keep-2", chosen=LONG, leaf_index=16),
        pair("near-keep-2", chosen=LONG.replace("sailors", "seamen"), leaf_index=17),
        pair("rambling", chosen="Tides are wavy and wet and strange.", leaf_index=18),
        pair("keep-3", prompt="What is photosynthesis?", chosen="Plants make sugar from light.", leaf_index=19),
        pair("keep-4", prompt="Why is the sky blue?", chosen="Air scatters blue light most.", leaf_index=20),
    ]


def scores(texts):
    return [500.0 if "wavy" in text else 20.0 for text in texts]


CONFIG = SelectionConfig(languages=("en",), min_agreement=0.5, perplexity_max=100.0, mixing_key="language")


def test_select_runs_every_filter_in_order_and_reports_each():
    records = pool()
    selection = select(
        records,
        CONFIG,
        perplexity=scores,
        flagged={"flagged": ["spam"]},
        agreement={"disputed": 0.25, "keep-1": 1.0},
        release={"name": "open-v3", "merkle_root": "ab" * 32, "merkle_tree_size": 40},
    )
    assert ids(selection.kept) == ["keep-1", "keep-2", "keep-3", "keep-4"]
    report = selection.report.as_json()
    assert [
        (entry["name"], entry["records_in"], entry["removed"], entry["enabled"]) for entry in report["filters"]
    ] == [
        ("language", 11, 1, True),
        ("quality", 10, 1, True),
        ("flags", 9, 1, True),
        ("agreement", 8, 1, True),
        ("exact_duplicates", 7, 1, True),
        ("near_duplicates", 6, 1, True),
        ("perplexity", 5, 1, True),
        ("mixing", 4, 0, False),
    ]
    examples = {entry["name"]: entry["examples"] for entry in report["filters"]}
    assert examples["flags"] == [
        {
            "id": "flagged",
            "excerpt": "Buy cheap watches at my site today.",
            "reason": "chosen answer flagged by volunteers: spam",
        }
    ]
    assert examples["exact_duplicates"][0]["reason"] == "the same prompt and answers as keep-1"
    assert examples["perplexity"][0]["reason"] == "perplexity 500.0 is above 100.0"
    assert examples["near_duplicates"][0]["excerpt"] == filters.chosen_text(records[7])[:79].rstrip() + "…"
    assert report["records_in"] == 11 and report["records_kept"] == 4
    assert report["mixing"] == {"key": "language", "groups": {"en": {"weight": None, "before": 4, "after": 4}}}
    assert report["release"]["name"] == "open-v3"
    json.dumps(report)  # JSON all the way down
    markdown = selection.report.as_markdown()
    assert "Kept **4** of 11 preference records." in markdown
    assert "| near_duplicates | 6 | 1 | 5 |" in markdown
    assert "| mixing (off) | 4 | 0 | 4 |" in markdown
    assert "- `flagged`: chosen answer flagged by volunteers: spam. “Buy cheap watches at my site today.”" in markdown
    assert records == pool()  # records are not changed


def test_a_filter_shows_at_most_three_examples():
    records = [pair(f"x{n}", language="fr") for n in range(5)]
    selection = select(records, SelectionConfig(languages=("en",)))
    language = selection.report.filters[0]
    assert (language.removed, [example.id for example in language.examples]) == (5, ["x0", "x1", "x2"])
    assert selection.kept == [] and selection.merkle_root == hashlib.sha256(b"").hexdigest()


def test_flags_off_and_perplexity_needs_a_function():
    records = pool()
    selection = select(records, SelectionConfig(drop_flagged=False), flagged={"flagged": ["spam"]})
    assert "flagged" in ids(selection.kept)
    with pytest.raises(SelectionConfigError, match="no perplexity function"):
        select(records, SelectionConfig(perplexity_max=10.0))


def test_selection_root_is_rfc6962_over_the_release_leaf_bytes():
    records = pool()
    selection = select(records, CONFIG, perplexity=scores, flagged={"flagged": ["spam"]}, agreement={"disputed": 0})
    expected = rfc6962_root([canonical(record) for record in selection.kept])
    assert selection.merkle_root == expected.hex()
    manifest = selection.manifest
    assert manifest["merkle_root"] == expected.hex() and manifest["merkle_tree_size"] == 4
    assert manifest["kept"] == [
        {
            "id": record["id"],
            "leaf_index": record["_leaf_index"],
            "leaf_hash": hashlib.sha256(b"\x00" + canonical(record)).hexdigest(),
        }
        for record in selection.kept
    ]
    assert manifest["filters"]["perplexity"] == {"records_in": 5, "removed": 1}
    assert manifest["config"]["languages"] == ["en"]
    # Roots for 1..9 kept records (odd and even trees) also match.
    for size in range(1, 10):
        records = [pair(f"r{n}", chosen=f"Answer number {n} to the question.", leaf_index=n) for n in range(size)]
        kept = select(records, SelectionConfig()).kept
        assert len(kept) == size
        assert select(records, SelectionConfig()).merkle_root == rfc6962_root([canonical(r) for r in kept]).hex()


def test_manifest_written_and_proofs_of_inclusion_and_absence(tmp_path):
    records = pool()
    selection = select(records, CONFIG, perplexity=scores, flagged={"flagged": ["spam"]}, agreement={"disputed": 0})
    path = tmp_path / "run" / "selection.json"
    selection_manifest_write(selection, path)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest == json.loads(json.dumps(selection.manifest))
    assert [entry.name for entry in path.parent.iterdir()] == ["selection.json"]  # no temporary left

    for position, record in enumerate(selection.kept):
        line = canonical(record)  # the record's line in the release file
        proof = selection_proof(manifest, line)
        assert proof["included"] is True
        assert (proof["leaf_index"], proof["tree_size"], proof["release_leaf_index"]) == (
            position,
            4,
            record["_leaf_index"],
        )
        assert verify_proof(proof, manifest["merkle_root"], manifest["merkle_tree_size"])
        assert not verify_proof(proof, manifest["merkle_root"], manifest["merkle_tree_size"] + 1)
        first = proof["audit_path"][0]
        changed = ("0" if first[0] != "0" else "1") + first[1:]
        forged = {**proof, "audit_path": [changed, *proof["audit_path"][1:]]}
        assert not verify_proof(forged, manifest["merkle_root"], manifest["merkle_tree_size"])

    # A tampered record: one character of the chosen answer changed. It is in no proof, and the
    # kept record's proof does not verify for it.
    original = selection.kept[1]
    tampered = json.loads(canonical(original))
    tampered["chosen"][0]["content"] = tampered["chosen"][0]["content"].replace("moon", "Moon")
    absent = selection_proof(manifest, json.dumps(tampered).encode())
    assert absent["included"] is False and absent["manifest_consistent"] is True
    assert absent["statement"] == (
        "No kept leaf has this record's hash, so it is not in the selection of 4 records. "
        "A record with the same id was kept with other content: this line is not that record."
    )
    genuine = selection_proof(manifest, canonical(original))
    assert not verify_proof({**genuine, "record": tampered}, manifest["merkle_root"], 4)

    # A record the selection removed: absent, and the manifest's leaves do hash to its root.
    removed = selection_proof(manifest, canonical(records[7]))
    assert removed["included"] is False and removed["manifest_consistent"] is True
    assert removed["leaf_hash"] == hashlib.sha256(b"\x00" + canonical(records[7])).hexdigest()

    # A manifest whose kept leaves were edited proves no absence.
    edited = {**manifest, "kept": manifest["kept"][:-1]}
    assert selection_proof(edited, canonical(records[7]))["manifest_consistent"] is False

    with pytest.raises(SelectionProofError, match="not a JSON object"):
        selection_proof(manifest, b"[1, 2]")
    with pytest.raises(SelectionProofError, match="not JSON"):
        selection_proof(manifest, b"{nope")


def test_config_rejects_bad_values_with_a_clear_message():
    bad = [
        ({"min_chars": -1}, "min_chars must be at least 0"),
        ({"min_chars": 10, "max_chars": 5}, "max_chars (5) is below min_chars (10)"),
        ({"max_repetition": 1.5}, "max_repetition is a share from 0 to 1"),
        ({"max_symbol_ratio": "a lot"}, "max_symbol_ratio must be a finite number"),
        ({"near_duplicate_threshold": 0}, "near_duplicate_threshold is a similarity above 0"),
        ({"min_agreement": 2}, "min_agreement is a share from 0 to 1"),
        ({"perplexity_max": -3}, "perplexity_max must be above 0"),
        ({"languages": "en"}, "languages must be a list of language codes"),
        ({"languages": []}, "languages is empty"),
        ({"mixing_key": "judge"}, "mixing_key must be one of community, topic, language"),
        ({"mixing_weights": {"en": -1}}, "The weight of 'en' must be a number of at least 0"),
        ({"mixing_weights": {"en": 0}}, "mixing_weights gives every group 0"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"drop_flagged": "yes"}, "drop_flagged must be true or false"),
        ({"min_char": 3}, "Unknown selection settings: min_char"),
    ]
    for values, message in bad:
        with pytest.raises(SelectionConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            SelectionConfig.from_dict(values)
    config = SelectionConfig.from_dict({"languages": ["en", "fr"], "mixing_weights": {"en": 2, "fr": 1}})
    assert config.languages == ("en", "fr") and config.mixing_weights == {"en": 2.0, "fr": 1.0}
    assert SelectionConfig.from_dict(config.as_dict()) == config


# --- a release folder written by the release writer --------------------------------------------


def battle(number, winner="model_a", answer_a="The moon pulls the sea.", answer_b="Wind does it."):
    prompt = {"role": "user", "content": f"Question {number}: how do tides work?"}
    return {
        "id": number,
        "model_a": "m1",
        "model_b": "m2",
        "winner": winner,
        "judge": "j",
        "conversation_a": [prompt, {"role": "assistant", "content": answer_a}],
        "conversation_b": [prompt, {"role": "assistant", "content": answer_b}],
        "turn": 1,
        "anony": True,
        "language": "en",
        "tstamp": 1.0,
        "community": "open",
        "licence": "CC BY 4.0",
    }


def message(message_id, parent, role, text, labels=None):
    return formats.message_record(
        {
            "message_id": message_id,
            "parent_id": parent,
            "conversation_id": "c",
            "role": role,
            "text": text,
            "lang": "en",
            "labels": labels,
            "created_date": "2025-03-01T10:00:00+00:00",
            "community": "open",
            "licence": "CC BY 4.0",
        }
    )


@pytest.fixture
def release_dir(tmp_path):
    """A release folder: three battles (one a tie), their pairs, a message tree with a flag, a manifest."""
    folder = tmp_path / "open-v1"
    battles = [battle(1), battle(2, winner="tie"), battle(3, winner="model_b")]
    with ReleaseWriter(folder) as writer:
        for item in battles:
            writer.write("battles", formats.battle_record(item))
            for record in formats.preference_records_from_battle(item):
                writer.write("preferences", record)
        for number in (1, 3):
            question = f"Question {number}: how do tides work?"
            writer.write("message_trees", message(f"m-{number}0", None, "user", question))
            flags = {"spam": 2.0, "helpfulness": 1.0} if number == 3 else {"helpfulness": 5.0}
            writer.write("message_trees", message(f"m-{number}1", f"m-{number}0", "assistant", "Wind does it.", flags))
            writer.write(
                "message_trees", message(f"m-{number}2", f"m-{number}0", "assistant", "The moon pulls the sea.")
            )
    manifest = {
        "name": "open-v1",
        "community": "open",
        "version": 1,
        "files": writer.files,
        "merkle_root": writer.merkle_root,
        "merkle_tree_size": writer.leaf_count,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def release_lines(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    lines = []
    for entry in manifest["files"]:
        if entry["format"] == "jsonl":
            lines += [line for line in (folder / entry["path"]).read_text().split("\n") if line.strip()]
    return lines


def test_release_preferences_carry_their_leaf_index_and_flags(release_dir):
    records = release_preferences_read(release_dir)
    assert ids(records) == ["battle-1", "battle-3"]
    assert [record["_leaf_index"] for record in records] == [3, 4]  # after the three battles
    lines = release_lines(release_dir)
    for record in records:
        assert canonical(record) == canonical(json.loads(lines[record["_leaf_index"]]))
    assert records.release["name"] == "open-v1" and records.release["merkle_tree_size"] == len(lines)
    # battle-3's chosen answer (side B, "Wind does it.") carries two spam flags; battle-1's chosen
    # ("The moon pulls the sea.") none, and its rejected "Wind does it." has no flag in tree 1.
    assert records.flagged == {"battle-3": ["spam"]}
    manifest = json.loads((release_dir / "manifest.json").read_text())
    assert rfc6962_root([canonical(json.loads(line)) for line in lines]).hex() == manifest["merkle_root"]


def test_a_proof_of_absence_shows_the_record_in_the_release(release_dir):
    records = release_preferences_read(release_dir)
    selection = select(records, SelectionConfig())
    assert ids(selection.kept) == ["battle-1"]
    assert selection.report.as_json()["filters"][2]["removed"] == 1  # flags, read from the release
    lines = release_lines(release_dir)
    manifest = json.loads((release_dir / "manifest.json").read_text())
    absent = selection_proof(selection.manifest, lines[4].encode(), release_dir=release_dir)
    assert absent["included"] is False and absent["in_release"] is True
    release_proof = {**absent["release_proof"], "record": json.loads(lines[4])}
    assert release_proof["leaf_index"] == 4
    assert verify_proof(release_proof, manifest["merkle_root"], manifest["merkle_tree_size"])
    present = selection_proof(selection.manifest, lines[3].encode(), release_dir=release_dir)
    assert present["included"] is True and present["in_release"] is True
    assert verify_proof(present, selection.merkle_root, 1)
    tampered = lines[4].replace("Wind", "wind").encode()
    neither = selection_proof(selection.manifest, tampered, release_dir=release_dir)
    assert (neither["included"], neither["in_release"]) == (False, False)
    assert neither["release_statement"] == "The record is not a leaf of the release."


def test_a_changed_or_missing_release_file_is_refused(release_dir, tmp_path):
    with pytest.raises(ReleaseReadError, match="has no manifest.json"):
        release_preferences_read(tmp_path / "nowhere")
    trees = release_dir / "message_trees.jsonl"
    trees.write_text(trees.read_text().replace('"spam"', '"sparn"'), encoding="utf-8")
    with pytest.raises(ReleaseReadError, match="message_trees.jsonl does not match the SHA-256 in the manifest"):
        release_preferences_read(release_dir)
    path = release_dir / "preferences.jsonl"
    path.write_text(path.read_text().replace("moon", "Moon"), encoding="utf-8")
    with pytest.raises(ReleaseReadError, match="does not match the SHA-256 in the manifest"):
        release_preferences_read(release_dir)
    path.unlink()
    with pytest.raises(ReleaseReadError, match="preferences.jsonl cannot be read"):
        release_preferences_read(release_dir)


def test_the_selection_imports_no_django_and_no_torch():
    import subprocess

    code = (
        "import sys, training.selection, training.selection.perplexity;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'torch', 'transformers')];"
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "[]"
