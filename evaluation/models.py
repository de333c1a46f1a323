"""evaluation: arena leaderboards (snapshots of Bradley-Terry ratings and the runs that compute them).

A leaderboard's scope is a community (empty: all communities together), a category (everything,
one conversation topic, or one language) and whether style control is on. Every recomputation
that finds different counts stores a new snapshot with the next version number of its scope;
old snapshots are kept, so the history of a leaderboard can be read back.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q, Value


class LeaderboardCategory(models.TextChoices):
    OVERALL = "overall", "Overall"
    TOPIC = "topic", "Topic"
    LANGUAGE = "language", "Language"


class LeaderboardSnapshot(models.Model):
    community = models.ForeignKey(
        "community.Community",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="leaderboard_snapshots",
        help_text="Empty: the battles of every community together.",
    )
    category = models.CharField(max_length=20, choices=LeaderboardCategory.choices, default=LeaderboardCategory.OVERALL)
    category_value = models.CharField(
        max_length=40, blank=True, help_text="The topic or language; empty for the overall category."
    )
    style_control = models.BooleanField(default=False, help_text="Ratings with answer length and Markdown held fixed.")
    version = models.PositiveIntegerField(help_text="1, 2, 3, ... within this scope.")
    battles_counted = models.PositiveIntegerField(help_text="Battles that went into the fit.")
    models_count = models.PositiveIntegerField(default=0)
    inputs_digest = models.CharField(
        max_length=64, help_text="SHA-256 of the battle counts and the fit's parameters: equal digests, equal inputs."
    )
    filters = models.JSONField(default=dict, help_text="Which battles were counted (scope and vote rules).")
    parameters = models.JSONField(default=dict, help_text="Bootstrap rounds, seed, anchor, provisional threshold.")
    code_version = models.CharField(max_length=40, blank=True, help_text="The platform's git commit.")
    data = models.JSONField(default=dict, help_text="The computed leaderboard (docs/leaderboards.md, Snapshots).")
    refresh = models.ForeignKey(
        "LeaderboardRefresh", on_delete=models.SET_NULL, null=True, blank=True, related_name="snapshots"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "category", "category_value", "style_control", "version"],
                name="leaderboard_snapshot_unique_version",
            ),
            models.UniqueConstraint(
                fields=["category", "category_value", "style_control", "version"],
                condition=Q(community__isnull=True),
                name="leaderboard_snapshot_unique_version_all",
            ),
            models.CheckConstraint(
                condition=(Q(category="overall", category_value="") | (~Q(category="overall") & ~Q(category_value=""))),
                name="leaderboard_snapshot_category_value",
            ),
        ]
        indexes = [
            models.Index(
                fields=["community", "category", "category_value", "style_control", "-version"],
                name="leaderboard_snapshot_scope",
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope_label} v{self.version}"

    @property
    def scope_label(self) -> str:
        where = self.community.name if self.community_id else "All communities"
        what = "overall" if self.category == LeaderboardCategory.OVERALL else f"{self.category} {self.category_value}"
        return f"{where}, {what}{', style control' if self.style_control else ''}"


class LeaderboardRefresh(models.Model):
    """One run of the job that recomputes every leaderboard; its state and progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0 to 100.")
    stage = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: the schedule.",
    )
    scopes_computed = models.PositiveIntegerField(default=0, help_text="Leaderboards whose counts changed.")
    scopes_unchanged = models.PositiveIntegerField(default=0, help_text="Leaderboards left as they were.")
    skipped = models.JSONField(
        default=list, blank=True, help_text="Leaderboards the engine could not fit, each with the reason."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One refresh at a time: starting one while another is queued or running returns that one.
            models.UniqueConstraint(
                Value(1),
                condition=Q(status__in=["queued", "running"]),
                name="leaderboard_refresh_one_at_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Leaderboard refresh {self.pk} ({self.status})"

    @property
    def is_in_flight(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
