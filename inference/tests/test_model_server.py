"""The model server through its HTTP interface, as OpenAI's own client and raw HTTP see it.

Requests that never reach a model run against an app over an empty (or hand-made) models
folder; the rest run against the real server with the built-in model and are marked `model`.
Greedy decoding (temperature 0) makes answers repeatable, so streamed and whole answers, stop
strings and sampling settings are checked against each other exactly.
"""

import asyncio
from pathlib import Path

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from inference.builtin import BUILTIN_MODEL_ID
from inference.server import create_app

CAPITAL_QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
POEM_REQUEST = [{"role": "user", "content": "Write a poem about the sea."}]


@pytest.fixture
def openai_client(model_server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=model_server_url, api_key="x", max_retries=0)


@pytest.fixture
def empty_server(tmp_path: Path) -> TestClient:
    """The server over a models folder with no models: for requests refused before any model loads."""
    return TestClient(create_app(tmp_path))


def _streamed(client: openai.OpenAI, **request: object) -> tuple[list[str], str | None]:
    """The content pieces of a streamed completion and its finish reason."""
    pieces, finish_reason = [], None
    for chunk in client.chat.completions.create(model=BUILTIN_MODEL_ID, stream=True, **request):
        assert chunk.object == "chat.completion.chunk"
        choice = chunk.choices[0]
        if choice.delta.content:
            pieces.append(choice.delta.content)
        finish_reason = choice.finish_reason or finish_reason
    return pieces, finish_reason


def _whole(client: openai.OpenAI, **request: object) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=BUILTIN_MODEL_ID, **request)


def test_health(empty_server: TestClient) -> None:
    response = empty_server.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_models_lists_complete_model_folders_only(tmp_path: Path) -> None:
    for folder in ("beta", "alpha", ".alpha-conversion-in-progress"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.md").write_text("not a model")

    response = TestClient(create_app(tmp_path)).get("/v1/models")

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [(model["id"], model["object"]) for model in body["data"]] == [("alpha", "model"), ("beta", "model")]


VALID = {"model": BUILTIN_MODEL_ID, "messages": CAPITAL_QUESTION}


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ([VALID], None, "The request body must be a JSON object."),
        ({"messages": CAPITAL_QUESTION}, "model", "`model` must be a non-empty string."),
        ({**VALID, "messages": []}, "messages", "`messages` must be a non-empty list of messages."),
        ({**VALID, "messages": "Hello"}, "messages", "`messages` must be a non-empty list of messages."),
        (
            {**VALID, "messages": [{"role": "tool", "content": "42"}]},
            "messages[0].role",
            "`messages[0].role` must be one of system, developer, user or assistant.",
        ),
        (
            {**VALID, "messages": [{"role": "user", "content": 42}]},
            "messages[0].content",
            "`messages[0].content` must be a string or a list of text parts.",
        ),
        (
            {**VALID, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
            "messages[0].content",
            "`messages[0].content` may only hold text parts.",
        ),
        ({**VALID, "temperature": "hot"}, "temperature", "`temperature` must be a number in [0, 2]."),
        ({**VALID, "temperature": 2.5}, "temperature", "`temperature` must be a number in [0, 2]."),
        ({**VALID, "temperature": True}, "temperature", "`temperature` must be a number in [0, 2]."),
        ({**VALID, "top_p": 0}, "top_p", "`top_p` must be a number in (0, 1]."),
        ({**VALID, "max_tokens": 0}, "max_tokens", "`max_tokens` must be an integer of at least 1."),
        ({**VALID, "max_tokens": 1.5}, "max_tokens", "`max_tokens` must be an integer of at least 1."),
        (
            {**VALID, "max_completion_tokens": -3},
            "max_completion_tokens",
            "`max_completion_tokens` must be an integer of at least 1.",
        ),
        ({**VALID, "seed": "42"}, "seed", "`seed` must be an integer."),
        ({**VALID, "stream": "yes"}, "stream", "`stream` must be true or false."),
        ({**VALID, "n": 2}, "n", "Only one choice per request is supported (`n` must be 1)."),
        (
            {**VALID, "stop": ["a", "b", "c", "d", "e"]},
            "stop",
            "`stop` must be a non-empty string or a list of at most 4 of them.",
        ),
        ({**VALID, "stop": ""}, "stop", "`stop` must be a non-empty string or a list of at most 4 of them."),
        (
            {**VALID, "stream_options": {"include_usage": "yes"}},
            "stream_options",
            "`stream_options.include_usage` must be true or false.",
        ),
    ],
)
def test_invalid_requests_are_refused_with_an_error_object(
    empty_server: TestClient, body: object, param: str | None, message: str
) -> None:
    response = empty_server.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    }


