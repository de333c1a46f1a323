"""Runs that train (the tiny model of conftest.py, a few steps): the task from a queued run to a
registered model, and every fault (too few preferences, unknown base model, a folder that is not
a causal LM, cancellation mid-training, a worker declared dead mid-run): a clear message on the
run, nothing registered, no folder left, the arena untouched."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from inference.models import ModelEndpoint
from training.models import Run, TrainedModel
from training.runs.execute import run_execute
from training.runs.services import run_cancel, run_start, run_work_folder, runs_reap
from training.tasks import run_execute_task
from training.tests.runs_setup import community_with_votes, release_published

pytestmark = pytest.mark.django_db

VOTES = 12


@pytest.fixture(autouse=True)
def folders(tmp_path, settings, tiny_base_model):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()


@pytest.fixture
def published():
    community, owner, _ = community_with_votes(votes=VOTES)
    return community, owner, release_published(community)


def folder_listing() -> list[str]:
    return sorted(path.name for path in Path(settings.MODELS_DIR).iterdir())


def arena_state() -> list[tuple]:
    return list(ModelEndpoint.objects.order_by("pk").values_list("pk", "name", "model_id", "is_active"))


def start(community, owner, tiny_base_model, method="dpo", steps=2, **fields) -> Run:
    return run_start(
        actor=owner,
        community=community,
        method=method,
        base_model=str(tiny_base_model),
        training={"max_steps": steps, "per_device_batch_size": 2, "max_length": 128} | fields.pop("training", {}),
        **fields,
    )


def test_a_queued_run_trains_on_its_release_and_registers_the_model(published, tiny_base_model):
    community, owner, release = published
    arena = arena_state()
    run = start(community, owner, tiny_base_model, method="dpo", steps=2, seed=5)
    run_execute_task.run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.progress, run.stage, run.error) == ("succeeded", 100, "Succeeded", "")
    assert run.device.startswith(("cpu", "cuda"))
    assert run.worker and run.lease_expires_at is None
    assert run.started_at <= run.finished_at
    assert [entry["step"] for entry in run.metrics if "loss" in entry] == [1, 2]
    assert all("learning_rate" in entry for entry in run.metrics if "loss" in entry)
    assert (run.final_metrics["train_records"], run.final_metrics["held_out_records"]) == (11.0, 1.0)
    assert 0.0 <= run.final_metrics["held_out_reward_accuracy"] <= 1.0
    assert run.selection_report["records_in"] == VOTES
    assert run.selection_report["records_kept"] == VOTES
    assert len(run.selection_merkle_root) == 64
    assert "step 2" in run.log_tail
    model = TrainedModel.objects.get(run=run)
    assert (model.community, model.method, model.release, model.base_model) == (
        community,
        "dpo",
        release,
        tiny_base_model.name,
    )
    assert model.release_merkle_root == release.merkle_root == run.release_merkle_root
    assert model.selection_merkle_root == run.selection_merkle_root
    assert (model.licence_name, model.licence_url) == (community.licence_name, community.licence_url)
    assert model.metrics == run.final_metrics
    assert model.parent is None
    assert model.name == f"{community.slug}-dpo-run{run.pk}"
    assert run.outputs == {
        "model": model.pk,
        "folder": str(settings.MODELS_DIR / model.name),
        "weights": model.weights,
        "trainer_device": run.outputs["trainer_device"],
        "world_size": 1,
    }
    assert run.outputs["trainer_device"].split(" ")[0] == run.device.split(" ")[0]  # cpu, or cuda
    assert folder_listing() == [model.name]  # the work folder is gone
    assert arena_state() == arena  # promotion is a separate step


def test_the_registry_hashes_equal_the_files_and_the_card_is_in_the_hugging_face_format(published, tiny_base_model):
    import hashlib

    import yaml

    community, owner, release = published
    run = run_execute(run_id=start(community, owner, tiny_base_model, method="reward", steps=1).pk)
    assert run.status == "succeeded", run.error
    model = run.trained_model
    folder = Path(settings.MODELS_DIR) / model.name
    assert "model.safetensors" in model.weights
    assert model.weights == {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in model.weights}
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card == model.card
    _, front, prose = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["base_model"] == tiny_base_model.name
    assert meta["license"] == "cc-by-4.0"
    assert meta["datasets"] == [f"feedback-commons/{release.name}"]
    results = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == model.name
    assert results["task"]["type"] == "text-classification"
    assert {metric["type"]: metric["value"] for metric in results["metrics"]} == model.metrics
    for heading in ("## Intended use", "## Training data", "### Selection report", "## Limitations"):
        assert heading in prose
    assert release.merkle_root in prose and model.selection_merkle_root in prose
    selection = json.loads((folder / "selection.json").read_text())
    assert selection["merkle_root"] == model.selection_merkle_root


def test_the_model_folder_loads_with_transformers_and_the_model_server_lists_it(published, tiny_base_model):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from inference.server.generation import ModelLibrary

    community, owner, _ = published
    chat = run_execute(run_id=start(community, owner, tiny_base_model, method="dpo", steps=1).pk).trained_model
    reward = run_execute(run_id=start(community, owner, tiny_base_model, method="reward", steps=1).pk).trained_model
    models_dir = Path(settings.MODELS_DIR)
    AutoModelForCausalLM.from_pretrained(models_dir / chat.name, local_files_only=True)
    scorer = AutoModelForSequenceClassification.from_pretrained(models_dir / reward.name, local_files_only=True)
    assert scorer.config.num_labels == 1
    assert sorted(ModelLibrary(models_dir).model_folders()) == sorted([chat.name, reward.name])


def test_a_run_on_a_fresh_release_builds_and_publishes_one_first(tiny_base_model):
    community, owner, _ = community_with_votes(votes=VOTES)
    run = start(community, owner, tiny_base_model, steps=1, fresh_release=True)
    run = run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    release = run.release
    assert (release.version, release.status) == (1, "published")
    assert run.release_merkle_root == release.merkle_root == run.trained_model.release_merkle_root


def test_too_few_preferences_fail_the_run_with_the_reason_and_register_nothing(tiny_base_model):
    community, owner, _ = community_with_votes(votes=1)
    release_published(community)
    arena = arena_state()
    run = run_execute(run_id=start(community, owner, tiny_base_model).pk)
    assert (run.status, run.stage) == ("failed", "Failed")
    assert run.error.startswith("Too few records to train dpo: "), run.error
    assert run.lease_expires_at is None and run.finished_at is not None
    assert TrainedModel.objects.count() == 0
    assert folder_listing() == []
    assert arena_state() == arena


def test_an_unknown_base_model_fails_the_run_with_the_reason(published):
    community, owner, _ = published
    run = run_execute(run_id=run_start(actor=owner, community=community, method="dpo", base_model="no-such-model").pk)
    assert run.status == "failed"
    assert run.error == f"The base model folder {settings.MODELS_DIR / 'no-such-model'} does not exist."
    assert TrainedModel.objects.count() == 0
    assert folder_listing() == []


def test_a_base_folder_that_is_not_a_causal_lm_fails_the_run_with_the_reason(published, tmp_path):
    community, owner, _ = published
    folder = Path(settings.MODELS_DIR) / "not-a-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}))
    run = run_execute(run_id=run_start(actor=owner, community=community, method="dpo", base_model="not-a-model").pk)
    assert run.status == "failed"
    assert run.error == (
        f"{folder} is not a causal language model: its architecture is BertForMaskedLM. Train from a chat "
        "model's folder (AutoModelForCausalLM), not from a reward model or an encoder."
    )
    assert TrainedModel.objects.count() == 0
    assert folder_listing() == ["not-a-model"]


def test_a_run_cancelled_mid_training_stops_between_steps_and_keeps_nothing(published, tiny_base_model):
    community, owner, _ = published
    arena = arena_state()
    run = start(community, owner, tiny_base_model, steps=20)

    def cancel_at_the_first_step(seen: Run) -> None:
        if seen.stage == "Training: step 1 of 20":
            run_cancel(actor=owner, run_id=seen.pk)

    run = run_execute(run_id=run.pk, on_progress=cancel_at_the_first_step)
    assert (run.status, run.stage) == ("cancelled", "Cancelled")
    assert run.error == f"Cancelled by {owner.email}."
    assert max(entry["step"] for entry in run.metrics) < 20
    assert run.lease_expires_at is None and run.finished_at is not None
    assert TrainedModel.objects.count() == 0
    assert folder_listing() == []
    assert arena_state() == arena


def test_a_worker_declared_dead_mid_run_stops_and_leaves_the_reason_and_nothing_else(published, tiny_base_model):
    community, owner, _ = published
    run = start(community, owner, tiny_base_model, steps=20)

    def lease_runs_out_at_the_first_step(seen: Run) -> None:
        if seen.stage == "Training: step 1 of 20":
            Run.objects.filter(pk=seen.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
            assert [reaped.pk for reaped in runs_reap()] == [seen.pk]  # as the schedule would, elsewhere

    run = run_execute(run_id=run.pk, on_progress=lease_runs_out_at_the_first_step)
    assert run.status == "failed"
    assert run.error.startswith(f"The worker {run.worker} stopped answering at ")
    assert run.error.endswith("; its lease ran out.")
    assert TrainedModel.objects.count() == 0
    assert folder_listing() == []
    assert not run_work_folder(run).exists()
