"""A volunteer's first battle, in a real browser against the live platform and model server."""

import pytest
from playwright.sync_api import expect

from community.models import Community, Membership, User
from feedback.models import Battle
from inference.models import ModelEndpoint
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.model]

BUILTIN = "SmolLM2-135M-Instruct"


@pytest.fixture
def open_commons(model_server_url):
    community = Community.objects.create(name="Open Commons", slug="demo", description="General questions.")
    for name, system_prompt in [
        ("SmolLM2 · precise", "You are a helpful assistant. Answer briefly and factually."),
        ("SmolLM2 · helpful", "You are a helpful AI assistant."),
    ]:
        ModelEndpoint.objects.create(
            name=name,
            kind=ModelEndpoint.Kind.OPENAI,
            base_url=model_server_url,
            model_id=BUILTIN,
            system_prompt=system_prompt,
            temperature=0.0,
            max_tokens=24,
            community=community,
        )
    return community


def test_sign_up_join_stream_vote_and_see_the_names(page, platform_url, open_commons):
    page.goto(platform_url)
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", "ada@example.org")
    page.fill("input[name=password1]", "tide-and-moon-42")
    page.fill("input[name=password2]", "tide-and-moon-42")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.locator(".who")).to_have_text("ada@example.org")

    page.get_by_role("link", name="Open the arena").click()
    expect(page.get_by_role("heading", name="Join Open Commons")).to_be_visible()
    screenshot(page, "join")
    page.get_by_role("button", name="I accept — join Open Commons").click()
    membership = Membership.objects.get(user__email="ada@example.org", community=open_commons)
    assert (membership.licence_name, membership.licence_version) == ("CC BY 4.0", 1)
    assert membership.licence_accepted_at is not None

    expect(page.get_by_role("heading", name="Arena · Open Commons")).to_be_visible()
    screenshot(page, "arena-empty")
    vote_buttons = page.locator("#vote-bar button.vote")
    expect(vote_buttons).to_have_count(4)
    for index in range(4):
        expect(vote_buttons.nth(index)).to_be_disabled()

    page.wait_for_function("() => document.querySelector('[ws-connect]') && htmx")  # the socket script is up
    page.fill("#prompt-input", "What is the capital of France?")
    page.keyboard.press("Enter")

    # Tokens arrive while the answer is still streaming, before the vote is possible.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.bubble.answer.streaming')].some(e => e.textContent.length > 0)"
    )
    expect(page.locator("#vote-bar button.vote").first).to_be_disabled()
    expect(page.locator("#send-button")).to_be_disabled()

    a_better = page.locator("#vote-bar button.vote").first
    expect(a_better).to_be_enabled(timeout=60_000)
    expect(page.locator(".bubble.answer.streaming")).to_have_count(0)
    expect(page.locator("#name-a")).to_have_text("Model A")  # still anonymous
    screenshot(page, "arena-answered")
    answers = page.locator(".bubble.answer")
    assert "Paris" in answers.nth(0).inner_text()
    assert "Paris" in answers.nth(1).inner_text()

    a_better.click()
    expect(page.locator("#vote-bar")).to_contain_text("You voted: A is better")
    battle = Battle.objects.select_related("model_a", "model_b", "judge").get()  # exactly one
    assert (battle.judge.email, battle.winner, battle.status, battle.turn) == ("ada@example.org", "model_a", "voted", 1)
    assert battle.is_blind is True
    expect(page.locator("#name-a")).to_have_text(f"A · {battle.model_a.name}")
    expect(page.locator("#name-b")).to_have_text(f"B · {battle.model_b.name}")
    screenshot(page, "arena-voted")

    # A follow-up in the same conversation, voted with the keyboard: stored, but not blind.
    page.fill("#prompt-input", "And of Germany?")
    page.keyboard.press("Enter")
    expect(page.locator("#vote-bar button.vote").nth(1)).to_be_enabled(timeout=60_000)
    expect(page.locator("#vote-bar")).to_contain_text("This vote is not blind")
    page.locator("body").press("2")
    expect(page.locator("#vote-bar")).to_contain_text("You voted: B is better")
    expect(page.locator(".turn")).to_have_count(4)  # two turns in each pane
    screenshot(page, "arena-second-turn")
    follow_up = Battle.objects.get(turn=2)
    assert (follow_up.winner, follow_up.is_blind, follow_up.conversation_id) == (
        "model_b",
        False,
        battle.conversation_id,
    )
    assert Battle.objects.count() == 2
    assert User.objects.get(email="ada@example.org").role == "volunteer"
