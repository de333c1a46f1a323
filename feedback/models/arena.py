"""The arena: conversations as message trees, and battles between two anonymous models.

One arena conversation is one tree. The volunteer's first prompt is the root; each model's
answer is a child of it. A follow-up prompt is stored once under each side's last answer,
so each side keeps its own history, and a battle points at the two answers of its turn.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from feedback.models.moderation import Moderated
from feedback.privacy.pii import redacted_text_of, text_key, text_redacted


class Conversation(Moderated):
    community = models.ForeignKey("community.Community", on_delete=models.PROTECT, related_name="conversations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    names_revealed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the volunteer first saw which model was which."
    )
    topic = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(Moderated.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Conversation {self.pk} in {self.community}"


class Message(Moderated):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    role = models.CharField(max_length=20, choices=Role.choices)
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    endpoint = models.ForeignKey(
        "inference.ModelEndpoint", on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    external_model = models.CharField(
        max_length=80, blank=True, help_text="For donated conversations: the assistant that wrote this answer."
    )
    corrects = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="corrections",
        help_text="For a human-written answer: the model answer it improves on (a preference: human over model).",
    )
    # The text with personal information redacted ("" when there was nothing to redact) and the
    # `pii.text_key` of the text it was computed from: computed once when the text is saved, so
    # a release does not run the detector on millions of messages again. A release uses it only
    # while `redacted_from` still matches the text (any way the text changed), else redacts anew.
    text_redacted = models.TextField(blank=True, default="", editable=False)
    redacted_from = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(Moderated.Meta):
        ordering = ["created_at", "pk"]
        constraints = [
            # A prompt is written by a person; an answer by one of our models (endpoint), by a
            # person (author), or, in a donated conversation, by another assistant (external_model).
            models.CheckConstraint(
                condition=(
                    Q(role="user", endpoint__isnull=True)
                    | Q(role="assistant", author__isnull=True, endpoint__isnull=False)
                    | Q(role="assistant", author__isnull=False, endpoint__isnull=True)
                    | (Q(role="assistant", author__isnull=True, endpoint__isnull=True) & ~Q(external_model=""))
                ),
                name="message_author_or_model",
            )
        ]
        indexes = [
            # The few messages moderation took down, for listing them; visible ones are the rest.
            models.Index(
                fields=["moderation_status"], condition=~Q(moderation_status="visible"), name="message_moderated"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"

    def save(self, *args, **kwargs) -> None:
        key = text_key(self.text)
        if self.redacted_from != key:
            self.text_redacted, self.redacted_from = text_redacted(self.text), key
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "text_redacted", "redacted_from"}
        super().save(*args, **kwargs)

    @property
    def text_for_release(self) -> str:
        """The text with personal information redacted."""
        return redacted_text_of(self.text, self.text_redacted, self.redacted_from)

    @property
    def is_human_answer(self) -> bool:
        return self.role == self.Role.ASSISTANT and self.author_id is not None


class Battle(models.Model):
    """One turn of an arena conversation, judged by the volunteer who wrote it."""

    class Winner(models.TextChoices):
        MODEL_A = "model_a", "A is better"
        MODEL_B = "model_b", "B is better"
        TIE = "tie", "Tie"
        BOTH_BAD = "tie (bothbad)", "Both are bad"

    class Status(models.TextChoices):
        STREAMING = "streaming", "Answers streaming"
        READY = "ready", "Waiting for a vote"
        VOTED = "voted", "Voted"
        ERRORED = "errored", "Errored"

    community = models.ForeignKey("community.Community", on_delete=models.PROTECT, related_name="battles")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="battles")
    turn = models.PositiveSmallIntegerField(default=1)
    judge = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="battles")
    model_a = models.ForeignKey("inference.ModelEndpoint", on_delete=models.PROTECT, related_name="+")
    model_b = models.ForeignKey("inference.ModelEndpoint", on_delete=models.PROTECT, related_name="+")
    answer_a = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="+")
    answer_b = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.STREAMING)
    error = models.TextField(blank=True)
    winner = models.CharField(max_length=20, choices=Winner.choices, blank=True)
    is_blind = models.BooleanField(
        default=True,
        help_text="False when the vote came after the names were shown or an answer named its own model.",
    )
    language = models.CharField(max_length=16, blank=True)
    vote_idempotency_key = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(model_a=F("model_b")), name="battle_two_different_models"),
            models.CheckConstraint(
                condition=Q(winner="") | Q(winner__in=["model_a", "model_b", "tie", "tie (bothbad)"]),
                name="battle_winner_known",
            ),
            models.CheckConstraint(
                condition=(Q(status="voted") & ~Q(winner="")) | (~Q(status="voted") & Q(winner="")),
                name="battle_winner_iff_voted",
            ),
            models.UniqueConstraint(fields=["judge", "vote_idempotency_key"], name="battle_unique_vote_key_per_judge"),
        ]
        indexes = [models.Index(fields=["community", "status"])]

    def __str__(self) -> str:
        return f"Battle {self.pk}: {self.model_a} vs {self.model_b}"
