"""Arena leaderboard pages: public, no login. One view renders a whole page or, for htmx, the
part that a category or style switch replaces."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from community.models import Community
from community.selectors import community_get, community_list
from evaluation.leaderboards import counting
from evaluation.leaderboards.board import BOARD_TEMPLATE, board_context, scope_url, socket_path
from evaluation.leaderboards.scopes import Scope
from evaluation.leaderboards.selectors import (
    refresh_get,
    refresh_latest,
    scope_categories,
    scope_check_known,
    scope_parse,
    snapshot_latest,
    snapshots_latest,
)
from evaluation.leaderboards.services import (
    fit_parameters_described,
    leaderboard_may_refresh,
    leaderboards_refresh_start,
)
from evaluation.models import LeaderboardCategory, LeaderboardSnapshot

METHOD_TEMPLATE = "evaluation/leaderboards/method.html"
REFRESH_TEMPLATE = "evaluation/leaderboards/refresh.html"


def _wants_fragment(request: HttpRequest) -> bool:
    # A history restore asks for the whole page again, so it gets the page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _switches(scope: Scope) -> dict:
    """The category and style links of a board, each with its page URL."""
    categories = [(scope.with_category(LeaderboardCategory.OVERALL), "All battles")]
    for category, value in scope_categories(community=scope.community):
        label = f"{LeaderboardCategory(category).label}: {value}"
        categories.append((scope.with_category(category, value), label))
    if scope.category != LeaderboardCategory.OVERALL and (scope.category, scope.value) not in [
        (c.category, c.value) for c, _ in categories
    ]:
        categories.append((scope, scope.category_label))
    return {
        "categories": [
            {"url": scope_url(option), "label": label, "active": option == scope} for option, label in categories
        ],
        "styles": [
            {"url": scope_url(scope.with_style(False)), "label": "Off", "active": not scope.style_control},
            {"url": scope_url(scope.with_style(True)), "label": "On", "active": scope.style_control},
        ],
    }


def _board_page(request: HttpRequest, community: Community | None) -> HttpResponse:
    base = Scope(community=community)
    try:
        scope = scope_parse(community=community, params=request.GET)
    except RequestRejected as rejected:
        context = {"community": community, "scope": base, "error": rejected.message, **_switches(base)}
        return render(request, BOARD_TEMPLATE, context, status=rejected.status_code)
    scope_check_known(scope)
    snapshot = snapshot_latest(scope)
    context = {
        **board_context(scope, snapshot),
        **_switches(scope),
        "community": community,
        "socket_path": socket_path(scope, snapshot),
        "method_url": _method_url(community),
    }
    if _wants_fragment(request):
        return render(request, f"{BOARD_TEMPLATE}#live", context)
    may_refresh = leaderboard_may_refresh(user=request.user, community=community)
    context.update({"may_refresh": may_refresh, "refresh": refresh_latest() if may_refresh else None})
    if community is None:
        context["communities"] = _communities_with_leaders()
    return render(request, BOARD_TEMPLATE, context)


def _communities_with_leaders() -> list[tuple[Community, dict | None]]:
    """Each community with its overall leaderboard's leading model, battles and date."""
    latest_ids = [
        s.pk
        for s in snapshots_latest(every_community=True)
        if s.community_id and s.category == LeaderboardCategory.OVERALL and not s.style_control
    ]
    by_community = {s.community_id: s for s in LeaderboardSnapshot.objects.filter(pk__in=latest_ids)}
    rows = []
    for community in community_list():
        snapshot = by_community.get(community.pk)
        summary = None
        if snapshot is not None:
            ranked = [r["model"] for r in snapshot.data.get("ratings", []) if not r.get("provisional")]
            summary = {
                "leader": ranked[0] if ranked else None,
                "battles_counted": snapshot.battles_counted,
                "created_at": snapshot.created_at,
            }
        rows.append((community, summary))
    return rows


def _method_url(community: Community | None) -> str:
    if community is None:
        return reverse("evaluation:leaderboards_method")
    return reverse("evaluation:community_leaderboard_method", kwargs={"slug": community.slug})


@require_safe
@vary_on_headers("HX-Request")
def leaderboards_home(request: HttpRequest) -> HttpResponse:
    """Every community's battles together, and the list of communities."""
    return _board_page(request, None)


@require_safe
@vary_on_headers("HX-Request")
def community_leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    return _board_page(request, community_get(slug=slug))


@require_safe
def leaderboards_method(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """How a leaderboard is counted, and every model variant ever tested here."""
    community = community_get(slug=slug) if slug is not None else None
    context = {
        "community": community,
        "rules": counting.COUNTING_RULES,
        "variants": counting.model_variants_tested(community=community),
        "board_url": scope_url(Scope(community=community)),
        **fit_parameters_described(community=community),
    }
    return render(request, METHOD_TEMPLATE, context)


@require_POST
def leaderboards_refresh_request(request: HttpRequest) -> HttpResponse:
    """ "Recompute now": queue a refresh (or join the one in flight) and go back to the page."""
    slug = request.POST.get("community") or None
    community = Community.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if slug and community is None:
        return HttpResponse("No such community.", status=400, content_type="text/plain")
    try:
        refresh = leaderboards_refresh_start(actor=request.user, community=community)
    except RequestRejected as rejected:
        return HttpResponse(rejected.message, status=rejected.status_code, content_type="text/plain")
    if _wants_fragment(request):
        return render(request, f"{REFRESH_TEMPLATE}#progress", {"refresh": refresh})
    messages.success(request, "Recomputation queued: the leaderboards update when it finishes.")
    return redirect(scope_url(Scope(community=community)))


@require_safe
def leaderboards_refresh_status(request: HttpRequest, refresh_id: int) -> HttpResponse:
    """A refresh's progress (polled by the page while it runs)."""
    refresh = refresh_get(refresh_id=refresh_id)
    template = f"{REFRESH_TEMPLATE}#progress" if _wants_fragment(request) else REFRESH_TEMPLATE
    return render(request, template, {"refresh": refresh})
