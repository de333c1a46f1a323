"""Moderation: reports, automatic flags, the cases moderators work, and the audit log.

- Content carries its own moderation state (`Moderated`, mixed into `Message` and
  `Conversation`): visible, hidden (out of sight until a moderator decides, can come back) or
  removed (deleted by a moderator: its text is gone, the row stays so the audit log and the
  battles that point at it keep their references).
- A `ModerationCase` is one reported or flagged item (a message, or a donated conversation):
  the queue lists cases, each with its open reports and flags, by severity and age.
- A `Report` is one person's report of an item; an `AutoFlag` one finding of an automatic check.
- `TextFingerprint` and `MinhashBand` remember every scanned text (its hash and MinHash band
  keys) for the duplicate and rate checks of `feedback.moderation.scan`.
- `AuditEntry` is append-only: the model, its querysets, the admin and (on PostgreSQL) a trigger
  refuse every change and deletion.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ModerationStatus(models.TextChoices):
    VISIBLE = "visible", "Visible"
    HIDDEN = "hidden", "Hidden by moderation"
    REMOVED = "removed", "Deleted by moderation"


class Moderated(models.Model):
    """Moderation state of a piece of content. Changed only by `feedback.moderation.services`."""

    moderation_status = models.CharField(
        max_length=10, choices=ModerationStatus.choices, default=ModerationStatus.VISIBLE
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The moderator who hid or deleted it; empty when hidden automatically.",
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderation_reason = models.TextField(blank=True, default="")

    class Meta:
        abstract = True

    @property
    def is_visible(self) -> bool:
        return self.moderation_status == ModerationStatus.VISIBLE


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


# Severities as numbers, for sorting the queue (higher first).
SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}
SEVERITY_BY_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam"
    PERSONAL_INFORMATION = "personal_information", "Personal information"
    TOXIC = "toxic", "Toxic or hateful"
    WRONG = "wrong", "Wrong or misleading"
    COPYRIGHT = "copyright", "Copyright"
    OTHER = "other", "Something else"


# How urgent a report is, by its reason (the queue's order; documented in docs/moderation.md).
REPORT_SEVERITY = {
    ReportReason.SPAM: Severity.MEDIUM,
    ReportReason.PERSONAL_INFORMATION: Severity.HIGH,
    ReportReason.TOXIC: Severity.HIGH,
    ReportReason.WRONG: Severity.LOW,
    ReportReason.COPYRIGHT: Severity.MEDIUM,
    ReportReason.OTHER: Severity.LOW,
}

_ONE_TARGET = Q(message__isnull=False, donation__isnull=True) | Q(message__isnull=True, donation__isnull=False)


class ModerationCase(models.Model):
    """One item that was reported or flagged: a message (prompt, answer, correction, donated
    turn) or a donated conversation. Open while it has open reports or flags; a moderator's
    action resolves it; a later report or flag opens it again."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="moderation_cases")
    message = models.OneToOneField(
        "feedback.Message", on_delete=models.CASCADE, null=True, blank=True, related_name="moderation_case"
    )
    donation = models.OneToOneField(
        "feedback.Donation", on_delete=models.CASCADE, null=True, blank=True, related_name="moderation_case"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    severity = models.PositiveSmallIntegerField(default=1, help_text="Highest severity of its open reports and flags.")
    open_reports = models.PositiveIntegerField(default=0)
    open_flags = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(help_text="When its oldest open report or flag came in.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-severity", "opened_at", "pk"]
        constraints = [models.CheckConstraint(condition=_ONE_TARGET, name="moderation_case_one_target")]
        indexes = [models.Index(fields=["community", "status", "-severity", "opened_at"])]

    def __str__(self) -> str:
        target = f"message {self.message_id}" if self.message_id else f"donation {self.donation_id}"
        return f"Case {self.pk}: {target}"

    @property
    def target_kind(self) -> str:
        return "message" if self.message_id else "donation"

    @property
    def severity_label(self) -> str:
        return Severity(SEVERITY_BY_RANK.get(self.severity, Severity.LOW)).label


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UPHELD = "upheld", "Upheld"
        DISMISSED = "dismissed", "Dismissed"

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE, related_name="reports")
    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "feedback.Message", on_delete=models.CASCADE, null=True, blank=True, related_name="reports"
    )
    donation = models.ForeignKey(
        "feedback.Donation", on_delete=models.CASCADE, null=True, blank=True, related_name="reports"
    )
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made")
    reason = models.CharField(max_length=30, choices=ReportReason.choices)
    comment = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=_ONE_TARGET, name="report_one_target"),
            models.UniqueConstraint(
                fields=["reporter", "message"], condition=Q(message__isnull=False), name="report_once_per_message"
            ),
            models.UniqueConstraint(
                fields=["reporter", "donation"], condition=Q(donation__isnull=False), name="report_once_per_donation"
            ),
        ]
        indexes = [models.Index(fields=["case", "status"])]

    def __str__(self) -> str:
        return f"Report ({self.get_reason_display()}) on case {self.case_id}"

    @property
    def severity(self) -> str:
        return REPORT_SEVERITY[ReportReason(self.reason)]


