from django.contrib import admin

from feedback.models import Battle, Conversation, Message


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
