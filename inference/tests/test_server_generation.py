"""The token-level pieces of generation that the HTTP tests cannot pin down exactly."""

import pytest
import torch

from inference.server.generation import SeededNucleusSampler, StopStringFilter


@pytest.mark.parametrize(
    ("stops", "pieces", "answer", "is_stopped"),
    [
        ((), ["Hello", " world"], "Hello world", False),
        (("###",), ["Hello", " world"], "Hello world", False),
        (("###",), ["Hello #", "## more"], "Hello ", True),
        (("###",), ["Hello #", "#", "#"], "Hello ", True),
        (("###",), ["Hello #", "# and more"], "Hello ## and more", False),
        (("###",), ["Hello ##"], "Hello ##", False),  # held back, then flushed at the end
        (("User:", "\n\n"), ["Sure.\n", "\nUser: hi"], "Sure.", True),
        (("User:", "Use"), ["We Use"], "We ", True),  # the earliest match wins
        (("abc",), ["xab", "abc"], "xab", True),
    ],
)
def test_stop_string_filter(stops: tuple[str, ...], pieces: list[str], answer: str, is_stopped: bool) -> None:
    stop_filter = StopStringFilter(stops)
    released = []
    for piece in pieces:
        released.append(stop_filter.push(piece))
        if stop_filter.is_stopped:
            break
    released.append(stop_filter.flush())

    assert "".join(released) == answer
    assert stop_filter.is_stopped is is_stopped


def test_stop_string_filter_releases_text_that_cannot_start_a_stop_string() -> None:
    stop_filter = StopStringFilter(("</answer>",))

    assert stop_filter.push("The answer is 4 <") == "The answer is 4 "
    assert stop_filter.push("b>") == "<b>"


def _draws(sampler: SeededNucleusSampler, logits: torch.Tensor, count: int) -> list[int]:
    tokens = []
    for _ in range(count):
        processed = sampler(torch.zeros((1, 1), dtype=torch.long), logits.clone())
        assert torch.isfinite(processed).sum() == 1  # exactly one token left for greedy decoding to take
        tokens.append(int(processed.argmax()))
    return tokens


def test_nucleus_sampler_matches_the_renormalised_distribution() -> None:
    """Probabilities 0.4, 0.3, 0.2, 0.1 with top_p 0.5: the nucleus is {0, 1}, drawn 4 : 3."""
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1]]))
    tokens = _draws(SeededNucleusSampler(temperature=1.0, top_p=0.5, seed=0), logits, 4000)

    assert set(tokens) == {0, 1}
    assert tokens.count(0) / len(tokens) == pytest.approx(4 / 7, abs=0.03)  # about 4 standard errors


def test_temperature_sharpens_the_distribution() -> None:
    """At temperature 0.5 the probabilities go as the squares: 0.6² : 0.4² = 9 : 4."""
    logits = torch.log(torch.tensor([[0.6, 0.4]]))
    tokens = _draws(SeededNucleusSampler(temperature=0.5, top_p=1.0, seed=1), logits, 4000)

    assert tokens.count(0) / len(tokens) == pytest.approx(9 / 13, abs=0.03)


def test_the_same_seed_draws_the_same_tokens() -> None:
    logits = torch.randn((1, 50), generator=torch.Generator().manual_seed(3))
    first = _draws(SeededNucleusSampler(temperature=1.0, top_p=0.9, seed=42), logits, 50)
    again = _draws(SeededNucleusSampler(temperature=1.0, top_p=0.9, seed=42), logits, 50)
    other = _draws(SeededNucleusSampler(temperature=1.0, top_p=0.9, seed=43), logits, 50)

    assert first == again
    assert first != other
