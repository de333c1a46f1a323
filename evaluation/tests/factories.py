"""Arena battles in any state, written directly (the arena's services are tested in feedback),
and leaderboard snapshots with hand-written data (no engine needed)."""

import itertools

from community.tests.factories import CommunityFactory, UserFactory
from evaluation.leaderboards.scopes import Scope
from evaluation.leaderboards.services import leaderboard_snapshot_store
from feedback.models import Battle, Conversation, Message
from feedback.tests.factories import ModelEndpointFactory

_keys = itertools.count(1)


def battle_make(
    *,
    community=None,
    model_a=None,
    model_b=None,
    winner: str = "model_a",
    status: str = Battle.Status.VOTED,
    is_blind: bool = True,
    topic: str = "",
    language: str = "en",
    judge=None,
    text_a: str = "Answer A",
    text_b: str = "Answer B",
) -> Battle:
    """One battle with its conversation, prompt and two answers."""
    community = community or CommunityFactory()
    model_a = model_a or ModelEndpointFactory(community=community)
    model_b = model_b or ModelEndpointFactory(community=community)
    judge = judge or UserFactory()
    conversation = Conversation.objects.create(community=community, owner=judge, topic=topic)
    prompt = Message.objects.create(conversation=conversation, role="user", text="Tell me about tides.", author=judge)
    answer_a = Message.objects.create(
        conversation=conversation, parent=prompt, role="assistant", text=text_a, endpoint=model_a
    )
    answer_b = Message.objects.create(
        conversation=conversation, parent=prompt, role="assistant", text=text_b, endpoint=model_b
    )
    voted = status == Battle.Status.VOTED
    return Battle.objects.create(
        community=community,
        conversation=conversation,
        judge=judge,
        model_a=model_a,
        model_b=model_b,
        answer_a=answer_a,
        answer_b=answer_b,
        status=status,
        winner=winner if voted else "",
        is_blind=is_blind,
        language=language,
        vote_idempotency_key=None,
    )


def board_data(ratings: list[tuple[str, float, float, float, int | None, int]], *, style: dict | None = None) -> dict:
    """Stored leaderboard data for (model, rating, lower, upper, rank or None, battles), best first.
    Win rates and predictions are made up but consistent in shape."""
    models = [r[0] for r in ratings]
    size = len(models)

    def predicted(i, j):
        return round(1 / (1 + 10 ** ((ratings[j][1] - ratings[i][1]) / 400)), 4)

    return {
        "format": 1,
        "models": models,
        "ratings": [
            {
                "model": m,
                "rating": r,
                "lower": lo,
                "upper": up,
                "rank": rank,
                "battles": n,
                "provisional": rank is None,
            }
            for m, r, lo, up, rank, n in ratings
        ],
        "win_rate": [[None if i == j else predicted(i, j) for j in range(size)] for i in range(size)],
        "predicted": [[None if i == j else predicted(i, j) for j in range(size)] for i in range(size)],
        "battles": [[0 if i == j else 10 * (i + j) for j in range(size)] for i in range(size)],
        "rounds": 100,
        "seed": 0,
        "anchor": None,
        "style_coefficients": style,
    }


THREE_MODELS = [
    ("atlas-7b-chat", 1080.4, 1051.0, 1110.2, 1, 120),
    ("borealis-3b", 1000.0, 975.5, 1024.9, 2, 110),
    ("cirrus-1b", 919.6, 890.1, 950.3, 3, 90),
]


def snapshot_make(
    *,
    community=None,
    category="overall",
    value="",
    style_control=False,
    ratings=None,
    digest="d" * 64,
    battles_counted=160,
    style=None,
):
    scope = Scope(community=community, category=category, value=value, style_control=style_control)
    return leaderboard_snapshot_store(
        scope=scope,
        data=board_data(ratings or THREE_MODELS, style=style),
        battles_counted=battles_counted,
        inputs_digest=digest,
        parameters={"rounds": 100, "seed": 0, "anchor": None, "min_battles": 20},
        code_version="abc1234",
    )
