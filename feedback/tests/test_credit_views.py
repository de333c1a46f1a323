"""The credit pages and the leaderboard API, through real HTTP requests."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from community.tests.factories import UserFactory
from feedback.models import TaskKind
from feedback.tests.test_credit_selectors import Pool

pytestmark = pytest.mark.django_db

ROLES = ["volunteer", "researcher", "moderator", "admin"]
LEADERBOARD = reverse("feedback:leaderboard")
MY_CREDIT = reverse("feedback:my_credit")
VISIBILITY = reverse("feedback:leaderboard_visibility")
API = reverse("feedback:api-leaderboard")


@pytest.fixture
def pool():
    return Pool()


def login(client, role: str, **fields):
    """Log in a user of `role` ("anonymous": nobody) and return them."""
    if role == "anonymous":
        return None
    user = UserFactory(role=role, **fields)
    client.force_login(user)
    return user


def board_of(html: str) -> str:
    """The leaderboard table's section of a page (the nav shows the logged-in user's name)."""
    start = html.index('id="leaderboard-board"')
    return html[start : html.index("</section>", start)]


def contribute(pool, volunteer, *, days_ago: int, better_answers: int = 0, ratings: int = 0) -> None:
    """Contributions `days_ago` days back; the offsets used (0, 2, 10, 40) fall in the same
    periods whatever the time of day the tests run: 0 in every period, 2 in the week, 10 in the
    month, 40 only in all time."""
    at = timezone.now() - timedelta(days=days_ago)
    for _ in range(better_answers):
        pool.task(volunteer, TaskKind.CORRECT, at)
    for _ in range(ratings):
        pool.task(volunteer, TaskKind.RATE, at)


class TestLeaderboardPage:
    @pytest.mark.parametrize("role", ["anonymous", *ROLES])
    def test_everyone_sees_it(self, client, pool, role):
        contribute(pool, UserFactory(display_name="Ada"), days_ago=0, ratings=3)
        login(client, role)
        response = client.get(LEADERBOARD)
        assert response.status_code == 200
        html = response.content.decode()
        assert "<h1>Contributor leaderboard</h1>" in html
        assert "Ada" in html
        assert 'id="points"' in html  # the formula is published on the page
        assert ('href="/me/credit/"' in html) is (role != "anonymous")

    def test_the_week_is_the_default_and_each_tab_shows_its_period(self, client, pool):
        contribute(pool, UserFactory(display_name="Today"), days_ago=0, ratings=1)
        contribute(pool, UserFactory(display_name="ThisWeek"), days_ago=2, ratings=2)
        contribute(pool, UserFactory(display_name="ThisMonth"), days_ago=10, ratings=3)
        contribute(pool, UserFactory(display_name="LongAgo"), days_ago=40, ratings=4)
        shown = {
            None: ["ThisWeek", "Today"],
            "day": ["Today"],
            "week": ["ThisWeek", "Today"],
            "month": ["ThisMonth", "ThisWeek", "Today"],
            "all": ["LongAgo", "ThisMonth", "ThisWeek", "Today"],
        }
        for period, names in shown.items():
            html = client.get(LEADERBOARD, {"period": period} if period else {}).content.decode()
            board = board_of(html)
            present = [name for name in ("LongAgo", "ThisMonth", "ThisWeek", "Today") if f"{name}\n" in board]
            assert present == sorted(names), period
            positions = [board.index(f"{name}\n") for name in names]
            assert positions == sorted(positions)  # best first
        html = client.get(LEADERBOARD).content.decode()
        assert 'class="tab active"\n           href="/leaderboard/?period=week"' in html

    def test_htmx_gets_only_the_board(self, client, pool):
        contribute(pool, UserFactory(display_name="Grace"), days_ago=0, better_answers=1)
        response = client.get(LEADERBOARD, {"period": "day"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<section id="leaderboard-board"')
        assert "<html" not in html and "How points work" not in html
        assert "Grace" in html and ">5</td>" in html
        assert "HX-Request" in response["Vary"]
        assert "HX-Request" in client.get(LEADERBOARD)["Vary"]

    def test_a_history_restore_gets_the_whole_page(self, client):
        response = client.get(LEADERBOARD, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
        assert "<html" in response.content.decode()

    @pytest.mark.parametrize("htmx", [False, True])
    def test_an_unknown_period_is_a_400_with_a_message(self, client, htmx):
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = client.get(LEADERBOARD, {"period": "year"}, **headers)
        assert response.status_code == 400
        html = response.content.decode()
        assert "Unknown period &#x27;year&#x27;; choose one of day, week, month, all." in html
        assert ("<html" in html) is not htmx

    def test_opted_out_inactive_and_pointless_people_are_not_listed(self, client, pool):
        contribute(pool, UserFactory(display_name="Shown"), days_ago=0, ratings=1)
        contribute(pool, UserFactory(display_name="Hidden", is_on_leaderboards=False), days_ago=0, ratings=1)
        contribute(pool, UserFactory(display_name="Gone", is_active=False), days_ago=0, ratings=1)
        UserFactory(display_name="Idle")
        html = client.get(LEADERBOARD, {"period": "all"}).content.decode()
        assert "Shown" in html
        assert "Hidden" not in html and "Gone" not in html and "Idle" not in html

    def test_names_are_escaped_and_emails_never_shown(self, client, pool):
        contribute(pool, UserFactory(display_name="<b>Bold</b>"), days_ago=0, ratings=1)
        no_name = UserFactory(email="secret.person@example.org")
        contribute(pool, no_name, days_ago=0, ratings=1)
        html = client.get(LEADERBOARD, {"period": "all"}).content.decode()
        assert "&lt;b&gt;Bold&lt;/b&gt;" in html and "<b>Bold</b>" not in html
        assert f"Volunteer #{no_name.pk}" in html
        assert "secret.person" not in html

    def test_the_viewer_is_marked(self, client, pool):
        viewer = login(client, "volunteer", display_name="Me")
        contribute(pool, viewer, days_ago=0, ratings=1)
        html = client.get(LEADERBOARD).content.decode()
        assert '<tr class="is-viewer">' in html and '<span class="you-tag">you</span>' in html

    def test_query_count_does_not_grow_with_volunteers(self, client, pool, django_assert_num_queries):
        def queries_for_page():
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as captured:
                assert client.get(LEADERBOARD, {"period": "all"}).status_code == 200
            return len(captured)

        contribute(pool, UserFactory(), days_ago=0, ratings=1)
        few = queries_for_page()
        for volunteer in UserFactory.create_batch(60):
            contribute(pool, volunteer, days_ago=1, ratings=2)
        assert queries_for_page() == few == 3


class TestMyCreditPage:
    def test_anonymous_is_sent_to_log_in(self, client):
        response = client.get(MY_CREDIT)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={MY_CREDIT}"

    @pytest.mark.parametrize("role", ROLES)
    def test_every_role_sees_their_own_credit(self, client, pool, role):
        me = login(client, role)
        other = UserFactory()
        contribute(pool, me, days_ago=0, better_answers=10, ratings=2)  # 52 today
        contribute(pool, me, days_ago=1, ratings=1)  # a 2-day streak
        contribute(pool, other, days_ago=0, better_answers=100)
        response = client.get(MY_CREDIT)
        assert response.status_code == 200
        html = response.content.decode()
        assert '<p class="stat-value" id="points-total">53</p>' in html
        assert 'Level <span class="level-name">Contributor</span>' in html
        assert "147 points to Regular" in html
        # 3 of the 150 points from Contributor to Regular
        assert re.search(r'<progress class="progress"\s+max="100"\s+value="2"\s+aria-label="Progress to Regular"', html)
        assert "2 <small>days</small>" in html
        assert '<tr data-kind="better_answer">' in html
        assert '<td class="number">10</td>' in html and '<td class="number">50</td>' in html
        assert "Hide me from leaderboards" in html

    def test_someone_without_contributions(self, client):
        login(client, "volunteer")
        html = client.get(MY_CREDIT).content.decode()
        assert 'id="points-total">0</p>' in html
        assert "50 points to Contributor" in html
        assert "0 <small>days</small>" in html

    def test_a_hidden_volunteer_keeps_their_page(self, client, pool):
        me = login(client, "volunteer", is_on_leaderboards=False, display_name="Quiet")
        contribute(pool, me, days_ago=0, ratings=4)
        html = client.get(MY_CREDIT).content.decode()
        assert 'id="points-total">4</p>' in html
        assert "Show me on leaderboards" in html
        assert "Quiet" not in board_of(client.get(LEADERBOARD, {"period": "all"}).content.decode())

    def test_query_count(self, client, pool, django_assert_max_num_queries):
        me = login(client, "volunteer")
        for days_ago in range(15):
            contribute(pool, me, days_ago=days_ago, ratings=2, better_answers=1)
        with django_assert_max_num_queries(4):  # session, user, credit, messages' session read at most
            client.get(MY_CREDIT)


class TestVisibility:
    @pytest.mark.parametrize("role", ["anonymous", *ROLES])
    def test_permission_matrix(self, client, role):
        user = login(client, role)
        response = client.post(VISIBILITY, {"is_on_leaderboards": "false"})
        if user is None:
            assert response.status_code == 302
            assert response["Location"].startswith("/accounts/login/")
        else:
            assert response.status_code == 302
            assert response["Location"] == MY_CREDIT
            user.refresh_from_db()
            assert user.is_on_leaderboards is False

    def test_opt_out_and_back_in(self, client, pool):
        me = login(client, "volunteer", display_name="Toggler")
        contribute(pool, me, days_ago=0, ratings=1)
        client.post(VISIBILITY, {"is_on_leaderboards": "false"})
        page = client.get(MY_CREDIT).content.decode()
        assert "You are hidden from leaderboards." in page  # the flash message
        assert 'id="points-total">1</p>' in page
        assert "Toggler" not in board_of(client.get(LEADERBOARD).content.decode())
        client.post(VISIBILITY, {"is_on_leaderboards": "true"})
        assert "Toggler" in board_of(client.get(LEADERBOARD).content.decode())

    def test_htmx_swaps_the_form(self, client):
        me = login(client, "volunteer")
        response = client.post(VISIBILITY, {"is_on_leaderboards": "false"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<section id="leaderboard-visibility"')
        assert '<p class="notice" role="status">Saved.</p>' in html
        assert "You are <strong>hidden</strong> from the contributor leaderboards." in html
        assert "Show me on leaderboards" in html
        assert "HX-Request" in response["Vary"]
        me.refresh_from_db()
        assert me.is_on_leaderboards is False

    @pytest.mark.parametrize("htmx", [False, True])
    @pytest.mark.parametrize("data", [{"is_on_leaderboards": "maybe"}, {"is_on_leaderboards": ""}, {}])
    def test_a_bad_value_is_a_400_and_changes_nothing(self, client, htmx, data):
        me = login(client, "volunteer")
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = client.post(VISIBILITY, data, **headers)
        assert response.status_code == 400
        html = response.content.decode()
        assert "Choose &quot;true&quot; to be shown on leaderboards or &quot;false&quot; to be hidden." in html
        assert ("<html" in html) is not htmx
        me.refresh_from_db()
        assert me.is_on_leaderboards is True

    def test_get_is_not_allowed(self, client):
        login(client, "volunteer")
        assert client.get(VISIBILITY).status_code == 405

    def test_csrf_is_checked(self, pool):
        from django.test import Client

        csrf_client = Client(enforce_csrf_checks=True)
        me = UserFactory()
        csrf_client.force_login(me)
        assert csrf_client.post(VISIBILITY, {"is_on_leaderboards": "false"}).status_code == 403
        me.refresh_from_db()
        assert me.is_on_leaderboards is True


class TestLeaderboardApi:
    @pytest.mark.parametrize("role", ["anonymous", *ROLES])
    def test_public(self, client, pool, role):
        hidden = UserFactory(is_on_leaderboards=False)
        ada = UserFactory(display_name="Ada")
        contribute(pool, ada, days_ago=0, better_answers=1, ratings=1)
        contribute(pool, hidden, days_ago=0, ratings=9)
        contribute(pool, UserFactory(display_name="Old"), days_ago=40, ratings=9)
        login(client, role)
        response = client.get(API, {"period": "week"})
        assert response.status_code == 200
        assert response.json() == {
            "period": "week",
            "entries": [{"rank": 1, "name": "Ada", "points": 6, "level": None}],
        }

    def test_all_time_has_levels_and_week_is_the_default(self, client, pool):
        contribute(pool, UserFactory(display_name="Old"), days_ago=40, better_answers=10)
        assert client.get(API).json() == {"period": "week", "entries": []}
        assert client.get(API, {"period": "all"}).json()["entries"] == [
            {"rank": 1, "name": "Old", "points": 50, "level": "Contributor"}
        ]

    def test_an_unknown_period_is_a_400(self, client):
        response = client.get(API, {"period": "year"})
        assert response.status_code == 400
        assert response.json() == {
            "detail": "The request is not valid.",
            "errors": {"period": ['Unknown period "year"; choose one of day, week, month, all.']},
        }

    def test_query_count(self, client, pool, django_assert_num_queries):
        for volunteer in UserFactory.create_batch(12):
            contribute(pool, volunteer, days_ago=0, ratings=1)
        with django_assert_num_queries(3):
            assert len(client.get(API, {"period": "day"}).json()["entries"]) == 12
