"""The vote's one statement on PostgreSQL (`services._battle_vote_statement`) when votes meet.

Each test holds a row lock from a connection of its own until every vote has started its
statement and waits on that lock (seen in pg_stat_activity), then lets go: so the votes' statements
have all taken their snapshot before the first commits, and the later ones see the first's
change only through PostgreSQL's recheck of the newest row versions after the wait.
"""

import threading
import time
import uuid

import psycopg
import pytest
from django.db import connection
from django.test import Client

from feedback.models import Battle, Conversation
from feedback.tests.factories import arena_setup, battle_ready

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one-statement vote is PostgreSQL's"),
]


def connect() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
    )


def votes_while_locked(lock_sql: str, lock_id: object, votes: list[tuple[Battle, dict]]) -> list[tuple[int, dict]]:
    """Lock one row (`lock_sql` with `lock_id`), send the votes from threads, wait until each
    waits on the lock, release it; (status, body) of each vote in order."""
    results: list[tuple[int, dict]] = [(0, {})] * len(votes)
    with connect() as blocker, connect() as watcher:
        watcher.autocommit = True
        blocker.execute(lock_sql, (lock_id,))

        def post(index: int, battle: Battle, body: dict) -> None:
            client = Client()
            client.force_login(battle.judge)
            try:
                response = client.post(f"/api/v1/battles/{battle.pk}/vote/", body, content_type="application/json")
                results[index] = (response.status_code, response.json())
            finally:
                connection.close()

        threads = [threading.Thread(target=post, args=(i, *vote)) for i, vote in enumerate(votes)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < len(votes) and time.monotonic() < deadline:
            # Waiting on the blocker, or behind another vote in the row's queue.
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s"
                " AND wait_event_type = 'Lock'",
                (blocker.info.backend_pid,),
            ).fetchone()[0]
            time.sleep(0.02)
        assert waiting == len(votes)  # every vote is in its statement, waiting on the lock
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=60)
    return results


def body(winner: str = "model_a", key: str | None = None) -> dict:
    return {"winner": winner, "idempotency_key": key or str(uuid.uuid4())}


def two_blind_battles_of_one_conversation() -> tuple[Battle, Battle]:
    """Turns 1 and 2 of one conversation, both ready and blind (turn 2 started before a vote)."""
    community, judge, _, _ = arena_setup()
    first = battle_ready(judge=judge, community=community)
    second = battle_ready(judge=judge, community=community, conversation_id=first.conversation_id)
    assert (first.is_blind, second.is_blind, first.conversation.names_revealed_at) == (True, True, None)
    return first, second


CONVERSATION_LOCK = "SELECT 1 FROM feedback_conversation WHERE id = %s FOR UPDATE"
BATTLE_LOCK = "SELECT 1 FROM feedback_battle WHERE id = %s FOR UPDATE"
BATTLES_LOCK = "SELECT 1 FROM feedback_battle WHERE id = ANY(%s) FOR UPDATE"


def test_two_battles_of_one_conversation_at_once_one_vote_blind_and_one_reveal():
    first, second = two_blind_battles_of_one_conversation()
    results = votes_while_locked(CONVERSATION_LOCK, first.conversation_id, [(first, body()), (second, body())])
    assert [status for status, _ in results] == [200, 200]
    # The vote that went first was blind and revealed the names; the other saw them revealed.
    assert sorted(answer["is_blind"] for _, answer in results) == [False, True]
    battles = {b.pk: b for b in Battle.objects.filter(pk__in=[first.pk, second.pk])}
    blind = next(b for b in battles.values() if b.is_blind)
    seen = next(b for b in battles.values() if not b.is_blind)
    assert [b.status for b in battles.values()] == ["voted", "voted"]
    assert blind.voted_at <= seen.voted_at
    # Revealed once, by the blind vote: the second did not write its own time over it.
    assert Conversation.objects.get(pk=first.conversation_id).names_revealed_at == blind.voted_at
    assert {answer["id"]: answer["is_blind"] for _, answer in results} == {b.pk: b.is_blind for b in battles.values()}


def test_battles_of_two_conversations_at_once_are_both_blind():
    community, judge, _, _ = arena_setup()
    first = battle_ready(judge=judge, community=community)
    second = battle_ready(judge=judge, community=community)
    results = votes_while_locked(BATTLES_LOCK, [first.pk, second.pk], [(first, body()), (second, body("tie"))])
    assert [(status, answer["is_blind"], answer["status"]) for status, answer in results] == [
        (200, True, "voted"),
        (200, True, "voted"),
    ]
    stored = Battle.objects.select_related("conversation").in_bulk([first.pk, second.pk])
    voted = (stored[first.pk], stored[second.pk])
    assert [(b.winner, b.is_blind, b.conversation.names_revealed_at == b.voted_at) for b in voted] == [
        ("model_a", True, True),
        ("tie", True, True),
    ]


def test_the_same_battle_twice_at_once_with_two_keys_one_vote_the_other_conflicts():
    first, _ = two_blind_battles_of_one_conversation()
    votes = [(first, body("model_a")), (first, body("model_b"))]
    results = votes_while_locked(BATTLE_LOCK, first.pk, votes)
    assert sorted(status for status, _ in results) == [200, 409]
    won = next(i for i, (status, _) in enumerate(results) if status == 200)
    lost = 1 - won
    assert results[lost][1] == {"detail": "You already voted on this battle."}
    stored = Battle.objects.get(pk=first.pk)
    assert (stored.winner, str(stored.vote_idempotency_key)) == (
        votes[won][1]["winner"],
        votes[won][1]["idempotency_key"],
    )


def test_the_same_battle_twice_at_once_with_one_key_both_get_the_one_vote():
    first, _ = two_blind_battles_of_one_conversation()
    key = str(uuid.uuid4())
    results = votes_while_locked(BATTLE_LOCK, first.pk, [(first, body("tie", key)), (first, body("tie", key))])
    assert [status for status, _ in results] == [200, 200]
    assert results[0][1] == results[1][1]
    stored = Battle.objects.get(pk=first.pk)
    assert (stored.status, stored.winner, str(stored.vote_idempotency_key)) == ("voted", "tie", key)


def test_one_key_on_two_battles_at_once_one_vote_the_other_conflicts():
    first, second = two_blind_battles_of_one_conversation()
    key = str(uuid.uuid4())
    results = votes_while_locked(
        CONVERSATION_LOCK, first.conversation_id, [(first, body("tie", key)), (second, body("tie", key))]
    )
    assert sorted(status for status, _ in results) == [200, 409]
    lost = next(answer for status, answer in results if status == 409)
    assert lost == {"detail": "That idempotency key was already used for another vote."}
    assert Battle.objects.filter(vote_idempotency_key=key).count() == 1
    assert Battle.objects.filter(pk__in=[first.pk, second.pk], status="ready").count() == 1
