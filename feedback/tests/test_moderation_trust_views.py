"""The trust pages: who may see and do what, bad input, and what they show."""

import pytest
from django.urls import reverse
from django.utils import timezone

from community.models import Membership, User
from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from feedback.models import ContributorTrust, ModerationPolicy, ModerationPolicyChange, TrustMode

pytestmark = pytest.mark.django_db

PEOPLE = ("anonymous", "volunteer", "other_moderator", "moderator", "owner", "admin")


@pytest.fixture
def community():
    return CommunityFactory(name="Tide Pools", slug="tide-pools")


@pytest.fixture
def people(community):
    other = CommunityFactory()
    return {
        "anonymous": None,
        "volunteer": MembershipFactory(community=community).user,
        "other_moderator": MembershipFactory(community=other, role=Membership.Role.MODERATOR).user,
        "moderator": MembershipFactory(community=community, role=Membership.Role.MODERATOR).user,
        "owner": MembershipFactory(community=community, role=Membership.Role.OWNER).user,
        "admin": UserFactory(role=User.Role.ADMIN),
    }


def client_for(client, person):
    if person is not None:
        client.force_login(person)
    return client


BOARD = {"anonymous": 302, "volunteer": 403, "other_moderator": 403, "moderator": 200, "owner": 200, "admin": 200}
EDIT = {"anonymous": 302, "volunteer": 403, "other_moderator": 403, "moderator": 403, "owner": 200, "admin": 200}
CHANGE = {"anonymous": 302, "volunteer": 403, "other_moderator": 403, "moderator": 403, "owner": 302, "admin": 302}


@pytest.mark.parametrize("who", PEOPLE)
def test_trollboard_permissions(client, community, people, who):
    response = client_for(client, people[who]).get(reverse("feedback:trust_board", args=[community.slug]))
    assert response.status_code == BOARD[who]
    if who == "anonymous":
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("who", PEOPLE)
def test_policy_page_is_public(client, community, people, who):
    response = client_for(client, people[who]).get(reverse("feedback:trust_policy", args=[community.slug]))
    assert response.status_code == 200
    assert (b"Change the policy" in response.content) == (who in ("owner", "admin"))


@pytest.mark.parametrize("who", PEOPLE)
def test_policy_form_permissions(client, community, people, who):
    response = client_for(client, people[who]).get(reverse("feedback:trust_policy_edit", args=[community.slug]))
    assert response.status_code == EDIT[who]


