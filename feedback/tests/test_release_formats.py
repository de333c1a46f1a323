"""The release export records (formats.py) and their streaming writers (writers.py); no database."""

import hashlib
import json
import os
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.releases.formats import (
    EXPORT_KINDS,
    SCHEMAS,
    battle_record,
    claim_record,
    message_record,
    preference_record_from_correction,
    preference_records_from_battle,
    unpaired_record,
)
from feedback.releases.merkle import EMPTY_ROOT, canonical_json, jsonl_leaves, merkle_root
from feedback.releases.writers import ReleaseWriter, _record_line, dataset_dict_save

# Read by huggingface_hub and datasets when they are first imported (inside the tests below).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

LICENCE = "CC-BY-4.0"


def user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


def battle_make(**changes: Any) -> dict[str, Any]:
    battle = {
        "id": 7,
        "community": "farming",
        "licence": LICENCE,
        "model_a": "smollm2-135m",
        "model_b": "qwen2.5-0.5b",
        "winner": "model_a",
        "judge": "judge-3f2a",
        "turn": 1,
        "anony": True,
        "language": "en",
        "tstamp": 1700000000.5,
        "conversation_a": [user("When do I sow wheat?"), assistant("In autumn.")],
        "conversation_b": [user("When do I sow wheat?"), assistant("In July.")],
    }
    return {**battle, **changes}


def correction_make(**changes: Any) -> dict[str, Any]:
    correction = {
        "id": 12,
        "community": "farming",
        "licence": LICENCE,
        "language": "en",
        "prompt": [user("When do I sow wheat?"), assistant("In autumn."), user("And barley?")],
        "model_answer": "Barley is sown in July.",
        "human_answer": "Winter barley in autumn, spring barley in March.",
        "author": "contributor-9c1d",
    }
    return {**correction, **changes}


def rated_answer_make(helpfulness: list[int], **changes: Any) -> dict[str, Any]:
    rated_answer = {
        "id": 31,
        "community": "farming",
        "licence": LICENCE,
        "language": "en",
        "prompt": [user("How deep do I plant garlic?")],
        "completion": "About 5 cm deep, pointed end up.",
        "ratings": {"helpfulness": helpfulness, "correctness": [5, 4]},
    }
    return {**rated_answer, **changes}


def message_make(**changes: Any) -> dict[str, Any]:
    message = {
        "message_id": "m-2",
        "parent_id": "m-1",
        "conversation_id": "c-1",
        "role": "assistant",
        "text": "In autumn.",
        "lang": "en",
        "author": None,
        "model": "smollm2-135m",
        "created_date": "2025-03-01T10:00:00+00:00",
        "rank": 0.0,
        "labels": {"spam": 0, "helpfulness": 0.75},
        "review_count": 3,
        "community": "farming",
        "licence": LICENCE,
    }
    return {**message, **changes}


def claim_annotation_make(**changes: Any) -> dict[str, Any]:
    annotation = {
        "answer_id": "answer-31",
        "community": "farming",
        "licence": LICENCE,
        "language": "en",
        "prompt": "When do I sow wheat?",
        "answer": "Winter wheat is sown in autumn. It is the best crop.",
        "claims": [
            {"text": "Winter wheat is sown in autumn.", "labels": {"true": 3, "false": 1}},
            {"text": "It is the best crop.", "labels": {"true": 1, "subjective": 1, "unverifiable": 0}},
        ],
        "annotators": 4,
    }
    return {**annotation, **changes}


# --- formats ---------------------------------------------------------------------------------


def test_battle_record_has_fastchats_shape() -> None:
    assert battle_record(battle_make(winner="tie (bothbad)", tstamp=1700000000)) == {
        "id": "battle-7",
        "model_a": "smollm2-135m",
        "model_b": "qwen2.5-0.5b",
        "winner": "tie (bothbad)",
        "judge": "judge-3f2a",
        "conversation_a": [user("When do I sow wheat?"), assistant("In autumn.")],
        "conversation_b": [user("When do I sow wheat?"), assistant("In July.")],
        "turn": 1,
        "anony": True,
        "language": "en",
        "tstamp": 1700000000.0,
        "community": "farming",
        "licence": LICENCE,
    }
    assert isinstance(battle_record(battle_make(tstamp=1700000000))["tstamp"], float)


