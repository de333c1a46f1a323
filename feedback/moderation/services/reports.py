"""Reports: a person reports a message (prompt, answer, correction) or a donated conversation.

`report_create` is the one way a report is written, from the page and from the API alike (a
rate limit on reports belongs at its start). An item with
`settings.MODERATION_HIDE_AT_REPORTS` open reports is hidden until a moderator decides.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from community.errors import Conflict, RequestRejected
from community.models import User
from community.selectors import sanction_check, user_may_moderate
from feedback.arena.selectors import message_history
from feedback.models import (
    AuditEntry,
    Conversation,
    Donation,
    Message,
    ModerationStatus,
    Report,
    ReportReason,
    TaskItem,
)
from feedback.moderation.selectors import message_submitter
from feedback.moderation.services.audit import audit_record
from feedback.moderation.services.cases import case_for_target_locked, case_refresh

REPORT_COMMENT_MAX_CHARS = 2000
TARGET_KINDS = ("message", "donation")
NOT_FOUND = "Nothing to report there: the item does not exist or you cannot see it."


def _messages_shown_by_task(item: TaskItem) -> set[int]:
    """The messages a task page shows for this item: the path to its answer (or prompt) and,
    for ranking, the prompt's answers."""
    target = item.answer or item.prompt
    shown = {message.pk for message in message_history(message=target)}
    if item.prompt_id:
        shown |= set(item.prompt.children.values_list("pk", flat=True))
    return shown


def _conversation_seen_in_tasks(*, viewer: User, conversation: Conversation) -> list[TaskItem]:
    return list(
        TaskItem.objects.filter(assignments__volunteer=viewer)
        .filter(Q(answer__conversation=conversation) | Q(prompt__conversation=conversation))
        .select_related("answer", "prompt")
        .distinct()
    )


def message_get_for_reporter(*, viewer: User, message_id: object) -> Message:
    """A message the viewer has been shown: in their own conversation, written by them, shown in
    a task they were served, or (moderators) in a community they moderate. A hidden message is
    seen only by its conversation's owner and its author; a removed one by no one. 404 otherwise,
    so a guessed id tells nothing."""
    try:
        message = Message.objects.select_related("conversation__community").get(pk=message_id)
    except (Message.DoesNotExist, ValueError, TypeError):
        raise Http404(NOT_FOUND) from None
    conversation = message.conversation
    if ModerationStatus.REMOVED in (message.moderation_status, conversation.moderation_status):
        raise Http404(NOT_FOUND)
    if viewer.pk in (conversation.owner_id, message.author_id):
        return message
    if message.moderation_status != ModerationStatus.VISIBLE or not conversation.is_visible:
        raise Http404(NOT_FOUND)
    if user_may_moderate(user=viewer, community=conversation.community):
        return message
    for item in _conversation_seen_in_tasks(viewer=viewer, conversation=conversation):
        if message.pk in _messages_shown_by_task(item):
            return message
    raise Http404(NOT_FOUND)


def donation_get_for_reporter(*, viewer: User, donation_id: object) -> Donation:
    """A donated conversation the viewer has been shown (their own, one a task of theirs came
    from, or one in a community they moderate); 404 otherwise. Drafts are private."""
    try:
        donation = Donation.objects.select_related("conversation", "community").get(
            pk=donation_id, status=Donation.Status.DONATED, conversation__isnull=False
        )
    except (Donation.DoesNotExist, ValueError, TypeError):
        raise Http404(NOT_FOUND) from None
    conversation = donation.conversation
    if conversation.moderation_status == ModerationStatus.REMOVED:
        raise Http404(NOT_FOUND)
    if viewer.pk == donation.owner_id:
        return donation
    if not conversation.is_visible:
        raise Http404(NOT_FOUND)
    if user_may_moderate(user=viewer, community=donation.community):
        return donation
    if _conversation_seen_in_tasks(viewer=viewer, conversation=conversation):
        return donation
    raise Http404(NOT_FOUND)


