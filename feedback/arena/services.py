"""Writes for the arena: starting a turn, recording answers, finishing a turn, voting.

These are the only functions that create or change a Battle.
"""

import random
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected, Unavailable
from community.models import Community, User
from community.selectors import sanction_check, user_may_contribute
from feedback.arena.identity import answer_reveals_identity, identity_terms
from feedback.arena.selectors import (
    arena_endpoints_available,
    battle_get_for_vote,
    conversation_get_for_owner,
    conversation_last_battle,
)
from feedback.language import language_detect
from feedback.models import Battle, Conversation, Message
from feedback.moderation.scan import scan_after_commit
from feedback.privacy.pii import text_key, text_redacted
from feedback.taskqueue.services.items import task_items_create_for_answer
from inference.models import ModelEndpoint

SIDES = ("a", "b")


def prompt_clean(text: object) -> str:
    if not isinstance(text, str):
        raise RequestRejected("Write a prompt first.")
    text = text.strip()
    if not text:
        raise RequestRejected("Write a prompt first.")
    limit = settings.ARENA_PROMPT_MAX_CHARS
    if len(text) > limit:
        raise RequestRejected(f"The prompt is {len(text):,} characters long; the limit is {limit:,}.")
    return text


def arena_pair_draw(*, community: Community) -> tuple[ModelEndpoint, ModelEndpoint]:
    """Two different endpoints, uniformly at random among the available ones, in random order."""
    endpoints = list(arena_endpoints_available(community=community))
    if len(endpoints) < 2:
        raise Unavailable("This community has fewer than two models available right now. Please try again later.")
    pair = random.sample(endpoints, 2)  # noqa: S311 (fair sampling, not cryptography)
    return pair[0], pair[1]


def battle_start(
    *, judge: User, community: Community, prompt_text: object, conversation_id: object = None, topic: object = ""
) -> Battle:
    """Start a turn: a new battle in a new conversation, or the next turn of an existing one.

    A follow-up continues from the last turn whose answers completed, with the same two
    models. Votes in a conversation whose names were already shown are not blind.
    """
    text = prompt_clean(prompt_text)
    topic = topic if isinstance(topic, str) else ""
    if topic and topic not in community.topics:
        raise RequestRejected(f"{community.name} has no topic called {topic!r}.")
    if not user_may_contribute(user=judge, community=community):
        raise NotAllowed(f"Join {community.name} and accept its data licence before contributing.")
    sanction_check(user=judge, community=community)

    previous = None
    if conversation_id not in (None, ""):
        conversation = conversation_get_for_owner(owner=judge, conversation_id=conversation_id, community=community)
        previous = conversation_last_battle(conversation=conversation)
        if previous is not None and previous.status == Battle.Status.STREAMING:
            raise Conflict("The answers to your last prompt are still coming in.")
        previous = (
            conversation.battles.filter(status__in=[Battle.Status.READY, Battle.Status.VOTED])
            .order_by("-turn")
            .select_related("model_a", "model_b", "answer_a", "answer_b")
            .first()
        )
        if previous is not None and previous.turn >= settings.ARENA_MAX_TURNS:
            raise RequestRejected(f"A battle has at most {settings.ARENA_MAX_TURNS} turns. Start a new battle.")

    with transaction.atomic():
        if previous is None:
            model_a, model_b = arena_pair_draw(community=community)
            conversation = Conversation.objects.create(community=community, owner=judge, topic=topic)
            root = Message.objects.create(conversation=conversation, role=Message.Role.USER, text=text, author=judge)
            parents = {"a": root, "b": root}
            turn = 1
        else:
            conversation = previous.conversation
            model_a, model_b = previous.model_a, previous.model_b
            parents = {
                side: Message.objects.create(
                    conversation=conversation, parent=answer, role=Message.Role.USER, text=text, author=judge
                )
                for side, answer in (("a", previous.answer_a), ("b", previous.answer_b))
            }
            turn = previous.turn + 1
        scan_after_commit(set(parents.values()))
        answers = {
            side: Message.objects.create(
                conversation=conversation, parent=parents[side], role=Message.Role.ASSISTANT, endpoint=endpoint
            )
            for side, endpoint in (("a", model_a), ("b", model_b))
        }
        return Battle.objects.create(
            community=community,
            conversation=conversation,
            turn=turn,
            judge=judge,
            model_a=model_a,
            model_b=model_b,
            answer_a=answers["a"],
            answer_b=answers["b"],
            is_blind=conversation.names_revealed_at is None,
            language=language_detect(text, default=community.language),
        )


