"""Build and publish a release now (without the worker) and print its folder as the last line."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from community.models import Community
from feedback.models import Release
from feedback.releases.services import release_build, release_publish


class Command(BaseCommand):
    help = "Build and publish the next release of a community's pool (or of all communities)."

    def add_arguments(self, parser):
        parser.add_argument("--community", help="The community's slug; leave out for all communities.")

    def handle(self, *args, community=None, **options):
        scope = None
        if community:
            scope = Community.objects.filter(slug=community).first()
            if scope is None:
                raise CommandError(f"No community with the slug {community!r}.")
        if Release.objects.filter(community=scope, status__in=["queued", "building"]).exists():
            raise CommandError("A release of this community is being built already; wait for it to finish.")
        last = Release.objects.filter(community=scope).order_by("-version").values_list("version", flat=True).first()
        release = Release.objects.create(community=scope, version=(last or 0) + 1)
        release = release_build(release_id=release.pk)
        release = release_publish(actor=None, release_id=release.pk)
        counts = release.manifest["counts"]["by_kind"]
        self.stderr.write(", ".join(f"{kind}: {count:,}" for kind, count in counts.items()))
        self.stdout.write(str(Path(settings.RELEASES_DIR) / release.folder))
