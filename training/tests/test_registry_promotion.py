"""Promotion: the win rate and its bootstrap interval against an independent count, the reward
model judging two chat models on held-out prompts, and the decision a run stores on its model."""

import pytest

from inference.models import ModelEndpoint
from training.models import TrainingPolicy
from training.registry.compare import models_compare, outcomes, win_rate_interval
from training.runs.execute import run_execute
from training.runs.services import run_start
from training.tests.runs_setup import community_with_votes, release_published


def test_outcomes_count_a_tie_as_half_and_the_interval_brackets_the_rate():
    assert outcomes([2.0, 1.0, 0.5], [1.0, 1.0, 0.7]) == [1.0, 0.5, 0.0]
    assert win_rate_interval([1.0] * 5).as_json() == {
        "prompts": 5,
        "wins": 5.0,
        "win_rate": 1.0,
        "low": 1.0,
        "high": 1.0,
    }
    assert win_rate_interval([0.5] * 4).as_json() == {
        "prompts": 4,
        "wins": 2.0,
        "win_rate": 0.5,
        "low": 0.5,
        "high": 0.5,
    }
    # Two prompts, one won: resampled rates are 0, 1/2, 1 with chances 1/4, 1/2, 1/4, so the
    # 2.5 % and 97.5 % points are 0 and 1.
    two = win_rate_interval([1.0, 0.0], resamples=4000, seed=3)
    assert (two.win_rate, two.low, two.high) == (0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="No prompt"):
        win_rate_interval([])


@pytest.mark.django_db
def test_a_model_judged_against_itself_ties_everywhere(tiny_base_model, tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()
    community, owner, _ = community_with_votes(votes=12)
    release_published(community)
    reward = run_execute(
        run_id=run_start(
            actor=owner,
            community=community,
            method="reward",
            base_model=str(tiny_base_model),
            training={"max_steps": 1, "per_device_batch_size": 2, "max_length": 128},
        ).pk
    ).trained_model
    prompts = [[{"role": "user", "content": "Why do tides matter?"}], [{"role": "user", "content": "Owls?"}]]
    same = models_compare(
        candidate=tiny_base_model,
        current=tiny_base_model,
        reward=settings.MODELS_DIR / reward.name,
        prompts=prompts,
        max_new_tokens=4,
    )
    assert same.as_json() == {"prompts": 2, "wins": 1.0, "win_rate": 0.5, "low": 0.5, "high": 0.5}

    # A DPO run of a community that promotes automatically: compared with the base on its
    # held-out prompts, judged by that reward model; the decision follows the stored figures.
    TrainingPolicy.objects.create(community=community, auto_promote=True, promotion_margin=0.05)
    endpoints = ModelEndpoint.objects.count()
    dpo = run_execute(
        run_id=run_start(
            actor=owner,
            community=community,
            method="dpo",
            base_model=str(tiny_base_model),
            training={"max_steps": 1, "per_device_batch_size": 2, "max_length": 128},
        ).pk
    ).trained_model
    record = dpo.promotion
    assert (record["against"], record["judge"], record["prompts"], record["margin"]) == (
        tiny_base_model.name,
        reward.name,
        1,
        0.05,
    )
    assert record["low"] <= record["win_rate"] <= record["high"]
    assert record["beats_current"] == (record["win_rate"] > 0.55)
    if record["beats_current"]:
        assert record["decision"] == "promoted"
        assert dpo.endpoint.model_id == dpo.name
        assert ModelEndpoint.objects.count() == endpoints + 1
    else:
        assert record["decision"] == "does not beat the current model by the margin"
        assert dpo.endpoint is None
        assert ModelEndpoint.objects.count() == endpoints


@pytest.mark.django_db
def test_without_a_reward_model_nothing_is_promoted_and_the_model_says_why(tiny_base_model, tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()
    community, owner, _ = community_with_votes(votes=12)
    release_published(community)
    TrainingPolicy.objects.create(community=community, auto_promote=True)
    endpoints = list(ModelEndpoint.objects.values_list("pk", "is_active"))
    model = run_execute(
        run_id=run_start(
            actor=owner,
            community=community,
            method="dpo",
            base_model=str(tiny_base_model),
            training={"max_steps": 1, "per_device_batch_size": 2, "max_length": 128},
        ).pk
    ).trained_model
    assert model.promotion == {
        "margin": 0.05,
        "auto_promote": True,
        "decision": "no reward model of the community to judge with: train one first",
    }
    assert list(ModelEndpoint.objects.values_list("pk", "is_active")) == endpoints
