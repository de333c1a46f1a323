"""training: runs (the lifecycle of every machine-learning job), the models they train, and each
community's training policy (the schedule and promotion). Logic lives in training/runs/ and
training/registry/; these are fields, constraints and trivial properties."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from feedback.jobs.lease import LeasedJob


class Run(LeasedJob):
    """One machine-learning job: what it read, how, where it ran, how it went and what it made.

    Its worker holds a lease on the row while it runs (feedback/jobs/lease.py, docs/jobs.md), so a
    run whose worker died is failed with the reason instead of staying running. docs/runs.md."""

    LEASE_RUNNING = "running"
    LEASE_FAILED = "failed"

    class Kind(models.TextChoices):
        TRAINING = "training", "Training"
        EVALUATION = "evaluation", "Evaluation"
        CALIBRATION = "calibration", "Calibration"

    class Method(models.TextChoices):
        REWARD = "reward", "Reward model"
        DPO = "dpo", "DPO"
        SFT = "sft", "SFT on better answers"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    IN_FLIGHT = (Status.QUEUED, Status.RUNNING)
    ENDED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TRAINING)
    method = models.CharField(max_length=20, choices=Method.choices, blank=True)
    community = models.ForeignKey("community.Community", on_delete=models.PROTECT, related_name="runs")
    release = models.ForeignKey(
        "feedback.Release",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="runs",
        help_text="The published release it reads; empty until a fresh release is built.",
    )
    release_merkle_root = models.CharField(max_length=64, blank=True, help_text="Copied from the release.")
    fresh_release = models.BooleanField(default=False, help_text="Build and publish a new release first.")
    config = models.JSONField(default=dict, blank=True, help_text="The engine's configuration, as given.")
    seed = models.IntegerField(default=0)
    code_version = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries", help_text="A failed run."
    )
    trigger = models.CharField(max_length=20, default="manual", help_text="manual, schedule or command.")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0 to 100.")
    stage = models.CharField(max_length=200, blank=True)
    metrics = models.JSONField(default=list, blank=True, help_text="Every logged step, in order.")
    final_metrics = models.JSONField(default=dict, blank=True)
    log_tail = models.TextField(blank=True, help_text="The last lines of the run's log.")
    device = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    selection_merkle_root = models.CharField(max_length=64, blank=True)
    selection_report = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True, help_text="Folders and files it wrote.")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="run_unique_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.kind} {self.method}, {self.status})"

    @property
    def is_in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class TrainedModel(models.Model):
    """A registry entry: a model a run trained, where it lies (a folder under MODELS_DIR, with its
    model card as README.md) and what it traces to."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=200, unique=True, help_text="Its folder under MODELS_DIR and its model id.")
    community = models.ForeignKey("community.Community", on_delete=models.PROTECT, related_name="trained_models")
    base_model = models.CharField(max_length=300, help_text="The base model's name (its folder's name).")
    method = models.CharField(max_length=20, choices=Run.Method.choices)
    run = models.OneToOneField(Run, on_delete=models.PROTECT, related_name="trained_model")
    release = models.ForeignKey("feedback.Release", on_delete=models.PROTECT, related_name="trained_models")
    release_merkle_root = models.CharField(max_length=64)
    selection_merkle_root = models.CharField(max_length=64)
    weights = models.JSONField(default=dict, help_text="File name -> SHA-256 of every file of the model folder.")
    metrics = models.JSONField(default=dict)
    licence_name = models.CharField(max_length=60)
    licence_url = models.URLField(blank=True)
    card = models.TextField(help_text="The model card (README.md of the folder).")
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", help_text="Lineage."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    endpoint = models.ForeignKey(
        "inference.ModelEndpoint",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="trained_models",
        help_text="Its endpoint in the community's arena, once promoted.",
    )
    promotion = models.JSONField(
        default=dict, blank=True, help_text="Its comparison with the community's current model, and the decision."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name


class TrainingPolicy(models.Model):
    """A community's training schedule and promotion rule (defaults in docs/runs.md)."""

    DEFAULT_MIN_NEW_PREFERENCES = 200
    DEFAULT_INTERVAL_HOURS = 24
    DEFAULT_PROMOTION_MARGIN = 0.05

    community = models.OneToOneField("community.Community", on_delete=models.CASCADE, related_name="training_policy")
    is_scheduled = models.BooleanField(default=False, help_text="Train on the schedule.")
    method = models.CharField(max_length=20, choices=Run.Method.choices, default=Run.Method.DPO)
    min_new_preferences = models.PositiveIntegerField(
        default=DEFAULT_MIN_NEW_PREFERENCES,
        help_text="Train when at least this many accepted preferences arrived since the last run.",
    )
    interval_hours = models.PositiveIntegerField(
        default=DEFAULT_INTERVAL_HOURS, help_text="At most one scheduled run every this many hours."
    )
    max_steps = models.PositiveIntegerField(default=50)
    auto_promote = models.BooleanField(
        default=False, help_text="Put a model that beats the current one into the arena without the owner's click."
    )
    promotion_margin = models.FloatField(
        default=DEFAULT_PROMOTION_MARGIN, help_text="Win rate over 0.5 a new model needs to be promoted."
    )

    class Meta:
        verbose_name_plural = "training policies"

    def __str__(self) -> str:
        return f"Training policy of {self.community}"
