from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from community.models import (
    AccessAuditEntry,
    Appeal,
    Community,
    ErasureRequest,
    Membership,
    ResearcherApplication,
    Sanction,
    User,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "display_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["display_name", "role"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2", "role"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "joined_at", "licence_name", "licence_version", "licence_accepted_at"]
    readonly_fields = ["user", "joined_at", "licence_name", "licence_version", "licence_accepted_at"]
    fields = ["user", "role", "joined_at", "licence_name", "licence_version", "licence_accepted_at", "topics"]
    can_delete = False


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "language", "licence_name", "licence_version", "responses_per_item", "gold_rate"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    """The record of erased accounts: read-only, kept so releases leave their items out."""

    list_display = ["user_pk", "requested_at", "completed_at"]
    readonly_fields = ["user", "user_pk", "requested_at", "completed_at", "items_removed"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AppealInline(admin.StackedInline):
    model = Appeal
    extra = 0
    can_delete = False
    readonly_fields = ["text", "status", "created_at", "decided_by", "decided_at", "decision_reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Sanction)
class SanctionAdmin(admin.ModelAdmin):
    """Sanctions are imposed and lifted in the moderation console, where the audit log records
    them; here they can be read."""

    list_display = ["user", "kind", "community", "until", "created_at", "lifted_at"]
    list_filter = ["kind", "community"]
    search_fields = ["user__email", "reason"]
    inlines = [AppealInline]
    readonly_fields = [
        "user",
        "community",
        "kind",
        "until",
        "reason",
        "imposed_by",
        "created_at",
        "lifted_at",
        "lifted_by",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ResearcherApplication)
class ResearcherApplicationAdmin(ReadOnlyAdmin):
    """Applications are decided at /researcher-access/review/, where the decision is audited and
    the applicant told; here they can be read."""

    list_display = ["user", "affiliation", "status", "created_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "affiliation", "purpose"]
    readonly_fields = [
        "user",
        "purpose",
        "affiliation",
        "terms_version",
        "status",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_reason",
    ]


@admin.register(AccessAuditEntry)
class AccessAuditEntryAdmin(ReadOnlyAdmin):
    """The access audit log: append-only."""

    list_display = ["created_at", "actor", "action", "subject", "role_before", "role_after"]
    list_filter = ["action"]
    readonly_fields = [
        "actor",
        "subject",
        "action",
        "application_id",
        "reason",
        "role_before",
        "role_after",
        "created_at",
    ]
