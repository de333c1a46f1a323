"""The public release pages in a real browser, without logging in."""

import pytest
from playwright.sync_api import expect

from feedback.models import Release
from feedback.releases.services import release_build, release_publish
from feedback.tests.test_releases import pool_with_everything
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser]


def test_a_visitor_finds_a_release_its_root_and_its_files(page, platform_url, tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    battle = pool_with_everything()
    release = release_build(release_id=Release.objects.create(community=battle.community, version=1).pk)
    release_publish(actor=None, release_id=release.pk)

    page.goto(platform_url)
    page.get_by_role("link", name="Data").click()
    page.get_by_role("link", name=release.name).click()
    expect(page.get_by_role("heading", name=release.name)).to_be_visible()
    expect(page.locator("code.hash").first).to_have_text(release.merkle_root)
    expect(page.locator("figure.chart")).to_have_count(3)
    expect(page.locator("meter.bar").first).to_be_visible()
    screenshot(page, "release")
    with page.expect_download() as download:
        page.get_by_role("link", name="battles.jsonl").click()
    path = download.value.path()
    assert open(path, encoding="utf-8").read().count("\n") == 1
