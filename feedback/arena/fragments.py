"""HTML fragments the arena's websocket sends; htmx swaps each into the page by its id."""

import uuid

from django.template.loader import render_to_string
from django.utils.html import escape

from feedback.arena.streaming import ArenaEvent, SideFailed, SideFinished, TokenReceived, TurnFinished
from feedback.models import Battle
from feedback.rendering import markdown_to_safe_html

TEMPLATE = "feedback/arena.html"


def partial(name: str, **context) -> str:
    return render_to_string(f"{TEMPLATE}#{name}", context)


def notice(message: str) -> str:
    return partial("notice", message=message)


def turn_started(*, battle: Battle, prompt: str) -> str:
    return partial(
        "turn_started",
        battle=battle,
        prompt_html=markdown_to_safe_html(prompt),
        is_new_conversation=battle.turn == 1,
        winners=Battle.Winner.choices,
    )


def event_html(*, battle: Battle, prompt: str, event: ArenaEvent) -> str:
    if isinstance(event, TokenReceived):
        # The hot path: one small fragment a token, escaped, appended to the answer.
        return f'<div id="answer-{event.side}-{battle.pk}" hx-swap-oob="beforeend">{escape(event.text)}</div>'
    if isinstance(event, SideFinished):
        answer_id = battle.answer_a_id if event.side == "a" else battle.answer_b_id
        return partial(
            "answer_done", side=event.side, battle=battle, html=markdown_to_safe_html(event.text), answer_id=answer_id
        )
    if isinstance(event, SideFailed):
        return partial("answer_failed", side=event.side, battle=battle, message=event.message)
    if isinstance(event, TurnFinished):
        finished = event.battle
        return partial(
            "turn_finished",
            battle=finished,
            failures=sorted(event.errors.items()),
            prompt=prompt,
            idempotency_key=uuid.uuid4(),
            winners=Battle.Winner.choices,
            # A retry of a first turn draws a new pair; a later turn continues the conversation.
            retry_conversation=finished.conversation_id if finished.turn > 1 else "",
        )
    raise TypeError(f"Unknown arena event {event!r}")
