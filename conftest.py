"""Fixtures shared by the tests of every app and the end-to-end tests."""

import socket
import uuid
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from inference.tests.fake_endpoints import fake_endpoints_app_create
from inference.tests.live_server import asgi_served


@pytest.fixture(scope="session")
def model_server_app() -> Starlette:
    """The platform's model server over MODELS_DIR, with the built-in model converted (once, ~25 s).

    `app.state.library` holds the loaded models, for tests that look at running generations.
    """
    # Imported here, not at the top: torch and transformers would slow every test run down.
    from django.conf import settings

    from inference.builtin import builtin_model_prepare
    from inference.server import create_app

    builtin_model_prepare(settings.MODELS_DIR)
    return create_app(settings.MODELS_DIR)


@pytest.fixture(scope="session")
def model_server_url(model_server_app: Starlette) -> Iterator[str]:
    """Base URL, ending in /v1, of the model server running in a background thread for the session."""
    with asgi_served(model_server_app) as url:
        yield f"{url}/v1"


@pytest.fixture(scope="session")
def fake_endpoints_app() -> Starlette:
    """Fakes of external model servers; `app.state.last_request` holds the last chat request's headers and body."""
    return fake_endpoints_app_create()


@pytest.fixture(scope="session")
def fake_endpoints_url(fake_endpoints_app: Starlette) -> Iterator[str]:
    """Where the fakes run: `{url}/{behaviour}/v1` is a base URL (behaviours in inference/tests/fake_endpoints.py)."""
    with asgi_served(fake_endpoints_app) as url:
        yield url


@pytest.fixture
def closed_port_url() -> str:
    """A base URL where nothing listens: the port was free a moment ago and was closed again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(autouse=True)
def default_rating_scales(request: pytest.FixtureRequest) -> None:
    """Put back the rating scales a migration seeds, for tests that use the database.

    Transactional tests (live servers, websockets, races) empty every table when they finish,
    rows written by data migrations included, so later tests would find no rating scale.
    This runs the seeding migration's own function again (it is idempotent).
    """
    marker = request.node.get_closest_marker("django_db")
    wants_transactions = (marker is not None and marker.kwargs.get("transaction")) or (
        "transactional_db" in request.fixturenames
    )
    if marker is None and not {"db", "transactional_db"} & set(request.fixturenames):
        return
    request.getfixturevalue("transactional_db" if wants_transactions else "db")
    import importlib

    from django.apps import apps

    importlib.import_module("feedback.migrations.0003_default_rating_scales").scales_add(apps, None)


@pytest.fixture(autouse=True)
def rate_limit_counters_fresh(settings) -> None:
    """Each test starts with empty rate-limit counters: its own key prefix in the cache, so
    counts from earlier tests (same user ids, same 127.0.0.1) never carry over, in local
    memory or in Redis, and nothing else in the cache is touched."""
    settings.RATE_LIMIT_KEY_PREFIX = f"ratelimit-{uuid.uuid4().hex}"
