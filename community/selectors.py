"""Reads for people and communities."""

from django.db.models import Case, F, Q, QuerySet, Value, When
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from community.errors import NotAllowed
from community.models import (
    AccessAuditEntry,
    Appeal,
    Community,
    Membership,
    ResearcherApplication,
    Sanction,
    User,
)
from community.permissions import MODERATING_ROLES


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


# Moderators


def user_may_moderate(*, user: User, community: Community | None) -> bool:
    """Who moderates a community: platform admins (every community), and the community's
    moderators, admins and owner (their membership's role; community/permissions.py). Site-wide
    matters (community None) are for admins alone. A moderator of one community has no power
    in another."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_platform_admin:
        return True
    if community is None:
        return False
    return Membership.objects.filter(user=user, community=community, role__in=MODERATING_ROLES).exists()


def communities_moderated_by(*, user: User) -> QuerySet[Community]:
    """The communities `user` may moderate (every one for an admin), by name."""
    if not user.is_authenticated or not user.is_active:
        return Community.objects.none()
    if user.is_platform_admin:
        return community_list()
    return Community.objects.filter(memberships__user=user, memberships__role__in=MODERATING_ROLES).order_by("name")


# Sanctions


def sanction_in_force(*, user: User, community: Community | None) -> Sanction | None:
    """The suspension or ban that stops `user` contributing to `community` now, if any: one of
    that community's or a site-wide one (with `community=None`, site-wide ones only). A ban
    wins over a suspension; of two suspensions, the one that ends last."""
    if not user.is_authenticated:
        return None
    scope = Q(community__isnull=True)
    if community is not None:
        scope |= Q(community=community)
    now = timezone.now()
    in_force = (
        Sanction.objects.filter(scope, user=user, lifted_at__isnull=True)
        .filter(Q(kind=Sanction.Kind.BAN) | Q(kind=Sanction.Kind.SUSPEND, until__gt=now))
        .select_related("community")
    )
    return in_force.order_by(
        Case(When(kind=Sanction.Kind.BAN, then=Value(0)), default=Value(1)), F("until").desc(nulls_first=True)
    ).first()


def sanction_refusal_message(sanction: Sanction) -> str:
    """What a sanctioned person reads when a contribution is refused: why, and until when."""
    where = sanction.community.name if sanction.community else "every community"
    if sanction.kind == Sanction.Kind.BAN:
        what = f"You are banned from {where}"
    else:
        until = timezone.localtime(sanction.until).strftime("%-d %B %Y, %H:%M %Z")
        what = f"You are suspended from {where} until {until}"
    appeal = ""
    if not Appeal.objects.filter(sanction=sanction).exists():
        appeal = f" You can appeal once, on your sanctions page ({reverse('community:my_sanctions')})."
    reason = sanction.reason.rstrip(".")
    return f"{what}. Reason: {reason}.{appeal}"


def sanction_check(*, user: User, community: Community | None) -> None:
    """Refuse (403, with the reason and the end) a contribution from a suspended or banned person."""
    sanction = sanction_in_force(user=user, community=community)
    if sanction is not None:
        raise NotAllowed(sanction_refusal_message(sanction))


def sanctions_of(*, user: User) -> QuerySet[Sanction]:
    """A person's own sanctions, newest first, with their appeals (for their sanctions page)."""
    return Sanction.objects.filter(user=user).select_related("community", "appeal").order_by("-created_at", "-pk")


def sanction_get_for_owner(*, user: User, sanction_id: object) -> Sanction:
    """One of the person's own sanctions; 404 for anyone else's."""
    try:
        return Sanction.objects.select_related("community").get(pk=sanction_id, user=user)
    except (Sanction.DoesNotExist, ValueError, TypeError):
        raise Http404("No such sanction among yours.") from None


# Researcher access


def researcher_applications_of(*, user: User) -> QuerySet[ResearcherApplication]:
    """A person's own applications for researcher access, newest first."""
    return ResearcherApplication.objects.filter(user=user).select_related("decided_by").order_by("-created_at", "-pk")


def researcher_access_may_decide(*, user: User) -> bool:
    """Platform admins (role admin, or superusers) decide applications for researcher access."""
    return bool(user.is_authenticated and user.is_active and user.is_platform_admin)


def researcher_access_decider_check(*, user: User) -> None:
    if not researcher_access_may_decide(user=user):
        raise NotAllowed("Only platform admins decide applications for researcher access.")


def researcher_applications_pending(*, viewer: User) -> QuerySet[ResearcherApplication]:
    """Applications waiting for a decision, oldest first (for the admins' console)."""
    researcher_access_decider_check(user=viewer)
    return (
        ResearcherApplication.objects.filter(status=ResearcherApplication.Status.PENDING)
        .select_related("user")
        .order_by("created_at", "pk")
    )


def access_audit_recent(*, viewer: User, limit: int = 20) -> QuerySet[AccessAuditEntry]:
    """The latest access decisions from the audit log, newest first (for the admins' console)."""
    researcher_access_decider_check(user=viewer)
    return AccessAuditEntry.objects.select_related("actor", "subject").order_by("-created_at", "-pk")[:limit]


def researcher_application_get_for_admin(*, viewer: User, application_id: object) -> ResearcherApplication:
    """One application, for a platform admin to decide: 403 for anyone else, 404 if unknown."""
    researcher_access_decider_check(user=viewer)
    try:
        return ResearcherApplication.objects.select_related("user").get(pk=int(application_id))  # type: ignore[arg-type]
    except (ResearcherApplication.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such application for researcher access.") from None
