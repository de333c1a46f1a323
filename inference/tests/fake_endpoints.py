"""Fakes of external model servers (the ones we do not run), for failure paths.

One app serves every behaviour under its own prefix: `{server}/{behaviour}/v1` is a base URL
that behaves like a well-formed, broken or slow OpenAI-compatible server:

    ok            a well-formed stream answering "Hello world"; /models lists "alpha" and "beta"
    slow-start    the same, after FAKE_STALL_SECONDS without a byte
    stalls        one token, then only keep-alive comments
    cut-off       one token, then the stream ends without a finish
    empty         a stream with no events at all
    html          200 with a web page instead of a stream
    not-json      a stream whose data is plain text
    no-choices    a stream of JSON objects that are not completion chunks
    error-event   one token, then an OpenAI error object in the stream
    server-error  HTTP 500
    unauthorized  HTTP 401 with an OpenAI error object
    hostile       a well-formed stream whose answer carries script, event handlers and
                  javascript: links (HOSTILE_ANSWER), for the safe-rendering tests
"""

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

# Longer than any timeout the client tests use.
FAKE_STALL_SECONDS = 3.0


def _chunk(content: str | None = None, *, finish_reason: str | None = None, role: str | None = None) -> str:
    delta = {key: value for key, value in (("role", role), ("content", content)) if value is not None}
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n"


def _sse(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream")


async def _well_formed() -> AsyncIterator[str]:
    """What vLLM sends: a role chunk, text (one piece empty, one with no content), the finish, usage, [DONE]."""
    yield _chunk("", role="assistant")
    yield _chunk("Hel")
    yield _chunk("")
    yield _chunk("lo")
    yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {}, 'finish_reason': None}]})}\n\n"
    yield _chunk(" world", finish_reason="stop")
    yield f"data: {json.dumps({'choices': [], 'usage': {'prompt_tokens': 3, 'completion_tokens': 3}})}\n\n"
    yield "data: [DONE]\n\n"


async def _stalls_after_one_token() -> AsyncIterator[str]:
    """One token, then only keep-alive comments: bytes keep coming, tokens do not."""
    yield _chunk("Hel", role="assistant")
    for _ in range(int(FAKE_STALL_SECONDS / 0.1)):
        await asyncio.sleep(0.1)
        yield ": keep-alive\n\n"


async def _cut_off() -> AsyncIterator[str]:
    yield _chunk("Hel", role="assistant")


async def _not_json() -> AsyncIterator[str]:
    yield "data: Hello there\n\n"


async def _no_choices() -> AsyncIterator[str]:
    yield 'data: {"object": "chat.completion.chunk", "text": "Hello"}\n\n'


async def _error_event() -> AsyncIterator[str]:
    yield _chunk("Hel", role="assistant")
    yield 'data: {"error": {"message": "CUDA out of memory.", "type": "server_error"}}\n\n'


HOSTILE_ANSWER = (
    "Look: <script>window.pwned = 'script'</script> "
    '<img src="x" onerror="window.pwned = \'img\'"> '
    "[click me](javascript:window.pwned='markdown-link') "
    "<a href=\"javascript:window.pwned='raw-link'\">raw link</a>"
)


async def _hostile() -> AsyncIterator[str]:
    for start in range(0, len(HOSTILE_ANSWER), 7):  # split mid-tag, as tokens would
        yield _chunk(HOSTILE_ANSWER[start : start + 7], role="assistant" if start == 0 else None)
    yield _chunk(None, finish_reason="stop")
    yield "data: [DONE]\n\n"


async def _nothing() -> AsyncIterator[str]:
    return
    yield  # an async generator that ends at once


async def chat_completions(request: Request) -> Response:
    behaviour = request.path_params["behaviour"]
    request.app.state.last_request = {"headers": dict(request.headers), "body": await request.json()}
    if behaviour == "slow-start":
        await asyncio.sleep(FAKE_STALL_SECONDS)
    if behaviour == "html":
        return HTMLResponse("<html><body><h1>Welcome to nginx!</h1></body></html>")
    if behaviour == "server-error":
        return PlainTextResponse("Internal Server Error", status_code=500)
    if behaviour == "unauthorized":
        error = {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}
        return JSONResponse({"error": error}, status_code=401)
    events = {
        "ok": _well_formed,
        "slow-start": _well_formed,
        "stalls": _stalls_after_one_token,
        "cut-off": _cut_off,
        "not-json": _not_json,
        "no-choices": _no_choices,
        "error-event": _error_event,
        "empty": _nothing,
        "hostile": _hostile,
    }
    return _sse(events[behaviour]())


async def models_list(request: Request) -> Response:
    behaviour = request.path_params["behaviour"]
    if behaviour == "ok":
        return JSONResponse({"object": "list", "data": [{"id": "alpha", "object": "model"}, {"id": "beta"}]})
    if behaviour == "server-error":
        return PlainTextResponse("Internal Server Error", status_code=500)
    return HTMLResponse("<html>It works!</html>")


def fake_endpoints_app_create() -> Starlette:
    """The fake servers; `app.state.last_request` holds the last chat request's headers and body."""
    return Starlette(
        routes=[
            Route("/{behaviour}/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/{behaviour}/v1/models", models_list, methods=["GET"]),
        ]
    )
