"""Requests no view can store or parse, refused before any view sees them with one clear 400.

- A NUL character in the path, the query string, a form field or a JSON body (raw, or as the
  escape \\u0000). PostgreSQL text cannot hold NUL (0x00); a parameter carrying one would reach a
  query and fail there as a 500.
- A JSON body nested deeper than `community.input_limits.JSON_MAX_DEPTH`: Python's parser
  raises RecursionError on thousands of levels, another 500.

Checked here, once, whichever page or endpoint the request was meant for; the JSON checks run
on the raw body before Django REST framework parses it (`community/input_limits.py`).
"""

from django.http import HttpRequest, HttpResponse, JsonResponse

from community.input_limits import NUL_MESSAGE, json_problem

NUL = "\x00"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _problem(request: HttpRequest) -> str | None:
    """Why the request is refused, or None."""
    if NUL in request.path:
        return NUL_MESSAGE
    if any(NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()):
        return NUL_MESSAGE
    if request.method == "POST" and request.content_type in FORMS:
        if any(NUL in key or any(NUL in value for value in values) for key, values in request.POST.lists()):
            return NUL_MESSAGE
    elif _is_json(request.content_type or ""):
        return json_problem(request.body)
    return None


class RejectNulCharactersMiddleware:
    """NUL characters anywhere, and JSON bodies nested too deeply: 400 (JSON under /api/)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = _problem(request)
        if problem is not None:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": problem}, status=400)
            return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
