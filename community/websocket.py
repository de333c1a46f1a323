"""The websocket edge: every consumer of the platform derives from `GuardedWebsocketConsumer`.

Frames are checked before the consumer reads them, as HTTP bodies are by
`community.middleware` (`community/input_limits.py`): a frame holding a NUL character or JSON
nested deeper than the limit gets an error frame back and is dropped, and the socket stays
open. A handshake whose path or query string holds a NUL is refused with close code 4400.
When Redis is unreachable, a frame whose handling needs it (a rate limit) gets an error frame
saying the service is degraded and the socket stays open; when the channel layer itself fails
(its receive loop, joining a group) the socket is closed with 1013 (try again later). Neither
drops the socket without a close frame.
"""

import json
import logging
from contextlib import suppress
from urllib.parse import unquote

from channels.generic.websocket import AsyncWebsocketConsumer

from community.degraded import DEGRADED_MESSAGE, SERVICE_ERRORS
from community.input_limits import json_problem

logger = logging.getLogger(__name__)

CLOSE_BAD_REQUEST = 4400
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455: the server is overloaded or a service it needs is down


class GuardedWebsocketConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        """The consumer's whole life; a Redis failure outside a frame (the channel layer's receive
        loop, joining a group) closes the socket with 1013 instead of dropping it."""
        try:
            await super().__call__(scope, receive, send)
        except SERVICE_ERRORS as error:
            logger.error("Websocket %s closed, service degraded: %r", scope.get("path"), error, exc_info=True)
            with suppress(*SERVICE_ERRORS):
                await self.disconnect(CLOSE_TRY_AGAIN_LATER)
            with suppress(Exception):  # best effort: the client may be gone already
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def websocket_connect(self, message: dict) -> None:
        query = self.scope.get("query_string", b"").decode("latin-1")
        if "\x00" in self.scope.get("path", "") or "\x00" in unquote(query):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        await super().websocket_connect(message)

    async def websocket_receive(self, message: dict) -> None:
        text = message.get("text")
        raw = text.encode("utf-8", "surrogatepass") if text is not None else message.get("bytes") or b""
        problem = json_problem(raw)
        if problem is not None:
            await self.frame_rejected(problem)
            return
        try:
            await super().websocket_receive(message)
        except SERVICE_ERRORS:
            await self.frame_rejected(DEGRADED_MESSAGE)

    async def frame_rejected(self, message: str) -> None:
        """Tell the page why its frame was dropped; consumers answer in their own frame format."""
        await self.send(text_data=json.dumps({"error": message}))
