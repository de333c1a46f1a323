"""Recording what volunteers answer, one function per kind of task.

Each checks the input completely before writing anything, takes the item's slot and stores
the response in one transaction, and, for a gold item, records whether the response was right.
"""

from collections.abc import Mapping

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from community.errors import Conflict, RequestRejected
from community.models import User
from community.selectors import sanction_check
from feedback.models import (
    Claim,
    ClaimLabel,
    ClaimVerdict,
    FlagLabel,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    RatingScale,
    TaskAssignment,
    TaskKind,
)
from feedback.moderation.gates import review_gate_update
from feedback.moderation.scan import scan_after_commit
from feedback.privacy.pii import pii_redact
from feedback.taskqueue.gold import gold_response_is_correct
from feedback.taskqueue.selectors import (
    answer_claims_proposed,
    assignment_get_for_volunteer,
    prompt_answers,
    rating_scales_for,
)
from feedback.taskqueue.services.items import task_items_create_for_answer
from feedback.taskqueue.services.queue import item_slot_take

NOTE_MAX_CHARS = 500
CLAIMS_MAX = 40


def _assignment_open(*, volunteer: User, assignment_id: object, kind: str) -> TaskAssignment:
    """The volunteer's assignment, locked, still open, of the expected kind."""
    assignment = assignment_get_for_volunteer(volunteer=volunteer, assignment_id=assignment_id)
    assignment = (
        TaskAssignment.objects.select_for_update().select_related("item", "item__community").get(pk=assignment.pk)
    )
    if assignment.item.kind != kind:
        raise RequestRejected(f"This task is not a '{kind}' task.")
    sanction_check(user=volunteer, community=assignment.item.community)
    target = assignment.item.answer or assignment.item.prompt
    if not (target.is_visible and target.conversation.is_visible):
        raise Conflict("A moderator took this item down while you worked on it. Here is another task.")
    if assignment.status == TaskAssignment.Status.ANSWERED:
        raise Conflict("You already answered this task.")
    if assignment.status == TaskAssignment.Status.SKIPPED:
        raise Conflict("You skipped this task.")
    return assignment


def _assignment_close(assignment: TaskAssignment, response: Mapping) -> None:
    item_slot_take(item=assignment.item)
    assignment.status = TaskAssignment.Status.ANSWERED
    assignment.answered_at = timezone.now()
    if assignment.item.is_gold:
        assignment.gold_correct = gold_response_is_correct(assignment.item.kind, assignment.item.gold_answer, response)
    assignment.save(update_fields=["status", "answered_at", "gold_correct"])


def ratings_clean(ratings: object, scales: Mapping[str, RatingScale]) -> dict[str, int]:
    """Every scale of the community rated, each a whole number from 1 to 5 (given as a number
    or its text); the values as ints, or RequestRejected saying what is wrong."""
    if not isinstance(ratings, Mapping):
        raise RequestRejected("Send the ratings as an object of scale name to a value from 1 to 5.")
    unknown = sorted(set(ratings) - set(scales))
    if unknown:
        raise RequestRejected(f"Unknown rating scale: {', '.join(map(str, unknown))}.")
    missing = [name for name in scales if name not in ratings]
    if missing:
        raise RequestRejected(f"Rate every scale; missing: {', '.join(missing)}.")
    values = {}
    for name, value in ratings.items():
        if isinstance(value, bool) or not isinstance(value, int | str) or str(value) not in {"1", "2", "3", "4", "5"}:
            raise RequestRejected(f"'{scales[name].label}' must be a whole number from 1 to 5.")
        values[name] = int(value)
    return values


def rating_submit(*, volunteer: User, assignment_id: object, ratings: object) -> list[Rating]:
    """Rate an answer on every scale of its community, 1 to 5."""
    with transaction.atomic():
        assignment = _assignment_open(volunteer=volunteer, assignment_id=assignment_id, kind=TaskKind.RATE)
        scales = {scale.name: scale for scale in rating_scales_for(community=assignment.item.community)}
        values = ratings_clean(ratings, scales)
        _assignment_close(assignment, {"ratings": values})
        ratings = Rating.objects.bulk_create(
            Rating(
                assignment=assignment,
                answer_id=assignment.item.answer_id,
                volunteer=volunteer,
                scale=scales[name],
                value=value,
            )
            for name, value in values.items()
        )
        review_gate_update(message_id=assignment.item.answer_id)
        return ratings


