"""Creating task items from what enters the pool."""

from django.conf import settings
from django.db import transaction

from feedback.models import Battle, Message, TaskItem, TaskKind


def task_item_ensure(*, kind: str, answer: Message | None = None, prompt: Message | None = None) -> TaskItem:
    """The (non-gold) item of this kind for this answer or prompt, created if missing."""
    target = answer or prompt
    conversation = target.conversation
    item, _ = TaskItem.objects.get_or_create(
        kind=kind,
        answer=answer,
        prompt=prompt,
        is_gold=False,
        defaults={
            "community": conversation.community,
            "language": _language_of(target),
            "topic": conversation.topic,
            "required_responses": conversation.community.responses_per_item,
        },
    )
    return item


def _language_of(message: Message) -> str:
    battle = Battle.objects.filter(conversation_id=message.conversation_id).order_by("turn").first()
    return battle.language if battle else message.conversation.community.language


def task_items_create_for_answer(*, answer: Message) -> list[TaskItem]:
    """Queue the review of a new answer: rating and flagging for every answer; for a model's
    answer also a better answer to write and, once the community's model has split it into
    claims, claim checking. A prompt with three answers or more gets a ranking item."""
    kinds = [TaskKind.RATE, TaskKind.FLAG]
    if not answer.is_human_answer:
        kinds.append(TaskKind.CORRECT)
    items = [task_item_ensure(kind=kind, answer=answer) for kind in kinds]
    if not answer.is_human_answer:
        from feedback.tasks import answer_claims_split

        transaction.on_commit(lambda: answer_claims_split.delay(answer.pk))
    if answer.parent_id and answer.parent.children.filter(role=Message.Role.ASSISTANT).count() >= 3:
        items.append(task_item_ensure(kind=TaskKind.RANK, prompt=answer.parent))
    return items


def gold_item_create(
    *, kind: str, gold_answer: dict, answer: Message | None = None, prompt: Message | None = None
) -> TaskItem:
    """A gold item (known answer) for measuring volunteers; served at the community's gold rate."""
    target = answer or prompt
    return TaskItem.objects.create(
        community=target.conversation.community,
        kind=kind,
        answer=answer,
        prompt=prompt,
        is_gold=True,
        gold_answer=gold_answer,
        required_responses=settings.TASK_GOLD_RESPONSES,
        language=_language_of(target),
    )
