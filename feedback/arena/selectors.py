"""Reads for the arena, each scoped to who is asking."""

from django.db.models import Q, QuerySet
from django.http import Http404

from community.models import Community, User
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
    path = []
    node: Message | None = by_id.get(message.pk, message)
    while node is not None:
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path
