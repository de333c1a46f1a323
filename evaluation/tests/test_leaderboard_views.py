"""The public leaderboard pages, their switches, the method page and "Recompute now"."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from community.tests.factories import CommunityFactory, UserFactory
from evaluation.models import LeaderboardRefresh
from evaluation.tests.factories import THREE_MODELS, battle_make, snapshot_make
from feedback.tests.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db


def page(client: Client, url: str, **headers):
    response = client.get(url, **headers)
    return response, response.content.decode()


def test_the_overall_page_explains_what_will_appear_before_any_snapshot(client):
    CommunityFactory(name="Health folk", slug="health-folk")
    response, html = page(client, "/leaderboards/")
    assert response.status_code == 200
    assert "No leaderboard here yet" in html
    assert 'ws-connect="/ws/leaderboards/"' in html  # it appears live when the first snapshot is published
    assert "blind votes in the arena" in html
    assert "every 30 minutes" in html
    assert "heat maps of the observed and predicted win rates" in html
    assert 'href="/c/health-folk/leaderboard/"' in html  # the list of communities
    assert "No leaderboard yet" in html
    assert "Recompute now" not in html  # anonymous


def test_the_overall_page_shows_the_latest_snapshot(client):
    community = CommunityFactory(name="Health folk", slug="health-folk")
    snapshot_make(digest="1" * 64, battles_counted=100)
    latest = snapshot_make(digest="2" * 64, battles_counted=160)
    snapshot_make(community=community, battles_counted=55)

    response, html = page(client, "/leaderboards/")
    assert response.status_code == 200
    assert "version 2 of" in html
    assert "160 battles counted" in html
    assert f'href="/api/v1/leaderboards/snapshots/{latest.pk}/"' in html
    # The table: rank, model, rating, interval, battles, in rating order.
    rows = re.findall(r'<td class="rank[^"]*">\s*(\d+)\s*</td>\s*<td>\s*([^<\s]+)', html)
    assert rows == [("1", "atlas-7b-chat"), ("2", "borealis-3b"), ("3", "cirrus-1b")]
    assert "1080" in html and "−29" in html and "+30" in html
    # The plot, the three heat maps with legends, the inputs and the history.
    assert html.count('<circle class="ci-point"') == 3
    for title in ("Observed win rate", "Predicted win rate", "Battles"):
        assert f">{title}</h2>" in html
    assert html.count('class="heat-legend"') == 3
    assert "abc1234" in html and "Earlier versions" in html
    # The community list with its leader.
    assert re.search(r"Health folk</a>\s*</td>\s*<td>atlas-7b-chat</td>\s*<td class=\"number\">55</td>", html)


def test_provisional_models_are_marked_and_not_ranked(client):
    snapshot_make(ratings=THREE_MODELS + [("newcomer", 990.0, 900.0, 1100.0, None, 4)])
    _, html = page(client, "/leaderboards/")
    assert re.search(r'<tr class="provisional">\s*<td class="rank">\s*–\s*</td>\s*<td>\s*newcomer', html)
    assert "provisional</span>" in html
    assert "fewer than 20 counted battles is provisional" in html


def test_model_names_are_escaped(client):
    snapshot_make(ratings=[("<script>alert(1)</script>", 1010.0, 990.0, 1030.0, 1, 40), *THREE_MODELS[1:]])
    _, html = page(client, "/leaderboards/")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_community_page_with_category_and_style_switches(client):
    community = CommunityFactory(slug="health-folk", topics=["Health"])
    overall = snapshot_make(community=community)
    snapshot_make(community=community, style_control=True, style={"length": 0.31, "headers": -0.05})
    topic = snapshot_make(community=community, category="topic", value="Health", ratings=THREE_MODELS[:2])
    snapshot_make(community=community, category="language", value="fr", ratings=THREE_MODELS[1:])

    response, html = page(client, "/c/health-folk/leaderboard/")
    assert response.status_code == 200
    for href, label in (
        ("/c/health-folk/leaderboard/", "All battles"),
        ("/c/health-folk/leaderboard/?topic=Health", "Topic: Health"),
        ("/c/health-folk/leaderboard/?language=fr", "Language: fr"),
        ("/c/health-folk/leaderboard/?style=on", "On"),
    ):
        assert re.search(rf'href="{re.escape(href)}"\s+hx-get="{re.escape(href)}"[^>]*>{label}</a>', html), label
    assert f'ws-connect="/ws/leaderboards/?community=health-folk&amp;shown={overall.pk}"' in html

    _, html_topic = page(client, "/c/health-folk/leaderboard/?topic=Health")
    assert "<strong>Topic: Health</strong>" in html_topic
    assert "cirrus-1b" not in html_topic.split("Inputs of this snapshot")[0]
    assert f'ws-connect="/ws/leaderboards/?community=health-folk&amp;topic=Health&amp;shown={topic.pk}"' in html_topic

    _, styled = page(client, "/c/health-folk/leaderboard/?style=on")
    assert "style control on" in styled
    assert "Style coefficients" in styled and "0.310" in styled


def test_a_switch_by_htmx_gets_only_the_board(client):
    community = CommunityFactory(slug="health-folk")
    snapshot_make(community=community, category="language", value="fr")
    response, html = page(client, "/c/health-folk/leaderboard/?language=fr", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="leaderboard-live"')
    assert "<html" not in html and "site-header" not in html
    assert "Language: fr" in html
    assert "HX-Request" in response["Vary"]


def test_a_declared_topic_without_enough_battles_says_so(client):
    CommunityFactory(slug="health-folk", topics=["Health"])
    response, html = page(client, "/c/health-folk/leaderboard/?topic=Health")
    assert response.status_code == 200
    assert "Topic: Health gets its own leaderboard once it has 30 counted battles." in html


def refused_by_the_engine(community, *, category, value, style_control, reason):
    """A finished refresh that could not fit one leaderboard, as the job records it."""
    return LeaderboardRefresh.objects.create(
        status=LeaderboardRefresh.Status.SUCCEEDED,
        finished_at=timezone.now(),
        skipped=[
            {
                "community_id": community.pk,
                "category": category,
                "value": value,
                "style_control": style_control,
                "label": f"{community.name}, language: {value} (style control)",
                "reason": reason,
            }
        ],
    )


def test_a_leaderboard_the_engine_refused_gives_the_reason_not_the_battle_count(client):
    community = CommunityFactory(name="Health folk", slug="health-folk", topics=["Health"])
    snapshot_make(community=community, category="language", value="fr")  # style control off: fitted
    reason = "The style-control fit did not converge in 200 Newton iterations (last step 2 log-odds)."
    refused_by_the_engine(community, category="language", value="fr", style_control=True, reason=reason)

    response, html = page(client, "/c/health-folk/leaderboard/?language=fr&style=on")
    assert response.status_code == 200
    assert "No leaderboard here yet" in html
    assert "This leaderboard has enough battles, but the last recomputation" in html
    assert reason in html
    assert "gets its own leaderboard once" not in html
    # Style control off was fitted: its page is the board, with no such notice.
    response, html = page(client, "/c/health-folk/leaderboard/?language=fr")
    assert "could not fit" not in html and "version 1 of" in html

    # A language refused with and without style control is no 404: its page says why.
    refused_by_the_engine(community, category="language", value="de", style_control=False, reason="Singular.")
    response, html = page(client, "/c/health-folk/leaderboard/?language=de")
    assert response.status_code == 200 and "could not fit them:\n" in html and "Singular." in html
    response, html = page(client, "/c/health-folk/leaderboard/?language=es")
    assert response.status_code == 404


def test_a_board_whose_newer_battles_were_refused_says_it_is_the_previous_version(client):
    community = CommunityFactory(name="Health folk", slug="health-folk")
    snapshot_make(community=community, category="language", value="fr", style_control=True)
    refused_by_the_engine(community, category="language", value="fr", style_control=True, reason="Too odd.")
    response, html = page(client, "/c/health-folk/leaderboard/?language=fr&style=on")
    assert response.status_code == 200
    assert (
        "could not fit this leaderboard's newer battles:\n" in html and "Too odd. This is the previous version" in html
    )
    assert "atlas-7b-chat" in html


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?topic=Health&language=fr", 400, "Choose a topic or a language, not both."),
        ("?style=maybe", 400, "style is on or off."),
        ("?language=French!", 400, "A language is a code such as en, fr or pt-BR."),
        ("?topic=" + "x" * 41, 400, "A topic is a name of 1 to 40 characters."),
        ("?topic=Astrology", 404, None),
        ("?language=de", 404, None),
    ],
)
def test_bad_category_parameters_are_refused(client, query, status, message):
    CommunityFactory(slug="health-folk", topics=["Health"])
    for base in ("/c/health-folk/leaderboard/", "/leaderboards/"):
        response, html = page(client, base + query)
        assert response.status_code == status, base + query
        if message:
            assert message in html


def test_an_unknown_community_is_a_404(client):
    assert client.get("/c/nowhere/leaderboard/").status_code == 404
    assert client.get("/c/nowhere/leaderboard/method/").status_code == 404


def test_the_method_page_states_the_rules_and_every_model_variant(client):
    community = CommunityFactory(slug="health-folk", name="Health folk")
    retired = ModelEndpointFactory(community=community, name="old-model v1", is_active=False, system_prompt="Be kind.")
    current = ModelEndpointFactory(community=community, name="new-model v2")
    battle_make(community=community, model_a=retired, model_b=current)
    battle_make(community=community, model_a=current, model_b=retired, is_blind=False)
    snapshot_make(community=community)

    response, html = page(client, "/c/health-folk/leaderboard/method/")
    assert response.status_code == 200
    assert "The vote was blind" in html
    assert "uniformly at random" in html
    assert "100 bootstrap" in html and "seed 0" in html
    assert "fewer than 20 counted battles is provisional" in html
    assert "arena_ratings --battles battles.jsonl --bootstrap 100 --seed 0 --min-battles 20 --json" in html
    variants = re.findall(r"<tr>\s*<td>([^<]+)</td>.*?</tr>", html, re.S)
    assert variants == ["new-model v2", "old-model v1"] or variants == ["old-model v1", "new-model v2"]
    assert "inactive</span>" in html and "Be kind." in html
    assert re.search(r'old-model v1</td>.*?<td class="number">2</td>\s*<td class="number">1</td>', html, re.S)


def test_the_overall_method_page_lists_models_of_every_community(client):
    battle_make(model_a=ModelEndpointFactory(name="here"), model_b=ModelEndpointFactory(name="there"))
    snapshot_make()
    response, html = page(client, "/leaderboards/method/")
    assert response.status_code == 200
    assert "Battles of every community together." in html
    assert "<td>here</td>" in html and "<td>there</td>" in html


@pytest.mark.parametrize(
    ("role", "on_community", "status"),
    [
        (None, False, 403),
        (None, True, 403),
        ("volunteer", True, 403),
        ("researcher", True, 403),
        ("moderator", False, 403),
        ("moderator", True, 302),
        ("admin", False, 302),
        ("admin", True, 302),
    ],
)
def test_recompute_now_is_for_admins_and_community_moderators(
    client, django_capture_on_commit_callbacks, role, on_community, status
):
    community = CommunityFactory(slug="health-folk")
    if role:
        client.force_login(UserFactory(role=role))
    data = {"community": "health-folk"} if on_community else {}
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/leaderboards/refresh/", data)
    assert response.status_code == status
    if status == 403:
        assert not LeaderboardRefresh.objects.exists()
        assert callbacks == []
    else:
        assert response["Location"] == ("/c/health-folk/leaderboard/" if on_community else "/leaderboards/")
        assert LeaderboardRefresh.objects.get().status == "queued"
        assert len(callbacks) == 1
        assert community.slug == "health-folk"


def test_recompute_now_twice_joins_the_refresh_in_flight_and_shows_its_progress(client):
    client.force_login(UserFactory(role="admin"))
    client.post("/leaderboards/refresh/")
    response = client.post("/leaderboards/refresh/", HTTP_HX_REQUEST="true")
    refresh = LeaderboardRefresh.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert f'hx-get="/leaderboards/refreshes/{refresh.pk}/"' in html and 'hx-trigger="every 1s"' in html
    assert "Queued: waiting for the worker" in html

    LeaderboardRefresh.objects.filter(pk=refresh.pk).update(status="running", progress=40, stage="Fitting x")
    _, html = page(client, f"/leaderboards/refreshes/{refresh.pk}/", HTTP_HX_REQUEST="true")
    assert 'value="40"' in html and "Running: Fitting x" in html

    LeaderboardRefresh.objects.filter(pk=refresh.pk).update(status="succeeded", scopes_computed=3, scopes_unchanged=5)
    _, html = page(client, f"/leaderboards/refreshes/{refresh.pk}/", HTTP_HX_REQUEST="true")
    assert "every 1s" not in html and "3 new snapshots, 5 unchanged" in " ".join(html.split())

    _, board = page(client, "/leaderboards/")
    assert "Recompute now" in board and "3 new snapshots" in " ".join(board.split())


def test_recompute_now_refuses_an_unknown_community_and_a_get(client):
    client.force_login(UserFactory(role="admin"))
    assert client.post("/leaderboards/refresh/", {"community": "nowhere"}).status_code == 400
    assert client.get("/leaderboards/refresh/").status_code == 405
    assert client.get("/leaderboards/refreshes/999/").status_code == 404
    assert not LeaderboardRefresh.objects.exists()


def test_the_navigation_and_the_community_page_link_to_the_leaderboards(client):
    CommunityFactory(slug="health-folk")
    _, html = page(client, "/c/health-folk/")
    assert '<a href="/leaderboards/">Leaderboards</a>' in html
    assert 'href="/c/health-folk/leaderboard/"' in html
