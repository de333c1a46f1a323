"""The points formula, levels, streaks and leaderboard periods: pure computation, no Django.

Points are never stored. A selector counts a volunteer's stored contributions of each kind
(see `feedback.credit.selectors`) and the functions here turn those counts into points, a
level and a streak, so recomputing anyone's credit is simply counting again.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class PointRule:
    kind: str
    label: str
    points: int
    counts: str


# The published formula: what each stored contribution earns. The order is the order of the
# table on the leaderboard page and of the breakdown on a volunteer's credit page.
POINT_RULES: tuple[PointRule, ...] = (
    PointRule("prompt", "Prompt written in the arena", 1, "each arena turn you wrote whose two answers arrived"),
    PointRule("vote", "Arena vote", 2, "each battle you voted on, blind or not"),
    PointRule("rating", "Rating", 1, "each answer you rated (one submission covers every scale)"),
    PointRule("flag", "Flag review", 1, "each answer you reviewed for problems, flagged or not"),
    PointRule("ranking", "Ranking", 3, "each set of answers you ranked"),
    PointRule("claim_check", "Claim check", 2, "each answer whose claims you checked"),
    PointRule("better_answer", "Better answer", 5, "each better answer you wrote"),
    PointRule("gold_bonus", "Gold bonus", 1, "extra, for each gold item (one with a known answer) you got right"),
)
POINTS_PER_KIND: dict[str, int] = {rule.kind: rule.points for rule in POINT_RULES}
CONTRIBUTION_KINDS: tuple[str, ...] = tuple(rule.kind for rule in POINT_RULES)


def points_total(counts: Mapping[str, int]) -> int:
    """Points for counts of contributions by kind; kinds missing from `counts` count zero."""
    unknown = set(counts) - set(POINTS_PER_KIND)
    if unknown:
        raise ValueError(f"Unknown contribution kind: {', '.join(sorted(unknown))}.")
    return sum(POINTS_PER_KIND[kind] * count for kind, count in counts.items())


@dataclass(frozen=True)
class Level:
    name: str
    threshold: int


# Levels by all-time points: a volunteer is at the highest level whose threshold they reached.
LEVELS: tuple[Level, ...] = (
    Level("Newcomer", 0),
    Level("Contributor", 50),
    Level("Regular", 200),
    Level("Expert", 1000),
    Level("Steward", 5000),
)


@dataclass(frozen=True)
class LevelProgress:
    level: Level
    next_level: Level | None
    points: int

    @property
    def points_to_next(self) -> int:
        """Points still needed for the next level (0 at the top level)."""
        return self.next_level.threshold - self.points if self.next_level else 0

    @property
    def percent_to_next(self) -> int:
        """How far from this level's threshold to the next one, in whole percent (100 at the top)."""
        if self.next_level is None:
            return 100
        span = self.next_level.threshold - self.level.threshold
        return (self.points - self.level.threshold) * 100 // span


def level_for(points: int) -> LevelProgress:
    if points < 0:
        raise ValueError("Points cannot be negative.")
    index = max(i for i, level in enumerate(LEVELS) if points >= level.threshold)
    next_level = LEVELS[index + 1] if index + 1 < len(LEVELS) else None
    return LevelProgress(level=LEVELS[index], next_level=next_level, points=points)


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    is_extended_today: bool


def streak_for(days: Iterable[date], *, today: date) -> Streak:
    """Daily streaks over the UTC days with at least one contribution.

    The current streak is the run of consecutive days ending today, or ending yesterday when
    there is nothing yet today (a streak is not lost before the day is over). Days after
    `today` are ignored. The longest streak is the longest run of consecutive days.
    """
    active = {day for day in days if day <= today}
    is_extended_today = today in active
    current = 0
    day = today if is_extended_today else today - timedelta(days=1)
    while day in active:
        current += 1
        day -= timedelta(days=1)
    longest = 0
    for day in active:
        if day - timedelta(days=1) in active:
            continue  # not the first day of a run
        length = 1
        while day + timedelta(days=length) in active:
            length += 1
        longest = max(longest, length)
    return Streak(current=current, longest=longest, is_extended_today=is_extended_today)


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    days: int | None  # calendar days up to and including today; None: all time


PERIODS: tuple[Period, ...] = (
    Period("day", "Today", 1),
    Period("week", "Last 7 days", 7),
    Period("month", "Last 30 days", 30),
    Period("all", "All time", None),
)
PERIOD_KEYS: tuple[str, ...] = tuple(period.key for period in PERIODS)
DEFAULT_PERIOD = "week"


def period_get(key: object) -> Period:
    for period in PERIODS:
        if period.key == key:
            return period
    raise ValueError(f"Unknown period {key!r}; choose one of {', '.join(PERIOD_KEYS)}.")


def period_first_day(period: Period, *, today: date) -> date | None:
    """The first UTC day a period covers (None: all time)."""
    return None if period.days is None else today - timedelta(days=period.days - 1)


def period_start(period: Period, *, now: datetime) -> datetime | None:
    """The moment a period begins: midnight UTC of its first day (None: all time)."""
    first_day = period_first_day(period, today=now.astimezone(UTC).date())
    return None if first_day is None else datetime.combine(first_day, time.min, tzinfo=UTC)
