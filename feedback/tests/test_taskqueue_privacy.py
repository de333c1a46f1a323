"""Personal information in a task is shown redacted to other volunteers, as in releases, on every
task page and in the tasks API; the author and the community's moderators see the original."""

import pytest
from django.urls import reverse

from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena import services as arena
from feedback.models import Claim, ClaimLabel, Message, TaskAssignment
from feedback.taskqueue.selectors import texts_shown_set
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import arena_setup, claims_proposed

pytestmark = pytest.mark.django_db

PROMPT = "Write to me at jane.doe@example.org or call +44 20 7946 0958."
PROMPT_SHOWN = "Write to me at [EMAIL] or call [PHONE]."
ANSWER_A = "Sure, I will write to jane.doe@example.org today."
ANSWER_A_SHOWN = "Sure, I will write to [EMAIL] today."
ANSWER_B = "Call 020 7946 0958 now, from 10 Downing Street, London SW1A 2AA."
ANSWER_B_SHOWN = "Call [PHONE] now, from [POSTAL_ADDRESS]."
CORRECTION = "Mostly the moon; ask me at bob@example.com."
CORRECTION_SHOWN = "Mostly the moon; ask me at [EMAIL]."


@pytest.fixture
def battle():
    community, judge, _, _ = arena_setup()
    battle = arena.battle_start(judge=judge, community=community, prompt_text=PROMPT)
    arena.battle_answer_record(battle=battle, side="a", text=ANSWER_A)
    arena.battle_answer_record(battle=battle, side="b", text=ANSWER_B)
    return arena.battle_complete(battle=battle, errors={})


def member_of(battle, role="member"):
    return MembershipFactory(community=battle.community, user=UserFactory(), role=role).user


def page_of(client, user, kind):
    client.force_login(user)
    response = client.get(reverse("feedback:task_next"), {"kind": kind})
    assert response.status_code == 302, response.content[:300]
    return client.get(response["Location"]).content.decode()


