"""Conversations volunteers bring from other assistants, reviewed before they are donated."""

from django.conf import settings
from django.db import models


class Donation(models.Model):
    class Source(models.TextChoices):
        CHATGPT = "chatgpt", "ChatGPT export (conversations.json)"
        SHAREGPT = "sharegpt", "ShareGPT JSON"

    class Status(models.TextChoices):
        DRAFT = "draft", "Being reviewed"
        DONATED = "donated", "Donated"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="donations")
    community = models.ForeignKey(
        "community.Community", on_delete=models.CASCADE, null=True, blank=True, related_name="donations"
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    title = models.CharField(max_length=300, blank=True)
    turns = models.JSONField(help_text='[{"role": "user"|"assistant", "text": ..., "is_removed": bool}, ...]')
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    conversation = models.OneToOneField(
        "feedback.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="donation"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    donated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or f"Donation {self.pk}"
