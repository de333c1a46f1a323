"""Reading the pool for a release: what goes in, in chunks, as the plain dicts `formats` takes.

What goes in: conversations of the community whose owner has not asked for erasure and that
are arena conversations with at least one vote or donated conversations; within them voted
battles, human corrections, ratings, and claim checks; items moderation hid or has not accepted
are left out (`conversations_accepted`, `feedback.moderation.selectors`).

Everything a person wrote or a model answered passes the personal-information redactor, and
every contributor id becomes a pseudonym from a keyed hash (HMAC-SHA256) whose key is never
published; the release id is part of the hashed message, so pseudonyms differ between releases.

Reads are chunked: conversations and candidate answers are streamed with `.iterator()` (a
server-side cursor on PostgreSQL) and what each chunk needs (its messages, battles, reviews and
languages) is fetched per chunk, so memory does not grow with the size of the pool. Battles and
message trees come from one pass over the conversations (`battles_and_messages`), which reads
and redacts each message once for both. Each stage's chunks are read one ahead, in a thread of
their own (`read_ahead`), while the caller turns the last one into records.
"""

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.conf import settings
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet

from community.models import Community, ErasureRequest
from feedback.models import (
    Battle,
    Claim,
    ClaimLabel,
    Conversation,
    Donation,
    FlagResponse,
    Message,
    ModerationStatus,
    Ranking,
    Rating,
    ReviewGate,
)
from feedback.moderation.gates import message_accepted_q
from feedback.moderation.selectors import answer_accepted_q, battle_accepted_q, conversation_flagged_high_q
from feedback.privacy.pii import pii_redact, released_text
from feedback.releases.expressions import AnyOf, EpochSeconds, TextKey, UtcIso
from feedback.releases.formats import CLAIM_LABELS
from feedback.releases.read_ahead import read_ahead

