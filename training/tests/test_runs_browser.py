"""The run page in a real browser: the owner presses Train now, watches the polled progress and the
curves, and finds the model and its card; a visitor sees the run without its log."""

import pytest
from playwright.sync_api import expect

from tests.conftest import browser, page, platform_url, screenshot  # noqa: F401 (the browser fixtures)
from training.models import Run
from training.runs.execute import run_execute
from training.tests.runs_setup import community_with_votes, release_published
from training.tests.test_runs_dead_worker import queues_purge

pytestmark = [pytest.mark.browser]


def test_the_owner_trains_now_and_watches_the_run_to_its_model(
    page,  # noqa: F811 (a fixture imported above)
    platform_url,  # noqa: F811
    tmp_path,
    settings,
    tiny_base_model,  # noqa: F811 (the fixtures imported above)
):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()
    settings.TRAINING_BASE_MODEL = tiny_base_model
    community, owner, _ = community_with_votes(votes=12)
    release = release_published(community)

    page.goto(f"{platform_url}/accounts/login/")
    page.fill("input[name=login]", owner.email)
    page.fill("input[name=password]", "a-long-test-password")
    page.get_by_role("button", name="Sign In").click()
    page.goto(f"{platform_url}/c/{community.slug}/runs/")
    page.fill("input[name=max_steps]", "3")
    page.get_by_role("button", name="Train now").click()
    expect(page.locator("#run-status")).to_have_text("Queued")
    expect(page.get_by_role("link", name=release.name)).to_be_visible()
    run = Run.objects.get()
    assert (run.created_by, run.config["training"]) == (owner, {"max_steps": 3})

    queues_purge()  # the message Train now queued: this test is the worker
    run_execute(run_id=run.pk)  # what the ml worker does; the page keeps polling meanwhile
    expect(page.locator("#run-status")).to_have_text("Succeeded")
    expect(page.locator("#run-progress progress")).to_have_attribute("value", "100")
    expect(page.locator("figure.run-chart[data-chart=Loss] canvas")).to_have_count(1)
    expect(page.locator("#run-log")).to_contain_text("Registered the model")
    page.goto(page.url)  # the whole page again: inputs, metrics and the selection report
    expect(page.locator("#selection")).to_be_visible()
    screenshot(page, "run-succeeded")

    model = run.trained_model
    page.get_by_role("link", name=model.name).first.click()
    expect(page.get_by_role("heading", name=model.name)).to_be_visible()
    expect(page.locator("#model-lineage")).to_have_text(f"{tiny_base_model.name} → {model.name}")
    expect(page.locator("#model-card")).to_contain_text("Intended use")
    screenshot(page, "model")

    page.context.clear_cookies()  # a visitor
    page.goto(f"{platform_url}/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Succeeded")
    expect(page.locator("#run-log")).to_have_count(0)
    expect(page.get_by_role("button", name="Train now")).to_have_count(0)
