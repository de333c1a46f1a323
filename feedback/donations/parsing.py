"""Conversations people donate from other chat tools: a ChatGPT data export
(`conversations.json`) or ShareGPT JSON, turned into user and assistant turns.

Pure Python, no Django. `donation_parse` either returns conversations or raises
`DonationRejected`, whose message can be shown to the person as it is; no other exception
escapes it, whatever the bytes.
"""

import codecs
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

NEITHER_FORMAT = "This file is neither a ChatGPT export (conversations.json) nor ShareGPT JSON."
NOTHING_USABLE = "No conversation in this file has both a message from you and an answer from the assistant."
NO_CONVERSATIONS = "The file holds no conversations."
EMPTY_FILE = "The file is empty."

# ShareGPT's "from" values; anything else (tool, function, observation ...) is left out.
_SHAREGPT_ROLES: dict[str, Literal["user", "assistant"] | None] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "system": None,
}
# ChatGPT content types whose string parts are conversation text ("multimodal_text" is a
# message with images; its image pointers are left out). Code, tool output, browsing results,
# custom instructions ("user_editable_context") and the like are not.
_CHATGPT_TEXT_CONTENT_TYPES = {"text", "multimodal_text"}
_TITLE_LENGTH = 80


@dataclass
class DonatedTurn:
    role: Literal["user", "assistant"]
    text: str


@dataclass
class DonatedConversation:
    title: str
    source: Literal["chatgpt", "sharegpt"]
    turns: list[DonatedTurn]
    created_at: datetime | None


class DonationRejected(ValueError):
    """The file can't be taken; the message says why, in words meant for the person who sent it."""


