"""The leaderboard pages' websocket: read the scope from the query string, join its group,
forward new boards. Public: no login needed, nothing is received from the page.

With the in-memory channel layer (the embedded default, no Redis) the Celery worker that
stores a snapshot cannot reach the web process's groups, so the consumer also checks the
database for a newer snapshot every LEADERBOARD_LIVE_POLL_SECONDS (15 s by default without
Redis, off with it).
"""

import asyncio
from urllib.parse import parse_qsl

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import Http404

from community.errors import RequestRejected
from community.models import Community
from community.websocket import GuardedWebsocketConsumer
from evaluation.leaderboards.live import board_fragment
from evaluation.leaderboards.scopes import Scope
from evaluation.leaderboards.selectors import scope_parse, snapshot_latest


class LeaderboardConsumer(GuardedWebsocketConsumer):
    board: Scope
    latest_id: int | None = None
    poller: asyncio.Task | None = None

    async def connect(self) -> None:
        params = dict(parse_qsl(self.scope.get("query_string", b"").decode("utf-8", "replace")))
        slug = params.pop("community", None)
        shown = params.pop("shown", None)
        if shown is not None and not (shown.isascii() and shown.isdigit() and len(shown) < 19):
            await self.close(code=4400)
            return
        community = None
        if slug is not None:
            community = await Community.objects.filter(slug=slug).afirst()
            if community is None:
                await self.close(code=4404)
                return
        try:
            self.board = scope_parse(community=community, params=params)
        except (RequestRejected, Http404):
            await self.close(code=4400)
            return
        await self.channel_layer.group_add(self.board.group_name, self.channel_name)
        await self.accept()
        self.latest_id = int(shown) if shown is not None else None
        await self.check()
        if settings.LEADERBOARD_LIVE_POLL_SECONDS > 0:
            self.poller = asyncio.create_task(self.poll(settings.LEADERBOARD_LIVE_POLL_SECONDS))

    async def disconnect(self, code: int) -> None:
        if self.poller is not None:
            self.poller.cancel()
            await asyncio.gather(self.poller, return_exceptions=True)
        if hasattr(self, "board"):
            await self.channel_layer.group_discard(self.board.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing; anything it sends is ignored."""

    async def snapshot_published(self, event: dict) -> None:
        if self.latest_id is not None and event["snapshot_id"] <= self.latest_id:
            return
        self.latest_id = event["snapshot_id"]
        await self.send(text_data=event["html"])

    def _latest_id(self) -> int | None:
        snapshot = snapshot_latest(self.board)
        return snapshot.pk if snapshot else None

    async def check(self) -> None:
        """Send the board if the scope has a newer snapshot than the page shows."""
        latest = await database_sync_to_async(self._latest_id)()
        if latest is not None and latest != self.latest_id:
            html = await database_sync_to_async(board_fragment)(snapshot_id=latest)
            await self.snapshot_published({"snapshot_id": latest, "html": html})

    async def poll(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.check()