def test_battle_record_keeps_only_role_and_content_and_refuses_an_unknown_winner() -> None:
    record = battle_record(battle_make(conversation_a=[{**user("Hi"), "id": 4}, {**assistant("Hello"), "meta": 1}]))
    assert record["conversation_a"] == [user("Hi"), assistant("Hello")]
    with pytest.raises(ValueError, match="winner"):
        battle_record(battle_make(winner="model_c"))


def test_battle_won_by_b_gives_b_chosen_over_a() -> None:
    assert preference_records_from_battle(battle_make(winner="model_b")) == [
        {
            "id": "battle-7",
            "source": "arena",
            "prompt": [user("When do I sow wheat?")],
            "chosen": [assistant("In July.")],
            "rejected": [assistant("In autumn.")],
            "community": "farming",
            "language": "en",
            "licence": LICENCE,
        }
    ]


def test_later_turn_with_identical_histories_gives_a_pair_with_the_whole_history() -> None:
    history = [user("When do I sow wheat?"), assistant("In autumn."), user("And barley?")]
    battle = battle_make(
        turn=2,
        conversation_a=[*history, assistant("Also in autumn.")],
        conversation_b=[*history, assistant("Never.")],
    )
    [record] = preference_records_from_battle(battle)
    assert (record["prompt"], record["chosen"], record["rejected"]) == (
        history,
        [assistant("Also in autumn.")],
        [assistant("Never.")],
    )


@pytest.mark.parametrize("winner", ["tie", "tie (bothbad)"])
def test_ties_give_no_preference(winner: str) -> None:
    assert preference_records_from_battle(battle_make(winner=winner)) == []


def test_different_histories_give_no_preference() -> None:
    battle = battle_make(
        turn=2,
        conversation_a=[user("Wheat?"), assistant("In autumn."), user("Barley?"), assistant("Autumn too.")],
        conversation_b=[user("Wheat?"), assistant("In July."), user("Barley?"), assistant("March.")],
    )
    assert preference_records_from_battle(battle) == []


def test_battle_side_without_a_final_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="end with"):
        preference_records_from_battle(battle_make(conversation_b=[user("When do I sow wheat?")]))


def test_correction_gives_the_human_answer_chosen_over_the_models() -> None:
    assert preference_record_from_correction(correction_make()) == {
        "id": "correction-12",
        "source": "correction",
        "prompt": [user("When do I sow wheat?"), assistant("In autumn."), user("And barley?")],
        "chosen": [assistant("Winter barley in autumn, spring barley in March.")],
        "rejected": [assistant("Barley is sown in July.")],
        "community": "farming",
        "language": "en",
        "licence": LICENCE,
    }


def test_unpaired_record_of_a_helpful_answer() -> None:
    assert unpaired_record(rated_answer_make([4, 5, 3])) == {
        "id": "answer-31",
        "prompt": [user("How deep do I plant garlic?")],
        "completion": [assistant("About 5 cm deep, pointed end up.")],
        "label": True,
        "score": 4.0,
        "community": "farming",
        "language": "en",
        "licence": LICENCE,
    }


@pytest.mark.parametrize(
    ("helpfulness", "label", "score"),
    [
        ([3, 4], True, 3.5),  # exactly 3.5: desirable
        ([5], True, 5.0),
        ([2, 3], False, 2.5),  # exactly 2.5: undesirable
        ([1, 1, 2], False, 4 / 3),
    ],
)
def test_unpaired_thresholds(helpfulness: list[int], label: bool, score: float) -> None:
    record = unpaired_record(rated_answer_make(helpfulness))
    assert record is not None
    assert (record["label"], record["score"]) == (label, score)


@pytest.mark.parametrize("helpfulness", [[3], [3, 4, 3], [2, 3, 4, 3], [2, 4, 3, 4]])
def test_unpaired_leaves_out_the_middle(helpfulness: list[int]) -> None:
    # Means 3.0, 3.33, 3.0 and 3.25: strictly between 2.5 and 3.5.
    assert unpaired_record(rated_answer_make(helpfulness)) is None


