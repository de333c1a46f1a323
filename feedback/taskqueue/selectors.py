"""Reads for the task queue, each scoped to the volunteer asking."""

from collections.abc import Sequence

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from community.models import Community, Membership, User
from community.permissions import can_moderate
from feedback.models import Claim, Message, RatingScale, TaskAssignment, TaskItem
from feedback.moderation.selectors import message_is_visible_q
from feedback.privacy.pii import pii_redact


def memberships_contributing(*, volunteer: User, community_slug: str | None = None) -> list[Membership]:
    """The volunteer's memberships whose current licence they accepted (where they may contribute)."""
    memberships = Membership.objects.filter(user=volunteer, licence_accepted_at__isnull=False).select_related(
        "community"
    )
    if community_slug:
        memberships = memberships.filter(community__slug=community_slug)
    return [m for m in memberships if m.has_current_licence]


def _item_is_shown_q() -> Q:
    """Items whose answer and prompt are still up: nothing moderation hid or deleted is served,
    not the answer, its prompt, nor (ranking) the prompt."""
    return (
        Q(answer__isnull=True)
        | (
            message_is_visible_q("answer__")
            & (Q(answer__parent__isnull=True) | Q(answer__parent__moderation_status="visible"))
        )
    ) & (Q(prompt__isnull=True) | message_is_visible_q("prompt__"))


def task_items_available(*, volunteer: User, memberships: list[Membership]) -> QuerySet[TaskItem]:
    """Items the volunteer may be served now: in their communities, topics and languages, with a
    free slot (responses plus live reservations below k), never their own work, and never an
    item they were served before (answered, skipped or reserved)."""
    now = timezone.now()
    live_reservations = (
        TaskAssignment.objects.filter(
            item=OuterRef("pk"), status=TaskAssignment.Status.RESERVED, reserved_until__gt=now
        )
        .values("item")
        .annotate(count=Count("pk"))
        .values("count")
    )
    scope = Q(pk__in=[])
    for membership in memberships:
        in_community = Q(community=membership.community)
        if membership.topics:
            in_community &= Q(topic__in=membership.topics) | Q(topic="")
        scope |= in_community
    items = TaskItem.objects.filter(scope).filter(_item_is_shown_q())
    if volunteer.languages:
        items = items.filter(Q(language__in=volunteer.languages) | Q(language=""))
    return (
        items.annotate(reserved=Coalesce(Subquery(live_reservations), 0))
        .filter(response_count__lt=F("required_responses") - F("reserved"))
        .exclude(assignments__volunteer=volunteer)
        .exclude(answer__conversation__owner=volunteer)
        .exclude(answer__author=volunteer)
        .exclude(prompt__conversation__owner=volunteer)
        .exclude(prompt__children__author=volunteer)
    )


