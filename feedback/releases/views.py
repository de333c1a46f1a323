"""Release pages: public list and detail; building, editing the datasheet and publishing for
admins (and moderators, for a community)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from community.models import Community
from community.selectors import community_list
from feedback.releases.downloads import archive_response
from feedback.releases.selectors import (
    DATASET_DICT_ARCHIVE,
    release_dataset_dict_folder,
    release_downloads,
    release_example_record,
    release_get_for,
    release_list_for,
)
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
    }
    if request.htmx and request.GET.get("part") == "progress":
        return render(request, f"{TEMPLATE}#progress", context)
    files_url = reverse("feedback:api-release-file", args=[release.pk, DATASET_DICT_ARCHIVE])
    context |= {
        "charts": [
            ("Records by kind", _bars(release.manifest.get("counts", {}).get("by_kind", {}))),
            ("Battles by language", _bars(release.manifest.get("counts", {}).get("by_language", {}))),
            ("Answers by model", _bars(release.manifest.get("counts", {}).get("by_model", {}))),
        ],
        "downloads": release_downloads(release=release),
        "files_url": request.build_absolute_uri(files_url).removesuffix(DATASET_DICT_ARCHIVE),
        "proof_example": _proof_example(request, release),
    }
    return render(request, TEMPLATE, context)


def _proof_example(request: HttpRequest, release) -> dict | None:
    """The proof of the release's first record: a URL that answers 200."""
    example = release_example_record(release=release)
    if example is None:
        return None
    file_name, record_id = example
    path = reverse("feedback:api-release-proof", args=[release.pk, record_id])
    return {"file": file_name, "url": request.build_absolute_uri(f"{path}?file={file_name}")}


@require_safe
def release_dataset_dict_archive(request: HttpRequest, release_id: int) -> StreamingHttpResponse:
    """The release's `DatasetDict` folder as one tar archive, streamed."""
    release = release_get_for(viewer=request.user, release_id=release_id)
    folder = release_dataset_dict_folder(release=release)
    return archive_response(request, folder, filename=f"{release.name}-{DATASET_DICT_ARCHIVE}")


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
