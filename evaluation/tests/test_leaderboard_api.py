"""The leaderboards as JSON: public reads, exact shapes, clear refusals."""

import pytest

from community.tests.factories import CommunityFactory, UserFactory
from evaluation.tests.factories import THREE_MODELS, snapshot_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def boards():
    community = CommunityFactory(slug="health-folk")
    snapshot_make(digest="1" * 64)
    overall = snapshot_make(digest="2" * 64)
    mine = snapshot_make(community=community)
    topic = snapshot_make(community=community, category="topic", value="Health")
    styled = snapshot_make(community=community, style_control=True, style={"length": 0.3})
    return {"overall": overall, "mine": mine, "topic": topic, "styled": styled, "community": community}


def test_the_list_has_the_latest_snapshot_of_every_scope(client, boards, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):  # throttling, then two queries however many scopes
        response = client.get("/api/v1/leaderboards/")
    assert response.status_code == 200
    listed = {(s["community"], s["category"], s["category_value"], s["style_control"]): s for s in response.json()}
    assert set(listed) == {
        (None, "overall", "", False),
        ("health-folk", "overall", "", False),
        ("health-folk", "topic", "Health", False),
        ("health-folk", "overall", "", True),
    }
    overall = listed[(None, "overall", "", False)]
    assert overall == {
        "id": boards["overall"].pk,
        "community": None,
        "category": "overall",
        "category_value": "",
        "style_control": False,
        "version": 2,
        "battles_counted": 160,
        "models_count": 3,
        "code_version": "abc1234",
        "created_at": overall["created_at"],
        "url": f"/api/v1/leaderboards/snapshots/{boards['overall'].pk}/",
        "page_url": "/leaderboards/",
    }
    assert listed[("health-folk", "topic", "Health", False)]["page_url"] == "/c/health-folk/leaderboard/?topic=Health"


def test_the_list_of_one_community(client, boards):
    response = client.get("/api/v1/leaderboards/?community=health-folk")
    assert sorted(s["id"] for s in response.json()) == sorted(
        [boards["mine"].pk, boards["topic"].pk, boards["styled"].pk]
    )
    refused = client.get("/api/v1/leaderboards/?community=nowhere")
    assert refused.status_code == 404
    assert refused.json() == {"detail": "There is no community 'nowhere'."}


def test_a_snapshot_with_its_data(client, boards):
    response = client.get(f"/api/v1/leaderboards/snapshots/{boards['styled'].pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1 and body["style_control"] is True
    assert body["filters"]["community"] == "health-folk"
    assert body["parameters"] == {"rounds": 100, "seed": 0, "anchor": None, "min_battles": 20}
    assert body["inputs_digest"] == "d" * 64
    data = body["data"]
    assert data["models"] == [m[0] for m in THREE_MODELS]
    assert data["ratings"][0] == {
        "model": "atlas-7b-chat",
        "rating": 1080.4,
        "lower": 1051.0,
        "upper": 1110.2,
        "rank": 1,
        "battles": 120,
        "provisional": False,
    }
    assert data["win_rate"][0][0] is None and len(data["predicted"]) == 3
    assert data["style_coefficients"] == {"length": 0.3}


def test_the_latest_snapshot_of_a_scope(client, boards):
    assert client.get("/api/v1/leaderboards/latest/").json()["id"] == boards["overall"].pk
    mine = client.get("/api/v1/leaderboards/latest/?community=health-folk&topic=Health")
    assert mine.json()["id"] == boards["topic"].pk
    styled = client.get("/api/v1/leaderboards/latest/?community=health-folk&style=on")
    assert styled.json()["id"] == boards["styled"].pk
    missing = client.get("/api/v1/leaderboards/latest/?community=health-folk&language=fr")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "This leaderboard has no snapshot yet."}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/leaderboards/snapshots/999999/", 404),
        ("/api/v1/leaderboards/snapshots/99999999999999999999999/", 404),
        ("/api/v1/leaderboards/latest/?style=yes", 400),
        ("/api/v1/leaderboards/latest/?topic=Health&language=fr", 404),
        ("/api/v1/leaderboards/latest/?language=%3Cb%3E", 400),
        ("/api/v1/leaderboards/latest/?community=nowhere", 404),
    ],
)
def test_unknown_or_malformed_requests_get_a_clear_4xx(client, boards, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.json()["detail"]


def test_signed_in_users_read_the_same(client, boards):
    client.force_login(UserFactory(role="volunteer"))
    assert client.get(f"/api/v1/leaderboards/snapshots/{boards['overall'].pk}/").status_code == 200
    assert client.post("/api/v1/leaderboards/").status_code == 405
