"""Redis unreachable: the API answers JSON 503 with Retry-After, pages that need Redis (log-in)
show the 503 page, pages that do not need it keep working, websocket frames get an error
frame. The cache is a real Redis cache pointed at a port where nothing listens, so this runs
the same with and without REDIS_URL."""

import json
import socket
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from psycopg_pool import PoolTimeout
from rest_framework.authtoken.models import Token

from community.degraded import DEGRADED_MESSAGE, RETRY_AFTER_SECONDS, ServiceDegradedMiddleware
from community.tests.factories import CommunityFactory, UserFactory
from config.asgi import application
from feedback.models import Battle, Conversation
from feedback.tests.factories import arena_setup, battle_ready


@pytest.fixture
def redis_down(settings):
    """Django's Redis cache at a closed port; the in-memory channel layer (the websocket test
    needs its own messages delivered)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def assert_degraded_json(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {"detail": DEGRADED_MESSAGE}


@pytest.mark.django_db
class TestHttp:
    def test_an_anonymous_api_read_is_a_json_503_with_retry_after(self, client, redis_down):
        assert_degraded_json(client.get("/api/v1/leaderboards/"))
        assert_degraded_json(client.get("/api/v1/releases/"))

    def test_a_vote_with_a_token_is_a_json_503_and_nothing_changes(self, client, redis_down):
        battle = battle_ready()
        token = Token.objects.create(user=battle.judge)
        response = client.post(
            f"/api/v1/battles/{battle.pk}/vote/",
            {"winner": "model_a", "idempotency_key": str(uuid.uuid4())},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token.key}",
        )
        assert_degraded_json(response)
        assert Battle.objects.get(pk=battle.pk).status == Battle.Status.READY

    def test_log_in_shows_the_503_page(self, client, redis_down):
        UserFactory(email="sam@example.org")
        response = client.post("/accounts/login/", {"login": "sam@example.org", "password": "a-long-test-password"})
        assert response.status_code == 503
        assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert response["Content-Type"] == "text/html; charset=utf-8"
        page = response.content.decode()
        assert '<h1 id="degraded-title">Running in a degraded state</h1>' in page
        assert DEGRADED_MESSAGE in page
        assert "Traceback" not in page
        assert "_auth_user_id" not in client.session

    def test_pages_that_do_not_need_redis_keep_working(self, client, redis_down):
        community = CommunityFactory()
        assert client.get("/").status_code == 200
        assert client.get(f"/c/{community.slug}/").status_code == 200
        assert client.get("/leaderboards/").status_code == 200
        assert client.get("/releases/").status_code == 200

    def test_no_free_database_connection_is_a_503_page_rendered_without_the_database(self):
        request = RequestFactory().get("/leaderboards/")
        middleware = ServiceDegradedMiddleware(lambda request: None)
        response = middleware.process_exception(request, PoolTimeout("couldn't get a connection after 10.00 sec"))
        assert response.status_code == 503
        assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert DEGRADED_MESSAGE in response.content.decode()
        assert middleware.process_exception(request, ValueError("not ours")) is None


@pytest.mark.django_db(transaction=True)
async def test_an_arena_prompt_gets_an_error_frame_and_the_socket_stays_open(redis_down):
    community, member, _, _ = await sync_to_async(arena_setup)()
    client = Client()
    await sync_to_async(client.force_login)(member)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", b"http://localhost")]
    socket_ = WebsocketCommunicator(application, f"/ws/arena/{community.slug}/", headers=headers)
    connected, _ = await socket_.connect()
    assert connected
    for _ in range(2):
        await socket_.send_to(text_data=json.dumps({"prompt": "Hello", "conversation": "", "HEADERS": {}}))
        notice = await socket_.receive_from(timeout=10)
        assert 'id="arena-notice"' in notice and DEGRADED_MESSAGE in notice
    assert await sync_to_async(Conversation.objects.count)() == 0
    await socket_.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_leaderboard_socket_whose_channel_layer_is_down_is_closed_with_1013(settings):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
        }
    }
    socket_ = WebsocketCommunicator(application, "/ws/leaderboards/", headers=[(b"origin", b"http://localhost")])
    assert await socket_.connect(timeout=10) == (False, 1013)


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis channel layer is configured only with REDIS_URL")
def test_the_channel_layers_reads_outlast_its_blocking_pop():
    """channels_redis waits for messages with a blocking pop of `brpop_timeout` (5 s); with
    redis-py's default read timeout, also 5 s, the read timed out first and an idle socket died
    (closed 1013 after 5 s)."""
    layer = get_channel_layer()
    assert [host["socket_timeout"] > layer.brpop_timeout for host in layer.hosts] == [True]
