"""Stream one arena turn: both models answer at once, token by token.

`battle_turn_stream` asks both endpoints concurrently and yields events in the order they
happen; the consumer renders each event for the browser. Answers are stored when they are
complete; a side that fails (down, too slow, garbage) marks the battle errored.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from asgiref.sync import sync_to_async

from feedback.arena import services
from feedback.arena.selectors import message_history
from feedback.models import Battle, Message
from inference.client import EndpointBadResponse, EndpointError, chat_stream
from inference.models import ModelEndpoint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenReceived:
    side: str
    text: str


@dataclass(frozen=True)
class SideFinished:
    side: str
    text: str


@dataclass(frozen=True)
class SideFailed:
    side: str
    message: str


@dataclass(frozen=True)
class TurnFinished:
    battle: Battle
    errors: dict[str, str]  # side -> what went wrong (for volunteers), for the sides that failed


ArenaEvent = TokenReceived | SideFinished | SideFailed | TurnFinished


def chat_messages_for(*, answer: Message, endpoint: ModelEndpoint) -> list[dict[str, str]]:
    """The OpenAI-style message list one side sees: its system prompt and its own branch."""
    history = message_history(message=answer)[:-1]  # everything before the (empty) answer
    messages = [{"role": "system", "content": endpoint.system_prompt}] if endpoint.system_prompt else []
    messages += [{"role": m.role, "content": m.text} for m in history]
    return messages


def turn_requests(*, battle: Battle) -> dict[str, list[dict[str, str]]]:
    """Both sides' message lists, built in one go (one trip to the database thread)."""
    return {
        "a": chat_messages_for(answer=battle.answer_a, endpoint=battle.model_a),
        "b": chat_messages_for(answer=battle.answer_b, endpoint=battle.model_b),
    }


async def battle_turn_stream(*, battle: Battle, client: httpx.AsyncClient | None = None) -> AsyncIterator[ArenaEvent]:
    """Run both sides of `battle` and yield what happens. Cancelling the iteration (the
    volunteer left) stops both requests and marks the battle errored."""
    events: asyncio.Queue[ArenaEvent] = asyncio.Queue()
    endpoints = {"a": battle.model_a, "b": battle.model_b}
    requests = await sync_to_async(turn_requests)(battle=battle)
    errors: dict[str, str] = {}
    shown_errors: dict[str, str] = {}

    async def run_side(side: str) -> None:
        try:
            await stream_side(side)
        except EndpointError as error:
            errors[side] = str(error)  # kept on the battle for admins, with the server's address
            shown_errors[side] = error.for_volunteers()
            await events.put(SideFailed(side, shown_errors[side]))
        except Exception:
            logger.exception("Arena side %s of battle %s failed", side, battle.pk)
            errors[side] = shown_errors[side] = "Something went wrong on our side while asking this model."
            await events.put(SideFailed(side, errors[side]))

    async def stream_side(side: str) -> None:
        endpoint = endpoints[side]
        parts: list[str] = []
        async for token in chat_stream(
            base_url=endpoint.url,
            model=endpoint.model_id,
            messages=requests[side],
            temperature=endpoint.temperature,
            top_p=endpoint.top_p,
            max_tokens=endpoint.max_tokens,
            timeout=endpoint.timeout,
            api_key=endpoint.api_key,
            client=client,
        ):
            parts.append(token)
            await events.put(TokenReceived(side, token))
        text = "".join(parts)
        if not text.strip():
            raise EndpointBadResponse("The model sent an empty answer.")
        await sync_to_async(services.battle_answer_record)(battle=battle, side=side, text=text)
        await events.put(SideFinished(side, text))

    tasks = [asyncio.create_task(run_side(side)) for side in endpoints]
    try:
        finished = 0
        while finished < len(tasks):
            event = await events.get()
            if isinstance(event, SideFinished | SideFailed):
                finished += 1
            yield event
    except (asyncio.CancelledError, GeneratorExit):
        for task in tasks:
            task.cancel()
        errors.setdefault("a", "The volunteer left before the answers were complete.")
        await asyncio.shield(sync_to_async(services.battle_complete)(battle=battle, errors=errors))
        raise
    for task in tasks:
        await task  # re-raise anything unexpected
    battle = await sync_to_async(services.battle_complete)(battle=battle, errors=errors)
    yield TurnFinished(battle, shown_errors)
