"""Each task kind through its page and through the API, and who may use them."""

import pytest
from django.urls import reverse

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import ClaimLabel, FlagResponse, Message, Ranking, Rating, TaskAssignment
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import battle_ready, claims_proposed

pytestmark = pytest.mark.django_db

ROLES = ["volunteer", "researcher", "moderator", "admin"]


def reviewer_for(battle, role="volunteer"):
    return MembershipFactory(community=battle.community, user=UserFactory(role=role)).user


def serve(client, user, kind):
    client.force_login(user)
    response = client.get(reverse("feedback:task_next"), {"kind": kind})
    assert response.status_code == 302, response.content[:300]
    assignment = TaskAssignment.objects.get(volunteer=user, status="reserved")
    assert response["Location"] == reverse("feedback:task", args=[assignment.pk]) + f"?kind={kind}"
    return assignment


def answer_url(assignment):
    return reverse("feedback:task_answer", args=[assignment.pk])


class TestPages:
    def test_rate_page_and_submission(self, client):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = serve(client, volunteer, "rate")
        page = client.get(reverse("feedback:task", args=[assignment.pk]))
        html = page.content.decode()
        assert 'name="scale-helpfulness"' in html and 'name="scale-harmlessness"' in html
        assert assignment.item.answer.text in html
        response = client.post(
            answer_url(assignment), {"scale-helpfulness": "4", "scale-correctness": "3", "scale-harmlessness": "5"}
        )
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("feedback:task_next"))
        assert dict(Rating.objects.values_list("scale__name", "value")) == {
            "helpfulness": 4,
            "correctness": 3,
            "harmlessness": 5,
        }

    def test_out_of_range_rating_re_renders_with_the_message(self, client):
        battle = battle_ready()
        assignment = serve(client, reviewer_for(battle), "rate")
        response = client.post(
            answer_url(assignment), {"scale-helpfulness": "9", "scale-correctness": "3", "scale-harmlessness": "5"}
        )
        assert response.status_code == 400
        assert "must be a whole number from 1 to 5" in response.content.decode()
        assert Rating.objects.count() == 0

    def test_flag_page_and_submission(self, client):
        battle = battle_ready()
        assignment = serve(client, reviewer_for(battle), "flag")
        assert (
            "Reveals or claims a model identity"
            in client.get(reverse("feedback:task", args=[assignment.pk])).content.decode()
        )
        response = client.post(answer_url(assignment), {"labels": ["spam", "fails_task"], "note": "An advert"})
        assert response.status_code == 302
        flags = FlagResponse.objects.get()
        assert (flags.labels, flags.note) == (["fails_task", "spam"], "An advert")

    def test_correct_page_and_submission(self, client):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = serve(client, volunteer, "correct")
        response = client.post(answer_url(assignment), {"text": "The moon pulls the sea."})
        assert response.status_code == 302
        assert Message.objects.get(author=volunteer, role="assistant").corrects == assignment.item.answer

    def test_rank_page_and_submission(self, client):
        battle = battle_ready()
        writer = reviewer_for(battle)
        responses.correction_submit(
            volunteer=writer, assignment_id=task_next(volunteer=writer, kind="correct").pk, text="Mine"
        )
        assignment = serve(client, reviewer_for(battle), "rank")
        a, b, c = assignment.item.prompt.children.order_by("pk").values_list("pk", flat=True)
        html = client.get(reverse("feedback:task", args=[assignment.pk])).content.decode()
        assert all(f'name="place-{answer}"' in html for answer in (a, b, c))
        response = client.post(answer_url(assignment), {f"place-{a}": "2", f"place-{b}": "1", f"place-{c}": "2"})
        assert response.status_code == 302
        assert Ranking.objects.get().order == [[b], [a, c]]

    def test_check_claims_page_and_submission(self, client):
        battle = battle_ready()
        moon, sea = claims_proposed(answer=battle.answer_a, texts=["Tides follow the moon.", "The sea is green."])
        assignment = serve(client, reviewer_for(battle), "check_claims")
        assert "The sea is green." in client.get(reverse("feedback:task", args=[assignment.pk])).content.decode()
        response = client.post(
            answer_url(assignment),
            {
                "claim-1-id": moon.pk,
                "claim-1-text": moon.text,
                "claim-1-verdict": "true",
                "claim-2-id": sea.pk,
                "claim-2-text": sea.text,
                "claim-2-verdict": "false",
                "claim-99-text": "",
            },
        )
        assert response.status_code == 302
        assert sorted(ClaimLabel.objects.values_list("claim__text", "verdict")) == [
            ("The sea is green.", "false"),
            ("Tides follow the moon.", "true"),
        ]

    def test_skip_never_serves_it_again(self, client):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = serve(client, volunteer, "rate")
        response = client.post(reverse("feedback:task_skip", args=[assignment.pk]))
        assert response.status_code == 302
        assignment.refresh_from_db()
        assert assignment.status == "skipped"
        client.get(reverse("feedback:task_next"), {"kind": "rate"})
        assert TaskAssignment.objects.filter(volunteer=volunteer, item=assignment.item).count() == 1

    def test_next_rank_task_serves_the_open_ranking_after_another_kind(self, client):
        battle = battle_ready()
        writer = reviewer_for(battle)
        responses.correction_submit(
            volunteer=writer, assignment_id=task_next(volunteer=writer, kind="correct").pk, text="Mine"
        )
        volunteer = reviewer_for(battle)
        rank = serve(client, volunteer, "rank")
        client.get(reverse("feedback:task_next"), {"kind": "rate"})  # a rating served since
        response = client.get(reverse("feedback:task_next"), {"kind": "rank"})
        assert (response.status_code, response["Location"]) == (
            302,
            reverse("feedback:task", args=[rank.pk]) + "?kind=rank",
        )
        html = client.get(response["Location"]).content.decode()
        assert "Rank these answers, best first" in html
        assert "No tasks for you right now" not in html

    def test_no_work_page(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)  # everything here is their own
        response = client.get(reverse("feedback:task_next"))
        assert response.status_code == 200
        assert "No tasks for you right now" in response.content.decode()

    def test_unknown_kind_is_400(self, client):
        battle = battle_ready()
        client.force_login(reviewer_for(battle))
        assert client.get(reverse("feedback:task_next"), {"kind": "dance"}).status_code == 400


