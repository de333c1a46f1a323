"""Request budgets for the API: one per API token, one per user for session logins, one per IP
address for anonymous callers. Over a budget the API answers 429 with a Retry-After header.

The rates are read from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` on every request (DRF's own
throttles read them once, at import), so a changed setting takes effect at once.
"""

import math

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from feedback.models import ApiToken


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def wait(self) -> float | None:
        """Whole seconds, at least 1: what the Retry-After header says."""
        seconds = super().wait()
        return None if seconds is None else max(1, math.ceil(seconds))


class ApiTokenRateThrottle(_SettingsRateThrottle):
    """Each API token has its own budget; a session login (or DRF's single token) its user's."""

    scope = "token"

    def get_cache_key(self, request, view) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        if isinstance(request.auth, ApiToken):
            ident = f"api-token-{request.auth.pk}"
        else:
            ident = f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Anonymous callers share one budget per IP address."""

    scope = "anonymous"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
