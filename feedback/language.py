"""Offline language identification for prompts (py3langid: a small naive-Bayes model shipped
in the package, no download)."""

from functools import lru_cache


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_detect(text: str, *, default: str = "") -> str:
    """The ISO 639-1 code of the text's language, or `default` when the text is too short or
    the guess is unsure."""
    if len(text.strip()) < 12:
        return default
    code, probability = _identifier().classify(text)
    return code if probability >= 0.8 else default


def language_guess(text: str) -> tuple[str, float]:
    """The most likely ISO 639-1 code of the text's language and its probability (0..1),
    however short or unsure; callers decide what is long and sure enough."""
    code, probability = _identifier().classify(text)
    return code, float(probability)
