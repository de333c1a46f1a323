"""Request budgets for the API: one per API token, one per user for session logins, one per IP
address for anonymous callers. Over a budget the API answers 429 with a Retry-After header.

The rates are read from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` on every request (DRF's own
throttles read them once, at import), so a changed setting takes effect at once; they read like
DRF's ("1000/hour", "10/min", "5/s").

The budgets are sliding window counters, the same as the rate limits' (feedback/moderation/
ratelimits.py), taken in one Redis round trip (a Lua script) per request. A view that also
rate-limits an action takes both in that one round trip: it calls `throttled_rate_limit` in
`check_throttles` (the vote API does).
"""

from django.conf import settings
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from feedback.models import ApiToken

_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


class _SettingsRateThrottle(BaseThrottle):
    scope = ""

    def budget(self, request, view):
        """This request's budget (a ratelimits.Budget), or None when it has none (another class's
        caller, or no rate)."""
        # Imported here: DRF imports this module while `rest_framework.views` is still loading,
        # and the rate limits import community.errors, which imports `rest_framework.views`.
        from feedback.moderation.ratelimits import Budget, Rate

        text = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        ident = self.ident(request)
        if not text or ident is None:
            return None
        count, _, period = text.partition("/")
        try:
            rate = Rate(count=int(count), unit=_UNITS[period.strip()[:1].lower()])
        except (ValueError, KeyError):
            raise ValueError(f"DEFAULT_THROTTLE_RATES[{self.scope!r}] reads like '1000/hour', not {text!r}") from None
        return Budget(
            name=f"{settings.RATE_LIMIT_KEY_PREFIX}:throttle:{self.scope}:{ident}",
            rate=rate,
            refusal=lambda wait: exceptions.Throttled(wait),
        )

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        from feedback.moderation.ratelimits import budgets_take

        budget = self.budget(request, view)
        self._wait = None
        if budget is not None:
            try:
                budgets_take([budget])
            except exceptions.Throttled as refused:
                self._wait = refused.wait
                return False
        return True

    def wait(self) -> float | None:
        """Whole seconds, at least 1: what the Retry-After header says."""
        return self._wait


class ApiTokenRateThrottle(_SettingsRateThrottle):
    """Each API token has its own budget; a session login (or DRF's single token) its user's."""

    scope = "token"

    def ident(self, request) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        if isinstance(request.auth, ApiToken):
            return f"api-token-{request.auth.pk}"
        return f"user-{request.user.pk}"


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Anonymous callers share one budget per IP address."""

    scope = "anonymous"

    def ident(self, request) -> str | None:
        from feedback.moderation.ratelimits import client_address

        if request.user and request.user.is_authenticated:
            return None
        return client_address(request) or "unknown"


def throttled_rate_limit(request, view, action: str) -> None:
    """The view's throttles and the rate limit of `action` (feedback/moderation/ratelimits.py),
    all or none, in one step: 429 from whichever budget is used up (DRF's "Request was
    throttled" for a throttle, the rate limit's message for the action)."""
    from feedback.moderation.ratelimits import rate_limit

    budgets = [throttle.budget(request, view) for throttle in view.get_throttles()]
    rate_limit(request, action, also=[budget for budget in budgets if budget is not None])
