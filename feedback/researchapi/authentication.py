"""API-token authentication: `Authorization: Bearer <token>` with a token made on /me/tokens/.

The token is looked up by its SHA-256 (the only form stored). An unknown, revoked or malformed
token, or one whose account is no longer active, is refused with 401 and a message that says
which; a request without an Authorization header is left to the next authentication class.
"""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

KEYWORD = "Bearer"
# Tokens start with this, so they are easy to recognise (and for secret scanners to find).
TOKEN_PREFIX = "fc_"  # noqa: S105 (a public prefix, not a secret)


class ApiTokenAuthentication(BaseAuthentication):
    """`Bearer <token>`; also `Token <token>` for tokens of ours (prefix `fc_`), so that DRF's own
    single-token scheme (`Token <40 hex digits>`) keeps working behind this one."""

    def authenticate(self, request):
        # Imported here: DRF imports this module while `rest_framework.views` is still loading.
        from feedback.researchapi.selectors import api_token_find
        from feedback.researchapi.services import api_token_used

        words = get_authorization_header(request).split()
        if not words:
            return None
        keyword = words[0].lower()
        if keyword not in (b"bearer", b"token"):
            return None
        ours = keyword == b"bearer" or (len(words) == 2 and words[1].startswith(TOKEN_PREFIX.encode()))
        if not ours:
            return None
        if len(words) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send 'Authorization: Bearer <token>' with one token and no spaces."
            )
        try:
            key = words[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token: a token holds only ASCII characters.") from None
        token = api_token_find(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token: no such token. Make one on /me/tokens/.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                f"This token was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC. Make a new one on /me/tokens/."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The account this token belongs to is no longer active.")
        api_token_used(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="api"'
