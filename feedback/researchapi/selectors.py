"""Reads for the researchers' API: API tokens, and the accepted live pool filtered and paged.

The live pool follows the release rules of `feedback.releases.pool`: only accepted
conversations (`conversations_accepted`), contributors who asked for erasure left out, every
text PII-redacted, every contributor id a keyed pseudonym. Its rows are the records of
`feedback.releases.formats`, so a researcher sees the same schema as in a release file.
Pseudonyms use the scope `LIVE_POOL_PSEUDONYMS` (0, never a release's id): stable from one
request to the next, and different from every release's.

Each kind has a queryset of its rows, filtered in the database and holding one row per record
(or, for battles whose two sides were given different histories, none), and a function that
turns one page of those rows into records with a fixed number of queries, whatever the page
size. The API pages the queryset with a cursor on the primary key.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404

from community.models import Community, ErasureRequest, User
from feedback.models import (
    ApiToken,
    Battle,
    Claim,
    ClaimLabel,
    FlagResponse,
    Message,
    ModerationStatus,
    Ranking,
    Rating,
)
from feedback.models.tokens import token_key_hash
from feedback.moderation.gates import message_accepted_q
from feedback.moderation.selectors import (
    answer_accepted_q,
    battle_accepted_q,
    conversation_flagged_high_q,
    message_is_visible_q,
)
from feedback.privacy.pii import pii_redact
from feedback.releases import pool
from feedback.releases.formats import (
    CLAIM_LABELS,
    DESIRABLE_FROM,
    UNDESIRABLE_AT,
    battle_record,
    claim_record,
    message_record,
    preference_record_from_correction,
    preference_records_from_battle,
    unpaired_record,
)

LIVE_POOL_PSEUDONYMS = 0
POOL_ROLES = (User.Role.RESEARCHER, User.Role.MODERATOR, User.Role.ADMIN)

# API tokens


def api_token_list(*, owner: User) -> QuerySet[ApiToken]:
    """The owner's tokens, active ones first, newest first."""
    return ApiToken.objects.filter(user=owner).order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-pk")


