"""Writes for "My data": a person edits or deletes what they contributed, or erases the account.

- An edit is checked like the original submission (the rules and limits of
  `feedback.taskqueue.services.responses`), stores the previous state as a `Revision` and
  changes the item, all in one transaction; bad input changes nothing.
- A delete takes the item out of the live pool at once. A deleted task response gives its slot
  back (`response_count` - 1, with `F()`), so the item can be served to someone else; the
  assignment stays, so it is never served to the same person again. Revisions of a deleted item
  go with it.
- Erasure removes everything of the person's in one transaction, records an `ErasureRequest`
  with the counts and anonymises the account (`community.erasure.user_erase`).
"""

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import transaction
from django.db.models import F

from community.erasure import user_erase
from community.errors import RequestRejected
from community.models import ErasureRequest, User
from feedback.models import (
    ApiToken,
    Battle,
    Claim,
    ClaimLabel,
    ClaimVerdict,
    Conversation,
    Donation,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    Revision,
    TaskAssignment,
    TaskItem,
    TaskKind,
)
from feedback.moderation.gates import review_gate_update
from feedback.moderation.scan import scan_after_commit
from feedback.mydata import selectors
from feedback.mydata.selectors import (
    REVISION_KIND_CLAIM_LABEL,
    REVISION_KIND_FLAG_RESPONSE,
    REVISION_KIND_MESSAGE,
    REVISION_KIND_RATINGS,
)
from feedback.taskqueue.gold import gold_response_is_correct
from feedback.taskqueue.selectors import rating_scales_for
from feedback.taskqueue.services.responses import flags_clean, ratings_clean

# Shared steps


def _revision_store(*, volunteer: User, kind: str, object_id: int, data: dict) -> Revision:
    return Revision.objects.create(volunteer=volunteer, kind=kind, object_id=object_id, data=data)


def _revisions_forget(*, kind: str, object_ids: Iterable[int]) -> int:
    """Delete the history of items that are gone (it holds their old content)."""
    deleted, _ = Revision.objects.filter(kind=kind, object_id__in=list(object_ids)).delete()
    return deleted


def _responses_withdraw(*, assignment_ids: Iterable[int]) -> None:
    """The responses of these assignments are gone: each item gets its slot back. The
    assignments stay (never served to the same person again) but no longer count for gold."""
    assignment_ids = list(assignment_ids)
    if not assignment_ids:
        return
    item_ids = TaskAssignment.objects.filter(pk__in=assignment_ids).values("item_id")
    TaskItem.objects.filter(pk__in=item_ids, response_count__gt=0).update(response_count=F("response_count") - 1)
    TaskAssignment.objects.filter(pk__in=assignment_ids).update(gold_correct=None)


def _gold_recheck(*, assignment: TaskAssignment, response: Mapping) -> None:
    """An edited response to a gold item is judged again, by the same rule as when it was given."""
    if assignment.item.is_gold:
        assignment.gold_correct = gold_response_is_correct(assignment.item.kind, assignment.item.gold_answer, response)
        assignment.save(update_fields=["gold_correct"])


def _assignment_locked(assignment_id: int) -> TaskAssignment:
    return (
        TaskAssignment.objects.select_for_update(of=("self",))
        .select_related("item", "item__community")
        .get(pk=assignment_id)
    )


# Edits


def rating_edit(*, volunteer: User, assignment_id: object, ratings: object) -> TaskAssignment:
    """Change the values of one rating submission (every scale, 1 to 5)."""
    with transaction.atomic():
        submission = selectors.rating_submission_get_for(volunteer=volunteer, assignment_id=assignment_id)
        assignment = _assignment_locked(submission.pk)
        scales = {scale.name: scale for scale in rating_scales_for(community=assignment.item.community)}
        values = ratings_clean(ratings, scales)
        current = {rating.scale.name: rating for rating in assignment.ratings.select_related("scale")}
        previous = {name: rating.value for name, rating in current.items()}
        if values == previous:
            return submission
        _revision_store(
            volunteer=volunteer, kind=REVISION_KIND_RATINGS, object_id=assignment.pk, data={"ratings": previous}
        )
        answer_id = next(iter(current.values())).answer_id
        for name, value in values.items():
            rating = current.get(name)
            if rating is None:  # a scale the community added after the volunteer rated
                Rating.objects.create(
                    assignment=assignment, answer_id=answer_id, volunteer=volunteer, scale=scales[name], value=value
                )
            elif rating.value != value:
                rating.value = value
                rating.save(update_fields=["value", "updated_at"])
        _gold_recheck(assignment=assignment, response={"ratings": values})
        review_gate_update(message_id=answer_id)
    return selectors.rating_submission_get_for(volunteer=volunteer, assignment_id=assignment.pk)


