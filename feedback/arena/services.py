"""Writes for the arena: starting a turn, recording answers, finishing a turn, voting.

These are the only functions that create or change a Battle.
"""

import random
import uuid
from contextlib import nullcontext

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected, Unavailable
from community.models import Community, User
from community.selectors import sanction_check, user_may_contribute
from feedback.arena.identity import answer_reveals_identity, identity_terms
from feedback.arena.selectors import (
    arena_endpoints_available,
    battle_get_for_vote,
    battle_ready_for_vote_sql,
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

    # PostgreSQL: the whole vote in one statement when it can be recorded. When it records
    # nothing (or on SQLite), the transaction below finds out why, or returns a replay's result.
    if connection.vendor == "postgresql" and judge.is_active:
        try:
            # Inside a caller's transaction, a savepoint: a refused key leaves it usable.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                battle = _battle_vote_statement(judge=judge, battle_id=battle_id, winner=winner, key=key)
        except IntegrityError:
            raise Conflict("That idempotency key was already used for another vote.") from None
        if battle is not None:
            return battle

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


def _loaded(model, **values):
    """An instance of `model` as the ORM loads one with only these fields (the others deferred,
    read on first use): `from_db` takes the values in the order of the model's fields."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def _battle_vote_statement(*, judge: User, battle_id: object, winner: str, key: uuid.UUID) -> Battle | None:
    """The vote as one statement on PostgreSQL, committed on its own in autocommit: the voted
    battle with its community, models and conversation, or None when it recorded nothing (not
    the judge's battle, not ready, voted already, the judge not a member under the current
    licence, or sanctioned). Raises IntegrityError when the key was used for another battle.

    Raw SQL, because the ORM has no data-modifying CTE and no UPDATE ... FROM ... RETURNING; the
    conditions are the ORM's own (`battle_ready_for_vote_sql`, those `battle_get_for_vote`
    reads). `locked` locks the battle and its conversation rows, in the slow path's order (one
    `FOR UPDATE OF` both), so a vote on this battle or another of this conversation waits for
    ours to commit; after the wait, PostgreSQL reads the rows' newest versions and checks the
    conditions again (so a second vote on this battle finds it voted and records nothing, and
    a vote on another battle of the conversation finds its names revealed). `voted` writes the
    vote, blind only if the names were not revealed before; `reveal` sets the conversation's
    `names_revealed_at` at its first vote (`IS NULL` checked against the newest, locked row).
    The time is taken before the statement waits, so a vote that waited for another's reveal
    is dated no earlier than it (as the slow path, which reads the clock after its locks)."""
    try:
        battle_id = int(battle_id)
    except (ValueError, TypeError):
        return None  # no battle has that id: the slow path says 404
    if not -(2**63) <= battle_id < 2**63:
        return None
    now = timezone.now()
    ready_sql, ready_params = battle_ready_for_vote_sql(judge=judge, battle_id=battle_id, now=now)
    battle_table = connection.ops.quote_name(Battle._meta.db_table)
    conversation_table = connection.ops.quote_name(Conversation._meta.db_table)
    fields = Battle._meta.concrete_fields
    columns = ", ".join(f"v.{connection.ops.quote_name(field.column)}" for field in fields)
    returned = ", ".join(f"b.{connection.ops.quote_name(field.column)}" for field in fields)
    sql = f"""
        WITH locked (id, conversation_id, revealed_before) AS (
            {ready_sql} FOR UPDATE OF {battle_table}, {conversation_table}
        ), voted AS (
            UPDATE {battle_table} AS b
            SET winner = %s, status = %s, voted_at = GREATEST(%s, locked.revealed_before), vote_idempotency_key = %s,
                is_blind = b.is_blind AND locked.revealed_before IS NULL
            FROM locked WHERE b.id = locked.id
            RETURNING {returned}, locked.revealed_before
        ), reveal AS (
            UPDATE {conversation_table} AS c SET names_revealed_at = v.voted_at
            FROM voted AS v WHERE c.id = v.conversation_id AND c.names_revealed_at IS NULL
        )
        SELECT {columns}, v.revealed_before, community.slug, community.name, model_a.name, model_b.name
        FROM voted AS v
        JOIN {connection.ops.quote_name(Community._meta.db_table)} AS community ON community.id = v.community_id
        JOIN {connection.ops.quote_name(ModelEndpoint._meta.db_table)} AS model_a ON model_a.id = v.model_a_id
        JOIN {connection.ops.quote_name(ModelEndpoint._meta.db_table)} AS model_b ON model_b.id = v.model_b_id
    """  # noqa: S608 (names from the models, every value a parameter)
    with connection.cursor() as cursor:
        cursor.execute(sql, (*ready_params, winner, Battle.Status.VOTED, now, key))
        row = cursor.fetchone()
    if row is None:
        return None
    values, (revealed_before, slug, community_name, name_a, name_b) = row[: len(fields)], row[len(fields) :]
    battle = Battle.from_db(connection.alias, [field.attname for field in fields], values)
    battle.community = _loaded(Community, id=battle.community_id, slug=slug, name=community_name)
    battle.model_a = _loaded(ModelEndpoint, id=battle.model_a_id, name=name_a)
    battle.model_b = _loaded(ModelEndpoint, id=battle.model_b_id, name=name_b)
    battle.conversation = _loaded(
        Conversation, id=battle.conversation_id, names_revealed_at=revealed_before or battle.voted_at
    )
    return battle
