"""Reads for people and communities."""

from django.db.models import QuerySet
from django.http import Http404

from community.models import Community, Membership, User


def community_list() -> QuerySet[Community]:
    return Community.objects.order_by("name")


def community_get(*, slug: str) -> Community:
    try:
        return Community.objects.get(slug=slug)
    except Community.DoesNotExist:
        raise Http404("No community with that name.") from None


def membership_get(*, user: User, community: Community) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, community=community).select_related("community").first()


def user_may_contribute(*, user: User, community: Community) -> bool:
    """A user may contribute to a community once they joined it and accepted its current licence."""
    if not user.is_authenticated or not user.is_active:
        return False
    membership = membership_get(user=user, community=community)
    return membership is not None and membership.has_current_licence