def flag_response_edit(*, volunteer: User, flag_response_id: object, labels: object, note: object = "") -> FlagResponse:
    """Change which problems a flagged answer has (none is a valid answer) and the note."""
    with transaction.atomic():
        flag = selectors.flag_response_get_for(volunteer=volunteer, flag_response_id=flag_response_id)
        flag = FlagResponse.objects.select_for_update(of=("self",)).select_related("assignment__item").get(pk=flag.pk)
        chosen, note = flags_clean(labels, note)
        if (chosen, note) == (flag.labels, flag.note):
            return flag
        _revision_store(
            volunteer=volunteer,
            kind=REVISION_KIND_FLAG_RESPONSE,
            object_id=flag.pk,
            data={"labels": flag.labels, "note": flag.note},
        )
        flag.labels, flag.note = chosen, note
        flag.save(update_fields=["labels", "note", "updated_at"])
        _gold_recheck(assignment=flag.assignment, response={"labels": chosen})
        review_gate_update(message_id=flag.answer_id)
        return flag


def claim_label_edit(*, volunteer: User, claim_label_id: object, verdict: object) -> ClaimLabel:
    """Change the verdict on one claim: true, false, subjective or unverifiable."""
    with transaction.atomic():
        label = selectors.claim_label_get_for(volunteer=volunteer, claim_label_id=claim_label_id)
        label = (
            ClaimLabel.objects.select_for_update(of=("self",))
            .select_related("claim__answer", "assignment__item")
            .get(pk=label.pk)
        )
        if verdict not in ClaimVerdict.values:
            raise RequestRejected("Mark each claim true, false, subjective or unverifiable.")
        if verdict == label.verdict:
            return label
        _revision_store(
            volunteer=volunteer, kind=REVISION_KIND_CLAIM_LABEL, object_id=label.pk, data={"verdict": label.verdict}
        )
        label.verdict = verdict
        label.save(update_fields=["verdict", "updated_at"])
        verdicts = {
            str(claim_id): given
            for claim_id, given in ClaimLabel.objects.filter(
                assignment=label.assignment, claim__author__isnull=True
            ).values_list("claim_id", "verdict")
        }
        _gold_recheck(assignment=label.assignment, response={"verdicts": verdicts})
        return label


def correction_edit(*, volunteer: User, correction_id: object, text: object) -> Message:
    """Change the text of a better answer the volunteer wrote (the rules of `correction_submit`)."""
    with transaction.atomic():
        correction = selectors.correction_get_for(volunteer=volunteer, correction_id=correction_id)
        correction = Message.objects.select_for_update(of=("self",)).select_related("corrects").get(pk=correction.pk)
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            raise RequestRejected("Write your better answer first.")
        limit = settings.TASK_ANSWER_MAX_CHARS
        if len(text) > limit:
            raise RequestRejected(f"The answer is {len(text):,} characters long; the limit is {limit:,}.")
        if correction.corrects is not None and text == correction.corrects.text.strip():
            raise RequestRejected("Your answer is the same as the model's. Change it, or delete your answer.")
        if text == correction.text:
            return correction
        _revision_store(
            volunteer=volunteer, kind=REVISION_KIND_MESSAGE, object_id=correction.pk, data={"text": correction.text}
        )
        correction.text = text
        correction.save(update_fields=["text", "updated_at"])
        scan_after_commit([correction])
        return correction


# Deletes


def rating_delete(*, volunteer: User, assignment_id: object) -> None:
    """Delete one rating submission (its ratings on every scale)."""
    with transaction.atomic():
        submission = selectors.rating_submission_get_for(volunteer=volunteer, assignment_id=assignment_id)
        answer_id = Rating.objects.filter(assignment_id=submission.pk).values_list("answer_id", flat=True).first()
        deleted, _ = Rating.objects.filter(assignment_id=submission.pk, volunteer=volunteer).delete()
        if deleted:
            _responses_withdraw(assignment_ids=[submission.pk])
            _revisions_forget(kind=REVISION_KIND_RATINGS, object_ids=[submission.pk])
            review_gate_update(message_id=answer_id)


