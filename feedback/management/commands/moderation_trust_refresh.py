"""Refresh contributors' trust scores in a community (gold accuracy, consensus; outlier scores
when a JSON file of model ratings is given)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from community.models import Community
from feedback.moderation.trust_jobs import trust_scores_refresh


class Command(BaseCommand):
    help = "Recompute the trust scores of a community's contributors."

    def add_arguments(self, parser):
        parser.add_argument("--community", required=True, help="The community's slug.")
        parser.add_argument(
            "--ratings", help='A JSON file {"model name": rating, ...} (Elo scale) for the judges\' outlier scores.'
        )

    def handle(self, *args, community, ratings=None, **options):
        scope = Community.objects.filter(slug=community).first()
        if scope is None:
            raise CommandError(f"No community with the slug {community!r}.")
        model_ratings = None
        if ratings:
            try:
                model_ratings = json.loads(Path(ratings).read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"Cannot read the ratings: {error}") from None
            if not isinstance(model_ratings, dict) or not all(
                isinstance(value, int | float) and not isinstance(value, bool) for value in model_ratings.values()
            ):
                raise CommandError('The ratings file must hold {"model name": number, ...}.')
        count = trust_scores_refresh(community=scope, ratings=model_ratings)
        self.stdout.write(f"{count} contributors scored in {scope.name}.")