class TestApi:
    def test_every_kind_through_the_api(self, client):
        battle = battle_ready()
        writer = reviewer_for(battle)
        client.force_login(writer)
        served = client.post("/api/v1/tasks/next/", {"kind": "correct"}, content_type="application/json")
        assert served.status_code == 201
        body = served.json()
        assert (body["kind"], body["community"], body["answer"]["text"]) == (
            "correct",
            battle.community.slug,
            body["answer"]["text"],
        )
        assert body["history"][0]["role"] == "user"
        answered = client.post(
            f"/api/v1/tasks/{body['id']}/answer/", {"text": "Better answer"}, content_type="application/json"
        )
        assert answered.status_code == 201
        assert answered.json() == {"id": body["id"], "status": "answered"}

        claims_proposed(answer=battle.answer_b, texts=["One claim here."])
        reviewer = reviewer_for(battle)
        client.force_login(reviewer)
        bodies = {
            "rate": lambda task: {"ratings": {s["name"]: 3 for s in task["scales"]}},
            "flag": lambda task: {"labels": [task["labels"][0]]},
            "rank": lambda task: {"order": [[a["id"]] for a in task["answers"]]},
            "check_claims": lambda task: {
                "claims": [{"id": c["id"], "text": c["text"], "verdict": "true"} for c in task["claims"]]
            },
        }
        for kind, make in bodies.items():
            task = client.post("/api/v1/tasks/next/", {"kind": kind}, content_type="application/json").json()
            assert task["kind"] == kind
            response = client.post(f"/api/v1/tasks/{task['id']}/answer/", make(task), content_type="application/json")
            assert response.status_code == 201, response.json()
        assert TaskAssignment.objects.filter(volunteer=reviewer, status="answered").count() == 4

    def test_bad_body_is_400_and_writes_nothing(self, client):
        battle = battle_ready()
        client.force_login(reviewer_for(battle))
        task = client.post("/api/v1/tasks/next/", {"kind": "rate"}, content_type="application/json").json()
        response = client.post(
            f"/api/v1/tasks/{task['id']}/answer/", {"ratings": {"helpfulness": 7}}, content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json() == {"detail": "Rate every scale; missing: correctness, harmlessness."}
        assert Rating.objects.count() == 0
        bad_kind = client.post("/api/v1/tasks/next/", {"kind": "dance"}, content_type="application/json")
        assert bad_kind.status_code == 400
        assert "kind" in bad_kind.json()["errors"]

    def test_nothing_to_do_is_200_with_a_message(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        response = client.post("/api/v1/tasks/next/", {}, content_type="application/json")
        assert (response.status_code, response.json()) == (200, {"detail": "No task for you right now."})


class TestPermissions:
    @pytest.mark.parametrize("role", ROLES)
    def test_a_task_is_only_its_volunteers(self, client, role):
        battle = battle_ready()
        owner = reviewer_for(battle)
        assignment = task_next(volunteer=owner, kind="rate")
        client.force_login(reviewer_for(battle, role=role))
        task_url = reverse("feedback:task", args=[assignment.pk])
        assert client.get(task_url).status_code == 404
        assert client.post(answer_url(assignment), {"scale-helpfulness": "1"}).status_code == 404
        assert client.post(reverse("feedback:task_skip", args=[assignment.pk])).status_code == 404
        assert client.get(f"/api/v1/tasks/{assignment.pk}/").status_code == 404
        assert client.post(f"/api/v1/tasks/{assignment.pk}/skip/").status_code == 404
        assignment.refresh_from_db()
        assert assignment.status == "reserved"

    @pytest.mark.parametrize("role", ROLES)
    def test_every_role_can_work_on_tasks_once_a_member(self, client, role):
        battle = battle_ready()
        assignment = serve(client, reviewer_for(battle, role=role), "flag")
        assert client.post(answer_url(assignment), {}).status_code == 302

    def test_anonymous_is_sent_to_log_in_or_refused(self, client):
        battle = battle_ready()
        assignment = task_next(volunteer=reviewer_for(battle), kind="rate")
        for url in ["/tasks/", "/tasks/next/", f"/tasks/{assignment.pk}/"]:
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert client.post(answer_url(assignment)).status_code == 302
        assert client.post("/api/v1/tasks/next/").status_code == 401
        assert client.get(f"/api/v1/tasks/{assignment.pk}/").status_code == 401

    def test_not_a_member_gets_403(self, client):
        battle_ready()
        client.force_login(UserFactory())
        assert client.get("/tasks/next/").status_code == 403
        assert client.post("/api/v1/tasks/next/", {}, content_type="application/json").status_code == 403

    def test_tasks_home_lists_my_communities(self, client):
        battle = battle_ready()
        client.force_login(reviewer_for(battle))
        html = client.get("/tasks/").content.decode()
        assert f'<option value="{battle.community.slug}">{battle.community.name}</option>' in html


class TestPreferences:
    def test_languages_and_topics_are_saved_and_validated(self, client):
        battle = battle_ready()
        battle.community.topics = ["Health", "Law"]
        battle.community.save()
        volunteer = reviewer_for(battle)
        client.force_login(volunteer)
        page = client.get("/tasks/preferences/")
        assert 'value="Health"' in page.content.decode()
        response = client.post(
            "/tasks/preferences/", {"languages": ["fr", "en"], f"topics-{battle.community.slug}": ["Law"]}
        )
        assert response.status_code == 302
        volunteer.refresh_from_db()
        assert volunteer.languages == ["en", "fr"]
        assert volunteer.memberships.get().topics == ["Law"]
        bad = client.post("/tasks/preferences/", {"languages": ["xx"], f"topics-{battle.community.slug}": ["Law"]})
        assert bad.status_code == 400
        assert "Unknown language: xx." in bad.content.decode()
        bad_topic = client.post("/tasks/preferences/", {f"topics-{battle.community.slug}": ["Cooking"]})
        assert bad_topic.status_code == 400
        volunteer.refresh_from_db()
        assert volunteer.languages == ["en", "fr"]
        assert volunteer.memberships.get().topics == ["Law"]

    def test_anonymous_is_sent_to_log_in(self, client):
        assert client.get("/tasks/preferences/")["Location"].startswith("/accounts/login/")
