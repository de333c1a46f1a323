"""Agreement per community and per item, from responses stored through the real services."""

import pytest

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import TaskItem
from feedback.quality.agreement import fleiss_kappa, krippendorff_alpha
from feedback.quality.selectors import community_agreement, item_agreement
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import battle_ready

pytestmark = pytest.mark.django_db


def rate_both(battle, volunteer, helpfulness_a, helpfulness_b):
    for _ in range(2):
        assignment = task_next(volunteer=volunteer, kind="rate")
        value = helpfulness_a if assignment.item.answer_id == battle.answer_a_id else helpfulness_b
        responses.rating_submit(
            volunteer=volunteer,
            assignment_id=assignment.pk,
            ratings={"helpfulness": value, "correctness": 3, "harmlessness": 5},
        )


def flag_both(battle, volunteer, labels_a, labels_b):
    for _ in range(2):
        assignment = task_next(volunteer=volunteer, kind="flag")
        labels = labels_a if assignment.item.answer_id == battle.answer_a_id else labels_b
        responses.flag_submit(volunteer=volunteer, assignment_id=assignment.pk, labels=labels)


def test_community_and_item_agreement():
    battle = battle_ready()
    volunteers = [MembershipFactory(community=battle.community, user=UserFactory()).user for _ in range(3)]
    for volunteer, (a, b) in zip(volunteers, [(4, 1), (4, 2), (5, 1)], strict=True):
        rate_both(battle, volunteer, a, b)
    for volunteer, (a, b) in zip(volunteers, [(["spam"], []), (["spam"], []), ([], [])], strict=True):
        flag_both(battle, volunteer, a, b)

    agreement = community_agreement(community=battle.community)
    # Helpfulness: answer A got 4, 4, 5 and answer B 1, 2, 1.
    assert agreement["ratings"]["Helpfulness"] == pytest.approx(
        krippendorff_alpha([[4, 4, 5], [1, 2, 1]], level="ordinal")
    )
    assert agreement["ratings"]["Correctness"] is None  # everyone said 3: no variation, alpha undefined
    # Spam: A yes, yes, no; B no, no, no -> counts [[2, 1], [0, 3]] over (yes, no).
    assert agreement["flags"]["Spam"] == pytest.approx(fleiss_kappa([[2, 1], [0, 3]]))
    # Hand-computed: P_A = (4+1-3)/6 = 1/3, P_B = 1, P-bar = 2/3; p_yes = 2/6, p_no = 4/6,
    # P_e = 1/9 + 4/9 = 5/9; kappa = (2/3 - 5/9) / (1 - 5/9) = 1/4.
    assert agreement["flags"]["Spam"] == pytest.approx(0.25)
    assert agreement["counts"] == {"rated_answers": 2, "flagged_answers": 2, "checked_claims": 0}

    rate_a = TaskItem.objects.get(kind="rate", answer=battle.answer_a)
    # Pairs within one point: helpfulness 3/3, correctness 3/3, harmlessness 3/3.
    assert item_agreement(item=rate_a) == 1.0
    flag_a = TaskItem.objects.get(kind="flag", answer=battle.answer_a)
    assert item_agreement(item=flag_a) == pytest.approx(1 / 3)  # one agreeing pair of three


def test_no_responses_no_numbers(client):
    battle = battle_ready()
    agreement = community_agreement(community=battle.community)
    assert agreement["ratings"] == {}
    assert agreement["claims"] is None
    assert set(agreement["flags"].values()) == {None}
    response = client.get(f"/c/{battle.community.slug}/agreement/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="agreement"' in response.content.decode()
    assert "not enough data" in response.content.decode()


def test_gold_accuracy_is_for_moderators_only(client):
    from feedback.taskqueue.services.items import gold_item_create

    battle = battle_ready()
    battle.community.gold_rate = 1.0
    battle.community.save()
    gold_item_create(kind="flag", answer=battle.answer_a, gold_answer={"labels": []})
    gold_item_create(kind="flag", answer=battle.answer_b, gold_answer={"labels": ["spam"]})
    volunteer = MembershipFactory(community=battle.community, user=UserFactory(email="gil@example.org")).user
    for _ in range(2):
        assignment = task_next(volunteer=volunteer, kind="flag")
        assert assignment.item.is_gold
        responses.flag_submit(volunteer=volunteer, assignment_id=assignment.pk, labels=[])
    # Right on the first (no labels), wrong on the second (spam): 1 of 2.

    for role, status in [("volunteer", 403), ("researcher", 403), ("moderator", 200), ("admin", 200)]:
        client.force_login(UserFactory(role=role))
        response = client.get("/moderation/contributors/")
        assert response.status_code == status
        if status == 200:
            html = response.content.decode()
            assert "gil@example.org" in html
            assert "50%" in html
    client.logout()
    assert client.get("/moderation/contributors/")["Location"].startswith("/accounts/login/")
    # The volunteer's own task pages never say which items were gold.
    client.force_login(volunteer)
    assert "gold" not in client.get("/tasks/").content.decode().lower()
