"""A community's trust policy: reading it, what it excludes or down-weights, and changing it.

A contributor is low-trust in a community when any of their scores with enough evidence misses
the policy's bar: gold accuracy below `min_gold_accuracy` over at least `min_gold_answers` gold
items, consensus agreement below `min_consensus_agreement` over at least `min_consensus_items`
items, or an outlier score above `max_outlier_score` over at least `min_outlier_votes` votes.
The test is a query (`low_trust_q`) that reads the thresholds from the policy row by a join, so
it works for one community or all of them at once, and a policy change takes effect at once.

Mode "off": every vote and review counts fully. "down_weight": a low-trust contributor's votes
and reviews weigh `down_weight`. "exclude": they do not count at all (leaderboards skip the
votes, releases leave the battles out, the quality gate ignores the reviews).
"""

from collections.abc import Mapping

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from community.errors import NotAllowed, RequestRejected
from community.models import Community, User
from community.permissions import can_govern
from feedback.models import (
    Battle,
    ContributorTrust,
    FlagResponse,
    ModerationPolicy,
    ModerationPolicyChange,
    Rating,
    TrustMode,
)

REASON_MAX_CHARS = 1000
_POLICY = "community__moderation_policy__"

# Field name -> (kind, low, high); kind is int or float. The form and the service share it.
POLICY_FIELDS: dict[str, tuple[type, float, float | None]] = {
    "reviews_needed": (int, 1, 50),
    "pass_threshold": (float, 0.0, 1.0),
    "down_weight": (float, 0.0, 1.0),
    "min_gold_accuracy": (float, 0.0, 1.0),
    "min_gold_answers": (int, 1, None),
    "min_consensus_agreement": (float, 0.0, 1.0),
    "min_consensus_items": (int, 1, None),
    "max_outlier_score": (float, 0.0, None),
    "min_outlier_votes": (int, 1, None),
}
POLICY_EDITABLE = ("trust_mode", *POLICY_FIELDS)


def policy_for(*, community: Community) -> ModerationPolicy:
    """The community's policy; before anyone changed it, an unsaved one with the defaults
    (reads never write: the row is created by the first change)."""
    return ModerationPolicy.objects.filter(community=community).first() or ModerationPolicy(community=community)


def low_trust_q() -> Q:
    """On ContributorTrust: the row's scores miss its community's policy (with enough evidence)."""
    return (
        Q(gold_answers__gte=F(_POLICY + "min_gold_answers"), gold_accuracy__lt=F(_POLICY + "min_gold_accuracy"))
        | Q(
            consensus_items__gte=F(_POLICY + "min_consensus_items"),
            consensus_agreement__lt=F(_POLICY + "min_consensus_agreement"),
        )
        | Q(outlier_votes__gte=F(_POLICY + "min_outlier_votes"), outlier_score__gt=F(_POLICY + "max_outlier_score"))
    )


def low_trust_reasons_q() -> dict[str, Q]:
    """Each score's own test, for counting why contributors are low-trust."""
    return {
        "gold": Q(
            gold_answers__gte=F(_POLICY + "min_gold_answers"), gold_accuracy__lt=F(_POLICY + "min_gold_accuracy")
        ),
        "consensus": Q(
            consensus_items__gte=F(_POLICY + "min_consensus_items"),
            consensus_agreement__lt=F(_POLICY + "min_consensus_agreement"),
        ),
        "outlier": Q(
            outlier_votes__gte=F(_POLICY + "min_outlier_votes"), outlier_score__gt=F(_POLICY + "max_outlier_score")
        ),
    }


def low_trust_user_ids(*, community: Community) -> QuerySet:
    """Ids of the community's low-trust contributors, whatever the mode (a subquery)."""
    return ContributorTrust.objects.filter(low_trust_q(), community=community).values("user_id")


def excluded_user_ids(*, community: Community) -> QuerySet:
    """Ids of contributors whose votes and reviews the community excludes (empty unless mode is exclude)."""
    return ContributorTrust.objects.filter(
        low_trust_q(), community=community, **{_POLICY + "trust_mode": TrustMode.EXCLUDE}
    ).values("user_id")


def excluded_judges_q() -> Q:
    """On Battle: the judge is excluded by the battle's community's policy. For leaderboards and
    releases: `Battle.objects.exclude(excluded_judges_q())`. Works across communities."""
    return Q(
        Exists(
            ContributorTrust.objects.filter(
                low_trust_q(),
                user_id=OuterRef("judge_id"),
                community_id=OuterRef("community_id"),
                **{_POLICY + "trust_mode": TrustMode.EXCLUDE},
            )
        )
    )