def test_unpaired_leaves_out_answers_without_helpfulness_ratings() -> None:
    assert unpaired_record(rated_answer_make([])) is None
    assert unpaired_record(rated_answer_make([], ratings={"correctness": [5, 5]})) is None


def test_unpaired_refuses_ratings_outside_the_scale() -> None:
    with pytest.raises(ValueError, match="1-5"):
        unpaired_record(rated_answer_make([4, 6]))


def test_message_record_of_a_model_answer() -> None:
    assert message_record(message_make()) == {
        "message_id": "m-2",
        "parent_id": "m-1",
        "conversation_id": "c-1",
        "role": "assistant",
        "text": "In autumn.",
        "lang": "en",
        "rank": 0.0,
        "labels": [{"name": "helpfulness", "value": 0.75}, {"name": "spam", "value": 0.0}],
        "author": None,
        "model": "smollm2-135m",
        "synthetic": True,
        "created_date": "2025-03-01T10:00:00.000000+00:00",
        "review_count": 3,
        "community": "farming",
        "licence": LICENCE,
    }


@pytest.mark.parametrize(
    ("created_date", "expected"),
    [
        ("2025-03-01T11:30:00+01:00", "2025-03-01T10:30:00.000000+00:00"),
        ("2025-03-01T10:30:00.25Z", "2025-03-01T10:30:00.250000+00:00"),
        (datetime(2025, 3, 1, 10, 30, 0, 983374, tzinfo=UTC), "2025-03-01T10:30:00.983374+00:00"),
    ],
)
def test_message_created_date_is_utc_with_microseconds(created_date: str | datetime, expected: str) -> None:
    assert message_record(message_make(created_date=created_date))["created_date"] == expected


def test_message_created_date_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        message_record(message_make(created_date="2025-03-01T10:30:00"))


def test_message_record_of_a_volunteers_root_prompt() -> None:
    record = message_record(
        message_make(
            message_id="m-1", parent_id=None, role="user", author="contributor-9c1d", model=None, rank=None, labels={}
        )
    )
    assert {key: record[key] for key in ("parent_id", "role", "author", "model", "synthetic", "rank", "labels")} == {
        "parent_id": None,
        "role": "prompter",
        "author": "contributor-9c1d",
        "model": None,
        "synthetic": False,
        "rank": None,
        "labels": [],
    }


def test_claim_record_with_majority_tie_and_unlabelled_claims() -> None:
    annotation = claim_annotation_make(
        claims=[
            {"text": "Winter wheat is sown in autumn.", "labels": {"true": 3, "false": 1}},
            {"text": "It is the best crop.", "labels": {"true": 1, "subjective": 1, "unverifiable": 0}},
            {"text": "Wheat is a grass.", "labels": {}},
        ]
    )

    def votes(true: int, false: int, subjective: int, unverifiable: int) -> list[dict[str, Any]]:
        counts = {"true": true, "false": false, "subjective": subjective, "unverifiable": unverifiable}
        return [{"label": label, "count": count} for label, count in counts.items()]

    assert claim_record(annotation) == {
        "answer_id": "answer-31",
        "prompt": "When do I sow wheat?",
        "answer": "Winter wheat is sown in autumn. It is the best crop.",
        "claims": [
            {"text": "Winter wheat is sown in autumn.", "label": "true", "votes": votes(3, 1, 0, 0), "agreement": 0.75},
            {"text": "It is the best crop.", "label": "unverifiable", "votes": votes(1, 0, 1, 0), "agreement": 0.0},
            {"text": "Wheat is a grass.", "label": "unverifiable", "votes": votes(0, 0, 0, 0), "agreement": 0.0},
        ],
        "annotators": 4,
        "community": "farming",
        "language": "en",
        "licence": LICENCE,
    }


def test_claim_tie_that_includes_unverifiable_keeps_its_votes_share() -> None:
    annotation = claim_annotation_make(claims=[{"text": "Soon.", "labels": {"false": 2, "unverifiable": 2}}])
    [claim] = claim_record(annotation)["claims"]
    assert (claim["label"], claim["agreement"]) == ("unverifiable", 0.5)


