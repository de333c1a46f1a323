"""`manage.py train`: one run in the foreground, a progress bar on stderr, one JSON object on stdout."""

import hashlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from training.models import Run, TrainedModel
from training.tests.runs_setup import community_with_votes, release_published

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def folders(tmp_path, settings, tiny_base_model):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()


def train(*arguments: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("train", *arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_train_json_prints_one_object_naming_the_model_its_folder_roots_weights_and_metrics(tiny_base_model):
    community, _, _ = community_with_votes(votes=12)
    release = release_published(community)
    out, err = train(
        "--community", community.slug, "--method", "dpo", "--max-steps", "2", "--seed", "3",
        "--base-model", str(tiny_base_model), "--json",
    )  # fmt: skip
    result = json.loads(out)
    model = TrainedModel.objects.get()
    run = Run.objects.get()
    assert (run.trigger, run.seed, run.status) == ("command", 3, "succeeded")
    assert result["model"] == model.pk
    assert result["folder"] == str(Path(settings.MODELS_DIR) / model.name)
    assert result["release_merkle_root"] == release.merkle_root
    assert result["selection_merkle_root"] == run.selection_merkle_root
    assert result["metrics"] == model.metrics
    assert result["weights"] == {
        name: hashlib.sha256((Path(result["folder"]) / name).read_bytes()).hexdigest() for name in result["weights"]
    }
    assert "model.safetensors" in result["weights"]
    assert "100% Succeeded" in err
    assert "Training: step 2 of 2" in err


def test_train_refuses_an_unknown_community_or_release_and_reports_a_failed_run(tiny_base_model):
    community, _, _ = community_with_votes(votes=1)
    with pytest.raises(CommandError, match=r"^No community 'nowhere'\.$"):
        train("--community", "nowhere", "--method", "dpo")
    with pytest.raises(CommandError, match=r"has no published release yet"):
        train("--community", community.slug, "--method", "dpo")
    release_published(community)
    with pytest.raises(CommandError, match=r"^Run \d+ failed: Too few records to train dpo: "):
        train("--community", community.slug, "--method", "dpo", "--base-model", str(tiny_base_model), "--json")
    assert TrainedModel.objects.count() == 0
