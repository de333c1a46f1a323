"""How a release reads the pool fast: times written by the database, ids sent as arrays, chunks
read ahead in a thread, and the Merkle tree hashed from the files by a process of its own."""

import hashlib
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import F

from feedback.models import Message
from feedback.privacy.pii import text_key
from feedback.releases import pool
from feedback.releases.expressions import AnyOf, EpochSeconds, TextKey, UtcIso
from feedback.releases.formats import created_date_format
from feedback.releases.merkle import merkle_root
from feedback.releases.read_ahead import read_ahead
from feedback.tests.factories import battle_ready

ROOT = Path(__file__).resolve().parents[2]

MOMENTS = [
    datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC),  # no fraction: SQLite stores none
    datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(2025, 3, 1, 10, 0, 0, 1, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 7, 1, 2, 30, 0, 500000, tzinfo=ZoneInfo("Europe/Paris")),  # the day before, in UTC
    datetime(1970, 1, 1, 0, 0, 0, 100, tzinfo=UTC),
]


@pytest.mark.django_db
def test_the_database_writes_times_exactly_as_python_does():
    battle = battle_ready()
    message = Message.objects.filter(conversation=battle.conversation).first()
    for moment in MOMENTS:
        Message.objects.filter(pk=message.pk).update(created_at=moment)
        iso, epoch = (
            Message.objects.filter(pk=message.pk)
            .annotate(iso=UtcIso("created_at"), epoch=EpochSeconds("created_at"))
            .values_list("iso", "epoch")
            .get()
        )
        assert iso == created_date_format(moment), moment
        assert epoch == moment.timestamp(), moment  # the same float, not a close one
        assert isinstance(epoch, float)


TEXTS = ["", "Hello.", "Grüße aus Köln 🌊\n\tzweite Zeile", "日本語のテキスト", "a" * 5000, "quote ' and \\ backslash"]


@pytest.mark.django_db
def test_the_database_computes_the_text_key_exactly_as_python_does():
    battle = battle_ready()
    message = Message.objects.filter(conversation=battle.conversation).first()
    for text in TEXTS:
        Message.objects.filter(pk=message.pk).update(text=text)
        assert Message.objects.filter(pk=message.pk).annotate(key=TextKey("text")).values_list(
            "key", flat=True
        ).get() == (text_key(text)), text


@pytest.mark.django_db
def test_a_release_takes_a_stored_redaction_only_while_the_database_finds_it_fresh():
    battle = battle_ready(text_a="Tides follow the moon.")
    answer = battle.answer_a_id
    texts = lambda: pool.texts_of([battle.conversation_id])[answer][2]  # noqa: E731
    # Stored with the fingerprint of the text as it is: taken as stored (not recomputed).
    Message.objects.filter(pk=answer).update(
        text_redacted="[AS STORED]", redacted_from=text_key("Tides follow the moon.")
    )
    assert texts() == "[AS STORED]"
    # Nothing stored, or stored from another text: the text redacted anew.
    Message.objects.filter(pk=answer).update(redacted_from=None)
    assert texts() == "Tides follow the moon."
    Message.objects.filter(pk=answer).update(
        text="Mail ada@example.org.", redacted_from=text_key("Tides follow the moon.")
    )
    assert texts() == "Mail [EMAIL]."


@pytest.mark.django_db
def test_the_migration_to_sha256_keys_renews_only_the_fingerprints_that_were_fresh():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("feedback.migrations.0012_text_key_sha256")
    battle = battle_ready(text_a="Fresh text.", text_b="Stale text.")
    Message.objects.filter(pk=battle.answer_a_id).update(redacted_from=migration._blake2b_key("Fresh text."))
    Message.objects.filter(pk=battle.answer_b_id).update(redacted_from=migration._blake2b_key("An older text."))
    migration.keys_renew(apps, SimpleNamespace(connection=connection))
    keys = dict(
        Message.objects.filter(pk__in=[battle.answer_a_id, battle.answer_b_id]).values_list("pk", "redacted_from")
    )
    assert keys[battle.answer_a_id] == text_key("Fresh text.")
    assert keys[battle.answer_b_id] == migration._blake2b_key("An older text.")  # still stale: redacted anew


@pytest.mark.django_db
def test_any_of_selects_what_in_selects_across_joins_and_for_no_ids():
    battles = [battle_ready(), battle_ready()]
    ids = list(Message.objects.filter(conversation=battles[0].conversation).values_list("pk", flat=True))
    assert set(Message.objects.filter(AnyOf(F("pk"), ids)).values_list("pk", flat=True)) == set(ids)
    assert not Message.objects.filter(AnyOf(F("pk"), [])).exists()
    owner = battles[1].conversation.owner_id
    assert set(Message.objects.filter(AnyOf(F("conversation__owner_id"), [owner]))) == set(
        Message.objects.filter(conversation__owner_id__in=[owner])
    )


def counted_chunks(count: int, fail_at: int | None = None, log: list | None = None):
    for number in range(count):
        if number == fail_at:
            raise ValueError(f"chunk {number} could not be read")
        if log is not None:
            log.append(threading.current_thread().name)
        yield [number, Message.objects.count()]


