"""The API-token page, /me/tokens/: list one's tokens, make one (shown once), revoke one.

Any logged-in person may make tokens for their own account (which endpoints a token opens
depends on the account's role). htmx requests get the page's section, others the whole page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from feedback.researchapi.selectors import api_token_list, pool_may_read
from feedback.researchapi.services import ACTIVE_TOKENS_MAX, TOKEN_NAME_MAX_CHARS, api_token_create, api_token_revoke

TEMPLATE = "feedback/researchapi/tokens.html"


def _render(request: HttpRequest, *, status: int = 200, **extra) -> HttpResponse:
    context = {
        "tokens": api_token_list(owner=request.user),
        "may_read_pool": pool_may_read(user=request.user),
        "name_max_chars": TOKEN_NAME_MAX_CHARS,
        "tokens_max": ACTIVE_TOKENS_MAX,
        **extra,
    }
    template = f"{TEMPLATE}#section" if request.htmx else TEMPLATE
    return render(request, template, context, status=status)


@never_cache
@login_required
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def api_tokens_page(request: HttpRequest) -> HttpResponse:
    """GET lists the tokens; POST makes one and shows it, this once (the response is never cached)."""
    if request.method == "GET":
        return _render(request)
    try:
        token, key = api_token_create(user=request.user, name=request.POST.get("name", ""))
    except RequestRejected as rejected:
        return _render(request, status=rejected.status_code, error=rejected.message)
    return _render(request, status=201, created=token, created_key=key)


@login_required
@vary_on_headers("HX-Request")
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_revoke(user=request.user, token_id=token_id)
    notice = f"Token “{token.name}” (…{token.last_four}) is revoked: requests that send it are refused from now on."
    if request.htmx:
        return _render(request, notice=notice)
    messages.success(request, notice)
    return redirect("researchapi:tokens")
