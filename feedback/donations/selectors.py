"""Reads for donated conversations, each scoped to the donor: nobody else sees a draft, whatever
their role."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from community.models import Community, Membership, User
from feedback.models import Donation
from feedback.privacy.pii import KINDS, pii_find

# How a warning names each kind of personal information: (one, several).
PII_KIND_NAMES = {
    "email": ("e-mail address", "e-mail addresses"),
    "phone": ("phone number", "phone numbers"),
    "payment_card": ("payment card number", "payment card numbers"),
    "ip_address": ("IP address", "IP addresses"),
    "postal_address": ("postal address", "postal addresses"),
    "government_id": ("government ID number", "government ID numbers"),
    "bank_account": ("bank account number", "bank account numbers"),
}


def pii_kind_count_text(kind: str, count: int) -> str:
    """ "1 phone number", "2 e-mail addresses"."""
    one, several = PII_KIND_NAMES.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
    return f"{count} {one if count == 1 else several}"


def donation_list_for_owner(*, owner: User) -> QuerySet[Donation]:
    """The owner's donations, drafts and donated, newest first."""
    return Donation.objects.filter(owner=owner).select_related("community").order_by("-created_at", "-pk")


def donation_get_for_owner(*, owner: User, donation_id: object, for_update: bool = False) -> Donation:
    """The donation, if `owner` uploaded it; 404 for anyone else."""
    donations = Donation.objects.select_related("community")
    if for_update:
        donations = donations.select_for_update(of=("self",))
    try:
        return donations.get(pk=donation_id, owner=owner)
    except (Donation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such donation among yours.") from None


def donation_communities_for(*, user: User) -> list[Community]:
    """Communities `user` may donate to: joined, with their current licence accepted (the rule of
    `user_may_contribute`), by name."""
    if not user.is_authenticated or not user.is_active:
        return []
    memberships = Membership.objects.filter(user=user, licence_accepted_at__isnull=False).select_related("community")
    return sorted(
        (membership.community for membership in memberships if membership.has_current_licence),
        key=lambda community: community.name,
    )


@dataclass(frozen=True)
class TurnReview:
    index: int
    role: str
    text: str
    is_removed: bool
    html: SafeString  # the text, escaped, with personal information inside <mark>
    pii_counts: dict[str, int]

    @property
    def pii_text(self) -> str:
        return ", ".join(pii_kind_count_text(kind, count) for kind, count in self.pii_counts.items())


@dataclass(frozen=True)
class DonationReview:
    donation: Donation
    turns: list[TurnReview]
    pii_counts: dict[str, int]  # over the turns that are kept
    kept_user_turns: int
    kept_assistant_turns: int

    @property
    def pii_text(self) -> str:
        return ", ".join(pii_kind_count_text(kind, count) for kind, count in self.pii_counts.items())

    @property
    def is_ready(self) -> bool:
        kept = [turn for turn in self.turns if not turn.is_removed]
        return bool(kept) and kept[0].role == "user" and self.kept_user_turns > 0 and self.kept_assistant_turns > 0


def turn_review(*, donation: Donation, index: int) -> TurnReview:
    """One turn of a draft, with the personal information found in it marked."""
    turn = donation.turns[index]
    text = turn["text"]
    pieces: list[str] = []
    counts = dict.fromkeys(KINDS, 0)
    position = 0
    for match in pii_find(text):
        name = PII_KIND_NAMES.get(match.kind, (match.kind,))[0]
        pieces.append(escape(text[position : match.start]))
        pieces.append(f'<mark class="pii" title="Looks like {escape(name)}">{escape(match.text)}</mark>')
        counts[match.kind] += 1
        position = match.end
    pieces.append(escape(text[position:]))
    return TurnReview(
        index=index,
        role=turn["role"],
        text=text,
        is_removed=turn["is_removed"],
        html=mark_safe("".join(pieces)),  # noqa: S308 (every piece of text above is escaped)
        pii_counts={kind: count for kind, count in counts.items() if count},
    )


def donation_review(*, donation: Donation) -> DonationReview:
    """Everything the review page shows: each turn with its warnings, and the totals over the
    turns that would be donated."""
    turns = [turn_review(donation=donation, index=index) for index in range(len(donation.turns))]
    totals = dict.fromkeys(KINDS, 0)
    for turn in turns:
        if not turn.is_removed:
            for kind, count in turn.pii_counts.items():
                totals[kind] += count
    kept = [turn for turn in turns if not turn.is_removed]
    return DonationReview(
        donation=donation,
        turns=turns,
        pii_counts={kind: count for kind, count in totals.items() if count},
        kept_user_turns=sum(turn.role == "user" for turn in kept),
        kept_assistant_turns=sum(turn.role == "assistant" for turn in kept),
    )
