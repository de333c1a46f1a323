import uuid

import pytest
from django.urls import reverse

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import Battle
from feedback.tests.factories import battle_ready

pytestmark = pytest.mark.django_db

ROLES = ["volunteer", "researcher", "moderator", "admin"]


def vote_url(battle):
    return reverse("feedback:battle_vote", args=[battle.pk])


class TestArenaPage:
    def test_anonymous_is_sent_to_log_in(self, client):
        battle = battle_ready()
        response = client.get(reverse("feedback:arena", args=[battle.community.slug]))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    @pytest.mark.parametrize("role", ROLES)
    def test_a_non_member_is_asked_to_accept_the_licence(self, client, role):
        battle = battle_ready()
        client.force_login(UserFactory(role=role))
        response = client.get(reverse("feedback:arena", args=[battle.community.slug]))
        assert response.status_code == 302
        assert response["Location"] == f"/c/{battle.community.slug}/join/?next=/c/{battle.community.slug}/arena/"

    @pytest.mark.parametrize("role", ROLES)
    def test_members_of_every_role_get_the_arena(self, client, role):
        membership = MembershipFactory(user=UserFactory(role=role))
        client.force_login(membership.user)
        response = client.get(reverse("feedback:arena", args=[membership.community.slug]))
        assert response.status_code == 200
        html = response.content.decode()
        assert f'ws-connect="/ws/arena/{membership.community.slug}/"' in html
        assert html.count('class="button vote" type="button" disabled') == 4

    def test_unknown_community_is_404(self, client):
        client.force_login(UserFactory())
        assert client.get(reverse("feedback:arena", args=["nowhere"])).status_code == 404


class TestVoteView:
    def test_the_judge_votes_and_sees_the_names(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        response = client.post(
            vote_url(battle), {"winner": "model_a", "idempotency_key": str(uuid.uuid4())}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert f'<strong class="model-name" id="revealed-a">{battle.model_a.name}</strong>' in html
        assert f"B · {battle.model_b.name}" in html
        assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]
        assert Battle.objects.get(pk=battle.pk).winner == "model_a"

    def test_the_same_vote_posted_twice_is_stored_once(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        data = {"winner": "tie (bothbad)", "idempotency_key": str(uuid.uuid4())}
        first = client.post(vote_url(battle), data, HTTP_HX_REQUEST="true")
        second = client.post(vote_url(battle), data, HTTP_HX_REQUEST="true")
        assert (first.status_code, second.status_code) == (200, 200)
        assert Battle.objects.filter(status="voted", winner="tie (bothbad)").count() == 1

    @pytest.mark.parametrize("role", ["anonymous", *ROLES])
    def test_nobody_but_the_judge_can_vote(self, client, role):
        battle = battle_ready()
        if role != "anonymous":
            client.force_login(MembershipFactory(community=battle.community, user=UserFactory(role=role)).user)
        response = client.post(
            vote_url(battle), {"winner": "model_a", "idempotency_key": str(uuid.uuid4())}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == (403 if role == "anonymous" else 404)
        assert response["HX-Reswap"] == "none"
        assert Battle.objects.get(pk=battle.pk).status == "ready"

    def test_bad_input_is_a_clear_400(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        response = client.post(vote_url(battle), {"winner": "model_z", "idempotency_key": str(uuid.uuid4())})
        assert response.status_code == 400
        assert "Choose A, B, tie or both bad." in response.content.decode()
        assert Battle.objects.get(pk=battle.pk).status == "ready"

    def test_get_is_not_allowed(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        assert client.get(vote_url(battle)).status_code == 405


class TestBattleApi:
    def test_vote_through_the_api_with_a_token(self, client):
        from rest_framework.authtoken.models import Token

        battle = battle_ready()
        token = Token.objects.create(user=battle.judge)
        auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
        before = client.get(f"/api/v1/battles/{battle.pk}/", **auth)
        assert before.status_code == 200
        assert (before.json()["model_a"], before.json()["status"]) == (None, "ready")
        key = str(uuid.uuid4())
        response = client.post(
            f"/api/v1/battles/{battle.pk}/vote/",
            {"winner": "model_b", "idempotency_key": key},
            content_type="application/json",
            **auth,
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["winner"], body["status"], body["is_blind"]) == ("model_b", "voted", True)
        assert (body["model_a"], body["model_b"]) == (battle.model_a.name, battle.model_b.name)
        replay = client.post(
            f"/api/v1/battles/{battle.pk}/vote/",
            {"winner": "model_b", "idempotency_key": key},
            content_type="application/json",
            **auth,
        )
        assert replay.status_code == 200
        assert replay.json() == body

    def test_another_key_after_voting_is_409(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        url = f"/api/v1/battles/{battle.pk}/vote/"
        client.post(url, {"winner": "tie", "idempotency_key": str(uuid.uuid4())}, content_type="application/json")
        response = client.post(
            url, {"winner": "model_a", "idempotency_key": str(uuid.uuid4())}, content_type="application/json"
        )
        assert response.status_code == 409
        assert response.json() == {"detail": "You already voted on this battle."}

    def test_invalid_body_is_400_naming_the_field(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        response = client.post(
            f"/api/v1/battles/{battle.pk}/vote/", {"winner": "model_q"}, content_type="application/json"
        )
        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"winner", "idempotency_key"}
        assert Battle.objects.get(pk=battle.pk).status == "ready"

    @pytest.mark.parametrize("role", ["anonymous", *ROLES])
    def test_permission_matrix(self, client, role):
        battle = battle_ready()
        if role != "anonymous":
            client.force_login(MembershipFactory(community=battle.community, user=UserFactory(role=role)).user)
        expected = 401 if role == "anonymous" else 404
        assert client.get(f"/api/v1/battles/{battle.pk}/").status_code == expected
        response = client.post(
            f"/api/v1/battles/{battle.pk}/vote/",
            {"winner": "tie", "idempotency_key": str(uuid.uuid4())},
            content_type="application/json",
        )
        assert response.status_code == expected
        assert Battle.objects.get(pk=battle.pk).status == "ready"
