"""The streaming client: against our real model server, and against fakes of broken servers."""

import asyncio
import time

import httpx
import pytest
from starlette.applications import Starlette

from inference.builtin import BUILTIN_MODEL_ID
from inference.client import (
    EndpointBadResponse,
    EndpointTimeout,
    EndpointUnavailable,
    chat_stream,
    endpoint_check,
)
from inference.tests.fake_endpoints import FAKE_STALL_SECONDS

CAPITAL_QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


async def _answer(base_url: str, *, timeout: float = 5.0, api_key: str = "", **overrides: object) -> list[str]:
    """Every piece chat_stream yields, with small generation settings."""
    settings = {"model": BUILTIN_MODEL_ID, "messages": CAPITAL_QUESTION, "temperature": 0.0, "top_p": 1.0}
    settings |= {"max_tokens": 16} | overrides
    return [piece async for piece in chat_stream(base_url=base_url, timeout=timeout, api_key=api_key, **settings)]


@pytest.mark.model
async def test_chat_stream_from_the_model_server(model_server_url: str) -> None:
    pieces = await _answer(model_server_url)

    assert len(pieces) > 1
    assert all(pieces)
    assert "Paris" in "".join(pieces)


@pytest.mark.model
async def test_two_streams_at_once_interleave(model_server_url: str) -> None:
    """The arena asks both sides at the same time: neither waits for the other to finish."""
    started = time.monotonic()
    first_piece_at: dict[str, float] = {}
    finished_at: dict[str, float] = {}

    async def side(name: str, client: httpx.AsyncClient) -> None:
        messages = [{"role": "user", "content": f"Write a short poem about {name}."}]
        async for _ in chat_stream(
            base_url=model_server_url,
            model=BUILTIN_MODEL_ID,
            messages=messages,
            temperature=0.0,
            top_p=1.0,
            max_tokens=24,
            timeout=30.0,
            client=client,
        ):
            first_piece_at.setdefault(name, time.monotonic() - started)
        finished_at[name] = time.monotonic() - started

    async with httpx.AsyncClient() as client:
        await asyncio.gather(side("the sea", client), side("mountains", client))

    assert first_piece_at["the sea"] < finished_at["mountains"]
    assert first_piece_at["mountains"] < finished_at["the sea"]


@pytest.mark.model
async def test_endpoint_check_lists_the_built_in_model(model_server_url: str) -> None:
    assert BUILTIN_MODEL_ID in await endpoint_check(base_url=model_server_url)


@pytest.mark.model
async def test_unknown_model_is_reported_with_the_servers_reason(model_server_url: str) -> None:
    with pytest.raises(EndpointUnavailable) as raised:
        await _answer(model_server_url, model="no-such-model")

    assert str(raised.value) == (
        f"The model server at {model_server_url} refused the request "
        "(HTTP 404: The model `no-such-model` does not exist)."
    )


async def test_well_formed_stream_yields_the_non_empty_contents(fake_endpoints_url: str) -> None:
    assert await _answer(f"{fake_endpoints_url}/ok/v1") == ["Hel", "lo", " world"]


async def test_request_carries_the_settings_and_the_api_key(
    fake_endpoints_url: str, fake_endpoints_app: Starlette
) -> None:
    await _answer(f"{fake_endpoints_url}/ok/v1/", api_key="sk-secret", temperature=0.7, top_p=0.9, max_tokens=99)

    request = fake_endpoints_app.state.last_request
    assert request["headers"]["authorization"] == "Bearer sk-secret"
    assert request["body"] == {
        "model": BUILTIN_MODEL_ID,
        "messages": CAPITAL_QUESTION,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 99,
        "stream": True,
    }