def assignment_get_for_volunteer(*, volunteer: User, assignment_id: object) -> TaskAssignment:
    """The volunteer's own assignment; 404 for anyone else's."""
    try:
        return TaskAssignment.objects.select_related("item", "item__community", "item__answer", "item__prompt").get(
            pk=assignment_id, volunteer=volunteer
        )
    except (TaskAssignment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task among yours.") from None


def assignment_open_for(
    *, volunteer: User, community_slug: str | None = None, kind: str | None = None
) -> TaskAssignment | None:
    """The newest assignment the volunteer was served and has neither answered nor skipped, in
    the community and of the kind asked for, that can still be answered: its item is still up,
    and its reservation is live or, run out, the item still has a slot nobody else holds.

    A reload shows the same task, and asking for a kind serves an open task of that kind first,
    even when a task of another kind was served since."""
    now = timezone.now()
    others_live = (
        TaskAssignment.objects.filter(
            item=OuterRef("item"), status=TaskAssignment.Status.RESERVED, reserved_until__gt=now
        )
        .exclude(volunteer=volunteer)
        .values("item")
        .annotate(count=Count("pk"))
        .values("count")
    )
    assignments = TaskAssignment.objects.filter(
        volunteer=volunteer,
        status=TaskAssignment.Status.RESERVED,
        item__in=TaskItem.objects.filter(_item_is_shown_q()),
    )
    if community_slug:
        assignments = assignments.filter(item__community__slug=community_slug)
    if kind:
        assignments = assignments.filter(item__kind=kind)
    return (
        assignments.annotate(others_reserved=Coalesce(Subquery(others_live), 0))
        .filter(
            Q(reserved_until__gt=now) | Q(item__response_count__lt=F("item__required_responses") - F("others_reserved"))
        )
        .select_related("item", "item__community")
        .order_by("-created_at", "-pk")
        .first()
    )


def rating_scales_for(*, community) -> list[RatingScale]:
    """The platform's default scales plus the community's own."""
    return list(RatingScale.objects.filter(Q(community__isnull=True) | Q(community=community)))


def prompt_answers(*, prompt: Message) -> list[Message]:
    """The answers to a prompt (models' and people's), oldest first."""
    return list(prompt.children.filter(role=Message.Role.ASSISTANT).order_by("created_at", "pk"))


def answer_claims_proposed(*, answer: Message) -> list[Claim]:
    """The claims the community's model proposed for an answer (volunteers' own edits excluded)."""
    return list(answer.claims.filter(author__isnull=True).order_by("position", "pk"))


def texts_shown_set(
    *, viewer: User, community: Community, messages: list[Message], claims: Sequence[Claim] = ()
) -> None:
    """Set `shown_text` on each message and claim: what `viewer` may read of it in a task.

    Personal information is redacted as in releases (`Message.text_for_release`, the stored
    redaction when fresh; `pii_redact` for a claim, as the release does), except for the
    community's moderators and for the author: whoever wrote the message or owns its
    conversation (a prompt and the answers it got), and, for a claim, the author of its answer.
    """
    moderates = can_moderate(viewer, community)

    def is_authors(message: Message) -> bool:
        return viewer.pk in (message.author_id, message.conversation.owner_id)

    for message in messages:
        message.shown_text = message.text if moderates or is_authors(message) else message.text_for_release
    for claim in claims:
        shows_original = moderates or claim.author_id == viewer.pk or is_authors(claim.answer)
        claim.shown_text = claim.text if shows_original else pii_redact(claim.text)


def task_context(*, assignment: TaskAssignment) -> dict:
    """Everything a task page or the API shows for one assignment, each text as the volunteer
    may read it (`shown_text`, see `texts_shown_set`)."""
    from feedback.arena.selectors import message_history
    from feedback.models import Donation, FlagLabel

    item = assignment.item
    context: dict = {"assignment": assignment, "item": item, "kind": item.kind}
    target = item.answer or item.prompt
    context["donation"] = Donation.objects.filter(
        conversation_id=target.conversation_id, status=Donation.Status.DONATED
    ).first()
    if item.answer_id:
        history = message_history(message=item.answer)
        context["history"] = [message for message in history[:-1] if message.is_visible]
        context["answer"] = history[-1]
    if item.kind == "rate":
        context["scales"] = rating_scales_for(community=item.community)
    elif item.kind == "flag":
        context["flag_labels"] = FlagLabel.choices
    elif item.kind == "rank":
        context["history"] = [message for message in message_history(message=item.prompt) if message.is_visible]
        context["answers"] = [answer for answer in prompt_answers(prompt=item.prompt) if answer.is_visible]
    elif item.kind == "check_claims":
        from feedback.models import ClaimVerdict

        context["claims"] = answer_claims_proposed(answer=item.answer)
        context["verdicts"] = ClaimVerdict.choices
    messages = [*context.get("history", []), *context.get("answers", [])]
    if "answer" in context:
        messages.append(context["answer"])
    for message in messages:
        message.conversation = target.conversation  # one conversation: its owner read once
    for claim in context.get("claims", []):
        claim.answer = context["answer"]
    texts_shown_set(
        viewer=assignment.volunteer, community=item.community, messages=messages, claims=context.get("claims", [])
    )
    return context