def test_claim_refuses_an_unknown_label() -> None:
    with pytest.raises(ValueError, match="Unknown claim labels"):
        claim_record(claim_annotation_make(claims=[{"text": "x", "labels": {"maybe": 1}}]))


def records_of_every_kind() -> dict[str, list[dict[str, Any]]]:
    """A few records of each kind, with empty lists, nulls and non-ASCII text among them."""
    return {
        "battles": [
            battle_record(battle_make()),
            battle_record(battle_make(id=8, winner="tie", anony=False, language="fr", conversation_a=[user("Blé ?")])),
        ],
        "preferences": [
            *preference_records_from_battle(battle_make()),
            preference_record_from_correction(correction_make()),
        ],
        "unpaired": [
            unpaired_record(rated_answer_make([5, 4])),
            unpaired_record(rated_answer_make([1, 2], id=32, completion="Plant it 1 m deep.")),
        ],
        "message_trees": [
            message_record(message_make(message_id="m-1", parent_id=None, role="user", model=None, rank=None)),
            message_record(message_make(labels={})),
            message_record(
                message_make(
                    message_id="m-3",
                    author="contributor-9c1d",
                    model=None,
                    text="Été ‒ « oui »",
                    created_date="2025-03-02T08:15:42.5+02:00",
                )
            ),
        ],
        "claims": [
            claim_record(claim_annotation_make()),
            claim_record(claim_annotation_make(answer_id="answer-32", claims=[])),
        ],
    }


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_every_record_has_exactly_its_schemas_columns(kind: str) -> None:
    records = records_of_every_kind()[kind]
    for record in records:
        assert list(record) == SCHEMAS[kind].names
    assert pa.Table.from_pylist(records, schema=SCHEMAS[kind]).to_pylist() == records


# --- writers ---------------------------------------------------------------------------------


def release_write(folder: Path, records: dict[str, list[dict[str, Any]]], **options: Any) -> ReleaseWriter:
    with ReleaseWriter(folder, **options) as writer:
        for kind in EXPORT_KINDS:
            for record in records.get(kind, []):
                writer.write(kind, record)
    return writer


def test_jsonl_and_parquet_load_back_with_datasets_as_the_records(tmp_path: Path) -> None:
    import datasets

    records = records_of_every_kind()
    writer = release_write(tmp_path / "release", records)
    assert writer.counts == {kind: len(rows) for kind, rows in records.items()}
    for kind in EXPORT_KINDS:
        for file_format in ("json", "parquet"):
            suffix = "jsonl" if file_format == "json" else "parquet"
            loaded = datasets.load_dataset(
                file_format,
                data_files=str(tmp_path / "release" / f"{kind}.{suffix}"),
                split="train",
                cache_dir=str(tmp_path / "cache"),
            )
            assert list(loaded) == records[kind], (kind, file_format)
        assert pq.read_table(tmp_path / "release" / f"{kind}.parquet").schema == SCHEMAS[kind]

    saved = dataset_dict_save(tmp_path / "release")
    assert saved == tmp_path / "release" / "dataset_dict"
    dataset_dict = datasets.load_from_disk(str(saved))
    assert list(dataset_dict) == list(EXPORT_KINDS)
    for kind in EXPORT_KINDS:
        assert list(dataset_dict[kind]) == records[kind]
        assert dataset_dict[kind].features == datasets.Features.from_arrow_schema(SCHEMAS[kind])


def test_a_release_without_records_has_every_file_with_its_schema(tmp_path: Path) -> None:
    import datasets

    writer = release_write(tmp_path, {})
    assert writer.counts == dict.fromkeys(EXPORT_KINDS, 0)
    assert writer.merkle_root == EMPTY_ROOT.hex()
    for kind in EXPORT_KINDS:
        assert (tmp_path / f"{kind}.jsonl").read_bytes() == b""
        table = pq.read_table(tmp_path / f"{kind}.parquet")
        assert (table.num_rows, table.schema) == (0, SCHEMAS[kind])
    dataset_dict = datasets.load_from_disk(str(dataset_dict_save(tmp_path)))
    for kind in EXPORT_KINDS:
        assert dataset_dict[kind].num_rows == 0
        assert dataset_dict[kind].features == datasets.Features.from_arrow_schema(SCHEMAS[kind])


