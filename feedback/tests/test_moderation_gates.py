"""Quality gates: reviews submitted through the real services accept an answer, or not."""

import random

import pytest
from django.core.management import call_command

from community.models import Membership
from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import ContributorTrust, Message, ModerationPolicy, ReviewGate, TrustMode
from feedback.moderation.gates import (
    accepted_message_ids,
    message_accepted_q,
    review_gate_get,
    review_gates_recompute,
)
from feedback.moderation.trust_policy import moderation_policy_update
from feedback.mydata import services as mydata
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tasks import moderation_gates_recompute_task
from feedback.tests.factories import battle_ready

pytestmark = pytest.mark.django_db


def review(battle, kind: str, *, value: int = 5, labels=(), reviewer=None):
    """A new member of the battle's community takes the next task of `kind` and answers it.
    Rating `value` on every scale scores (value - 1) / 4; a flag review with labels scores 0."""
    reviewer = reviewer or MembershipFactory(community=battle.community, user=UserFactory()).user
    assignment = task_next(volunteer=reviewer, kind=kind, rng=random.Random(0))
    assert assignment.item.answer_id == battle.answer_a_id
    if kind == "rate":
        ratings = {"helpfulness": value, "correctness": value, "harmlessness": value}
        responses.rating_submit(volunteer=reviewer, assignment_id=assignment.pk, ratings=ratings)
    else:
        responses.flag_submit(volunteer=reviewer, assignment_id=assignment.pk, labels=list(labels))
    return reviewer, assignment


def gate(battle) -> ReviewGate:
    return review_gate_get(message_id=battle.answer_a_id)


def test_k_minus_one_passing_reviews_do_not_accept_and_k_do():
    battle = battle_ready()
    review(battle, "rate", value=5)
    review(battle, "rate", value=5)
    assert (gate(battle).review_count, gate(battle).is_accepted, gate(battle).accepted_at) == (2, False, None)
    assert not Message.objects.filter(message_accepted_q(), pk=battle.answer_a_id).exists()
    review(battle, "rate", value=4)
    # (1 + 1 + 0.75) / 3 = 0.9167 >= 0.6 with 3 reviews.
    assert gate(battle).is_accepted and gate(battle).accepted_at is not None
    assert gate(battle).score == pytest.approx(2.75 / 3)
    assert list(Message.objects.filter(message_accepted_q()).values_list("pk", flat=True)) == [battle.answer_a_id]
    assert list(accepted_message_ids(community=battle.community).values_list("message_id", flat=True)) == [
        battle.answer_a_id
    ]


def test_k_reviews_below_the_threshold_do_not_accept():
    battle = battle_ready()
    for value in (3, 3, 4):
        review(battle, "rate", value=value)
    # (0.5 + 0.5 + 0.75) / 3 = 0.5833 < 0.6.
    assert gate(battle).review_count == 3
    assert gate(battle).score == pytest.approx(1.75 / 3)
    assert not gate(battle).is_accepted


def test_a_later_failing_review_takes_it_back_and_its_deletion_restores_it():
    battle = battle_ready()
    for _ in range(3):
        review(battle, "rate", value=4)
    assert gate(battle).is_accepted  # 0.75
    first_accepted_at = gate(battle).accepted_at
    review(battle, "flag", labels=[])
    assert gate(battle).is_accepted and gate(battle).accepted_at == first_accepted_at  # (2.25 + 1) / 4 = 0.8125
    spotter, _ = review(battle, "flag", labels=["spam"])
    assert gate(battle).is_accepted  # (3.25 + 0) / 5 = 0.65
    reviewer, _ = review(battle, "flag", labels=["personal_information"])
    # (3.25 + 0 + 0) / 6 = 0.5417 < 0.6: out again.
    assert gate(battle).score == pytest.approx(3.25 / 6)
    assert (gate(battle).is_accepted, gate(battle).accepted_at) == (False, None)
    # The reviewer withdraws the flag (My data): back to 0.65, accepted again.
    flag = reviewer.flag_responses.get()
    mydata.flag_response_delete(volunteer=reviewer, flag_response_id=flag.pk)
    assert gate(battle).is_accepted and gate(battle).review_count == 5
    # An edit counts too: the spam flag dropped, (3.25 + 1) / 5 = 0.85.
    flag = spotter.flag_responses.get()
    mydata.flag_response_edit(volunteer=spotter, flag_response_id=flag.pk, labels=[])
    assert gate(battle).score == pytest.approx(0.85)


