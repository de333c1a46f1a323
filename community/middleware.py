"""Requests no view can store: a NUL character in the path, the query string or a form field.

PostgreSQL text cannot hold NUL (0x00); a parameter carrying one would reach a query and fail
there as a 500. Refusing it here answers every page and endpoint the same clear 400, whichever
view it was meant for. (JSON bodies are checked by Django REST framework's own fields.)
"""

from django.http import HttpRequest, HttpResponse, JsonResponse

NUL = "\x00"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
MESSAGE = "The request holds a NUL character (%00), which no text here may contain."


def _holds_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    if any(NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()):
        return True
    if request.method == "POST" and request.content_type in FORMS:
        return any(NUL in key or any(NUL in value for value in values) for key, values in request.POST.lists())
    return False


class RejectNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _holds_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": MESSAGE}, status=400)
            return HttpResponse(MESSAGE, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
