"""Reads for "My data": everything one person contributed, each lookup scoped to its owner.

Every `*_get_for` answers 404 for an item that is not the viewer's own (or does not exist), so a
guessed id tells nothing about anyone else's data.
"""

from datetime import datetime
from typing import Any

from django.db.models import Max, OuterRef, Prefetch, QuerySet, Subquery
from django.http import Http404

from community.models import Membership, User
from feedback.models import (
    Battle,
    Claim,
    ClaimLabel,
    Conversation,
    Donation,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    RatingScale,
    Revision,
    TaskAssignment,
)
from feedback.taskqueue.selectors import rating_scales_for

EXPORT_FORMAT = "feedback-commons/my-data/1"

# What `Revision.kind` says for each editable kind of contribution (`object_id` is the id of
# what was edited: the assignment of a rating submission, else the row itself).
REVISION_KIND_RATINGS = "ratings"
REVISION_KIND_FLAG_RESPONSE = "flag_response"
REVISION_KIND_CLAIM_LABEL = "claim_label"
REVISION_KIND_MESSAGE = "message"


def _get_or_404(queryset: QuerySet, pk: object, message: str) -> Any:
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(message) from None


# Lists, newest first


def my_conversations(*, owner: User) -> QuerySet[Conversation]:
    """The owner's arena conversations (donated ones are listed with their donation), each with
    its first prompt as `prompt_text` and its battles (votes) by turn."""
    first_prompt = (
        Message.objects.filter(conversation=OuterRef("pk"), parent__isnull=True, role=Message.Role.USER)
        .order_by("pk")
        .values("text")[:1]
    )
    return (
        Conversation.objects.filter(owner=owner, donation__isnull=True)
        .select_related("community")
        .annotate(prompt_text=Subquery(first_prompt))
        .prefetch_related(Prefetch("battles", queryset=Battle.objects.order_by("turn", "pk")))
        .order_by("-created_at", "-pk")
    )


def my_battles_unvoted(*, judge: User) -> QuerySet[Battle]:
    """The judge's battles still waiting for their vote (answers complete, not voted), newest
    first, each with the prompt of its turn, so My data can link back to them in the arena."""
    return (
        Battle.objects.filter(judge=judge, status=Battle.Status.READY)
        .select_related("community", "answer_a__parent")
        .order_by("-created_at", "-pk")
    )


def my_rating_submissions(*, volunteer: User) -> QuerySet[TaskAssignment]:
    """One row per rated answer: the assignment, its ratings (by scale) and the answer."""
    return (
        TaskAssignment.objects.filter(volunteer=volunteer, ratings__isnull=False)
        .annotate(rated_at=Max("ratings__created_at"), edited_at=Max("ratings__updated_at"))
        .select_related("item__answer", "item__community")
        .prefetch_related(
            Prefetch(
                "ratings", queryset=Rating.objects.select_related("scale").order_by("scale__position", "scale__pk")
            )
        )
        .order_by("-rated_at", "-pk")
    )


def my_flag_responses(*, volunteer: User) -> QuerySet[FlagResponse]:
    return (
        FlagResponse.objects.filter(volunteer=volunteer)
        .select_related("answer__conversation__community")
        .order_by("-created_at", "-pk")
    )


def my_rankings(*, volunteer: User) -> QuerySet[Ranking]:
    return (
        Ranking.objects.filter(volunteer=volunteer)
        .select_related("prompt__conversation__community")
        .order_by("-created_at", "-pk")
    )


def my_claim_labels(*, volunteer: User) -> QuerySet[ClaimLabel]:
    """The volunteer's verdicts on claims; a claim they worded themselves has `claim.author`."""
    return (
        ClaimLabel.objects.filter(volunteer=volunteer)
        .select_related("claim__answer__conversation__community")
        .order_by("-created_at", "-pk")
    )


def my_corrections(*, volunteer: User) -> QuerySet[Message]:
    """The better answers the volunteer wrote, with the model answer each improves on."""
    return (
        Message.objects.filter(author=volunteer, role=Message.Role.ASSISTANT)
        .select_related("corrects", "conversation__community")
        .order_by("-created_at", "-pk")
    )


def my_donations(*, owner: User) -> QuerySet[Donation]:
    return Donation.objects.filter(owner=owner).select_related("community").order_by("-created_at", "-pk")


