"""Everything a leaderboard's board (the part of the page that changes with the scope and with
each new snapshot) needs to render: the page, the htmx fragment and the websocket update all
render the board from this one context."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from evaluation.leaderboards.presentation import heat_maps, interval_plot, table_rows
from evaluation.leaderboards.scopes import Scope
from evaluation.leaderboards.selectors import scope_skip_reason, snapshot_history
from evaluation.models import LeaderboardSnapshot

BOARD_TEMPLATE = "evaluation/leaderboards/board.html"


def scope_url(scope: Scope) -> str:
    """The page of a scope (the community in the path, the category and style in the query)."""
    if scope.community is None:
        path = reverse("evaluation:leaderboards")
    else:
        path = reverse("evaluation:community_leaderboard", kwargs={"slug": scope.community.slug})
    query = scope.query()
    return f"{path}?{query}" if query else path


def socket_path(scope: Scope, snapshot: LeaderboardSnapshot | None) -> str:
    """Where a page of this scope listens for new snapshots; `shown` is the snapshot it shows,
    so a snapshot published while the page loaded is sent as soon as the socket opens."""
    params = [scope.query()]
    if scope.community is not None:
        params.insert(0, f"community={scope.community.slug}")
    if snapshot is not None:
        params.append(f"shown={snapshot.pk}")
    query = "&".join(param for param in params if param)
    return "/ws/leaderboards/" + (f"?{query}" if query else "")


def board_context(scope: Scope, snapshot: LeaderboardSnapshot | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "scope": scope,
        "snapshot": snapshot,
        "min_category_battles": settings.LEADERBOARD_MIN_CATEGORY_BATTLES,
        "refresh_minutes": settings.LEADERBOARD_REFRESH_MINUTES,
    }
    skipped = scope_skip_reason(scope)
    if skipped is not None:  # the engine refused this scope's battles: say so, not "too few battles"
        context["not_fitted"] = {"refresh": skipped[0], "reason": skipped[1]}
    if snapshot is None:
        return context
    rows = table_rows(snapshot.data)
    coefficients = snapshot.data.get("style_coefficients") or {}
    context.update(
        {
            "rows": rows,
            "plot": interval_plot(rows),
            "heat_maps": heat_maps(snapshot.data),
            "style_coefficients": sorted(coefficients.items()),
            "history": snapshot_history(scope),
            "json_url": reverse("evaluation:api-leaderboard-snapshot", kwargs={"snapshot_id": snapshot.pk}),
            "provisional_threshold": snapshot.parameters.get("min_battles"),
        }
    )
    return context
