"""Recompute the stored quality gates (which reviewed messages are accepted) from the reviews."""

from django.core.management.base import BaseCommand, CommandError

from community.models import Community
from feedback.moderation.gates import review_gates_recompute


class Command(BaseCommand):
    help = "Recompute every reviewed message's quality gate (of one community, or of all)."

    def add_arguments(self, parser):
        parser.add_argument("--community", help="The community's slug; leave out for all communities.")

    def handle(self, *args, community=None, **options):
        scope = None
        if community:
            scope = Community.objects.filter(slug=community).first()
            if scope is None:
                raise CommandError(f"No community with the slug {community!r}.")
        totals = review_gates_recompute(community=scope)
        self.stdout.write(f"{totals['messages']} reviewed messages, {totals['accepted']} accepted.")
