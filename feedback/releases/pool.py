"""Reading the pool for a release: what goes in, in chunks, as the plain dicts `formats` takes.

What goes in: conversations of the community whose owner has not asked for erasure and that
are arena conversations with at least one vote or donated conversations; within them voted
battles, human corrections, ratings, and claim checks. (When moderation lands, items it hid or
has not accepted are left out here, in `conversations_accepted`.)

Everything a person wrote or a model answered passes the personal-information redactor, and
every contributor id becomes a pseudonym from a keyed hash (HMAC-SHA256) whose key is never
published; the release id is part of the hashed message, so pseudonyms differ between releases.

Reads are chunked: battles and answers are streamed with `.iterator()` (a server-side cursor
on PostgreSQL) and the messages they need are fetched per chunk of conversations, so memory
does not grow with the size of the pool.
"""

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import islice

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from community.models import Community, ErasureRequest
from feedback.models import Battle, Claim, ClaimLabel, Conversation, Donation, Message, Rating
from feedback.privacy.pii import pii_redact

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
    erased = ErasureRequest.objects.values("user_pk")
    conversations = Conversation.objects.exclude(owner_id__in=erased).filter(
        Exists(Battle.objects.filter(conversation=OuterRef("pk"), status=Battle.Status.VOTED))
        | Exists(Donation.objects.filter(conversation=OuterRef("pk"), status=Donation.Status.DONATED))
    )
    if community is not None:
        conversations = conversations.filter(community=community)
    return conversations


def _messages_of(conversation_ids: Iterable[int]) -> dict[int, dict]:
    return {
        m["id"]: m
        for m in Message.objects.filter(conversation_id__in=list(conversation_ids)).values(
            "id", "parent_id", "conversation_id", "role", "text", "author_id", "endpoint__name", "external_model",
            "created_at",
        )
    }  # fmt: skip


def _path(messages: dict[int, dict], message_id: int) -> list[dict]:
    path = []
    node = messages.get(message_id)
    while node is not None:
        path.append(node)
        node = messages.get(node["parent_id"])
    path.reverse()
    return path


