"""The arena's websocket: authenticate, start a turn, forward its events as HTML fragments."""

import asyncio
import json

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.http import Http404

from community.errors import RequestRejected
from community.models import Community
from community.websocket import GuardedWebsocketConsumer
from feedback.arena import fragments
from feedback.arena.services import battle_start
from feedback.arena.streaming import battle_turn_stream
from feedback.models import Battle
from feedback.moderation.ratelimits import rate_limit
from inference.client import shared_client


class ArenaConsumer(GuardedWebsocketConsumer):
    community: Community
    turn: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        community = await Community.objects.filter(slug=self.scope["url_route"]["kwargs"]["slug"]).afirst()
        if community is None:
            await self.close(code=4404)
            return
        self.community = community
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.turn is not None:
            self.turn.cancel()
            await asyncio.gather(self.turn, return_exceptions=True)

    async def frame_rejected(self, message: str) -> None:
        await self.send(text_data=fragments.notice(message))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = json.loads(text_data or "")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            await self.send(text_data=fragments.notice("The message could not be read. Reload the page."))
            return
        if self.turn is not None and not self.turn.done():
            await self.send(text_data=fragments.notice("The answers to your last prompt are still coming in."))
            return
        try:
            await sync_to_async(rate_limit)(self.scope, "submissions")
            battle = await database_sync_to_async(battle_start)(
                judge=self.scope["user"],
                community=self.community,
                prompt_text=data.get("prompt"),
                conversation_id=data.get("conversation"),
                topic=data.get("topic", ""),
            )
        except RequestRejected as rejected:
            await self.send(text_data=fragments.notice(rejected.message))
            return
        except Http404:
            await self.send(text_data=fragments.notice("That conversation is not yours. Start a new battle."))
            return
        prompt = data["prompt"].strip()
        await self.send(text_data=fragments.turn_started(battle=battle, prompt=prompt))
        self.turn = asyncio.create_task(self.forward(battle, prompt))

    async def forward(self, battle: Battle, prompt: str) -> None:
        async for event in battle_turn_stream(battle=battle, client=shared_client()):
            await self.send(text_data=fragments.event_html(battle=battle, prompt=prompt, event=event))
