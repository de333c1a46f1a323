import pytest

from feedback.models import Claim, TaskItem
from feedback.taskqueue.claims import claims_from_model_output, claims_from_sentences
from feedback.taskqueue.services.claims import answer_claims_split
from feedback.tests.factories import battle_ready
from inference.client import EndpointUnavailable
from inference.models import ModelEndpoint


def test_model_output_lines_become_claims():
    output = (
        "Here are the claims:\n1. Paris is the capital of France.\n- It lies on the Seine.\n\n"
        "* It lies on the Seine.\nok"
    )
    assert claims_from_model_output(output, "") == ["Paris is the capital of France.", "It lies on the Seine."]


def test_sentence_split_fallback():
    answer = (
        "Paris is the capital of France. It lies on the Seine! Is it big? Yes.\n- About 2 million people live there."
    )
    assert claims_from_sentences(answer) == [
        "Paris is the capital of France.",
        "It lies on the Seine!",
        "Is it big?",  # "Yes." is too short to be a claim
        "About 2 million people live there.",
    ]


@pytest.mark.django_db
def test_the_communitys_model_splits_the_answer_and_the_check_is_queued(fake_endpoints_url):
    battle = battle_ready()
    ModelEndpoint.objects.update(base_url=f"{fake_endpoints_url}/ok/v1")  # answers "Hello world"
    claims = answer_claims_split(answer=battle.answer_a)
    assert [c.text for c in claims] == ["Hello world"]
    assert TaskItem.objects.filter(kind="check_claims", answer=battle.answer_a).count() == 1
    assert answer_claims_split(answer=battle.answer_a) == claims  # once only
    assert Claim.objects.count() == 1


@pytest.mark.django_db
def test_an_unreachable_model_raises_for_celery_to_retry(closed_port_url):
    battle = battle_ready()
    ModelEndpoint.objects.update(base_url=closed_port_url)
    with pytest.raises(EndpointUnavailable):
        answer_claims_split(answer=battle.answer_a)
    assert Claim.objects.count() == 0
    assert TaskItem.objects.filter(kind="check_claims").count() == 0


@pytest.mark.django_db
def test_without_a_model_the_answer_is_split_into_sentences():
    battle = battle_ready(text_a="Tides follow the moon. The sea is salty.")
    ModelEndpoint.objects.update(is_active=False)
    claims = answer_claims_split(answer=battle.answer_a)
    assert [c.text for c in claims] == ["Tides follow the moon.", "The sea is salty."]