def donation_parse(raw: bytes, *, max_bytes: int) -> list[DonatedConversation]:
    """The conversations in a donated file, in the file's order.

    Accepts a ChatGPT export (a list of conversations with a `mapping` tree) or ShareGPT JSON
    (a list of objects with `conversations`), or a single conversation object of either
    format. Conversations without at least one user turn and one assistant turn are dropped.

    Raises `DonationRejected` when the file is over `max_bytes`, is not UTF-8, is not JSON,
    is neither format, or has no usable conversation.
    """
    if len(raw) > max_bytes:
        raise DonationRejected(f"The file is {len(raw):,} bytes, over the limit of {max_bytes:,} bytes.")
    skipped = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0  # editors on Windows add it
    try:
        text = raw[skipped:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skipped + error.start
        raise DonationRejected(f"The file is not UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset:,}).") from None
    if not text.strip():
        raise DonationRejected(EMPTY_FILE)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DonationRejected(
            f"The file is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except RecursionError:
        raise DonationRejected("The file is not valid JSON: it is nested too deeply.") from None

    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DonationRejected(NEITHER_FORMAT)
    if not items:
        raise DonationRejected(NO_CONVERSATIONS)
    if all(_is_chatgpt(item) for item in items):
        conversations = [_chatgpt_conversation(item, number) for number, item in enumerate(items, start=1)]
    elif all(_is_sharegpt(item) for item in items):
        conversations = [_sharegpt_conversation(item, number) for number, item in enumerate(items, start=1)]
    else:
        raise DonationRejected(NEITHER_FORMAT)

    usable = [conversation for conversation in conversations if _has_both_roles(conversation)]
    if not usable:
        raise DonationRejected(NOTHING_USABLE)
    return usable


def _is_chatgpt(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("mapping"), dict)


def _is_sharegpt(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("conversations"), list)


def _has_both_roles(conversation: DonatedConversation) -> bool:
    roles = {turn.role for turn in conversation.turns}
    return roles == {"user", "assistant"}


def _malformed(number: int, problem: str) -> DonationRejected:
    return DonationRejected(f"Conversation {number} in the file is damaged: {problem}.")


# --- ChatGPT export --------------------------------------------------------------------------


def _chatgpt_conversation(item: dict, number: int) -> DonatedConversation:
    """One conversation of a ChatGPT export.

    The export stores every version of the conversation as a tree (`mapping`: node id ->
    {message, parent, children}); regenerated answers and edited prompts are siblings. The
    branch the person saw last ends at `current_node`: follow `parent` from there to the root
    and reverse. (Old exports without `current_node` get the branch that takes the last child
    at every step, the most recent one.) Of that branch, keep messages from the user and the
    assistant whose content type is text, their string parts joined by newlines, stripped;
    empty ones, system and tool messages and image pointers are left out.
    """
    mapping = item["mapping"]
    path = _chatgpt_branch(mapping, item.get("current_node"), number)
    turns: list[DonatedTurn] = []
    for node_id in path:
        node = mapping[node_id]
        message = node.get("message") if isinstance(node, dict) else None
        turn = _chatgpt_turn(message, number)
        if turn is not None:
            turns.append(turn)
    title = item.get("title")
    return DonatedConversation(
        title=title.strip() if isinstance(title, str) and title.strip() else _title_from_turns(turns),
        source="chatgpt",
        turns=turns,
        created_at=_timestamp(item.get("create_time"), number),
    )


def _chatgpt_branch(mapping: dict, current_node: Any, number: int) -> list[str]:
    """The node ids from the root to `current_node` (or to the most recent leaf)."""
    if current_node is None:
        current_node = _chatgpt_latest_leaf(mapping, number)
    if not isinstance(current_node, str) or current_node not in mapping:
        raise _malformed(number, "its current_node is not in its mapping")
    path: list[str] = []
    seen: set[str] = set()
    node_id: Any = current_node
    while node_id is not None:
        if not isinstance(node_id, str) or node_id not in mapping:
            raise _malformed(number, f"a parent ({str(node_id)[:40]}) is not in its mapping")
        if node_id in seen:
            raise _malformed(number, "its messages form a loop")
        seen.add(node_id)
        path.append(node_id)
        node = mapping[node_id]
        node_id = node.get("parent") if isinstance(node, dict) else None
    path.reverse()
    return path


def _chatgpt_latest_leaf(mapping: dict, number: int) -> str:
    roots = [node_id for node_id, node in mapping.items() if not isinstance(node, dict) or node.get("parent") is None]
    if not roots:
        raise _malformed(number, "its messages have no first message")
    node_id = roots[0]
    seen: set[str] = set()
    while True:
        if node_id in seen:
            raise _malformed(number, "its messages form a loop")
        seen.add(node_id)
        node = mapping.get(node_id)
        children = node.get("children") if isinstance(node, dict) else None
        children = [child for child in children or [] if isinstance(child, str) and child in mapping]
        if not children:
            return node_id
        node_id = children[-1]


def _chatgpt_turn(message: Any, number: int) -> DonatedTurn | None:
    if message is None:
        return None
    if not isinstance(message, dict):
        raise _malformed(number, "a message is not an object")
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    if role not in ("user", "assistant"):
        return None
    content = message.get("content")
    if not isinstance(content, dict) or content.get("content_type") not in _CHATGPT_TEXT_CONTENT_TYPES:
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        return None
    text = "\n".join(part for part in parts if isinstance(part, str)).strip()
    return DonatedTurn(role=role, text=text) if text else None


def _timestamp(value: Any, number: int) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _malformed(number, "its create_time is not a number of seconds")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _malformed(number, "its create_time is not a possible date") from None


# --- ShareGPT --------------------------------------------------------------------------------


def _sharegpt_conversation(item: dict, number: int) -> DonatedConversation:
    """One ShareGPT conversation: `conversations` is a list of {"from", "value"}; human and
    user become the user, gpt, assistant, chatgpt, bing and bard the assistant (in any case);
    system messages and other senders (tools, functions) are left out, and so are empty
    values. ShareGPT has no title: the `title` field where a dump has one, otherwise the first
    line of the first user turn, shortened. No time either: `created_at` is None."""
    turns: list[DonatedTurn] = []
    for message in item["conversations"]:
        if not isinstance(message, dict):
            raise _malformed(number, "a message is not an object")
        sender, value = message.get("from"), message.get("value")
        if not isinstance(sender, str) or not isinstance(value, str):
            raise _malformed(number, 'a message lacks a "from" or a "value" text')
        role = _SHAREGPT_ROLES.get(sender.strip().lower())
        if role is not None and value.strip():
            turns.append(DonatedTurn(role=role, text=value.strip()))
    title = item.get("title")
    return DonatedConversation(
        title=title.strip() if isinstance(title, str) and title.strip() else _title_from_turns(turns),
        source="sharegpt",
        turns=turns,
        created_at=None,
    )


def _title_from_turns(turns: list[DonatedTurn]) -> str:
    """The first line of the first user turn, cut to 80 characters at a word."""
    first = next((turn.text for turn in turns if turn.role == "user"), "")
    line = first.splitlines()[0].strip() if first else ""
    if len(line) <= _TITLE_LENGTH:
        return line or "Untitled conversation"
    cut = line[: _TITLE_LENGTH - 1].rsplit(" ", 1)[0] or line[: _TITLE_LENGTH - 1]
    return cut.rstrip(" ,;:.") + "…"
