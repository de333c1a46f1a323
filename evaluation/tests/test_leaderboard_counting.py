"""Which battles a leaderboard counts, and the counts the database gives the engine."""

from datetime import timedelta

import pytest
from django.utils import timezone

from community.models import ErasureRequest
from community.tests.factories import CommunityFactory, UserFactory
from evaluation.leaderboards.counting import (
    CountRow,
    ScopeKey,
    battle_counts,
    battle_texts,
    count_rows,
    counted_battles,
    model_variants_tested,
    scope_counts,
)
from evaluation.tests.factories import battle_make
from feedback.models import Battle
from feedback.tests.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def league():
    """A community with three models."""
    community = CommunityFactory(topics=["Health", "Law"])
    models = [ModelEndpointFactory(community=community, name=name) for name in ("alpha", "beta", "gamma")]
    return community, models


def test_only_voted_blind_battles_count(league):
    community, (alpha, beta, _) = league
    counted = battle_make(community=community, model_a=alpha, model_b=beta)
    battle_make(community=community, model_a=alpha, model_b=beta, is_blind=False)
    battle_make(community=community, model_a=alpha, model_b=beta, status=Battle.Status.ERRORED)
    battle_make(community=community, model_a=alpha, model_b=beta, status=Battle.Status.STREAMING)
    battle_make(community=community, model_a=alpha, model_b=beta, status=Battle.Status.READY)

    assert list(counted_battles()) == [counted]
    assert battle_counts(counted_battles()) == [("alpha", "beta", "model_a", 1)]


def test_votes_of_an_erased_volunteer_do_not_count(league):
    community, (alpha, beta, _) = league
    kept = battle_make(community=community, model_a=alpha, model_b=beta)
    erased = UserFactory()
    battle_make(community=community, model_a=alpha, model_b=beta, judge=erased)
    ErasureRequest.objects.create(user=None, user_pk=erased.pk)

    assert list(counted_battles()) == [kept]


def test_counts_group_by_models_and_outcome_in_one_query(league, django_assert_num_queries):
    community, (alpha, beta, gamma) = league
    for winner in ("model_a", "model_a", "model_b", "tie", "tie (bothbad)"):
        battle_make(community=community, model_a=alpha, model_b=beta, winner=winner)
    battle_make(community=community, model_a=beta, model_b=alpha, winner="model_b")
    battle_make(community=community, model_a=gamma, model_b=alpha, winner="tie")

    with django_assert_num_queries(1):
        counts = battle_counts(counted_battles())

    assert counts == [
        ("alpha", "beta", "model_a", 2),
        ("alpha", "beta", "model_b", 1),
        ("alpha", "beta", "tie", 1),
        ("alpha", "beta", "tie (bothbad)", 1),
        ("beta", "alpha", "model_b", 1),
        ("gamma", "alpha", "tie", 1),
    ]


def test_counts_per_community_topic_and_language(league):
    community, (alpha, beta, _) = league
    other = CommunityFactory()
    shared = ModelEndpointFactory(community=None, name="shared")
    battle_make(community=community, model_a=alpha, model_b=beta, topic="Health", language="en")
    battle_make(community=community, model_a=alpha, model_b=beta, topic="Health", language="fr", winner="model_b")
    battle_make(community=community, model_a=alpha, model_b=beta, topic="Law", language="fr")
    battle_make(community=other, model_a=shared, model_b=ModelEndpointFactory(community=other, name="delta"))

    assert battle_counts(counted_battles(community=community)) == [
        ("alpha", "beta", "model_a", 2),
        ("alpha", "beta", "model_b", 1),
    ]
    assert battle_counts(counted_battles(community=other)) == [("shared", "delta", "model_a", 1)]
    assert battle_counts(counted_battles(topic="Health")) == [
        ("alpha", "beta", "model_a", 1),
        ("alpha", "beta", "model_b", 1),
    ]
    assert battle_counts(counted_battles(language="fr")) == [
        ("alpha", "beta", "model_a", 1),
        ("alpha", "beta", "model_b", 1),
    ]
    assert battle_counts(counted_battles(community=other, language="fr")) == []
    assert counted_battles().count() == 4


def test_every_scope_from_one_group_by(league, django_assert_num_queries):
    community, (alpha, beta, gamma) = league
    other = CommunityFactory()
    delta = ModelEndpointFactory(community=other, name="delta")
    epsilon = ModelEndpointFactory(community=other, name="epsilon")
    for _ in range(3):
        battle_make(community=community, model_a=alpha, model_b=beta, topic="Health", language="en")
    battle_make(community=community, model_a=gamma, model_b=beta, topic="", language="de", winner="tie")
    battle_make(community=other, model_a=delta, model_b=epsilon, topic="Health", language="")
    battle_make(community=community, model_a=alpha, model_b=beta, is_blind=False, topic="Law")

    with django_assert_num_queries(1):
        rows = count_rows()
    assert sorted(rows) == sorted(
        [
            CountRow(community.pk, "Health", "en", "alpha", "beta", "model_a", 3),
            CountRow(community.pk, "", "de", "gamma", "beta", "tie", 1),
            CountRow(other.pk, "Health", "", "delta", "epsilon", "model_a", 1),
        ]
    )

    scopes = scope_counts(rows, min_category_battles=1)
    assert scopes == {
        ScopeKey(None): [
            ("alpha", "beta", "model_a", 3),
            ("delta", "epsilon", "model_a", 1),
            ("gamma", "beta", "tie", 1),
        ],
        ScopeKey(None, "language", "de"): [("gamma", "beta", "tie", 1)],
        ScopeKey(None, "language", "en"): [("alpha", "beta", "model_a", 3)],
        ScopeKey(None, "topic", "Health"): [("alpha", "beta", "model_a", 3), ("delta", "epsilon", "model_a", 1)],
        ScopeKey(community.pk): [("alpha", "beta", "model_a", 3), ("gamma", "beta", "tie", 1)],
        ScopeKey(community.pk, "language", "de"): [("gamma", "beta", "tie", 1)],
        ScopeKey(community.pk, "language", "en"): [("alpha", "beta", "model_a", 3)],
        ScopeKey(community.pk, "topic", "Health"): [("alpha", "beta", "model_a", 3)],
        ScopeKey(other.pk): [("delta", "epsilon", "model_a", 1)],
        ScopeKey(other.pk, "topic", "Health"): [("delta", "epsilon", "model_a", 1)],
    }
    # Categories need enough battles; overall leaderboards do not.
    assert set(scope_counts(rows, min_category_battles=3)) == {
        ScopeKey(None),
        ScopeKey(None, "language", "en"),
        ScopeKey(None, "topic", "Health"),
        ScopeKey(community.pk),
        ScopeKey(community.pk, "language", "en"),
        ScopeKey(community.pk, "topic", "Health"),
        ScopeKey(other.pk),
    }