def my_data_counts(*, user: User) -> dict[str, int]:
    """How many items of each kind the person has (what an erasure would remove)."""
    return {
        "conversations": my_conversations(owner=user).count(),
        "ratings": my_rating_submissions(volunteer=user).count(),
        "flags": my_flag_responses(volunteer=user).count(),
        "rankings": my_rankings(volunteer=user).count(),
        "claim_labels": my_claim_labels(volunteer=user).count(),
        "better_answers": my_corrections(volunteer=user).count(),
        "donations": my_donations(owner=user).count(),
    }


# One item, only the owner's


def my_conversation_get(*, owner: User, conversation_id: object) -> Conversation:
    return _get_or_404(Conversation.objects.filter(owner=owner), conversation_id, "No such conversation among yours.")


def rating_submission_get_for(*, volunteer: User, assignment_id: object) -> TaskAssignment:
    """The volunteer's rating submission (the assignment it answered), with its ratings."""
    submissions = TaskAssignment.objects.filter(volunteer=volunteer, ratings__isnull=False).distinct()
    submission = _get_or_404(
        submissions.select_related("item__answer", "item__community"), assignment_id, "No such rating among yours."
    )
    submission.rating_list = list(submission.ratings.select_related("scale").order_by("scale__position", "scale__pk"))
    return submission


def rating_form_scales(*, submission: TaskAssignment) -> list[tuple[RatingScale, int | None]]:
    """Every scale the answer is rated on now, with the volunteer's current value (None for a
    scale the community added after they rated)."""
    given = {rating.scale_id: rating.value for rating in submission.rating_list}
    return [(scale, given.get(scale.pk)) for scale in rating_scales_for(community=submission.item.community)]


def flag_response_get_for(*, volunteer: User, flag_response_id: object) -> FlagResponse:
    return _get_or_404(
        FlagResponse.objects.filter(volunteer=volunteer).select_related("answer", "assignment__item"),
        flag_response_id,
        "No such flag among yours.",
    )


def ranking_get_for(*, volunteer: User, ranking_id: object) -> Ranking:
    return _get_or_404(
        Ranking.objects.filter(volunteer=volunteer).select_related("prompt", "assignment__item"),
        ranking_id,
        "No such ranking among yours.",
    )


def claim_label_get_for(*, volunteer: User, claim_label_id: object) -> ClaimLabel:
    return _get_or_404(
        ClaimLabel.objects.filter(volunteer=volunteer).select_related("claim__answer", "assignment__item"),
        claim_label_id,
        "No such claim label among yours.",
    )


def correction_get_for(*, volunteer: User, correction_id: object) -> Message:
    return _get_or_404(
        Message.objects.filter(author=volunteer, role=Message.Role.ASSISTANT).select_related("corrects"),
        correction_id,
        "No such answer among yours.",
    )


def donation_get_for(*, owner: User, donation_id: object) -> Donation:
    return _get_or_404(Donation.objects.filter(owner=owner), donation_id, "No such donation among yours.")


def revision_history(*, kind: str, object_id: int) -> QuerySet[Revision]:
    """Earlier states of one item, newest first. Call it only for an item the viewer owns."""
    return Revision.objects.filter(kind=kind, object_id=object_id).order_by("-created_at", "-pk")