@pytest.mark.parametrize("who", PEOPLE)
def test_policy_change_permissions(client, community, people, who):
    url = reverse("feedback:trust_policy_edit", args=[community.slug])
    response = client_for(client, people[who]).post(
        url, {"trust_mode": "exclude", "reason": "Votes from trolls skew the board."}
    )
    assert response.status_code == CHANGE[who]
    changed = CHANGE[who] == 302 and who != "anonymous"
    assert ModerationPolicyChange.objects.count() == (1 if changed else 0)
    mode = ModerationPolicy.objects.filter(community=community).values_list("trust_mode", flat=True).first()
    assert mode == ("exclude" if changed else None)
    if changed:
        change = ModerationPolicyChange.objects.get()
        assert (change.actor, change.before, change.after) == (
            people[who],
            {"trust_mode": "off"},
            {"trust_mode": "exclude"},
        )
        assert change.reason == "Votes from trolls skew the board."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"trust_mode": "exclude", "reason": "  "}, "Say why the policy changes"),
        ({"trust_mode": "ban-everyone", "reason": "Because."}, "Choose the trust mode"),
        ({"pass_threshold": "1.5", "reason": "Because."}, "must be from 0 to 1"),
        ({"reviews_needed": "two", "reason": "Because."}, "must be a whole number"),
        ({"reviews_needed": "0", "reason": "Because."}, "must be from 1 to 50"),
        ({"max_outlier_score": "nan", "reason": "Because."}, "finite"),
        ({"reviews_needed": "3", "reason": "Because."}, "Nothing changed"),
        ({"pass_threshold": "0.7", "reason": "x" * 1001}, "longer than 1000"),
    ],
)
def test_bad_policy_changes_are_refused_and_change_nothing(client, community, people, data, message):
    client.force_login(people["owner"])
    response = client.post(reverse("feedback:trust_policy_edit", args=[community.slug]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ModerationPolicy.objects.exists()
    assert not ModerationPolicyChange.objects.exists()


def test_unknown_community_is_404(client, people):
    client.force_login(people["admin"])
    for name in ("trust_board", "trust_policy", "trust_policy_edit"):
        assert client.get(reverse(f"feedback:{name}", args=["no-such-place"])).status_code == 404


def trust_row(community, name, **scores):
    user = MembershipFactory(community=community, user=UserFactory(display_name=name)).user
    return ContributorTrust.objects.create(user=user, community=community, computed_at=timezone.now(), **scores)


def test_trollboard_sorts_filters_and_marks_low_trust(client, community, people, django_assert_max_num_queries):
    ModerationPolicy.objects.create(community=community, min_gold_answers=5, min_outlier_votes=10)
    trust_row(community, "Steady", gold_accuracy=0.9, gold_answers=30, consensus_agreement=0.8, consensus_items=40)
    trust_row(community, "Guesser", gold_accuracy=0.2, gold_answers=12, consensus_agreement=0.7, consensus_items=8)
    trust_row(community, "Newcomer", gold_accuracy=0.0, gold_answers=2)
    trust_row(community, "Contrarian", outlier_score=1.2, outlier_votes=25, consensus_agreement=0.6, consensus_items=3)
    client.force_login(people["moderator"])
    url = reverse("feedback:trust_board", args=[community.slug])

    def names(response):
        return [row.user.display_name for row in response.context["rows"]]

    with django_assert_max_num_queries(8):
        response = client.get(url)
    # Low trust first (Guesser by gold, Contrarian by outlier; Newcomer has too little evidence),
    # then by gold accuracy, empty last.
    assert names(response) == ["Guesser", "Contrarian", "Newcomer", "Steady"]
    assert b"low:" in response.content
    assert names(client.get(url, {"sort": "gold"})) == ["Newcomer", "Guesser", "Steady", "Contrarian"]
    assert names(client.get(url, {"sort": "consensus"})) == ["Contrarian", "Guesser", "Steady", "Newcomer"]
    assert names(client.get(url, {"sort": "outlier"}))[0] == "Contrarian"
    assert names(client.get(url, {"sort": "gold", "min_gold": "10"})) == ["Guesser", "Steady"]
    assert names(client.get(url, {"min_items": "5", "min_votes": "0"})) == ["Guesser", "Steady"]
    assert names(client.get(url, {"min_votes": "1"})) == ["Contrarian"]
    # htmx gets the board alone.
    fragment = client.get(url, {"sort": "outlier"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content and b'id="trust-board"' in fragment.content
    # Bad input: 400 with a message.
    for bad in ({"sort": "email"}, {"min_gold": "-1"}, {"min_votes": "many"}):
        response = client.get(url, bad)
        assert response.status_code == 400
        assert b'role="alert"' in response.content


def test_user_text_is_escaped_on_the_board(client, community, people):
    ModerationPolicy.objects.create(community=community)
    trust_row(community, "<script>alert(1)</script>", gold_accuracy=0.1, gold_answers=50)
    client.force_login(people["admin"])
    content = client.get(reverse("feedback:trust_board", args=[community.slug])).content
    assert b"<script>alert(1)</script>" not in content
    assert b"&lt;script&gt;" in content


def test_policy_page_publishes_the_policy_its_effect_and_its_history(client, community, people):
    ModerationPolicy.objects.create(community=community, trust_mode=TrustMode.EXCLUDE, min_gold_answers=5)
    trust_row(community, "Guesser", gold_accuracy=0.2, gold_answers=12)
    trust_row(community, "Steady", gold_accuracy=0.9, gold_answers=12)
    client.force_login(people["owner"])
    client.post(
        reverse("feedback:trust_policy_edit", args=[community.slug]),
        {"reviews_needed": "4", "pass_threshold": "0.7", "reason": "More care <b>now</b>."},
    )
    client.logout()
    response = client.get(reverse("feedback:trust_policy", args=[community.slug]))
    page = response.content.decode()
    effect = response.context["effect"]
    assert (effect["contributors_scored"], effect["contributors_low_trust"]) == (2, 1)
    assert "are <strong>excluded</strong>" in page
    assert "More care &lt;b&gt;now&lt;/b&gt;." in page
    assert "Reviews needed: 3 → <strong>4</strong>" in page
    assert "<strong>4</strong> volunteers have reviewed it" in page
    # The community page loads the summary (htmx): a fragment without the history.
    fragment = client.get(reverse("feedback:trust_policy", args=[community.slug]), headers={"HX-Request": "true"})
    assert b'id="trust-summary"' in fragment.content and b"More care" not in fragment.content
    community_page = client.get(reverse("community:detail", args=[community.slug])).content.decode()
    assert reverse("feedback:trust_policy", args=[community.slug]) in community_page
    assert reverse("feedback:trust_board", args=[community.slug]) not in community_page
    client.force_login(people["moderator"])
    community_page = client.get(reverse("community:detail", args=[community.slug])).content.decode()
    assert reverse("feedback:trust_board", args=[community.slug]) in community_page


def test_policy_changes_cannot_be_edited_in_the_admin(client, community, people):
    ModerationPolicyChange.objects.create(community=community, reason="r", before={}, after={})
    client.force_login(UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True))
    change = ModerationPolicyChange.objects.get()
    response = client.post(
        reverse("admin:feedback_moderationpolicychange_change", args=[change.pk]), {"reason": "rewritten"}
    )
    assert response.status_code == 403
    assert ModerationPolicyChange.objects.get().reason == "r"
    assert (
        client.post(
            reverse("admin:feedback_moderationpolicychange_delete", args=[change.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert ModerationPolicyChange.objects.count() == 1
