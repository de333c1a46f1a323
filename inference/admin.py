from django.contrib import admin

from inference.models import ModelEndpoint


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "model_id", "community", "is_active", "health", "health_checked_at"]
    list_filter = ["kind", "is_active", "health", "community"]
    search_fields = ["name", "model_id"]
    readonly_fields = ["health", "health_checked_at", "health_detail", "created_at"]
    actions = ["check_health_now"]

    @admin.action(description="Check health now (in the background)")
    def check_health_now(self, request, queryset):
        # Imported here: the tasks bring httpx, which every process would otherwise import at
        # start-up through the admin (0.2 s of every management command).
        from inference.tasks import endpoints_check_health

        endpoints_check_health.delay(endpoint_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, "Health check queued; refresh this page in a few seconds.")
