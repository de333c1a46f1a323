"""Which arena battles count for a leaderboard, and counting them in the database.

Every leaderboard reads its battles through `counted_battles`, so the rules of what counts live
in one place (and `COUNTING_RULES` says them in words, for the pages and each snapshot). The
fit never sees a battle: it gets (model A, model B, winner, number of battles) rows from one
GROUP BY, so the counting pass is the only cost that grows with the number of stored battles.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Count, Max, Min, QuerySet

from community.models import Community, ErasureRequest
from evaluation.models import LeaderboardCategory
from feedback.models import Battle
from feedback.moderation.selectors import battle_accepted_q
from inference.models import ModelEndpoint

# The rules `counted_battles` applies, in words. Change them together.
COUNTING_RULES = [
    "The vote was cast: both answers were complete and the volunteer chose A, B, tie or both bad "
    "(battles still streaming, waiting for a vote, or where a model failed are left out).",
    "The vote was blind: cast before the names were shown, on answers that did not name their own model "
    "(follow-up turns after a vote are never blind).",
    "The volunteer has not asked for their data to be erased.",
    "Moderation accepts it: no prompt or answer of the turn was hidden or removed by a moderator, the "
    "conversation carries no open high-severity automatic flag (personal information such as a card "
    "number, threats, slurs) awaiting a moderator, and the community's trust policy does not exclude "
    "the judge (see the community's published trust policy).",
]
TEXT_CHUNK = 2000


def counted_battles(
    community: Community | None = None, topic: str | None = None, language: str | None = None
) -> QuerySet[Battle]:
    """The battles a leaderboard counts, optionally of one community, one conversation topic
    or one language (None: any)."""
    battles = (
        Battle.objects.filter(status=Battle.Status.VOTED, is_blind=True, winner__in=Battle.Winner.values)
        .exclude(judge_id__in=ErasureRequest.objects.values("user_pk"))
        .filter(battle_accepted_q())
    )
    if community is not None:
        battles = battles.filter(community=community)
    if topic is not None:
        battles = battles.filter(conversation__topic=topic)
    if language is not None:
        battles = battles.filter(language=language)
    return battles


def battle_counts(battles: QuerySet[Battle]) -> list[tuple[str, str, str, int]]:
    """(model A's name, model B's name, winner, number of battles), in one GROUP BY."""
    rows = (
        battles.values_list("model_a__name", "model_b__name", "winner")
        .annotate(battles=Count("pk"))
        .order_by("model_a__name", "model_b__name", "winner")
    )
    return [(a, b, winner, count) for a, b, winner, count in rows]


@dataclass(frozen=True, order=True)
class ScopeKey:
    """A leaderboard's battles: a community's (id) or all (None), and a category."""

    community_id: int | None
    category: str = LeaderboardCategory.OVERALL
    value: str = ""


class CountRow(NamedTuple):
    community_id: int
    topic: str
    language: str
    model_a: str
    model_b: str
    winner: str
    battles: int


def count_rows() -> list[CountRow]:
    """Every counted battle in one GROUP BY over (community, topic, language, models, winner).

    Its size depends on the number of communities, categories and models, never on the number
    of battles, and every scope's counts are sums of these rows.
    """
    rows = (
        counted_battles()
        .values_list("community_id", "conversation__topic", "language", "model_a__name", "model_b__name", "winner")
        .annotate(battles=Count("pk"))
        .order_by()
    )
    return [CountRow(*row) for row in rows]


def scope_counts(
    rows: Iterable[CountRow], *, min_category_battles: int
) -> dict[ScopeKey, list[tuple[str, str, str, int]]]:
    """The counts of every leaderboard that has battles: all communities and each community,
    each overall, per topic and per language; a topic or language only with at least
    `min_category_battles` battles. Blank topics and languages are no category."""
    sums: dict[ScopeKey, dict[tuple[str, str, str], int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        pair = (row.model_a, row.model_b, row.winner)
        for community_id in (None, row.community_id):
            keys = [ScopeKey(community_id)]
            if row.topic:
                keys.append(ScopeKey(community_id, LeaderboardCategory.TOPIC, row.topic))
            if row.language:
                keys.append(ScopeKey(community_id, LeaderboardCategory.LANGUAGE, row.language))
            for key in keys:
                sums[key][pair] += row.battles
    scopes = {}
    for key in sorted(sums, key=lambda k: (k.community_id is not None, k.community_id or 0, k.category, k.value)):
        counts = sorted((a, b, winner, n) for (a, b, winner), n in sums[key].items())
        total = sum(n for *_, n in counts)
        if key.category != LeaderboardCategory.OVERALL and total < min_category_battles:
            continue
        scopes[key] = counts
    return scopes


def scope_battles(key: ScopeKey) -> QuerySet[Battle]:
    topic = key.value if key.category == LeaderboardCategory.TOPIC else None
    language = key.value if key.category == LeaderboardCategory.LANGUAGE else None
    community = Community(pk=key.community_id) if key.community_id is not None else None
    return counted_battles(community=community, topic=topic, language=language)


def battle_texts(battles: QuerySet[Battle]) -> Iterator[tuple[str, str, str, str, str]]:
    """(model A, model B, winner, answer A's text, answer B's text) per battle, read from the
    database in chunks (memory stays flat however many battles there are)."""
    rows = battles.order_by("pk").values_list(
        "model_a__name", "model_b__name", "winner", "answer_a__text", "answer_b__text"
    )
    yield from rows.iterator(chunk_size=TEXT_CHUNK)


class ModelVariant(NamedTuple):
    endpoint: ModelEndpoint
    battles: int
    counted: int
    first_battle_at: object
    last_battle_at: object


def model_variants_tested(*, community: Community | None = None) -> list[ModelVariant]:
    """Every endpoint (a model under one set of settings) that ever appeared in a battle, of this
    community or anywhere, active or not: its battles of every status, those counted, and its
    first and last battle. Four GROUP BYs (all and counted battles, as model A and as model B)
    and one query for the endpoints."""
    battles = Battle.objects.all() if community is None else Battle.objects.filter(community=community)
    merged: dict[int, list] = {}
    for side in ("model_a", "model_b"):
        rows = battles.values_list(side).annotate(n=Count("pk"), first=Min("created_at"), last=Max("created_at"))
        for endpoint_id, total, first, last in rows.order_by():
            entry = merged.setdefault(endpoint_id, [0, 0, first, last])
            entry[0] += total
            entry[2] = min(entry[2], first)
            entry[3] = max(entry[3], last)
        counted = counted_battles(community=community).values_list(side).annotate(n=Count("pk"))
        for endpoint_id, total in counted.order_by():
            merged[endpoint_id][1] += total
    endpoints = ModelEndpoint.objects.in_bulk(list(merged))
    variants = [
        ModelVariant(endpoints[pk], total, counted_total, first, last)
        for pk, (total, counted_total, first, last) in merged.items()
    ]
    return sorted(variants, key=lambda v: (-v.battles, v.endpoint.name))