def flag_response_delete(*, volunteer: User, flag_response_id: object) -> None:
    with transaction.atomic():
        flag = selectors.flag_response_get_for(volunteer=volunteer, flag_response_id=flag_response_id)
        deleted, _ = FlagResponse.objects.filter(pk=flag.pk).delete()
        if deleted:
            _responses_withdraw(assignment_ids=[flag.assignment_id])
            _revisions_forget(kind=REVISION_KIND_FLAG_RESPONSE, object_ids=[flag.pk])
            review_gate_update(message_id=flag.answer_id)


def ranking_delete(*, volunteer: User, ranking_id: object) -> None:
    with transaction.atomic():
        ranking = selectors.ranking_get_for(volunteer=volunteer, ranking_id=ranking_id)
        deleted, _ = Ranking.objects.filter(pk=ranking.pk).delete()
        if deleted:
            _responses_withdraw(assignment_ids=[ranking.assignment_id])


def claim_label_delete(*, volunteer: User, claim_label_id: object) -> None:
    """Delete one verdict; a claim the volunteer worded goes with it. When it was the last verdict
    of its submission, the submission is gone and the item gets its slot back."""
    with transaction.atomic():
        label = selectors.claim_label_get_for(volunteer=volunteer, claim_label_id=claim_label_id)
        deleted, _ = ClaimLabel.objects.filter(pk=label.pk).delete()
        if not deleted:
            return
        _revisions_forget(kind=REVISION_KIND_CLAIM_LABEL, object_ids=[label.pk])
        if label.claim.author_id == volunteer.pk:
            _claims_remove(Claim.objects.filter(pk=label.claim_id))
        if not ClaimLabel.objects.filter(assignment_id=label.assignment_id).exists():
            _responses_withdraw(assignment_ids=[label.assignment_id])


def correction_delete(*, volunteer: User, correction_id: object) -> None:
    """Delete a better answer the volunteer wrote, with the reviews it got."""
    with transaction.atomic():
        correction = selectors.correction_get_for(volunteer=volunteer, correction_id=correction_id)
        _corrections_remove(volunteer=volunteer, corrections=Message.objects.filter(pk=correction.pk))


def conversation_delete(*, volunteer: User, conversation_id: object) -> None:
    """Delete an arena conversation: its prompts, answers, battles (votes) and their reviews."""
    with transaction.atomic():
        conversation = selectors.my_conversation_get(owner=volunteer, conversation_id=conversation_id)
        _conversations_remove(Conversation.objects.filter(pk=conversation.pk))


def donation_delete(*, volunteer: User, donation_id: object) -> None:
    """Delete a donation and, once donated, the conversation it became."""
    with transaction.atomic():
        donation = selectors.donation_get_for(owner=volunteer, donation_id=donation_id)
        _donations_remove(volunteer=volunteer, donations=Donation.objects.filter(pk=donation.pk))


def _claims_remove(claims) -> int:
    """Claims a volunteer worded, with any verdicts on them."""
    label_ids = list(ClaimLabel.objects.filter(claim__in=claims).values_list("pk", flat=True))
    _revisions_forget(kind=REVISION_KIND_CLAIM_LABEL, object_ids=label_ids)
    deleted, per_model = claims.delete()
    return per_model.get(Claim._meta.label, 0)


def _corrections_remove(*, volunteer: User, corrections) -> int:
    """Delete better answers; each gives its slot back to the 'write a better answer' item it
    answered, and everything that reviewed it goes with it."""
    corrections = list(corrections.select_related("corrects"))
    if not corrections:
        return 0
    answered = TaskAssignment.objects.filter(
        volunteer=volunteer,
        item__kind=TaskKind.CORRECT,
        item__answer_id__in=[c.corrects_id for c in corrections if c.corrects_id],
        status=TaskAssignment.Status.ANSWERED,
    ).values_list("pk", flat=True)
    _responses_withdraw(assignment_ids=answered)
    _messages_forget(Message.objects.filter(pk__in=[c.pk for c in corrections]))
    Message.objects.filter(pk__in=[c.pk for c in corrections]).delete()
    return len(corrections)


def _messages_forget(messages) -> None:
    """Drop the revision history of these messages and of every review of them (about to be deleted)."""
    _revisions_forget(kind=REVISION_KIND_MESSAGE, object_ids=messages.values_list("pk", flat=True))
    _revisions_forget(
        kind=REVISION_KIND_FLAG_RESPONSE,
        object_ids=FlagResponse.objects.filter(answer__in=messages).values_list("pk", flat=True),
    )
    _revisions_forget(
        kind=REVISION_KIND_CLAIM_LABEL,
        object_ids=ClaimLabel.objects.filter(claim__answer__in=messages).values_list("pk", flat=True),
    )
    _revisions_forget(
        kind=REVISION_KIND_RATINGS,
        object_ids=Rating.objects.filter(answer__in=messages).values_list("assignment_id", flat=True),
    )


