"""Writes for people and communities."""

from django.db import transaction
from django.utils import timezone

from community.models import Community, Membership, User


def community_create(
    *, name: str, slug: str, description: str = "", language: str = "en", licence_name: str = "CC BY 4.0"
) -> Community:
    community = Community(name=name, slug=slug, description=description, language=language, licence_name=licence_name)
    community.full_clean()
    community.save()
    return community


@transaction.atomic
def membership_accept_licence(*, user: User, community: Community) -> Membership:
    """Join `community` (if not yet a member) and accept its current data licence.

    The acceptance records the licence name, its version and the time, so a later change of
    terms can ask members to accept again.
    """
    membership, _ = Membership.objects.select_for_update().get_or_create(user=user, community=community)
    if not membership.has_current_licence:
        membership.licence_name = community.licence_name
        membership.licence_version = community.licence_version
        membership.licence_accepted_at = timezone.now()
        membership.save(update_fields=["licence_name", "licence_version", "licence_accepted_at"])
    return membership


LANGUAGE_CODES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "ru": "Russian", "sw": "Swahili", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip


def volunteer_preferences_set(*, user: User, languages: list[str], topics: dict[str, list[str]]) -> User:
    """Set the languages a volunteer works in and, per community (by slug), the topics they pick.
    Empty lists mean "any". Unknown languages, communities or topics are rejected, nothing saved."""
    from community.errors import RequestRejected

    unknown_languages = sorted(set(languages) - set(LANGUAGE_CODES))
    if unknown_languages:
        raise RequestRejected(f"Unknown language: {', '.join(unknown_languages)}.")
    memberships = {m.community.slug: m for m in Membership.objects.filter(user=user).select_related("community")}
    for slug, chosen in topics.items():
        if slug not in memberships:
            raise RequestRejected("You can pick topics only in communities you joined.")
        unknown_topics = sorted(set(chosen) - set(memberships[slug].community.topics))
        if unknown_topics:
            raise RequestRejected(f"Unknown topic in {memberships[slug].community.name}: {', '.join(unknown_topics)}.")
    with transaction.atomic():
        user.languages = sorted(set(languages))
        user.save(update_fields=["languages"])
        for slug, chosen in topics.items():
            membership = memberships[slug]
            membership.topics = sorted(set(chosen))
            membership.save(update_fields=["topics"])
    return user