def report_target_get(*, viewer: User, target_kind: object, target_id: object) -> Message | Donation:
    if target_kind == "message":
        return message_get_for_reporter(viewer=viewer, message_id=target_id)
    if target_kind == "donation":
        return donation_get_for_reporter(viewer=viewer, donation_id=target_id)
    raise Http404(NOT_FOUND)


def _is_own(*, reporter: User, target: Message | Donation) -> bool:
    if isinstance(target, Donation):
        return target.owner_id == reporter.pk
    if target.author_id:
        return target.author_id == reporter.pk
    return bool(target.external_model) and target.conversation.owner_id == reporter.pk


def report_create(
    *, reporter: User, target_kind: object, target_id: object, reason: object, comment: object = ""
) -> Report:
    """Report an item once. Checks, in order: the reason (400), the comment (400), the target
    exists and the reporter has seen it (404), the reporter is not suspended or banned there
    (403), it is not the reporter's own contribution (400), not reported by them already (409).
    Then the report joins the item's case; at `MODERATION_HIDE_AT_REPORTS` open reports the
    item is hidden (and the audit log says so). Nothing is written when a check fails."""
    if reason not in ReportReason.values:
        raise RequestRejected("Choose a reason: " + ", ".join(label.lower() for label in ReportReason.labels) + ".")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise RequestRejected("The comment must be text.")
    comment = comment.strip()
    if len(comment) > REPORT_COMMENT_MAX_CHARS:
        raise RequestRejected(
            f"The comment is {len(comment):,} characters long; the limit is {REPORT_COMMENT_MAX_CHARS:,}."
        )
    target = report_target_get(viewer=reporter, target_kind=target_kind, target_id=target_id)
    community = target.community if isinstance(target, Donation) else target.conversation.community
    sanction_check(user=reporter, community=community)
    if _is_own(reporter=reporter, target=target):
        raise RequestRejected("This is your own contribution: edit or delete it under My data instead.")

    is_message = isinstance(target, Message)
    lookup = {"message": target} if is_message else {"donation": target}
    try:
        with transaction.atomic():
            case = case_for_target_locked(**lookup)
            if Report.objects.filter(reporter=reporter, **lookup).exists():
                raise Conflict("You already reported this. Thank you: moderators will look at it.")
            report = Report.objects.create(
                case=case, community=community, reporter=reporter, reason=reason, comment=comment, **lookup
            )
            case = case_refresh(case)
            if case.open_reports >= settings.MODERATION_HIDE_AT_REPORTS:
                _hide_automatically(target=target, case=case)
            return report
    except IntegrityError:
        raise Conflict("You already reported this. Thank you: moderators will look at it.") from None


def _hide_automatically(*, target: Message | Donation, case) -> None:
    """Hide an item that reached the report threshold, until a moderator decides."""
    content = target if isinstance(target, Message) else target.conversation
    model = type(content)
    reason = (
        f"Hidden automatically: {case.open_reports} open reports (threshold {settings.MODERATION_HIDE_AT_REPORTS})."
    )
    hidden = model.objects.filter(pk=content.pk, moderation_status=ModerationStatus.VISIBLE).update(
        moderation_status=ModerationStatus.HIDDEN,
        moderated_by=None,
        moderated_at=timezone.now(),
        moderation_reason=reason,
    )
    if hidden:
        is_message = isinstance(target, Message)
        audit_record(
            actor=None,
            community=case.community,
            action=AuditEntry.Action.AUTO_HIDE,
            target_kind=AuditEntry.TargetKind.MESSAGE if is_message else AuditEntry.TargetKind.DONATION,
            target_id=target.pk,
            subject=message_submitter(target) if is_message else target.owner,
            reason=reason,
            before={"status": ModerationStatus.VISIBLE},
            after={"status": ModerationStatus.HIDDEN, "open_reports": case.open_reports},
        )
