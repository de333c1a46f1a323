"""The arena's websocket, end to end through the real ASGI application.

Happy paths stream from the platform's own model server (the built-in model); failure paths
use fake external servers (down, slow, garbage), which stand in for endpoints we do not run.
"""

import html
import json
import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings

from config.asgi import application
from feedback.models import Battle, Conversation, Message
from feedback.tests.factories import MembershipFactory, ModelEndpointFactory, UserFactory, arena_setup

pytestmark = [pytest.mark.django_db(transaction=True)]

BUILTIN = "SmolLM2-135M-Instruct"
TOKEN = re.compile(r'^<div id="answer-([ab])-(\d+)" hx-swap-oob="beforeend">(.*)</div>$', re.S)


async def arena_socket(user, slug: str) -> WebsocketCommunicator:
    client = Client()
    await sync_to_async(client.force_login)(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
    ]
    return WebsocketCommunicator(application, f"/ws/arena/{slug}/", headers=headers)


async def send_prompt(socket: WebsocketCommunicator, prompt: str, conversation: str = "") -> None:
    # The shape htmx's websocket extension sends for the prompt form.
    await socket.send_to(text_data=json.dumps({"prompt": prompt, "conversation": conversation, "HEADERS": {}}))


async def receive_turn(socket: WebsocketCommunicator) -> list[str]:
    """Every fragment of one turn, up to and including the final vote bar."""
    fragments = []
    while True:
        fragment = await socket.receive_from(timeout=60)
        fragments.append(fragment)
        if 'id="vote-bar" class="vote-bar ready"' in fragment or 'class="vote-bar errored"' in fragment:
            return fragments


def streamed_text(fragments: list[str], side: str) -> str:
    parts = [TOKEN.match(f) for f in fragments]
    return "".join(html.unescape(m.group(3)) for m in parts if m and m.group(1) == side)


@pytest.fixture
def real_arena(model_server_url):
    community, member, first, second = arena_setup(base_url=model_server_url, model_id=BUILTIN, max_tokens=8)
    return community, member


async def test_a_turn_streams_both_answers_and_stores_them(real_arena):
    community, member = await sync_to_async(lambda: real_arena)()
    socket = await arena_socket(member, community.slug)
    connected, _ = await socket.connect()
    assert connected

    await send_prompt(socket, "What is the capital of France?")
    fragments = await receive_turn(socket)
    await socket.disconnect()

    battle = await Battle.objects.select_related("answer_a", "answer_b", "model_a", "model_b").aget()
    assert battle.status == Battle.Status.READY
    assert f'id="conversation-field" name="conversation" value="{battle.conversation_id}"' in fragments[0]
    assert '<div class="bubble prompt"><p>What is the capital of France?</p></div>' in fragments[0]
    token_fragments = [f for f in fragments if TOKEN.match(f)]
    assert len(token_fragments) >= 4  # streamed token by token, not in one piece
    assert streamed_text(fragments, "a") == battle.answer_a.text != ""
    assert streamed_text(fragments, "b") == battle.answer_b.text != ""
    assert f'id="answer-a-{battle.pk}" class="bubble answer"' in "".join(fragments)
    assert fragments[-1].count(f'hx-post="/arena/battles/{battle.pk}/vote/"') == 4
    assert battle.model_a.name not in "".join(fragments)  # names stay hidden until the vote
    assert battle.model_b.name not in "".join(fragments)


async def test_a_follow_up_continues_the_same_conversation(real_arena):
    community, member = await sync_to_async(lambda: real_arena)()
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    await send_prompt(socket, "Name a fruit.")
    await receive_turn(socket)
    conversation = await Conversation.objects.aget()
    await send_prompt(socket, "And a vegetable?", conversation=str(conversation.pk))
    fragments = await receive_turn(socket)
    await socket.disconnect()

    assert 'id="thread-a" hx-swap-oob="beforeend"' in fragments[0]
    turns = [b async for b in Battle.objects.order_by("turn").values_list("turn", "status", "conversation_id")]
    assert turns == [(1, "ready", conversation.pk), (2, "ready", conversation.pk)]
    assert await Message.objects.filter(role="user").acount() == 3  # root + the follow-up under each side


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("closed", "The model server did not answer (connection refused)."),
        ("slow-start", "The model took longer than 0.5 s to answer."),
        ("html", "The model server sent something that is not a chat completion stream."),
        ("server-error", "The model server failed (HTTP 500: Internal Server Error)."),
    ],
)
async def test_a_failing_endpoint_shows_a_message_and_errors_the_battle(
    behaviour, message, fake_endpoints_url, closed_port_url
):
    def setup():
        community, member, good, bad = arena_setup(base_url=f"{fake_endpoints_url}/ok/v1")
        bad.base_url = closed_port_url if behaviour == "closed" else f"{fake_endpoints_url}/{behaviour}/v1"
        bad.timeout_seconds = 0.5
        bad.save()
        return community, member, bad

    community, member, bad = await sync_to_async(setup)()
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    await send_prompt(socket, "Hello there, model")
    fragments = await receive_turn(socket)
    await socket.disconnect()

    battle = await Battle.objects.select_related("model_a").aget()
    bad_side = "a" if battle.model_a_id == bad.pk else "b"
    failure = next(f for f in fragments if f'id="answer-{bad_side}-{battle.pk}" class="bubble answer failed"' in f)
    assert message in failure
    assert "127.0.0.1" not in failure  # volunteers are not shown the server's address
    assert battle.status == Battle.Status.ERRORED
    assert f"Model {bad_side.upper()}: The model" in battle.error
    if behaviour != "slow-start":
        assert "http://127.0.0.1:" in battle.error  # admins see which server failed
    final = fragments[-1]
    assert "cannot be voted on and will not count" in final
    assert f'id="answer-{bad_side}-{battle.pk}" class="bubble answer failed"' in final  # now with its retry
    assert '<input type="hidden" name="prompt" value="Hello there, model">' in final  # the retry resends it
    assert '<input type="hidden" name="conversation" value="">' in final  # a first turn retries with a new pair
    assert "hx-post" not in final


