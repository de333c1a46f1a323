"""API tokens: keys for the REST API, several per person, each named and revocable.

Only the SHA-256 of a token is stored (with its last four characters, to tell tokens apart);
the token itself is shown once, when it is made, and cannot be recovered afterwards. A revoked
token stays as a row, so a request that still carries it gets a clear answer instead of
"unknown token".
"""

import hashlib

from django.conf import settings
from django.db import models


def token_key_hash(key: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What the token is for, e.g. 'laptop' or 'training cluster'.")
    key_hash = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the token, in hex; the token itself is never stored."
    )
    last_four = models.CharField(max_length=4, help_text="The token's last four characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} (…{self.last_four})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