def flags_clean(labels: object, note: object) -> tuple[list[str], str]:
    """Known flag labels (sorted, each once; none is a valid answer) and a note within the limit."""
    if not isinstance(labels, list | tuple) or not all(isinstance(label, str) for label in labels):
        raise RequestRejected("Send the flags as a list of labels (an empty list if none applies).")
    unknown = sorted(set(labels) - set(FlagLabel.values))
    if unknown:
        raise RequestRejected(f"Unknown flag: {', '.join(unknown)}.")
    note = note if isinstance(note, str) else ""
    if len(note) > NOTE_MAX_CHARS:
        raise RequestRejected(f"The note is longer than {NOTE_MAX_CHARS} characters.")
    return sorted(set(labels)), note.strip()


def flag_submit(*, volunteer: User, assignment_id: object, labels: object, note: object = "") -> FlagResponse:
    """Say which problems an answer has; an empty list says it has none."""
    with transaction.atomic():
        assignment = _assignment_open(volunteer=volunteer, assignment_id=assignment_id, kind=TaskKind.FLAG)
        chosen, note = flags_clean(labels, note)
        _assignment_close(assignment, {"labels": chosen})
        flag = FlagResponse.objects.create(
            assignment=assignment,
            answer_id=assignment.item.answer_id,
            volunteer=volunteer,
            labels=chosen,
            note=note.strip(),
        )
        review_gate_update(message_id=assignment.item.answer_id)
        return flag


def correction_submit(*, volunteer: User, assignment_id: object, text: object) -> Message:
    """Write a better answer: stored as a human-written sibling of the model's answer, linked to
    it, so the pair is a preference (human over model). It is queued for review in turn."""
    with transaction.atomic():
        assignment = _assignment_open(volunteer=volunteer, assignment_id=assignment_id, kind=TaskKind.CORRECT)
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            raise RequestRejected("Write your better answer first.")
        limit = settings.TASK_ANSWER_MAX_CHARS
        if len(text) > limit:
            raise RequestRejected(f"The answer is {len(text):,} characters long; the limit is {limit:,}.")
        original = assignment.item.answer
        # The model's answer as it was shown: personal information redacted (taskqueue.selectors.texts_shown_set).
        if text in (original.text.strip(), original.text_for_release.strip()):
            raise RequestRejected("Your answer is the same as the model's. Change it, or skip this task.")
        _assignment_close(assignment, {"text": text})
        correction = Message.objects.create(
            conversation_id=original.conversation_id,
            parent_id=original.parent_id,
            role=Message.Role.ASSISTANT,
            text=text,
            author=volunteer,
            corrects=original,
        )
        task_items_create_for_answer(answer=correction)
        scan_after_commit([correction])
        return correction


def ranking_submit(*, volunteer: User, assignment_id: object, order: object) -> Ranking:
    """Rank every answer to the prompt, best first; answers in one group are tied."""
    with transaction.atomic():
        assignment = _assignment_open(volunteer=volunteer, assignment_id=assignment_id, kind=TaskKind.RANK)
        answers = {answer.pk for answer in prompt_answers(prompt=assignment.item.prompt)}
        groups = _ranking_parse(order)
        ranked = [answer_id for group in groups for answer_id in group]
        if len(ranked) != len(set(ranked)):
            raise RequestRejected("Each answer can appear only once in the ranking.")
        if set(ranked) - answers:
            raise RequestRejected("The ranking names answers that do not belong to this prompt.")
        if answers - set(ranked):
            raise RequestRejected("Rank every answer to this prompt.")
        _assignment_close(assignment, {"order": groups})
        return Ranking.objects.create(
            assignment=assignment, prompt_id=assignment.item.prompt_id, volunteer=volunteer, order=groups
        )


def _ranking_parse(order: object) -> list[list[int]]:
    if not isinstance(order, list) or not order:
        raise RequestRejected("Send the ranking as a list of groups of answer ids, best first.")
    groups = []
    for group in order:
        members = group if isinstance(group, list) else [group]
        if not members or not all(isinstance(m, int) and not isinstance(m, bool) for m in members):
            raise RequestRejected("Each place in the ranking is an answer id or a list of tied answer ids.")
        groups.append(sorted(members))
    return groups


