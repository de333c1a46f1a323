"""The selection report: per filter, how many records it removed and a few examples, as JSON and Markdown."""

import re
from dataclasses import dataclass, field
from typing import Any

EXAMPLES_PER_FILTER = 3
EXCERPT_CHARS = 80


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The text on one line (runs of whitespace become one space), cut at `limit` characters with "…"."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass
class RemovedExample:
    id: str
    excerpt: str
    reason: str


@dataclass
class FilterReport:
    """One filter's line in the report: what it is, how many records it saw and removed, examples."""

    name: str
    description: str
    records_in: int
    removed: int
    examples: list[RemovedExample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    enabled: bool = True

    @property
    def kept(self) -> int:
        return self.records_in - self.removed


@dataclass
class SelectionReport:
    """What a selection did, filter by filter, and what it kept."""

    records_in: int
    records_kept: int
    filters: list[FilterReport]
    mixing_key: str
    groups: dict[str, dict[str, Any]]
    release: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The report as JSON values (what the selection manifest and the run page store)."""
        return {
            "release": self.release,
            "records_in": self.records_in,
            "records_kept": self.records_kept,
            "filters": [
                {
                    "name": report.name,
                    "description": report.description,
                    "enabled": report.enabled,
                    "records_in": report.records_in,
                    "removed": report.removed,
                    "kept": report.kept,
                    "examples": [
                        {"id": example.id, "excerpt": example.excerpt, "reason": example.reason}
                        for example in report.examples
                    ],
                    "notes": list(report.notes),
                }
                for report in self.filters
            ],
            "mixing": {"key": self.mixing_key, "groups": self.groups},
        }

    def as_markdown(self) -> str:
        """The report as Markdown: a table of the filters, then the examples of each (for model cards and pages)."""

        def cell(text: Any) -> str:
            return str(text).replace("|", "\\|").replace("\n", " ")

        lines = []
        if self.release:
            name = self.release.get("name") or "the release"
            lines.append(f"Selection from `{name}` (Merkle root `{self.release.get('merkle_root')}`).")
            lines.append("")
        lines.append(f"Kept **{self.records_kept}** of {self.records_in} preference records.")
        lines.append("")
        lines.append("| filter | records in | removed | kept |")
        lines.append("|---|---:|---:|---:|")
        for report in self.filters:
            label = report.name if report.enabled else f"{report.name} (off)"
            lines.append(f"| {cell(label)} | {report.records_in} | {report.removed} | {report.kept} |")
        for report in self.filters:
            if not report.examples and not report.notes:
                continue
            lines.append("")
            lines.append(f"**{cell(report.name)}**: {cell(report.description)}")
            lines.append("")
            for example in report.examples:
                lines.append(f"- `{cell(example.id)}`: {cell(example.reason)}. “{cell(example.excerpt)}”")
            for note in report.notes:
                lines.append(f"- Note: {cell(note)}.")
        if self.groups:
            lines.append("")
            lines.append(f"Records per {cell(self.mixing_key)}:")
            lines.append("")
            lines.append(f"| {cell(self.mixing_key)} | weight | before mixing | kept |")
            lines.append("|---|---:|---:|---:|")
            for group, counts in self.groups.items():
                weight = "-" if counts.get("weight") is None else f"{counts['weight']:g}"
                lines.append(f"| {cell(group)} | {weight} | {counts['before']} | {counts['after']} |")
        return "\n".join(lines) + "\n"
