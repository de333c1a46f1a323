"""When a backing service is down: a 503 that says so, never a 500 with a traceback.

Redis holds the cache (the API's throttles, the rate limits, allauth's log-in limits) and the
Celery broker; PostgreSQL's connections come from a bounded pool. When Redis cannot be reached,
or no database connection frees up within DATABASE_POOL_TIMEOUT, the request cannot be served
safely, and `ServiceDegradedMiddleware` answers it, in one place for every page and endpoint:

- under /api/: JSON `{"detail": ...}` with status 503 and a Retry-After header;
- pages: templates/503.html with status 503 and the same header.

Pages and reads that need neither keep working (the leaderboards, the data page, community
pages). What fails closed and why is in docs/operations.md. Websocket frames get the same
message from `community.websocket`.
"""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from kombu.exceptions import OperationalError as BrokerUnreachable
from psycopg_pool import PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Redis refused the connection or did not answer in time (the cache's socket timeouts); the
# Celery broker (Redis) could not take a task; no database connection came free in time.
SERVICE_ERRORS = (RedisConnectionError, RedisTimeoutError, BrokerUnreachable, PoolTimeout)
# Seconds a client is asked to wait before it tries again.
RETRY_AFTER_SECONDS = 30
DEGRADED_MESSAGE = (
    "Feedback Commons is running in a degraded state: a service it depends on is not answering. "
    "Nothing was lost; try again in a minute."
)


def degraded_response(request: HttpRequest, error: BaseException) -> HttpResponse:
    """The 503 for `request`: JSON under /api/, the 503 page otherwise."""
    logger.error("Service degraded while serving %s %s: %r", request.method, request.path, error)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": DEGRADED_MESSAGE}, status=503)
    elif isinstance(error, PoolTimeout):
        # Rendering with the request would read the session and the user: more database work.
        response = HttpResponse(render_to_string("503.html", {"message": DEGRADED_MESSAGE}), status=503)
    else:
        response = render(request, "503.html", {"message": DEGRADED_MESSAGE}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ServiceDegradedMiddleware:
    """Turns SERVICE_ERRORS raised by a view (or by DRF's throttles inside it) into a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SERVICE_ERRORS):
            return degraded_response(request, exception)
        return None
