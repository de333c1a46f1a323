"""A moderator works the queue in a real browser: open it, open an item, hide it with a reason."""

import pytest
from playwright.sync_api import expect

from feedback.models import AuditEntry, Message
from feedback.moderation.services import report_create
from feedback.tests.moderation_setup import moderator_of, reporter_who_saw, world_create
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]


def test_a_moderator_hides_a_reported_answer(page, platform_url):
    world = world_create()
    answer, other = world.battle.answer_a, world.battle.answer_b
    report_create(
        reporter=world.judge, target_kind="message", target_id=answer.pk, reason="spam", comment="Sells watches."
    )
    report_create(
        reporter=reporter_who_saw(answer), target_kind="message", target_id=answer.pk, reason="personal_information"
    )
    report_create(reporter=world.judge, target_kind="message", target_id=other.pk, reason="wrong")
    moderator = moderator_of(world.community, email="mona@example.org")

    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", moderator.email)
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("link", name="Moderation").click()

    rows = page.locator(".queue-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Call me on 555-0101")  # personal information: high, first
    expect(rows.first.locator(".severity-chip")).to_have_text("High")
    screenshot(page, "moderation-queue")

    rows.first.get_by_role("link", name="Open").click()
    expect(page.locator("#case-text")).to_contain_text("Call me on 555-0101")
    expect(page.locator("#case-reports")).to_contain_text("Sells watches.")
    screenshot(page, "moderation-case")

    form = page.locator("#decide-form")
    form.locator("textarea[name=reason]").fill("Advertising with a phone number.")
    form.get_by_role("button", name="Hide").click()

    expect(page.locator(".flash.success")).to_contain_text("Hidden")
    expect(page.locator(".queue-row")).to_have_count(1)
    expect(page.locator("#queue-count")).to_contain_text("1 item")
    screenshot(page, "moderation-queue-after")
    answer.refresh_from_db()
    assert (answer.moderation_status, answer.moderation_reason) == ("hidden", "Advertising with a phone number.")
    assert AuditEntry.objects.get().action == "hide"
    assert Message.objects.get(pk=other.pk).moderation_status == "visible"
