"""The task pages: get the next task, answer it (one form per kind) or skip it."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from community.errors import RequestRejected
from community.services import LANGUAGE_CODES, volunteer_preferences_set
from feedback.models import TaskAssignment, TaskKind
from feedback.moderation.ratelimits import rate_limit
from feedback.taskqueue import forms
from feedback.taskqueue.selectors import assignment_get_for_volunteer, memberships_contributing, task_context
from feedback.taskqueue.services.queue import task_next, task_skip
from feedback.taskqueue.services.responses import task_answer_submit

TEMPLATE = "feedback/tasks/task.html"


@login_required
def tasks_home(request: HttpRequest) -> HttpResponse:
    memberships = memberships_contributing(volunteer=request.user)
    return render(request, "feedback/tasks/home.html", {"memberships": memberships, "kinds": TaskKind.choices})


@login_required
def task_next_page(request: HttpRequest) -> HttpResponse:
    community = request.GET.get("community") or None
    kind = request.GET.get("kind") or None
    if kind and kind not in TaskKind.values:
        return render(request, "feedback/tasks/home.html", {"error": "Unknown kind of task."}, status=400)
    try:
        assignment = task_next(volunteer=request.user, community_slug=community, kind=kind)
    except RequestRejected as rejected:
        context = {"error": rejected.message, "memberships": [], "kinds": TaskKind.choices}
        return render(request, "feedback/tasks/home.html", context, status=rejected.status_code)
    if assignment is None:
        return render(request, "feedback/tasks/none.html", {"community": community, "kind": kind})
    filters = urlencode({key: value for key, value in (("community", community), ("kind", kind)) if value})
    return redirect(reverse("feedback:task", args=[assignment.pk]) + (f"?{filters}" if filters else ""))


@login_required
def task_page(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = assignment_get_for_volunteer(volunteer=request.user, assignment_id=assignment_id)
    if assignment.status != TaskAssignment.Status.RESERVED:
        return redirect("feedback:task_next")
    return render(request, TEMPLATE, task_context(assignment=assignment))


@require_POST
@login_required
def task_answer(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = assignment_get_for_volunteer(volunteer=request.user, assignment_id=assignment_id)
    try:
        answer = forms.task_answer_from_post(assignment=assignment, data=request.POST)
        rate_limit(request, "submissions")
        task_answer_submit(volunteer=request.user, assignment_id=assignment.pk, answer=answer)
    except RequestRejected as rejected:
        context = task_context(assignment=assignment) | {"error": rejected.message, "posted": request.POST}
        response = render(request, TEMPLATE, context, status=rejected.status_code)
        for header, value in rejected.headers.items():
            response[header] = value
        return response
    return redirect(f"{reverse('feedback:task_next')}?{_same_filters(request)}")


@require_POST
@login_required
def task_skip_view(request: HttpRequest, assignment_id: int) -> HttpResponse:
    try:
        task_skip(volunteer=request.user, assignment_id=assignment_id)
    except RequestRejected as rejected:
        return HttpResponse(rejected.message, status=rejected.status_code, content_type="text/plain")
    return redirect(f"{reverse('feedback:task_next')}?{_same_filters(request)}")


def _same_filters(request: HttpRequest) -> str:
    """The volunteer's choice of community and kind, carried from task to task."""
    return urlencode({key: request.POST[key] for key in ("community", "kind") if request.POST.get(key)})


@login_required
def task_preferences(request: HttpRequest) -> HttpResponse:
    """Pick the languages and, per community, the topics to get tasks in."""
    memberships = memberships_contributing(volunteer=request.user)
    if request.method == "POST":
        topics = {m.community.slug: request.POST.getlist(f"topics-{m.community.slug}") for m in memberships}
        try:
            volunteer_preferences_set(user=request.user, languages=request.POST.getlist("languages"), topics=topics)
        except RequestRejected as rejected:
            context = {"memberships": memberships, "languages": LANGUAGE_CODES, "error": rejected.message}
            return render(request, "feedback/tasks/preferences.html", context, status=rejected.status_code)
        messages.success(request, "Saved. Your next tasks follow these choices.")
        return redirect("feedback:tasks")
    return render(request, "feedback/tasks/preferences.html", {"memberships": memberships, "languages": LANGUAGE_CODES})
