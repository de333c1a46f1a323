import pytest
from django.urls import reverse

from community.models import Membership, User
from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["volunteer", "researcher", "moderator", "admin"]


@pytest.fixture
def community():
    return CommunityFactory(name="Tide Watchers", slug="tides")


def client_for(client, role):
    if role != "anonymous":
        client.force_login(UserFactory(role=role))
    return client


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_public_pages_are_open_to_everyone(client, community, role):
    client = client_for(client, role)
    home = client.get("/")
    assert home.status_code == 200
    assert "Tide Watchers" in home.content.decode()
    page = client.get(reverse("community:detail", args=["tides"]))
    assert page.status_code == 200
    assert "CC BY 4.0" in page.content.decode()
    assert client.get(reverse("community:detail", args=["nope"])).status_code == 404
    api = client.get("/api/v1/communities/")
    assert api.status_code == 200
    assert api.json() == [
        {
            "slug": "tides",
            "name": "Tide Watchers",
            "description": "People who care about good answers.",
            "language": "en",
            "licence_name": "CC BY 4.0",
            "licence_url": "https://creativecommons.org/licenses/by/4.0/",
            "licence_version": 1,
        }
    ]


def test_join_needs_login_and_writes_nothing_for_anonymous(client, community):
    url = reverse("community:join", args=["tides"])
    assert client.get(url).status_code == 302
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Membership.objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_joining_records_the_licence_version_and_time(client, community, role):
    client = client_for(client, role)
    url = reverse("community:join", args=["tides"])
    page = client.get(url)
    assert page.status_code == 200
    assert "I accept" in page.content.decode()
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("feedback:arena", args=["tides"])
    membership = Membership.objects.get()
    assert (membership.licence_name, membership.licence_version) == ("CC BY 4.0", 1)
    assert membership.licence_accepted_at is not None
    assert membership.has_current_licence


def test_join_follows_only_local_next_urls(client, community):
    client.force_login(UserFactory())
    url = reverse("community:join", args=["tides"])
    assert client.post(url, {"next": "/c/tides/"})["Location"] == "/c/tides/"
    assert client.post(url, {"next": "https://evil.example/"})["Location"] == reverse("feedback:arena", args=["tides"])


def test_a_changed_licence_must_be_accepted_again(client, community):
    membership = MembershipFactory(community=community)
    community.licence_version = 2
    community.save()
    client.force_login(membership.user)
    page = client.get(reverse("community:join", args=["tides"]))
    assert "terms of this community changed" in page.content.decode()
    client.post(reverse("community:join", args=["tides"]))
    membership.refresh_from_db()
    assert membership.licence_version == 2
    assert Membership.objects.count() == 1


def test_sign_up_log_out_and_log_in_with_email_and_password(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "ada@example.org", "password1": "tide-and-moon-42", "password2": "tide-and-moon-42"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="ada@example.org")
    assert user.role == User.Role.VOLUNTEER
    assert client.get("/").context["user"] == user
    client.post("/accounts/logout/")
    assert not client.get("/").context["user"].is_authenticated
    response = client.post("/accounts/login/", {"login": "ada@example.org", "password": "tide-and-moon-42"})
    assert response.status_code == 302
    assert client.get("/").context["user"] == user


def test_sign_up_with_a_bad_email_writes_nothing(client):
    response = client.post("/accounts/signup/", {"email": "not-an-email", "password1": "x", "password2": "y"})
    assert response.status_code == 200
    assert User.objects.count() == 0


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("volunteer", 302), ("admin", 200)])
def test_admin_console_is_for_staff_only(client, role, status):
    if role == "admin":
        client.force_login(User.objects.create_superuser(email="root@example.org", password="x-long-password"))
    else:
        client = client_for(client, role)
    assert client.get("/admin/").status_code == status


def test_community_list_takes_one_query_however_many_communities(client, django_assert_num_queries):
    CommunityFactory.create_batch(5)
    with django_assert_num_queries(1):
        response = client.get("/api/v1/communities/")
    assert len(response.json()) == 5


def test_every_page_title_is_plain_text(client, community):
    """The <title> of a page holds its name, never markup (a template once put a card there)."""
    import re

    client.force_login(UserFactory(role="admin"))
    for url in ["/", reverse("community:detail", args=["tides"]), "/leaderboards/", "/releases/", "/moderation/"]:
        html = client.get(url).content.decode()
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert "<" not in title and title.strip(), (url, title)
    assert "<title>Tide Watchers · Feedback Commons</title>" in client.get(
        reverse("community:detail", args=["tides"])
    ).content.decode().replace("\n", "")
