from django.conf import settings
from django.db import models


class ModelEndpoint(models.Model):
    """A model the arena can call: any OpenAI-compatible server, or the platform's own.

    A built-in endpoint has no base URL of its own: it talks to the platform's model server
    (MODEL_SERVER_URL). Generation settings are per endpoint, so the same model can appear
    twice under clearly named settings (another system prompt or temperature).
    """

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible server"
        BUILTIN = "builtin", "Built-in model server"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not checked yet"
        UP = "up", "Up"
        DOWN = "down", "Down"

    name = models.CharField(max_length=120, unique=True, help_text="Shown to volunteers after they vote.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BUILTIN)
    base_url = models.URLField(blank=True, help_text="For example http://gpu-1:8000/v1. Empty for built-in models.")
    api_key = models.CharField(max_length=200, blank=True, help_text="Sent as a bearer token, if set.")
    model_id = models.CharField(max_length=200, help_text="The model name the server expects.")
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(default=0.7)
    top_p = models.FloatField(default=1.0)
    max_tokens = models.PositiveIntegerField(default=256)
    timeout_seconds = models.FloatField(
        null=True, blank=True, help_text="Longest wait for the next token; empty uses ENDPOINT_TIMEOUT_SECONDS."
    )
    community = models.ForeignKey(
        "community.Community", on_delete=models.CASCADE, related_name="endpoints", null=True, blank=True
    )
    is_active = models.BooleanField(default=True)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    health_detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        """The base URL ending in /v1 that requests go to."""
        if self.kind == self.Kind.BUILTIN:
            return settings.MODEL_SERVER_URL.rstrip("/")
        return self.base_url.rstrip("/")

    @property
    def timeout(self) -> float:
        return self.timeout_seconds or settings.ENDPOINT_TIMEOUT_SECONDS
