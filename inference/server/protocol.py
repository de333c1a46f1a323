"""The OpenAI chat completions protocol: request validation and the shapes of responses.

Only what a chat model served from a folder can honour is accepted; fields that other servers
understand and that do not change the answer's meaning (`user`, `logprobs: false`, ...) are
ignored, as vLLM and llama.cpp's server do, so that ordinary clients work unchanged.
"""

import time
import uuid
from dataclasses import dataclass
from typing import Any

# OpenAI's "developer" role is its newer name for "system".
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_STOP_STRINGS_MAX = 4


class RequestInvalid(Exception):
    """A request the server refuses; rendered as an OpenAI error object."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat completion request."""

    model: str
    messages: list[dict[str, str]]
    stream: bool
    temperature: float
    top_p: float
    max_tokens: int | None
    seed: int | None
    stop: tuple[str, ...]
    include_usage: bool


def chat_request_parse(body: object) -> ChatRequest:
    """Validate a decoded JSON body; raise RequestInvalid naming the first bad field."""
    if not isinstance(body, dict):
        raise RequestInvalid("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestInvalid("`model` must be a non-empty string.", param="model")
    n = body.get("n")
    if n is not None and n != 1:
        raise RequestInvalid("Only one choice per request is supported (`n` must be 1).", param="n")
    max_tokens = _optional_int(body, "max_completion_tokens", minimum=1)
    if max_tokens is None:
        max_tokens = _optional_int(body, "max_tokens", minimum=1)
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise RequestInvalid("`stream_options` must be an object.", param="stream_options")
    include_usage = (stream_options or {}).get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise RequestInvalid("`stream_options.include_usage` must be true or false.", param="stream_options")
    return ChatRequest(
        model=model,
        messages=_messages_parse(body.get("messages")),
        stream=_optional_bool(body, "stream", default=False),
        temperature=_optional_number(body, "temperature", default=1.0, low=0.0, high=2.0),
        top_p=_optional_number(body, "top_p", default=1.0, low=0.0, high=1.0, low_inclusive=False),
        max_tokens=max_tokens,
        seed=_optional_int(body, "seed"),
        stop=_stop_parse(body.get("stop")),
        include_usage=include_usage,
    )


def _messages_parse(messages: object) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid("`messages` must be a non-empty list of messages.", param="messages")
    parsed = []
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise RequestInvalid(f"`{param}` must be an object with `role` and `content`.", param=param)
        role = message.get("role")
        if role not in _ROLES:
            raise RequestInvalid(
                f"`{param}.role` must be one of system, developer, user or assistant.", param=f"{param}.role"
            )
        parsed.append({"role": _ROLES[role], "content": _content_parse(message.get("content"), f"{param}.content")})
    return parsed


def _content_parse(content: object, param: str) -> str:
    """Accept a string or a list of text parts (the newer OpenAI form)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise RequestInvalid(f"`{param}` may only hold text parts.", param=param)
            texts.append(part["text"])
        return "".join(texts)
    raise RequestInvalid(f"`{param}` must be a string or a list of text parts.", param=param)


def _stop_parse(stop: object) -> tuple[str, ...]:
    if stop is None:
        return ()
    strings = [stop] if isinstance(stop, str) else stop
    if (
        not isinstance(strings, list)
        or len(strings) > _STOP_STRINGS_MAX
        or not all(isinstance(text, str) and text for text in strings)
    ):
        raise RequestInvalid(
            f"`stop` must be a non-empty string or a list of at most {_STOP_STRINGS_MAX} of them.", param="stop"
        )
    return tuple(strings)


def _optional_bool(body: dict[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestInvalid(f"`{name}` must be true or false.", param=name)
    return value


def _optional_number(
    body: dict[str, Any], name: str, *, default: float, low: float, high: float, low_inclusive: bool = True
) -> float:
    value = body.get(name)
    if value is None:
        return default
    # bool is an int in Python, but `true` is no temperature.
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not (low <= value <= high) or (value == low and not low_inclusive):
        bracket = "[" if low_inclusive else "("
        raise RequestInvalid(f"`{name}` must be a number in {bracket}{low:g}, {high:g}].", param=name)
    return float(value)


def _optional_int(body: dict[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
        requirement = f"an integer of at least {minimum}" if minimum is not None else "an integer"
        raise RequestInvalid(f"`{name}` must be {requirement}.", param=name)
    return value


def error_body(message: str, *, error_type: str, param: str | None = None, code: str | None = None) -> dict:
    """An OpenAI error object."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


@dataclass(frozen=True)
class CompletionIdentity:
    """What every chunk of one completion repeats: its id, creation time and model."""

    id: str
    created: int
    model: str

    @classmethod
    def new(cls, model: str) -> "CompletionIdentity":
        return cls(id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model)


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chunk_body(
    identity: CompletionIdentity,
    *,
    delta: dict[str, str],
    finish_reason: str | None = None,
) -> dict:
    """A `chat.completion.chunk` with one choice."""
    return {
        "id": identity.id,
        "object": "chat.completion.chunk",
        "created": identity.created,
        "model": identity.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def usage_chunk_body(identity: CompletionIdentity, usage: dict[str, int]) -> dict:
    """The chunk sent last when `stream_options.include_usage` is set: no choices, only usage."""
    return {
        "id": identity.id,
        "object": "chat.completion.chunk",
        "created": identity.created,
        "model": identity.model,
        "choices": [],
        "usage": usage,
    }


def completion_body(identity: CompletionIdentity, *, text: str, finish_reason: str, usage: dict[str, int]) -> dict:
    """A whole `chat.completion`."""
    return {
        "id": identity.id,
        "object": "chat.completion",
        "created": identity.created,
        "model": identity.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage,
    }
