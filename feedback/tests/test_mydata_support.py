"""Data for the "My data" tests: one person with an item of every kind, made through the real
services (arena, task queue), and a second volunteer with items of their own. No tests here."""

import random
import uuid
from dataclasses import dataclass

from community.models import Community, User
from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena.services import battle_vote_cast
from feedback.models import Battle, Claim, ClaimLabel, Donation, FlagResponse, Message, Ranking, TaskAssignment
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import arena_setup, battle_ready, claims_proposed

RATINGS = {"helpfulness": 4, "correctness": 3, "harmlessness": 5}


def served(volunteer: User, kind: str) -> TaskAssignment:
    assignment = task_next(volunteer=volunteer, kind=kind, rng=random.Random(0))
    assert assignment is not None, f"no {kind} task for {volunteer}"
    return assignment


def voted_battle(*, judge: User, community: Community, winner: str = "model_a", **texts) -> Battle:
    battle = battle_ready(judge=judge, community=community, **texts)
    return battle_vote_cast(judge=judge, battle_id=battle.pk, winner=winner, idempotency_key=uuid.uuid4())


@dataclass
class Contributions:
    """What `me` gave: one of every kind. `other` gave a better answer and a rating too."""

    community: Community
    owner: User
    me: User
    other: User
    target: Battle
    my_battle: Battle
    rating: TaskAssignment
    flag: FlagResponse
    ranking: Ranking
    correction: Message
    claim_labels: list[ClaimLabel]
    my_claim: Claim
    donation: Donation
    other_correction: Message
    other_rating: TaskAssignment


def contributions(*, role: str = "volunteer") -> Contributions:
    community, owner, _, _ = arena_setup()
    target = voted_battle(
        judge=owner,
        community=community,
        text_a="The Moon's gravity pulls the oceans.",
        text_b="Tides are caused by the wind.",
    )
    me = MembershipFactory(community=community, user=UserFactory(role=role, display_name="Ada")).user
    other = MembershipFactory(community=community).user

    # `other` writes a better answer first: the prompt then has three answers, so it is ranked.
    other_correction = responses.correction_submit(
        volunteer=other,
        assignment_id=served(other, "correct").pk,
        text="Mostly the Moon's gravity, and the Sun's.",
    )
    ranking_task = served(me, "rank")
    answers = [target.answer_a_id, target.answer_b_id, other_correction.pk]
    ranking = responses.ranking_submit(
        volunteer=me, assignment_id=ranking_task.pk, order=[[answers[2]], [answers[0]], [answers[1]]]
    )

    rating_task = served(me, "rate")
    responses.rating_submit(volunteer=me, assignment_id=rating_task.pk, ratings=RATINGS)
    flag = responses.flag_submit(
        volunteer=me, assignment_id=served(me, "flag").pk, labels=["fails_task"], note="It leaves out the Sun."
    )
    correction = responses.correction_submit(
        volunteer=me,
        assignment_id=served(me, "correct").pk,
        text="The Moon's and the Sun's gravity raise the tides.",
    )
    proposed = claims_proposed(answer=target.answer_a, texts=["The Moon pulls the oceans.", "Wind makes tides."])
    claim_labels = responses.claims_check_submit(
        volunteer=me,
        assignment_id=served(me, "check_claims").pk,
        claims=[
            {"id": proposed[0].pk, "text": proposed[0].text, "verdict": "true"},
            {"id": proposed[1].pk, "text": "Gravity makes tides.", "verdict": "true"},
        ],
    )
    my_claim = Claim.objects.get(author=me)
    other_rating = served(other, "rate")
    responses.rating_submit(volunteer=other, assignment_id=other_rating.pk, ratings=RATINGS)

    my_battle = voted_battle(judge=me, community=community, winner="tie")
    donation = Donation.objects.create(
        owner=me,
        community=community,
        source=Donation.Source.CHATGPT,
        title="Planning a shady garden",
        turns=[
            {"role": "user", "text": "What grows in shade?", "is_removed": False},
            {"role": "assistant", "text": "Ferns and hostas.", "is_removed": False},
        ],
    )
    return Contributions(
        community=community,
        owner=owner,
        me=me,
        other=other,
        target=target,
        my_battle=my_battle,
        rating=TaskAssignment.objects.get(pk=rating_task.pk),
        flag=flag,
        ranking=ranking,
        correction=correction,
        claim_labels=claim_labels,
        my_claim=my_claim,
        donation=donation,
        other_correction=other_correction,
        other_rating=TaskAssignment.objects.get(pk=other_rating.pk),
    )
