"""Public pages about communities, and joining one (accepting its data licence)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from community.errors import RequestRejected
from community.permissions import can_moderate
from community.selectors import community_get, community_list, membership_get, sanctions_of
from community.services import appeal_submit, membership_accept_licence


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "community/home.html", {"communities": community_list()})


def community_page(request: HttpRequest, slug: str) -> HttpResponse:
    community = community_get(slug=slug)
    membership = membership_get(user=request.user, community=community)
    return render(
        request,
        "community/community.html",
        {
            "community": community,
            "membership": membership,
            "member_count": community.memberships.count(),
            "may_moderate": can_moderate(request.user, community),
        },
    )


@login_required
def community_join(request: HttpRequest, slug: str) -> HttpResponse:
    """GET shows the data licence; POST accepts it and joins."""
    community = community_get(slug=slug)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.method == "POST":
        membership_accept_licence(user=request.user, community=community)
        messages.success(
            request, f"Welcome to {community.name}. Your contributions are shared under {community.licence_name}."
        )
        if next_url:
            return redirect(next_url)
        return redirect("feedback:arena", slug=community.slug)
    membership = membership_get(user=request.user, community=community)
    return render(request, "community/join.html", {"community": community, "membership": membership, "next": next_url})


@login_required
def my_sanctions(request: HttpRequest) -> HttpResponse:
    """The person's warnings, suspensions and bans: why, until when, and the appeal form."""
    return render(request, "community/sanctions.html", {"sanctions": sanctions_of(user=request.user)})


@require_POST
@login_required
def sanction_appeal(request: HttpRequest, sanction_id: int) -> HttpResponse:
    """Appeal once against a suspension or a ban (a second appeal is a 409)."""
    try:
        appeal_submit(user=request.user, sanction_id=sanction_id, text=request.POST.get("text"))
    except RequestRejected as rejected:
        context = {
            "sanctions": sanctions_of(user=request.user),
            "error": rejected.message,
            "error_sanction": sanction_id,
            "posted_text": request.POST.get("text", ""),
        }
        return render(request, "community/sanctions.html", context, status=rejected.status_code)
    messages.success(request, "Your appeal was sent. A moderator will decide; the answer appears here.")
    return redirect("community:my_sanctions")