def _chat(path: list[dict]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": pii_redact(m["text"])} for m in path]


def battles(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    rows = (
        Battle.objects.filter(status=Battle.Status.VOTED, conversation__in=conversations_accepted(community=community))
        .select_related("model_a", "model_b", "community")
        .order_by("pk")
    )
    for chunk in batched(rows.iterator(chunk_size=CHUNK), CHUNK):
        messages = _messages_of({b.conversation_id for b in chunk})
        for battle in chunk:
            yield {
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
                "conversation_a": _chat(_path(messages, battle.answer_a_id)),
                "conversation_b": _chat(_path(messages, battle.answer_b_id)),
            }


def _answers(*, community: Community | None, extra: Q) -> QuerySet[Message]:
    return (
        Message.objects.filter(
            role=Message.Role.ASSISTANT, conversation__in=conversations_accepted(community=community)
        )
        .filter(extra)
        .select_related("conversation__community")
        .order_by("pk")
    )


def _language(conversation_languages: dict[int, str], message: Message) -> str:
    return conversation_languages.get(message.conversation_id) or message.conversation.community.language


def _conversation_languages(conversation_ids: set[int]) -> dict[int, str]:
    languages: dict[int, str] = {}
    for conversation_id, language in (
        Battle.objects.filter(conversation_id__in=conversation_ids)
        .order_by("turn")
        .values_list("conversation_id", "language")
    ):
        languages.setdefault(conversation_id, language)
    return languages


def corrections(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    rows = _answers(community=community, extra=Q(author__isnull=False, corrects__isnull=False)).exclude(
        author_id__in=ErasureRequest.objects.values("user_pk")
    )
    for chunk in batched(rows.iterator(chunk_size=CHUNK), CHUNK):
        conversation_ids = {m.conversation_id for m in chunk}
        messages, languages = _messages_of(conversation_ids), _conversation_languages(conversation_ids)
        for correction in chunk:
            community_ = correction.conversation.community
            yield {
                "id": correction.pk,
                "community": community_.slug,
                "licence": community_.licence_name,
                "language": _language(languages, correction),
                "prompt": _chat(_path(messages, correction.parent_id)),
                "model_answer": pii_redact(messages[correction.corrects_id]["text"]),
                "human_answer": pii_redact(correction.text),
                "author": pseudonyms(correction.author_id),
            }


def rated_answers(*, community: Community | None) -> Iterator[dict]:
    erased = ErasureRequest.objects.values("user_pk")
    rows = _answers(community=community, extra=Q(Exists(Rating.objects.filter(answer=OuterRef("pk")))))
    for chunk in batched(rows.iterator(chunk_size=CHUNK), CHUNK):
        conversation_ids = {m.conversation_id for m in chunk}
        messages, languages = _messages_of(conversation_ids), _conversation_languages(conversation_ids)
        ratings: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for answer_id, scale, value in (
            Rating.objects.filter(answer_id__in=[m.pk for m in chunk])
            .exclude(volunteer_id__in=erased)
            .values_list("answer_id", "scale__name", "value")
        ):
            ratings[answer_id][scale].append(value)
        for answer in chunk:
            community_ = answer.conversation.community
            yield {
                "id": answer.pk,
                "community": community_.slug,
                "licence": community_.licence_name,
                "language": _language(languages, answer),
                "prompt": _chat(_path(messages, answer.parent_id)),
                "completion": pii_redact(answer.text),
                "ratings": {scale: values for scale, values in ratings[answer.pk].items()},
            }


def tree_messages(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    """Every message of the accepted conversations, with its review labels (mean ratings per
    scale, flag counts per label) and, among siblings that were ranked, its mean rank."""
    from feedback.models import FlagResponse, Ranking

    conversations = conversations_accepted(community=community).select_related("community").order_by("pk")
    erased = ErasureRequest.objects.values("user_pk")
    for chunk in batched(conversations.iterator(chunk_size=CHUNK), CHUNK):
        by_id = {c.pk: c for c in chunk}
        messages = _messages_of(by_id)
        ids = list(messages)
        languages = _conversation_languages(set(by_id))
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
        for order in (
            Ranking.objects.filter(prompt_id__in=ids).exclude(volunteer_id__in=erased).values_list("order", flat=True)
        ):
            for place, group in enumerate(order):
                for answer_id in group:
                    ranks[answer_id].append(place)
        for message in messages.values():
            conversation = by_id[message["conversation_id"]]
            labels = {scale: sum(v) / len(v) for scale, v in ratings[message["id"]].items()}
            labels.update(flags[message["id"]])
            yield {
                "message_id": f"m-{message['id']}",
                "parent_id": f"m-{message['parent_id']}" if message["parent_id"] else None,
                "conversation_id": f"c-{conversation.pk}",
                "role": message["role"],
                "text": pii_redact(message["text"]),
                "lang": languages.get(conversation.pk) or conversation.community.language,
                "author": pseudonyms(message["author_id"]),
                "model": message["endpoint__name"] or message["external_model"] or None,
                "created_date": message["created_at"].isoformat(),
                "rank": sum(ranks[message["id"]]) / len(ranks[message["id"]]) if ranks[message["id"]] else None,
                "labels": labels,
                "review_count": reviews[message["id"]],
                "community": conversation.community.slug,
                "licence": conversation.community.licence_name,
            }


def claim_annotations(*, community: Community | None) -> Iterator[dict]:
    erased = ErasureRequest.objects.values("user_pk")
    rows = _answers(
        community=community,
        extra=Q(Exists(ClaimLabel.objects.filter(claim__answer=OuterRef("pk"), claim__author__isnull=True))),
    )
    for chunk in batched(rows.iterator(chunk_size=CHUNK), CHUNK):
        conversation_ids = {m.conversation_id for m in chunk}
        messages, languages = _messages_of(conversation_ids), _conversation_languages(conversation_ids)
        claims: dict[int, list[Claim]] = defaultdict(list)
        for claim in Claim.objects.filter(answer_id__in=[m.pk for m in chunk], author__isnull=True).order_by(
            "position", "pk"
        ):
            claims[claim.answer_id].append(claim)
        votes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        annotators: dict[int, set[int]] = defaultdict(set)
        for claim_id, answer_id, volunteer_id, verdict in (
            ClaimLabel.objects.filter(claim__answer_id__in=[m.pk for m in chunk], claim__author__isnull=True)
            .exclude(volunteer_id__in=erased)
            .values_list("claim_id", "claim__answer_id", "volunteer_id", "verdict")
        ):
            votes[claim_id][verdict] += 1
            annotators[answer_id].add(volunteer_id)
        for answer in chunk:
            community_ = answer.conversation.community
            prompt = messages.get(answer.parent_id)
            yield {
                "answer_id": f"m-{answer.pk}",
                "community": community_.slug,
                "licence": community_.licence_name,
                "language": _language(languages, answer),
                "prompt": pii_redact(prompt["text"]) if prompt else "",
                "answer": pii_redact(answer.text),
                "claims": [
                    {
                        "text": pii_redact(c.text),
                        "labels": {v: votes[c.pk].get(v, 0) for v in ("true", "false", "subjective", "unverifiable")},
                    }
                    for c in claims[answer.pk]
                ],
                "annotators": len(annotators[answer.pk]),
            }