def api_task(client, user, kind):
    client.force_login(user)
    response = client.post("/api/v1/tasks/next/", {"kind": kind}, content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    return response.json()


def answer_of(battle, text):
    return {battle.answer_a.text: ANSWER_A_SHOWN, battle.answer_b.text: ANSWER_B_SHOWN}[text]


def add_correction(battle):
    writer = member_of(battle)
    assignment = task_next(volunteer=writer, kind="correct")
    return responses.correction_submit(volunteer=writer, assignment_id=assignment.pk, text=CORRECTION)


class TestOtherVolunteersSeeItRedacted:
    @pytest.mark.parametrize("kind", ["rate", "flag", "correct"])
    def test_the_page_of_an_answer_task(self, client, battle, kind):
        html = page_of(client, member_of(battle), kind)
        served = TaskAssignment.objects.get(status="reserved").item.answer
        assert f"<p>{PROMPT_SHOWN}</p>" in html
        assert f"<p>{answer_of(battle, served.text)}</p>" in html
        for original in ("jane.doe@example.org", "7946 0958", "Downing Street"):
            assert original not in html

    def test_the_better_answer_starts_from_the_redacted_answer_and_cannot_be_sent_unchanged(self, client, battle):
        volunteer = member_of(battle)
        html = page_of(client, volunteer, "correct")
        assignment = TaskAssignment.objects.get(volunteer=volunteer)
        shown = answer_of(battle, assignment.item.answer.text)
        assert f">{shown}</textarea>" in html
        response = client.post(reverse("feedback:task_answer", args=[assignment.pk]), {"text": shown})
        assert response.status_code == 400
        assert "Your answer is the same as the model&#x27;s." in response.content.decode()
        assert Message.objects.filter(author=volunteer).count() == 0

    def test_the_rank_page_and_the_api(self, client, battle):
        add_correction(battle)
        html = page_of(client, member_of(battle), "rank")
        for shown in (PROMPT_SHOWN, ANSWER_A_SHOWN, ANSWER_B_SHOWN, CORRECTION_SHOWN):
            assert f"<p>{shown}</p>" in html
        assert "jane.doe@example.org" not in html and "bob@example.com" not in html
        task = api_task(client, member_of(battle), "rank")
        assert [m["text"] for m in task["history"]] == [PROMPT_SHOWN]
        assert [a["text"] for a in task["answers"]] == [ANSWER_A_SHOWN, ANSWER_B_SHOWN, CORRECTION_SHOWN]

    def test_an_answer_task_through_the_api(self, client, battle):
        task = api_task(client, member_of(battle), "rate")
        served = TaskAssignment.objects.get(pk=task["id"]).item.answer
        assert task["history"] == [{"id": served.parent_id, "role": "user", "text": PROMPT_SHOWN}]
        assert task["answer"] == {"id": served.pk, "role": "assistant", "text": answer_of(battle, served.text)}

    def test_claims_are_shown_redacted_and_judged_as_proposed(self, client, battle):
        claims = claims_proposed(answer=battle.answer_a, texts=[ANSWER_A, "Tides follow the moon."])
        volunteer = member_of(battle)
        html = page_of(client, volunteer, "check_claims")
        assert f">{ANSWER_A_SHOWN}</textarea>" in html
        assert ">Tides follow the moon.</textarea>" in html
        assert "jane.doe" not in html
        assignment = TaskAssignment.objects.get(volunteer=volunteer)
        response = client.post(
            reverse("feedback:task_answer", args=[assignment.pk]),
            {
                "claim-1-id": claims[0].pk,
                "claim-1-text": ANSWER_A_SHOWN,
                "claim-1-verdict": "unverifiable",
                "claim-2-id": claims[1].pk,
                "claim-2-text": "Tides follow the moon.",
                "claim-2-verdict": "true",
            },
        )
        assert response.status_code == 302
        # Sent back as shown, the claims are the proposed ones: no volunteer's wording is stored.
        assert Claim.objects.filter(author__isnull=False).count() == 0
        assert sorted(ClaimLabel.objects.values_list("claim_id", "verdict")) == [
            (claims[0].pk, "unverifiable"),
            (claims[1].pk, "true"),
        ]
        assignment.refresh_from_db()
        assert assignment.status == "answered"
        task = api_task(client, member_of(battle), "check_claims")
        assert task["claims"] == [
            {"id": claims[0].pk, "text": ANSWER_A_SHOWN},
            {"id": claims[1].pk, "text": "Tides follow the moon."},
        ]


class TestModeratorsAndAuthorsSeeTheOriginal:
    @pytest.mark.parametrize("role", ["moderator", "admin", "owner"])
    def test_the_communitys_moderators(self, client, battle, role):
        html = page_of(client, member_of(battle, role=role), "rate")
        served = TaskAssignment.objects.get(status="reserved").item.answer
        assert f"<p>{PROMPT}</p>" in html
        assert f"<p>{served.text}</p>" in html

    def test_a_platform_admin_through_the_api(self, client, battle):
        admin = MembershipFactory(community=battle.community, user=UserFactory(role="admin")).user
        task = api_task(client, admin, "rate")
        served = TaskAssignment.objects.get(pk=task["id"]).item.answer
        assert (task["history"][0]["text"], task["answer"]["text"]) == (PROMPT, served.text)

    def test_a_moderator_of_another_community_sees_it_redacted(self, client, battle):
        volunteer = member_of(battle)
        MembershipFactory(user=volunteer, role="moderator")
        task = api_task(client, volunteer, "rate")
        assert task["history"][0]["text"] == PROMPT_SHOWN

    def test_the_author_of_each_text(self, battle):
        correction = add_correction(battle)
        claims = claims_proposed(answer=battle.answer_a, texts=[ANSWER_A])
        judge, writer, other = battle.judge, correction.author, member_of(battle)
        prompt, answers = battle.answer_a.parent, [battle.answer_a, battle.answer_b, correction]
        for viewer, expected in [
            (judge, [PROMPT, ANSWER_A, ANSWER_B, CORRECTION, ANSWER_A]),  # their conversation
            (writer, [PROMPT_SHOWN, ANSWER_A_SHOWN, ANSWER_B_SHOWN, CORRECTION, ANSWER_A_SHOWN]),
            (other, [PROMPT_SHOWN, ANSWER_A_SHOWN, ANSWER_B_SHOWN, CORRECTION_SHOWN, ANSWER_A_SHOWN]),
        ]:
            messages = [Message.objects.get(pk=m.pk) for m in (prompt, *answers)]
            shown_claims = list(Claim.objects.filter(pk=claims[0].pk))
            texts_shown_set(viewer=viewer, community=battle.community, messages=messages, claims=shown_claims)
            assert [m.shown_text for m in messages] + [shown_claims[0].shown_text] == expected
