"""The public arena leaderboard in a real browser: switch category and style with htmx, and see a
new snapshot arrive over the websocket without reloading."""

import pytest
from playwright.sync_api import expect

from community.tests.factories import CommunityFactory
from evaluation.leaderboards.scopes import Scope
from evaluation.leaderboards.services import snapshot_filters
from evaluation.models import LeaderboardSnapshot
from evaluation.tests.factories import board_data
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]

LEAGUE = [
    ("atlas-70b-instruct", 1121.3, 1098.0, 1144.9, 1, 1480),
    ("borealis-34b-chat", 1087.6, 1066.1, 1110.2, 2, 1312),
    ("cirrus-13b · precise", 1042.0, 1019.5, 1063.3, 3, 1220),
    ("cirrus-13b · lively", 1031.8, 1008.8, 1056.0, 3, 1198),
    ("delta-7b-chat", 978.4, 955.2, 1001.0, 5, 1104),
    ("ember-3b", 921.5, 897.7, 944.4, 6, 1012),
    ("fjord-1b-preview", 905.0, 842.0, 969.0, None, 38),
    ("glacier-1b", 862.4, 836.9, 889.3, 7, 946),
]


def reordered(*names):
    """The league's figures, best first, given to these models in this order."""
    by_name = {row[0]: row for row in LEAGUE}
    return [(name, *LEAGUE[index][1:5], by_name[name][5]) for index, name in enumerate(names)]


def league_data(ratings, **extra):
    data = board_data(ratings, **extra)
    size = len(ratings)
    # Observed win rates scatter around the predictions; a few pairs never met.
    for i in range(size):
        for j in range(size):
            if i != j and data["win_rate"][i][j] is not None:
                data["win_rate"][i][j] = round(
                    min(1.0, max(0.0, data["win_rate"][i][j] + 0.04 * ((i * 7 + j) % 3 - 1))), 4
                )
    data["battles"] = [[0 if i == j else 20 + (i * 37 + j * 53) % 180 for j in range(size)] for i in range(size)]
    if size > 6:
        data["win_rate"][0][6] = data["win_rate"][6][0] = None
        data["battles"][0][6] = data["battles"][6][0] = 0
    return data


def published(community, *, category="overall", value="", style_control=False, ratings=LEAGUE, version=1, style=None):
    """A snapshot as the refresh job (a worker process) stores it: this test's thread runs
    Playwright's event loop, so the service's broadcast is left to the page's own check."""
    return LeaderboardSnapshot.objects.create(
        community=community,
        category=category,
        category_value=value,
        style_control=style_control,
        version=version,
        battles_counted=sum(r[5] for r in ratings) // 2,
        models_count=len(ratings),
        inputs_digest=f"{version:064d}",
        filters=snapshot_filters(Scope(community, category, value, style_control)),
        parameters={"rounds": 100, "seed": 0, "anchor": None, "min_battles": 50},
        code_version="be5c25e",
        data=league_data(ratings, style=style),
    )


def test_a_visitor_reads_a_leaderboard_and_switches_category(page, platform_url, settings):
    settings.LEADERBOARD_LIVE_POLL_SECONDS = 0.5
    community = CommunityFactory(name="Open Commons", slug="demo", topics=["Health", "Cooking"])
    published(community)
    style = {"length": 0.412, "headers": 0.051, "list_items": 0.12, "bold": -0.02}
    names = [row[0] for row in LEAGUE]
    published(community, style_control=True, ratings=reordered(names[1], names[0], *names[2:]), style=style)
    health = reordered(names[2], names[0], names[1], *names[3:6])
    published(community, category="topic", value="Health", ratings=health)
    published(community, category="language", value="fr", ratings=LEAGUE[:4])

    page.goto(platform_url)
    page.get_by_role("link", name="Leaderboards", exact=True).click()
    expect(page.get_by_role("heading", name="All communities")).to_be_visible()
    expect(page.get_by_text("No leaderboard here yet")).to_be_visible()
    screenshot(page, "leaderboard-empty")
    page.get_by_role("link", name="Open Commons").click()

    expect(page.get_by_role("heading", name="Open Commons", exact=True)).to_be_visible()
    rows = page.locator("table.board-table tbody tr")
    expect(rows).to_have_count(len(LEAGUE))
    expect(rows.first).to_contain_text("atlas-70b-instruct")
    expect(page.locator("tr.provisional")).to_contain_text("provisional")
    expect(page.locator("svg.interval-svg circle.ci-point")).to_have_count(len(LEAGUE))
    expect(page.locator("table.heat-map")).to_have_count(3)
    screenshot(page, "leaderboard")

    page.get_by_role("link", name="Topic: Health").click()
    expect(page).to_have_url(f"{platform_url}/c/demo/leaderboard/?topic=Health")
    expect(page.locator(".snapshot-meta")).to_contain_text("Topic: Health")
    expect(rows.first).to_contain_text("cirrus-13b · precise")
    expect(page.get_by_role("link", name="Topic: Health")).to_have_attribute("aria-current", "page")
    screenshot(page, "leaderboard-topic")

    page.get_by_role("link", name="All battles").click()
    # Wait for the swap: the style switch of the topic's content links to ?topic=Health&style=on.
    expect(page).to_have_url(f"{platform_url}/c/demo/leaderboard/")
    expect(page.get_by_role("link", name="All battles")).to_have_attribute("aria-current", "page")
    page.get_by_role("navigation", name="Style control").get_by_role("link", name="On").click()
    expect(page).to_have_url(f"{platform_url}/c/demo/leaderboard/?style=on")
    expect(page.get_by_role("heading", name="Style coefficients")).to_be_visible()
    expect(rows.first).to_contain_text("borealis-34b-chat")

    # A worker (another process, as in the embedded default) publishes a new snapshot of this
    # scope: the page's websocket finds it and the board updates in place.
    expect(page.locator("#leaderboard-live[ws-connect]")).to_have_count(1)
    update = reordered(names[3], names[0], names[1], names[2])
    published(community, style_control=True, version=2, ratings=update, style={"length": 0.5})
    expect(page.locator(".snapshot-meta")).to_contain_text("version 2 of")
    expect(rows.first).to_contain_text("cirrus-13b · lively")
    expect(page).to_have_url(f"{platform_url}/c/demo/leaderboard/?style=on")

    page.get_by_role("link", name="How this leaderboard is counted").click()
    expect(page.get_by_role("heading", name="Every model variant ever tested here")).to_be_visible()
    screenshot(page, "leaderboard-method")
