"""Researcher access in a real browser: a volunteer applies from the menu, an admin approves it
in the console, the volunteer sees the answer and reads the live pool."""

import pytest
from playwright.sync_api import expect

from community.models import AccessAuditEntry, User
from community.tests.factories import UserFactory
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]


def log_in(page, platform_url, email):
    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".account-menu summary")).to_have_text(email)


def test_a_volunteer_applies_and_an_admin_approves(page, platform_url):
    volunteer = UserFactory(email="ada@example.org")
    admin = UserFactory(email="root@example.org", role="admin")

    log_in(page, platform_url, volunteer.email)
    page.locator(".account-menu summary").click()
    page.get_by_role("link", name="Researcher access").click()
    page.fill("textarea[name=purpose]", "Measure how often volunteers prefer the longer answer.")
    page.fill("input[name=affiliation]", "University of Tides")
    page.get_by_label("I agree to the researcher data terms.").check()
    screenshot(page, "researcher-access-form")
    page.get_by_role("button", name="Apply for researcher access").click()
    expect(page.locator("#researcher-access-status")).to_contain_text("is waiting for an admin")
    page.context.clear_cookies()

    log_in(page, platform_url, admin.email)
    page.locator(".account-menu summary").click()
    page.get_by_role("link", name="Researcher applications").click()
    card = page.locator(".appeal-card").first
    expect(card).to_contain_text("University of Tides")
    card.locator("textarea[name=reason]").fill("A clear purpose.")
    screenshot(page, "researcher-access-review")
    card.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.success")).to_contain_text("Approved: ada@example.org was told by e-mail.")
    expect(page.locator("#access-audit")).to_contain_text("volunteer → researcher")
    page.context.clear_cookies()

    log_in(page, platform_url, volunteer.email)
    page.goto(f"{platform_url}/researcher-access/")
    expect(page.locator("#researcher-access-status")).to_contain_text("You have researcher access")
    expect(page.locator("#researcher-applications")).to_contain_text("A clear purpose.")
    screenshot(page, "researcher-access-approved")

    assert User.objects.get(pk=volunteer.pk).role == "researcher"
    assert AccessAuditEntry.objects.get().action == "researcher_approve"
