"""Reads of runs and models for pages: public lists and details, with what only the community's
owner and admins may see (logs, the failure's details, the buttons)."""

from django.db.models import QuerySet
from django.http import Http404

from community.models import Community, User
from training.models import Run, TrainedModel
from training.runs.services import run_may_manage


def run_list_for(*, viewer: User, community: Community) -> QuerySet[Run]:
    """A community's runs, newest first (runs are public; their logs are not)."""
    return Run.objects.filter(community=community).select_related("release", "trained_model")


def run_get_for(*, viewer: User, run_id: int) -> Run:
    run = Run.objects.select_related("community", "release", "retry_of", "created_by").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return run


def run_private_visible(*, viewer: User, run: Run) -> bool:
    """Whether `viewer` reads the run's log tail and failure details."""
    return run_may_manage(user=viewer, community=run.community)


def metric_series(run: Run) -> dict[str, list]:
    """The logged steps as columns for the charts: steps, and one list per metric (None where a
    step did not log it)."""
    entries = [entry for entry in run.metrics if isinstance(entry, dict) and "step" in entry]
    names: list[str] = []
    for entry in entries:
        for name, value in entry.items():
            if name != "step" and isinstance(value, (int, float)) and name not in names:
                names.append(name)
    series = {"step": [entry["step"] for entry in entries]}
    for name in names:
        series[name] = [entry.get(name) if isinstance(entry.get(name), (int, float)) else None for entry in entries]
    return series


def model_list_for(*, viewer: User, community: Community | None = None) -> QuerySet[TrainedModel]:
    models = TrainedModel.objects.select_related("community", "release", "run", "parent", "endpoint")
    if community is not None:
        models = models.filter(community=community)
    return models.order_by("community__name", "-created_at")


def model_list_by_community(*, viewer: User, communities: list[Community]) -> list[tuple]:
    """The models `viewer` may see, grouped by community in the order of `communities`: a list of
    (community, [(model, lineage), ...]) with only the communities that have models."""
    by_community: dict[int, list] = {}
    for model in model_list_for(viewer=viewer):
        by_community.setdefault(model.community_id, []).append((model, model_lineage(model)))
    return [(community, by_community[community.pk]) for community in communities if community.pk in by_community]


def model_get_for(*, viewer: User, model_id: int) -> TrainedModel:
    model = TrainedModel.objects.select_related("community", "release", "run", "parent", "endpoint").filter(pk=model_id)
    found = model.first()
    if found is None:
        raise Http404("No such model.")
    return found


def model_lineage(model: TrainedModel) -> list[str]:
    """Base → fine-tune → fine-tune, oldest first: the root's base model, then each registered model."""
    chain = [model]
    while chain[-1].parent is not None and chain[-1].parent not in chain:
        chain.append(chain[-1].parent)
    return [chain[-1].base_model, *(entry.name for entry in reversed(chain))]
