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
from feedback.models import (
    Battle,
    Claim,
    ClaimLabel,
    Conversation,
    Donation,
    Message,
    ModerationStatus,
    Rating,
    ReviewGate,
)
from feedback.moderation.gates import message_accepted_q
from feedback.moderation.selectors import answer_accepted_q, battle_accepted_q, conversation_flagged_high_q
from feedback.privacy.pii import pii_redact, redacted_text_of

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


_MESSAGE_COLUMNS = (
    "id", "parent_id", "conversation_id", "role", "text", "text_redacted", "redacted_from", "author_id",
    "endpoint__name", "external_model", "created_at", "moderation_status",
)  # fmt: skip


def _message_dicts(messages: QuerySet[Message]) -> Iterator[dict]:
    """The messages as dicts of `_MESSAGE_COLUMNS`, each `text` already redacted (from the
    redaction stored with the message, computed anew only where the text changed since)."""
    for row in messages.values_list(*_MESSAGE_COLUMNS):
        message = dict(zip(_MESSAGE_COLUMNS, row, strict=True))
        text, redacted, redacted_from = message.pop("text"), message.pop("text_redacted"), message.pop("redacted_from")
        message["text"] = redacted_text_of(text, redacted, redacted_from)
        yield message


def _messages_of(conversation_ids: Iterable[int]) -> dict[int, dict]:
    """The messages of these conversations by id (see `_message_dicts`)."""
    rows = Message.objects.filter(conversation_id__in=list(conversation_ids))
    return {message["id"]: message for message in _message_dicts(rows)}


def _texts_of_battles(first: int, last: int) -> dict[int, tuple[int | None, str, str]]:
    """(parent id, role, redacted text) of the messages of the conversations of the battles
    with ids from `first` to `last`, by id: what those battles' conversations need. (A
    subquery on the range of battle ids, not a list of thousands of conversation ids, which
    costs more to send and to plan than to read.)"""
    conversations = Battle.objects.filter(id__range=(first, last)).values("conversation_id")
    return {
        message_id: (parent_id, role, redacted_text_of(text, redacted, redacted_from))
        for message_id, parent_id, role, text, redacted, redacted_from in Message.objects.filter(
            conversation_id__in=conversations
        ).values_list("id", "parent_id", "role", "text", "text_redacted", "redacted_from")
    }


def _path(messages: dict[int, dict], message_id: int) -> list[dict]:
    path = []
    node = messages.get(message_id)
    while node is not None:
        path.append(node)
        node = messages.get(node["parent_id"])
    path.reverse()
    return path


def _chat(path: list[dict]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["text"]} for m in path]


def _chat_to(texts: dict[int, tuple[int | None, str, str]], message_id: int) -> list[dict[str, str]]:
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
    "turn", "is_blind", "language", "voted_at", "community__slug", "community__licence_name",
)  # fmt: skip


def _battles_accepted(*, community: Community | None) -> QuerySet[Battle]:
    """Voted battles of accepted conversations whose prompts and answers are all visible, with
    no open high-severity flag, from judges the community's trust policy does not exclude."""
    return Battle.objects.filter(
        status=Battle.Status.VOTED, conversation__in=conversations_accepted(community=community)
    ).filter(battle_accepted_q())


def battles_count(*, community: Community | None) -> int:
    """How many battles `battles` gives (for the progress bar)."""
    return _battles_accepted(community=community).count()


