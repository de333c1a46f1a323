"""The arena's HTML pages: the arena itself and the vote (an htmx POST)."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from community.selectors import community_get, sanction_in_force, sanction_refusal_message, user_may_contribute
from feedback.arena.selectors import battle_shown_for, battle_threads
from feedback.arena.services import battle_vote_cast
from feedback.models import Battle
from feedback.moderation.ratelimits import rate_limit

TEMPLATE = "feedback/arena.html"


@login_required
def arena_page(request: HttpRequest, slug: str) -> HttpResponse:
    community = community_get(slug=slug)
    if not user_may_contribute(user=request.user, community=community):
        messages.info(request, f"Accept the data licence of {community.name} to join its arena.")
        return redirect(f"{reverse('community:join', args=[community.slug])}?next={request.path}")
    sanction = sanction_in_force(user=request.user, community=community)
    if sanction is not None:
        context = {"message": sanction_refusal_message(sanction), "community": community}
        return render(request, "community/sanctioned.html", context, status=403)
    # A reload shows the latest battle waiting for the volunteer's vote (or the one asked for,
    # `?battle=`, linked from My data); "New battle" (`?new=1`) opens an empty arena.
    battle = None
    if not request.GET.get("new") or request.GET.get("battle"):
        battle = battle_shown_for(judge=request.user, community=community, battle_id=request.GET.get("battle"))
    return render(request, TEMPLATE, _arena_context(community, battle))


def _arena_context(community, battle: Battle | None) -> dict:
    threads = battle_threads(battle=battle) if battle else {"a": [], "b": []}
    names_shown = battle is not None and battle.conversation.names_revealed_at is not None
    panes = [
        {"side": side, "turns": threads[side], "name": endpoint.name if names_shown else None}
        for side, endpoint in (("a", battle and battle.model_a), ("b", battle and battle.model_b))
    ]
    return {
        "community": community,
        "winners": Battle.Winner.choices,
        "battle": battle,
        "panes": panes,
        "idempotency_key": uuid.uuid4(),
    }


@require_POST
@vary_on_headers("HX-Request")
def battle_vote(request: HttpRequest, battle_id: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return _vote_rejected(request, "Log in to vote.", status=403)
    try:
        rate_limit(request, "votes")
        battle = battle_vote_cast(
            judge=request.user,
            battle_id=battle_id,
            winner=request.POST.get("winner"),
            idempotency_key=request.POST.get("idempotency_key"),
        )
    except RequestRejected as rejected:
        response = _vote_rejected(request, rejected.message, status=rejected.status_code)
        for header, value in rejected.headers.items():
            response[header] = value
        return response
    except Http404:
        return _vote_rejected(request, "No such battle among yours.", status=404)
    if not request.htmx:
        return redirect("feedback:arena", slug=battle.community.slug)
    return render(request, f"{TEMPLATE}#vote_result", {"battle": battle})


def _vote_rejected(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    response = render(request, f"{TEMPLATE}#notice", {"message": message}, status=status)
    response["HX-Reswap"] = "none"
    return response
