"""Erasing an account: the record that it happened, and an account with nothing personal left.

The pool's own items (conversations, votes, ratings, ...) belong to `feedback`, which removes
them first and then calls `user_erase` in the same transaction; `community` knows nothing of them
beyond the counts it records.
"""

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from community.errors import Conflict
from community.models import ErasureRequest, Membership, ResearcherApplication, User


def erased_email(user_pk: int) -> str:
    """The address an erased account is left with: unique, and never deliverable (.invalid)."""
    return f"erased-{user_pk}@invalid"


def user_erase(*, user: User, items_removed: dict[str, int]) -> ErasureRequest:
    """Leave every community, record the erasure, and anonymise and deactivate the account.

    The account row stays (its id is what releases exclude, via `ErasureRequest.user_pk`) but
    holds nothing personal: the e-mail address is replaced, the password made unusable (which
    also ends every session), the display name and languages cleared, staff rights, groups and permissions removed.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.is_active and user.email == erased_email(user.pk):
            raise Conflict("This account is already erased.")
        memberships_removed, _ = Membership.objects.filter(user=user).delete()
        EmailAddress.objects.filter(user=user).delete()
        Token.objects.filter(user=user).delete()
        # What they wrote to apply for researcher access is theirs; the access audit log keeps
        # only ids, the decision and the admin's reason.
        ResearcherApplication.objects.filter(user=user).delete()
        user.groups.clear()
        user.user_permissions.clear()
        now = timezone.now()
        erasure = ErasureRequest.objects.create(
            user=user,
            user_pk=user.pk,
            items_removed={**items_removed, "memberships": memberships_removed},
            completed_at=now,
        )
        user.email = erased_email(user.pk)
        user.display_name = ""
        user.languages = []
        user.is_on_leaderboards = False
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        user.set_unusable_password()
        user.save(
            update_fields=[
                "email",
                "display_name",
                "languages",
                "is_on_leaderboards",
                "is_active",
                "is_staff",
                "is_superuser",
                "password",
            ]
        )
        return erasure
