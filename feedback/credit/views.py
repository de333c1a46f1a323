"""Credit pages: the public contributor leaderboard with the points formula, and a volunteer's
own credit with the choice to be shown on leaderboards."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from feedback.credit.points import DEFAULT_PERIOD, LEVELS, PERIODS, POINT_RULES
from feedback.credit.selectors import credit_summary_for, leaderboard_get, volunteer_public_name
from feedback.credit.services import leaderboard_visibility_set

LEADERBOARD_TEMPLATE = "feedback/credit/leaderboard.html"
MY_CREDIT_TEMPLATE = "feedback/credit/my_credit.html"


def _wants_fragment(request: HttpRequest) -> bool:
    # A history restore asks for the whole page again, so it gets the page.
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_safe
@vary_on_headers("HX-Request")
def leaderboard(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", DEFAULT_PERIOD)
    context = {"periods": PERIODS, "rules": POINT_RULES, "levels": LEVELS, "period_key": period}
    status = 200
    try:
        context["board"] = leaderboard_get(period=period, viewer=request.user)
    except RequestRejected as rejected:
        context["error"] = rejected.message
        status = rejected.status_code
    template = f"{LEADERBOARD_TEMPLATE}#board" if _wants_fragment(request) else LEADERBOARD_TEMPLATE
    return render(request, template, context, status=status)


@login_required
@require_safe
def my_credit(request: HttpRequest) -> HttpResponse:
    summary = credit_summary_for(volunteer=request.user)
    return render(request, MY_CREDIT_TEMPLATE, {"summary": summary, "levels": LEVELS})


@login_required
@require_POST
@vary_on_headers("HX-Request")
def leaderboard_visibility(request: HttpRequest) -> HttpResponse:
    try:
        user = leaderboard_visibility_set(user=request.user, is_on_leaderboards=request.POST.get("is_on_leaderboards"))
    except RequestRejected as rejected:
        if _wants_fragment(request):
            context = {
                "is_on_leaderboards": request.user.is_on_leaderboards,
                "public_name": volunteer_public_name(request.user),
                "error": rejected.message,
            }
            return render(request, f"{MY_CREDIT_TEMPLATE}#visibility", context, status=rejected.status_code)
        summary = credit_summary_for(volunteer=request.user)
        context = {"summary": summary, "levels": LEVELS, "error": rejected.message}
        return render(request, MY_CREDIT_TEMPLATE, context, status=rejected.status_code)
    notice = "You are shown on leaderboards." if user.is_on_leaderboards else "You are hidden from leaderboards."
    if _wants_fragment(request):
        context = {
            "is_on_leaderboards": user.is_on_leaderboards,
            "public_name": volunteer_public_name(user),
            "notice": "Saved.",
        }
        return render(request, f"{MY_CREDIT_TEMPLATE}#visibility", context)
    messages.success(request, notice)
    return redirect("feedback:my_credit")
