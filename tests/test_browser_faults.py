"""A model that is down: its pane says so, the battle does not count, and "Try again" works."""

import pytest
from playwright.sync_api import expect

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import Battle
from feedback.tests.factories import ModelEndpointFactory
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]


def test_a_down_model_shows_its_error_and_a_retry_succeeds_once_it_is_back(
    page, platform_url, fake_endpoints_url, closed_port_url
):
    membership = MembershipFactory(user=UserFactory(email="sam@example.org"))
    community = membership.community
    ModelEndpointFactory(community=community, base_url=f"{fake_endpoints_url}/ok/v1")
    down = ModelEndpointFactory(community=community, base_url=closed_port_url)

    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", "sam@example.org")
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    page.goto(f"{platform_url}/c/{community.slug}/arena/")
    page.wait_for_function("() => document.querySelector('[ws-connect]') && htmx")
    page.fill("#prompt-input", "Are you there?")
    page.keyboard.press("Enter")

    failed = page.locator(".bubble.answer.failed")
    expect(failed).to_contain_text("failed.")
    expect(failed).to_contain_text("did not answer")
    expect(page.locator("#vote-bar")).to_contain_text("cannot be voted on and will not count")
    expect(page.locator("#vote-bar button.vote")).to_have_count(0)
    expect(failed.get_by_role("button", name="Try again")).to_be_visible()
    screenshot(page, "arena-model-down")
    battle = Battle.objects.get()
    assert battle.status == Battle.Status.ERRORED

    down.base_url = f"{fake_endpoints_url}/ok/v1"  # the model server is back
    down.save()
    failed.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("button", name="A is better")).to_be_enabled()
    expect(page.locator(".bubble.answer.failed")).to_have_count(0)
    expect(page.locator(".bubble.answer").first).to_have_text("Hello world")
    assert Battle.objects.filter(status=Battle.Status.READY).count() == 1
    assert Battle.objects.count() == 2
