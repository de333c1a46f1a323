"""How allauth limits failed log-ins here: by address, and by (address, account), never by
account alone.

allauth's default counts failed log-ins per account ("5 in 5 minutes"), so five wrong passwords
sent by anyone, from anywhere, lock the account's owner out too. Here its "login_failed" limit
(`ACCOUNT_RATE_LIMITS` in config/settings.py) reads:

- per address: so many failures from one client address, whatever the accounts;
- per key, where the key (below) is the client address, the account's e-mail address and a
  digest of the account's current password hash.

So wrong passwords from address X lock X, and X for that account; the owner logging in from
another address gets in. Setting a new password (the e-mailed reset link, or changing it) changes
the key of every address at once, so the reset link always lets a locked-out owner back in;
allauth also clears the per-address count of the address the reset was made from.

The client address is allauth's (`REMOTE_ADDR`, or `X-Forwarded-For` behind
`ALLAUTH_TRUSTED_PROXY_COUNT` proxies, IPv6 by /64). docs/accounts.md says more.
"""

import hashlib
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import filter_users_by_email
from allauth.core.internal.ratelimit import get_ip
from django.http import HttpRequest

TOO_MANY_FAILED_LOGINS = (
    "Too many failed log-ins from your address. Wait a few minutes, or set a new password with "
    "“Forgot your password?”: the link we e-mail you lets you in at once."
)


def password_digest(login: str) -> str:
    """A short digest of the current password hash of the account `login` names ("" if none):
    it changes whenever the password does."""
    users = filter_users_by_email(login) if login else []
    password = users[0].password if users else ""
    return hashlib.sha256(password.encode()).hexdigest()[:16]


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {**DefaultAccountAdapter.error_messages, "too_many_login_attempts": TOO_MANY_FAILED_LOGINS}

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """The key of the per-key "login_failed" limit (allauth's own is the site and the e-mail
        address): the client address, the e-mail address and its account's password digest."""
        login = str(credentials.get("email", credentials.get("username", ""))).strip().lower()
        return f"{get_ip(request)}|{login}|{password_digest(login)}"
