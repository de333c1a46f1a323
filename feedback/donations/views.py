"""Donated conversations: upload an export, review each conversation (remove, restore or edit
turns, see personal information found in them), donate it to a community, or delete it.

Pages need a login; a POST without one gets a 403. htmx requests to change a turn get just that
turn back (and the totals out of band); without JavaScript every form posts and redirects.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from feedback.donations import services
from feedback.donations.selectors import (
    donation_communities_for,
    donation_get_for_owner,
    donation_list_for_owner,
    donation_review,
)
from feedback.models import Donation
from feedback.moderation.ratelimits import rate_limit

LIST_TEMPLATE = "feedback/donations/list.html"
REVIEW_TEMPLATE = "feedback/donations/review.html"
REFUSED_TEMPLATE = "feedback/donations/refused.html"


def _login_required_or_403(view):
    """GET without a login goes to the login page; a POST without one is refused."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method == "POST":
            return _rejected(request, "Log in to donate conversations.", status=403)
        return redirect_to_login(request.get_full_path())

    return wrapped


def _rejected(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """A refused htmx request shows its message in the page's notice; others get a short page."""
    if not request.htmx:
        return render(request, REFUSED_TEMPLATE, {"message": message}, status=status)
    response = render(request, f"{REVIEW_TEMPLATE}#notice", {"message": message}, status=status)
    response["HX-Retarget"] = "#donation-notice"
    response["HX-Reswap"] = "outerHTML"
    return response


def _list_context(request: HttpRequest, **extra) -> dict:
    return {
        "donations": donation_list_for_owner(owner=request.user),
        "max_bytes_text": services.size_text(settings.DONATION_MAX_BYTES),
        "max_conversations": services.DONATION_UPLOAD_MAX_CONVERSATIONS,
        **extra,
    }


def _review_context(request: HttpRequest, donation: Donation, **extra) -> dict:
    return {
        "review": donation_review(donation=donation),
        "donation": donation,
        "assistant_name": services.EXTERNAL_MODEL_BY_SOURCE[donation.source],
        "communities": donation_communities_for(user=request.user),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@_login_required_or_403
def donations_page(request: HttpRequest) -> HttpResponse:
    """GET: what can be donated and how, the upload form and my donations. POST: an upload."""
    if request.method == "GET":
        return render(request, LIST_TEMPLATE, _list_context(request))
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise RequestRejected("Choose a file to upload: conversations.json from ChatGPT, or a ShareGPT JSON file.")
        services.donation_upload_size_check(size=upload.size)
        rate_limit(request, "uploads")
        drafts = services.donation_upload(owner=request.user, raw=upload.read())
    except RequestRejected as rejected:
        response = render(
            request, LIST_TEMPLATE, _list_context(request, error=rejected.message), status=rejected.status_code
        )
        for header, value in rejected.headers.items():
            response[header] = value
        return response
    if len(drafts) == 1:
        messages.success(request, "Your conversation is uploaded as a draft. Review it, then donate it.")
        return redirect("feedback:donation_review", donation_id=drafts[0].pk)
    messages.success(
        request, f"{len(drafts)} conversations are uploaded as drafts. Review each one before you donate it."
    )
    return redirect("feedback:donations")


@require_http_methods(["GET"])
@_login_required_or_403
def donation_review_page(request: HttpRequest, donation_id: int) -> HttpResponse:
    donation = donation_get_for_owner(owner=request.user, donation_id=donation_id)
    return render(request, REVIEW_TEMPLATE, _review_context(request, donation))


@require_POST
@vary_on_headers("HX-Request")
@_login_required_or_403
def donation_turn_toggle(request: HttpRequest, donation_id: int, index: int) -> HttpResponse:
    is_removed = request.POST.get("is_removed")
    try:
        if is_removed not in ("true", "false"):
            raise RequestRejected("Say whether to remove the turn or restore it.")
        donation = services.donation_turn_toggle(
            owner=request.user, donation_id=donation_id, index=index, is_removed=is_removed == "true"
        )
    except RequestRejected as rejected:
        return _rejected(request, rejected.message, status=rejected.status_code)
    except Http404 as missing:
        return _rejected(request, str(missing), status=404)
    return _turn_changed(request, donation, index)


@require_POST
@vary_on_headers("HX-Request")
@_login_required_or_403
def donation_turn_edit(request: HttpRequest, donation_id: int, index: int) -> HttpResponse:
    try:
        donation = services.donation_turn_edit(
            owner=request.user, donation_id=donation_id, index=index, text=request.POST.get("text")
        )
    except RequestRejected as rejected:
        return _rejected(request, rejected.message, status=rejected.status_code)
    except Http404 as missing:
        return _rejected(request, str(missing), status=404)
    return _turn_changed(request, donation, index)


def _turn_changed(request: HttpRequest, donation: Donation, index: int) -> HttpResponse:
    if not request.htmx:
        return redirect(f"{reverse('feedback:donation_review', args=[donation.pk])}#turn-{index}")
    context = _review_context(request, donation)
    context["turn"] = context["review"].turns[index]
    return render(request, f"{REVIEW_TEMPLATE}#turn_changed", context)


@require_POST
@_login_required_or_403
def donation_donate(request: HttpRequest, donation_id: int) -> HttpResponse:
    try:
        donation = services.donation_donate(
            owner=request.user, donation_id=donation_id, community_slug=request.POST.get("community")
        )
    except RequestRejected as rejected:
        donation = donation_get_for_owner(owner=request.user, donation_id=donation_id)
        context = _review_context(request, donation, error=rejected.message)
        return render(request, REVIEW_TEMPLATE, context, status=rejected.status_code)
    messages.success(
        request,
        f"Thank you! “{donation}” is now in the pool of {donation.community.name}, shared under "
        f"{donation.community.licence_name}. Volunteers will review its answers.",
    )
    return redirect("feedback:donations")


@require_POST
@_login_required_or_403
def donation_delete(request: HttpRequest, donation_id: int) -> HttpResponse:
    donation = services.donation_delete(owner=request.user, donation_id=donation_id)
    if donation.status == Donation.Status.DONATED:
        messages.success(request, f"“{donation}” is deleted and has left the pool; later releases leave it out.")
    else:
        messages.success(request, f"The draft “{donation}” is deleted.")
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("feedback:donations")
        return response
    return redirect("feedback:donations")