def test_skipped_kinds_get_empty_files_between_written_ones(tmp_path: Path) -> None:
    records = records_of_every_kind()
    writer = release_write(tmp_path, {"preferences": records["preferences"], "claims": records["claims"]})
    assert writer.counts == {"battles": 0, "preferences": 2, "unpaired": 0, "message_trees": 0, "claims": 2}
    assert [(entry["name"], entry["format"], entry["rows"]) for entry in writer.files] == [
        (kind, file_format, writer.counts[kind]) for kind in EXPORT_KINDS for file_format in ("jsonl", "parquet")
    ]


def test_manifest_files_describe_the_files_on_disk(tmp_path: Path) -> None:
    writer = release_write(tmp_path, records_of_every_kind())
    assert [entry["path"] for entry in writer.files] == [
        f"{kind}.{suffix}" for kind in EXPORT_KINDS for suffix in ("jsonl", "parquet")
    ]
    for entry in writer.files:
        content = (tmp_path / entry["path"]).read_bytes()
        assert entry["bytes"] == len(content)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert set(entry) == {"name", "path", "format", "rows", "bytes", "sha256"}


def test_jsonl_lines_are_canonical_and_the_root_covers_them_in_kind_order(tmp_path: Path) -> None:
    records = records_of_every_kind()
    writer = release_write(tmp_path, records)
    lines = []
    for kind in EXPORT_KINDS:
        content = (tmp_path / f"{kind}.jsonl").read_bytes()
        assert content.endswith(b"\n")
        file_lines = content.split(b"\n")[:-1]
        assert file_lines == [canonical_json(record) for record in records[kind]]
        with (tmp_path / f"{kind}.jsonl").open(encoding="utf-8") as stream:
            assert list(jsonl_leaves(stream)) == file_lines  # what a verifier recomputes
        lines.extend(file_lines)
    assert "é".encode() in b"".join(lines)  # kept as UTF-8, not escaped
    assert writer.leaf_count == len(lines) == 11
    assert writer.merkle_root == merkle_root(lines).hex()


def test_parquet_is_written_in_row_groups_of_the_batch_size(tmp_path: Path) -> None:
    battles = [battle_record(battle_make(id=number)) for number in range(7)]
    release_write(tmp_path, {"battles": battles}, batch_size=3)
    metadata = pq.read_metadata(tmp_path / "battles.parquet")
    assert [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)] == [3, 3, 1]
    assert pq.read_table(tmp_path / "battles.parquet").to_pylist() == battles


def test_a_row_group_gathers_batches_up_to_its_size_in_bytes(tmp_path: Path, monkeypatch) -> None:
    from feedback.releases import writers

    battles = [battle_record(battle_make(id=number)) for number in range(40)]
    line = len(canonical_json(battles[0])) + 1
    monkeypatch.setattr(writers, "BATCH_BYTES", 2 * line)  # a batch every two records
    monkeypatch.setattr(writers, "ROW_GROUP_BYTES", 8 * line)  # a row group every four batches
    release_write(tmp_path, {"battles": battles})
    metadata = pq.read_metadata(tmp_path / "battles.parquet")
    assert [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)] == [8] * 5
    assert pq.read_table(tmp_path / "battles.parquet").to_pylist() == battles
    assert (tmp_path / "battles.jsonl").read_bytes() == b"".join(canonical_json(b) + b"\n" for b in battles)


