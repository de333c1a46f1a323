"""The registry: lineage across fine-tunes, promotion into the community's arena (the model
server serves the new folder without a restart), retirement (out of the arena, nothing deleted)."""

from pathlib import Path

import pytest
from django.conf import settings
from starlette.testclient import TestClient

from community.errors import Conflict, NotAllowed
from community.tests.factories import MembershipFactory
from feedback.arena.selectors import arena_endpoints_available
from inference.models import ModelEndpoint
from training.models import TrainedModel
from training.registry.services import model_promote, model_retire
from training.runs.execute import run_execute
from training.runs.selectors import model_lineage
from training.runs.services import run_start
from training.tests.runs_setup import community_with_votes, release_published

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def folders(tmp_path, settings, tiny_base_model):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()


def trained(community, owner, base: str, method: str = "dpo") -> TrainedModel:
    run = run_start(
        actor=owner,
        community=community,
        method=method,
        base_model=base,
        training={"max_steps": 1, "per_device_batch_size": 2, "max_length": 128},
    )
    run = run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    return run.trained_model


def test_lineage_promotion_into_the_arena_and_retirement(tiny_base_model):
    from inference.server import create_app

    community, owner, (first_endpoint, second_endpoint) = community_with_votes(votes=12)
    release_published(community)
    parent = trained(community, owner, str(tiny_base_model))
    child = trained(community, owner, parent.name)
    assert (parent.parent, child.parent) == (None, parent)
    assert model_lineage(child) == [tiny_base_model.name, parent.name, child.name]
    assert f"lineage: `{parent.name}` → `{child.name}`" in child.card

    volunteer = MembershipFactory(community=community).user
    with pytest.raises(NotAllowed):
        model_promote(actor=volunteer, model_id=child.pk)
    assert list(arena_endpoints_available(community=community)) == [first_endpoint, second_endpoint]

    promoted = model_promote(actor=owner, model_id=child.pk)
    endpoint = promoted.endpoint
    assert (endpoint.kind, endpoint.model_id, endpoint.community, endpoint.is_active) == (
        ModelEndpoint.Kind.BUILTIN,
        child.name,
        community,
        True,
    )
    assert list(arena_endpoints_available(community=community)) == [first_endpoint, second_endpoint, endpoint]
    assert model_promote(actor=owner, model_id=child.pk).endpoint == endpoint  # idempotent

    # The model server lists every folder of MODELS_DIR at each request: the new model answers at once.
    with TestClient(create_app(Path(settings.MODELS_DIR))) as server:
        listed = [entry["id"] for entry in server.get("/v1/models").json()["data"]]
        assert listed == sorted([parent.name, child.name])
        answer = server.post(
            "/v1/chat/completions",
            json={
                "model": endpoint.model_id,
                "messages": [{"role": "user", "content": "Hello"}],
                "max_tokens": 3,
                "seed": 1,
            },
        )
    assert answer.status_code == 200
    assert answer.json()["model"] == child.name
    assert answer.json()["choices"][0]["message"]["role"] == "assistant"

    retired = model_retire(actor=owner, model_id=child.pk)
    endpoint.refresh_from_db()
    assert (retired.status, endpoint.is_active) == ("retired", False)
    assert retired.retired_at is not None
    assert list(arena_endpoints_available(community=community)) == [first_endpoint, second_endpoint]
    assert (Path(settings.MODELS_DIR) / child.name / "model.safetensors").is_file()
    assert TrainedModel.objects.filter(pk=child.pk).exists()
    with pytest.raises(Conflict, match=r"^A retired model cannot join the arena\.$"):
        model_promote(actor=owner, model_id=child.pk)


def test_a_reward_model_never_joins_the_arena(tiny_base_model):
    community, owner, _ = community_with_votes(votes=12)
    release_published(community)
    reward = trained(community, owner, str(tiny_base_model), method="reward")
    endpoints = ModelEndpoint.objects.count()
    with pytest.raises(Conflict, match=r"^A reward model scores answers; it does not chat"):
        model_promote(actor=owner, model_id=reward.pk)
    assert ModelEndpoint.objects.count() == endpoints