@pytest.mark.parametrize(
    ("prompt", "notice"),
    [("", "Write a prompt first."), ("   ", "Write a prompt first."), ("x" * 31, "the limit is 30")],
)
async def test_bad_prompts_get_a_notice_and_write_nothing(prompt, notice, fake_endpoints_url):
    community, member, _, _ = await sync_to_async(arena_setup)(base_url=f"{fake_endpoints_url}/ok/v1")
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    with override_settings(ARENA_PROMPT_MAX_CHARS=30):
        await send_prompt(socket, prompt)
        fragment = await socket.receive_from(timeout=10)
    await socket.disconnect()
    assert fragment.startswith('<div id="arena-notice" class="notice error" role="alert">')
    assert notice in fragment
    assert await Battle.objects.acount() == 0
    assert await Message.objects.acount() == 0


async def test_unreadable_messages_get_a_notice(fake_endpoints_url):
    community, member, _, _ = await sync_to_async(arena_setup)(base_url=f"{fake_endpoints_url}/ok/v1")
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    await socket.send_to(text_data="not json")
    assert "could not be read" in await socket.receive_from(timeout=10)
    await socket.send_to(text_data="[1, 2]")
    assert "could not be read" in await socket.receive_from(timeout=10)
    await socket.disconnect()


async def test_someone_who_has_not_joined_is_told_to_join(fake_endpoints_url):
    community, _, _, _ = await sync_to_async(arena_setup)(base_url=f"{fake_endpoints_url}/ok/v1")
    outsider = await sync_to_async(UserFactory)()
    socket = await arena_socket(outsider, community.slug)
    await socket.connect()
    await send_prompt(socket, "Let me in")
    assert "accept its data licence" in await socket.receive_from(timeout=10)
    await socket.disconnect()
    assert await Battle.objects.acount() == 0


async def test_someone_elses_conversation_cannot_be_continued(fake_endpoints_url):
    def setup():
        community, owner, _, _ = arena_setup(base_url=f"{fake_endpoints_url}/ok/v1")
        other = MembershipFactory(community=community).user
        conversation = Conversation.objects.create(community=community, owner=owner)
        return community, other, conversation

    community, other, conversation = await sync_to_async(setup)()
    socket = await arena_socket(other, community.slug)
    await socket.connect()
    await send_prompt(socket, "Hijack", conversation=str(conversation.pk))
    assert "That conversation is not yours" in await socket.receive_from(timeout=10)
    await socket.disconnect()
    assert await Battle.objects.acount() == 0


async def test_anonymous_and_unknown_community_are_refused():
    socket = WebsocketCommunicator(application, "/ws/arena/demo/", headers=[(b"origin", b"http://localhost")])
    connected, code = await socket.connect()
    assert (connected, code) == (False, 4401)

    member = await sync_to_async(UserFactory)()
    socket = await arena_socket(member, "no-such-community")
    connected, code = await socket.connect()
    assert (connected, code) == (False, 4404)


async def test_leaving_mid_stream_marks_the_battle_errored(fake_endpoints_url):
    community, member, _, _ = await sync_to_async(arena_setup)(base_url=f"{fake_endpoints_url}/stalls/v1")
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    await send_prompt(socket, "Tell me a long story")
    await socket.receive_from(timeout=10)  # the turn started
    await socket.receive_from(timeout=10)  # a first token
    await socket.disconnect()
    battle = await Battle.objects.aget()
    assert battle.status == Battle.Status.ERRORED
    assert "left before the answers were complete" in battle.error


async def test_a_second_prompt_while_streaming_is_refused(fake_endpoints_url):
    community, member, _, _ = await sync_to_async(arena_setup)(base_url=f"{fake_endpoints_url}/stalls/v1")
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    await send_prompt(socket, "Tell me a long story")
    await socket.receive_from(timeout=10)
    await send_prompt(socket, "And another")
    while "still coming in" not in (fragment := await socket.receive_from(timeout=10)):
        assert TOKEN.match(fragment)
    await socket.disconnect()
    assert await Battle.objects.acount() == 1


async def test_other_endpoints_are_never_asked_with_another_communitys_models(fake_endpoints_url):
    community, member, _, _ = await sync_to_async(arena_setup)(base_url=f"{fake_endpoints_url}/ok/v1")
    await sync_to_async(ModelEndpointFactory)(base_url=f"{fake_endpoints_url}/html/v1")  # elsewhere
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    await send_prompt(socket, "Hello there, model")
    fragments = await receive_turn(socket)
    await socket.disconnect()
    assert 'class="vote-bar ready"' in fragments[-1]
    assert streamed_text(fragments, "a") == "Hello world"
