"""Agreement between volunteers, per community and per item, from the stored responses.

Community level (the numbers on a community's page):
- ratings: Krippendorff's alpha per scale, ordinal level (1-5 Likert steps), one unit per answer;
- flags: Fleiss' kappa per flag label (each volunteer says yes or no to the label), over the
  answers reviewed by the most common number of volunteers (Fleiss needs a fixed number);
- claim labels: Fleiss' kappa over the four verdicts, one unit per proposed claim (claims a
  volunteer edited are that volunteer's own and are left out).

Item level: the share of pairs of volunteers who agree, for one item (ratings: two ratings of a
scale agree when they differ by at most one point), which a moderator reads next to an item.
"""

from collections import defaultdict
from itertools import combinations

from community.models import Community
from feedback.models import ClaimLabel, ClaimVerdict, FlagLabel, FlagResponse, Rating, RatingScale, TaskItem
from feedback.quality.agreement import fleiss_kappa_from_labels, krippendorff_alpha


def community_agreement(*, community: Community) -> dict:
    """{"ratings": {scale label: alpha}, "flags": {flag label: kappa}, "claims": kappa, "counts": {...}}
    (None where there is not enough data)."""
    ratings_by_scale: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for scale_id, answer_id, value in Rating.objects.filter(assignment__item__community=community).values_list(
        "scale_id", "answer_id", "value"
    ):
        ratings_by_scale[scale_id][answer_id].append(value)
    scales = {scale.pk: scale.label for scale in RatingScale.objects.filter(pk__in=list(ratings_by_scale))}

    flags_by_answer: dict[int, list[list[str]]] = defaultdict(list)
    for answer_id, labels in FlagResponse.objects.filter(assignment__item__community=community).values_list(
        "answer_id", "labels"
    ):
        flags_by_answer[answer_id].append(labels)

    verdicts_by_claim: dict[int, list[str]] = defaultdict(list)
    for claim_id, verdict in ClaimLabel.objects.filter(
        assignment__item__community=community, claim__author__isnull=True
    ).values_list("claim_id", "verdict"):
        verdicts_by_claim[claim_id].append(verdict)

    return {
        "ratings": {
            scales[scale_id]: krippendorff_alpha(dict(units), level="ordinal")
            for scale_id, units in sorted(ratings_by_scale.items())
        },
        "flags": {
            label: fleiss_kappa_from_labels(
                [
                    ["yes" if value in labels else "no" for labels in responses]
                    for responses in flags_by_answer.values()
                ],
                categories=["yes", "no"],
            )
            if flags_by_answer
            else None
            for value, label in FlagLabel.choices
        },
        "claims": fleiss_kappa_from_labels(list(verdicts_by_claim.values()), categories=ClaimVerdict.values)
        if verdicts_by_claim
        else None,
        "counts": {
            "rated_answers": len({a for units in ratings_by_scale.values() for a in units}),
            "flagged_answers": len(flags_by_answer),
            "checked_claims": len(verdicts_by_claim),
        },
    }


def item_agreement(*, item: TaskItem) -> float | None:
    """The share of agreeing pairs among the item's responses; None with fewer than two."""
    if item.kind == "rate":
        by_scale: dict[int, list[int]] = defaultdict(list)
        for scale_id, value in Rating.objects.filter(assignment__item=item).values_list("scale_id", "value"):
            by_scale[scale_id].append(value)
        pairs = [abs(a - b) <= 1 for values in by_scale.values() for a, b in combinations(values, 2)]
    elif item.kind == "flag":
        responses = [
            frozenset(labels)
            for labels in FlagResponse.objects.filter(assignment__item=item).values_list("labels", flat=True)
        ]
        pairs = [a == b for a, b in combinations(responses, 2)]
    elif item.kind == "check_claims":
        by_claim: dict[int, list[str]] = defaultdict(list)
        for claim_id, verdict in ClaimLabel.objects.filter(
            assignment__item=item, claim__author__isnull=True
        ).values_list("claim_id", "verdict"):
            by_claim[claim_id].append(verdict)
        pairs = [a == b for verdicts in by_claim.values() for a, b in combinations(verdicts, 2)]
    else:
        return None
    return sum(pairs) / len(pairs) if pairs else None


def contributor_quality_list(*, community: Community | None = None, limit: int = 200) -> list[dict]:
    """Per volunteer: tasks answered, gold items answered, and the share of gold answered right
    (for moderators; volunteers are never told which items were gold). One query."""
    from django.db.models import Count, Max, Q

    from feedback.models import TaskAssignment

    answered = TaskAssignment.objects.filter(status=TaskAssignment.Status.ANSWERED)
    if community is not None:
        answered = answered.filter(item__community=community)
    rows = (
        answered.values("volunteer_id", "volunteer__email", "volunteer__display_name")
        .annotate(
            answered=Count("pk"),
            gold_answered=Count("pk", filter=Q(gold_correct__isnull=False)),
            gold_right=Count("pk", filter=Q(gold_correct=True)),
            last_answered_at=Max("answered_at"),
        )
        .order_by("-answered")[:limit]
    )
    return [
        row | {"gold_accuracy": row["gold_right"] / row["gold_answered"] if row["gold_answered"] else None}
        for row in rows
    ]
