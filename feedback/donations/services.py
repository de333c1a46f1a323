"""Writes for donated conversations: upload, review (remove, restore or edit a turn), donate,
delete.

These are the only functions that create or change a Donation, and the only ones that turn a
donation into a Conversation of the pool. Nothing is written when one of them raises.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected
from community.models import User
from community.selectors import community_get, sanction_check, user_may_contribute
from feedback.donations.parsing import DonatedConversation, DonationRejected, donation_parse
from feedback.donations.selectors import donation_get_for_owner
from feedback.models import Conversation, Donation, Message
from feedback.moderation.scan import scan_after_commit
from feedback.mydata.services import donation_delete as my_data_donation_delete
from feedback.taskqueue.services.items import task_items_create_for_answer

# The most conversations one upload may hold: each becomes a draft to review by hand.
DONATION_UPLOAD_MAX_CONVERSATIONS = 200
# Longest title kept (the model's field length).
DONATION_TITLE_MAX_CHARS = 300
# How much longer an edit may make a turn: room for a placeholder such as "[my e-mail]", not
# for writing a new turn (the donation is the conversation as it happened, less what was cut).
DONATION_EDIT_MAX_GROWTH_CHARS = 200

# Who wrote the assistant's answers, by the source of the export.
EXTERNAL_MODEL_BY_SOURCE = {
    Donation.Source.CHATGPT: "ChatGPT",
    Donation.Source.SHAREGPT: "ShareGPT assistant",
}


NUL = "\x00"
NUL_IN_FILE = "holds a NUL character (\\u0000), which cannot be stored. Remove it from the file and upload it again."


class UploadTooLarge(RequestRejected):
    """The file is larger than DONATION_MAX_BYTES."""

    status_code = 413


def size_text(size: int) -> str:
    """A byte count as people read it: "812 bytes", "40.0 KB", "6.2 MB" (1 KB = 1024 bytes)."""
    if size < 1024:
        return f"{size:,} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _size_exact_text(size: int) -> str:
    """ "812 bytes", "6.2 MB (6,500,000 bytes)"."""
    return size_text(size) if size < 1024 else f"{size_text(size)} ({size:,} bytes)"


def donation_upload_size_check(*, size: int) -> None:
    """Refuse a file larger than the configured limit, before anything reads it."""
    limit = settings.DONATION_MAX_BYTES
    if size > limit:
        raise UploadTooLarge(
            f"The file is {_size_exact_text(size)}; the limit is {_size_exact_text(limit)}. "
            "Upload a smaller export, or split it."
        )


def _nul_check(conversations: list[DonatedConversation]) -> None:
    """PostgreSQL cannot store NUL (0x00) in text or jsonb; JSON files carry it as \\u0000,
    which the HTTP edge (community/middleware.py) cannot see inside an uploaded file."""
    for number, conversation in enumerate(conversations, start=1):
        if NUL in (conversation.title or ""):
            raise RequestRejected(f"The title of conversation {number} {NUL_IN_FILE}")
        for position, turn in enumerate(conversation.turns, start=1):
            if NUL in turn.text:
                raise RequestRejected(f"Conversation {number}, turn {position} {NUL_IN_FILE}")


def donation_upload(*, owner: User, raw: bytes) -> list[Donation]:
    """Parse an export (ChatGPT's conversations.json or ShareGPT JSON) and keep each
    conversation in it as a draft for its owner to review. All or nothing."""
    donation_upload_size_check(size=len(raw))
    sanction_check(user=owner, community=None)  # site-wide sanctions; a community's come at donation
    try:
        conversations = donation_parse(raw, max_bytes=settings.DONATION_MAX_BYTES)
    except DonationRejected as rejected:
        raise RequestRejected(str(rejected)) from None
    if not conversations:
        raise RequestRejected("The file holds no conversation with both a user and an assistant message.")
    _nul_check(conversations)
    if len(conversations) > DONATION_UPLOAD_MAX_CONVERSATIONS:
        raise RequestRejected(
            f"The file holds {len(conversations):,} conversations; one upload may hold at most "
            f"{DONATION_UPLOAD_MAX_CONVERSATIONS}. Upload a file with fewer conversations "
            "(for ShareGPT, split the list into several files)."
        )
    drafts = [
        Donation(
            owner=owner,
            source=conversation.source,
            title=(conversation.title or "").strip()[:DONATION_TITLE_MAX_CHARS],
            turns=[{"role": turn.role, "text": turn.text, "is_removed": False} for turn in conversation.turns],
            status=Donation.Status.DRAFT,
        )
        for conversation in conversations
    ]
    with transaction.atomic():
        return Donation.objects.bulk_create(drafts)


def _draft_for_update(*, owner: User, donation_id: object) -> Donation:
    """The owner's donation, locked, if it is still a draft (409 once donated)."""
    donation = donation_get_for_owner(owner=owner, donation_id=donation_id, for_update=True)
    if donation.status != Donation.Status.DRAFT:
        raise Conflict("This conversation was already donated; it can no longer be changed, only deleted.")
    return donation


def _turn_index(donation: Donation, index: object) -> int:
    try:
        position = int(str(index))
    except ValueError:
        raise RequestRejected("No such turn in this conversation.") from None
    if not 0 <= position < len(donation.turns):
        raise RequestRejected("No such turn in this conversation.")
    return position


def donation_turn_toggle(*, owner: User, donation_id: object, index: object, is_removed: bool) -> Donation:
    """Remove a turn from a draft (it will not be donated) or restore it. The request says which
    state it wants, so sending it twice gives the same result."""
    with transaction.atomic():
        donation = _draft_for_update(owner=owner, donation_id=donation_id)
        position = _turn_index(donation, index)
        if donation.turns[position]["is_removed"] != is_removed:
            donation.turns[position]["is_removed"] = is_removed
            donation.save(update_fields=["turns"])
    return donation


def donation_turn_edit(*, owner: User, donation_id: object, index: object, text: object) -> Donation:
    """Replace a turn's text in a draft, e.g. to cut out personal information."""
    if not isinstance(text, str) or not text.strip():
        raise RequestRejected("A turn cannot be empty. Remove the turn instead.")
    text = text.replace("\r\n", "\n").strip()
    with transaction.atomic():
        donation = _draft_for_update(owner=owner, donation_id=donation_id)
        position = _turn_index(donation, index)
        if len(text) > len(donation.turns[position]["text"]) + DONATION_EDIT_MAX_GROWTH_CHARS:
            raise RequestRejected(
                "Edit a turn to take things out, not to write a new one: "
                f"it may grow by at most {DONATION_EDIT_MAX_GROWTH_CHARS} characters."
            )
        donation.turns[position]["text"] = text
        donation.save(update_fields=["turns"])
    return donation


def donation_turns_kept(*, donation: Donation) -> list[dict]:
    return [turn for turn in donation.turns if not turn["is_removed"]]


def donation_donate(*, owner: User, donation_id: object, community_slug: object) -> Donation:
    """Give a reviewed draft to a community under its licence: the turns that were not removed
    become a linear conversation in the pool, and each assistant answer is queued for review."""
    if not isinstance(community_slug, str) or not community_slug:
        raise RequestRejected("Choose the community to donate this conversation to.")
    community = community_get(slug=community_slug)
    with transaction.atomic():
        donation = donation_get_for_owner(owner=owner, donation_id=donation_id, for_update=True)
        if donation.status == Donation.Status.DONATED:
            raise Conflict("You already donated this conversation.")
        if not user_may_contribute(user=owner, community=community):
            raise NotAllowed(
                f"Join {community.name} and accept its data licence ({community.licence_name}) before donating to it."
            )
        sanction_check(user=owner, community=community)
        kept = donation_turns_kept(donation=donation)
        roles = {turn["role"] for turn in kept}
        if roles != {Message.Role.USER, Message.Role.ASSISTANT}:
            raise RequestRejected(
                "Keep at least one of your messages and one answer: restore a turn you removed, or delete this draft."
            )
        if kept[0]["role"] != Message.Role.USER:
            raise RequestRejected(
                "The conversation must start with one of your messages: restore your first question, "
                "or remove the answers before it."
            )

        conversation = Conversation.objects.create(community=community, owner=owner)
        external_model = EXTERNAL_MODEL_BY_SOURCE[donation.source]
        parent = None
        answers = []
        for turn in kept:
            if turn["role"] == Message.Role.USER:
                message = Message.objects.create(
                    conversation=conversation, parent=parent, role=Message.Role.USER, text=turn["text"], author=owner
                )
            else:
                message = Message.objects.create(
                    conversation=conversation,
                    parent=parent,
                    role=Message.Role.ASSISTANT,
                    text=turn["text"],
                    external_model=external_model,
                )
                answers.append(message)
            parent = message

        donation.status = Donation.Status.DONATED
        donation.community = community
        donation.conversation = conversation
        donation.donated_at = timezone.now()
        donation.save(update_fields=["status", "community", "conversation", "donated_at"])
        for answer in answers:
            task_items_create_for_answer(answer=answer)
        scan_after_commit(Message.objects.filter(conversation=conversation).order_by("pk"))
    return donation


def donation_delete(*, owner: User, donation_id: object) -> Donation:
    """Delete a draft, or a donation together with its conversation: its messages, their review
    items and the reviews given to them (with their revision history) leave the live pool, so
    later releases leave them out. The removal itself is My data's, so that deleting from either
    page does exactly the same. Returns the donation as it was, for the message that confirms it."""
    with transaction.atomic():
        donation = donation_get_for_owner(owner=owner, donation_id=donation_id, for_update=True)
        my_data_donation_delete(volunteer=owner, donation_id=donation.pk)
    return donation