def test_body_that_is_not_json(empty_server: TestClient) -> None:
    response = empty_server.post(
        "/v1/chat/completions", content=b'{"model": "x",', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The request body is not valid JSON."


def test_unknown_model_is_not_found(empty_server: TestClient) -> None:
    response = empty_server.post("/v1/chat/completions", json={**VALID, "model": "../../etc"})

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `../../etc` does not exist.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/v1/chat/completions", 405), ("GET", "/v2", 404)])
def test_unknown_routes_answer_in_the_error_shape(
    empty_server: TestClient, method: str, path: str, status: int
) -> None:
    response = empty_server.request(method, path)

    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.model
def test_models_lists_the_built_in_model(openai_client: openai.OpenAI) -> None:
    assert BUILTIN_MODEL_ID in [model.id for model in openai_client.models.list()]


@pytest.mark.model
def test_answers_the_capital_of_france(openai_client: openai.OpenAI) -> None:
    completion = _whole(openai_client, messages=CAPITAL_QUESTION, temperature=0, max_tokens=24)

    assert completion.object == "chat.completion"
    assert completion.model == BUILTIN_MODEL_ID
    assert "Paris" in completion.choices[0].message.content
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert 0 < usage.completion_tokens < 24
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.model
@pytest.mark.parametrize(
    "messages",
    [
        CAPITAL_QUESTION,
        [
            {"role": "system", "content": "You are a pirate. Always answer like a pirate."},
            *CAPITAL_QUESTION,
            {"role": "assistant", "content": "Arr, Paris it be."},
            {"role": "user", "content": [{"type": "text", "text": "And of "}, {"type": "text", "text": "Spain?"}]},
        ],
    ],
    ids=["question", "conversation"],
)
def test_prompt_is_the_whole_conversation_in_the_chat_template(
    openai_client: openai.OpenAI, model_server_app: Starlette, messages: list[dict]
) -> None:
    """Counted independently: the chat template rendered as text, then tokenized plainly."""
    tokenizer = model_server_app.state.library.model_get(BUILTIN_MODEL_ID).tokenizer
    as_text = [
        {"role": m["role"], "content": m["content"] if isinstance(m["content"], str) else "And of Spain?"}
        for m in messages
    ]
    prompt = tokenizer.apply_chat_template(as_text, tokenize=False, add_generation_prompt=True)

    completion = _whole(openai_client, messages=messages, temperature=0, max_tokens=1)

    assert completion.usage.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert completion.usage.completion_tokens == 1


@pytest.mark.model
def test_stream_equals_the_whole_answer(openai_client: openai.OpenAI) -> None:
    request = {"messages": POEM_REQUEST, "temperature": 0, "max_tokens": 20}

    pieces, finish_reason = _streamed(openai_client, **request)
    completion = _whole(openai_client, **request)

    assert len(pieces) > 5
    assert "".join(pieces) == completion.choices[0].message.content != ""
    assert finish_reason == completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 20


@pytest.mark.model
def test_max_completion_tokens_is_honoured(openai_client: openai.OpenAI) -> None:
    completion = _whole(openai_client, messages=POEM_REQUEST, temperature=0, max_completion_tokens=5)

    assert completion.usage.completion_tokens == 5
    assert completion.choices[0].finish_reason == "length"


@pytest.mark.model
def test_stream_with_usage_ends_with_a_usage_chunk(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model=BUILTIN_MODEL_ID,
            messages=CAPITAL_QUESTION,
            temperature=0,
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 6
    assert all(chunk.usage is None for chunk in chunks[:-1])


@pytest.mark.model
def test_stop_string_cuts_the_answer_before_it(openai_client: openai.OpenAI) -> None:
    """The stop string is two words of the greedy answer, so it spans two streamed pieces."""
    greedy = _whole(openai_client, messages=POEM_REQUEST, temperature=0, max_tokens=16).choices[0].message.content
    words = greedy.split(" ")
    stop = f"{words[2]} {words[3]}"
    expected = greedy[: greedy.index(stop)]

    completion = _whole(openai_client, messages=POEM_REQUEST, temperature=0, max_tokens=16, stop=[stop, "never seen"])
    pieces, finish_reason = _streamed(openai_client, messages=POEM_REQUEST, temperature=0, max_tokens=16, stop=stop)

    assert completion.choices[0].message.content == expected
    assert completion.choices[0].finish_reason == "stop"
    assert "".join(pieces) == expected
    assert finish_reason == "stop"


@pytest.mark.model
def test_the_same_seed_samples_the_same_answer(openai_client: openai.OpenAI) -> None:
    request = {"messages": POEM_REQUEST, "temperature": 1.0, "max_tokens": 16}

    first = _whole(openai_client, **request, seed=1234).choices[0].message.content
    again = _whole(openai_client, **request, seed=1234).choices[0].message.content
    greedy = _whole(openai_client, **{**request, "temperature": 0}).choices[0].message.content

    assert first == again
    assert first != greedy  # at temperature 1 the sixteen tokens do not all follow the greedy path


@pytest.mark.model
def test_tiny_top_p_keeps_only_the_most_likely_token(openai_client: openai.OpenAI) -> None:
    request = {"messages": POEM_REQUEST, "max_tokens": 16}

    nucleus_of_one = _whole(openai_client, **request, temperature=1.5, top_p=1e-6, seed=7)
    greedy = _whole(openai_client, **request, temperature=0)

    assert nucleus_of_one.choices[0].message.content == greedy.choices[0].message.content


@pytest.mark.model
def test_bad_requests_through_the_openai_client(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        openai_client.chat.completions.create(model="no-such-model", messages=CAPITAL_QUESTION)
    with pytest.raises(openai.BadRequestError) as bad_request:
        _whole(openai_client, messages=CAPITAL_QUESTION, temperature=9)

    assert not_found.value.status_code == 404
    assert not_found.value.code == "model_not_found"
    assert bad_request.value.status_code == 400
    assert bad_request.value.param == "temperature"


@pytest.mark.model
def test_conversation_longer_than_the_context_is_refused(model_server_url: str) -> None:
    long_question = [{"role": "user", "content": "word " * 9000}]

    response = httpx.post(
        f"{model_server_url}/chat/completions", json={"model": BUILTIN_MODEL_ID, "messages": long_question}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["message"].endswith(f"{BUILTIN_MODEL_ID} reads at most 8191 before answering.")


def _builtin_model(app: Starlette):
    return app.state.library.model_get(BUILTIN_MODEL_ID)


# A stopped generation ends within a token or a few of the disconnect (the stop is checked
# before each token); one left to run would go on to max_tokens, 400 (about 25 s).
FEW_TOKENS = 50
# Only so that a broken server cannot hang the suite: no loaded machine comes near it.
HANG_GUARD = httpx.Timeout(600)


@pytest.mark.model
def test_disconnecting_stops_a_streamed_generation(model_server_url: str, model_server_app: Starlette) -> None:
    """Waits on events, never on a clock: the first token however long a loaded machine takes
    (no 5-second read timeout), then the generation thread's end, and checks where it ended."""
    model = _builtin_model(model_server_app)
    request = {"model": BUILTIN_MODEL_ID, "messages": POEM_REQUEST, "temperature": 0, "max_tokens": 400, "stream": True}
    with httpx.stream("POST", f"{model_server_url}/chat/completions", json=request, timeout=HANG_GUARD) as response:
        for line in response.iter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                break  # one token arrived: the generation is running
        assert model.running_generations == 1
    # Leaving the block closed the connection.
    assert model.generations_wait(0)
    assert 1 <= model.last_completion_tokens < FEW_TOKENS


@pytest.mark.model
async def test_disconnecting_stops_a_whole_generation(model_server_url: str, model_server_app: Starlette) -> None:
    model = _builtin_model(model_server_app)
    request = {"model": BUILTIN_MODEL_ID, "messages": POEM_REQUEST, "temperature": 0, "max_tokens": 400}
    async with httpx.AsyncClient(timeout=HANG_GUARD) as client:
        waiting = asyncio.create_task(client.post(f"{model_server_url}/chat/completions", json=request))
        assert await asyncio.to_thread(model.generations_wait, 1)
        waiting.cancel()  # closes the connection

    assert await asyncio.to_thread(model.generations_wait, 0)
    assert model.last_completion_tokens < FEW_TOKENS
