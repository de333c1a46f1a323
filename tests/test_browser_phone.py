"""The platform on a phone (390 x 844, touch): the menu, the arena, a task, and pages that never scroll sideways."""

import pytest
from playwright.sync_api import expect

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import Battle, Rating, TaskAssignment
from feedback.tests.factories import ModelEndpointFactory, battle_ready
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]

WIDTH = 390


@pytest.fixture
def phone(browser):
    """A page in a phone-sized, touch-screen browser: it honours the viewport meta tag as phones do."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not displayed"
    return found


def page_width(page) -> int:
    """How wide the page's content is: more than the screen means the page scrolls sideways."""
    return page.evaluate("() => document.scrollingElement.scrollWidth")


def log_in(phone, platform_url, email):
    phone.goto(f"{platform_url}/accounts/login/")
    phone.fill("input[name=login]", email)
    phone.fill("input[name=password]", "a-long-test-password")
    phone.get_by_role("button", name="Sign In").tap()
    expect(phone.locator(".who")).to_have_text(email)


def test_the_arena_on_a_phone(phone, platform_url, fake_endpoints_url):
    membership = MembershipFactory(user=UserFactory(email="pia@example.org"))
    community = membership.community
    community.topics = ["Science", "Cooking"]  # the topic menu shares the row with Send
    community.save(update_fields=["topics"])
    for _ in range(2):
        ModelEndpointFactory(community=community, base_url=f"{fake_endpoints_url}/ok/v1")
    log_in(phone, platform_url, "pia@example.org")

    # The site's links sit behind the Menu button, and open as a list that fits the screen.
    navigation = phone.locator("#site-nav")
    expect(navigation).to_be_hidden()
    phone.get_by_role("button", name="Menu").tap()
    expect(navigation).to_be_visible()
    expect(phone.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
    menu = box(navigation)
    assert menu["x"] >= 0 and menu["x"] + menu["width"] <= WIDTH
    screenshot(phone, "phone-menu")

    phone.goto(f"{platform_url}/c/{community.slug}/arena/")
    phone.wait_for_function("() => document.querySelector('[ws-connect]') && htmx")
    prompt = phone.locator("#prompt-input")
    assert box(prompt)["width"] > 250  # a box to write in, not a column of single letters
    prompt.fill("What makes the tides?")
    phone.get_by_role("button", name="Send").tap()
    a_better = phone.get_by_role("button", name="A is better")
    expect(a_better).to_be_enabled()

    answers = phone.locator(".bubble.answer")
    expect(answers).to_have_count(2)
    answer_a, answer_b = box(answers.nth(0)), box(answers.nth(1))
    assert answer_b["y"] >= answer_a["y"] + answer_a["height"]  # B under A, not beside it
    assert answer_a["width"] > 250 and answer_b["width"] > 250
    vote_bar = box(phone.locator("#vote-bar"))
    assert vote_bar["x"] >= 0 and vote_bar["x"] + vote_bar["width"] <= WIDTH
    for index in range(4):
        button = box(phone.locator("#vote-bar button.vote").nth(index))
        assert button["x"] >= 0 and button["x"] + button["width"] <= WIDTH
        assert button["height"] >= 40  # big enough to tap
    expect(phone.locator("#vote-bar kbd").first).to_be_hidden()  # no keyboard hints on a touch screen
    assert page_width(phone) <= WIDTH
    screenshot(phone, "phone-arena-answered")

    a_better.tap()
    expect(phone.locator("#vote-bar")).to_contain_text("You voted: A is better")
    assert Battle.objects.get().winner == "model_a"
    assert page_width(phone) <= WIDTH


def test_rating_an_answer_on_a_phone(phone, platform_url):
    battle = battle_ready(text_a="The moon's gravity **pulls** the oceans.", text_b="Wind makes tides.")
    user = MembershipFactory(community=battle.community, user=UserFactory(email="rio@example.org")).user
    log_in(phone, platform_url, "rio@example.org")
    phone.goto(f"{platform_url}/tasks/next/?kind=rate")
    expect(phone.locator("#task")).to_have_attribute("data-kind", "rate")

    assert box(phone.locator("#task-answer"))["width"] > 300
    scales = phone.locator("fieldset.scale")
    expect(scales).to_have_count(3)
    for index in range(3):
        options = [box(option) for option in scales.nth(index).locator(".scale-option span").all()]
        assert len(options) == 5
        assert {option["y"] for option in options} == {options[0]["y"]}  # 1 to 5 in one row
        assert all(option["width"] >= 44 and option["height"] >= 44 for option in options)  # fingertip-sized
        assert options[0]["x"] >= 0 and options[-1]["x"] + options[-1]["width"] <= WIDTH
    assert page_width(phone) <= WIDTH
    screenshot(phone, "phone-task-rate")

    for index, value in enumerate(["4", "2", "5"]):
        scales.nth(index).locator(".scale-option span", has_text=value).tap()
    with phone.expect_navigation():
        phone.get_by_role("button", name="Send").tap()
    answered = TaskAssignment.objects.get(volunteer=user, status="answered")
    ratings = dict(Rating.objects.filter(assignment=answered).values_list("scale__name", "value"))
    assert ratings == {"helpfulness": 4, "correctness": 2, "harmlessness": 5}


def test_pages_fit_the_screen(phone, platform_url):
    battle = battle_ready()
    MembershipFactory(community=battle.community, user=UserFactory(email="ida@example.org"))
    log_in(phone, platform_url, "ida@example.org")
    slug = battle.community.slug
    for path in [
        "/",
        f"/c/{slug}/",
        "/tasks/",
        "/tasks/next/?kind=flag",
        "/me/data/",
        "/me/credit/",
        "/me/tokens/",
        "/leaderboard/",
        "/leaderboards/",
        "/releases/",
        "/donate/",
    ]:
        phone.goto(f"{platform_url}{path}")
        assert (path, page_width(phone)) == (path, WIDTH)
