"""The model registry: registering what a run trained (its card, its hashes, its lineage),
retiring a model, and promoting a chat model into its community's arena (docs/runs.md)."""

import hashlib
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from community.errors import Conflict, NotAllowed
from community.models import User
from community.permissions import can_govern
from feedback.models import Release
from inference.models import ModelEndpoint
from training.models import Run, TrainedModel
from training.registry.card import CardInputs, model_card_markdown

CARD_FILE = "README.md"
SELECTION_FILE = "selection.json"


class RegistryError(Exception):
    """A model folder does not match what its trainer reported (a weight file's hash differs)."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_verify(folder: Path, weights: dict[str, str]) -> None:
    """Every file the trainer hashed is in the folder with that hash (RegistryError otherwise)."""
    if not weights:
        raise RegistryError(f"The trainer reported no weight files in {folder.name}.")
    for name, digest in weights.items():
        path = folder / name
        if not path.is_file():
            raise RegistryError(f"The weight file {name} is missing from the model folder.")
        if file_sha256(path) != digest:
            raise RegistryError(f"The weight file {name} does not have the SHA-256 its trainer reported.")


def model_parent(*, community_id: int, base_model: Path) -> TrainedModel | None:
    """The registered model a run fine-tuned, when its base is one of the registry's folders."""
    if base_model.parent != Path(settings.MODELS_DIR):
        return None
    return TrainedModel.objects.filter(name=base_model.name).first()


def model_register_prepare(
    *,
    run: Run,
    release: Release,
    selection: Any,
    selection_manifest: Path,
    result: Any,
    base_model: Path,
    name: str,
) -> dict[str, Any]:
    """Check the trained folder's hashes, write its model card (README.md) and selection manifest
    into it, and return the fields of its registry entry. Writes no row."""
    folder = Path(result.folder)
    weights_verify(folder, result.weights)
    community = run.community
    parent = model_parent(community_id=community.pk, base_model=base_model)
    metrics = {key: float(value) for key, value in (result.metrics or {}).items() if isinstance(value, (int, float))}
    card = model_card_markdown(
        CardInputs(
            name=name,
            community_name=community.name,
            community_slug=community.slug,
            method=run.method,
            base_model=base_model.name,
            licence_name=community.licence_name,
            licence_url=community.licence_url,
            release_name=release.name,
            release_merkle_root=release.merkle_root,
            selection_merkle_root=selection.merkle_root,
            records_kept=selection.report.records_kept,
            metrics=metrics,
            selection_report_markdown=selection.report.as_markdown(),
            weights=dict(result.weights),
            run_id=run.pk,
            code_version=run.code_version,
            seed=run.seed,
            config=run.config,
            parent=parent.name if parent else None,
            is_synthetic=community.has_synthetic_data,
        )
    )
    (folder / CARD_FILE).write_text(card, encoding="utf-8")
    shutil.copyfile(selection_manifest, folder / SELECTION_FILE)
    return {
        "name": name,
        "community": community,
        "base_model": base_model.name,
        "method": run.method,
        "run": run,
        "release": release,
        "release_merkle_root": release.merkle_root,
        "selection_merkle_root": selection.merkle_root,
        "weights": dict(result.weights),
        "metrics": metrics,
        "licence_name": community.licence_name,
        "licence_url": community.licence_url,
        "card": card,
        "parent": parent,
    }


def trained_model_create(entry: dict[str, Any]) -> TrainedModel:
    """The registry entry (call it in the transaction that marks the run succeeded)."""
    return TrainedModel.objects.create(**entry)


def model_may_manage(*, user: User, model: TrainedModel) -> bool:
    return can_govern(user, model.community)


def model_promote(*, actor: User | None, model_id: int) -> TrainedModel:
    """Put a chat model into its community's arena: a new built-in endpoint serving its folder
    (the model server lists every folder of MODELS_DIR, so no restart). Idempotent."""
    with transaction.atomic():
        model = TrainedModel.objects.select_for_update(of=("self",)).select_related("community").get(pk=model_id)
        if actor is not None and not model_may_manage(user=actor, model=model):
            raise NotAllowed("Only the community's owner and admins put models into its arena.")
        if model.method == Run.Method.REWARD:
            raise Conflict("A reward model scores answers; it does not chat, so it cannot join the arena.")
        if model.status != TrainedModel.Status.ACTIVE:
            raise Conflict("A retired model cannot join the arena.")
        if model.endpoint_id is not None:
            ModelEndpoint.objects.filter(pk=model.endpoint_id).update(is_active=True)
            return model
        if not (Path(settings.MODELS_DIR) / model.name / "config.json").is_file():
            raise Conflict(f"The folder of {model.name} is missing from the models directory.")
        endpoint = ModelEndpoint.objects.create(
            name=model.name[:120],
            kind=ModelEndpoint.Kind.BUILTIN,
            model_id=model.name,
            community=model.community,
        )
        model.endpoint = endpoint
        model.save(update_fields=["endpoint"])
        return model


def model_retire(*, actor: User | None, model_id: int) -> TrainedModel:
    """Take a model out of the arena and mark it retired; nothing is deleted (its folder, card,
    battles and ratings stay). Idempotent."""
    with transaction.atomic():
        model = TrainedModel.objects.select_for_update(of=("self",)).select_related("community").get(pk=model_id)
        if actor is not None and not model_may_manage(user=actor, model=model):
            raise NotAllowed("Only the community's owner and admins retire models.")
        if model.endpoint_id is not None:
            ModelEndpoint.objects.filter(pk=model.endpoint_id).update(is_active=False)
        if model.status != TrainedModel.Status.RETIRED:
            model.status = TrainedModel.Status.RETIRED
            model.retired_at = timezone.now()
            model.save(update_fields=["status", "retired_at"])
        return model