def test_kinds_written_in_reverse_order_give_the_same_files_and_root(tmp_path: Path) -> None:
    records = records_of_every_kind()
    plain = release_write(tmp_path / "plain", records)
    with ReleaseWriter(tmp_path / "reversed") as writer:
        for kind in reversed(EXPORT_KINDS):
            for record in records[kind]:
                writer.write(kind, record)
    lines = []
    for kind in EXPORT_KINDS:
        content = (tmp_path / "reversed" / f"{kind}.jsonl").read_bytes()
        assert content == (tmp_path / "plain" / f"{kind}.jsonl").read_bytes()
        lines.extend(content.split(b"\n")[:-1])
    # The leaves follow the manifest's files, not the order the kinds were written in.
    assert writer.merkle_root == plain.merkle_root == merkle_root(lines).hex()
    assert writer.leaf_count == len(lines) == 11
    assert [entry["path"] for entry in writer.files] == [entry["path"] for entry in plain.files]


def test_the_same_records_in_the_same_order_per_kind_give_the_same_root(tmp_path: Path) -> None:
    records = records_of_every_kind()
    plain = release_write(tmp_path / "plain", records)
    with ReleaseWriter(tmp_path / "interleaved") as writer:
        for battle, preference in zip(records["battles"], records["preferences"], strict=False):
            writer.write("battles", battle)
            writer.write("preferences", preference)
        for preference in records["preferences"][len(records["battles"]) :]:
            writer.write("preferences", preference)
        for kind in reversed(EXPORT_KINDS[2:]):
            for record in records[kind]:
                writer.write(kind, record)
    for kind in EXPORT_KINDS:
        assert (tmp_path / "interleaved" / f"{kind}.jsonl").read_bytes() == (
            tmp_path / "plain" / f"{kind}.jsonl"
        ).read_bytes()
        assert pq.read_table(tmp_path / "interleaved" / f"{kind}.parquet").to_pylist() == records[kind]
    assert writer.merkle_root == plain.merkle_root and writer.counts == plain.counts
    assert writer.files == plain.files


def test_a_finished_kind_takes_no_more_records_and_errors_leave_the_release_incomplete(tmp_path: Path) -> None:
    records = records_of_every_kind()
    with pytest.raises(ValueError, match="finished"), ReleaseWriter(tmp_path) as writer:
        writer.write("preferences", records["preferences"][0])
        writer.finish("preferences")
        assert pq.read_table(tmp_path / "preferences.parquet").to_pylist() == records["preferences"][:1]
        writer.write("preferences", records["preferences"][1])
    assert writer.counts == {**dict.fromkeys(EXPORT_KINDS, 0), "preferences": 1}
    with pytest.raises(RuntimeError):
        writer.merkle_root  # noqa: B018
    with pytest.raises(ValueError, match="closed"):
        writer.write("claims", records["claims"][0])


def test_a_record_longer_than_a_batch_round_trips(tmp_path: Path) -> None:
    from feedback.releases.writers import BATCH_BYTES

    long_text = "Tides, " * (3 * BATCH_BYTES // 7)  # about three batches in one record
    long_chat = [user("When do I sow wheat?"), assistant(long_text)]
    battles = [battle_record(battle_make(id=1)), battle_record(battle_make(id=2, conversation_a=long_chat))]
    writer = release_write(tmp_path, {"battles": battles})
    assert writer.counts["battles"] == 2
    assert pq.read_table(tmp_path / "battles.parquet").to_pylist() == battles
    assert (tmp_path / "battles.jsonl").read_bytes().split(b"\n")[:-1] == [canonical_json(b) for b in battles]


def test_a_record_with_other_keys_or_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    record = battle_record(battle_make())
    with ReleaseWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match=r"missing \['winner'\], extra \['won'\]"):
            writer.write("battles", {**{k: v for k, v in record.items() if k != "winner"}, "won": "model_a"})
        with pytest.raises(ValueError, match="Unknown export kind"):
            writer.write("votes", record)
        with pytest.raises(RuntimeError):
            writer.files  # noqa: B018
    assert writer.counts["battles"] == 0
    assert (tmp_path / "battles.jsonl").read_bytes() == b""


def battles_generate(count: int) -> Iterator[dict[str, Any]]:
    """Distinct battle records, built directly (battle_record's output shape) to keep the test fast."""
    for number in range(count):
        question = {"role": "user", "content": f"Question {number}?"}
        yield {
            "id": f"battle-{number}",
            "model_a": "smollm2-135m",
            "model_b": "qwen2.5-0.5b",
            "winner": "model_a",
            "judge": f"judge-{number % 997}",
            "conversation_a": [question, {"role": "assistant", "content": f"Answer A {number}."}],
            "conversation_b": [question, {"role": "assistant", "content": f"Answer B {number}."}],
            "turn": 1,
            "anony": True,
            "language": "en",
            "tstamp": 1.7e9 + number,
            "community": "farming",
            "licence": LICENCE,
        }


