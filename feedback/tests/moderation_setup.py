"""Shared set-up for the moderation tests: people with each role, and reported items."""

from dataclasses import dataclass

from community.models import Community, User
from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from feedback.models import Battle, Message, ModerationCase
from feedback.moderation.services import report_create
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import battle_ready


def moderator_of(community: Community, **fields) -> User:
    """A person with the moderator role who moderates `community`."""
    user = UserFactory(role=User.Role.MODERATOR, **fields)
    MembershipFactory(user=user, community=community, role="moderator")
    return user


def admin_user(**fields) -> User:
    return UserFactory(role=User.Role.ADMIN, **fields)


def reporter_who_saw(message: Message) -> User:
    """A member who was served a task showing `message` (so they may report it)."""
    from feedback.models import TaskAssignment, TaskItem

    community = message.conversation.community
    user = MembershipFactory(community=community).user
    item = (
        TaskItem.objects.filter(answer=message, kind="rate").first()
        or TaskItem.objects.filter(answer__parent=message, kind="rate").first()
    )
    TaskAssignment.objects.create(item=item, volunteer=user, reserved_until=item.created_at)
    return user


@dataclass
class World:
    community: Community
    other: Community
    battle: Battle
    judge: User
    volunteer: User
    moderator: User
    other_moderator: User
    admin: User


def world_create() -> World:
    """A community with a finished battle, a volunteer, its moderator, a moderator of another
    community and an admin."""
    battle = battle_ready(text_a="Call me on 555-0101, I sell watches.", text_b="Tides come from the moon.")
    community = battle.community
    other = CommunityFactory()
    return World(
        community=community,
        other=other,
        battle=battle,
        judge=battle.judge,
        volunteer=MembershipFactory(community=community).user,
        moderator=moderator_of(community),
        other_moderator=moderator_of(other),
        admin=admin_user(),
    )


def case_reported(world: World, *, message: Message | None = None, reason: str = "spam") -> ModerationCase:
    """A case made by one real report (by the battle's judge, who saw the answer)."""
    message = message or world.battle.answer_a
    report_create(reporter=world.judge, target_kind="message", target_id=message.pk, reason=reason)
    return ModerationCase.objects.get(message=message)


def served_answer_ids(user: User) -> set[int]:
    """Every answer the task queue would serve `user` (each reservation taken and skipped)."""
    from feedback.taskqueue.services.queue import task_skip

    served = set()
    while True:
        assignment = task_next(volunteer=user)
        if assignment is None:
            return served
        target = assignment.item.answer or assignment.item.prompt
        served.add(target.pk)
        task_skip(volunteer=user, assignment_id=assignment.pk)
