"""Quality gates: which items of the pool are accepted, stored so a release reads it cheaply.

Reviewed messages (an answer that went through the review queue: a model's answer in the
arena, a human correction, an answer of a donated conversation) are accepted when at least k
peer reviews count and their mean score reaches the threshold of the community's policy (the
arithmetic is in `gate_rules`). The result lives in `ReviewGate`, one row per reviewed message,
updated in the same transaction as every review that changes it (`review_gate_update`, called
by the rating and flag services, their edits and deletions) and recomputed in bulk by
`review_gates_recompute` (the `moderation_gates_recompute` command, and after a policy change
or a trust refresh).

Arena battles: the vote is the contribution, and it is accepted unless the community's trust
policy excludes its judge (`battles_accepted_q`).

Reads for releases and leaderboards are Q expressions over indexed columns:
`Message.objects.filter(message_accepted_q())`, `Battle.objects.filter(battles_accepted_q())`.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from community.models import Community
from feedback.models import FlagResponse, Message, Rating, ReviewGate, TaskItem, TaskKind
from feedback.moderation.gate_rules import (
    GateResult,
    flag_review_score,
    gate_decide,
    rating_review_score,
    reviews_weighted,
)
from feedback.moderation.trust_policy import excluded_judges_q, policy_for, vote_weights

REVIEW_KINDS = (TaskKind.RATE, TaskKind.FLAG)
CHUNK = 2000


# Selectors


def message_accepted_q(outer: str = "pk") -> Q:
    """True for messages the gate accepted. On Message querysets as it is; elsewhere name the
    column holding the message id, e.g. `message_accepted_q("answer_id")`."""
    return Q(Exists(ReviewGate.objects.filter(message_id=OuterRef(outer), is_accepted=True)))


def accepted_message_ids(*, community: Community | None = None) -> QuerySet:
    """Ids of accepted messages (a subquery: `Message.objects.filter(pk__in=...)`)."""
    gates = ReviewGate.objects.filter(is_accepted=True)
    if community is not None:
        gates = gates.filter(community=community)
    return gates.values("message_id")


def battles_accepted_q() -> Q:
    """On Battle: the vote counts (its judge is not excluded by the community's trust policy)."""
    return ~excluded_judges_q()


def review_gate_get(*, message_id: int) -> ReviewGate | None:
    return ReviewGate.objects.filter(message_id=message_id).first()


# Computing


def message_reviews(message_ids: Iterable[int]) -> dict[int, list[tuple[int, float]]]:
    """{message id: [(reviewer id, score), ...]} from the rating and flag reviews of non-gold items."""
    message_ids = list(message_ids)
    by_assignment: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for answer_id, assignment_id, volunteer_id, value in (
        Rating.objects.filter(answer_id__in=message_ids, assignment__item__is_gold=False)
        .order_by("assignment_id", "pk")
        .values_list("answer_id", "assignment_id", "volunteer_id", "value")
    ):
        by_assignment[(answer_id, assignment_id, volunteer_id)].append(value)
    reviews: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for (answer_id, _, volunteer_id), values in by_assignment.items():
        reviews[answer_id].append((volunteer_id, rating_review_score(values)))
    for answer_id, volunteer_id, labels in (
        FlagResponse.objects.filter(answer_id__in=message_ids, assignment__item__is_gold=False)
        .order_by("pk")
        .values_list("answer_id", "volunteer_id", "labels")
    ):
        reviews[answer_id].append((volunteer_id, flag_review_score(labels)))
    return reviews


def _decide(reviews: list[tuple[int, float]], policy, weights: dict[int, float]) -> GateResult:
    return gate_decide(
        reviews_weighted(reviews, weights), reviews_needed=policy.reviews_needed, pass_threshold=policy.pass_threshold
    )


def review_gate_update(*, message_id: int) -> ReviewGate:
    """Recompute one message's gate from its reviews now. Called inside the transaction that
    stores, edits or deletes a review; the gate row is locked, so concurrent reviews of the
    same message are counted one after the other."""
    with transaction.atomic():
        message = Message.objects.select_related("conversation__community").get(pk=message_id)
        community = message.conversation.community
        ReviewGate.objects.get_or_create(message_id=message_id, defaults={"community": community})
        gate = ReviewGate.objects.select_for_update().get(message_id=message_id)
        result = _decide(
            message_reviews([message_id]).get(message_id, []),
            policy_for(community=community),
            vote_weights(community=community),
        )
        _gate_apply(gate, result, now=timezone.now())
        gate.save(update_fields=["review_count", "score", "is_accepted", "accepted_at", "updated_at"])
    return gate


def _gate_apply(gate: ReviewGate, result: GateResult, *, now) -> None:
    gate.review_count = result.review_count
    gate.score = result.score
    if result.is_accepted:
        gate.accepted_at = gate.accepted_at if gate.is_accepted else now
    else:
        gate.accepted_at = None
    gate.is_accepted = result.is_accepted
    gate.updated_at = now


def review_gates_recompute(*, community: Community | None = None, only_reviewed: bool = False) -> dict[str, int]:
    """Recompute the gate of every reviewed message (of one community, or all), in chunks of
    messages; returns {"messages": ..., "accepted": ...}. Idempotent. `only_reviewed` skips
    messages in the review queue that nobody reviewed yet (their gate is closed either way):
    what a bulk load (`demo_data`) needs, where the services' per-review updates did not run."""
    communities = [community] if community is not None else list(Community.objects.order_by("pk"))
    totals = {"messages": 0, "accepted": 0}
    for each in communities:
        policy = policy_for(community=each)
        weights = vote_weights(community=each)
        items = TaskItem.objects.filter(community=each, is_gold=False, kind__in=REVIEW_KINDS)
        if only_reviewed:
            items = items.filter(response_count__gt=0)
        message_ids = list(items.order_by("answer_id").values_list("answer_id", flat=True).distinct())
        for start in range(0, len(message_ids), CHUNK):
            chunk = message_ids[start : start + CHUNK]
            with transaction.atomic():
                reviews = message_reviews(chunk)
                existing = {
                    gate.message_id: gate
                    for gate in ReviewGate.objects.select_for_update().filter(message_id__in=chunk)
                }
                now = timezone.now()
                gates = []
                for message_id in chunk:
                    gate = existing.get(message_id) or ReviewGate(message_id=message_id, community=each)
                    _gate_apply(gate, _decide(reviews.get(message_id, []), policy, weights), now=now)
                    gates.append(gate)
                    totals["accepted"] += gate.is_accepted
                ReviewGate.objects.bulk_create(
                    gates,
                    update_conflicts=True,
                    unique_fields=["message"],
                    update_fields=["community", "review_count", "score", "is_accepted", "accepted_at", "updated_at"],
                )
            totals["messages"] += len(chunk)
    return totals
