"""Hostile input is refused at the edges with a clear 4xx or an error frame, never a 500 or a
dropped socket: JSON nested thousands of levels deep (RecursionError), NUL characters
(PostgreSQL text cannot hold them), in HTTP bodies, donated files and websocket frames."""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from community.errors import RequestRejected
from community.input_limits import DEPTH_MESSAGE, JSON_MAX_DEPTH, NUL_MESSAGE, json_depth_exceeds, json_holds_nul
from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from config.asgi import application
from feedback.donations.services import donation_upload
from feedback.models import Battle, Conversation, Donation, Message, TaskAssignment
from feedback.tests.factories import arena_setup, battle_ready
from feedback.tests.test_donations_support import sharegpt_export


def nested(levels: int, inner: str = '"x"') -> str:
    return "[" * levels + inner + "]" * levels


def reviewer_for(battle):
    return MembershipFactory(community=battle.community, user=UserFactory()).user


class TestLimits:
    """The checks themselves, on raw bytes."""

    @pytest.mark.parametrize(
        ("raw", "exceeds"),
        [
            (nested(JSON_MAX_DEPTH).encode(), False),
            (nested(JSON_MAX_DEPTH + 1).encode(), True),
            (('{"a":' * 5000 + "1" + "}" * 5000).encode(), True),
            # Brackets inside strings are text, not nesting; escaped quotes do not end a string.
            (json.dumps({"text": "[" * 5000, "more": '\\"[[[' * 100}).encode(), False),
            (("[1," * 100).encode(), True),  # not valid JSON, and still too deep
            (b'"' + b'\\"' * 10_000 + b"[" * 100, False),  # one string left open swallows the rest
        ],
    )
    def test_depth(self, raw, exceeds):
        assert json_depth_exceeds(raw) is exceeds

    @pytest.mark.parametrize(
        ("raw", "holds"),
        [
            (b'{"text": "a\\u0000b"}', True),
            (b'{"text": "a\x00b"}', True),
            (b'{"text": "a\\\\\\u0000b"}', True),  # an escaped backslash, then the escape of NUL
            (b'{"text": "a\\\\u0000b"}', False),  # the six characters \u0000 as text
            (b'{"text": "a\\u00000"}', True),
            (b'{"text": "a\\u0001b"}', False),
        ],
    )
    def test_nul(self, raw, holds):
        assert json_holds_nul(raw) is holds


