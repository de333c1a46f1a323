"""The task queue and the feedback it collects: ratings, flags, corrections, rankings, claims.

A `TaskItem` is one piece of work on one target (an answer, or a prompt whose answers are
ranked) that needs `required_responses` independent responses. A `TaskAssignment` records that
an item was served to a volunteer: reserved for a while, then answered or skipped. It is also
what keeps a volunteer from being served the same item twice.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class TaskKind(models.TextChoices):
    RANK = "rank", "Rank answers"
    RATE = "rate", "Rate an answer"
    FLAG = "flag", "Flag an answer"
    CHECK_CLAIMS = "check_claims", "Check claims"
    CORRECT = "correct", "Write a better answer"


class RatingScale(models.Model):
    """A 1–5 scale volunteers rate answers on. Community-less scales apply to every community."""

    community = models.ForeignKey(
        "community.Community", on_delete=models.CASCADE, null=True, blank=True, related_name="rating_scales"
    )
    name = models.SlugField(max_length=40)
    label = models.CharField(max_length=80)
    question = models.CharField(max_length=200)
    low_label = models.CharField(max_length=60, default="Very poor")
    high_label = models.CharField(max_length=60, default="Excellent")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="rating_scale_unique_name")]

    def __str__(self) -> str:
        return self.label


class TaskItem(models.Model):
    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="task_items")
    kind = models.CharField(max_length=20, choices=TaskKind.choices)
    answer = models.ForeignKey(
        "feedback.Message", on_delete=models.CASCADE, null=True, blank=True, related_name="task_items"
    )
    prompt = models.ForeignKey(
        "feedback.Message",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="ranking_items",
        help_text="For ranking: the prompt whose answers are ranked.",
    )
    language = models.CharField(max_length=16, blank=True)
    topic = models.CharField(max_length=40, blank=True)
    required_responses = models.PositiveSmallIntegerField(default=3)
    response_count = models.PositiveSmallIntegerField(default=0)
    is_gold = models.BooleanField(default=False, help_text="Has a known answer that measures volunteers.")
    gold_answer = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(response_count__lte=F("required_responses")), name="task_item_at_most_k_responses"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="rank", prompt__isnull=False, answer__isnull=True)
                    | (~Q(kind="rank") & Q(answer__isnull=False, prompt__isnull=True))
                ),
                name="task_item_target_fits_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "answer"], condition=Q(is_gold=False), name="task_item_one_per_answer_and_kind"
            ),
            models.UniqueConstraint(
                fields=["kind", "prompt"], condition=Q(is_gold=False), name="task_item_one_per_prompt_and_kind"
            ),
        ]
        indexes = [models.Index(fields=["community", "kind", "response_count"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_complete(self) -> bool:
        return self.response_count >= self.required_responses


class TaskAssignment(models.Model):
    class Status(models.TextChoices):
        RESERVED = "reserved", "Reserved"
        ANSWERED = "answered", "Answered"
        SKIPPED = "skipped", "Skipped"

    item = models.ForeignKey(TaskItem, on_delete=models.CASCADE, related_name="assignments")
    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RESERVED)
    reserved_until = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    gold_correct = models.BooleanField(
        null=True, blank=True, help_text="For gold items: whether the response matched the known answer."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "volunteer"], name="task_assignment_once_per_volunteer")]
        indexes = [models.Index(fields=["item", "status", "reserved_until"])]

    def __str__(self) -> str:
        return f"{self.item} for {self.volunteer}: {self.status}"


class Rating(models.Model):
    assignment = models.ForeignKey(TaskAssignment, on_delete=models.CASCADE, related_name="ratings")
    answer = models.ForeignKey("feedback.Message", on_delete=models.CASCADE, related_name="ratings")
    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    scale = models.ForeignKey(RatingScale, on_delete=models.PROTECT, related_name="ratings")
    value = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=1, value__lte=5), name="rating_value_1_to_5"),
            models.UniqueConstraint(fields=["volunteer", "answer", "scale"], name="rating_once_per_scale"),
        ]

    def __str__(self) -> str:
        return f"Rating {self.value} on answer {self.answer_id}"


class FlagLabel(models.TextChoices):
    SPAM = "spam", "Spam"
    PERSONAL_INFORMATION = "personal_information", "Personal information"
    TOXIC = "toxic", "Toxic or hateful"
    SEXUAL = "sexual", "Sexual content"
    WRONG_LANGUAGE = "wrong_language", "Wrong language"
    FAILS_TASK = "fails_task", "Fails the task"
    MODEL_IDENTITY = "model_identity", "Reveals or claims a model identity"


class FlagResponse(models.Model):
    """One volunteer's verdict on an answer: the labels that apply (none is a valid answer)."""

    assignment = models.OneToOneField(TaskAssignment, on_delete=models.CASCADE, related_name="flag_response")
    answer = models.ForeignKey("feedback.Message", on_delete=models.CASCADE, related_name="flag_responses")
    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="flag_responses")
    labels = models.JSONField(default=list)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Flags {', '.join(self.labels) or 'none'} on answer {self.answer_id}"


class Ranking(models.Model):
    """A volunteer's order of the answers to one prompt, best first; `order` is a list of groups
    of message ids, so answers in one group are tied."""

    assignment = models.OneToOneField(TaskAssignment, on_delete=models.CASCADE, related_name="ranking")
    prompt = models.ForeignKey("feedback.Message", on_delete=models.CASCADE, related_name="rankings")
    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rankings")
    order = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Ranking of prompt {self.prompt_id}"


class Claim(models.Model):
    """One atomic claim of an answer. Claims proposed by the community's model have no author;
    a volunteer who edits or adds a claim gets a claim of their own (`revises` the original)."""

    answer = models.ForeignKey("feedback.Message", on_delete=models.CASCADE, related_name="claims")
    position = models.PositiveSmallIntegerField()
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="claims"
    )
    revises = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="revisions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


class ClaimVerdict(models.TextChoices):
    TRUE = "true", "True"
    FALSE = "false", "False"
    SUBJECTIVE = "subjective", "Subjective"
    UNVERIFIABLE = "unverifiable", "Unverifiable"


class ClaimLabel(models.Model):
    assignment = models.ForeignKey(TaskAssignment, on_delete=models.CASCADE, related_name="claim_labels")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="labels")
    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claim_labels")
    verdict = models.CharField(max_length=20, choices=ClaimVerdict.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "claim"], name="claim_label_once_per_volunteer")]

    def __str__(self) -> str:
        return f"{self.verdict}: {self.claim_id}"


class Revision(models.Model):
    """The state of a contribution before a volunteer edited it (kept for provenance)."""

    volunteer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="revisions")
    kind = models.CharField(max_length=30)
    object_id = models.PositiveBigIntegerField()
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "object_id"])]

    def __str__(self) -> str:
        return f"Revision of {self.kind} {self.object_id}"