def claims_check_submit(*, volunteer: User, assignment_id: object, claims: object) -> list[ClaimLabel]:
    """Mark each claim of an answer true, false, subjective or unverifiable.

    `claims` is a list of {"id": <proposed claim id, or absent for a claim the volunteer adds>,
    "text": <the claim, possibly edited>, "verdict": ...}. An edited or added claim becomes the
    volunteer's own claim (the original is kept); every proposed claim must be judged.
    """
    with transaction.atomic():
        assignment = _assignment_open(volunteer=volunteer, assignment_id=assignment_id, kind=TaskKind.CHECK_CLAIMS)
        answer = assignment.item.answer
        proposed = {claim.pk: claim for claim in answer_claims_proposed(answer=answer)}
        if not isinstance(claims, list) or not claims:
            raise RequestRejected("Send the claims as a list of {id, text, verdict}.")
        if len(claims) > CLAIMS_MAX:
            raise RequestRejected(f"An answer can have at most {CLAIMS_MAX} claims.")
        checked = []
        for entry in claims:
            if not isinstance(entry, Mapping):
                raise RequestRejected("Each claim is an object with an id, a text and a verdict.")
            claim_id, text, verdict = entry.get("id"), entry.get("text"), entry.get("verdict")
            if claim_id not in (None, "") and _as_int(claim_id) not in proposed:
                raise RequestRejected("A claim does not belong to this answer.")
            if verdict not in ClaimVerdict.values:
                raise RequestRejected("Mark each claim true, false, subjective or unverifiable.")
            text = text.strip() if isinstance(text, str) else ""
            if not text:
                raise RequestRejected("A claim cannot be empty.")
            checked.append((proposed.get(_as_int(claim_id)), text, verdict))
        judged = {claim.pk for claim, _, _ in checked if claim is not None}
        if set(proposed) - judged:
            raise RequestRejected("Judge every proposed claim (edit it if it is badly split).")
        if len(judged) != len([c for c, _, _ in checked if c is not None]):
            raise RequestRejected("Each proposed claim can be judged only once.")

        verdicts = {str(claim.pk): verdict for claim, text, verdict in checked if claim and _is_unedited(claim, text)}
        _assignment_close(assignment, {"verdicts": verdicts})
        labels = []
        next_position = max((c.position for c in proposed.values()), default=0) + 1
        for claim, text, verdict in checked:
            if claim is None or not _is_unedited(claim, text):
                claim = Claim.objects.create(
                    answer=answer,
                    position=claim.position if claim else next_position,
                    text=text,
                    author=volunteer,
                    revises=claim,
                )
                next_position += 1
            labels.append(ClaimLabel(assignment=assignment, claim=claim, volunteer=volunteer, verdict=verdict))
        return ClaimLabel.objects.bulk_create(labels)


def _is_unedited(claim: Claim, text: str) -> bool:
    """The claim sent back as proposed: its text, or its text as it was shown with personal
    information redacted (taskqueue.selectors.texts_shown_set)."""
    return text in (claim.text, pii_redact(claim.text))


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def task_answer_submit(*, volunteer: User, assignment_id: object, answer: object) -> None:
    """Answer a task of any kind. `answer` is the kind's body: {"ratings": {scale: 1-5}},
    {"labels": [...], "note": ""}, {"text": ...}, {"order": [[id], [id, id], ...]} or
    {"claims": [{"id", "text", "verdict"}, ...]}."""
    assignment = assignment_get_for_volunteer(volunteer=volunteer, assignment_id=assignment_id)
    body = answer if isinstance(answer, Mapping) else {}
    kind = assignment.item.kind
    if kind == TaskKind.RATE:
        rating_submit(volunteer=volunteer, assignment_id=assignment.pk, ratings=body.get("ratings"))
    elif kind == TaskKind.FLAG:
        flag_submit(
            volunteer=volunteer, assignment_id=assignment.pk, labels=body.get("labels"), note=body.get("note", "")
        )
    elif kind == TaskKind.CORRECT:
        correction_submit(volunteer=volunteer, assignment_id=assignment.pk, text=body.get("text"))
    elif kind == TaskKind.RANK:
        ranking_submit(volunteer=volunteer, assignment_id=assignment.pk, order=body.get("order"))
    elif kind == TaskKind.CHECK_CLAIMS:
        claims_check_submit(volunteer=volunteer, assignment_id=assignment.pk, claims=body.get("claims"))
