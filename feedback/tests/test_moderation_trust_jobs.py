"""Trust scores from the database against hand-computed values, and what the policy does with them."""

import math
import uuid

import pytest
from django.utils import timezone

from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena.services import battle_vote_cast
from feedback.models import (
    Battle,
    ContributorTrust,
    FlagResponse,
    ModerationPolicy,
    Rating,
    RatingScale,
    TaskAssignment,
    TaskItem,
    TrustMode,
)
from feedback.moderation.gates import battles_accepted_q
from feedback.moderation.trust_jobs import trust_scores_refresh
from feedback.moderation.trust_policy import (
    excluded_judges_q,
    excluded_user_ids,
    policy_effect,
    vote_weight,
    vote_weights,
)
from feedback.taskqueue.services.items import gold_item_create
from feedback.tasks import moderation_trust_refresh_task
from feedback.tests.factories import arena_setup, battle_ready

pytestmark = pytest.mark.django_db


def answered(item, volunteer, **fields):
    now = timezone.now()
    return TaskAssignment.objects.create(
        item=item, volunteer=volunteer, status="answered", reserved_until=now, answered_at=now, **fields
    )


@pytest.fixture
def league():
    """Four members of one community and what they did:

    - gold: ann right on 3 of 4 gold items, bob wrong on both of his 2;
    - one flag item: ann [], bob [], cat [spam], dan [];
    - one rate item (helpfulness only): ann 5, bob 4, cat 1;
    - arena: model "B" is rated 400 above "A"; ann votes B twice, bob A twice, cat ties twice.
    """
    community, ann, first, second = arena_setup()
    bob, cat, dan = (MembershipFactory(community=community, user=UserFactory()).user for _ in range(3))
    battle = battle_ready(judge=ann, community=community)
    answer = battle.answer_a
    for correct in (True, True, False, True):
        answered(gold_item_create(kind="flag", gold_answer={"labels": []}, answer=answer), ann, gold_correct=correct)
    for _ in range(2):
        answered(gold_item_create(kind="flag", gold_answer={"labels": []}, answer=answer), bob, gold_correct=False)
    flag_item = TaskItem.objects.get(kind="flag", answer=answer, is_gold=False)
    for person, labels in ((ann, []), (bob, []), (cat, ["spam"]), (dan, [])):
        FlagResponse.objects.create(
            assignment=answered(flag_item, person), answer=answer, volunteer=person, labels=labels
        )
    rate_item = TaskItem.objects.get(kind="rate", answer=answer, is_gold=False)
    helpfulness = RatingScale.objects.get(community=None, name="helpfulness")
    for person, value in ((ann, 5), (bob, 4), (cat, 1)):
        Rating.objects.create(
            assignment=answered(rate_item, person), answer=answer, volunteer=person, scale=helpfulness, value=value
        )
    # The battle above is ann's first vote; five more battles.
    battles = [battle] + [battle_ready(judge=judge, community=community) for judge in (ann, bob, bob, cat, cat)]
    for each in battles:
        if each.judge == ann:
            winner = "model_a" if each.model_a == second else "model_b"
        elif each.judge == bob:
            winner = "model_a" if each.model_a == first else "model_b"
        else:
            winner = "tie"
        battle_vote_cast(judge=each.judge, battle_id=each.pk, winner=winner, idempotency_key=uuid.uuid4())
    ModerationPolicy.objects.create(
        community=community,
        min_gold_answers=2,
        min_consensus_items=2,
        min_outlier_votes=2,
        max_outlier_score=0.3,
    )
    ratings = {first.name: 1000.0, second.name: 1400.0}
    return community, ann, bob, cat, dan, ratings


def scores(community):
    return {row.user_id: row for row in ContributorTrust.objects.filter(community=community)}


def test_scores_match_the_hand_computed_values(league):
    community, ann, bob, cat, dan, ratings = league
    assert trust_scores_refresh(community=community, ratings=ratings) == 4
    rows = scores(community)
    # Gold: ann 3/4, bob 0/2; cat and dan answered no gold item.
    assert (rows[ann.pk].gold_accuracy, rows[ann.pk].gold_answers) == (0.75, 4)
    assert (rows[bob.pk].gold_accuracy, rows[bob.pk].gold_answers) == (0.0, 2)
    assert (rows[cat.pk].gold_accuracy, rows[cat.pk].gold_answers) == (None, 0)
    # Consensus (items with at least two other answers):
    #   flag item: spam chosen by 1 of 3 others for ann, bob, dan (majority no, they agree: 1);
    #              by 0 of 3 for cat (cat disagrees: 0).
    #   rate item: ann 1 - |5 - (4+1)/2| / 4 = 0.375; bob 1 - |4 - 3| / 4 = 0.75; cat 1 - |1 - 4.5| / 4 = 0.125.
    #   ann (1 + 0.375) / 2 = 0.6875; bob (1 + 0.75) / 2 = 0.875; cat (0 + 0.125) / 2 = 0.0625; dan 1 over 1.
    assert rows[ann.pk].consensus_agreement == pytest.approx(0.6875) and rows[ann.pk].consensus_items == 2
    assert rows[bob.pk].consensus_agreement == pytest.approx(0.875) and rows[bob.pk].consensus_items == 2
    assert rows[cat.pk].consensus_agreement == pytest.approx(0.0625) and rows[cat.pk].consensus_items == 2
    assert (rows[dan.pk].consensus_agreement, rows[dan.pk].consensus_items) == (1.0, 1)
    # Outlier: P(B beats A) = 10/11. Means: ann ln(10/11), bob ln(1/11), cat (ln(1/11) + ln(10/11)) / 2 = the
    # median. ann: -ln(10)/2; bob: +ln(10)/2 = 1.1513; cat 0; dan never voted.
    assert rows[ann.pk].outlier_score == pytest.approx(-math.log(10) / 2)
    assert rows[bob.pk].outlier_score == pytest.approx(math.log(10) / 2)
    assert rows[bob.pk].outlier_mean_log_likelihood == pytest.approx(math.log(1 / 11))
    assert rows[cat.pk].outlier_score == pytest.approx(0.0, abs=1e-9)
    assert (rows[cat.pk].outlier_votes, rows[dan.pk].outlier_votes, rows[dan.pk].outlier_score) == (2, 0, None)


