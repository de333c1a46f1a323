"""What one vote over the API costs: its SQL statements (exactly: on PostgreSQL two, the token and
the vote's one statement), its Redis round trips (exactly one, for the token's throttle and the
two vote rate limits together; only with REDIS_URL), and that the budgets it takes are taken all
or none."""

import os
import uuid

import pytest
from django.db import connection

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import Battle
from feedback.moderation import ratelimits
from feedback.researchapi.services import api_token_create
from feedback.tests.factories import arena_setup, battle_ready


def vote(client, key: str, battle: Battle, idempotency_key: str | None = None):
    return client.post(
        f"/api/v1/battles/{battle.pk}/vote/",
        {"winner": "model_a", "idempotency_key": idempotency_key or str(uuid.uuid4())},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


@pytest.fixture
def judge_with_battles():
    community, judge, _, _ = arena_setup()
    _, key = api_token_create(user=judge, name="votes")
    return key, [battle_ready(judge=judge, community=community) for _ in range(3)]


# Outside a test transaction (transaction=True) the vote runs as in production: on PostgreSQL
# one statement in autocommit; elsewhere (SQLite) a real transaction, BEGIN IMMEDIATE and COMMIT.
TRANSACTION = 2


@pytest.mark.django_db(transaction=True)
def test_a_vote_costs_two_statements_on_postgresql(client, judge_with_battles, django_assert_num_queries):
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement vote is PostgreSQL's")
    key, (first, second, third) = judge_with_battles
    assert vote(client, key, first).status_code == 200  # the token's last use is written once, here
    # The token (with its user), and the vote: the battle and its conversation locked after the
    # checks (the judge's membership and sanctions), the battle's update, the conversation's
    # reveal, and the community's and models' names, all in one statement.
    idempotency_key = str(uuid.uuid4())
    with django_assert_num_queries(2) as captured:
        response = vote(client, key, second, idempotency_key)
    assert response.status_code == 200
    assert captured.captured_queries[1]["sql"].split()[:2] == ["WITH", "locked"]
    assert response.json() == {
        "id": second.pk,
        "community": second.community.slug,
        "conversation": second.conversation_id,
        "turn": 1,
        "status": "voted",
        "winner": "model_a",
        "is_blind": True,
        "language": second.language,
        "model_a": second.model_a.name,
        "model_b": second.model_b.name,
        "created_at": response.json()["created_at"],
        "voted_at": response.json()["voted_at"],
    }
    stored = Battle.objects.select_related("conversation").get(pk=second.pk)
    assert (stored.status, stored.winner, str(stored.vote_idempotency_key), stored.is_blind) == (
        "voted",
        "model_a",
        idempotency_key,
        True,
    )
    assert stored.conversation.names_revealed_at == stored.voted_at
    # The same key again: the token, the one statement (it records nothing), then the
    # transaction that finds the key's first result: BEGIN, the battle, COMMIT.
    with django_assert_num_queries(3 + TRANSACTION):
        replay = vote(client, key, second, idempotency_key)
    assert replay.json() == response.json()
    # A later turn in a conversation whose names are out: still two, and not blind.
    follow_up = battle_ready(judge=second.judge, community=second.community, conversation_id=second.conversation_id)
    with django_assert_num_queries(2):
        assert vote(client, key, follow_up).json()["is_blind"] is False
    assert Battle.objects.get(pk=follow_up.pk).is_blind is False
    assert Battle.objects.get(pk=third.pk).status == Battle.Status.READY


@pytest.mark.django_db(transaction=True)
def test_a_vote_costs_four_statements_and_a_replay_two_on_sqlite(client, judge_with_battles, django_assert_num_queries):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL votes in one statement")
    key, (first, second, third) = judge_with_battles
    assert vote(client, key, first).status_code == 200  # the token's last use is written once, here
    # The token (with its user); the battle with its conversation, models, community, the
    # judge's membership and sanctions (locked); the battle's update; the conversation's reveal.
    idempotency_key = str(uuid.uuid4())
    with django_assert_num_queries(4 + TRANSACTION):
        response = vote(client, key, second, idempotency_key)
    assert response.status_code == 200
    assert response.json()["status"] == "voted"
    # The same key again: the token and the battle, nothing written.
    with django_assert_num_queries(2 + TRANSACTION):
        replay = vote(client, key, second, idempotency_key)
    assert replay.json() == response.json()
    # A later turn in a conversation whose names are out needs no reveal: three.
    follow_up = battle_ready(judge=second.judge, community=second.community, conversation_id=second.conversation_id)
    with django_assert_num_queries(3 + TRANSACTION):
        assert vote(client, key, follow_up).json()["is_blind"] is False
    assert Battle.objects.get(pk=third.pk).status == Battle.Status.READY


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="counts Redis round trips: needs REDIS_URL")
@pytest.mark.django_db
def test_a_vote_takes_its_throttle_and_rate_limits_in_one_redis_round_trip(
    client, judge_with_battles, monkeypatch, settings
):
    from redis.connection import AbstractConnection

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
    }
    key, (first, second, _) = judge_with_battles
    assert vote(client, key, first).status_code == 200  # loads the script into Redis
    sent = []
    real = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    assert vote(client, key, second).status_code == 200
    assert len(sent) == 1
    assert b"EVALSHA" in (sent[0] if isinstance(sent[0], bytes) else b"".join(sent[0]))


@pytest.fixture(params=["memory", "redis"])
def backend(request, settings):
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        location = os.environ["REDIS_URL"]
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cost"}}
    return request.param


@pytest.mark.django_db
def test_the_throttle_and_the_vote_limits_are_taken_all_or_none(client, settings, monkeypatch, backend):
    monkeypatch.setattr(ratelimits, "clock", lambda: 1_800_000_000.0)
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "votes": "2/minute"}
    settings.RATE_LIMITS_PER_ADDRESS = {**settings.RATE_LIMITS_PER_ADDRESS, "votes": "3/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/minute"}}
    community, judge, _, _ = arena_setup()
    _, key = api_token_create(user=judge, name="votes")
    battles = [battle_ready(judge=judge, community=community) for _ in range(4)]
    assert [vote(client, key, battle).status_code for battle in battles[:2]] == [200, 200]
    # The judge's third vote: over the vote limit, so the token's budget is not charged either.
    refused = vote(client, key, battles[2])
    assert (refused.status_code, refused["Retry-After"]) == (429, "90")
    assert refused.json() == {"detail": "Too many votes: at most 2 a minute. Try again in 90 seconds."}
    assert client.get("/api/v1/communities/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200  # 3rd of 3
    # Now the token is at its budget: the throttle refuses, and no vote is counted for the judge.
    throttled = vote(client, key, battles[3])
    assert throttled.status_code == 429
    assert throttled.json()["detail"].startswith("Request was throttled.")
    other = UserFactory()
    MembershipFactory(community=community, user=other)
    _, other_key = api_token_create(user=other, name="votes")
    mine = battle_ready(judge=other, community=community)
    # The address (shared by both) counted the 2 votes that went through, not the 2 refused ones.
    assert vote(client, other_key, mine).status_code == 200
    assert [b.status for b in Battle.objects.filter(pk__in=[b.pk for b in battles]).order_by("pk")] == [
        "voted",
        "voted",
        "ready",
        "ready",
    ]
