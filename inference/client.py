"""Stream chat answers from any OpenAI-compatible server: vLLM, TGI, llama.cpp, Ollama, ours.

Every failure becomes an EndpointError whose text can be shown to volunteers as it is: it says
what went wrong in plain words and never contains the API key.
"""

import asyncio
import json
import socket
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, aclosing, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

_ERROR_BODY_CHARS = 200


class EndpointError(Exception):
    """A model endpoint failed. `str()` says what went wrong in plain words, naming the server
    for admins; `for_volunteers()` says the same without the server's address, which volunteers
    do not need and which could tell them which model they are judging."""

    def __init__(self, message: str, *, server: str = ""):
        super().__init__(message)
        self.server = server

    def for_volunteers(self) -> str:
        text = str(self)
        if self.server:
            text = text.replace(f" at {self.server}", "").replace(f" address {self.server}", " address")
        return text


class EndpointUnavailable(EndpointError):
    """The server could not be reached, or it refused the request (an HTTP error status)."""


class EndpointTimeout(EndpointError):
    """The server was reached but sent no first byte, or no next token, in time."""


class EndpointBadResponse(EndpointError):
    """The server answered with something that is not an OpenAI chat completion stream."""


async def chat_stream(
    *,
    base_url: str,
    model: str,
    messages: list[dict],
    temperature: float,
    top_p: float,
    max_tokens: int,
    timeout: float,
    api_key: str = "",
    client: httpx.AsyncClient | None = None,
) -> AsyncIterator[str]:
    """Yield the answer's text pieces as the server streams them.

    `base_url` ends in /v1. `timeout` bounds the wait for the connection, for the first token
    and for every next one. Pass a shared `client` to reuse connections.
    """
    url = f"{base_url.rstrip('/')}/chat/completions"
    body = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
        "stream": True,
    }
    headers = _headers(api_key) | {"Accept": "text/event-stream", "Cache-Control": "no-store"}
    server = _displayed(base_url)
    is_finished = is_answering = False
    async with AsyncExitStack() as stack:
        http = client or await stack.enter_async_context(httpx.AsyncClient())
        with _errors_translated(server, timeout):
            response = await stack.enter_async_context(
                http.stream("POST", url, json=body, headers=headers, timeout=timeout)
            )
            await _status_check(response, server)
            events = await stack.enter_async_context(aclosing(EventSource(response).aiter_sse()))
            while not is_finished:
                # The deadline is set afresh while waiting for each event, so the time the caller
                # spends with a token does not count, and a server that only sends keep-alive
                # comments between tokens still has to deliver a token in time.
                try:
                    async with asyncio.timeout(timeout):
                        event = await _event_next(events)
                except TimeoutError:
                    raise EndpointTimeout(f"The model took longer than {timeout:g} s to answer.") from None
                if event is None:
                    break
                if event.data.strip() == "[DONE]":
                    is_finished = True
                    break
                text, is_finished = _chunk_parse(event.data, server)
                is_answering = True
                if text:
                    yield text
    if not is_finished:
        if is_answering:
            raise EndpointBadResponse(
                f"The model server at {server} stopped in the middle of the answer.", server=server
            )
        raise EndpointBadResponse(f"The model server at {server} ended the stream without an answer.", server=server)


_shared_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = weakref.WeakKeyDictionary()


def shared_client() -> httpx.AsyncClient:
    """One connection pool per event loop (so per web process), kept open: requests to the same
    model server reuse their connections instead of opening new ones for every volunteer."""
    loop = asyncio.get_running_loop()
    client = _shared_clients.get(loop)
    if client is None or client.is_closed:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        client = _shared_clients[loop] = httpx.AsyncClient(limits=limits)
    return client