def _conversations_remove(conversations) -> tuple[int, int]:
    """Delete conversations with everything in them; returns (conversations, battles) deleted.
    Battles go first: they protect the answers they point at."""
    conversation_ids = list(conversations.values_list("pk", flat=True))
    if not conversation_ids:
        return 0, 0
    _messages_forget(Message.objects.filter(conversation_id__in=conversation_ids))
    battles, _ = Battle.objects.filter(conversation_id__in=conversation_ids).delete()
    _, per_model = Conversation.objects.filter(pk__in=conversation_ids).delete()
    return per_model.get(Conversation._meta.label, 0), battles


def _donations_remove(*, volunteer: User, donations) -> tuple[int, int]:
    """Delete donations and the conversations they became; returns (donations, battles) deleted."""
    donation_ids = list(donations.values_list("pk", flat=True))
    conversation_ids = list(
        Donation.objects.filter(pk__in=donation_ids, conversation__owner=volunteer).values_list(
            "conversation_id", flat=True
        )
    )
    _, battles = _conversations_remove(Conversation.objects.filter(pk__in=conversation_ids))
    deleted, _ = Donation.objects.filter(pk__in=donation_ids).delete()
    return deleted, battles


# Erasure


def account_erase(*, user: User, email_confirmation: object) -> ErasureRequest:
    """Erase the account: every item of the person's leaves the live pool, the erasure is
    recorded (releases exclude `ErasureRequest.user_pk` from then on) and the account is
    anonymised and deactivated. All in one transaction; a wrong confirmation changes nothing.
    """
    typed = email_confirmation.strip().lower() if isinstance(email_confirmation, str) else ""
    if not typed or typed != user.email.lower():
        raise RequestRejected("Type the e-mail address of your account exactly to confirm the erasure.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.is_active:
            raise RequestRejected("This account is already erased.")
        removed: dict[str, int] = {}
        removed["revisions"], _ = Revision.objects.filter(volunteer=user).delete()

        # Task responses first: each gives its item's slot back.
        answered = TaskAssignment.objects.filter(volunteer=user)
        rating_assignments = list(answered.filter(ratings__isnull=False).distinct().values_list("pk", flat=True))
        flag_assignments = list(answered.filter(flag_response__isnull=False).values_list("pk", flat=True))
        ranking_assignments = list(answered.filter(ranking__isnull=False).values_list("pk", flat=True))
        claim_assignments = list(answered.filter(claim_labels__isnull=False).distinct().values_list("pk", flat=True))
        _responses_withdraw(
            assignment_ids=rating_assignments + flag_assignments + ranking_assignments + claim_assignments
        )
        removed["ratings"] = len(rating_assignments)
        _revisions_forget(kind=REVISION_KIND_RATINGS, object_ids=rating_assignments)
        Rating.objects.filter(volunteer=user).delete()

        flags = FlagResponse.objects.filter(volunteer=user)
        _revisions_forget(kind=REVISION_KIND_FLAG_RESPONSE, object_ids=flags.values_list("pk", flat=True))
        removed["flags"], _ = flags.delete()
        removed["rankings"], _ = Ranking.objects.filter(volunteer=user).delete()

        labels = ClaimLabel.objects.filter(volunteer=user)
        _revisions_forget(kind=REVISION_KIND_CLAIM_LABEL, object_ids=labels.values_list("pk", flat=True))
        removed["claim_labels"], _ = labels.delete()
        removed["claims"] = _claims_remove(Claim.objects.filter(author=user))
        removed["better_answers"] = _corrections_remove(
            volunteer=user, corrections=Message.objects.filter(author=user, role=Message.Role.ASSISTANT)
        )

        removed["donations"], donated_battles = _donations_remove(
            volunteer=user, donations=Donation.objects.filter(owner=user)
        )
        removed["conversations"], battles = _conversations_remove(Conversation.objects.filter(owner=user))
        removed["battles"] = battles + donated_battles
        # Served-but-unanswered work is released; nothing of the person's is left to serve around.
        TaskAssignment.objects.filter(volunteer=user).delete()
        removed["api_tokens"], _ = ApiToken.objects.filter(user=user).delete()
        return user_erase(user=user, items_removed=removed)