def vote_weights(*, community: Community) -> dict[int, float]:
    """{user id: weight} for every contributor whose votes and reviews do not weigh 1 (missing
    ids weigh 1): empty in mode off, 0 for low-trust contributors in mode exclude, the policy's
    down-weight in mode down_weight."""
    policy = policy_for(community=community)
    if policy.trust_mode == TrustMode.OFF:
        return {}
    weight = 0.0 if policy.trust_mode == TrustMode.EXCLUDE else policy.down_weight
    return {user_id: weight for user_id in low_trust_user_ids(community=community).values_list("user_id", flat=True)}


def vote_weight(*, user: User, community: Community) -> float:
    """The weight of this contributor's votes and reviews in this community (see `vote_weights`)."""
    policy = policy_for(community=community)
    if policy.trust_mode == TrustMode.OFF:
        return 1.0
    if not low_trust_user_ids(community=community).filter(user_id=user.pk).exists():
        return 1.0
    return 0.0 if policy.trust_mode == TrustMode.EXCLUDE else policy.down_weight


def policy_effect(*, community: Community) -> dict:
    """What the policy does now, for its public page: low-trust contributors (in all, and by
    which score), the community's blind votes and reviews, and how many of them it excludes or
    down-weights (0 in mode off: `would_affect_*` then say what another mode would touch)."""
    policy = policy_for(community=community)
    trust = ContributorTrust.objects.filter(community=community)
    reasons = low_trust_reasons_q()
    counts = trust.aggregate(
        scored=Count("pk"),
        low_trust=Count("pk", filter=low_trust_q()),
        **{f"low_{name}": Count("pk", filter=q) for name, q in reasons.items()},
    )
    low_ids = low_trust_user_ids(community=community)
    votes = Battle.objects.filter(community=community, status=Battle.Status.VOTED, is_blind=True)
    votes_total = votes.count()
    votes_low = votes.filter(judge_id__in=low_ids).count()
    reviews_total = (
        Rating.objects.filter(assignment__item__community=community).values("assignment_id").distinct().count()
        + FlagResponse.objects.filter(assignment__item__community=community).count()
    )
    reviews_low = (
        Rating.objects.filter(assignment__item__community=community, volunteer_id__in=low_ids)
        .values("assignment_id")
        .distinct()
        .count()
        + FlagResponse.objects.filter(assignment__item__community=community, volunteer_id__in=low_ids).count()
    )
    is_active = policy.trust_mode != TrustMode.OFF
    return {
        "policy": policy,
        "contributors_scored": counts["scored"],
        "contributors_low_trust": counts["low_trust"],
        "low_trust_by_reason": {name: counts[f"low_{name}"] for name in reasons},
        "votes_total": votes_total,
        "votes_excluded": votes_low if policy.trust_mode == TrustMode.EXCLUDE else 0,
        "votes_down_weighted": votes_low if policy.trust_mode == TrustMode.DOWN_WEIGHT else 0,
        "reviews_total": reviews_total,
        "reviews_excluded": reviews_low if policy.trust_mode == TrustMode.EXCLUDE else 0,
        "reviews_down_weighted": reviews_low if policy.trust_mode == TrustMode.DOWN_WEIGHT else 0,
        "would_affect_votes": 0 if is_active else votes_low,
        "would_affect_reviews": 0 if is_active else reviews_low,
    }


def policy_changes(*, community: Community, limit: int = 20) -> list[dict]:
    """The latest changes, newest first, for the public page: when, why, and each changed field
    as (its name in words, value before, value after). Who changed it is not published."""
    rows = []
    for change in ModerationPolicyChange.objects.filter(community=community)[:limit]:
        fields = [
            (ModerationPolicy._meta.get_field(name).verbose_name, change.before.get(name), value)
            for name, value in change.after.items()
        ]
        rows.append({"created_at": change.created_at, "reason": change.reason, "fields": fields})
    return rows