def battles(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    rows = _battles_accepted(community=community).order_by("pk").values_list(*_BATTLE_COLUMNS)
    for chunk in batched(rows.iterator(chunk_size=CHUNK), CHUNK):
        texts = _texts_of_battles(chunk[0][0], chunk[-1][0])
        for (
            battle_id, _, answer_a_id, answer_b_id, model_a, model_b, winner, judge_id, turn, is_blind, language,
            voted_at, slug, licence,
        ) in chunk:  # fmt: skip
            yield {
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
                "tstamp": voted_at.timestamp(),
                "conversation_a": _chat_to(texts, answer_a_id),
                "conversation_b": _chat_to(texts, answer_b_id),
            }


def _answer_chunks(
    *, community: Community | None, candidates: QuerySet, field: str, extra: Q | None = None
) -> Iterator[list[Message]]:
    """Visible answers (under visible prompts) of accepted conversations without an open
    high-severity flag, among the messages whose ids `field` of `candidates` holds (a small
    table: ratings, claim labels, accepted review gates), in chunks, in order of id.

    Reading the few candidates first and checking each chunk's answers against the accepted
    conversations one by one costs a few index lookups per answer; the join the other way round
    matched every answer of the pool first (12 s on a pool of a million battles).
    """
    ids = candidates.order_by(field).values_list(field, flat=True).distinct()
    accepted = conversations_accepted(community=community).filter(pk=OuterRef("conversation_id"))
    for chunk in batched(ids.iterator(chunk_size=CHUNK), CHUNK):
        rows = (
            Message.objects.filter(pk__in=chunk, role=Message.Role.ASSISTANT)
            .filter(Exists(accepted), answer_accepted_q())
            .filter(extra or Q())
            .select_related("conversation__community")
            .order_by("pk")
        )
        answers = list(rows)
        if answers:
            yield answers


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
    for chunk in _answer_chunks(
        community=community,
        candidates=ReviewGate.objects.filter(is_accepted=True),
        field="message_id",
        extra=Q(author__isnull=False, corrects__isnull=False)
        & ~Q(author_id__in=ErasureRequest.objects.values("user_pk")),
    ):
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
                "model_answer": messages[correction.corrects_id]["text"],
                "human_answer": correction.text_for_release,
                "author": pseudonyms(correction.author_id),
            }


def rated_answers(*, community: Community | None) -> Iterator[dict]:
    erased = ErasureRequest.objects.values("user_pk")
    for chunk in _answer_chunks(community=community, candidates=Rating.objects.all(), field="answer_id"):
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
                "completion": answer.text_for_release,
                "ratings": {scale: values for scale, values in ratings[answer.pk].items()},
            }


def tree_messages_count(*, community: Community | None) -> int:
    """About how many messages `tree_messages` gives (for the progress bar: it counts the
    messages of erased contributors it leaves out)."""
    return Message.objects.filter(conversation__in=conversations_accepted(community=community)).count()


