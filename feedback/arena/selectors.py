"""Reads for the arena, each scoped to who is asking."""

from datetime import UTC, datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from community.models import Community, Membership, Sanction, User
from feedback.models import Battle, Conversation, Message
from inference.models import ModelEndpoint


def arena_endpoints_available(*, community: Community) -> QuerySet[ModelEndpoint]:
    """Endpoints the arena may draw for this community: active, not known to be down, and
    either the community's own or shared by all communities."""
    return (
        ModelEndpoint.objects.filter(is_active=True)
        .filter(Q(community=community) | Q(community__isnull=True))
        .exclude(health=ModelEndpoint.Health.DOWN)
        .order_by("pk")
    )


def battle_get_for_judge(*, judge: User, battle_id: int, for_update: bool = False) -> Battle:
    """The battle, if `judge` is the volunteer who judges it; 404 for anyone else."""
    battles = Battle.objects.select_related("model_a", "model_b", "community", "conversation")
    if for_update:
        battles = battles.select_for_update(of=("self",))
    try:
        return battles.get(pk=battle_id, judge=judge)
    except (Battle.DoesNotExist, ValueError, TypeError):
        raise Http404("No such battle.") from None


def _battles_voteable_by(judge: User, now: datetime | None = None) -> QuerySet[Battle]:
    """Battles with `judge_may_contribute` (a member of the battle's community under its current
    licence) and `judge_is_sanctioned` (a sanction in force there, or everywhere, at `now`) for
    `judge`."""
    community = OuterRef("community_id")
    current_licence = Membership.objects.filter(
        user=judge,
        community=community,
        licence_accepted_at__isnull=False,
        licence_version=OuterRef("community__licence_version"),
        licence_name=OuterRef("community__licence_name"),
    )
    in_force = Sanction.objects.filter(Q(community__isnull=True) | Q(community=community), user=judge).filter(
        Q(kind=Sanction.Kind.BAN) | Q(kind=Sanction.Kind.SUSPEND, until__gt=now or timezone.now()),
        lifted_at__isnull=True,
    )
    return Battle.objects.annotate(judge_may_contribute=Exists(current_licence), judge_is_sanctioned=Exists(in_force))


def battle_get_for_vote(*, judge: User, battle_id: object) -> Battle:
    """The judge's battle for a vote, in one statement: with its conversation (both rows locked
    until the transaction ends, so votes on a battle, and in a conversation, go one at a time),
    its models and community, and whether the judge may contribute to the community now
    (`judge_may_contribute`: a member under its current licence) and is under a sanction there
    (`judge_is_sanctioned`). 404 for anyone else's battle."""
    battles = (
        _battles_voteable_by(judge)
        .select_related("model_a", "model_b", "community", "conversation")
        .select_for_update(of=("self", "conversation"))
    )
    try:
        return battles.get(pk=battle_id, judge=judge)
    except (Battle.DoesNotExist, ValueError, TypeError):
        raise Http404("No such battle.") from None


# Stand-ins for the judge, the battle and the time, compiled into the SQL once and found among
# its parameters (`battle_ready_for_vote_sql`).
_JUDGE, _BATTLE = -(2**62) - 17, -(2**62) - 29
_NOW = datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
_ready_for_vote: dict[str, tuple[str, list, list[tuple[int, str]]]] = {}


def battle_ready_for_vote_sql(*, judge: User, battle_id: int, now: datetime) -> tuple[str, list]:
    """The SQL and parameters of a SELECT of (id, conversation id, the conversation's
    `names_revealed_at`) for the judge's battle if a vote on it would be recorded at `now`:
    ready, the judge a member under the current licence, no sanction in force. The same
    conditions as `battle_get_for_vote` checks one by one, for the vote's single statement
    (`services._battle_vote_statement`), which adds the row locks itself (`select_for_update`
    refuses to compile outside a transaction).

    The ORM compiles it once per process and database, with stand-ins for the judge, the battle
    and the time, whose places among the parameters are then filled in for each vote: compiling
    it anew took 2.6 ms of a vote's time, more than the statement itself."""
    compiled = _ready_for_vote.get(connection.alias)
    if compiled is None:
        battles = (
            _battles_voteable_by(User(pk=_JUDGE), now=_NOW)
            .filter(
                pk=_BATTLE,
                judge_id=_JUDGE,
                status=Battle.Status.READY,
                judge_may_contribute=True,
                judge_is_sanctioned=False,
            )
            .order_by()
            .values_list("pk", "conversation_id", "conversation__names_revealed_at")
        )
        sql, params = battles.query.sql_with_params()
        places = [
            (index, name)
            for index, value in enumerate(params)
            for name, stand_in in (("judge", _JUDGE), ("battle", _BATTLE), ("now", _NOW))
            if type(value) is type(stand_in) and value == stand_in
        ]
        if {name for _, name in places} != {"judge", "battle", "now"}:  # pragma: no cover (a change of the query)
            raise RuntimeError("The vote's conditions lost a parameter: " + sql)
        compiled = _ready_for_vote[connection.alias] = (sql, list(params), places)
    sql, params, places = compiled
    values = {"judge": judge.pk, "battle": battle_id, "now": now}
    params = params.copy()
    for index, name in places:
        params[index] = values[name]
    return sql, params


def conversation_get_for_owner(*, owner: User, conversation_id: int, community: Community) -> Conversation:
    try:
        return Conversation.objects.get(pk=conversation_id, owner=owner, community=community)
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such conversation.") from None


def conversation_last_battle(*, conversation: Conversation) -> Battle | None:
    return conversation.battles.select_related("model_a", "model_b").order_by("-turn", "-pk").first()


def message_history(*, message: Message) -> list[Message]:
    """The path from the root of the tree to `message`, oldest first (one query)."""
    by_id = {m.pk: m for m in Message.objects.filter(conversation_id=message.conversation_id)}
    return _path_to(by_id.get(message.pk, message), by_id)


def _path_to(message: Message | None, by_id: dict[int, Message]) -> list[Message]:
    """The path from the root of the tree to `message`, oldest first, among `by_id`."""
    path = []
    node = message
    while node is not None:
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path


def battle_shown_for(*, judge: User, community: Community, battle_id: object = None) -> Battle | None:
    """The battle the arena page opens with: the one asked for (`?battle=`, the judge's own in
    this community; 404 otherwise), else the judge's latest battle still waiting for their vote,
    so a reload never loses a battle that can be voted on. None: an empty arena."""
    battles = Battle.objects.filter(judge=judge, community=community).select_related(
        "model_a", "model_b", "community", "conversation"
    )
    if battle_id not in (None, ""):
        try:
            return battles.get(pk=battle_id)
        except (Battle.DoesNotExist, ValueError, TypeError):
            raise Http404("No such battle among yours.") from None
    return battles.filter(status=Battle.Status.READY).order_by("-created_at", "-pk").first()


def battle_threads(*, battle: Battle) -> dict[str, list[tuple[Message, Message]]]:
    """Each side's conversation up to this battle's turn, as (prompt, answer) pairs, oldest first:
    the path from the root to the side's answer (a failed turn is not on it). One query."""
    by_id = {m.pk: m for m in Message.objects.filter(conversation_id=battle.conversation_id)}
    threads = {}
    for side, answer_id in (("a", battle.answer_a_id), ("b", battle.answer_b_id)):
        path = _path_to(by_id.get(answer_id), by_id)
        threads[side] = [(path[i], path[i + 1]) for i in range(0, len(path) - 1, 2)]
    return threads