class AutoFlag(models.Model):
    """One finding of an automatic check (PII, toxicity, spam, duplicate text, rate, language)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE, related_name="flags")
    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "feedback.Message", on_delete=models.CASCADE, null=True, blank=True, related_name="auto_flags"
    )
    donation = models.ForeignKey(
        "feedback.Donation", on_delete=models.CASCADE, null=True, blank=True, related_name="auto_flags"
    )
    detector = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    score = models.FloatField()
    detail = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.CheckConstraint(condition=_ONE_TARGET, name="auto_flag_one_target")]
        indexes = [
            models.Index(fields=["case", "status"]),
            # For has_open_high_severity_flag_q: an index-only probe per message.
            models.Index(
                fields=["message"], condition=Q(status="open", severity="high"), name="auto_flag_open_high_message"
            ),
            models.Index(fields=["detector", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.detector} ({self.severity}) on case {self.case_id}"


class TextFingerprint(models.Model):
    """What the scan remembers of a text it checked: the hash of its normalised text (exact
    duplicates, and whether it changed since), its MinHash signature (near duplicates), who
    submitted it (empty for our models' answers) and where it came from (the rate rule)."""

    class Source(models.TextChoices):
        ARENA = "arena", "Arena prompt"
        CORRECTION = "correction", "Better answer"
        DONATION = "donation", "Donated conversation"
        MODEL = "model", "Model answer"

    message = models.OneToOneField("feedback.Message", on_delete=models.CASCADE, related_name="fingerprint")
    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("feedback.Conversation", on_delete=models.CASCADE, related_name="+")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    text_sha256 = models.CharField(max_length=64)
    signature = models.JSONField(default=list, blank=True)
    submitted_at = models.DateTimeField(help_text="When the message was written (the rate rule's clock).")
    scanned_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["community", "text_sha256"]),
            models.Index(fields=["submitter", "submitted_at"]),
        ]

    def __str__(self) -> str:
        return f"Fingerprint of message {self.message_id}"


class MinhashBand(models.Model):
    """One locality-sensitive band key of a person's text: texts sharing a key are candidate
    near duplicates (their signatures are then compared)."""

    fingerprint = models.ForeignKey(TextFingerprint, on_delete=models.CASCADE, related_name="bands")
    community = models.ForeignKey("community.Community", on_delete=models.CASCADE, related_name="+")
    key = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["community", "key"])]

    def __str__(self) -> str:
        return f"Band {self.key} of fingerprint {self.fingerprint_id}"


class AppendOnly(Exception):
    """Raised on any attempt to change or delete an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    """Reads only: `update` and `delete` (and so `bulk_update`) refuse."""

    def update(self, **kwargs):
        raise AppendOnly("The audit log is append-only: entries cannot be changed.")

    def delete(self):
        raise AppendOnly("The audit log is append-only: entries cannot be deleted.")

    def _raw_delete(self, using):
        raise AppendOnly("The audit log is append-only: entries cannot be deleted.")


class AuditEntry(models.Model):
    """One moderation action, who took it, on what, why, and what it changed. Append-only.

    References are plain ids (no database constraint, nothing cascades), so that deleting the
    content, the person or the community never changes or deletes a log entry.
    """

    class Action(models.TextChoices):
        ACCEPT = "accept", "Accepted (reports dismissed)"
        HIDE = "hide", "Hid"
        AUTO_HIDE = "auto_hide", "Hid automatically (reports)"
        EDIT = "edit", "Edited"
        DELETE = "delete", "Deleted"
        WARN = "warn", "Warned"
        SUSPEND = "suspend", "Suspended"
        BAN = "ban", "Banned"
        APPEAL_GRANT = "appeal_grant", "Granted an appeal (sanction lifted)"
        APPEAL_REJECT = "appeal_reject", "Rejected an appeal (sanction kept)"

    class TargetKind(models.TextChoices):
        MESSAGE = "message", "Message"
        DONATION = "donation", "Donated conversation"
        SANCTION = "sanction", "Sanction"
        APPEAL = "appeal", "Appeal"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for the platform's own automatic actions.",
    )
    community = models.ForeignKey(
        "community.Community",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for site-wide actions.",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    target_kind = models.CharField(max_length=20, choices=TargetKind.choices)
    target_id = models.BigIntegerField()
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person the action concerns: the author of the content, the sanctioned person.",
    )
    reason = models.TextField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["community", "-created_at"]),
            models.Index(fields=["subject", "-created_at"]),
            models.Index(fields=["target_kind", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.target_kind} {self.target_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("The audit log is append-only: entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("The audit log is append-only: entries cannot be deleted.")
