"""The HTTP side of the model server: OpenAI-compatible routes over a ModelLibrary."""

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inference.server.generation import (
    ChatGeneration,
    ModelLibrary,
    ModelNotFound,
    PromptInvalid,
    PromptTooLong,
    SamplingSettings,
)
from inference.server.protocol import (
    CompletionIdentity,
    RequestInvalid,
    chat_request_parse,
    chunk_body,
    completion_body,
    error_body,
    usage_body,
    usage_chunk_body,
)

logger = logging.getLogger(__name__)


def create_app(models_dir: Path) -> Starlette:
    """An app serving every model folder in `models_dir`; `app.state.library` holds the models."""
    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/models", models_list, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.library = ModelLibrary(models_dir)
    return app


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def models_list(request: Request) -> JSONResponse:
    library: ModelLibrary = request.app.state.library
    folders = await anyio.to_thread.run_sync(library.model_folders)
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"id": model_id, "object": "model", "created": int(folder.stat().st_mtime), "owned_by": "local"}
                for model_id, folder in folders.items()
            ],
        }
    )


async def chat_completions(request: Request) -> Response:
    library: ModelLibrary = request.app.state.library
    try:
        body = await request.json()
    except ValueError:
        return _error_response(RequestInvalid("The request body is not valid JSON."))
    try:
        chat = chat_request_parse(body)
    except RequestInvalid as error:
        return _error_response(error)
    try:
        model = await anyio.to_thread.run_sync(library.model_get, chat.model)
    except ModelNotFound:
        message = f"The model `{chat.model}` does not exist."
        return _error_response(RequestInvalid(message, param="model", code="model_not_found", status=404))
    sampling = SamplingSettings(
        temperature=chat.temperature, top_p=chat.top_p, max_tokens=chat.max_tokens, seed=chat.seed, stop=chat.stop
    )
    try:
        generation = model.chat_generation(chat.messages, sampling)
    except PromptTooLong as error:
        return _error_response(RequestInvalid(str(error), param="messages", code="context_length_exceeded"))
    except PromptInvalid as error:
        return _error_response(RequestInvalid(str(error), param="messages"))

    identity = CompletionIdentity.new(chat.model)
    if chat.stream:
        return StreamingResponse(
            _completion_events(generation, identity, include_usage=chat.include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    text = await _text_unless_disconnected(request, generation)
    if text is None:
        return Response(status_code=499)  # nobody reads it: the client has gone
    usage = usage_body(generation.prompt_tokens, generation.completion_tokens)
    return JSONResponse(completion_body(identity, text=text, finish_reason=generation.finish_reason, usage=usage))


async def _completion_events(
    generation: ChatGeneration, identity: CompletionIdentity, *, include_usage: bool
) -> AsyncIterator[str]:
    """The server-sent events of a streamed answer.

    When the client disconnects, Starlette cancels this generator; closing `pieces` then stops
    the generation thread.
    """
    yield _event(chunk_body(identity, delta={"role": "assistant", "content": ""}))
    try:
        async with aclosing(generation.pieces()) as pieces:
            async for text in pieces:
                yield _event(chunk_body(identity, delta={"content": text}))
    except Exception:
        # The status line is already sent; an error event is how OpenAI-style streams fail.
        logger.exception("Generation failed for model %s", identity.model)
        yield _event(error_body("The model failed while answering.", error_type="server_error"))
        return
    yield _event(chunk_body(identity, delta={}, finish_reason=generation.finish_reason))
    if include_usage:
        yield _event(usage_chunk_body(identity, usage_body(generation.prompt_tokens, generation.completion_tokens)))
    yield "data: [DONE]\n\n"


async def _text_unless_disconnected(request: Request, generation: ChatGeneration) -> str | None:
    """The whole answer, or None if the client went away first (its generation is then stopped)."""
    text: str | None = None
    async with anyio.create_task_group() as group:

        async def collect() -> None:
            nonlocal text
            async with aclosing(generation.pieces()) as pieces:
                text = "".join([piece async for piece in pieces])
            group.cancel_scope.cancel()

        group.start_soon(collect)
        # The body has been read, so the next message is the disconnect (if it ever comes).
        while (await request.receive())["type"] != "http.disconnect":
            pass
        group.cancel_scope.cancel()
    return text


def _event(body: dict) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _error_response(error: RequestInvalid) -> JSONResponse:
    return JSONResponse(
        error_body(error.message, error_type="invalid_request_error", param=error.param, code=error.code),
        status_code=error.status,
    )


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Unknown routes and wrong methods, answered in the OpenAI error shape."""
    return JSONResponse(
        error_body(str(exc.detail), error_type="invalid_request_error"),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        error_body("The model server failed; the error is in its log.", error_type="server_error"), status_code=500
    )
