"""Votes racing each other: exactly one is stored (row locks on PostgreSQL, IMMEDIATE
transactions on SQLite)."""

import threading
import uuid

import pytest
from django.db import connection
from django.test import Client

from feedback.models import Battle
from feedback.tests.factories import battle_ready

pytestmark = pytest.mark.django_db(transaction=True)


def post_at_once(judge, url: str, bodies: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = [0] * len(bodies)

    def post(index: int) -> None:
        client = Client()
        client.force_login(judge)
        barrier.wait()
        try:
            statuses[index] = client.post(url, bodies[index], content_type="application/json").status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_the_same_vote_sent_eight_times_at_once_is_stored_once():
    battle = battle_ready()
    key = str(uuid.uuid4())
    statuses = post_at_once(
        battle.judge, f"/api/v1/battles/{battle.pk}/vote/", [{"winner": "model_a", "idempotency_key": key}] * 8
    )
    assert statuses == [200] * 8
    stored = Battle.objects.get(pk=battle.pk)
    assert (stored.status, stored.winner, str(stored.vote_idempotency_key)) == ("voted", "model_a", key)


def test_different_votes_at_once_one_wins_the_rest_conflict():
    battle = battle_ready()
    bodies = [
        {"winner": w, "idempotency_key": str(uuid.uuid4())} for w in ["model_a", "model_b", "tie", "tie (bothbad)"]
    ]
    statuses = post_at_once(battle.judge, f"/api/v1/battles/{battle.pk}/vote/", bodies)
    assert sorted(statuses) == [200, 409, 409, 409]
    winner = bodies[statuses.index(200)]["winner"]
    assert Battle.objects.get(pk=battle.pk).winner == winner