def battle_answer_record(*, battle: Battle, side: str, text: str) -> None:
    """Store one side's finished answer; an answer that names its own model unblinds the battle."""
    endpoint = battle.model_a if side == "a" else battle.model_b
    answer_id = battle.answer_a_id if side == "a" else battle.answer_b_id
    with transaction.atomic():
        Message.objects.filter(pk=answer_id).update(
            text=text, text_redacted=text_redacted(text), redacted_from=text_key(text)
        )
        if answer_reveals_identity(text, identity_terms(endpoint.model_id)):
            Battle.objects.filter(pk=battle.pk).update(is_blind=False)


def battle_complete(*, battle: Battle, errors: dict[str, str]) -> Battle:
    """Close the turn: ready for a vote, or errored (never counted) if a side failed. Complete
    answers are queued for review (rating, flagging, correcting, claim checking)."""
    status = Battle.Status.ERRORED if errors else Battle.Status.READY
    error = " ".join(f"Model {side.upper()}: {message}" for side, message in sorted(errors.items()))
    with transaction.atomic():
        closed = Battle.objects.filter(pk=battle.pk, status=Battle.Status.STREAMING).update(
            status=status, error=error, completed_at=timezone.now()
        )
        if closed and status == Battle.Status.READY:
            answers = list(Message.objects.filter(pk__in=[battle.answer_a_id, battle.answer_b_id]))
            for answer in answers:
                task_items_create_for_answer(answer=answer)
            scan_after_commit(answers)
    return Battle.objects.select_related("model_a", "model_b", "community", "conversation").get(pk=battle.pk)


def battle_vote_cast(*, judge: User, battle_id: object, winner: object, idempotency_key: object) -> Battle:
    """Record the judge's vote, once. The same idempotency key returns the first result.

    The vote reveals the names for the whole conversation: later votes in it are not blind.
    """
    if winner not in Battle.Winner.values:
        raise RequestRejected("Choose A, B, tie or both bad.")
    try:
        key = uuid.UUID(str(idempotency_key))
    except ValueError:
        raise RequestRejected("The vote has no valid idempotency key (a UUID).") from None

    # Three statements: the battle with everything the checks need (locked with its
    # conversation), the battle's update, and, at the conversation's first vote, its reveal.
    try:
        with transaction.atomic():
            battle = battle_get_for_vote(judge=judge, battle_id=battle_id)
            if battle.vote_idempotency_key == key:
                return battle
            if not (judge.is_active and battle.judge_may_contribute):
                raise NotAllowed(f"Join {battle.community.name} and accept its data licence before voting.")
            if battle.judge_is_sanctioned:
                sanction_check(user=judge, community=battle.community)  # raises, saying why and until when
            if battle.status == Battle.Status.VOTED:
                raise Conflict("You already voted on this battle.")
            if battle.status == Battle.Status.ERRORED:
                raise Conflict("A model failed in this battle, so it cannot be voted on. Start a new battle.")
            if battle.status != Battle.Status.READY:
                raise Conflict("Wait until both answers are complete before you vote.")

            now = timezone.now()
            conversation = battle.conversation
            battle.winner = winner
            battle.status = Battle.Status.VOTED
            battle.voted_at = now
            battle.vote_idempotency_key = key
            battle.is_blind = battle.is_blind and conversation.names_revealed_at is None
            battle.save(update_fields=["winner", "status", "voted_at", "vote_idempotency_key", "is_blind"])
            if conversation.names_revealed_at is None:
                conversation.names_revealed_at = now
                conversation.save(update_fields=["names_revealed_at"])
            return battle
    except IntegrityError:
        raise Conflict("That idempotency key was already used for another vote.") from None