def policy_values_clean(values: Mapping[str, object]) -> dict[str, object]:
    """The editable fields present in `values`, parsed and within their ranges, or
    RequestRejected naming the first field that is not."""
    cleaned: dict[str, object] = {}
    if "trust_mode" in values:
        mode = values["trust_mode"]
        if mode not in TrustMode.values:
            raise RequestRejected("Choose the trust mode: off, down_weight or exclude.")
        cleaned["trust_mode"] = mode
    for name, (kind, low, high) in POLICY_FIELDS.items():
        if name not in values:
            continue
        raw = values[name]
        label = ModerationPolicy._meta.get_field(name).verbose_name
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = kind(str(raw).strip()) if kind is int else float(str(raw).strip())
        except ValueError:
            raise RequestRejected(f"'{label}' must be {'a whole number' if kind is int else 'a number'}.") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
            raise RequestRejected(f"'{label}' must be a finite number.")
        if value < low or (high is not None and value > high):
            bounds = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise RequestRejected(f"'{label}' must be {bounds}.")
        cleaned[name] = value
    return cleaned


def moderation_policy_update(
    *, actor: User, community: Community, values: Mapping[str, object], reason: object
) -> ModerationPolicy:
    """Change the community's policy (its owner and admins, and platform admins, only), with a
    reason; the change is recorded in ModerationPolicyChange, and the stored quality gates of
    the community are recomputed in the background when a gate or trust setting changed."""
    if not can_govern(actor, community):
        raise NotAllowed("Only the community's owner and admins can change its moderation policy.")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise RequestRejected("Say why the policy changes: the reason is published with the change.")
    if len(reason) > REASON_MAX_CHARS:
        raise RequestRejected(f"The reason is longer than {REASON_MAX_CHARS} characters.")
    cleaned = policy_values_clean(values)
    with transaction.atomic():
        ModerationPolicy.objects.get_or_create(community=community)
        policy = ModerationPolicy.objects.select_for_update().get(community=community)
        before = {name: getattr(policy, name) for name in cleaned if getattr(policy, name) != cleaned[name]}
        if not before:
            raise RequestRejected("Nothing changed: the policy already has these values.")
        for name in before:
            setattr(policy, name, cleaned[name])
        policy.save(update_fields=[*before, "updated_at"])
        ModerationPolicyChange.objects.create(
            community=community,
            actor=actor,
            reason=reason,
            before=before,
            after={name: cleaned[name] for name in before},
        )
        from feedback.tasks import moderation_gates_recompute_task

        community_id = community.pk
        transaction.on_commit(lambda: moderation_gates_recompute_task.delay(community_id))
    return policy


# The trollboard

BOARD_SORTS = {
    "trust": "Low trust first",
    "gold": "Lowest gold accuracy",
    "consensus": "Lowest agreement with consensus",
    "outlier": "Highest outlier score",
}
BOARD_LIMIT = 200


def contributor_trust_list(
    *,
    community: Community,
    sort: str = "trust",
    min_gold_answers: int = 0,
    min_consensus_items: int = 0,
    min_outlier_votes: int = 0,
    limit: int = BOARD_LIMIT,
) -> tuple[list[ContributorTrust], int]:
    """The community's scored contributors for its moderators, lowest trust first by `sort`,
    with at least the given evidence; each row carries `is_low_trust`, `is_low_gold`,
    `is_low_consensus`, `is_low_outlier`. Returns (rows, how many match in all). Two queries."""
    from django.db.models import BooleanField, Case, Value, When

    if sort not in BOARD_SORTS:
        raise RequestRejected(f"Sort by one of: {', '.join(BOARD_SORTS)}.")

    def flag(q: Q) -> Case:
        return Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())

    reasons = low_trust_reasons_q()
    rows = (
        ContributorTrust.objects.filter(
            community=community,
            gold_answers__gte=min_gold_answers,
            consensus_items__gte=min_consensus_items,
            outlier_votes__gte=min_outlier_votes,
        )
        .select_related("user")
        .annotate(
            is_low_trust=flag(low_trust_q()),
            is_low_gold=flag(reasons["gold"]),
            is_low_consensus=flag(reasons["consensus"]),
            is_low_outlier=flag(reasons["outlier"]),
        )
    )
    gold = F("gold_accuracy").asc(nulls_last=True)
    consensus = F("consensus_agreement").asc(nulls_last=True)
    outlier = F("outlier_score").desc(nulls_last=True)
    ordering = {
        "trust": [F("is_low_trust").desc(), gold, consensus, outlier, "user_id"],
        "gold": [gold, "-gold_answers", "user_id"],
        "consensus": [consensus, "-consensus_items", "user_id"],
        "outlier": [outlier, "-outlier_votes", "user_id"],
    }[sort]
    return list(rows.order_by(*ordering)[:limit]), rows.count()
