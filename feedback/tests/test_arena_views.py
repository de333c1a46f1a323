import re
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


def arena_url(of, **query):
    url = reverse("feedback:arena", args=[of.community.slug])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def vote_buttons_enabled(html, battle):
    return html.count(f'hx-post="{vote_url(battle)}"')


class TestArenaReload:
    """A battle waiting for a vote stays in the arena: a reload shows it, answers and vote bar."""

    def test_a_reload_shows_the_unvoted_battle_and_its_vote_bar(self, client):
        battle = battle_ready(text_a="The **moon** pulls the sea.", text_b="Wind makes tides.")
        client.force_login(battle.judge)
        html = client.get(arena_url(battle)).content.decode()
        assert '<div class="bubble prompt"><p>Tell me about tides.</p></div>' in html
        assert '<div class="bubble answer"><p>The <strong>moon</strong> pulls the sea.</p></div>' in html
        assert '<div class="bubble answer"><p>Wind makes tides.</p></div>' in html
        assert vote_buttons_enabled(html, battle) == 4
        assert 'class="button vote" type="button" disabled' not in html
        assert f'id="conversation-field" name="conversation" value="{battle.conversation_id}"' in html
        assert html.count('<h2 id="name-a" class="pane-title">Model A</h2>') == 1  # still anonymous

    def test_the_vote_bar_of_a_reload_votes(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        html = client.get(arena_url(battle)).content.decode()
        key = re.search(r'"idempotency_key": "([0-9a-f-]{36})"', html).group(1)
        response = client.post(vote_url(battle), {"winner": "model_b", "idempotency_key": key}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        battle.refresh_from_db()
        assert (battle.status, battle.winner, str(battle.vote_idempotency_key)) == ("voted", "model_b", key)
        # Voted, it no longer opens the arena.
        html = client.get(arena_url(battle)).content.decode()
        assert "Write a prompt to start a battle." in html
        assert "Tell me about tides." not in html

    def test_the_latest_unvoted_battle_even_after_a_later_vote(self, client):
        waiting = battle_ready()
        voted = battle_ready(judge=waiting.judge, community=waiting.community)
        newest = battle_ready(judge=waiting.judge, community=waiting.community)
        Battle.objects.filter(pk=voted.pk).update(status="voted", winner="tie")
        Battle.objects.filter(pk=newest.pk).update(status="voted", winner="tie")
        client.force_login(waiting.judge)
        html = client.get(arena_url(waiting)).content.decode()
        assert vote_buttons_enabled(html, waiting) == 4
        assert f'value="{waiting.conversation_id}"' in html

    def test_new_battle_opens_an_empty_arena(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        html = client.get(arena_url(battle, new=1)).content.decode()
        assert html.count('class="button vote" type="button" disabled') == 4
        assert "Tell me about tides." not in html
        assert 'id="conversation-field" name="conversation" value=""' in html

    def test_a_follow_up_shows_every_turn_and_the_names_once_shown(self, client):
        from feedback.arena import services

        first = battle_ready()
        client.force_login(first.judge)
        client.post(vote_url(first), {"winner": "model_a", "idempotency_key": str(uuid.uuid4())})
        second = services.battle_start(
            judge=first.judge,
            community=first.community,
            prompt_text="And the sun?",
            conversation_id=first.conversation_id,
        )
        services.battle_answer_record(battle=second, side="a", text="A little.")
        services.battle_answer_record(battle=second, side="b", text="Half as much.")
        second = services.battle_complete(battle=second, errors={})
        html = client.get(arena_url(first)).content.decode()
        assert html.count('<div class="bubble prompt"><p>And the sun?</p>') == 2
        assert html.count('<div class="bubble prompt"><p>Tell me about tides.</p>') == 2
        assert '<div class="bubble answer"><p>Half as much.</p>' in html
        assert f'<h2 id="name-a" class="pane-title revealed">A · {first.model_a.name}</h2>' in html
        assert vote_buttons_enabled(html, second) == 4
        assert "This vote is not blind" in html

    def test_my_data_links_to_a_battle_by_its_id(self, client):
        older = battle_ready()
        newer = battle_ready(judge=older.judge, community=older.community)
        client.force_login(older.judge)
        html = client.get(arena_url(older, battle=older.pk)).content.decode()
        assert vote_buttons_enabled(html, older) == 4
        assert vote_buttons_enabled(html, newer) == 0
        Battle.objects.filter(pk=older.pk).update(status="voted", winner="model_a")
        html = client.get(arena_url(older, battle=older.pk)).content.decode()
        assert "You voted: <strong>A is better</strong>" in html
        assert vote_buttons_enabled(html, older) == 0

    @pytest.mark.parametrize("who", ["another volunteer", "a moderator", "the judge elsewhere"])
    def test_someone_elses_battle_or_a_bad_id_is_404(self, client, who):
        battle = battle_ready()
        if who == "the judge elsewhere":
            elsewhere = MembershipFactory(user=battle.judge).community
            client.force_login(battle.judge)
            url = reverse("feedback:arena", args=[elsewhere.slug]) + f"?battle={battle.pk}"
        else:
            role = "moderator" if who == "a moderator" else "volunteer"
            client.force_login(MembershipFactory(community=battle.community, user=UserFactory(role=role)).user)
            url = arena_url(battle, battle=battle.pk)
        assert client.get(url).status_code == 404
        client.force_login(battle.judge)
        assert client.get(arena_url(battle, battle="x1")).status_code == 404

    def test_another_volunteer_reloading_sees_an_empty_arena(self, client):
        battle = battle_ready()
        client.force_login(MembershipFactory(community=battle.community).user)
        html = client.get(arena_url(battle)).content.decode()
        assert html.count('class="button vote" type="button" disabled') == 4
        assert "Tell me about tides." not in html


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
