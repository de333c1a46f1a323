"""A battle waiting for a vote survives a reload, and My data leads back to it (real browser)."""

import pytest
from playwright.sync_api import expect

from feedback.models import Battle
from feedback.tests.factories import battle_ready
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]


def test_reload_keeps_the_unvoted_battle_and_my_data_leads_back(page, platform_url):
    battle = battle_ready(text_a="The **moon** pulls the sea.", text_b="Wind makes waves, not tides.")
    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", battle.judge.email)
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text(battle.judge.email)

    page.goto(f"{platform_url}/c/{battle.community.slug}/arena/")
    expect(page.locator("#thread-a .bubble.answer")).to_have_text("The moon pulls the sea.")
    expect(page.locator("#thread-b .bubble.answer")).to_have_text("Wind makes waves, not tides.")
    expect(page.locator("#thread-a .bubble.prompt")).to_have_text("Tell me about tides.")
    votes = page.locator("#vote-bar button.vote")
    expect(votes).to_have_count(4)
    for index in range(4):
        expect(votes.nth(index)).to_be_enabled()
    screenshot(page, "arena-reloaded")

    page.get_by_role("link", name="New battle").click()
    expect(page.locator("#vote-bar")).to_contain_text("Write a prompt to start a battle.")

    page.goto(f"{platform_url}/me/data/")
    page.get_by_role("link", name="Vote in the arena").click()
    expect(page.locator("#thread-b .bubble.answer")).to_have_text("Wind makes waves, not tides.")
    page.wait_for_function("() => window.htmx")
    page.locator("body").press("2")  # B is better
    expect(page.locator("#vote-bar")).to_contain_text("You voted: B is better")
    expect(page.locator("#name-b")).to_have_text(f"B · {battle.model_b.name}")
    assert Battle.objects.get(pk=battle.pk).winner == "model_b"
