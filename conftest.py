"""Fixtures shared by the tests of every app and the end-to-end tests."""

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

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
