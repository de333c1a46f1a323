"""Public pages about communities, joining one (accepting its data licence), one's sanctions,
and researcher access (applying; the admins' console that decides)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community.errors import NotAllowed, RequestRejected
from community.permissions import can_moderate
from community.selectors import (
    access_audit_recent,
    community_get,
    community_list,
    membership_get,
    researcher_access_decider_check,
    researcher_applications_of,
    researcher_applications_pending,
    sanctions_of,
)
from community.services import (
    RESEARCHER_AFFILIATION_MAX_CHARS,
    RESEARCHER_PURPOSE_MAX_CHARS,
    RESEARCHER_TERMS_VERSION,
    appeal_submit,
    membership_accept_licence,
    researcher_application_decide,
    researcher_application_submit,
    user_has_researcher_access,
)


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


# Researcher access


def _researcher_access_render(
    request: HttpRequest, *, error: str = "", status: int = 200, posted: dict | None = None
) -> HttpResponse:
    applications = list(researcher_applications_of(user=request.user))
    context = {
        "applications": applications,
        "pending": next((application for application in applications if application.is_pending), None),
        "has_access": user_has_researcher_access(request.user),
        "error": error,
        "posted": posted or {},
        "terms_version": RESEARCHER_TERMS_VERSION,
        "purpose_max_chars": RESEARCHER_PURPOSE_MAX_CHARS,
        "affiliation_max_chars": RESEARCHER_AFFILIATION_MAX_CHARS,
    }
    return render(request, "community/researcher_access.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def researcher_access(request: HttpRequest) -> HttpResponse:
    """GET: the person's access, their applications and the form; POST: apply."""
    if request.method == "POST":
        try:
            researcher_application_submit(
                user=request.user,
                purpose=request.POST.get("purpose"),
                affiliation=request.POST.get("affiliation"),
                is_terms_accepted=request.POST.get("terms") == "accept",
            )
        except RequestRejected as rejected:
            return _researcher_access_render(
                request, error=rejected.message, status=rejected.status_code, posted=request.POST
            )
        messages.success(
            request, "Your application was sent. An admin will decide; you get an e-mail and the answer shows here."
        )
        return redirect("community:researcher_access")
    return _researcher_access_render(request)


def platform_admins_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first; then anyone but a platform admin gets a 403 page that says why."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            researcher_access_decider_check(user=request.user)
            return view(request, *args, **kwargs)
        except NotAllowed as refused:
            return render(request, "community/refused.html", {"message": refused.message}, status=403)

    return wrapped


def _review_render(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "applications": list(researcher_applications_pending(viewer=request.user)),
        "decisions": list(access_audit_recent(viewer=request.user)),
        "error": error,
    }
    return render(request, "community/researcher_review.html", context, status=status)


@require_GET
@platform_admins_only
def researcher_access_review(request: HttpRequest) -> HttpResponse:
    """The admins' console: applications waiting for a decision, and the latest decisions."""
    return _review_render(request)


@require_POST
@platform_admins_only
def researcher_access_decide(request: HttpRequest, application_id: int) -> HttpResponse:
    is_approved = {"approve": True, "refuse": False}.get(request.POST.get("decision", ""))
    try:
        application = researcher_application_decide(
            actor=request.user,
            application_id=application_id,
            is_approved=is_approved,
            reason=request.POST.get("reason"),
            applicant_page_url=request.build_absolute_uri(reverse("community:researcher_access")),
        )
    except NotAllowed:
        raise
    except RequestRejected as rejected:
        return _review_render(request, error=rejected.message, status=rejected.status_code)
    verb = "Approved" if is_approved else "Refused"
    messages.success(request, f"{verb}: {application.user} was told by e-mail.")
    return redirect("community:researcher_access_review")
