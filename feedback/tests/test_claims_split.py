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


def test_markdown_is_read_as_it_renders():
    answer = (
        "# Tides\n\n"
        "Tides are caused by the **Moon's** gravity. The *Sun* adds a _smaller_ pull.\n\n"
        "See [the NOAA page](https://tidesandcurrents.noaa.gov) for __more__ on `tide tables`.\n\n"
        "```python\nprint('The sea is salty.')\n```\n\n"
        "Rivers\n------\n\n"
        "> Estuaries see ![a bore](bore.png) at spring tides.\n\n"
        "***\n"
        "[noaa]: https://tidesandcurrents.noaa.gov\n"
    )
    assert claims_from_sentences(answer) == [
        "Tides are caused by the Moon's gravity.",
        "The Sun adds a smaller pull.",
        "See the NOAA page for more on tide tables.",
        "Estuaries see a bore at spring tides.",
    ]


def test_each_list_item_is_its_own_claim():
    answer = (
        "There are two kinds of tide:\n"
        "- Spring tides happen at new and full moon\n"
        "- Neap tides happen at the quarter moons\n"
        "* [x] High water comes twice a day\n\n"
        "Steps to read a tide table:\n"
        "1. Find the port of interest\n"
        "2) Read the time of high water\n"
        "   and its height in metres\n"
        "(3) Add the daylight saving hour\n"
    )
    assert claims_from_sentences(answer) == [
        "There are two kinds of tide:",
        "Spring tides happen at new and full moon",
        "Neap tides happen at the quarter moons",
        "High water comes twice a day",
        "Steps to read a tide table:",
        "Find the port of interest",
        "Read the time of high water and its height in metres",
        "Add the daylight saving hour",
    ]


def test_a_number_inside_a_paragraph_does_not_start_a_list():
    assert claims_from_sentences("The port was founded in\n1999. It grew fast.") == [
        "The port was founded in 1999.",
        "It grew fast.",
    ]


def test_a_sentence_said_twice_is_one_claim():
    answer = (
        "Tides follow the moon. The sea is salty.\n\n"
        "In short: tides follow the moon.\n\n"
        "**Tides follow the Moon!**\n\n"
        "- The sea is salty\n"
    )
    assert claims_from_sentences(answer) == [
        "Tides follow the moon.",
        "The sea is salty.",
        "In short: tides follow the moon.",
    ]


def test_a_table_row_reads_with_its_header():
    answer = (
        "| Place | Tide range |\n"
        "|:------|-----------:|\n"
        "| **Bay of Fundy** | 16 m |\n"
        "| Brest | |\n\n"
        "The range varies along each coast."
    )
    assert claims_from_sentences(answer) == [
        "Place: Bay of Fundy; Tide range: 16 m",
        "Place: Brest",
        "The range varies along each coast.",
    ]


def test_the_models_lines_lose_their_markdown():
    output = (
        "## Claims\n1. **Paris** is the capital of France.\n- It lies on the [Seine](https://example.org).\n"
        "* it lies on the Seine\n- `Lyon` is smaller than Paris."
    )
    assert claims_from_model_output(output, "") == [
        "Paris is the capital of France.",
        "It lies on the Seine.",
        "Lyon is smaller than Paris.",
    ]


@pytest.mark.django_db
def test_a_markdown_answer_is_split_as_it_reads():
    battle = battle_ready(
        text_a="## Tides\n\n- The moon pulls the sea\n- The sun pulls it **less**\n- The moon pulls the sea"
    )
    ModelEndpoint.objects.update(is_active=False)
    claims = answer_claims_split(answer=battle.answer_a)
    assert [(c.position, c.text) for c in claims] == [(1, "The moon pulls the sea"), (2, "The sun pulls it less")]