@pytest.mark.django_db
def test_inside_a_transaction_chunks_are_read_in_the_callers_thread():
    battle_ready()
    log: list[str] = []
    assert list(read_ahead(counted_chunks(4, log=log))) == [[n, 3] for n in range(4)]
    assert set(log) == {threading.current_thread().name}
    with pytest.raises(ValueError, match="chunk 2"):
        list(read_ahead(counted_chunks(4, fail_at=2)))


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_postgresql_chunks_come_from_a_thread_that_stops_with_the_caller():
    battle_ready()
    log: list[str] = []
    assert list(read_ahead(counted_chunks(5, log=log))) == [[n, 3] for n in range(5)]
    expected = "release-read-ahead" if connection.vendor == "postgresql" else threading.current_thread().name
    assert set(log) == {expected}

    received = []
    with pytest.raises(ValueError, match="chunk 3"):
        for chunk in read_ahead(counted_chunks(6, fail_at=3)):
            received.append(chunk[0])
    assert received == [0, 1, 2]  # every chunk before the error, then the error itself

    early = read_ahead(counted_chunks(1000))
    assert next(early) == [0, 3]
    early.close()  # the caller stops: the thread stops at its next chunk and is gone
    assert not [thread for thread in threading.enumerate() if thread.name == "release-read-ahead"]


def merkle_process_run(commands: list[str], *, end: bytes = b"\n") -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "feedback.releases.merkle_process"],
        input=b"".join(command.encode() + b"\n" for command in commands) + end,
        capture_output=True,
        cwd=ROOT,
        check=False,
    )


def test_the_merkle_process_hashes_the_lines_of_the_jsonl_files_in_order_and_every_file(tmp_path):
    first, second, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "a.parquet"
    first.write_bytes(b'{"x":1}\n{"x":"\xc3\xa9"}\n')
    second.write_bytes(b'{"y":2.5}\n')
    other.write_bytes(b"PAR1 not lines\x00\n\xff")
    result = merkle_process_run([f"file {first}", f"file {other}", f"file {second}"])
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    lines = [b'{"x":1}', b'{"x":"\xc3\xa9"}', b'{"y":2.5}']
    assert answer["leaves"] == 3
    assert answer["root"] == merkle_root(lines).hex()
    assert answer["sha256"] == {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in (first, other, second)
    }


def test_the_merkle_process_follows_a_file_while_it_is_written(tmp_path):
    done, growing = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    done.write_bytes(b'{"x":1}\n')
    growing.write_bytes(b"")
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "feedback.releases.merkle_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    process.stdin.write(f"file {done}\nfollow {growing}\n".encode())
    process.stdin.flush()
    lines = [b'{"y":%d}' % number for number in range(3000)]
    with growing.open("ab") as stream:
        for start in range(0, len(lines), 700):  # pieces that end in the middle of a line
            piece = b"\n".join(lines[start : start + 700]) + b"\n"
            stream.write(piece[:-5])
            stream.flush()
            time.sleep(0.02)
            stream.write(piece[-5:])
            stream.flush()
    out, err = process.communicate(f"done {growing}\n\n".encode(), timeout=60)
    assert process.returncode == 0, err
    answer = json.loads(out)
    assert answer["leaves"] == 3001
    assert answer["root"] == merkle_root([b'{"x":1}', *lines]).hex()
    assert answer["sha256"]["b.jsonl"] == hashlib.sha256(growing.read_bytes()).hexdigest()


def test_the_merkle_process_refuses_an_incomplete_file_or_list(tmp_path):
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b'{"x":1}\n{"x":')
    failed = merkle_process_run([f"file {cut}"])
    assert failed.returncode != 0 and b"not complete" in failed.stderr
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b'{"x":1}\n')
    unfinished = merkle_process_run([f"file {whole}"], end=b"")
    assert unfinished.returncode != 0 and b"closing empty line" in unfinished.stderr
    unknown = merkle_process_run([f"hash {whole}"])
    assert unknown.returncode != 0 and b"Unknown command" in unknown.stderr


@pytest.mark.django_db
def test_battles_and_messages_are_the_same_whatever_the_size_of_the_chunks(monkeypatch):
    import uuid

    from feedback.arena import services as arena
    from feedback.models import Conversation, ModerationStatus
    from feedback.tests.factories import arena_setup

    community, judge, _, _ = arena_setup()
    battles = [battle_ready(community=community, judge=judge, text_a=f"Answer {n}.") for n in range(5)]
    # A second turn in the first conversation, started after the other conversations' battles.
    follow_up = battle_ready(community=community, judge=judge, conversation_id=battles[0].conversation_id)
    for battle in [*battles, follow_up]:
        if battle != battles[3]:  # a conversation without a vote: not in the release
            arena.battle_vote_cast(judge=judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())
    Conversation.objects.filter(pk=battles[1].conversation_id).update(moderation_status=ModerationStatus.HIDDEN)

    def items() -> tuple[list[dict], list[dict]]:
        """(battles, messages), each in the order they came (the two interleave by chunk)."""
        both = list(pool.battles_and_messages(community=community, pseudonyms=pool.Pseudonyms(1)))
        return [item for kind, item in both if kind == pool.BATTLE], [
            item for kind, item in both if kind == pool.MESSAGE
        ]

    whole = items()
    monkeypatch.setattr(pool, "CHUNK", 2)
    assert items() == whole
    monkeypatch.setattr(pool, "CHUNK", 1)
    assert items() == whole
    released, messages = whole
    assert [battle["id"] for battle in released] == [battles[0].pk, follow_up.pk, battles[2].pk, battles[4].pk]
    assert {message["conversation_id"] for message in messages} == {
        f"c-{battle.conversation_id}" for battle in (battles[0], battles[2], battles[4])
    }
