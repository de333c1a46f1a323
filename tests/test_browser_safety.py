"""Model output is inert in the browser: no script runs, no handler fires, no javascript: link."""

import pytest
from playwright.sync_api import expect

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import Battle
from feedback.tests.factories import ModelEndpointFactory
from inference.tests.fake_endpoints import HOSTILE_ANSWER

pytestmark = [pytest.mark.browser]


def test_a_hostile_answer_is_shown_as_text_and_does_nothing(page, platform_url, fake_endpoints_url):
    membership = MembershipFactory(user=UserFactory(email="eve@example.org"))
    for _ in range(2):
        ModelEndpointFactory(community=membership.community, base_url=f"{fake_endpoints_url}/hostile/v1")
    page.on("dialog", lambda dialog: pytest.fail(f"A dialog opened: {dialog.message}"))

    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", "eve@example.org")
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    page.goto(f"{platform_url}/c/{membership.community.slug}/arena/")
    page.wait_for_function("() => document.querySelector('[ws-connect]') && htmx")
    page.fill("#prompt-input", "Show me some HTML")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("button", name="A is better")).to_be_enabled()

    answers = page.locator(".bubble.answer")
    expect(answers).to_have_count(2)
    assert "<script>window.pwned = 'script'</script>" in answers.nth(0).inner_text()  # shown, as text
    assert (
        page.evaluate("() => document.querySelectorAll('.bubble script, .bubble [onerror], .bubble iframe').length")
        == 0
    )
    assert (
        page.evaluate(
            "() => [...document.querySelectorAll('.bubble a')].filter(a => a.href.startsWith('javascript')).length"
        )
        == 0
    )
    link = answers.nth(0).get_by_text("click me")
    if link.count():
        link.first.click()
    assert page.evaluate("() => window.pwned") is None
    battle = Battle.objects.get()
    assert battle.answer_a.text == HOSTILE_ANSWER
