"""`select`: every filter in turn over a release's preferences, then the report, the manifest and the root."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from feedback.releases.merkle import merkle_root

from . import filters
from .config import SelectionConfig, SelectionConfigError
from .manifest import record_leaf, selection_manifest_build
from .report import EXAMPLES_PER_FILTER, FilterReport, RemovedExample, SelectionReport, excerpt

DESCRIPTIONS = {
    "language": "records whose language is not one of the chosen languages",
    "quality": "chosen answers or prompts too short or too long, repetitive, or mostly symbols",
    "flags": "records whose chosen answer volunteers flagged (spam, toxic, personal information, ...)",
    "agreement": "records whose agreement is below the minimum",
    "exact_duplicates": "records with the same prompt, chosen and rejected messages as an earlier one",
    "near_duplicates": "records whose MinHash similarity to an earlier kept record reaches the threshold",
    "perplexity": "chosen answers whose perplexity under the base model is above the maximum",
    "mixing": "records sampled out so the groups' shares follow the mixing weights",
}


@dataclass
class Selection:
    """The outcome of `select`: the kept records (in release order), the report, the selection root
    (hex) and the selection manifest (`selection_manifest_write` saves it)."""

    kept: list[dict]
    report: SelectionReport
    merkle_root: str
    manifest: dict[str, Any]


def _filter_report(name: str, records_in: int, outcome: filters.FilterOutcome, *, enabled: bool) -> FilterReport:
    return FilterReport(
        name=name,
        description=DESCRIPTIONS[name],
        records_in=records_in,
        removed=len(outcome.removed),
        examples=[
            RemovedExample(id=str(record.get("id")), excerpt=excerpt(filters.chosen_text(record)), reason=reason)
            for record, reason in outcome.removed[:EXAMPLES_PER_FILTER]
        ],
        notes=list(outcome.notes),
        enabled=enabled,
    )


def select(
    records: list[dict],
    config: SelectionConfig,
    *,
    perplexity: Callable[[list[str]], list[float]] | None = None,
    flagged: Mapping[str, list[str]] | None = None,
    agreement: Mapping[str, float] | None = None,
    topics: Mapping[str, str] | None = None,
    release: Mapping[str, Any] | None = None,
) -> Selection:
    """Run the filters in this order, each on what the one before kept: language, quality, flags,
    agreement, exact duplicates, near duplicates, perplexity, mixing.

    `records`: a release's preference records in file order, each with `_leaf_index`
    (`release_preferences_read` gives them). `flagged` (id -> flag labels of the chosen answer)
    and `release` (the release's name, root and size) default to what `release_preferences_read`
    attached to the list. `agreement` maps ids to agreement (0 to 1) for `min_agreement`;
    `topics` maps ids to topics for mixing by topic. `perplexity` scores texts under the base
    model (perplexity.py); it is needed when `config.perplexity_max` is set, and not called
    otherwise. Raises SelectionConfigError for a config that cannot run.
    """
    if not isinstance(config, SelectionConfig):
        raise SelectionConfigError("select needs a SelectionConfig.")
    if config.perplexity_max is not None and perplexity is None:
        raise SelectionConfigError("perplexity_max is set, but no perplexity function was given to score the answers.")
    if flagged is None:
        flagged = getattr(records, "flagged", None)
    if release is None:
        release = getattr(records, "release", None)
    current = list(records)
    reports: list[FilterReport] = []

    def step(name: str, outcome: filters.FilterOutcome, *, enabled: bool = True) -> None:
        nonlocal current
        reports.append(_filter_report(name, len(current), outcome, enabled=enabled))
        current = outcome.kept

    step("language", filters.language_filter(current, config.languages), enabled=config.languages is not None)
    step(
        "quality",
        filters.quality_filter(
            current,
            min_chars=config.min_chars,
            max_chars=config.max_chars,
            max_repetition=config.max_repetition,
            max_symbol_ratio=config.max_symbol_ratio,
        ),
    )
    if config.drop_flagged:
        step("flags", filters.flag_filter(current, flagged))
    else:
        step("flags", filters.FilterOutcome(kept=current), enabled=False)
    step(
        "agreement",
        filters.agreement_filter(current, agreement, config.min_agreement),
        enabled=config.min_agreement is not None,
    )
    step("exact_duplicates", filters.exact_duplicate_filter(current))
    step("near_duplicates", filters.near_duplicate_filter(current, config.near_duplicate_threshold))
    if config.perplexity_max is not None:
        step("perplexity", filters.perplexity_filter(current, perplexity, config.perplexity_max))
    else:
        step("perplexity", filters.FilterOutcome(kept=current), enabled=False)
    mixing = filters.mixing_sample(
        current, config.mixing_weights, key=config.mixing_key, seed=config.seed, topics=topics
    )
    step("mixing", mixing, enabled=config.mixing_weights is not None)

    kept = current
    root = merkle_root([record_leaf(record) for record in kept])
    report = SelectionReport(
        records_in=len(records),
        records_kept=len(kept),
        filters=reports,
        mixing_key=config.mixing_key,
        groups=mixing.groups,
        release=dict(release) if release is not None else None,
    )
    manifest = selection_manifest_build(kept, root=root, config=config.as_dict(), report=report.as_json())
    return Selection(kept=kept, report=report, merkle_root=root.hex(), manifest=manifest)
