"""Writes for the researchers' API: make, revoke and mark as used the API tokens of a person."""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from community.errors import RequestRejected
from community.models import User
from feedback.models import ApiToken
from feedback.models.tokens import token_key_hash
from feedback.researchapi.authentication import TOKEN_PREFIX
from feedback.researchapi.selectors import api_token_get_for

TOKEN_NAME_MAX_CHARS = 80
ACTIVE_TOKENS_MAX = 20
# `last_used_at` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def api_token_create(*, user: User, name: object) -> tuple[ApiToken, str]:
    """A new token for `user`: (the stored token, the token itself). The token itself is shown
    once and never stored; only its SHA-256 is."""
    if not user.is_authenticated or not user.is_active:
        raise RequestRejected("Log in to make an API token.")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        name = "API token"
    if len(name) > TOKEN_NAME_MAX_CHARS:
        raise RequestRejected(f"A token's name can be at most {TOKEN_NAME_MAX_CHARS} characters long.")
    with transaction.atomic():
        # The lock on the user row serialises concurrent creations, so the limit holds.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= ACTIVE_TOKENS_MAX:
            raise RequestRejected(f"You have {ACTIVE_TOKENS_MAX} active tokens: revoke one before making another.")
        key = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(user=user, name=name, key_hash=token_key_hash(key), last_four=key[-4:])
    return token, key


def api_token_revoke(*, user: User, token_id: object) -> ApiToken:
    """Revoke one of `user`'s tokens; from now on it is refused with 401. Revoking it again
    changes nothing (the first revocation's time stays)."""
    with transaction.atomic():
        token = api_token_get_for(owner=user, token_id=token_id, for_update=True)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
    return token


def api_token_used(*, token: ApiToken) -> None:
    """Record that the token was just used (at most once per LAST_USED_RESOLUTION)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
