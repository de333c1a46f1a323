from django.contrib import admin

from feedback.models import (
    AuditEntry,
    AutoFlag,
    Battle,
    ContributorTrust,
    Conversation,
    Donation,
    Message,
    ModerationCase,
    ModerationPolicy,
    ModerationPolicyChange,
    RatingScale,
    Report,
    ReviewGate,
    TaskAssignment,
    TaskItem,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Arena records change only through their services; the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Battle)
class BattleAdmin(ReadOnlyAdmin):
    list_display = ["pk", "community", "model_a", "model_b", "winner", "status", "is_blind", "language", "created_at"]
    list_filter = ["community", "status", "winner", "is_blind", "language"]
    list_select_related = ["community", "model_a", "model_b"]


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "community", "owner", "created_at", "names_revealed_at"]
    list_select_related = ["community", "owner"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "conversation", "role", "endpoint", "created_at"]
    list_select_related = ["endpoint"]


@admin.register(RatingScale)
class RatingScaleAdmin(admin.ModelAdmin):
    """Communities add their own 1-5 scales here; scales without a community apply to all."""

    list_display = ["label", "name", "community", "position"]
    list_filter = ["community"]


@admin.register(TaskItem)
class TaskItemAdmin(admin.ModelAdmin):
    """Task items are created by the platform; admins add gold items (with a known answer) and
    adjust how many responses an item needs."""

    list_display = ["pk", "kind", "community", "is_gold", "response_count", "required_responses", "language", "topic"]
    list_filter = ["kind", "is_gold", "community", "language"]
    list_select_related = ["community"]
    raw_id_fields = ["answer", "prompt"]
    readonly_fields = ["response_count", "created_at"]
    fields = [
        "community", "kind", "answer", "prompt", "language", "topic", "required_responses", "response_count",
        "is_gold", "gold_answer", "created_at",
    ]  # fmt: skip

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TaskAssignment)
class TaskAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["pk", "item", "volunteer", "status", "gold_correct", "created_at", "answered_at"]
    list_filter = ["status", "gold_correct"]
    list_select_related = ["item", "volunteer"]


@admin.register(Donation)
class DonationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "title", "owner", "community", "source", "status", "created_at"]
    list_filter = ["status", "source", "community"]
    list_select_related = ["owner", "community"]


@admin.register(ModerationPolicy)
class ModerationPolicyAdmin(ReadOnlyAdmin):
    """Changed only on the community's policy page, which asks for a reason and records it."""

    list_display = ["community", "trust_mode", "reviews_needed", "pass_threshold", "updated_at"]


@admin.register(ModerationPolicyChange)
class ModerationPolicyChangeAdmin(ReadOnlyAdmin):
    """The history of policy changes: append-only, nobody edits or deletes it."""

    list_display = ["community", "created_at", "actor", "reason"]
    list_select_related = ["community", "actor"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only for everyone: no add, change or delete permission, no actions."""

    list_display = ["created_at", "actor", "action", "target_kind", "target_id", "community", "subject"]
    list_filter = ["action", "target_kind"]
    search_fields = ["reason"]
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContributorTrust)
class ContributorTrustAdmin(ReadOnlyAdmin):
    list_display = ["user", "community", "gold_accuracy", "consensus_agreement", "outlier_score", "computed_at"]
    list_select_related = ["user", "community"]


@admin.register(ReviewGate)
class ReviewGateAdmin(ReadOnlyAdmin):
    list_display = ["message", "community", "review_count", "score", "is_accepted", "accepted_at"]
    list_filter = ["is_accepted"]


@admin.register(ModerationCase)
class ModerationCaseAdmin(ReadOnlyAdmin):
    """Cases are worked in the moderation console (/moderation/), where every action is audited."""

    list_display = ["pk", "community", "status", "severity", "open_reports", "open_flags", "opened_at"]
    list_filter = ["status", "community"]
    raw_id_fields = ["message", "donation"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["pk", "case", "reason", "reporter", "status", "created_at"]
    list_filter = ["reason", "status"]
    raw_id_fields = ["case", "message", "donation", "reporter"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AutoFlag)
class AutoFlagAdmin(ReadOnlyAdmin):
    list_display = ["pk", "case", "detector", "severity", "score", "status", "created_at"]
    list_filter = ["detector", "severity", "status"]
    raw_id_fields = ["case", "message", "donation"]

    def has_delete_permission(self, request, obj=None):
        return False
