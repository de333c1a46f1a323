"""Quality gates and contributor trust: each community's policy, its history, the trust scores
and the stored result of the gate for every reviewed message. See docs/moderation.md."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class TrustMode(models.TextChoices):
    OFF = "off", "Off: every vote counts fully"
    DOWN_WEIGHT = "down_weight", "Down-weight low-trust contributors"
    EXCLUDE = "exclude", "Exclude low-trust contributors"


class ModerationPolicy(models.Model):
    """A community's quality gate and trust policy. Created on first use with these defaults;
    a community without a row behaves exactly as the defaults say (mode off)."""

    community = models.OneToOneField(
        "community.Community", on_delete=models.CASCADE, primary_key=True, related_name="moderation_policy"
    )
    reviews_needed = models.PositiveSmallIntegerField(
        default=3, help_text="Peer reviews an answer needs before it can be accepted (k)."
    )
    pass_threshold = models.FloatField(
        default=0.6, help_text="Mean review score (0 to 1) an answer needs to be accepted."
    )
    trust_mode = models.CharField(max_length=20, choices=TrustMode.choices, default=TrustMode.OFF)
    down_weight = models.FloatField(
        default=0.5,
        help_text="In down-weight mode, the weight (0 to 1) of a low-trust contributor's votes and reviews.",
    )
    min_gold_accuracy = models.FloatField(default=0.5, help_text="Below this share of gold items right: low trust.")
    min_gold_answers = models.PositiveIntegerField(default=10, help_text="Gold items answered before it counts.")
    min_consensus_agreement = models.FloatField(
        default=0.5, help_text="Below this agreement with the others' consensus: low trust."
    )
    min_consensus_items = models.PositiveIntegerField(default=10, help_text="Items compared before it counts.")
    max_outlier_score = models.FloatField(
        default=0.3, help_text="Above this outlier score (nats per vote below the typical judge): low trust."
    )
    min_outlier_votes = models.PositiveIntegerField(
        default=20, help_text="Votes before a judge's outlier score counts; also the votes a typical judge needs."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "moderation policies"
        constraints = [
            models.CheckConstraint(condition=Q(reviews_needed__gte=1), name="moderation_policy_k_positive"),
            models.CheckConstraint(
                condition=Q(pass_threshold__gte=0, pass_threshold__lte=1), name="moderation_policy_threshold_0_1"
            ),
            models.CheckConstraint(
                condition=Q(down_weight__gte=0, down_weight__lte=1), name="moderation_policy_down_weight_0_1"
            ),
            models.CheckConstraint(
                condition=Q(trust_mode__in=["off", "down_weight", "exclude"]), name="moderation_policy_mode_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Moderation policy of {self.community}"


class ModerationPolicyChange(models.Model):
    """One change of a community's policy, with who made it and why. Append-only: written by
    `moderation_policy_update` and never changed (the admin shows it read-only)."""

    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="policy_changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="policy_changes"
    )
    reason = models.TextField()
    before = models.JSONField(help_text="The changed fields' values before.")
    after = models.JSONField(help_text="The changed fields' values after.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Policy change in {self.community} at {self.created_at:%Y-%m-%d %H:%M}"


class ContributorTrust(models.Model):
    """A contributor's trust scores in one community, refreshed by `trust_scores_refresh`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trust_scores")
    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="trust_scores")
    gold_accuracy = models.FloatField(null=True, blank=True)
    gold_answers = models.PositiveIntegerField(default=0)
    consensus_agreement = models.FloatField(null=True, blank=True)
    consensus_items = models.PositiveIntegerField(default=0)
    outlier_score = models.FloatField(null=True, blank=True)
    outlier_mean_log_likelihood = models.FloatField(null=True, blank=True)
    outlier_votes = models.PositiveIntegerField(default=0)
    outlier_computed_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "community"], name="contributor_trust_once")]
        indexes = [
            models.Index(fields=["community", "gold_accuracy"]),
            models.Index(fields=["community", "consensus_agreement"]),
            models.Index(fields=["community", "outlier_score"]),
        ]

    def __str__(self) -> str:
        return f"Trust of {self.user_id} in {self.community_id}"


class ReviewGate(models.Model):
    """The quality gate's result for one reviewed message (an answer that went through the
    review queue), kept current by the review services and `moderation_gates_recompute`."""

    message = models.OneToOneField(
        "feedback.Message", on_delete=models.CASCADE, primary_key=True, related_name="review_gate"
    )
    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="review_gates")
    review_count = models.PositiveIntegerField(default=0)
    score = models.FloatField(null=True, blank=True)
    is_accepted = models.BooleanField(default=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(is_accepted=True, accepted_at__isnull=False)
                | Q(is_accepted=False, accepted_at__isnull=True),
                name="review_gate_accepted_at_iff_accepted",
            )
        ]
        indexes = [models.Index(fields=["community", "is_accepted"])]

    def __str__(self) -> str:
        return f"Gate of message {self.message_id}: {'accepted' if self.is_accepted else 'not accepted'}"
