"""Who may moderate and govern a community.

- Platform admins (role "admin" or superusers) moderate and govern every community.
- A member whose membership role is moderator, admin or owner moderates that community only.
- A member whose membership role is admin or owner governs that community (changes its policies).

The platform-wide role "moderator" (`User.is_moderator`) does not by itself give rights in a
community: moderation is per community.
"""

from community.models import Community, Membership, User

MODERATING_ROLES = Membership.MODERATING_ROLES
GOVERNING_ROLES = (Membership.Role.ADMIN, Membership.Role.OWNER)


def _community_role(user: User, community: Community) -> str | None:
    return Membership.objects.filter(user=user, community=community).values_list("role", flat=True).first()


def can_moderate(user: User, community: Community) -> bool:
    """True for the community's moderators, admins and owner, and for platform admins."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_platform_admin:
        return True
    return _community_role(user, community) in MODERATING_ROLES


def can_govern(user: User, community: Community) -> bool:
    """True for the community's admins and owner, and for platform admins."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_platform_admin:
        return True
    return _community_role(user, community) in GOVERNING_ROLES