def api_token_get_for(*, owner: User, token_id: object, for_update: bool = False) -> ApiToken:
    """One of the owner's tokens; anyone else's is "not found"."""
    tokens = ApiToken.objects.select_for_update() if for_update else ApiToken.objects
    try:
        return tokens.get(user=owner, pk=int(token_id))  # type: ignore[arg-type]
    except (ApiToken.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("You have no such token.") from None


def api_token_find(*, key: str) -> ApiToken | None:
    """The token whose SHA-256 matches `key` (revoked or not), with its user."""
    return ApiToken.objects.select_related("user").filter(key_hash=token_key_hash(key)).first()


# The live pool


def pool_may_read(*, user: User) -> bool:
    """The live pool is for researchers (and moderators and admins); releases are for everyone."""
    return bool(user.is_authenticated and user.is_active and (user.role in POOL_ROLES or user.is_superuser))


def pool_community_get(*, slug: str) -> Community:
    try:
        return Community.objects.get(slug=slug)
    except Community.DoesNotExist:
        raise Http404(f"No community has the slug {slug!r}: GET /api/v1/communities/ lists every community.") from None


@dataclass(frozen=True)
class PoolFilters:
    """What to keep. `since` and `until` are inclusive moments (UTC)."""

    community: Community | None = None
    language: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _erased() -> QuerySet:
    return ErasureRequest.objects.values("user_pk")


def _between(field: str, filters: PoolFilters) -> Q:
    condition = Q()
    if filters.since is not None:
        condition &= Q(**{f"{field}__gte": filters.since})
    if filters.until is not None:
        condition &= Q(**{f"{field}__lte": filters.until})
    return condition


def _pool_language() -> Coalesce:
    """A message's language as the pool gives it: its conversation's first battle's, else its community's."""
    first_battle = Battle.objects.filter(conversation_id=OuterRef("conversation_id")).order_by("turn", "pk")
    return Coalesce(
        NullIf(Subquery(first_battle.values("language")[:1]), Value("")), F("conversation__community__language")
    )


def _answers(filters: PoolFilters) -> QuerySet[Message]:
    """Answers in accepted conversations, with their pool language, filtered (model: who wrote the answer)."""
    rows = (
        Message.objects.filter(
            role=Message.Role.ASSISTANT, conversation__in=pool.conversations_accepted(community=filters.community)
        )
        .filter(answer_accepted_q())
        .annotate(pool_language=_pool_language())
        .filter(_between("created_at", filters))
    )
    if filters.language:
        rows = rows.filter(pool_language=filters.language)
    if filters.model:
        rows = rows.filter(Q(endpoint__name=filters.model) | Q(external_model=filters.model))
    return rows


def _battle_item(battle: Battle, texts: dict[int, tuple], pseudonyms: pool.Pseudonyms) -> dict[str, Any]:
    """A battle as `pool.battles` hands it to the formats."""
    return {
        "id": battle.pk,
        "community": battle.community.slug,
        "licence": battle.community.licence_name,
        "model_a": battle.model_a.name,
        "model_b": battle.model_b.name,
        "winner": battle.winner,
        "judge": pseudonyms(battle.judge_id),
        "turn": battle.turn,
        "anony": battle.is_blind,
        "language": battle.language,
        "tstamp": battle.voted_at.timestamp(),
        "conversation_a": pool.chat_to(texts, battle.answer_a_id),
        "conversation_b": pool.chat_to(texts, battle.answer_b_id),
    }


# battles: one row per voted battle, FastChat's shape.


def _battle_rows(filters: PoolFilters) -> QuerySet[Battle]:
    rows = (
        Battle.objects.filter(
            status=Battle.Status.VOTED, conversation__in=pool.conversations_accepted(community=filters.community)
        )
        .filter(battle_accepted_q())
        .filter(_between("voted_at", filters))
    )
    if filters.language:
        rows = rows.filter(language=filters.language)
    if filters.model:
        rows = rows.filter(Q(model_a__name=filters.model) | Q(model_b__name=filters.model))
    return rows.select_related("model_a", "model_b", "community")


def _battle_records(rows: Sequence[Battle], pseudonyms: pool.Pseudonyms) -> list[dict]:
    texts = pool.texts_of({battle.conversation_id for battle in rows})
    return [battle_record(_battle_item(battle, texts, pseudonyms)) for battle in rows]


# preferences: one row per answer A of a battle with a winner (a pair, unless the two sides were
# given different histories) and per human correction (the human's answer over the model's).


def _preference_rows(filters: PoolFilters) -> QuerySet[Message]:
    accepted = pool.conversations_accepted(community=filters.community)
    pairs = Battle.objects.filter(
        status=Battle.Status.VOTED,
        winner__in=[Battle.Winner.MODEL_A, Battle.Winner.MODEL_B],
        conversation__in=accepted,
    ).filter(battle_accepted_q(), _between("voted_at", filters))
    corrections = (
        Message.objects.filter(
            role=Message.Role.ASSISTANT, author__isnull=False, corrects__isnull=False, conversation__in=accepted
        )
        .filter(message_accepted_q(), answer_accepted_q())
        .exclude(author_id__in=_erased())
        .annotate(pool_language=_pool_language())
        .filter(_between("created_at", filters))
    )
    if filters.language:
        pairs = pairs.filter(language=filters.language)
        corrections = corrections.filter(pool_language=filters.language)
    if filters.model:
        pairs = pairs.filter(Q(model_a__name=filters.model) | Q(model_b__name=filters.model))
        corrections = corrections.filter(
            Q(corrects__endpoint__name=filters.model) | Q(corrects__external_model=filters.model)
        )
    return (
        Message.objects.filter(Exists(pairs.filter(answer_a=OuterRef("pk"))) | Q(pk__in=corrections.values("pk")))
        .annotate(pool_language=_pool_language())
        .select_related("conversation__community")
    )


def _preference_records(rows: Sequence[Message], pseudonyms: pool.Pseudonyms) -> list[dict]:
    battles = {
        battle.answer_a_id: battle
        for battle in Battle.objects.filter(
            answer_a_id__in=[row.pk for row in rows], status=Battle.Status.VOTED
        ).select_related("model_a", "model_b", "community")
    }
    texts = pool.texts_of({row.conversation_id for row in rows})
    records = []
    for row in rows:
        battle = battles.get(row.pk)
        if battle is not None:
            records.extend(preference_records_from_battle(_battle_item(battle, texts, pseudonyms)))
            continue
        community = row.conversation.community
        correction = {
            "id": row.pk,
            "community": community.slug,
            "licence": community.licence_name,
            "language": row.pool_language,
            "prompt": pool.chat_to(texts, row.parent_id),
            "model_answer": texts[row.corrects_id][2],
            "human_answer": row.text_for_release,
            "author": pseudonyms(row.author_id),
        }
        records.append(preference_record_from_correction(correction))
    return records


# unpaired: one row per rated answer whose mean helpfulness gives a label (TRL's unpaired format).


def _unpaired_rows(filters: PoolFilters) -> QuerySet[Message]:
    helpfulness = (
        Rating.objects.filter(answer=OuterRef("pk"), scale__name="helpfulness")
        .exclude(volunteer_id__in=_erased())
        .values("answer")
        .annotate(mean=Avg("value"))
        .values("mean")
    )
    return (
        _answers(filters)
        .annotate(helpfulness_mean=Subquery(helpfulness))
        .filter(Q(helpfulness_mean__gte=DESIRABLE_FROM) | Q(helpfulness_mean__lte=UNDESIRABLE_AT))
        .select_related("conversation__community")
    )


def _unpaired_records(rows: Sequence[Message], pseudonyms: pool.Pseudonyms) -> list[dict]:
    texts = pool.texts_of({row.conversation_id for row in rows})
    ratings: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for answer_id, scale, value in (
        Rating.objects.filter(answer_id__in=[row.pk for row in rows])
        .exclude(volunteer_id__in=_erased())
        .values_list("answer_id", "scale__name", "value")
    ):
        ratings[answer_id][scale].append(value)
    records = []
    for row in rows:
        community = row.conversation.community
        record = unpaired_record(
            {
                "id": row.pk,
                "community": community.slug,
                "licence": community.licence_name,
                "language": row.pool_language,
                "prompt": pool.chat_to(texts, row.parent_id),
                "completion": row.text_for_release,
                "ratings": {scale: values for scale, values in ratings[row.pk].items()},
            }
        )
        if record is not None:
            records.append(record)
    return records


# message_trees: one row per message of an accepted conversation, OpenAssistant's shape.


def _message_tree_rows(filters: PoolFilters) -> QuerySet[Message]:
    rows = (
        Message.objects.filter(conversation__in=pool.conversations_accepted(community=filters.community))
        .exclude(author_id__in=_erased())
        .exclude(conversation_flagged_high_q())
        # Visible, under a visible parent, and a person's answer only past its quality gate
        # (the release also leaves out what hangs deeper under a hidden message).
        .filter(message_is_visible_q())
        .exclude(parent__moderation_status__in=[ModerationStatus.HIDDEN, ModerationStatus.REMOVED])
        .exclude(Q(role=Message.Role.ASSISTANT, endpoint__isnull=True) & ~message_accepted_q())
        .annotate(pool_language=_pool_language())
        .filter(_between("created_at", filters))
    )
    if filters.language:
        rows = rows.filter(pool_language=filters.language)
    return rows.select_related("conversation__community", "endpoint")


def _message_tree_records(rows: Sequence[Message], pseudonyms: pool.Pseudonyms) -> list[dict]:
    ids = [row.pk for row in rows]
    erased = _erased()
    ratings: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for answer_id, scale, value in (
        Rating.objects.filter(answer_id__in=ids)
        .exclude(volunteer_id__in=erased)
        .values_list("answer_id", "scale__name", "value")
    ):
        ratings[answer_id][scale].append(value)
    flags: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reviews: dict[int, int] = defaultdict(int)
    for answer_id, labels in (
        FlagResponse.objects.filter(answer_id__in=ids)
        .exclude(volunteer_id__in=erased)
        .values_list("answer_id", "labels")
    ):
        reviews[answer_id] += 1
        for label in labels:
            flags[answer_id][label] += 1
    ranks: dict[int, list[int]] = defaultdict(list)
    parents = {row.parent_id for row in rows if row.parent_id}
    for order in (
        Ranking.objects.filter(prompt_id__in=parents).exclude(volunteer_id__in=erased).values_list("order", flat=True)
    ):
        for place, group in enumerate(order):
            for answer_id in group:
                ranks[answer_id].append(place)
    records = []
    for row in rows:
        community = row.conversation.community
        labels: dict[str, float] = {scale: sum(v) / len(v) for scale, v in ratings[row.pk].items()}
        labels.update(flags[row.pk])
        records.append(
            message_record(
                {
                    "message_id": f"m-{row.pk}",
                    "parent_id": f"m-{row.parent_id}" if row.parent_id else None,
                    "conversation_id": f"c-{row.conversation_id}",
                    "role": row.role,
                    "text": row.text_for_release,
                    "lang": row.pool_language,
                    "author": pseudonyms(row.author_id),
                    "model": (row.endpoint.name if row.endpoint else None) or row.external_model or None,
                    "created_date": row.created_at.isoformat(),
                    "rank": sum(ranks[row.pk]) / len(ranks[row.pk]) if ranks[row.pk] else None,
                    "labels": labels,
                    "review_count": reviews[row.pk],
                    "community": community.slug,
                    "licence": community.licence_name,
                }
            )
        )
    return records


# claims: one row per answer whose claims were checked, with each claim's verdict and votes.


def _claim_rows(filters: PoolFilters) -> QuerySet[Message]:
    checked = ClaimLabel.objects.filter(claim__answer=OuterRef("pk"), claim__author__isnull=True)
    return _answers(filters).filter(Exists(checked)).select_related("conversation__community", "parent")


def _claim_records(rows: Sequence[Message], pseudonyms: pool.Pseudonyms) -> list[dict]:
    ids = [row.pk for row in rows]
    claims: dict[int, list[Claim]] = defaultdict(list)
    for claim in Claim.objects.filter(answer_id__in=ids, author__isnull=True).order_by("position", "pk"):
        claims[claim.answer_id].append(claim)
    votes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    annotators: dict[int, set[int]] = defaultdict(set)
    for claim_id, answer_id, volunteer_id, verdict in (
        ClaimLabel.objects.filter(claim__answer_id__in=ids, claim__author__isnull=True)
        .exclude(volunteer_id__in=_erased())
        .values_list("claim_id", "claim__answer_id", "volunteer_id", "verdict")
    ):
        votes[claim_id][verdict] += 1
        annotators[answer_id].add(volunteer_id)
    records = []
    for row in rows:
        community = row.conversation.community
        records.append(
            claim_record(
                {
                    "answer_id": f"m-{row.pk}",
                    "community": community.slug,
                    "licence": community.licence_name,
                    "language": row.pool_language,
                    "prompt": row.parent.text_for_release if row.parent else "",
                    "answer": row.text_for_release,
                    "claims": [
                        {
                            "text": pii_redact(claim.text),
                            "labels": {verdict: votes[claim.pk].get(verdict, 0) for verdict in CLAIM_LABELS},
                        }
                        for claim in claims[row.pk]
                    ],
                    "annotators": len(annotators[row.pk]),
                }
            )
        )
    return records


@dataclass(frozen=True)
class PoolKind:
    name: str
    rows: Callable[[PoolFilters], QuerySet]
    records: Callable[[Sequence[Any], pool.Pseudonyms], list[dict]]
    # The filters this kind takes, and what `since`/`until` compare with.
    filters: tuple[str, ...]
    dated_by: str


ALL_FILTERS = ("community", "language", "model", "since", "until")

POOL_KINDS: dict[str, PoolKind] = {
    kind.name: kind
    for kind in (
        PoolKind("battles", _battle_rows, _battle_records, ALL_FILTERS, "when the vote was cast"),
        PoolKind(
            "preferences",
            _preference_rows,
            _preference_records,
            ALL_FILTERS,
            "when the battle's vote was cast, or the correction written",
        ),
        PoolKind("unpaired", _unpaired_rows, _unpaired_records, ALL_FILTERS, "when the answer was written"),
        PoolKind(
            "message_trees",
            _message_tree_rows,
            _message_tree_records,
            ("community", "language", "since", "until"),
            "when the message was written",
        ),
        PoolKind("claims", _claim_rows, _claim_records, ALL_FILTERS, "when the answer was written"),
    )
}


def pool_kind_get(*, kind: str) -> PoolKind:
    try:
        return POOL_KINDS[kind]
    except KeyError:
        raise Http404(f"The pool has no kind {kind!r}; its kinds are: {', '.join(POOL_KINDS)}.") from None


def pool_rows(*, kind: str, filters: PoolFilters) -> QuerySet:
    """The rows of one kind of the live pool that pass the filters (unordered: the API pages them by pk)."""
    return pool_kind_get(kind=kind).rows(filters)


def pool_records(*, kind: str, rows: Sequence[Any]) -> list[dict]:
    """The records (the rows of a release file of that kind) for one page of `pool_rows`."""
    if not rows:
        return []
    return pool_kind_get(kind=kind).records(rows, pool.Pseudonyms(LIVE_POOL_PSEUDONYMS))