@pytest.mark.django_db
class TestHttp:
    def test_a_vote_nested_20000_levels_deep_is_a_400_and_nothing_changes(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        body = f'{{"winner": "model_a", "idempotency_key": "{uuid.uuid4()}", "extra": {nested(20_000)}}}'
        response = client.post(f"/api/v1/battles/{battle.pk}/vote/", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json() == {"detail": DEPTH_MESSAGE}
        assert Battle.objects.get(pk=battle.pk).status == Battle.Status.READY

    def test_a_task_answer_nested_5000_levels_deep_is_a_400_and_writes_nothing(self, client):
        battle = battle_ready()
        client.force_login(reviewer_for(battle))
        task = client.post("/api/v1/tasks/next/", {"kind": "rate"}, content_type="application/json").json()
        body = f'{{"ratings": {nested(5000)}}}'
        response = client.post(f"/api/v1/tasks/{task['id']}/answer/", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json() == {"detail": DEPTH_MESSAGE}
        assert TaskAssignment.objects.get(pk=task["id"]).status == "reserved"

    def test_a_nul_escape_in_a_json_body_is_a_400_and_writes_nothing(self, client):
        battle = battle_ready()
        client.force_login(reviewer_for(battle))
        task = client.post("/api/v1/tasks/next/", {"kind": "correct"}, content_type="application/json").json()
        messages_before = Message.objects.count()
        response = client.post(
            f"/api/v1/tasks/{task['id']}/answer/", '{"text": "Better\\u0000answer"}', content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json() == {"detail": NUL_MESSAGE}
        assert TaskAssignment.objects.get(pk=task["id"]).status == "reserved"
        assert Message.objects.count() == messages_before

    def test_the_text_backslash_u0000_is_not_a_nul_and_is_kept(self, client):
        battle = battle_ready()
        client.force_login(reviewer_for(battle))
        task = client.post("/api/v1/tasks/next/", {"kind": "correct"}, content_type="application/json").json()
        body = '{"text": "Write \\\\u0000 for NUL"}'
        response = client.post(f"/api/v1/tasks/{task['id']}/answer/", body, content_type="application/json")
        assert response.status_code == 201
        assert Message.objects.filter(text="Write \\u0000 for NUL").count() == 1

    def test_a_page_gets_plain_text_and_a_json_suffix_type_is_checked_too(self, client):
        response = client.post("/accounts/login/", nested(100), content_type="application/merge-patch+json")
        assert response.status_code == 400
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode() == DEPTH_MESSAGE


@pytest.mark.django_db
class TestDonatedFiles:
    def test_a_nul_in_a_donated_file_is_a_400_naming_where_and_nothing_is_stored(self, client):
        client.force_login(UserFactory())
        raw = sharegpt_export(
            [("user", "Hello"), ("assistant", "Hi")], [("user", "Fine"), ("assistant", "Bad\x00 one")]
        )
        response = client.post("/donate/", {"file": SimpleUploadedFile("c.json", raw, content_type="application/json")})
        assert response.status_code == 400
        assert (
            "Conversation 2, turn 2 holds a NUL character (\\u0000), which cannot be stored. "
            "Remove it from the file and upload it again."
        ) in response.content.decode()
        assert Donation.objects.count() == 0

    def test_a_nul_in_a_donated_title_is_refused_too(self, client):
        raw = sharegpt_export([("user", "Hello"), ("assistant", "Hi")], titles=["My\x00 title"])
        with pytest.raises(RequestRejected) as refused:
            donation_upload(owner=UserFactory(), raw=raw)
        assert refused.value.message == (
            "The title of conversation 1 holds a NUL character (\\u0000), which cannot be stored. "
            "Remove it from the file and upload it again."
        )
        assert Donation.objects.count() == 0


async def arena_socket(user, slug: str) -> WebsocketCommunicator:
    client = Client()
    await sync_to_async(client.force_login)(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
    ]
    return WebsocketCommunicator(application, f"/ws/arena/{slug}/", headers=headers)


@pytest.mark.django_db(transaction=True)
class TestWebsocketFrames:
    async def test_a_nul_or_a_deep_frame_gets_a_notice_and_the_socket_stays_open(self):
        community, member, _, _ = await sync_to_async(arena_setup)()
        socket = await arena_socket(member, community.slug)
        connected, _ = await socket.connect()
        assert connected
        await socket.send_to(text_data=json.dumps({"prompt": "Hello\x00there", "conversation": "", "HEADERS": {}}))
        notice = await socket.receive_from(timeout=10)
        assert NUL_MESSAGE in notice and 'id="arena-notice"' in notice
        await socket.send_to(text_data=f'{{"prompt": {nested(20_000)}}}')
        notice = await socket.receive_from(timeout=10)
        assert DEPTH_MESSAGE in notice
        await socket.send_to(text_data='{"prompt": "raw\x00nul"}')
        assert NUL_MESSAGE in await socket.receive_from(timeout=10)
        assert await socket.receive_nothing(timeout=0.2)
        assert await sync_to_async(Conversation.objects.count)() == 0
        await socket.disconnect()

    async def test_a_leaderboard_socket_with_a_nul_in_its_query_is_closed_with_4400(self):
        await sync_to_async(CommunityFactory)()
        socket = WebsocketCommunicator(
            application, "/ws/leaderboards/?community=a%00b", headers=[(b"origin", b"http://localhost")]
        )
        connected, code = await socket.connect()
        assert (connected, code) == (False, 4400)