CHUNK = 2000


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` items at a time (itertools.batched arrives only in Python 3.12)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def pseudonym_key() -> bytes:
    if settings.RELEASE_PSEUDONYM_KEY:
        return settings.RELEASE_PSEUDONYM_KEY.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"release pseudonyms", hashlib.sha256).digest()


class Pseudonyms:
    """Contributor ids to pseudonyms for one release (cached; the key never leaves the server)."""

    def __init__(self, release_id: int):
        self._key = pseudonym_key()
        self._prefix = f"{release_id}:".encode()
        self._known: dict[int, str] = {}

    def __call__(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self._known:
            digest = hmac.new(self._key, self._prefix + str(user_id).encode(), hashlib.sha256).hexdigest()
            self._known[user_id] = f"contributor-{digest[:16]}"
        return self._known[user_id]


def conversations_accepted(*, community: Community | None) -> QuerySet[Conversation]:
    """Conversations a release draws from: visible (not hidden or removed by a moderator), of
    an owner who did not ask for erasure, and either an arena conversation with a vote or a
    donated conversation every answer of which passed its quality gate (docs/moderation.md)."""
    erased = ErasureRequest.objects.values("user_pk")
    donated_answer_not_accepted = Message.objects.filter(
        conversation=OuterRef("pk"), role=Message.Role.ASSISTANT, endpoint__isnull=True, author__isnull=True
    ).exclude(message_accepted_q())
    conversations = (
        Conversation.objects.exclude(owner_id__in=erased)
        .filter(moderation_status=ModerationStatus.VISIBLE)
        .filter(
            Exists(Battle.objects.filter(conversation=OuterRef("pk"), status=Battle.Status.VOTED))
            | (
                Exists(Donation.objects.filter(conversation=OuterRef("pk"), status=Donation.Status.DONATED))
                & ~Exists(donated_answer_not_accepted)
            )
        )
    )
    if community is not None:
        conversations = conversations.filter(community=community)
    return conversations


def _with_freshness(messages: QuerySet[Message]) -> QuerySet[Message]:
    """The messages with `is_fresh`: whether the redaction stored with each was computed from
    its text as it is now (the database compares the fingerprints; `pii.released_text`)."""
    fresh = ExpressionWrapper(Q(redacted_from=TextKey("text")), output_field=BooleanField())
    return messages.annotate(is_fresh=fresh)


_TEXT_COLUMNS = ("id", "parent_id", "role", "text", "text_redacted", "is_fresh")


def _texts(messages: QuerySet[Message]) -> dict[int, tuple[int | None, str, str]]:
    """(parent id, role, redacted text) of the messages, by id: what a chat up to one of them
    needs. The text is redacted from the redaction stored with the message, computed anew only
    where the text changed since."""
    return {
        message_id: (parent_id, role, released_text(text, redacted, is_fresh))
        for message_id, parent_id, role, text, redacted, is_fresh in _with_freshness(messages)
        .order_by()
        .values_list(*_TEXT_COLUMNS)
    }


def texts_of(conversation_ids: Iterable[int]) -> dict[int, tuple[int | None, str, str]]:
    """`_texts` of the messages of these conversations."""
    return _texts(Message.objects.filter(AnyOf(F("conversation_id"), conversation_ids)))


def chat_to(texts: dict[int, tuple[int | None, str, str]], message_id: int) -> list[dict[str, str]]:
    """The chat from the conversation's root down to this message."""
    chat = []
    node = texts.get(message_id)
    while node is not None:
        parent_id, role, text = node
        chat.append({"role": role, "content": text})
        node = texts.get(parent_id)
    chat.reverse()
    return chat


_BATTLE_COLUMNS = (
    "id", "conversation_id", "answer_a_id", "answer_b_id", "model_a__name", "model_b__name", "winner", "judge_id",
    "turn", "is_blind", "language", "tstamp", "community__slug", "community__licence_name",
)  # fmt: skip


def _battles_judged_acceptable(*, community: Community | None) -> QuerySet[Battle]:
    """Voted battles whose prompts and answers are all visible, with no open high-severity flag,
    from judges the community's trust policy does not exclude. A release takes those of its
    accepted conversations (`_conversation_chunks`)."""
    battles = Battle.objects.filter(status=Battle.Status.VOTED).filter(battle_accepted_q())
    return battles if community is None else battles.filter(community=community)


def _battle(row: tuple, texts: dict[int, tuple[int | None, str, str]], pseudonyms: Pseudonyms) -> dict:
    (
        battle_id, _, answer_a_id, answer_b_id, model_a, model_b, winner, judge_id, turn, is_blind, language, tstamp,
        slug, licence,
    ) = row  # fmt: skip
    return {
        "id": battle_id,
        "community": slug,
        "licence": licence,
        "model_a": model_a,
        "model_b": model_b,
        "winner": winner,
        "judge": pseudonyms(judge_id),
        "turn": turn,
        "anony": is_blind,
        "language": language,
        "tstamp": tstamp,
        "conversation_a": chat_to(texts, answer_a_id),
        "conversation_b": chat_to(texts, answer_b_id),
    }


def battles(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    """The accepted battles, as `battles_and_messages` gives them (it reads the messages too)."""
    return (item for kind, item in battles_and_messages(community=community, pseudonyms=pseudonyms) if kind == BATTLE)


_ANSWER_COLUMNS = (
    "id", "parent_id", "conversation_id", "text", "text_redacted", "is_fresh", "author_id", "corrects_id",
    "conversation__community__slug", "conversation__community__licence_name", "conversation__community__language",
)  # fmt: skip


@dataclass
class _AnswerChunk:
    """Answers as rows of `_ANSWER_COLUMNS` in order of id, with the `_texts` of their
    conversations' messages and the conversations' languages."""

    answers: list[tuple]
    texts: dict[int, tuple[int | None, str, str]]
    languages: dict[int, str]

    def ids(self) -> list[int]:
        return [row[0] for row in self.answers]

    def language(self, row: tuple) -> str:
        return self.languages.get(row[2]) or row[10]


def _answer_chunks(
    *, community: Community | None, candidates: QuerySet, field: str, extra: Q | None = None
) -> Iterator[_AnswerChunk]:
    """Visible answers (under visible prompts) of accepted conversations without an open
    high-severity flag, among the messages whose ids `field` of `candidates` holds (a small
    table: ratings, claim labels, accepted review gates), in chunks, in order of id.

    Reading the few candidates first and checking each chunk's answers against the accepted
    conversations one by one costs a few index lookups per answer; the join the other way round
    matched every answer of the pool first (12 s on a pool of a million battles).
    """
    ids = candidates.order_by(field).values_list(field, flat=True).distinct()
    accepted = conversations_accepted(community=community).filter(pk=OuterRef("conversation_id"))
    answers = (
        _with_freshness(Message.objects.filter(role=Message.Role.ASSISTANT))
        .filter(Exists(accepted), answer_accepted_q())
        .filter(extra or Q())
        .order_by("pk")
        .values_list(*_ANSWER_COLUMNS)
    )
    for chunk in batched(ids.iterator(chunk_size=CHUNK), CHUNK):
        rows = list(answers.filter(AnyOf(F("pk"), chunk)))
        if rows:
            conversation_ids = {row[2] for row in rows}
            yield _AnswerChunk(
                rows, texts_of(conversation_ids), _conversation_languages(AnyOf(F("conversation_id"), conversation_ids))
            )


def _conversation_languages(battles: Q | AnyOf) -> dict[int, str]:
    """The language of each conversation that has battles matching `battles`: its first turn's."""
    languages: dict[int, str] = {}
    for conversation_id, language in (
        Battle.objects.filter(battles).order_by("turn").values_list("conversation_id", "language")
    ):
        languages.setdefault(conversation_id, language)
    return languages


def corrections(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    chunks = _answer_chunks(
        community=community,
        candidates=ReviewGate.objects.filter(is_accepted=True),
        field="message_id",
        extra=Q(author__isnull=False, corrects__isnull=False)
        & ~Q(author_id__in=ErasureRequest.objects.values("user_pk")),
    )
    for chunk in read_ahead(chunks):
        for row in chunk.answers:
            answer_id, parent_id, _, text, redacted, is_fresh, author_id, corrects_id, slug, licence, _ = row
            yield {
                "id": answer_id,
                "community": slug,
                "licence": licence,
                "language": chunk.language(row),
                "prompt": chat_to(chunk.texts, parent_id),
                "model_answer": chunk.texts[corrects_id][2],
                "human_answer": released_text(text, redacted, is_fresh),
                "author": pseudonyms(author_id),
            }


def _rated_chunks(*, community: Community | None) -> Iterator[tuple[_AnswerChunk, dict[int, dict[str, list[int]]]]]:
    """`_answer_chunks` of the rated answers, each with its answers' ratings by answer and scale."""
    erased = ErasureRequest.objects.values("user_pk")
    for chunk in _answer_chunks(community=community, candidates=Rating.objects.all(), field="answer_id"):
        ratings: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for answer_id, scale, value in (
            Rating.objects.filter(AnyOf(F("answer_id"), chunk.ids()))
            .exclude(volunteer_id__in=erased)
            .values_list("answer_id", "scale__name", "value")
        ):
            ratings[answer_id][scale].append(value)
        yield chunk, ratings


def rated_answers(*, community: Community | None) -> Iterator[dict]:
    for chunk, ratings in read_ahead(_rated_chunks(community=community)):
        for row in chunk.answers:
            answer_id, parent_id, _, text, redacted, is_fresh, _, _, slug, licence, _ = row
            yield {
                "id": answer_id,
                "community": slug,
                "licence": licence,
                "language": chunk.language(row),
                "prompt": chat_to(chunk.texts, parent_id),
                "completion": released_text(text, redacted, is_fresh),
                "ratings": {scale: values for scale, values in ratings[answer_id].items()},
            }


def tree_messages_count(*, community: Community | None) -> int:
    """About how many messages `tree_messages` gives, for the progress bar: the messages of the
    community's conversations, of which the release leaves some out (counting exactly costs
    as much as a quarter of reading them: 2.6 s against 0.6 s on a pool of 3 million)."""
    conversations = Conversation.objects.all() if community is None else community.conversations.all()
    return Message.objects.filter(conversation_id__in=conversations.values("pk")).count()


@dataclass
class _ConversationChunk:
    """What one range of conversations gives a release: the accepted conversations of the range
    by id (id, community slug, licence, community language), their messages as rows of
    `_TREE_COLUMNS` and their accepted battles as rows of `_BATTLE_COLUMNS`, both in order of
    conversation, then id, and their messages' reviews."""

    conversations: dict[int, tuple[int, str, str, str]]
    messages: list[tuple]
    battles: list[tuple]
    languages: dict[int, str]
    accepted: set[int]  # answers written by people whose quality gate accepted them
    ratings: dict[int, dict[str, list[int]]]
    flags: dict[int, dict[str, int]]
    reviews: dict[int, int]
    ranks: dict[int, list[int]]


_TREE_COLUMNS = (
    "id", "parent_id", "conversation_id", "role", "text", "text_redacted", "is_fresh", "author_id",
    "endpoint__name", "external_model", "created", "moderation_status",
)  # fmt: skip


def _conversation_chunks(*, community: Community | None) -> Iterator[_ConversationChunk]:
    """The accepted conversations without an open high-severity flag, in chunks of CHUNK, each
    read by its range of ids (`conversation_id BETWEEN first AND last`), not by a list of
    thousands of ids, which costs more to send and to plan than to read."""
    conversations = (
        conversations_accepted(community=community)
        .exclude(conversation_flagged_high_q("pk"))
        .order_by("pk")
        .values_list("id", "community__slug", "community__licence_name", "community__language")
    )
    erased = ErasureRequest.objects.values("user_pk")
    messages = (
        _with_freshness(Message.objects.annotate(created=UtcIso("created_at")))
        .order_by("conversation_id", "pk")
        .values_list(*_TREE_COLUMNS)
    )
    # The battles in one streamed query, in order of conversation, taken chunk by chunk: asked
    # per chunk, PostgreSQL joined each chunk's battles to a scan of all the conversations (for
    # their moderation status), 165 ms a chunk on a million battles.
    battle_rows = (
        _battles_judged_acceptable(community=community)
        .annotate(tstamp=EpochSeconds("voted_at"))
        .order_by("conversation_id", "pk")
        .values_list(*_BATTLE_COLUMNS)
        .iterator(chunk_size=CHUNK)
    )
    next_battle = next(battle_rows, None)
    for conversation_chunk in batched(conversations.iterator(chunk_size=CHUNK), CHUNK):
        first, last = conversation_chunk[0][0], conversation_chunk[-1][0]
        in_range = Q(conversation_id__gte=first, conversation_id__lte=last)
        accepted_conversations = {row[0]: row for row in conversation_chunk}
        battles = []
        while next_battle is not None and next_battle[1] <= last:
            if next_battle[1] in accepted_conversations:
                battles.append(next_battle)
            next_battle = next(battle_rows, None)
        rows = list(messages.filter(in_range))
        ids = [row[0] for row in rows]
        chunk = _ConversationChunk(
            conversations=accepted_conversations,
            messages=rows,
            battles=battles,
            languages=_conversation_languages(in_range),
            accepted=set(
                ReviewGate.objects.filter(AnyOf(F("message_id"), ids), is_accepted=True).values_list(
                    "message_id", flat=True
                )
            ),
            ratings=defaultdict(lambda: defaultdict(list)),
            flags=defaultdict(lambda: defaultdict(int)),
            reviews=defaultdict(int),
            ranks=defaultdict(list),
        )
        for answer_id, scale, value in (
            Rating.objects.filter(AnyOf(F("answer_id"), ids))
            .exclude(volunteer_id__in=erased)
            .values_list("answer_id", "scale__name", "value")
        ):
            chunk.ratings[answer_id][scale].append(value)
        for answer_id, labels in (
            FlagResponse.objects.filter(AnyOf(F("answer_id"), ids))
            .exclude(volunteer_id__in=erased)
            .values_list("answer_id", "labels")
        ):
            chunk.reviews[answer_id] += 1
            for label in labels:
                chunk.flags[answer_id][label] += 1
        for order in (
            Ranking.objects.filter(AnyOf(F("prompt_id"), ids))
            .exclude(volunteer_id__in=erased)
            .values_list("order", flat=True)
        ):
            for place, group in enumerate(order):
                for answer_id in group:
                    chunk.ranks[answer_id].append(place)
        yield chunk


BATTLE, MESSAGE = "battle", "message"


def battles_and_messages(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[tuple[str, dict]]:
    """One pass over the accepted conversations, a chunk at a time: (`BATTLE`, battle) for each
    of their accepted battles and (`MESSAGE`, message) for each message of their message trees.
    Each message's text is redacted once, for both. Both come in order of their conversation,
    then of id, whatever the size of the chunks.

    A battle is a vote with the chats of its two sides down to their answers (`chat_to`). A
    message carries its review labels (mean ratings per scale, flag counts per label) and,
    among siblings that were ranked, its mean rank; `created_date` is already in
    `formats.created_date_format`'s form.

    Left out of the trees, each with anything under it: a message written by someone who asked
    for erasure (a correction in another person's conversation), one a moderator hid or
    removed, and an answer written by a person (a correction, a donated conversation's answer)
    that has not passed its quality gate. Conversations with an open high-severity flag wait
    for a moderator, with their battles.
    """
    erased_ids = set(ErasureRequest.objects.values_list("user_pk", flat=True))
    assistant, visible = Message.Role.ASSISTANT.value, ModerationStatus.VISIBLE.value
    for chunk in read_ahead(_conversation_chunks(community=community)):
        conversations, ratings, flags, ranks = chunk.conversations, chunk.ratings, chunk.flags, chunk.ranks
        texts = {
            row[0]: (row[1], row[3], released_text(row[4], row[5], row[6]))
            for row in chunk.messages
            if row[2] in conversations
        }
        for row in chunk.battles:
            yield BATTLE, _battle(row, texts, pseudonyms)
        left_out: set[int] = set()  # not released, and so neither is what follows it
        for (
            message_id, parent_id, conversation_id, role, _, _, _, author_id, model, external_model, created, status,
        ) in chunk.messages:  # by conversation, then id: a parent before its children  # fmt: skip
            conversation = conversations.get(conversation_id)
            if conversation is None:  # in the range, not accepted
                continue
            if (
                author_id in erased_ids
                or parent_id in left_out
                or status != visible
                or (role == assistant and model is None and message_id not in chunk.accepted)
            ):
                left_out.add(message_id)
                continue
            _, slug, licence, community_language = conversation
            labels = (
                {scale: sum(v) / len(v) for scale, v in ratings[message_id].items()} if message_id in ratings else {}
            )
            if message_id in flags:
                labels.update(flags[message_id])
            places = ranks.get(message_id)
            yield (
                MESSAGE,
                {
                    "message_id": f"m-{message_id}",
                    "parent_id": f"m-{parent_id}" if parent_id else None,
                    "conversation_id": f"c-{conversation_id}",
                    "role": role,
                    "text": texts[message_id][2],
                    "lang": chunk.languages.get(conversation_id) or community_language,
                    "author": pseudonyms(author_id),
                    "model": model or external_model or None,
                    "created_date": created,
                    "rank": sum(places) / len(places) if places else None,
                    "labels": labels,
                    "review_count": chunk.reviews.get(message_id, 0),
                    "community": slug,
                    "licence": licence,
                },
            )


def tree_messages(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    """The messages of the message trees, as `battles_and_messages` gives them (it reads the
    battles too)."""
    return (item for kind, item in battles_and_messages(community=community, pseudonyms=pseudonyms) if kind == MESSAGE)


def _claim_chunks(
    *, community: Community | None
) -> Iterator[tuple[_AnswerChunk, dict[int, list[tuple[int, str]]], dict[int, dict[str, int]], dict[int, set[int]]]]:
    """`_answer_chunks` of the answers split into claims, each with its answers' claims (id,
    text) in order, the votes per claim and label, and the annotators per answer."""
    erased = ErasureRequest.objects.values("user_pk")
    for chunk in _answer_chunks(
        community=community,
        candidates=ClaimLabel.objects.filter(claim__author__isnull=True),
        field="claim__answer_id",
    ):
        claims: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for claim_id, answer_id, text in (
            Claim.objects.filter(AnyOf(F("answer_id"), chunk.ids()), author__isnull=True)
            .order_by("position", "pk")
            .values_list("id", "answer_id", "text")
        ):
            claims[answer_id].append((claim_id, text))
        votes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        annotators: dict[int, set[int]] = defaultdict(set)
        for claim_id, answer_id, volunteer_id, verdict in (
            ClaimLabel.objects.filter(AnyOf(F("claim__answer_id"), chunk.ids()), claim__author__isnull=True)
            .exclude(volunteer_id__in=erased)
            .values_list("claim_id", "claim__answer_id", "volunteer_id", "verdict")
        ):
            votes[claim_id][verdict] += 1
            annotators[answer_id].add(volunteer_id)
        yield chunk, claims, votes, annotators


def claim_annotations(*, community: Community | None) -> Iterator[dict]:
    for chunk, claims, votes, annotators in read_ahead(_claim_chunks(community=community)):
        for row in chunk.answers:
            answer_id, parent_id, _, text, redacted, is_fresh, _, _, slug, licence, _ = row
            prompt = chunk.texts.get(parent_id)
            yield {
                "answer_id": f"m-{answer_id}",
                "community": slug,
                "licence": licence,
                "language": chunk.language(row),
                "prompt": prompt[2] if prompt else "",
                "answer": released_text(text, redacted, is_fresh),
                "claims": [
                    {
                        "text": pii_redact(claim_text),
                        "labels": {label: votes[claim_id].get(label, 0) for label in CLAIM_LABELS},
                    }
                    for claim_id, claim_text in claims[answer_id]
                ],
                "annotators": len(annotators[answer_id]),
            }
