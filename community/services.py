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