async def endpoint_check(
    *, base_url: str, api_key: str = "", timeout: float = 5.0, client: httpx.AsyncClient | None = None
) -> list[str]:
    """The ids of the models the server lists at `/models`; raise EndpointError if it cannot say."""
    server = _displayed(base_url)
    async with AsyncExitStack() as stack:
        http = client or await stack.enter_async_context(httpx.AsyncClient())
        with _errors_translated(server, timeout):
            response = await http.get(f"{base_url.rstrip('/')}/models", headers=_headers(api_key), timeout=timeout)
        await _status_check(response, server)
    try:
        return [str(entry["id"]) for entry in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise EndpointBadResponse(
            f"The model server at {server} sent something that is not a model list.", server=server
        ) from None


def _chunk_parse(data: str, server: str) -> tuple[str, bool]:
    """The text in one `chat.completion.chunk`, and whether it is the last one."""
    not_a_stream = EndpointBadResponse(_not_a_stream(server), server=server)
    try:
        chunk = json.loads(data)
    except ValueError:
        raise not_a_stream from None
    if not isinstance(chunk, dict):
        raise not_a_stream
    if "error" in chunk:
        reason = _error_text(chunk) or "no reason given"
        raise EndpointUnavailable(f"The model server at {server} failed while answering ({reason}).", server=server)
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise not_a_stream
    if not choices:  # the usage chunk some servers send last
        return "", False
    choice = choices[0]
    delta = choice.get("delta") if isinstance(choice, dict) else None
    if not isinstance(delta, dict):
        raise not_a_stream
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise not_a_stream
    return content or "", choice.get("finish_reason") is not None


async def _event_next(events: AsyncIterator[ServerSentEvent]) -> ServerSentEvent | None:
    """The next server-sent event, or None at the end of the stream."""
    try:
        return await anext(events)
    except StopAsyncIteration:
        return None


@contextmanager
def _errors_translated(server: str, timeout: float) -> Iterator[None]:
    """Turn httpx's and httpx-sse's exceptions into EndpointErrors with volunteer-readable text."""
    try:
        yield
    except SSEError as error:  # a 200 response that is not text/event-stream (an HTML page, JSON)
        raise EndpointBadResponse(_not_a_stream(server), server=server) from error
    except httpx.ConnectTimeout as error:
        raise EndpointUnavailable(
            f"The model server at {server} did not answer within {timeout:g} s.", server=server
        ) from error
    except httpx.TimeoutException as error:
        raise EndpointTimeout(f"The model took longer than {timeout:g} s to answer.") from error
    except httpx.ConnectError as error:
        raise EndpointUnavailable(
            f"The model server at {server} did not answer ({_connect_failure(error)}).", server=server
        ) from error
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise EndpointUnavailable(
            f"The model server address {server} is not a valid http(s) URL.", server=server
        ) from error
    except httpx.TransportError as error:
        raise EndpointUnavailable(
            f"The connection to the model server at {server} broke off.", server=server
        ) from error
    except httpx.DecodingError as error:
        raise EndpointBadResponse(
            f"The model server at {server} sent something that could not be decoded.", server=server
        ) from error


def _connect_failure(error: httpx.ConnectError) -> str:
    """Name the cause of a failed connection, found in the chain of exceptions below httpx's."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "its host name is unknown"
        cause = cause.__cause__ or cause.__context__
    return "no connection"


async def _status_check(response: httpx.Response, server: str) -> None:
    """Raise EndpointUnavailable, with the server's own error message if it sent one, for 4xx and 5xx."""
    if response.status_code < 400:
        return
    await response.aread()
    detail = _error_text(_json_or_none(response)) or response.reason_phrase
    what = "failed" if response.status_code >= 500 else "refused the request"
    raise EndpointUnavailable(
        f"The model server at {server} {what} (HTTP {response.status_code}: {detail}).", server=server
    )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(body: Any) -> str:
    """The message in an OpenAI-style error object, shortened; empty if there is none."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str):
        return ""
    message = message.strip().rstrip(".")
    return message if len(message) <= _ERROR_BODY_CHARS else message[: _ERROR_BODY_CHARS - 1] + "…"


def _not_a_stream(server: str) -> str:
    return f"The model server at {server} sent something that is not a chat completion stream."


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _displayed(base_url: str) -> str:
    """The server's address as volunteers see it: no user name or password, no trailing slash."""
    try:
        parts = urlsplit(base_url)
    except ValueError:  # an unbalanced IPv6 bracket: show it as given
        return base_url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"), "", ""))
