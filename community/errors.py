"""Errors a service raises when a request cannot be carried out, with the HTTP status that
says why. Views and APIs turn them into a clear 4xx; nothing is written when one is raised."""

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class RequestRejected(Exception):
    """Bad input: the message tells the user what to change."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the status (none, except for RateLimited)."""
        return {}


class NotAllowed(RequestRejected):
    status_code = 403


class Conflict(RequestRejected):
    status_code = 409


class Unavailable(RequestRejected):
    """The request is fine but the platform cannot serve it right now (no models up)."""

    status_code = 503


class RateLimited(RequestRejected):
    """Too many requests of one kind in a while: answered 429 with a Retry-After header."""

    status_code = 429

    def __init__(self, retry_after: int, message: str):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def api_exception_handler(exc, context):
    """DRF's handler, plus the service errors above, always as {"detail": message}."""
    if isinstance(exc, RequestRejected):
        return Response({"detail": exc.message}, status=exc.status_code, headers=exc.headers)
    if isinstance(exc, Http404):
        return Response({"detail": str(exc) or "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.ValidationError):
        return Response({"detail": "The request is not valid.", "errors": exc.detail}, status=400)
    return exception_handler(exc, context)
