"""The automatic detectors on handcrafted cases (hard negatives included) and the toxicity
detector's precision and recall on its labelled sets."""

import sys

import pytest

from feedback.moderation.detectors import Finding, text_findings
from feedback.moderation.measure import LABELLED_PATH, toxicity_examples_load, toxicity_scores
from feedback.moderation.toxicity import _SLURS_ROT13, toxicity_score

HELDOUT_PATH = LABELLED_PATH.with_name("toxicity_heldout.jsonl")


def by_detector(text, **kwargs):
    return {finding.detector: finding for finding in text_findings(text, **kwargs)}


def test_the_modules_import_no_django():
    import subprocess

    code = "import sys, feedback.moderation.detectors, feedback.moderation.minhash; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- personal information -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "severity", "detail"),
    [
        ("My card is 4111 1111 1111 1111, expiry 12/29.", "high", "payment card number"),
        ("SSN 123-45-6789 please keep it safe", "high", "government id number"),
        ("Write to maria.lopez@example.com today.", "medium", "e-mail address"),
        ("a@example.com and b@example.org", "medium", "2 e-mail addresses"),
        ("The server is at 192.0.2.14 now.", "low", "IP address"),
    ],
)
def test_personal_information(text, severity, detail):
    for role in ("user", "assistant"):
        found = by_detector(text, role=role)["pii"]
        assert isinstance(found, Finding)
        assert (found.severity, found.detail) == (severity, detail)


def test_no_personal_information_in_plain_text():
    assert text_findings("Version 3.11.4 was released in 2023 for 12 dollars.", role="user") == []


# --- toxicity ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "severity", "detail"),
    [
        ("You are an idiot.", "medium", "insult: 'idiot'"),
        ("id1ot!!", "medium", "insult: 'idiot'"),
        ("i d i o t", "medium", "insult: 'idiot'"),
        ("you're soooo stuuupid", "medium", "insult: 'stupid'"),
        ("I will kill you.", "high", "threat: 'i will kill you'"),
        ("kys", "high", "threat: 'kys'"),
        ("Go f*ck yourself", "medium", "insult: 'go fuck yourself'"),
        ("Send me nudes", "high", "sexual: 'send me nudes'"),
    ],
)
def test_toxic_texts(text, severity, detail):
    found = by_detector(text, role="user")["toxicity"]
    assert (found.severity, found.detail) == (severity, detail)
    assert 0.5 <= found.score <= 1


def test_real_slurs_are_found_and_masked_in_the_detail():
    import codecs

    for slur in codecs.decode(_SLURS_ROT13, "rot13").split():
        found = by_detector(f"Shut up, {slur}.", role="user")["toxicity"]
        assert found.severity == "high", slur
        assert f"slur: '{slur[0]}" in found.detail and slur not in found.detail


@pytest.mark.parametrize(
    "text",
    [
        "How do I kill the process on port 8000?",
        "kill -9 the child process, then restart the worker.",
        "Scunthorpe United won on Saturday.",
        "The assassin hid in the cocktail bar in Sussex.",
        "Homo sapiens evolved in Africa.",
        "Great tits visit the feeder.",
        "The chinks in his armour showed.",
        "Moby Dick and Philip K. Dick.",
        "The patient needs a rectal examination for anal fissures.",
        "The word 'idiot' comes from Greek.",
        "What does 'kys' mean? I want to report it.",
        "I felt like an idiot when I forgot my password.",
        "Holy shit, that finally made sense!",
        "Never drink bleach.",
        "You killed it with that talk!",
    ],
)
def test_hard_negatives_are_not_toxic(text):
    assert "toxicity" not in by_detector(text, role="user"), toxicity_score(text)


def _floor2(value: float) -> float:
    return int(value * 100) / 100


def test_precision_and_recall_on_the_labelled_set():
    examples = toxicity_examples_load()
    assert len(examples) >= 200
    assert 0.35 <= sum(e["toxic"] for e in examples) / len(examples) <= 0.45
    scores = toxicity_scores(examples)
    print(f"labelled set: precision {scores['precision']:.3f} recall {scores['recall']:.3f}")
    # The figures in docs/moderation.md, rounded down.
    assert scores["precision"] >= 1.00
    assert scores["recall"] >= 0.91


def test_precision_and_recall_on_the_second_set():
    scores = toxicity_scores(toxicity_examples_load(HELDOUT_PATH))
    print(f"second set: precision {scores['precision']:.3f} recall {scores['recall']:.3f}")
    assert scores["precision"] >= 1.00
    assert scores["recall"] >= 0.84


# --- another assistant's identity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "severity", "detail"),
    [
        ("I am ChatGPT, a large language model.", "medium", "says it is ChatGPT"),
        ("I'm Claude, here to help.", "medium", "says it is Claude"),
        ("This model was trained by OpenAI.", "medium", "says it was made by OpenAI"),
        ("That breaks OpenAI's content policy.", "medium", "cites OpenAI's policies"),
        ("Sure!\npython\nCopy code\nprint(1)", "medium", "carries a chat interface's text: 'Copy code'"),
        ("As an AI language model, I cannot feel.", "low", "calls itself an AI language model"),
        ("As of my last knowledge update in 2023, yes.", "low", "mentions its training cut-off"),
    ],
)
def test_identity_phrases_in_answers(text, severity, detail):
    findings = [f for f in text_findings(text, role="assistant") if f.detector == "identity"]
    assert (findings[0].severity, findings[0].detail) == (severity, detail)


def test_identity_phrases_in_prompts_are_not_flagged():
    assert text_findings("Why do models say 'As an AI language model'? Is it ChatGPT?", role="user") == []


def test_tools_named_in_passing_are_not_identity_claims():
    assert text_findings("Tools such as ChatGPT or Claude can draft emails.", role="assistant") == []
    assert text_findings("Copy code from the template into your project.", role="assistant") == []


# --- language --------------------------------------------------------------------------------------


GERMAN = "Das ist eine sehr gute Antwort auf die Frage, vielen Dank für die ausführliche Hilfe."


def test_language_mismatch_is_low_and_names_both_languages():
    found = by_detector(GERMAN, role="user", expected_languages=["en"])["language"]
    assert (found.severity, found.detail) == ("low", "text looks like de, community language is en")
    assert found.score >= 0.95
    two = by_detector(GERMAN, role="assistant", expected_languages=["en", "fr"])["language"]
    assert two.detail == "text looks like de, community languages are en, fr"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GERMAN, ["de", "en"]),  # one of the community's languages
        (GERMAN, []),  # the community names none
        ("Danke schön!", ["en"]),  # too short to judge
        ("Fix it:\n```python\ndef f(x):\n    return sorted(set(x), key=len)[::-1]\n```", ["en"]),  # code only
    ],
)
def test_no_language_finding(text, expected):
    assert "language" not in by_detector(text, role="user", expected_languages=expected)


def test_findings_are_sorted_by_severity_and_roles_are_checked():
    findings = text_findings("I am ChatGPT. Card 4111 1111 1111 1111. As an AI language model...", role="assistant")
    assert [f.severity for f in findings] == ["high", "medium", "low"]
    with pytest.raises(ValueError, match="role"):
        text_findings("hi", role="system")