def test_no_battles_no_scopes():
    assert scope_counts(count_rows(), min_category_battles=1) == {}


def test_answer_texts_stream_in_battle_order(league):
    community, (alpha, beta, _) = league
    battle_make(community=community, model_a=alpha, model_b=beta, text_a="# Title\n\nLong", text_b="short")
    battle_make(community=community, model_a=beta, model_b=alpha, winner="tie", text_a="**bold**", text_b="- a\n- b")
    battle_make(community=community, model_a=beta, model_b=alpha, is_blind=False, text_a="not counted")

    assert list(battle_texts(counted_battles(community=community))) == [
        ("alpha", "beta", "model_a", "# Title\n\nLong", "short"),
        ("beta", "alpha", "tie", "**bold**", "- a\n- b"),
    ]


def test_every_model_variant_ever_tested_with_dates_and_counts(league):
    community, (alpha, beta, gamma) = league
    retired = ModelEndpointFactory(community=community, name="retired", is_active=False)
    never = ModelEndpointFactory(community=community, name="never in a battle")
    elsewhere = ModelEndpointFactory(name="elsewhere")
    first = battle_make(community=community, model_a=retired, model_b=alpha)
    battle_make(community=community, model_a=alpha, model_b=beta, status=Battle.Status.ERRORED)
    last = battle_make(community=community, model_a=beta, model_b=retired, is_blind=False)
    battle_make(model_a=elsewhere, model_b=gamma)  # another community
    start = timezone.now() - timedelta(days=10)
    Battle.objects.filter(pk=first.pk).update(created_at=start)
    Battle.objects.filter(pk=last.pk).update(created_at=start + timedelta(days=3))

    variants = {v.endpoint.name: v for v in model_variants_tested(community=community)}

    assert set(variants) == {"retired", "alpha", "beta"}
    assert never.name not in variants
    assert (variants["retired"].battles, variants["retired"].counted) == (2, 1)
    assert (variants["alpha"].battles, variants["alpha"].counted) == (2, 1)
    assert (variants["beta"].battles, variants["beta"].counted) == (2, 0)
    assert variants["retired"].first_battle_at == start
    assert variants["retired"].last_battle_at == start + timedelta(days=3)
    assert variants["retired"].endpoint.is_active is False
    everywhere = {v.endpoint.name for v in model_variants_tested()}
    assert everywhere == {"retired", "alpha", "beta", "elsewhere", "gamma"}


def test_moderation_decides_which_battles_count(league):
    """Hidden prompts or answers, an open high-severity flag in the conversation, and judges the
    community's trust policy excludes: not counted; a down-weighting policy excludes nobody."""
    from feedback.models import ContributorTrust, Message, ModerationStatus
    from feedback.moderation.detectors import Finding
    from feedback.moderation.scan import flags_store
    from feedback.moderation.trust_policy import policy_for

    community, (alpha, beta, _) = league
    kept = battle_make(community=community, model_a=alpha, model_b=beta)
    hidden_prompt = battle_make(community=community, model_a=alpha, model_b=beta)
    Message.objects.filter(pk=hidden_prompt.answer_a.parent_id).update(moderation_status=ModerationStatus.HIDDEN)
    removed_answer = battle_make(community=community, model_a=alpha, model_b=beta)
    Message.objects.filter(pk=removed_answer.answer_b_id).update(moderation_status=ModerationStatus.REMOVED)
    flagged = battle_make(community=community, model_a=alpha, model_b=beta)
    flags_store(message=flagged.answer_a, findings=[Finding("pii", "high", 1.0, "payment card number")])
    low_trust = battle_make(community=community, model_a=alpha, model_b=beta)
    ContributorTrust.objects.create(
        user=low_trust.judge, community=community, gold_accuracy=0.1, gold_answers=40, computed_at=timezone.now()
    )
    everything = {kept.pk, low_trust.pk}
    assert set(counted_battles(community=community).values_list("pk", flat=True)) == everything
    policy = policy_for(community=community)
    policy.trust_mode = "down_weight"
    policy.save()
    assert set(counted_battles(community=community).values_list("pk", flat=True)) == everything
    policy.trust_mode = "exclude"
    policy.save()
    assert set(counted_battles(community=community).values_list("pk", flat=True)) == {kept.pk}
    assert sum(row[3] for row in battle_counts(counted_battles(community=community))) == 1
