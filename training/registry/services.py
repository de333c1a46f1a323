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


def promotion_baseline(*, model: TrainedModel) -> tuple[str, Path]:
    """What a new chat model is compared with: the community's newest active model in its arena,
    or else the base model it was trained from."""
    current = (
        TrainedModel.objects.filter(
            community=model.community,
            status=TrainedModel.Status.ACTIVE,
            endpoint__is_active=True,
        )
        .exclude(pk=model.pk)
        .exclude(method=Run.Method.REWARD)
        .order_by("-created_at", "-pk")
        .first()
    )
    if current is not None:
        return current.name, Path(settings.MODELS_DIR) / current.name
    base = Path(model.run.config.get("base_model") or settings.TRAINING_BASE_MODEL)
    return base.name, base


def model_promotion_consider(*, model_id: int, prompts: list[list[dict]]) -> TrainedModel:
    """Compare a new chat model with the community's current one on held-out prompts of its
    release, judged by the community's newest active reward model; promote it when its win rate
    is above 0.5 plus the community's margin and the community promotes automatically. The
    comparison and the decision are stored on the model; a comparison that cannot run says why
    and changes nothing else."""
    from training.models import TrainingPolicy
    from training.registry.compare import models_compare

    model = TrainedModel.objects.select_related("community", "run").get(pk=model_id)
    policy = TrainingPolicy.objects.filter(community=model.community).first() or TrainingPolicy(
        community=model.community
    )
    reward = (
        TrainedModel.objects.filter(
            community=model.community, method=Run.Method.REWARD, status=TrainedModel.Status.ACTIVE
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    record: dict[str, Any] = {"margin": policy.promotion_margin, "auto_promote": policy.auto_promote}
    if model.method == Run.Method.REWARD:
        record |= {"decision": "not a chat model"}
    elif reward is None:
        record |= {"decision": "no reward model of the community to judge with: train one first"}
    elif not prompts:
        record |= {"decision": "no held-out prompt to compare on"}
    else:
        baseline_name, baseline = promotion_baseline(model=model)
        try:
            comparison = models_compare(
                candidate=Path(settings.MODELS_DIR) / model.name,
                current=baseline,
                reward=Path(settings.MODELS_DIR) / reward.name,
                prompts=prompts,
                seed=model.run.seed,
            )
        except Exception as error:  # noqa: BLE001 (the run succeeded; the comparison says why it could not run)
            record |= {"decision": f"the comparison failed: {error}"[:500]}
        else:
            wins = comparison.win_rate > 0.5 + policy.promotion_margin
            record |= {
                "against": baseline_name,
                "judge": reward.name,
                **comparison.as_json(),
                "beats_current": wins,
                "decision": (
                    "promoted"
                    if wins and policy.auto_promote
                    else "beats the current model: the owner may put it into the arena"
                    if wins
                    else "does not beat the current model by the margin"
                ),
            }
    TrainedModel.objects.filter(pk=model.pk).update(promotion=record)
    if record.get("decision") == "promoted":
        model_promote(actor=None, model_id=model.pk)
    model.refresh_from_db()
    return model
