"""Automatic flags on one text: personal information, toxicity, another assistant's identity,
language mismatch.

Pure Python, no Django: the moderation scan task calls `text_findings` on every text a person
submits and every model answer, and stores what it returns as automatic flags. Duplicates and
submission rates need the database and are found there, not here.

Which detector runs on which role (the role of the message in the conversation: a person's
prompt is "user"; a model's answer, a volunteer's better answer (correction) and the answers
of a donated conversation are "assistant"):

- pii (user, assistant): high for a payment card, a government id or a bank account; medium
  for an e-mail address, a phone number or a postal address; low for an IP address.
- toxicity (user, assistant): high when a toxic text holds a slur, a threat or sexual
  harassment; medium for other toxic text (insults, profanity aimed at someone).
- identity (assistant only): medium when the answer names another assistant or its maker ("I
  am ChatGPT", "trained by OpenAI", "OpenAI's policies") or carries a chat interface's text
  ("Regenerate response"); low for a generic AI self-description ("As an AI language model")
  or a training cut-off.
- language (user, assistant; only when the community lists its languages): low.

The identity detector reads answers only: a prompt that quotes "as an AI language model" is a
person asking about it, while an answer a volunteer writes as their own that says it is
ChatGPT was pasted from ChatGPT. On a model's own answer (or a donated ChatGPT answer) the
finding says the same thing and the scan task may keep it at that severity or drop it; the
arena already marks battles whose answer names its own model as not blind.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from feedback.language import language_guess
from feedback.moderation.toxicity import masked, toxicity_score
from feedback.privacy.pii import pii_summary

ROLES = ("user", "assistant")
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Finding:
    detector: str  # "pii" | "toxicity" | "identity" | "language" (the scan task adds "duplicate", "rate")
    severity: str  # "low" | "medium" | "high"
    score: float  # 0..1: how sure the detector is
    detail: str  # short and human-readable: "e-mail address", "insult: 'idiot'", "says it is ChatGPT"


def text_findings(text: str, *, role: str, expected_languages: Sequence[str] = ()) -> list[Finding]:
    """Every automatic flag on `text`, highest severity first (pii, toxicity, identity,
    language on a tie). `role` is "user" or "assistant"; `expected_languages` are the ISO
    639-1 codes of the community's languages (empty: no language check)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    findings = [*pii_findings(text), *toxicity_findings(text)]
    if role == "assistant":
        findings += identity_findings(text)
    findings += language_findings(text, expected_languages=expected_languages)
    order = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda finding: order[finding.severity])


# --- personal information ------------------------------------------------------------------------

# kind -> (severity, score, name in the detail, plural)
PII_SEVERITY = {
    "payment_card": ("high", 0.95, "payment card number", "payment card numbers"),
    "government_id": ("high", 0.95, "government id number", "government id numbers"),
    "bank_account": ("high", 0.95, "bank account number (IBAN)", "bank account numbers (IBAN)"),
    "email": ("medium", 0.9, "e-mail address", "e-mail addresses"),
    "phone": ("medium", 0.8, "phone number", "phone numbers"),
    "postal_address": ("medium", 0.8, "postal address", "postal addresses"),
    "ip_address": ("low", 0.7, "IP address", "IP addresses"),
}


def pii_findings(text: str) -> list[Finding]:
    """One finding per kind of personal information (feedback/privacy/pii.py, the detector the
    releases redact with): "e-mail address", "2 phone numbers"."""
    findings = []
    for kind, count in pii_summary(text).items():
        severity, score, singular, plural = PII_SEVERITY[kind]
        detail = singular if count == 1 else f"{count} {plural}"
        findings.append(Finding(detector="pii", severity=severity, score=score, detail=detail))
    return findings


# --- toxicity ------------------------------------------------------------------------------------


def toxicity_findings(text: str) -> list[Finding]:
    """One finding when the text is toxic (feedback/moderation/toxicity.py): its heaviest
    matches in the detail, slurs masked: "threat: 'i will kill you'", "slur: 'f****t'"."""
    result = toxicity_score(text)
    if not result.is_toxic:
        return []
    shown = [match for match in result.matches if not match.is_mention][:3]
    parts = [f"{match.category}: '{masked(match.text) if match.category == 'slur' else match.text}'" for match in shown]
    return [Finding(detector="toxicity", severity=result.severity, score=result.score, detail=", ".join(parts))]


# --- another assistant's identity ----------------------------------------------------------------

