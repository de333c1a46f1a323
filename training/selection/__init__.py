"""Data selection for training (METHODS §10): pure, no Django, no model.

A run reads a published release's preferences (`release_preferences_read`), `select` filters
them (language, heuristic quality, moderation flags, agreement, exact and near duplicates,
optional perplexity, mixing weights) and reports what each filter removed, and the kept
records get a manifest with their own RFC 6962 Merkle root over the release's leaf bytes, so
`selection_proof` shows that a released record was, or was not, trained on. docs/selection.md.
"""

from .config import SelectionConfig, SelectionConfigError
from .manifest import SelectionProofError, selection_manifest_write, selection_proof
from .pipeline import Selection, select
from .release import ReleasePreferences, ReleaseReadError, release_flagged_ids, release_preferences_read
from .report import FilterReport, SelectionReport

__all__ = [
    "FilterReport",
    "ReleasePreferences",
    "ReleaseReadError",
    "Selection",
    "SelectionConfig",
    "SelectionConfigError",
    "SelectionProofError",
    "SelectionReport",
    "release_flagged_ids",
    "release_preferences_read",
    "select",
    "selection_manifest_write",
    "selection_proof",
]