def tree_messages(*, community: Community | None, pseudonyms: Pseudonyms) -> Iterator[dict]:
    """Every message of the accepted conversations, with its review labels (mean ratings per
    scale, flag counts per label) and, among siblings that were ranked, its mean rank.

    Left out, each with anything under it: a message written by someone who asked for erasure
    (a correction in another person's conversation), one a moderator hid or removed, and an
    answer written by a person (a correction, a donated conversation's answer) that has not
    passed its quality gate. Conversations with an open high-severity flag wait for a moderator.

    Each chunk of conversations is read by its range of ids (`conversation_id BETWEEN first AND
    last`), not by a list of thousands of ids, which costs more to send and to plan than to
    read; conversations in the range that are not accepted are skipped here.
    """
    from feedback.models import FlagResponse, Ranking

    conversations = (
        conversations_accepted(community=community)
        .exclude(conversation_flagged_high_q("pk"))
        .order_by("pk")
        .values_list("id", "community__slug", "community__licence_name", "community__language")
    )
    erased = ErasureRequest.objects.values("user_pk")
    erased_ids = set(erased.values_list("user_pk", flat=True))
    for chunk in batched(conversations.iterator(chunk_size=CHUNK), CHUNK):
        by_id = {row[0]: row for row in chunk}
        first, last = chunk[0][0], chunk[-1][0]
        messages = [message for message in _messages_in(first, last) if message["conversation_id"] in by_id]
        languages = _conversation_languages_in(first, last)
        accepted = set(
            ReviewGate.objects.filter(
                message__conversation_id__gte=first, message__conversation_id__lte=last, is_accepted=True
            ).values_list("message_id", flat=True)
        )
        ratings: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for answer_id, scale, value in (
            Rating.objects.filter(answer__conversation_id__gte=first, answer__conversation_id__lte=last)
            .exclude(volunteer_id__in=erased)
            .values_list("answer_id", "scale__name", "value")
        ):
            ratings[answer_id][scale].append(value)
        flags: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        reviews: dict[int, int] = defaultdict(int)
        for answer_id, labels in (
            FlagResponse.objects.filter(answer__conversation_id__gte=first, answer__conversation_id__lte=last)
            .exclude(volunteer_id__in=erased)
            .values_list("answer_id", "labels")
        ):
            reviews[answer_id] += 1
            for label in labels:
                flags[answer_id][label] += 1
        ranks: dict[int, list[int]] = defaultdict(list)
        for order in (
            Ranking.objects.filter(prompt__conversation_id__gte=first, prompt__conversation_id__lte=last)
            .exclude(volunteer_id__in=erased)
            .values_list("order", flat=True)
        ):
            for place, group in enumerate(order):
                for answer_id in group:
                    ranks[answer_id].append(place)
        left_out: set[int] = set()  # not released, and so neither is what follows it
        for message in messages:  # in order of id: a parent before its children
            message_id, parent_id = message["id"], message["parent_id"]
            person_answer = message["role"] == Message.Role.ASSISTANT and message["endpoint__name"] is None
            if (
                message["author_id"] in erased_ids
                or parent_id in left_out
                or message["moderation_status"] != ModerationStatus.VISIBLE
                or (person_answer and message_id not in accepted)
            ):
                left_out.add(message_id)
                continue
            conversation_id, slug, licence, community_language = by_id[message["conversation_id"]]
            labels = (
                {scale: sum(v) / len(v) for scale, v in ratings[message_id].items()} if message_id in ratings else {}
            )
            if message_id in flags:
                labels.update(flags[message_id])
            places = ranks.get(message_id)
            yield {
                "message_id": f"m-{message_id}",
                "parent_id": f"m-{parent_id}" if parent_id else None,
                "conversation_id": f"c-{conversation_id}",
                "role": message["role"],
                "text": message["text"],
                "lang": languages.get(conversation_id) or community_language,
                "author": pseudonyms(message["author_id"]),
                "model": message["endpoint__name"] or message["external_model"] or None,
                "created_date": message["created_at"],
                "rank": sum(places) / len(places) if places else None,
                "labels": labels,
                "review_count": reviews.get(message_id, 0),
                "community": slug,
                "licence": licence,
            }


def _messages_in(first: int, last: int) -> list[dict]:
    """The messages of the conversations with ids from `first` to `last`, in order of id (see
    `_message_dicts`)."""
    rows = Message.objects.filter(conversation_id__gte=first, conversation_id__lte=last).order_by("pk")
    return list(_message_dicts(rows))


def _conversation_languages_in(first: int, last: int) -> dict[int, str]:
    languages: dict[int, str] = {}
    for conversation_id, language in (
        Battle.objects.filter(conversation_id__gte=first, conversation_id__lte=last)
        .order_by("turn")
        .values_list("conversation_id", "language")
    ):
        languages.setdefault(conversation_id, language)
    return languages


def claim_annotations(*, community: Community | None) -> Iterator[dict]:
    erased = ErasureRequest.objects.values("user_pk")
    for chunk in _answer_chunks(
        community=community,
        candidates=ClaimLabel.objects.filter(claim__author__isnull=True),
        field="claim__answer_id",
    ):
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
                "prompt": prompt["text"] if prompt else "",
                "answer": answer.text_for_release,
                "claims": [
                    {
                        "text": pii_redact(c.text),
                        "labels": {v: votes[c.pk].get(v, 0) for v in ("true", "false", "subjective", "unverifiable")},
                    }
                    for c in claims[answer.pk]
                ],
                "annotators": len(annotators[answer.pk]),
            }
