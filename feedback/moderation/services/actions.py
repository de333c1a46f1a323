"""What a moderator does with a case: accept, hide, edit, delete, warn, suspend, ban.

`case_act` is the one entry point. Every action needs a reason (400 without one), is allowed to
moderators of the case's community and admins only (403), resolves the case's open reports and
flags, and writes one audit entry, all in one transaction: a refused action writes nothing.

- accept: the reports and flags are dismissed; a hidden item is visible again.
- hide: the item is out of sight (task queue, other people's pages, releases) but kept.
- edit: a message's text is replaced; the original is kept as a `Revision`.
- delete: the item is removed from everything a user or a release sees; its text is cleared
  (the audit entry keeps it, for the record).
- warn / suspend (for some days) / ban: a sanction on the person who submitted the item, in
  the case's community (admins may make it site-wide); the item itself stays as it is.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected
from community.models import Sanction, User
from community.services import reason_clean, sanction_impose, suspension_days_clean
from feedback.models import AuditEntry, Conversation, Message, ModerationCase, ModerationStatus, Revision
from feedback.moderation.selectors import case_get_for_moderator, case_subject
from feedback.moderation.services.audit import audit_record
from feedback.moderation.services.cases import case_close_all
from feedback.mydata.selectors import REVISION_KIND_MESSAGE

ACTIONS = ("accept", "hide", "edit", "delete", "warn", "suspend", "ban")
SANCTION_ACTIONS = {"warn": Sanction.Kind.WARN, "suspend": Sanction.Kind.SUSPEND, "ban": Sanction.Kind.BAN}


@dataclass(frozen=True)
class ActionInput:
    reason: str
    text: str | None = None
    days: object = None
    is_site_wide: bool = False


def case_act(
    *,
    actor: User,
    case_id: object,
    action: object,
    reason: object,
    text: object = None,
    days: object = None,
    is_site_wide: bool = False,
) -> AuditEntry:
    """Take `action` on the case; returns the audit entry that records it."""
    if action not in ACTIONS:
        raise RequestRejected("Unknown action: choose accept, hide, edit, delete, warn, suspend or ban.")
    with transaction.atomic():
        case = case_get_for_moderator(viewer=actor, case_id=case_id, for_update=True)
        clean_reason = reason_clean(reason)
        handler = {
            "accept": _accept,
            "hide": _hide,
            "edit": _edit,
            "delete": _delete,
        }.get(action, _sanction)
        entry = handler(
            actor=actor,
            case=case,
            action=action,
            data=ActionInput(reason=clean_reason, text=text, days=days, is_site_wide=bool(is_site_wide)),
        )
        return entry


def _content(case: ModerationCase) -> Message | Conversation:
    """What carries the moderation state: the message, or the donated conversation."""
    if case.message_id:
        return Message.objects.select_for_update().get(pk=case.message_id)
    if case.donation.conversation_id is None:
        raise Conflict("This donated conversation was deleted by its owner.")
    return Conversation.objects.select_for_update().get(pk=case.donation.conversation_id)


def _target(case: ModerationCase) -> tuple[str, int]:
    if case.message_id:
        return AuditEntry.TargetKind.MESSAGE, case.message_id
    return AuditEntry.TargetKind.DONATION, case.donation_id


def _record(*, actor, case, action, reason, before=None, after=None, subject=None) -> AuditEntry:
    target_kind, target_id = _target(case)
    return audit_record(
        actor=actor,
        community=case.community,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        subject=subject if subject is not None else case_subject(case),
        reason=reason,
        before=before,
        after=after,
    )


def _status_set(content, *, status: str, actor: User, reason: str) -> None:
    content.moderation_status = status
    content.moderated_by = actor
    content.moderated_at = timezone.now()
    content.moderation_reason = reason
    content.save(update_fields=["moderation_status", "moderated_by", "moderated_at", "moderation_reason"])


def _refuse_if_removed(content) -> None:
    if content.moderation_status == ModerationStatus.REMOVED:
        raise Conflict("This item was deleted already; nothing more can be done with it.")


def _accept(*, actor, case, action, data: ActionInput) -> AuditEntry:
    content = _content(case)
    _refuse_if_removed(content)
    before = content.moderation_status
    if before == ModerationStatus.HIDDEN:
        _status_set(content, status=ModerationStatus.VISIBLE, actor=actor, reason=data.reason)
    case_close_all(case, is_upheld=False, actor=actor)
    return _record(
        actor=actor,
        case=case,
        action=AuditEntry.Action.ACCEPT,
        reason=data.reason,
        before={"status": before},
        after={"status": ModerationStatus.VISIBLE},
    )


def _hide(*, actor, case, action, data: ActionInput) -> AuditEntry:
    content = _content(case)
    _refuse_if_removed(content)
    before = content.moderation_status
    _status_set(content, status=ModerationStatus.HIDDEN, actor=actor, reason=data.reason)
    case_close_all(case, is_upheld=True, actor=actor)
    return _record(
        actor=actor,
        case=case,
        action=AuditEntry.Action.HIDE,
        reason=data.reason,
        before={"status": before},
        after={"status": ModerationStatus.HIDDEN},
    )


def _edit(*, actor, case, action, data: ActionInput) -> AuditEntry:
    if not case.message_id:
        raise RequestRejected("A donated conversation is edited one message at a time: open the message's case.")
    message = _content(case)
    _refuse_if_removed(message)
    text = data.text.replace("\r\n", "\n").strip() if isinstance(data.text, str) else ""
    if not text:
        raise RequestRejected("Write the new text of the message.")
    limit = max(settings.TASK_ANSWER_MAX_CHARS, settings.ARENA_PROMPT_MAX_CHARS)
    if len(text) > limit:
        raise RequestRejected(f"The text is {len(text):,} characters long; the limit is {limit:,}.")
    if text == message.text:
        raise RequestRejected("The new text is the same as the old one.")
    original = message.text
    Revision.objects.create(
        volunteer=actor,
        kind=REVISION_KIND_MESSAGE,
        object_id=message.pk,
        data={"text": original, "edited_by": "moderator", "reason": data.reason},
    )
    message.text = text
    message.save(update_fields=["text", "updated_at"])
    case_close_all(case, is_upheld=True, actor=actor)
    from feedback.moderation.scan import moderation_scan

    transaction.on_commit(lambda: moderation_scan.delay([message.pk]))
    return _record(
        actor=actor,
        case=case,
        action=AuditEntry.Action.EDIT,
        reason=data.reason,
        before={"text": original},
        after={"text": text},
    )


def _delete(*, actor, case, action, data: ActionInput) -> AuditEntry:
    content = _content(case)
    _refuse_if_removed(content)
    before_status = content.moderation_status
    if isinstance(content, Message):
        messages = Message.objects.filter(pk=content.pk)
    else:
        messages = Message.objects.filter(conversation=content)
    texts = {str(pk): text for pk, text in messages.values_list("pk", "text")}
    _status_set(content, status=ModerationStatus.REMOVED, actor=actor, reason=data.reason)
    # The text goes: nothing left to serve, show or release by mistake; the log keeps it.
    messages.update(text="")
    Revision.objects.filter(kind=REVISION_KIND_MESSAGE, object_id__in=[int(pk) for pk in texts]).delete()
    case_close_all(case, is_upheld=True, actor=actor)
    return _record(
        actor=actor,
        case=case,
        action=AuditEntry.Action.DELETE,
        reason=data.reason,
        before={"status": before_status, "texts": texts},
        after={"status": ModerationStatus.REMOVED},
    )


def _sanction(*, actor, case, action, data: ActionInput) -> AuditEntry:
    subject = case_subject(case)
    if subject is None:
        raise RequestRejected("One of the platform's models wrote this answer: there is no person to sanction.")
    kind = SANCTION_ACTIONS[action]
    days = suspension_days_clean(data.days) if kind == Sanction.Kind.SUSPEND else None
    community = case.community
    if data.is_site_wide:
        if not actor.is_platform_admin:
            raise NotAllowed("Only admins impose site-wide sanctions.")
        community = None
    sanction = sanction_impose(actor=actor, user=subject, community=community, kind=kind, reason=data.reason, days=days)
    case_close_all(case, is_upheld=True, actor=actor)
    return _record(
        actor=actor,
        case=case,
        action={"warn": AuditEntry.Action.WARN, "suspend": AuditEntry.Action.SUSPEND, "ban": AuditEntry.Action.BAN}[
            action
        ],
        reason=data.reason,
        subject=subject,
        after={
            "sanction": sanction.pk,
            "kind": kind,
            "until": sanction.until.isoformat() if sanction.until else None,
            "scope": community.slug if community else "site-wide",
        },
    )
