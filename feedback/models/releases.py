"""Releases: immutable, versioned snapshots of a community's accepted pool (or of all of them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from feedback.jobs.lease import LeasedJob


class Release(LeasedJob):
    """A build is a long job: its worker holds a lease on the row while it builds
    (feedback/jobs/lease.py, docs/jobs.md)."""

    LEASE_RUNNING = "building"
    LEASE_FAILED = "failed"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Building"
        READY = "ready", "Built, not yet published"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"

    community = models.ForeignKey(
        "community.Community",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="releases",
        help_text="Empty: one release of every community's pool.",
    )
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0 to 100.")
    stage = models.CharField(max_length=120, blank=True)
    folder = models.CharField(max_length=300, blank=True, help_text="Relative to RELEASES_DIR.")
    manifest = models.JSONField(default=dict, blank=True)
    merkle_root = models.CharField(max_length=64, blank=True)
    datasheet = models.TextField(blank=True, help_text="Markdown; generated, editable until published.")
    notes = models.TextField(blank=True, help_text="What changed since the previous release.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="releases"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["community", "version"], name="release_unique_version"),
            models.UniqueConstraint(
                fields=["version"], condition=Q(community__isnull=True), name="release_unique_version_all"
            ),
            # One build at a time per community: starting it twice returns the build in flight.
            models.UniqueConstraint(
                fields=["community"],
                condition=Q(status__in=["queued", "building"]),
                name="release_one_build_at_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.community.slug if self.community else 'all'} v{self.version}"

    @property
    def name(self) -> str:
        return f"{self.community.slug if self.community else 'all-communities'}-v{self.version}"