# The export


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def my_data_export(*, user: User) -> dict[str, Any]:
    """Everything the person contributed, with its text and timestamps, as one JSON-ready document."""
    memberships = Membership.objects.filter(user=user).select_related("community").order_by("joined_at", "pk")
    conversations = (
        Conversation.objects.filter(owner=user)
        .select_related("community")
        .prefetch_related(
            Prefetch("messages", queryset=Message.objects.select_related("endpoint").order_by("created_at", "pk")),
            Prefetch("battles", queryset=Battle.objects.select_related("model_a", "model_b").order_by("turn", "pk")),
        )
        .order_by("created_at", "pk")
    )
    rating_submissions: dict[int, dict[str, Any]] = {}
    for rating in (
        Rating.objects.filter(volunteer=user).select_related("scale", "answer").order_by("assignment_id", "pk")
    ):
        submission = rating_submissions.setdefault(
            rating.assignment_id,
            {
                "id": rating.assignment_id,
                "answer_id": rating.answer_id,
                "answer_text": rating.answer.text,
                "values": {},
                "created_at": rating.created_at,
                "updated_at": rating.updated_at,
            },
        )
        submission["values"][rating.scale.name] = rating.value
        submission["created_at"] = min(submission["created_at"], rating.created_at)
        submission["updated_at"] = max(submission["updated_at"], rating.updated_at)
    for submission in rating_submissions.values():
        submission["created_at"] = _when(submission["created_at"])
        submission["updated_at"] = _when(submission["updated_at"])
    return {
        "format": EXPORT_FORMAT,
        "account": {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role,
            "joined": _when(user.date_joined),
            "languages": user.languages,
            "is_on_leaderboards": user.is_on_leaderboards,
            "memberships": [
                {
                    "community": membership.community.slug,
                    "community_name": membership.community.name,
                    "joined_at": _when(membership.joined_at),
                    "topics": membership.topics,
                    "licence": {
                        "name": membership.licence_name,
                        "version": membership.licence_version,
                        "accepted_at": _when(membership.licence_accepted_at),
                    },
                }
                for membership in memberships
            ],
        },
        "conversations": [_conversation_export(conversation) for conversation in conversations],
        "ratings": list(rating_submissions.values()),
        "flags": [
            {
                "id": flag.pk,
                "answer_id": flag.answer_id,
                "answer_text": flag.answer.text,
                "labels": flag.labels,
                "note": flag.note,
                "created_at": _when(flag.created_at),
                "updated_at": _when(flag.updated_at),
            }
            for flag in FlagResponse.objects.filter(volunteer=user).select_related("answer").order_by("pk")
        ],
        "rankings": [
            {
                "id": ranking.pk,
                "prompt_id": ranking.prompt_id,
                "prompt_text": ranking.prompt.text,
                "order": ranking.order,
                "created_at": _when(ranking.created_at),
                "updated_at": _when(ranking.updated_at),
            }
            for ranking in Ranking.objects.filter(volunteer=user).select_related("prompt").order_by("pk")
        ],
        "claim_labels": [
            {
                "id": label.pk,
                "claim_id": label.claim_id,
                "claim_text": label.claim.text,
                "answer_id": label.claim.answer_id,
                "verdict": label.verdict,
                "created_at": _when(label.created_at),
                "updated_at": _when(label.updated_at),
            }
            for label in ClaimLabel.objects.filter(volunteer=user).select_related("claim").order_by("pk")
        ],
        "claims": [
            {
                "id": claim.pk,
                "answer_id": claim.answer_id,
                "text": claim.text,
                "revises": claim.revises_id,
                "created_at": _when(claim.created_at),
            }
            for claim in Claim.objects.filter(author=user).order_by("pk")
        ],
        "better_answers": [
            {
                "id": message.pk,
                "corrects": message.corrects_id,
                "corrects_text": message.corrects.text if message.corrects else None,
                "text": message.text,
                "created_at": _when(message.created_at),
                "updated_at": _when(message.updated_at),
            }
            for message in my_corrections(volunteer=user).order_by("pk")
        ],
        "donations": [
            {
                "id": donation.pk,
                "source": donation.source,
                "title": donation.title,
                "community": donation.community.slug if donation.community else None,
                "status": donation.status,
                "turns": donation.turns,
                "conversation_id": donation.conversation_id,
                "created_at": _when(donation.created_at),
                "donated_at": _when(donation.donated_at),
            }
            for donation in Donation.objects.filter(owner=user).select_related("community").order_by("pk")
        ],
        "revisions": [
            {
                "kind": revision.kind,
                "object_id": revision.object_id,
                "data": revision.data,
                "created_at": _when(revision.created_at),
            }
            for revision in Revision.objects.filter(volunteer=user).order_by("pk")
        ],
    }


def _conversation_export(conversation: Conversation) -> dict[str, Any]:
    """A conversation with its messages and votes; model names only once the owner saw them."""
    names_shown = conversation.names_revealed_at is not None
    return {
        "id": conversation.pk,
        "community": conversation.community.slug,
        "topic": conversation.topic,
        "created_at": _when(conversation.created_at),
        "messages": [
            {
                "id": message.pk,
                "parent_id": message.parent_id,
                "role": message.role,
                "by": "you" if message.author_id else "model",
                "model": (message.endpoint.name if names_shown and message.endpoint else None)
                or message.external_model
                or None,
                "text": message.text,
                "created_at": _when(message.created_at),
            }
            for message in conversation.messages.all()
            # Answers other people wrote into this conversation are theirs, not the owner's.
            if message.author_id in (None, conversation.owner_id)
        ],
        "battles": [
            {
                "id": battle.pk,
                "turn": battle.turn,
                "answer_a_id": battle.answer_a_id,
                "answer_b_id": battle.answer_b_id,
                "model_a": battle.model_a.name if names_shown else None,
                "model_b": battle.model_b.name if names_shown else None,
                "status": battle.status,
                "winner": battle.winner or None,
                "is_blind": battle.is_blind,
                "created_at": _when(battle.created_at),
                "voted_at": _when(battle.voted_at),
            }
            for battle in conversation.battles.all()
        ],
    }
