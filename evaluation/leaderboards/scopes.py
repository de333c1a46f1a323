"""A leaderboard's scope: whose battles (a community, or all), which category, style control or not."""

import hashlib
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from community.models import Community
from evaluation.leaderboards.counting import ScopeKey
from evaluation.models import LeaderboardCategory


@dataclass(frozen=True)
class Scope:
    community: Community | None
    category: str = LeaderboardCategory.OVERALL
    value: str = ""
    style_control: bool = False

    @property
    def key(self) -> ScopeKey:
        return ScopeKey(self.community.pk if self.community else None, self.category, self.value)

    def snapshot_filter(self) -> dict:
        """Keyword arguments that select this scope's snapshots."""
        return {
            "community": self.community,
            "category": self.category,
            "category_value": self.value,
            "style_control": self.style_control,
        }

    def with_category(self, category: str, value: str = "") -> "Scope":
        return replace(self, category=category, value=value)

    def with_style(self, style_control: bool) -> "Scope":
        return replace(self, style_control=style_control)

    def query(self) -> str:
        """The query string a page of this scope is reached by (the community is in the path)."""
        params = {}
        if self.category != LeaderboardCategory.OVERALL:
            params[self.category] = self.value
        if self.style_control:
            params["style"] = "on"
        return urlencode(params)

    @property
    def category_label(self) -> str:
        if self.category == LeaderboardCategory.OVERALL:
            return "All battles"
        return f"{LeaderboardCategory(self.category).label}: {self.value}"

    @property
    def group_name(self) -> str:
        """The Channels group of the pages that show this scope (names must be short ASCII)."""
        raw = f"{self.community.pk if self.community else '*'}|{self.category}|{self.value}|{int(self.style_control)}"
        return "leaderboard." + hashlib.sha256(raw.encode()).hexdigest()[:32]


def scope_from_key(key: ScopeKey, *, style_control: bool, community: Community | None) -> Scope:
    return Scope(community=community, category=key.category, value=key.value, style_control=style_control)
