"""A moderator sorts the trollboard; a visitor reads the published policy (real browser)."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from community.models import Membership
from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from feedback.models import ContributorTrust, ModerationPolicy, ModerationPolicyChange, TrustMode
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]


def scored(community, name, **scores):
    user = MembershipFactory(community=community, user=UserFactory(display_name=name)).user
    ContributorTrust.objects.create(user=user, community=community, computed_at=timezone.now(), **scores)


def test_a_moderator_sorts_the_trollboard_and_a_visitor_reads_the_policy(page, platform_url):
    community = CommunityFactory(name="Tide Pools", slug="tide-pools")
    ModerationPolicy.objects.create(
        community=community, trust_mode=TrustMode.EXCLUDE, min_gold_answers=5, min_outlier_votes=10
    )
    scored(community, "Steady Sam", gold_accuracy=0.92, gold_answers=30, consensus_agreement=0.81, consensus_items=40,
           outlier_score=-0.05, outlier_votes=60)  # fmt: skip
    scored(community, "Guessing Gus", gold_accuracy=0.2, gold_answers=12, consensus_agreement=0.7, consensus_items=8)
    scored(community, "Contrary Cleo", outlier_score=1.21, outlier_votes=25, consensus_agreement=0.6,
           consensus_items=3)  # fmt: skip
    ModerationPolicyChange.objects.create(
        community=community,
        reason="Votes from a handful of accounts contradicted everyone else.",
        before={"trust_mode": "off"},
        after={"trust_mode": "exclude"},
    )
    moderator = MembershipFactory(community=community, role=Membership.Role.MODERATOR).user

    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", moderator.email)
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text(moderator.email)
    page.goto(f"{platform_url}/c/tide-pools/")
    page.get_by_role("link", name="Contributor trust (moderators)").click()
    rows = page.locator("#trust-board tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Guessing Gus")
    expect(rows.first).to_contain_text("low:")
    screenshot(page, "trust-board")

    page.get_by_role("link", name="Highest outlier score").click()
    expect(rows.first).to_contain_text("Contrary Cleo")
    expect(page).to_have_url(f"{platform_url}/c/tide-pools/moderation/trust/?sort=outlier")
    page.get_by_label("Gold items at least").fill("10")
    page.get_by_label("Gold items at least").press("Enter")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Steady Sam")
    screenshot(page, "trust-board-sorted")

    page.context.clear_cookies()
    page.goto(f"{platform_url}/c/tide-pools/")
    summary = page.locator("#trust-summary")
    expect(summary).to_contain_text("are excluded")
    expect(summary).to_contain_text("2 of 3 scored contributors below the bar")
    page.get_by_role("link", name="The whole policy and its history").click()
    expect(page.get_by_role("heading", name="Quality and trust policy of Tide Pools")).to_be_visible()
    expect(page.get_by_text("contradicted everyone else")).to_be_visible()
    expect(page.get_by_role("link", name="Change the policy")).to_have_count(0)
    screenshot(page, "trust-policy")
