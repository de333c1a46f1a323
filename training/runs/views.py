"""Pages of runs and models: a community's runs with "Train now", a run's live progress, curves,
logs, inputs and result; the public model pages with their cards and lineage."""

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from community.selectors import community_get, community_list
from training.models import Run
from training.registry.card import card_parts
from training.registry.services import model_may_manage, model_promote, model_retire
from training.runs.selectors import (
    metric_series,
    model_get_for,
    model_lineage,
    model_list_by_community,
    run_get_for,
    run_list_for,
    run_private_visible,
)
from training.runs.services import run_cancel, run_may_manage, run_retry, run_start

DETAIL = "training/run_detail.html"


def _refused(rejected: RequestRejected) -> HttpResponse:
    return HttpResponse(rejected.message, status=rejected.status_code, content_type="text/plain")


def community_runs(request: HttpRequest, slug: str) -> HttpResponse:
    community = community_get(slug=slug)
    context = {
        "community": community,
        "runs": run_list_for(viewer=request.user, community=community)[:100],
        "may_manage": run_may_manage(user=request.user, community=community),
        "methods": Run.Method.choices,
        "idempotency_key": uuid.uuid4().hex,
    }
    return render(request, "training/run_list.html", context)


@require_POST
def run_start_view(request: HttpRequest, slug: str) -> HttpResponse:
    community = community_get(slug=slug)
    steps = request.POST.get("max_steps") or None
    try:
        if steps is not None:
            try:
                steps = int(steps)
            except ValueError:
                raise RequestRejected("max_steps must be a whole number.") from None
        version = request.POST.get("release") or None
        if version is not None:
            try:
                version = int(version)
            except ValueError:
                raise RequestRejected("The release is a version number.") from None
        run = run_start(
            actor=request.user,
            community=community,
            method=request.POST.get("method", ""),
            release_version=version,
            fresh_release=request.POST.get("fresh_release") == "on",
            training={"max_steps": steps} if steps is not None else None,
            idempotency_key=request.POST.get("idempotency_key", ""),
        )
    except RequestRejected as rejected:
        return _refused(rejected)
    return redirect("training:run", run_id=run.pk)


@vary_on_headers("HX-Request")
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for(viewer=request.user, run_id=run_id)
    context = {
        "run": run,
        "may_manage": run_may_manage(user=request.user, community=run.community),
        "sees_private": run_private_visible(viewer=request.user, run=run),
        "series": metric_series(run),
        "model": getattr(run, "trained_model", None) if run.status == Run.Status.SUCCEEDED else None,
    }
    if request.htmx and request.GET.get("part") == "progress":
        return render(request, f"{DETAIL}#progress", context)
    return render(request, DETAIL, context)


@require_POST
def run_cancel_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for(viewer=request.user, run_id=run_id)
    try:
        run_cancel(actor=request.user, run_id=run.pk)
    except RequestRejected as rejected:
        return _refused(rejected)
    messages.success(request, "Cancelled: a running run stops after its current step.")
    return redirect("training:run", run_id=run.pk)


@require_POST
def run_retry_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for(viewer=request.user, run_id=run_id)
    try:
        retry = run_retry(actor=request.user, run_id=run.pk)
    except RequestRejected as rejected:
        return _refused(rejected)
    return redirect("training:run", run_id=retry.pk)


def model_list(request: HttpRequest) -> HttpResponse:
    communities = list(community_list())
    groups = model_list_by_community(viewer=request.user, communities=communities)
    return render(request, "training/model_list.html", {"groups": groups, "communities": communities})


def model_detail(request: HttpRequest, model_id: int) -> HttpResponse:
    model = model_get_for(viewer=request.user, model_id=model_id)
    front, prose = card_parts(model.card)
    context = {
        "model": model,
        "lineage": model_lineage(model),
        "front_matter": front,
        "prose": prose,
        "may_manage": model_may_manage(user=request.user, model=model),
        "children": model.children.all(),
    }
    return render(request, "training/model_detail.html", context)


@require_POST
def model_promote_view(request: HttpRequest, model_id: int) -> HttpResponse:
    model = model_get_for(viewer=request.user, model_id=model_id)
    try:
        model_promote(actor=request.user, model_id=model.pk)
    except RequestRejected as rejected:
        return _refused(rejected)
    messages.success(request, "In the arena: volunteers now meet this model in battles.")
    return redirect("training:model", model_id=model.pk)


@require_POST
def model_retire_view(request: HttpRequest, model_id: int) -> HttpResponse:
    model = model_get_for(viewer=request.user, model_id=model_id)
    try:
        model_retire(actor=request.user, model_id=model.pk)
    except RequestRejected as rejected:
        return _refused(rejected)
    messages.success(request, "Retired: out of the arena; its folder, card and battles are kept.")
    return redirect("training:model", model_id=model.pk)
