"""The answer for a path under /api/ that names no endpoint: a JSON 404, never an HTML page.

Routed last (config/urls.py), so every real endpoint matches first; an id that is not a number
(`/api/v1/battles/abc/`) lands here too, since the routes take integers. A path that lacks only
its trailing slash is answered with the right path, not redirected: a redirect would turn a
POST into a GET and drop its body.
"""

from django.http import JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def api_not_found(request, path: str = "") -> JsonResponse:
    detail = "No such API endpoint. The endpoints are listed in the OpenAPI schema at /api/schema/."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"No such API endpoint. Did you mean {request.path}/ (with a trailing slash)?"
    return JsonResponse({"detail": detail}, status=404)
