"""The pure credit computations, against values worked out by hand."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from feedback.credit.points import (
    CONTRIBUTION_KINDS,
    LEVELS,
    POINTS_PER_KIND,
    level_for,
    period_first_day,
    period_get,
    period_start,
    points_total,
    streak_for,
)

TODAY = date(2025, 3, 10)


def days(*offsets: int) -> set[date]:
    """Days relative to TODAY: 0 is today, -1 yesterday."""
    return {TODAY + timedelta(days=offset) for offset in offsets}


class TestFormula:
    def test_the_published_points(self):
        assert POINTS_PER_KIND == {
            "prompt": 1,
            "vote": 2,
            "rating": 1,
            "flag": 1,
            "ranking": 3,
            "claim_check": 2,
            "better_answer": 5,
            "gold_bonus": 1,
        }
        assert CONTRIBUTION_KINDS[0] == "prompt"

    def test_a_mix_of_contributions(self):
        # 3 prompts + 3 votes (6) + 4 ratings + 2 flags + 1 ranking (3) + 2 claim checks (4)
        # + 1 better answer (5) + 2 gold bonuses = 3 + 6 + 4 + 2 + 3 + 4 + 5 + 2 = 29
        counts = {
            "prompt": 3,
            "vote": 3,
            "rating": 4,
            "flag": 2,
            "ranking": 1,
            "claim_check": 2,
            "better_answer": 1,
            "gold_bonus": 2,
        }
        assert points_total(counts) == 29

    def test_nothing_is_zero_and_missing_kinds_count_zero(self):
        assert points_total({}) == 0
        assert points_total({"better_answer": 2}) == 10

    def test_an_unknown_kind_is_an_error(self):
        with pytest.raises(ValueError, match="Unknown contribution kind: likes"):
            points_total({"likes": 1})


class TestLevels:
    def test_thresholds(self):
        assert [(level.name, level.threshold) for level in LEVELS] == [
            ("Newcomer", 0),
            ("Contributor", 50),
            ("Regular", 200),
            ("Expert", 1000),
            ("Steward", 5000),
        ]

    @pytest.mark.parametrize(
        ("points", "level", "next_level", "to_next", "percent"),
        [
            (0, "Newcomer", "Contributor", 50, 0),
            (49, "Newcomer", "Contributor", 1, 98),
            (50, "Contributor", "Regular", 150, 0),
            (125, "Contributor", "Regular", 75, 50),  # 75 of the 150 between 50 and 200
            (199, "Contributor", "Regular", 1, 99),  # 149/150 rounds down
            (200, "Regular", "Expert", 800, 0),
            (999, "Regular", "Expert", 1, 99),
            (1000, "Expert", "Steward", 4000, 0),
            (3000, "Expert", "Steward", 2000, 50),
            (5000, "Steward", None, 0, 100),
            (123456, "Steward", None, 0, 100),
        ],
    )
    def test_level_and_progress(self, points, level, next_level, to_next, percent):
        progress = level_for(points)
        assert progress.level.name == level
        assert (progress.next_level.name if progress.next_level else None) == next_level
        assert progress.points_to_next == to_next
        assert progress.percent_to_next == percent

    def test_negative_points_are_an_error(self):
        with pytest.raises(ValueError):
            level_for(-1)


class TestStreaks:
    @pytest.mark.parametrize(
        ("active", "current", "longest", "today_done"),
        [
            (set(), 0, 0, False),
            (days(0), 1, 1, True),
            (days(-1), 1, 1, False),  # yesterday still counts until today ends
            (days(-2), 0, 1, False),  # a missed day breaks the streak
            (days(0, -1, -2), 3, 3, True),
            (days(-1, -2, -3, -4), 4, 4, False),
            (days(0, -1, -3, -4, -5, -6), 2, 4, True),  # the gap on day -2 splits two runs
            (days(-10, -11, -12, -13, -14, -20), 0, 5, False),
            (days(0, 1, 2), 1, 1, True),  # days after today are ignored
        ],
    )
    def test_current_and_longest(self, active, current, longest, today_done):
        streak = streak_for(active, today=TODAY)
        assert (streak.current, streak.longest, streak.is_extended_today) == (current, longest, today_done)

    def test_duplicates_and_any_iterable(self):
        streak = streak_for(iter([TODAY, TODAY, TODAY - timedelta(days=1)]), today=TODAY)
        assert (streak.current, streak.longest) == (2, 2)

    def test_across_a_month_and_a_year_boundary(self):
        active = [date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 2)]
        assert streak_for(active, today=date(2025, 1, 2)).current == 4
        assert streak_for(active, today=date(2025, 1, 3)).current == 4
        assert streak_for(active, today=date(2025, 1, 4)).current == 0


class TestPeriods:
    NOW = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("key", "start"),
        [
            ("day", datetime(2025, 3, 10, tzinfo=UTC)),
            ("week", datetime(2025, 3, 4, tzinfo=UTC)),  # 4th to 10th: seven days
            ("month", datetime(2025, 2, 9, tzinfo=UTC)),  # 9 Feb to 10 Mar: thirty days
            ("all", None),
        ],
    )
    def test_period_starts_at_midnight_utc(self, key, start):
        assert period_start(period_get(key), now=self.NOW) == start

    def test_the_utc_day_is_used_whatever_the_clock_zone(self):
        # 01:00 on the 11th in UTC+3 is 22:00 on the 10th in UTC.
        now = datetime(2025, 3, 11, 1, 0, tzinfo=timezone(timedelta(hours=3)))
        assert period_start(period_get("day"), now=now) == datetime(2025, 3, 10, tzinfo=UTC)

    def test_first_day(self):
        assert period_first_day(period_get("week"), today=TODAY) == date(2025, 3, 4)
        assert period_first_day(period_get("all"), today=TODAY) is None

    @pytest.mark.parametrize("key", ["year", "", None, "WEEK", 7])
    def test_an_unknown_period_is_an_error(self, key):
        with pytest.raises(ValueError, match="Unknown period .*; choose one of day, week, month, all"):
            period_get(key)
