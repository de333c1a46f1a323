"""The moderator console (queue, case page and its actions, appeals, the admin's audit log)
and the report form. Views parse, call one service or selector, and render; htmx requests get
the fragment. Anonymous visitors are sent to log in; anyone else without the right gets a 403
page that says why."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from community.errors import NotAllowed, RequestRejected
from community.selectors import communities_moderated_by
from feedback.models import AuditEntry, ReportReason, Severity
from feedback.moderation import selectors, services
from feedback.moderation.ratelimits import rate_limit

QUEUE_TEMPLATE = "feedback/moderation/queue.html"
CASE_TEMPLATE = "feedback/moderation/case.html"
REPORT_TEMPLATE = "feedback/moderation/report.html"
QUEUE_PAGE_SIZE = 25
AUDIT_PAGE_SIZE = 50


def _refused(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    return render(request, "feedback/moderation/refused.html", {"message": message}, status=status)


def moderators_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first; then a NotAllowed from the selectors and services becomes a 403 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            return view(request, *args, **kwargs)
        except NotAllowed as refused:
            return _refused(request, refused.message, status=403)

    return wrapped


def _require_moderator_somewhere(request: HttpRequest) -> None:
    if not communities_moderated_by(user=request.user).exists():
        if request.user.is_moderator:
            raise NotAllowed(
                "You have the moderator role but moderate no community yet: an admin makes you a "
                "moderator in your membership of each community you moderate."
            )
        raise NotAllowed("Only moderators and admins work the moderation queue.")


@require_GET
@vary_on_headers("HX-Request")
@moderators_only
def queue_page(request: HttpRequest) -> HttpResponse:
    """Open reports and automatic flags, one row per item, most severe and oldest first."""
    _require_moderator_somewhere(request)
    filters = selectors.queue_filters_clean(
        viewer=request.user,
        community_slug=request.GET.get("community", ""),
        problem=request.GET.get("problem", ""),
        severity=request.GET.get("severity", ""),
        status=request.GET.get("status", "open"),
    )
    cases = selectors.moderation_queue(viewer=request.user, filters=filters)
    page = Paginator(cases, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "page": page,
        "communities": communities_moderated_by(user=request.user),
        "problems": selectors.queue_problem_choices(viewer=request.user),
        "severities": Severity.choices,
        "statuses": [("open", "Open"), ("resolved", "Resolved"), ("all", "All")],
        "appeal_count": selectors.appeals_open_for(viewer=request.user).count(),
        "tab": "queue",
    }
    template = f"{QUEUE_TEMPLATE}#queue" if request.htmx else QUEUE_TEMPLATE
    return render(request, template, context)


def _case_render(request: HttpRequest, case_id: object, *, error: str = "", status: int = 200, posted=None):
    case = selectors.case_get_for_moderator(viewer=request.user, case_id=case_id)
    context = selectors.case_context(case=case) | {
        "error": error,
        "posted": posted or {},
        "actions_with_sanction": ("warn", "suspend", "ban"),
        "tab": "queue",
    }
    return render(request, CASE_TEMPLATE, context, status=status)


@require_GET
@moderators_only
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    """One item: its text in its conversation, its reports and flags, its author's history and
    the actions."""
    return _case_render(request, case_id)


ACTION_DONE = {
    "accept": "Accepted: the reports were dismissed and the item stays.",
    "hide": "Hidden: the item is out of the task queue, other people's pages and releases.",
    "edit": "Edited: the original is kept as a revision.",
    "delete": "Deleted: the item is gone from everything people and releases see.",
    "warn": "The author was warned.",
    "suspend": "The author was suspended.",
    "ban": "The author was banned.",
}


@require_POST
@moderators_only
def case_action(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    """Take an action on a case (every one needs a reason); back to the queue when done."""
    try:
        services.case_act(
            actor=request.user,
            case_id=case_id,
            action=action,
            reason=request.POST.get("reason"),
            text=request.POST.get("text"),
            days=request.POST.get("days"),
            is_site_wide=request.POST.get("site_wide") == "on",
        )
    except NotAllowed:
        raise
    except RequestRejected as rejected:
        return _case_render(request, case_id, error=rejected.message, status=rejected.status_code, posted=request.POST)
    messages.success(request, ACTION_DONE[action])
    return redirect("feedback:moderation_queue")


def _appeals_render(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    _require_moderator_somewhere(request)
    appeals = list(selectors.appeals_open_for(viewer=request.user))
    context = {"appeals": appeals, "appeal_count": len(appeals), "error": error, "tab": "appeals"}
    return render(request, "feedback/moderation/appeals.html", context, status=status)


@require_GET
@moderators_only
def appeals_page(request: HttpRequest) -> HttpResponse:
    """Open appeals the viewer may decide."""
    return _appeals_render(request)


@require_POST
@moderators_only
def appeal_decide(request: HttpRequest, appeal_id: int) -> HttpResponse:
    decision = request.POST.get("decision")
    is_granted = {"lift": True, "keep": False}.get(decision)
    try:
        services.appeal_decide_as_moderator(
            actor=request.user, appeal_id=appeal_id, is_granted=is_granted, reason=request.POST.get("reason")
        )
    except NotAllowed:
        raise
    except RequestRejected as rejected:
        return _appeals_render(request, error=rejected.message, status=rejected.status_code)
    messages.success(request, "Lifted: the sanction is over." if is_granted else "Kept: the sanction stays.")
    return redirect("feedback:moderation_appeals")


@require_GET
@moderators_only
def audit_log_page(request: HttpRequest) -> HttpResponse:
    """The audit log, for admins: filter by community, action, moderator, kind of target."""
    entries = selectors.audit_entries_for_admin(
        viewer=request.user,
        community_slug=request.GET.get("community", ""),
        action=request.GET.get("action", ""),
        actor_email=request.GET.get("actor", "").strip(),
        target_kind=request.GET.get("target_kind", ""),
    )
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "communities": communities_moderated_by(user=request.user),
        "actions": AuditEntry.Action.choices,
        "target_kinds": AuditEntry.TargetKind.choices,
        "chosen": request.GET,
        "appeal_count": selectors.appeals_open_for(viewer=request.user).count(),
        "tab": "audit",
    }
    return render(request, "feedback/moderation/audit.html", context)


# Reports


def _report_context(kind: str, target_id: int, **extra) -> dict:
    return {"target_kind": kind, "target_id": target_id, "reasons": ReportReason.choices, **extra}


@vary_on_headers("HX-Request")
def report_view(request: HttpRequest, kind: str, target_id: int) -> HttpResponse:
    """GET: the report form (a page; the buttons on pages carry the form inline). POST: report."""
    if not request.user.is_authenticated:
        if request.method == "POST":
            return _report_answer(request, kind, target_id, error="Log in to report.", status=403)
        return redirect_to_login(request.get_full_path())
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)
    if request.method == "GET":
        try:
            services.reports.report_target_get(viewer=request.user, target_kind=kind, target_id=target_id)
        except Http404 as missing:
            return _refused(request, str(missing), status=404)
        return render(request, REPORT_TEMPLATE, _report_context(kind, target_id, next=request.GET.get("next", "")))
    try:
        rate_limit(request, "reports")
        services.report_create(
            reporter=request.user,
            target_kind=kind,
            target_id=target_id,
            reason=request.POST.get("reason"),
            comment=request.POST.get("comment", ""),
        )
    except RequestRejected as rejected:
        response = _report_answer(request, kind, target_id, error=rejected.message, status=rejected.status_code)
        for header, value in rejected.headers.items():  # Retry-After on 429
            response[header] = value
        return response
    except Http404 as missing:
        return _report_answer(request, kind, target_id, error=str(missing), status=404)
    return _report_answer(request, kind, target_id)


def _report_answer(request: HttpRequest, kind: str, target_id: int, *, error: str = "", status: int = 200):
    context = _report_context(kind, target_id, error=error, posted=request.POST, next=request.POST.get("next", ""))
    if request.htmx:
        return render(request, f"{REPORT_TEMPLATE}#report_box", context | {"is_done": not error}, status=status)
    if error:
        return render(request, REPORT_TEMPLATE, context, status=status)
    messages.success(request, "Thank you: the report is with the moderators.")
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect(reverse("feedback:tasks"))
