"""Create the demo community, its two built-in endpoints and the demo admin (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from community.models import Community, User
from inference.models import ModelEndpoint

BUILTIN_MODEL = "SmolLM2-135M-Instruct"

DEMO_ENDPOINTS = [
    # The 4-bit 135M model is sensitive to its system prompt: these two keep its answers sound.
    {
        "name": "SmolLM2 · precise",
        "system_prompt": "You are a helpful assistant. Answer briefly and factually.",
        "temperature": 0.2,
        "top_p": 1.0,
    },
    {
        "name": "SmolLM2 · lively",
        "system_prompt": "You are a helpful AI assistant.",
        "temperature": 0.7,
        "top_p": 0.9,
    },
]


class Command(BaseCommand):
    help = "Create the demo community with two built-in model endpoints, and the demo admin."

    def add_arguments(self, parser):
        parser.add_argument("--admin-email", default=settings.DEMO_ADMIN_EMAIL)
        parser.add_argument("--admin-password", default=settings.DEMO_ADMIN_PASSWORD)
        parser.add_argument("--max-tokens", type=int, default=200)

    @transaction.atomic
    def handle(self, *args, admin_email, admin_password, max_tokens, **options):
        community, _ = Community.objects.get_or_create(
            slug="demo",
            defaults={
                "name": "Open Commons",
                "description": "The demo community: general questions in any language, answered by two "
                "settings of the built-in SmolLM2 model.",
                "topics": ["General knowledge", "Science", "Health", "Cooking", "Writing"],
            },
        )
        for spec in DEMO_ENDPOINTS:
            ModelEndpoint.objects.get_or_create(
                name=spec["name"],
                defaults={
                    **spec,
                    "kind": ModelEndpoint.Kind.BUILTIN,
                    "model_id": BUILTIN_MODEL,
                    "community": community,
                    "max_tokens": max_tokens,
                },
            )
        admin = User.objects.filter(email=admin_email).first()
        if admin is None:
            User.objects.create_superuser(email=admin_email, password=admin_password, display_name="Demo admin")
        self.stdout.write(
            f"Demo community '{community.slug}' with {community.endpoints.count()} endpoints; admin {admin_email}."
        )
