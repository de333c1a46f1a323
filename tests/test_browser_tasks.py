"""The task pages in a real browser: rating with the keyboard, ranking, correcting, checking claims."""

import pytest
from playwright.sync_api import expect

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import ClaimLabel, Message, Ranking, Rating, TaskAssignment
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import battle_ready, claims_proposed
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]


@pytest.fixture
def reviewer(page, platform_url):
    battle = battle_ready(text_a="The moon's gravity **pulls** the oceans.", text_b="Wind makes tides.")
    user = MembershipFactory(community=battle.community, user=UserFactory(email="rita@example.org")).user
    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", "rita@example.org")
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text("rita@example.org")
    return battle, user


def open_task(page, platform_url, kind):
    page.goto(f"{platform_url}/tasks/next/?kind={kind}")
    expect(page.locator("#task")).to_have_attribute("data-kind", kind)


def test_rating_with_the_keyboard(page, platform_url, reviewer):
    battle, user = reviewer
    open_task(page, platform_url, "rate")
    expect(page.locator("#task-answer strong")).to_have_count(1)  # Markdown rendered
    screenshot(page, "task-rate")
    page.locator("body").press("4")
    page.locator("body").press("2")
    page.locator("body").press("5")
    with page.expect_navigation():
        page.locator("body").press("Enter")
    expect(page.locator("#task")).to_have_attribute("data-kind", "rate")  # the next rating task
    first = TaskAssignment.objects.filter(volunteer=user, status="answered").get()
    ratings = dict(Rating.objects.filter(assignment=first).values_list("scale__name", "value"))
    assert ratings == {"helpfulness": 4, "correctness": 2, "harmlessness": 5}


def test_flag_and_skip_with_the_keyboard(page, platform_url, reviewer):
    battle, user = reviewer
    open_task(page, platform_url, "flag")
    page.locator("body").press("1")
    page.locator("body").press("6")
    with page.expect_navigation():
        page.locator("body").press("Enter")
    expect(page.locator("#task")).to_have_attribute("data-kind", "flag")
    with page.expect_navigation():
        page.locator("body").press("Escape")
    expect(page.get_by_role("heading", name="No tasks for you right now")).to_be_visible()
    statuses = sorted(TaskAssignment.objects.filter(volunteer=user).values_list("status", flat=True))
    assert statuses == ["answered", "skipped"]
    assert TaskAssignment.objects.get(volunteer=user, status="answered").flag_response.labels == ["fails_task", "spam"]


def test_writing_a_better_answer(page, platform_url, reviewer):
    battle, user = reviewer
    open_task(page, platform_url, "correct")
    box = page.locator("textarea[name=text]")
    box.fill("The moon's gravity pulls the oceans; the sun adds a little.")
    screenshot(page, "task-correct")
    with page.expect_navigation():
        box.press("Control+Enter")
    expect(page.locator("#task")).to_have_attribute("data-kind", "correct")
    correction = Message.objects.get(author=user, role="assistant")
    assert correction.text == "The moon's gravity pulls the oceans; the sun adds a little."
    assert correction.corrects_id in (battle.answer_a_id, battle.answer_b_id)


def test_ranking_three_answers(page, platform_url, reviewer):
    battle, user = reviewer
    writer = MembershipFactory(community=battle.community).user
    responses.correction_submit(
        volunteer=writer, assignment_id=task_next(volunteer=writer, kind="correct").pk, text="Mostly the moon."
    )
    open_task(page, platform_url, "rank")
    answers = list(battle.answer_a.parent.children.order_by("pk").values_list("pk", flat=True))
    page.select_option(f"select[name=place-{answers[0]}]", "1")
    page.select_option(f"select[name=place-{answers[1]}]", "3")
    page.select_option(f"select[name=place-{answers[2]}]", "2")
    screenshot(page, "task-rank")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="No tasks for you right now")).to_be_visible()
    assert Ranking.objects.get(volunteer=user).order == [[answers[0]], [answers[2]], [answers[1]]]


def test_checking_claims(page, platform_url, reviewer):
    battle, user = reviewer
    moon, sea = claims_proposed(answer=battle.answer_a, texts=["The moon causes tides.", "The sea is green."])
    open_task(page, platform_url, "check_claims")
    rows = page.locator("li.claim-row")
    expect(page.get_by_role("group", name="Claim 1")).to_be_visible()
    expect(page.get_by_role("group", name="Claim 2")).to_be_visible()
    expect(page.locator(".verdict-options").first).to_have_text("True False Subjective Unverifiable")
    expect(page.get_by_label("The claim (edit it if it is badly split)").first).to_have_value("The moon causes tides.")
    rows.nth(0).get_by_label("True").check()
    rows.nth(1).locator("textarea").fill("The sea is often blue.")
    rows.nth(1).get_by_label("Subjective").check()
    rows.nth(2).locator("textarea").fill("The sun also causes tides.")
    rows.nth(2).get_by_label("True").check()
    screenshot(page, "task-claims")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="No tasks for you right now")).to_be_visible()
    labels = sorted(ClaimLabel.objects.filter(volunteer=user).values_list("claim__text", "verdict"))
    assert labels == [
        ("The moon causes tides.", "true"),
        ("The sea is often blue.", "subjective"),
        ("The sun also causes tides.", "true"),
    ]