async def test_shared_client_is_reused(fake_endpoints_url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            pieces = [
                piece
                async for piece in chat_stream(
                    base_url=f"{fake_endpoints_url}/ok/v1",
                    model="fake",
                    messages=CAPITAL_QUESTION,
                    temperature=0.0,
                    top_p=1.0,
                    max_tokens=8,
                    timeout=5.0,
                    client=client,
                )
            ]
            assert pieces == ["Hel", "lo", " world"]
        assert not client.is_closed


async def test_connection_refused(closed_port_url: str) -> None:
    with pytest.raises(EndpointUnavailable) as raised:
        await _answer(closed_port_url)

    assert str(raised.value) == f"The model server at {closed_port_url} did not answer (connection refused)."


async def test_unknown_host() -> None:
    with pytest.raises(EndpointUnavailable) as raised:
        await _answer("http://model-server.invalid/v1")

    assert (
        str(raised.value)
        == "The model server at http://model-server.invalid/v1 did not answer (its host name is unknown)."
    )


async def test_credentials_in_the_url_are_not_shown(closed_port_url: str) -> None:
    with_password = closed_port_url.replace("http://", "http://admin:hunter2@")

    with pytest.raises(EndpointUnavailable) as raised:
        await _answer(with_password)

    assert "hunter2" not in str(raised.value)
    assert str(raised.value) == f"The model server at {closed_port_url} did not answer (connection refused)."


async def test_no_first_byte_in_time_is_a_timeout(fake_endpoints_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(EndpointTimeout) as raised:
        await _answer(f"{fake_endpoints_url}/slow-start/v1", timeout=0.5)

    assert str(raised.value) == "The model took longer than 0.5 s to answer."
    assert time.monotonic() - started < FAKE_STALL_SECONDS


async def test_no_next_token_in_time_is_a_timeout_despite_keep_alives(fake_endpoints_url: str) -> None:
    pieces: list[str] = []
    started = time.monotonic()
    with pytest.raises(EndpointTimeout) as raised:
        async for piece in chat_stream(
            base_url=f"{fake_endpoints_url}/stalls/v1",
            model="fake",
            messages=CAPITAL_QUESTION,
            temperature=0.0,
            top_p=1.0,
            max_tokens=8,
            timeout=0.5,
        ):
            pieces.append(piece)

    assert pieces == ["Hel"]
    assert str(raised.value) == "The model took longer than 0.5 s to answer."
    assert time.monotonic() - started < FAKE_STALL_SECONDS


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("html", "The model server at {url} sent something that is not a chat completion stream."),
        ("not-json", "The model server at {url} sent something that is not a chat completion stream."),
        ("no-choices", "The model server at {url} sent something that is not a chat completion stream."),
        ("cut-off", "The model server at {url} stopped in the middle of the answer."),
        ("empty", "The model server at {url} ended the stream without an answer."),
    ],
)
async def test_garbage_is_a_bad_response(fake_endpoints_url: str, behaviour: str, message: str) -> None:
    url = f"{fake_endpoints_url}/{behaviour}/v1"

    with pytest.raises(EndpointBadResponse) as raised:
        await _answer(url)

    assert str(raised.value) == message.format(url=url)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("server-error", "The model server at {url} failed (HTTP 500: Internal Server Error)."),
        ("unauthorized", "The model server at {url} refused the request (HTTP 401: Incorrect API key provided)."),
        ("error-event", "The model server at {url} failed while answering (CUDA out of memory)."),
    ],
)
async def test_server_errors_are_unavailable(fake_endpoints_url: str, behaviour: str, message: str) -> None:
    url = f"{fake_endpoints_url}/{behaviour}/v1"

    with pytest.raises(EndpointUnavailable) as raised:
        await _answer(url)

    assert str(raised.value) == message.format(url=url)


async def test_endpoint_check_returns_the_model_ids(fake_endpoints_url: str) -> None:
    assert await endpoint_check(base_url=f"{fake_endpoints_url}/ok/v1") == ["alpha", "beta"]


async def test_endpoint_check_failures(fake_endpoints_url: str, closed_port_url: str) -> None:
    with pytest.raises(EndpointUnavailable, match="connection refused"):
        await endpoint_check(base_url=closed_port_url)
    with pytest.raises(EndpointUnavailable, match=r"failed \(HTTP 500: Internal Server Error\)"):
        await endpoint_check(base_url=f"{fake_endpoints_url}/server-error/v1")
    with pytest.raises(EndpointBadResponse) as raised:
        await endpoint_check(base_url=f"{fake_endpoints_url}/html/v1")
    assert (
        str(raised.value)
        == f"The model server at {fake_endpoints_url}/html/v1 sent something that is not a model list."
    )


async def test_messages_for_volunteers_leave_out_the_server_address(closed_port_url):
    with pytest.raises(EndpointUnavailable) as raised:
        async for _ in chat_stream(
            base_url=closed_port_url,
            model="m",
            messages=[{"role": "user", "content": "Hi"}],
            temperature=0.0,
            top_p=1.0,
            max_tokens=4,
            timeout=2.0,
        ):
            pass
    assert str(raised.value) == f"The model server at {closed_port_url} did not answer (connection refused)."
    assert raised.value.for_volunteers() == "The model server did not answer (connection refused)."
