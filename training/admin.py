from django.contrib import admin

from training.models import Run, TrainedModel, TrainingPolicy


class ReadOnlyAdmin(admin.ModelAdmin):
    """Runs and registry entries change only through their services; the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "community", "kind", "method", "status", "progress", "release", "created_at", "finished_at"]
    list_filter = ["status", "kind", "method", "community"]


@admin.register(TrainedModel)
class TrainedModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "community", "method", "base_model", "status", "release", "created_at"]
    list_filter = ["status", "method", "community"]


@admin.register(TrainingPolicy)
class TrainingPolicyAdmin(admin.ModelAdmin):
    """Each community's schedule and promotion rule (docs/runs.md)."""

    list_display = ["community", "is_scheduled", "method", "min_new_preferences", "interval_hours", "auto_promote"]