def test_rating_edits_and_deletions_update_the_gate():
    battle = battle_ready()
    reviewers = [review(battle, "rate", value=4) for _ in range(3)]
    reviewer, assignment = reviewers[0]
    mydata.rating_edit(
        volunteer=reviewer,
        assignment_id=assignment.pk,
        ratings={"helpfulness": 1, "correctness": 1, "harmlessness": 1},
    )
    # (0 + 0.75 + 0.75) / 3 = 0.5.
    assert gate(battle).score == pytest.approx(0.5) and not gate(battle).is_accepted
    mydata.rating_delete(volunteer=reviewer, assignment_id=assignment.pk)
    assert (gate(battle).review_count, gate(battle).is_accepted) == (2, False)


def owner_of(community):
    return MembershipFactory(community=community, role=Membership.Role.OWNER).user


def test_the_policy_is_per_community_and_a_change_recomputes_the_gates():
    first = battle_ready()
    second = battle_ready()
    for battle in (first, second):
        review(battle, "rate", value=5)
        review(battle, "rate", value=5)
    assert not gate(first).is_accepted and not gate(second).is_accepted
    moderation_policy_update(
        actor=owner_of(first.community),
        community=first.community,
        values={"reviews_needed": "2"},
        reason="We are few: two reviews are enough for now.",
    )
    moderation_gates_recompute_task.apply(args=[first.community.pk])
    assert gate(first).is_accepted
    assert not gate(second).is_accepted
    assert ModerationPolicy.objects.get(community=first.community).reviews_needed == 2
    assert not ModerationPolicy.objects.filter(community=second.community).exists()
    # A stricter threshold takes it back out at the next recompute.
    moderation_policy_update(
        actor=owner_of(first.community),
        community=first.community,
        values={"pass_threshold": "1"},
        reason="Only perfect answers.",
    )
    call_command("moderation_gates_recompute", community=first.community.slug)
    assert gate(first).is_accepted  # mean 1.0 >= 1.0
    review(first, "rate", value=4)
    assert not gate(first).is_accepted


def test_reviews_of_excluded_contributors_do_not_count_and_down_weighted_ones_weigh_less():
    battle = battle_ready()
    troll = MembershipFactory(community=battle.community, user=UserFactory()).user
    for _ in range(3):
        review(battle, "rate", value=5)
    review(battle, "flag", labels=["toxic"], reviewer=troll)
    assert gate(battle).score == pytest.approx(0.75)  # (1 + 1 + 1 + 0) / 4
    ContributorTrust.objects.create(
        user=troll, community=battle.community, gold_accuracy=0.1, gold_answers=20, computed_at="2025-01-01T00:00Z"
    )
    owner = owner_of(battle.community)
    moderation_policy_update(
        actor=owner, community=battle.community, values={"trust_mode": TrustMode.EXCLUDE}, reason="Trolls."
    )
    review_gates_recompute(community=battle.community)
    assert (gate(battle).review_count, gate(battle).score) == (3, 1.0)
    moderation_policy_update(
        actor=owner,
        community=battle.community,
        values={"trust_mode": TrustMode.DOWN_WEIGHT, "down_weight": "0.5"},
        reason="Softer.",
    )
    review_gates_recompute(community=battle.community)
    # (1 + 1 + 1 + 0 * 0.5) / 3.5 = 0.857, 4 reviews counted.
    assert gate(battle).review_count == 4
    assert gate(battle).score == pytest.approx(3 / 3.5)


def test_recompute_rebuilds_lost_gates_exactly():
    battle = battle_ready()
    for value in (5, 4, 2):
        review(battle, "rate", value=value)
    before = {g.message_id: (g.review_count, g.score, g.is_accepted) for g in ReviewGate.objects.all()}
    ReviewGate.objects.all().delete()
    totals = review_gates_recompute()
    after = {g.message_id: (g.review_count, g.score, g.is_accepted) for g in ReviewGate.objects.all()}
    assert before == {battle.answer_a_id: (3, pytest.approx(2 / 3), True)}
    # Both answers have review items; the second has no review yet (not accepted).
    assert after == before | {battle.answer_b_id: (0, None, False)}
    assert totals == {"messages": 2, "accepted": 1}