def test_writing_50000_battles_takes_bounded_memory(tmp_path: Path) -> None:
    assert list(next(battles_generate(1))) == SCHEMAS["battles"].names
    release_write(tmp_path / "warm-up", {"battles": list(battles_generate(10))})  # pyarrow's lazy imports
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        held = list(battles_generate(1_000))
        one_thousand_records = tracemalloc.get_traced_memory()[0] - before
        del held
        tracemalloc.reset_peak()
        with ReleaseWriter(tmp_path / "release") as writer:
            for record in battles_generate(50_000):
                writer.write("battles", record)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"tracemalloc peak writing 50,000 battles: {peak / 2**20:.1f} MiB")
    assert writer.counts["battles"] == 50_000
    assert pq.read_metadata(tmp_path / "release" / "battles.parquet").num_rows == 50_000
    assert peak < 50 * 2**20
    # One batch of 10,000 records in memory, not the 50,000 the files hold.
    assert peak < 50 * one_thousand_records / 2


# --- TRL reads the files as they are ---------------------------------------------------------


@pytest.fixture(scope="module")
def model_folder() -> Path:
    from django.conf import settings

    from inference.builtin import builtin_model_prepare

    return builtin_model_prepare(settings.MODELS_DIR)


def jsonl_dataset(path: Path, cache: Path) -> Any:
    import datasets

    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


