"""Create the demo community, its two built-in endpoints and the demo admin (idempotent), and on
the first run seed the community so that a first visit finds a platform with something in it.

    python manage.py demo_setup [--demo-data | --no-demo-data] [--battles 1000]

The seed (skipped with DEMO_DATA=0 or --no-demo-data), run when this command creates the demo
community, in three steps:

1. a small synthetic pool: `manage.py demo_data` (15 retired models with made-up names,
   a few dozen made-up volunteers, voted battles, reviews, open review tasks), which marks the
   community `has_synthetic_data`;
2. the leaderboards: the refresh beat runs (the task `evaluation.leaderboards_refresh`, called by
   name and run here, synchronously), which stores the first snapshots; with 1,000 battles over
   15 models every model has enough counted battles to be ranked on the overall board;
3. the first release, built and published at once, its datasheet opened by a paragraph saying
   the data are synthetic.

A seed that stopped half-way (the community marked synthetic, no release published yet) is
finished on the next run; a seeded community is never seeded again, and a community that
exists already (an older database, or a first run with DEMO_DATA=0) is not seeded unless asked
with --demo-data. The whole seed takes about 20 s on two cores (docs/releases.md).
"""

import argparse

from celery import current_app
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from community.models import Community, User
from feedback.models import Release
from feedback.releases.services import release_build, release_datasheet_edit, release_publish
from inference.models import ModelEndpoint

BUILTIN_MODEL = "SmolLM2-135M-Instruct"
DEMO_BATTLES = 1000
DEMO_SEED = 2024
LEADERBOARDS_REFRESH_TASK = "evaluation.leaderboards_refresh"

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

SYNTHETIC_DATASHEET_NOTE = (
    "> **Synthetic data.** This release is of the demo community, seeded with a synthetic pool by\n"
    "> `manage.py demo_data` to show the platform working: its volunteers and its models (atlas, nimbus,\n"
    "> tessera, ... with strengths drawn for the demo) are made up, and so are their votes and reviews.\n"
    "> Use it to try the files and the tools; never read it as evidence about any real model or person.\n"
)


class Command(BaseCommand):
    help = (
        "Create the demo community with two built-in model endpoints and the demo admin; on the first run, "
        "seed it with a small synthetic pool, its leaderboards and a published release."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin-email", default=settings.DEMO_ADMIN_EMAIL)
        parser.add_argument("--admin-password", default=settings.DEMO_ADMIN_PASSWORD)
        parser.add_argument("--max-tokens", type=int, default=200)
        parser.add_argument(
            "--demo-data",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Seed the demo community with synthetic data, a release and leaderboards (default: on the "
            "first run only, unless DEMO_DATA=0). --demo-data seeds an existing community that was not seeded.",
        )
        parser.add_argument("--battles", type=int, default=DEMO_BATTLES, help="Battles of the synthetic pool.")

    def handle(self, *args, admin_email, admin_password, max_tokens, demo_data, battles, **options):
        if battles < 1:
            raise CommandError("Ask for at least one battle.")
        with transaction.atomic():
            community, created = Community.objects.get_or_create(
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
                admin = User.objects.create_superuser(
                    email=admin_email, password=admin_password, display_name="Demo admin"
                )
        self.stdout.write(
            f"Demo community '{community.slug}' with {community.endpoints.count()} endpoints; admin {admin_email}."
        )
        if demo_data is False or (demo_data is None and not settings.DEMO_DATA):
            return
        unfinished = community.has_synthetic_data and not _published_release_exists(community)
        if demo_data or created or unfinished:
            self._seed(community, admin=admin, battles=battles)

    def _seed(self, community: Community, *, admin: User, battles: int) -> None:
        if not community.has_synthetic_data:
            self.stdout.write(f"Seeding '{community.slug}' with a synthetic pool of {battles:,} battles")
            call_command("demo_data", battles=battles, seed=DEMO_SEED, community=community.slug, stdout=self.stdout)
            community.refresh_from_db()
        if not _published_release_exists(community):
            self.stdout.write("Computing the leaderboards")
            current_app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
            current_app.tasks[LEADERBOARDS_REFRESH_TASK].apply(throw=True)
            self.stdout.write("Building and publishing the first release")
            release = _first_release_publish(community, admin=admin)
            self.stdout.write(f"Published {release.name}: {release.manifest['merkle_tree_size']:,} records.")


def _published_release_exists(community: Community) -> bool:
    return Release.objects.filter(community=community, status=Release.Status.PUBLISHED).exists()


def _first_release_publish(community: Community, *, admin: User) -> Release:
    """Build the community's next release here (it is small), say in its datasheet that it is
    synthetic, and publish it."""
    last = Release.objects.filter(community=community).order_by("-version").values_list("version", flat=True).first()
    release = Release.objects.create(community=community, version=(last or 0) + 1, created_by=admin)
    release = release_build(release_id=release.pk)
    if release.status != Release.Status.READY:
        raise CommandError(f"The demo release {release.name} did not build: {release.error}")
    title, _, rest = release.datasheet.partition("\n")
    release_datasheet_edit(actor=admin, release_id=release.pk, datasheet=f"{title}\n\n{SYNTHETIC_DATASHEET_NOTE}{rest}")
    return release_publish(actor=admin, release_id=release.pk)