_ASSISTANTS = (
    r"chat ?gpt|gpt-?[34](?:\.5|o)?(?:-turbo)?|claude|bard|gemini|copilot|bing chat|llama|mistral|grok|perplexity"
)
_MAKERS = r"openai|anthropic|google(?: deepmind)?|deepmind|meta(?: ai)?|microsoft|mistral ai|xai"
# (severity, score, detail, pattern)
_IDENTITY_PATTERNS: list[tuple[str, float, str, re.Pattern]] = [
    (
        "medium",
        0.9,
        "says it is {name}",
        re.compile(rf"\b(?:i am|i'm|i’m|my name is)\s+({_ASSISTANTS})\b", re.IGNORECASE),
    ),
    (
        "medium",
        0.9,
        "says it was made by {name}",
        re.compile(
            rf"\b(?:trained|developed|created|built|made|designed)\s+by\s+({_MAKERS})\b",
            re.IGNORECASE,
        ),
    ),
    (
        "medium",
        0.85,
        "cites {name}'s policies",
        re.compile(
            rf"\b({_MAKERS})(?:'s|’s)\s+(?:use case |content |usage )?(?:policy|policies|guidelines)\b", re.IGNORECASE
        ),
    ),
    (
        "medium",
        0.85,
        "carries a chat interface's text: '{name}'",
        re.compile(
            r"(regenerate response|chatgpt can make mistakes|was this response better or worse)",
            re.IGNORECASE,
        ),
    ),
    (
        "medium",
        0.85,
        "carries a chat interface's text: '{name}'",
        # The button over a code block, on a line of its own (after the block's language name).
        re.compile(r"^[ \t]*(?:[A-Za-z+#]+[ \t]*)?(Copy code)[ \t]*$", re.MULTILINE),
    ),
    (
        "low",
        0.6,
        "calls itself an AI language model",
        re.compile(
            r"\b(?:as an ai(?: language)? model|as an ai assistant|as a large language model|"
            r"i am an ai(?: language model| assistant)?\b|i'm an ai(?: language model| assistant)?\b|"
            r"i am a large language model)",
            re.IGNORECASE,
        ),
    ),
    (
        "low",
        0.5,
        "mentions its training cut-off",
        re.compile(
            r"\b(?:my (?:knowledge|training)(?: data)? cut-?off|as of my last (?:knowledge )?update|"
            r"my training data (?:only )?(?:goes|extends) (?:up )?to)",
            re.IGNORECASE,
        ),
    ),
]

_DISPLAY_NAMES = {
    "chatgpt": "ChatGPT",
    "chat gpt": "ChatGPT",
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "deepmind": "DeepMind",
    "google deepmind": "Google DeepMind",
    "meta ai": "Meta AI",
    "mistral ai": "Mistral AI",
    "xai": "xAI",
    "bing chat": "Bing Chat",
}


def identity_findings(text: str) -> list[Finding]:
    """Phrases of another assistant in an answer: one finding per kind of phrase, the first
    occurrence named in the detail ("says it is ChatGPT", "says it was made by OpenAI")."""
    findings = []
    for severity, score, detail, pattern in _IDENTITY_PATTERNS:
        found = pattern.search(text)
        if found is None:
            continue
        name = found.group(1) if pattern.groups else ""
        shown = name if detail.startswith("carries") else _display_name(name)
        findings.append(Finding(detector="identity", severity=severity, score=score, detail=detail.format(name=shown)))
    return findings


def _display_name(name: str) -> str:
    lowered = name.lower()
    if lowered in _DISPLAY_NAMES:
        return _DISPLAY_NAMES[lowered]
    if lowered.startswith("gpt"):
        return lowered.upper()
    return lowered[:1].upper() + lowered[1:]


# --- language mismatch ----------------------------------------------------------------------------

# Shorter texts (after code and links are taken out) are not judged: the identifier guesses
# wildly on a few words.
LANGUAGE_MIN_CHARS = 40
LANGUAGE_MIN_WORDS = 6
# How sure the identifier must be before a text is called another language.
LANGUAGE_MIN_PROBABILITY = 0.95

_CODE_OR_LINK = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`|https?://\S+|\S+@\S+", re.DOTALL)


def language_findings(text: str, *, expected_languages: Sequence[str]) -> list[Finding]:
    """A low-severity finding when the text is long enough to judge, the offline identifier
    (py3langid, feedback/language.py) is sure of its language, and that language is not one of
    the community's: "text looks like de, community language is en"."""
    expected = [code.lower() for code in expected_languages if code]
    if not expected:
        return []
    prose = _CODE_OR_LINK.sub(" ", text)
    letters = sum(char.isalpha() for char in prose)
    if letters < LANGUAGE_MIN_CHARS or len(re.findall(r"\w+", prose)) < LANGUAGE_MIN_WORDS:
        return []
    code, probability = language_guess(prose)
    if probability < LANGUAGE_MIN_PROBABILITY or code in expected:
        return []
    wanted = (
        f"community language is {expected[0]}"
        if len(expected) == 1
        else f"community languages are {', '.join(expected)}"
    )
    return [
        Finding(
            detector="language",
            severity="low",
            score=round(probability, 4),
            detail=f"text looks like {code}, {wanted}",
        )
    ]
