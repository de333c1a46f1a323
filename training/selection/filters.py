"""One pure function per selection filter: records in, the kept ones and the removed ones with a reason out.

Records are a release's `preferences` records (docs/release-formats.md): `prompt`, `chosen` and
`rejected` are lists of `{"role", "content"}` messages. Every filter keeps the records' order
and never changes a record. No Django, no model: the perplexity filter takes its scores from a
function the caller passes.
"""

import hashlib
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from feedback.moderation import minhash
from feedback.releases.merkle import canonical_json

_WORD = re.compile(r"\w+")
REPETITION_NGRAM = 3


@dataclass
class FilterOutcome:
    """What one filter did: the records it kept (in order) and those it removed, each with why."""

    kept: list[dict] = field(default_factory=list)
    removed: list[tuple[dict, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def messages_text(messages: Sequence[Mapping]) -> str:
    """The contents of a list of messages, one per line."""
    return "\n".join(str(message.get("content", "")) for message in messages)


def prompt_text(record: Mapping) -> str:
    return messages_text(record.get("prompt") or [])


def chosen_text(record: Mapping) -> str:
    return messages_text(record.get("chosen") or [])


def rejected_text(record: Mapping) -> str:
    return messages_text(record.get("rejected") or [])


def repetition(text: str) -> float:
    """The share of the text's word 3-grams that repeat an earlier one: 1 - distinct / all.

    0 for a text of fewer than four words (it has at most one 3-gram, which cannot repeat).
    Words are runs of letters and digits, compared in lower case.
    """
    words = [word.lower() for word in _WORD.findall(text)]
    grams = [tuple(words[i : i + REPETITION_NGRAM]) for i in range(len(words) - REPETITION_NGRAM + 1)]
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def symbol_ratio(text: str) -> float:
    """The share of the text's non-space characters that are not letters, digits or marks.

    Unicode categories L*, N* and M* count as text (so the vowel signs of Devanagari or Thai
    do not count as symbols); punctuation, symbols and everything else count. 0 for a text
    without non-space characters.
    """
    counts = Counter(text)
    total = symbols = 0
    for character, count in counts.items():
        if character.isspace():
            continue
        total += count
        if unicodedata.category(character)[0] not in "LNM":
            symbols += count
    return symbols / total if total else 0.0


def language_filter(records: Sequence[dict], languages: Sequence[str] | None) -> FilterOutcome:
    """Keep the records whose `language` is one of `languages` (compared in lower case); None keeps all."""
    outcome = FilterOutcome()
    if languages is None:
        outcome.kept = list(records)
        return outcome
    wanted = {code.lower() for code in languages}
    named = ", ".join(sorted(wanted))
    for record in records:
        language = str(record.get("language") or "")
        if language.lower() in wanted:
            outcome.kept.append(record)
        else:
            outcome.removed.append((record, f"language {language or '(none)'!r} is not one of {named}"))
    return outcome


def quality_filter(
    records: Sequence[dict], *, min_chars: int, max_chars: int, max_repetition: float, max_symbol_ratio: float
) -> FilterOutcome:
    """Heuristic quality on the chosen answer and the prompt: length, repetition, symbol ratio.

    The chosen answer (stripped) must have min_chars to max_chars characters and the prompt at
    most max_chars; both must have `repetition` <= max_repetition and `symbol_ratio` <=
    max_symbol_ratio. The reason names the first check a record fails.
    """
    outcome = FilterOutcome()
    for record in records:
        reason = None
        answer, prompt = chosen_text(record).strip(), prompt_text(record).strip()
        if len(answer) < min_chars:
            reason = f"chosen answer has {len(answer)} characters, fewer than {min_chars}"
        elif len(answer) > max_chars:
            reason = f"chosen answer has {len(answer)} characters, more than {max_chars}"
        elif len(prompt) > max_chars:
            reason = f"prompt has {len(prompt)} characters, more than {max_chars}"
        else:
            for part, text in (("chosen answer", answer), ("prompt", prompt)):
                if (value := repetition(text)) > max_repetition:
                    reason = f"{part} repeats itself: {value:.2f} of its word 3-grams repeat (at most {max_repetition})"
                    break
                if (value := symbol_ratio(text)) > max_symbol_ratio:
                    reason = f"{part} is {value:.2f} symbols (at most {max_symbol_ratio})"
                    break
        if reason is None:
            outcome.kept.append(record)
        else:
            outcome.removed.append((record, reason))
    return outcome


def flag_filter(records: Sequence[dict], flagged: Mapping[str, Sequence[str]] | None) -> FilterOutcome:
    """Remove the records whose id is in `flagged` (id -> the flag labels of its chosen answer).

    A release's preferences carry no flags; `release.release_flagged_ids` finds them in the
    release's message trees. None (no flag information) keeps every record and says so.
    """
    outcome = FilterOutcome()
    if flagged is None:
        outcome.kept = list(records)
        outcome.notes.append("no flag information was given, so no record was removed for flags")
        return outcome
    for record in records:
        labels = flagged.get(str(record.get("id")))
        if labels is None:
            outcome.kept.append(record)
        else:
            outcome.removed.append((record, f"chosen answer flagged by volunteers: {', '.join(sorted(labels))}"))
    return outcome


def agreement_filter(
    records: Sequence[dict], agreement: Mapping[str, float] | None, min_agreement: float | None
) -> FilterOutcome:
    """Remove the records whose agreement is below min_agreement.

    A record's agreement is `agreement[id]`, else the record's own `agreement` field if it has
    one. A record with neither (a single vote has no agreement to measure) is kept, and the
    outcome's notes count them. min_agreement None keeps every record.
    """
    outcome = FilterOutcome()
    if min_agreement is None:
        outcome.kept = list(records)
        return outcome
    agreement = agreement or {}
    unmeasured = 0
    for record in records:
        value = agreement.get(str(record.get("id")), record.get("agreement"))
        if value is None:
            unmeasured += 1
            outcome.kept.append(record)
        elif not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            outcome.removed.append((record, f"agreement {value!r} is not a number"))
        elif value < min_agreement:
            outcome.removed.append((record, f"agreement {value:.2f} is below {min_agreement}"))
        else:
            outcome.kept.append(record)
    if unmeasured:
        outcome.notes.append(f"{unmeasured} records had no agreement value and were kept")
    return outcome


def _pair_key(record: Mapping) -> bytes:
    pair = {"prompt": record.get("prompt"), "chosen": record.get("chosen"), "rejected": record.get("rejected")}
    return hashlib.sha256(canonical_json(pair)).digest()


def exact_duplicate_filter(records: Sequence[dict]) -> FilterOutcome:
    """Remove every record whose prompt, chosen and rejected messages equal an earlier record's.

    Ids, community and the other fields do not matter: the same pair twice is one pair. The
    first one in order is kept.
    """
    outcome = FilterOutcome()
    first: dict[bytes, str] = {}
    for record in records:
        key = _pair_key(record)
        if key in first:
            outcome.removed.append((record, f"the same prompt and answers as {first[key]}"))
        else:
            first[key] = str(record.get("id"))
            outcome.kept.append(record)
    return outcome


def near_duplicate_text(record: Mapping) -> str:
    """What near-duplicate detection compares: the prompt, the chosen and the rejected texts."""
    return "\n".join((prompt_text(record), chosen_text(record), rejected_text(record)))


def near_duplicate_filter(records: Sequence[dict], threshold: float) -> FilterOutcome:
    """Remove records whose MinHash similarity to an earlier kept record is at least `threshold`.

    The platform's MinHash (feedback/moderation/minhash.py: 128 permutations over word
    3-grams, 32 LSH bands of 4 rows): a record's band keys find the kept records it shares a
    band with, and the share of equal positions in the two signatures (`minhash.similarity`,
    here computed with numpy over all candidates at once) decides. Records are taken in
    order, so of a group of near-duplicates the first stays. Pairs sharing no band are never
    compared: at similarity s a pair shares one with probability 1 - (1 - s**4)**32 (0.99 at
    0.6, 0.56 at 0.4), so thresholds below 0.5 miss some pairs. A text without words has no
    band keys and is never a near-duplicate.
    """
    outcome = FilterOutcome()
    buckets: dict[int, list[int]] = defaultdict(list)  # band key -> positions among the kept signatures
    kept_ids: list[str] = []
    kept_signatures = np.empty((0, minhash.NUM_PERM), dtype=np.uint32)
    for record in records:
        signature = minhash.signature(near_duplicate_text(record))
        keys = minhash.band_keys(signature)
        candidates = sorted({position for key in keys for position in buckets.get(key, ())})
        if candidates:
            values = np.asarray(signature, dtype=np.uint32)
            similarities = (kept_signatures[candidates] == values).mean(axis=1)
            hits = np.flatnonzero(similarities >= threshold)
            if hits.size:
                first = int(hits[0])
                reason = f"near-duplicate of {kept_ids[candidates[first]]} (similarity {similarities[first]:.2f})"
                outcome.removed.append((record, reason))
                continue
        position = len(kept_ids)
        kept_ids.append(str(record.get("id")))
        if position == len(kept_signatures):  # grow the matrix by doubling
            grown = np.empty((max(16, 2 * len(kept_signatures)), minhash.NUM_PERM), dtype=np.uint32)
            grown[:position] = kept_signatures[:position]
            kept_signatures = grown
        kept_signatures[position] = signature
        for key in keys:
            buckets[key].append(position)
        outcome.kept.append(record)
    return outcome


def perplexity_filter(
    records: Sequence[dict], perplexity: Callable[[list[str]], list[float]], perplexity_max: float
) -> FilterOutcome:
    """Remove the records whose chosen answer's perplexity (from `perplexity`) is above perplexity_max.

    `perplexity` gets the chosen answers' texts, in order, and returns one number per text. A
    score that is not a finite number removes the record. A function that returns a different
    number of scores raises ValueError.
    """
    outcome = FilterOutcome()
    records = list(records)
    scores = list(perplexity([chosen_text(record) for record in records])) if records else []
    if len(scores) != len(records):
        raise ValueError(f"The perplexity function returned {len(scores)} scores for {len(records)} texts.")
    for record, score in zip(records, scores, strict=True):
        if not isinstance(score, int | float) or not math.isfinite(score):
            outcome.removed.append((record, f"perplexity {score!r} is not a finite number"))
        elif score > perplexity_max:
            outcome.removed.append((record, f"perplexity {score:.1f} is above {perplexity_max}"))
        else:
            outcome.kept.append(record)
    return outcome


def mixing_group(record: Mapping, key: str, topics: Mapping[str, str] | None = None) -> str:
    """The group a record belongs to for mixing: its community, language or topic.

    Topics are not in a release: `topics` maps a record's id to its topic, else the record's own
    `topic` field counts; a record with neither is in the group "unknown".
    """
    if key == "topic":
        value = (topics or {}).get(str(record.get("id")), record.get("topic"))
    else:
        value = record.get(key)
    return str(value) if value not in (None, "") else "unknown"


def _sample_rank(record: Mapping, seed: int) -> bytes:
    """A record's place in its group's random order for `seed`: SHA-256 of the seed and its leaf bytes.

    It depends only on the seed and the record, not on the other records or their order.
    """
    leaf = canonical_json({key: value for key, value in record.items() if key != "_leaf_index"})
    return hashlib.sha256(f"{seed}:".encode() + leaf).digest()


@dataclass
class MixingOutcome(FilterOutcome):
    """A mixing outcome also tells, per group, its weight and how many records it had and kept."""

    groups: dict[str, dict[str, float | int]] = field(default_factory=dict)


def mixing_sample(
    records: Sequence[dict],
    weights: Mapping[str, float] | None,
    *,
    key: str,
    seed: int,
    topics: Mapping[str, str] | None = None,
) -> MixingOutcome:
    """Sample the records down so that the groups' shares follow `weights`, deterministically by seed.

    The weights are normalised over the groups that have records and a weight above 0; the
    records of other groups go. The kept total N is the largest for which every group has
    enough records: N = min(n_g / w_g), and group g keeps floor(w_g * N) of its n_g records
    (the group that limits N keeps all of its own). Which records a group keeps: those with the
    smallest `_sample_rank` for the seed. The kept records stay in their original order.
    weights None keeps everything (and still counts the groups).
    """
    outcome = MixingOutcome()
    by_group: dict[str, list[int]] = defaultdict(list)
    for position, record in enumerate(records):
        by_group[mixing_group(record, key, topics)].append(position)
    if weights is None:
        outcome.kept = list(records)
        outcome.groups = {
            group: {"weight": None, "before": len(members), "after": len(members)}
            for group, members in sorted(by_group.items())
        }
        return outcome
    present = {group: weight for group, weight in weights.items() if weight > 0 and by_group.get(group)}
    for group, weight in sorted(weights.items()):
        if weight > 0 and not by_group.get(group):
            outcome.notes.append(f"group {group!r} has weight {weight:g} but no records")
    total_weight = sum(present.values())
    shares = {group: weight / total_weight for group, weight in present.items()}
    total = min((len(by_group[group]) / share for group, share in shares.items()), default=0.0)
    keep: set[int] = set()
    for group, members in sorted(by_group.items()):
        share = shares.get(group)
        if share is None:
            target = 0
            reason = f"{key} {group!r} has no mixing weight"
        else:
            target = min(len(members), math.floor(share * total + 1e-9))
            reason = f"sampled out of {key} {group!r}: it keeps {target} of {len(members)} for a share of {share:.2f}"
        ranked = sorted(members, key=lambda position: _sample_rank(records[position], seed))
        keep.update(ranked[:target])
        outcome.groups[group] = {"weight": weights.get(group, 0.0), "before": len(members), "after": target}
        for position in ranked[target:]:
            outcome.removed.append((records[position], reason))
    outcome.kept = [record for position, record in enumerate(records) if position in keep]
    order = {id(record): position for position, record in enumerate(records)}
    outcome.removed.sort(key=lambda item: order[id(item[0])])
    return outcome