@pytest.mark.model
def test_dpo_trainer_prepares_the_preferences_file(tmp_path: Path, model_folder: Path) -> None:
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    records = records_of_every_kind()
    release_write(tmp_path / "release", records)
    dataset = jsonl_dataset(tmp_path / "release" / "preferences.jsonl", tmp_path / "cache")
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    assert is_conversational(dataset[0])
    templated = maybe_apply_chat_template(dataset[1], tokenizer)
    assert templated["prompt"].endswith("<|im_start|>user\nAnd barley?<|im_end|>\n<|im_start|>assistant\n")
    assert templated["chosen"] == "Winter barley in autumn, spring barley in March.<|im_end|>\n"
    assert templated["rejected"] == "Barley is sown in July.<|im_end|>\n"

    trainer = DPOTrainer(
        model=str(model_folder),
        args=DPOConfig(output_dir=str(tmp_path / "dpo"), report_to=[], use_cpu=True),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    prepared = trainer.train_dataset
    assert prepared.num_rows == 2
    expected = [
        ("When do I sow wheat?", "In autumn.", "In July."),
        ("And barley?", "Winter barley in autumn, spring barley in March.", "Barley is sown in July."),
    ]
    for row, record, (question, chosen, rejected) in zip(prepared, records["preferences"], expected, strict=True):
        assert tokenizer.decode(row["prompt_ids"]) == tokenizer.apply_chat_template(
            record["prompt"], tokenize=False, add_generation_prompt=True
        )
        assert tokenizer.decode(row["prompt_ids"]).endswith(f"user\n{question}<|im_end|>\n<|im_start|>assistant\n")
        assert tokenizer.decode(row["chosen_ids"]) == f"{chosen}<|im_end|>\n"
        assert tokenizer.decode(row["rejected_ids"]) == f"{rejected}<|im_end|>\n"


@pytest.mark.model
def test_kto_trainer_prepares_the_unpaired_file(tmp_path: Path, model_folder: Path) -> None:
    from transformers import AutoTokenizer
    from trl import KTOConfig, KTOTrainer
    from trl.data_utils import maybe_apply_chat_template

    release_write(tmp_path / "release", records_of_every_kind())
    dataset = jsonl_dataset(tmp_path / "release" / "unpaired.jsonl", tmp_path / "cache")
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    templated = maybe_apply_chat_template(dataset[1], tokenizer)
    assert (templated["completion"], templated["label"]) == ("Plant it 1 m deep.<|im_end|>\n", False)

    trainer = KTOTrainer(
        model=str(model_folder),
        args=KTOConfig(output_dir=str(tmp_path / "kto"), report_to=[], use_cpu=True, per_device_train_batch_size=2),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    prompt = tokenizer.apply_chat_template(
        [user("How deep do I plant garlic?")], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("user\nHow deep do I plant garlic?<|im_end|>\n<|im_start|>assistant\n")
    rows = [
        (tokenizer.decode(row["prompt_ids"]), tokenizer.decode(row["completion_ids"]), row["label"])
        for row in trainer.train_dataset
    ]
    assert rows == [
        (prompt, "About 5 cm deep, pointed end up.<|im_end|>\n", True),
        (prompt, "Plant it 1 m deep.<|im_end|>\n", False),
    ]


def test_the_dataset_dict_has_the_layout_save_to_disk_gives(tmp_path: Path) -> None:
    """The streamed DatasetDict against one `datasets` writes itself: same files, same keys."""
    import datasets

    records = records_of_every_kind()
    release_write(tmp_path / "release", records)
    ours = dataset_dict_save(tmp_path / "release")
    theirs = tmp_path / "theirs"
    datasets.DatasetDict(
        {
            kind: datasets.Dataset.from_list(records[kind], features=datasets.Features.from_arrow_schema(SCHEMAS[kind]))
            for kind in EXPORT_KINDS
        }
    ).save_to_disk(str(theirs))

    def read(path: Path) -> Any:
        return json.loads(path.read_text())

    assert read(ours / "dataset_dict.json") == read(theirs / "dataset_dict.json")
    for kind in EXPORT_KINDS:
        assert sorted(p.name for p in (ours / kind).iterdir()) == sorted(p.name for p in (theirs / kind).iterdir())
        assert set(read(ours / kind / "state.json")) == set(read(theirs / kind / "state.json"))
        info = "dataset_info.json"
        assert read(ours / kind / info)["features"] == read(theirs / kind / info)["features"]
    loaded = datasets.load_from_disk(str(ours))
    for kind in EXPORT_KINDS:
        assert list(loaded[kind]) == records[kind]


def test_building_the_dataset_dict_reads_one_row_group_at_a_time(tmp_path: Path) -> None:
    battles = list(battles_generate(2_000))
    release_write(tmp_path, {"battles": battles}, batch_size=100)
    assert pq.read_metadata(tmp_path / "battles.parquet").num_row_groups == 20
    loaded = __import__("datasets").load_from_disk(str(dataset_dict_save(tmp_path)))
    assert loaded["battles"].num_rows == 2_000 and loaded["battles"][1999] == battles[1999]


# --- the lines the writer writes: orjson where it writes what canonical JSON writes --------------

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [1e-05, 1.5e-07, 5e-324, -2.5e-06, 0.0001, 0.00012, 1e16, 0.0, -0.0]
)


def _column_values(data_type: pa.DataType) -> st.SearchStrategy:
    """Values of a column of this Arrow type, floats of every size included."""
    if pa.types.is_floating(data_type):
        return st.none() | _FLOAT
    if pa.types.is_integer(data_type):
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if pa.types.is_boolean(data_type):
        return st.booleans()
    if pa.types.is_list(data_type):
        return st.lists(_column_values(data_type.value_type), max_size=3)
    if pa.types.is_struct(data_type):
        fields = [data_type.field(i) for i in range(data_type.num_fields)]
        return st.fixed_dictionaries({field.name: _column_values(field.type) for field in fields})
    return st.none() | _TEXT


@settings(max_examples=60, deadline=None)
@given(st.data())
@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_every_line_is_written_as_canonical_json_writes_it(kind: str, data: st.DataObject) -> None:
    record = data.draw(_column_values(pa.struct(list(SCHEMAS[kind]))))
    assert _record_line(kind, record) == canonical_json(record)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_float_that_is_not_json_is_refused(value: float) -> None:
    record = message_record(message_make(rank=value))
    with pytest.raises(ValueError):
        _record_line("message_trees", record)
