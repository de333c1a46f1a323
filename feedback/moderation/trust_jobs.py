"""Refreshing contributors' trust scores from the database (the computations are in `trust`).

`feedback` may not import `evaluation`, where the arena's Bradley-Terry fit lives: the outlier
score takes the model ratings as an argument. The evaluation job that fits the ratings passes
them in; a refresh without ratings computes gold accuracy and consensus agreement and leaves
the stored outlier scores as they are (empty for contributors never scored).
"""

from collections.abc import Iterator, Mapping

from django.db import transaction
from django.utils import timezone

from community.models import Community
from feedback.models import (
    Battle,
    ClaimLabel,
    ContributorTrust,
    FlagResponse,
    ModerationPolicy,
    Ranking,
    Rating,
    TaskAssignment,
    TrustMode,
)
from feedback.moderation import trust
from feedback.moderation.gates import review_gates_recompute


def gold_outcomes(*, community: Community) -> Iterator[tuple[int, bool]]:
    """(volunteer id, was right) for every answered gold item of the community."""
    return (
        TaskAssignment.objects.filter(item__community=community, item__is_gold=True, gold_correct__isnull=False)
        .order_by("pk")
        .values_list("volunteer_id", "gold_correct")
        .iterator(chunk_size=5000)
    )


def consensus_responses(*, community: Community) -> Iterator[tuple[int, str, int, object]]:
    """(item id, kind, volunteer id, response) for every answer to a non-gold item of the
    community, in the shapes `trust.consensus_agreement` takes."""
    in_community = {"assignment__item__community": community, "assignment__item__is_gold": False}
    ratings: dict[tuple[int, int], dict[str, int]] = {}
    for item_id, volunteer_id, scale, value in Rating.objects.filter(**in_community).values_list(
        "assignment__item_id", "volunteer_id", "scale__name", "value"
    ):
        ratings.setdefault((item_id, volunteer_id), {})[scale] = value
    for (item_id, volunteer_id), values in ratings.items():
        yield item_id, "rate", volunteer_id, values
    for item_id, volunteer_id, labels in FlagResponse.objects.filter(**in_community).values_list(
        "assignment__item_id", "volunteer_id", "labels"
    ):
        yield item_id, "flag", volunteer_id, labels
    for item_id, volunteer_id, order in Ranking.objects.filter(**in_community).values_list(
        "assignment__item_id", "volunteer_id", "order"
    ):
        yield item_id, "rank", volunteer_id, order
    verdicts: dict[tuple[int, int], dict[int, str]] = {}
    for item_id, volunteer_id, claim_id, verdict in ClaimLabel.objects.filter(
        claim__author__isnull=True, **in_community
    ).values_list("assignment__item_id", "volunteer_id", "claim_id", "verdict"):
        verdicts.setdefault((item_id, volunteer_id), {})[claim_id] = verdict
    for (item_id, volunteer_id), given in verdicts.items():
        yield item_id, "check_claims", volunteer_id, given


def arena_votes(*, community: Community) -> Iterator[tuple[int, str, str, str]]:
    """(judge id, model a name, model b name, winner) for every blind vote of the community
    (the votes the leaderboard counts; models are named as in the releases' battles)."""
    return (
        Battle.objects.filter(community=community, status=Battle.Status.VOTED, is_blind=True)
        .order_by("pk")
        .values_list("judge_id", "model_a__name", "model_b__name", "winner")
        .iterator(chunk_size=5000)
    )


def trust_scores_refresh(*, community: Community, ratings: Mapping[str, float] | None = None) -> int:
    """Recompute and store every contributor's trust scores in the community; returns how many
    contributors have scores. `ratings` ({model name: arena rating on the Elo scale}) gives the
    outlier scores; without it they are left as stored. When the policy acts on trust (mode
    down-weight or exclude), the community's quality gates are recomputed too."""
    # The row exists from here on, so queries that join the thresholds find the defaults.
    policy, _ = ModerationPolicy.objects.get_or_create(community=community)
    gold = trust.gold_accuracy(gold_outcomes(community=community))
    consensus = trust.consensus_agreement(consensus_responses(community=community))
    outliers = (
        trust.outlier_scores(arena_votes(community=community), ratings, min_votes=policy.min_outlier_votes)
        if ratings is not None
        else None
    )
    now = timezone.now()
    with transaction.atomic():
        existing = {
            row.user_id: row for row in ContributorTrust.objects.select_for_update().filter(community=community)
        }
        users = set(existing) | set(gold) | set(consensus) | set(outliers or {})
        rows = []
        for user_id in sorted(users):
            row = existing.get(user_id) or ContributorTrust(user_id=user_id, community=community)
            measure = gold.get(user_id, trust.Measure(None, 0))
            row.gold_accuracy, row.gold_answers = measure.value, measure.count
            measure = consensus.get(user_id, trust.Measure(None, 0))
            row.consensus_agreement, row.consensus_items = measure.value, measure.count
            if outliers is not None:
                outlier = outliers.get(user_id)
                row.outlier_votes = outlier.votes if outlier else 0
                row.outlier_mean_log_likelihood = outlier.mean_log_likelihood if outlier else None
                row.outlier_score = outlier.score if outlier else None
                row.outlier_computed_at = now
            row.computed_at = now
            rows.append(row)
        ContributorTrust.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["user", "community"],
            update_fields=[
                "gold_accuracy",
                "gold_answers",
                "consensus_agreement",
                "consensus_items",
                "outlier_score",
                "outlier_mean_log_likelihood",
                "outlier_votes",
                "outlier_computed_at",
                "computed_at",
            ],
        )
    if policy.trust_mode != TrustMode.OFF:
        review_gates_recompute(community=community)
    return len(rows)
