"""Fixtures for the inference tests: fake external model servers and a port nobody listens on."""

import socket
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from inference.tests.fake_endpoints import fake_endpoints_app_create
from inference.tests.live_server import asgi_served


@pytest.fixture(scope="session")
def fake_endpoints_app() -> Starlette:
    """The fake servers' app; `app.state.last_request` holds the last chat request's headers and body."""
    return fake_endpoints_app_create()


@pytest.fixture(scope="session")
def fake_endpoints_url(fake_endpoints_app: Starlette) -> Iterator[str]:
    """Where the fakes run; append `/{behaviour}/v1` for a base URL."""
    with asgi_served(fake_endpoints_app) as url:
        yield url


@pytest.fixture
def closed_port_url() -> str:
    """A base URL where nothing listens: the port was free a moment ago and was closed again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
