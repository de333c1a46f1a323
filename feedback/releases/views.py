"""Release pages: public list and detail; building, editing the datasheet and publishing for
admins (and moderators, for a community)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from community.models import Community
from community.selectors import community_list
from feedback.releases.selectors import release_get_for, release_list_for
from feedback.releases.services import release_build_start, release_datasheet_edit, release_may_build, release_publish

TEMPLATE = "feedback/releases/detail.html"


def release_list(request: HttpRequest) -> HttpResponse:
    context = {
        "releases": release_list_for(viewer=request.user),
        "communities": community_list(),
        "may_build": request.user.is_authenticated and request.user.is_moderator,
    }
    return render(request, "feedback/releases/list.html", context)


def _bars(counts: dict[str, int], limit: int = 12) -> list[tuple[str, int, float]]:
    """(label, count, width in %) for a bar chart, largest first."""
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    top = max((count for _, count in rows), default=0) or 1
    return [(label or "unknown", count, round(100 * count / top, 1)) for label, count in rows]


@vary_on_headers("HX-Request")
def release_detail(request: HttpRequest, release_id: int) -> HttpResponse:
    release = release_get_for(viewer=request.user, release_id=release_id)
    context = {
        "release": release,
        "may_build": release_may_build(user=request.user, community=release.community),
        "charts": [
            ("Records by kind", _bars(release.manifest.get("counts", {}).get("by_kind", {}))),
            ("Battles by language", _bars(release.manifest.get("counts", {}).get("by_language", {}))),
            ("Answers by model", _bars(release.manifest.get("counts", {}).get("by_model", {}))),
        ],
    }
    if request.htmx and request.GET.get("part") == "progress":
        return render(request, f"{TEMPLATE}#progress", context)
    return render(request, TEMPLATE, context)


@require_POST
def release_start(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("community") or None
    community = Community.objects.filter(slug=slug).first() if slug else None
    if slug and community is None:
        return HttpResponse("No such community.", status=400, content_type="text/plain")
    try:
        release = release_build_start(actor=request.user, community=community)
    except RequestRejected as rejected:
        return HttpResponse(rejected.message, status=rejected.status_code, content_type="text/plain")
    return redirect("feedback:release", release_id=release.pk)


@require_POST
def release_datasheet_save(request: HttpRequest, release_id: int) -> HttpResponse:
    release = release_get_for(viewer=request.user, release_id=release_id)
    try:
        release_datasheet_edit(actor=request.user, release_id=release.pk, datasheet=request.POST.get("datasheet"))
    except RequestRejected as rejected:
        return HttpResponse(rejected.message, status=rejected.status_code, content_type="text/plain")
    messages.success(request, "Datasheet saved.")
    return redirect("feedback:release", release_id=release.pk)


@require_POST
def release_publish_view(request: HttpRequest, release_id: int) -> HttpResponse:
    release = release_get_for(viewer=request.user, release_id=release_id)
    try:
        release_publish(actor=request.user, release_id=release.pk)
    except RequestRejected as rejected:
        return HttpResponse(rejected.message, status=rejected.status_code, content_type="text/plain")
    messages.success(request, "Published. This release will never change.")
    return redirect("feedback:release", release_id=release.pk)
