"""The README's documentation list: every page of docs/ listed exactly once, and nothing listed
that does not exist (docs/moderation.md was once listed twice)."""

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def documentation_list_entries() -> list[str]:
    """The doc paths named at the start of each item of the README's "Documentation" list."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Documentation\n", 1)[1].split("\n## ", 1)[0]
    entries = []
    for item in re.findall(r"^- (.*?)(?::|$)", section, flags=re.MULTILINE):
        entries.extend(re.findall(r"`(docs/[^`]+\.md)`", item))
    return entries


def test_every_doc_is_listed_once() -> None:
    entries = documentation_list_entries()
    listed_twice = sorted(path for path, count in Counter(entries).items() if count > 1)
    assert listed_twice == []
    docs = sorted(f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md"))
    assert sorted(entries) == docs
