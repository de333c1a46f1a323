"""Pages of contributor trust: the trollboard (the community's moderators and platform admins),
the public policy page with its effect, and changing the policy (owner and admins)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from community.permissions import can_govern, can_moderate
from community.selectors import community_get
from feedback.models import TrustMode
from feedback.moderation.trust_policy import (
    BOARD_SORTS,
    POLICY_EDITABLE,
    contributor_trust_list,
    moderation_policy_update,
    policy_changes,
    policy_effect,
    policy_for,
)

BOARD_TEMPLATE = "moderation/trust/board.html"
POLICY_TEMPLATE = "moderation/trust/policy.html"
EDIT_TEMPLATE = "moderation/trust/policy_edit.html"
MINIMUMS = ("min_gold", "min_items", "min_votes")


def _whole_number(request: HttpRequest, name: str) -> int:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or len(raw) > 9:
        raise RequestRejected(f"'{name}' must be a whole number of 0 or more.")
    return int(raw)


@vary_on_headers("HX-Request")
def trust_board(request: HttpRequest, slug: str) -> HttpResponse:
    """The community's contributors by low trust, with their scores and the evidence behind them."""
    community = community_get(slug=slug)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not can_moderate(request.user, community):
        raise PermissionDenied("Only this community's moderators and platform admins see its contributors' trust.")
    sort = request.GET.get("sort") or "trust"
    context = {"community": community, "policy": policy_for(community=community), "sorts": BOARD_SORTS, "sort": sort}
    try:
        minimums = {name: _whole_number(request, name) for name in MINIMUMS}
        rows, total = contributor_trust_list(
            community=community,
            sort=sort,
            min_gold_answers=minimums["min_gold"],
            min_consensus_items=minimums["min_items"],
            min_outlier_votes=minimums["min_votes"],
        )
    except RequestRejected as rejected:
        context |= {"error": rejected.message, "rows": [], "total": 0, "minimums": {}, "sort": "trust"}
        template = BOARD_TEMPLATE + ("#board" if request.htmx else "")
        return render(request, template, context, status=rejected.status_code)
    kept = {name: value for name, value in minimums.items() if value}
    sort_links = [(key, label, "?" + urlencode({"sort": key, **kept})) for key, label in BOARD_SORTS.items()]
    context |= {"rows": rows, "total": total, "minimums": minimums, "sort_links": sort_links}
    template = BOARD_TEMPLATE + ("#board" if request.htmx else "")
    return render(request, template, context)


@vary_on_headers("HX-Request")
def trust_policy_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The community's quality gate and trust policy, its effect and its history: public. For
    htmx, the summary card the community page loads."""
    community = community_get(slug=slug)
    context = {
        "community": community,
        "effect": policy_effect(community=community),
        "changes": policy_changes(community=community),
        "may_govern": can_govern(request.user, community),
        "modes": TrustMode,
    }
    template = POLICY_TEMPLATE + ("#summary" if request.htmx else "")
    return render(request, template, context)


def trust_policy_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the policy form; POST: change the policy with a reason (owner and admins only)."""
    community = community_get(slug=slug)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not can_govern(request.user, community):
        raise PermissionDenied("Only the community's owner and admins can change its moderation policy.")
    policy = policy_for(community=community)
    context = {"community": community, "policy": policy, "modes": TrustMode.choices}
    if request.method == "POST":
        values = {name: request.POST[name] for name in POLICY_EDITABLE if name in request.POST}
        try:
            moderation_policy_update(
                actor=request.user, community=community, values=values, reason=request.POST.get("reason")
            )
        except RequestRejected as rejected:
            context |= {"error": rejected.message, "submitted": values, "reason": request.POST.get("reason", "")}
            return render(request, EDIT_TEMPLATE, context, status=rejected.status_code)
        messages.success(request, "The policy changed. The change and its reason are published below.")
        return redirect("feedback:trust_policy", slug=community.slug)
    return render(request, EDIT_TEMPLATE, context)
