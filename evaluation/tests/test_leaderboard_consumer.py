"""Live updates: a page of a scope gets the new board when a snapshot of that scope is stored."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from community.tests.factories import CommunityFactory
from config.asgi import application
from evaluation.models import LeaderboardSnapshot
from evaluation.tests.factories import THREE_MODELS, board_data, snapshot_make

pytestmark = [pytest.mark.django_db(transaction=True)]


def socket(query: str = "") -> WebsocketCommunicator:
    path = "/ws/leaderboards/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])


async def test_a_new_snapshot_reaches_the_pages_of_its_scope_only():
    community = await sync_to_async(CommunityFactory)(slug="health-folk")
    overall = socket()
    topic = socket("community=health-folk&topic=Health")
    other = socket("community=health-folk&language=fr")
    for each in (overall, topic, other):
        connected, _ = await each.connect()
        assert connected  # anonymous visitors too

    await sync_to_async(snapshot_make)(community=community, category="topic", value="Health")
    fragment = await topic.receive_from(timeout=5)
    assert fragment.startswith('<div id="leaderboard-board" hx-swap-oob="outerHTML">')
    assert "<strong>Topic: Health</strong>" in fragment
    assert "atlas-7b-chat" in fragment and "version 1 of" in fragment
    assert await overall.receive_nothing(timeout=0.3)
    assert await other.receive_nothing(timeout=0.1)

    await sync_to_async(snapshot_make)(ratings=THREE_MODELS[:2])
    fragment = await overall.receive_from(timeout=5)
    assert "<strong>All battles</strong>" in fragment and "cirrus-1b" not in fragment
    assert await topic.receive_nothing(timeout=0.2)
    for each in (overall, topic, other):
        await each.disconnect()


async def test_without_a_shared_channel_layer_the_page_finds_new_snapshots_itself(settings):
    """A snapshot written by a worker in another process never reaches this process's groups:
    the consumer checks the database itself (here every 0.2 s)."""
    settings.LEADERBOARD_LIVE_POLL_SECONDS = 0.2
    page = socket("style=on")
    assert (await page.connect())[0]
    snapshot = await LeaderboardSnapshot.objects.acreate(
        style_control=True,
        version=1,
        battles_counted=7,
        inputs_digest="a" * 64,
        data=board_data(THREE_MODELS, style={"length": 0.2}),
        parameters={"rounds": 100, "seed": 0, "anchor": None, "min_battles": 20},
    )
    fragment = await page.receive_from(timeout=5)
    assert "7 battles counted" in fragment and "style control on" in fragment
    assert f"/api/v1/leaderboards/snapshots/{snapshot.pk}/" in fragment
    assert await page.receive_nothing(timeout=0.5)  # once per snapshot
    await page.disconnect()
    await asyncio.sleep(0)


async def test_a_snapshot_published_while_the_page_loaded_is_sent_when_the_socket_opens():
    old = await sync_to_async(snapshot_make)(digest="1" * 64)
    new = await sync_to_async(snapshot_make)(digest="2" * 64, battles_counted=999)
    behind = socket(f"shown={old.pk}")
    assert (await behind.connect())[0]
    fragment = await behind.receive_from(timeout=5)
    assert "version 2 of" in fragment and "999 battles counted" in fragment
    up_to_date = socket(f"shown={new.pk}")
    assert (await up_to_date.connect())[0]
    assert await up_to_date.receive_nothing(timeout=0.3)
    for each in (behind, up_to_date):
        await each.disconnect()


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("community=nowhere", 4404),
        ("shown=x1", 4400),
        ("shown=99999999999999999999999", 4400),
        ("style=maybe", 4400),
        ("topic=Health&language=fr", 4400),
        ("language=%3Cscript%3E", 4400),
    ],
)
async def test_a_bad_scope_is_refused(query, code):
    page = socket(query)
    connected, close_code = await page.connect()
    assert (connected, close_code) == (False, code)


async def test_what_the_page_sends_is_ignored():
    page = socket()
    assert (await page.connect())[0]
    await page.send_to(text_data="anything")
    assert await page.receive_nothing(timeout=0.2)
    await page.disconnect()