def test_a_refresh_without_ratings_keeps_the_outlier_scores(league):
    community, ann, bob, cat, dan, ratings = league
    moderation_trust_refresh_task.apply(args=[community.pk, ratings])
    computed_at = scores(community)[bob.pk].outlier_computed_at
    moderation_trust_refresh_task.apply(args=[community.pk])
    row = scores(community)[bob.pk]
    assert row.outlier_score == pytest.approx(math.log(10) / 2)
    assert row.outlier_computed_at == computed_at
    # A community refreshed only without ratings has no outlier score at all.
    other, judge, _, _ = arena_setup()
    battle = battle_ready(judge=judge, community=other)
    battle_vote_cast(judge=judge, battle_id=battle.pk, winner="tie", idempotency_key=uuid.uuid4())
    trust_scores_refresh(community=other)
    assert not ContributorTrust.objects.filter(community=other).exists()


def test_the_policy_excludes_or_down_weights_low_trust_contributors(league):
    community, ann, bob, cat, dan, ratings = league
    trust_scores_refresh(community=community, ratings=ratings)
    # Low trust: bob (gold 0 over 2 < 0.5; outlier 1.15 > 0.3), cat (agreement 0.0625 over 2 < 0.5).
    effect = policy_effect(community=community)
    assert effect["contributors_low_trust"] == 2
    assert effect["low_trust_by_reason"] == {"gold": 1, "consensus": 1, "outlier": 1}
    # Mode off: nothing excluded, nothing down-weighted; four votes would be.
    assert list(excluded_user_ids(community=community)) == []
    assert vote_weights(community=community) == {}
    assert vote_weight(user=bob, community=community) == 1.0
    assert (effect["votes_total"], effect["votes_excluded"], effect["would_affect_votes"]) == (6, 0, 4)
    assert Battle.objects.filter(battles_accepted_q()).count() == 6

    ModerationPolicy.objects.filter(community=community).update(trust_mode=TrustMode.EXCLUDE)
    assert {row["user_id"] for row in excluded_user_ids(community=community)} == {bob.pk, cat.pk}
    assert set(Battle.objects.filter(excluded_judges_q()).values_list("judge_id", flat=True)) == {bob.pk, cat.pk}
    assert set(Battle.objects.filter(battles_accepted_q()).values_list("judge_id", flat=True)) == {ann.pk}
    assert (vote_weight(user=bob, community=community), vote_weight(user=ann, community=community)) == (0.0, 1.0)
    effect = policy_effect(community=community)
    # Reviews: 3 rating reviews + 4 flag reviews; bob's and cat's: 2 each.
    assert (effect["votes_excluded"], effect["votes_down_weighted"]) == (4, 0)
    assert (effect["reviews_total"], effect["reviews_excluded"]) == (7, 4)

    ModerationPolicy.objects.filter(community=community).update(trust_mode=TrustMode.DOWN_WEIGHT, down_weight=0.25)
    assert vote_weights(community=community) == {bob.pk: 0.25, cat.pk: 0.25}
    assert Battle.objects.filter(battles_accepted_q()).count() == 6
    effect = policy_effect(community=community)
    assert (effect["votes_excluded"], effect["votes_down_weighted"], effect["reviews_down_weighted"]) == (0, 4, 4)

    # Thresholds are read from the policy at query time: a lower gold bar and a higher outlier bar free bob.
    ModerationPolicy.objects.filter(community=community).update(
        trust_mode=TrustMode.EXCLUDE, min_gold_accuracy=0.0, max_outlier_score=2.0
    )
    assert {row["user_id"] for row in excluded_user_ids(community=community)} == {cat.pk}
    # Another community's policy does not reach this one's battles.
    other, judge, _, _ = arena_setup()
    ContributorTrust.objects.create(
        user=judge, community=other, gold_accuracy=0.0, gold_answers=50, computed_at=timezone.now()
    )
    battle = battle_ready(judge=judge, community=other)
    battle_vote_cast(judge=judge, battle_id=battle.pk, winner="tie", idempotency_key=uuid.uuid4())
    assert Battle.objects.filter(excluded_judges_q(), community=other).count() == 0


@pytest.mark.django_db
def test_the_daily_schedule_refreshes_every_communitys_trust(monkeypatch):
    from django_celery_beat.models import PeriodicTask

    from community.tests.factories import CommunityFactory
    from feedback.tasks import moderation_trust_refresh_all

    schedule = PeriodicTask.objects.get(task="feedback.moderation_trust_refresh_all")
    assert schedule.enabled and schedule.crontab.hour == "2"
    communities = CommunityFactory.create_batch(2)
    sent = []
    monkeypatch.setattr(moderation_trust_refresh_task, "delay", lambda *args: sent.append(args))
    moderation_trust_refresh_all()
    assert sorted(sent) == sorted((community.pk,) for community in communities)
