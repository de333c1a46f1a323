"""Reads for credit: contributions counted from the tables that store them, and leaderboards.

Nothing here is stored. Every kind of contribution is a condition on the rows that record it
(`_CONTRIBUTIONS`), and points, streaks and leaderboards are aggregation queries over those
rows (GROUP BY volunteer, filtered by period), run again on every read:

- prompt: a battle the volunteer started (their prompt) that is ready or voted, at its
  `created_at`; a battle that failed is not counted, since the prompt can be sent again;
- vote: a voted battle, blind or not, at `voted_at`;
- rating, flag, ranking, claim_check, better_answer: an answered task assignment of that kind
  whose response is still stored (ratings, flag response, ranking, claim labels, or the
  volunteer's correction of the answer), at `answered_at`. One rating submission counts once,
  however many scales it rated;
- gold_bonus: any of those assignments on a gold item that was answered correctly.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db.models import Count, Exists, Model, OuterRef, Q, Value
from django.db.models.functions import TruncDate
from django.utils import timezone

from community.errors import RequestRejected
from community.models import User
from feedback.credit.points import (
    CONTRIBUTION_KINDS,
    PERIODS,
    POINT_RULES,
    LevelProgress,
    Period,
    PointRule,
    Streak,
    level_for,
    period_first_day,
    period_get,
    period_start,
    points_total,
    streak_for,
)
from feedback.models import Battle, ClaimLabel, FlagResponse, Message, Ranking, Rating, TaskAssignment, TaskKind

LEADERBOARD_SIZE = 50


def _response_stored(task_kind: str) -> Q:
    """An assignment of `task_kind` whose response is still in the database."""
    if task_kind == TaskKind.RATE:
        stored = Exists(Rating.objects.filter(assignment=OuterRef("pk")))
    elif task_kind == TaskKind.FLAG:
        stored = Exists(FlagResponse.objects.filter(assignment=OuterRef("pk")))
    elif task_kind == TaskKind.RANK:
        stored = Exists(Ranking.objects.filter(assignment=OuterRef("pk")))
    elif task_kind == TaskKind.CHECK_CLAIMS:
        stored = Exists(ClaimLabel.objects.filter(assignment=OuterRef("pk")))
    else:
        stored = Exists(Message.objects.filter(author=OuterRef("volunteer"), corrects=OuterRef("item__answer")))
    return Q(item__kind=task_kind) & Q(stored)


def _answered(task_kind: str) -> Q:
    return Q(status=TaskAssignment.Status.ANSWERED) & _response_stored(task_kind)


def _gold_answered_correctly() -> Q:
    stored = Q()
    for task_kind in (TaskKind.RATE, TaskKind.FLAG, TaskKind.RANK, TaskKind.CHECK_CLAIMS, TaskKind.CORRECT):
        stored |= _response_stored(task_kind)
    return Q(status=TaskAssignment.Status.ANSWERED, item__is_gold=True, gold_correct=True) & stored


@dataclass(frozen=True)
class _Contribution:
    model: type[Model]
    volunteer_field: str
    time_field: str
    condition: Callable[[], Q]


_BATTLES = (Battle, "judge")
_ASSIGNMENTS = (TaskAssignment, "volunteer")
_CONTRIBUTIONS: dict[str, _Contribution] = {
    "prompt": _Contribution(*_BATTLES, "created_at", lambda: Q(status__in=[Battle.Status.READY, Battle.Status.VOTED])),
    "vote": _Contribution(*_BATTLES, "voted_at", lambda: Q(status=Battle.Status.VOTED)),
    "rating": _Contribution(*_ASSIGNMENTS, "answered_at", lambda: _answered(TaskKind.RATE)),
    "flag": _Contribution(*_ASSIGNMENTS, "answered_at", lambda: _answered(TaskKind.FLAG)),
    "ranking": _Contribution(*_ASSIGNMENTS, "answered_at", lambda: _answered(TaskKind.RANK)),
    "claim_check": _Contribution(*_ASSIGNMENTS, "answered_at", lambda: _answered(TaskKind.CHECK_CLAIMS)),
    "better_answer": _Contribution(*_ASSIGNMENTS, "answered_at", lambda: _answered(TaskKind.CORRECT)),
    "gold_bonus": _Contribution(*_ASSIGNMENTS, "answered_at", _gold_answered_correctly),
}
assert set(_CONTRIBUTIONS) == set(CONTRIBUTION_KINDS)  # the formula and the queries agree


def _counts_by_volunteer(*, since: datetime | None, people: dict[str, object]) -> dict[int, dict[str, int]]:
    """Contributions of each kind per volunteer (since `since`): one GROUP BY query per table
    that stores them (battles, task assignments), whatever the number of volunteers. `people`
    are lookups on the user model that choose whom to count."""
    per_volunteer: dict[int, dict[str, int]] = {}
    for model, who in (_BATTLES, _ASSIGNMENTS):
        kinds = [kind for kind in CONTRIBUTION_KINDS if _CONTRIBUTIONS[kind].model is model]
        counted = {}
        in_period = Q()
        for kind in kinds:
            contribution = _CONTRIBUTIONS[kind]
            condition = contribution.condition()
            if since is not None:
                condition &= Q(**{f"{contribution.time_field}__gte": since})
                in_period |= Q(**{f"{contribution.time_field}__gte": since})
            counted[kind] = Count("pk", filter=condition)
        rows = (
            model.objects.filter(in_period, **{f"{who}__{lookup}": value for lookup, value in people.items()})
            .order_by()
            .values(who)
            .annotate(**counted)
        )
        for row in rows:
            counts = per_volunteer.setdefault(row[who], dict.fromkeys(CONTRIBUTION_KINDS, 0))
            for kind in kinds:
                counts[kind] = row[kind]
    return per_volunteer


def contribution_counts_for(volunteer: User, since: datetime | None = None) -> dict[str, int]:
    """How many contributions of each kind the volunteer made (since `since`, or all time)."""
    counted = _counts_by_volunteer(since=since, people={"pk": volunteer.pk})
    return counted.get(volunteer.pk, dict.fromkeys(CONTRIBUTION_KINDS, 0))


def points_for(volunteer: User, since: datetime | None = None) -> int:
    """The volunteer's points (since `since`, or all time), counted from stored contributions."""
    return points_total(contribution_counts_for(volunteer, since))


def contribution_tallies_for(*, volunteer: User) -> list[tuple[str, date, int]]:
    """(kind, UTC day, count) for every kind and day the volunteer contributed; one query."""
    parts = []
    for kind in CONTRIBUTION_KINDS:
        contribution = _CONTRIBUTIONS[kind]
        parts.append(
            contribution.model.objects.filter(contribution.condition(), **{contribution.volunteer_field: volunteer})
            .order_by()
            .annotate(day=TruncDate(contribution.time_field, tzinfo=UTC), kind=Value(kind))
            .values("kind", "day")
            .annotate(count=Count("pk"))
            .values_list("kind", "day", "count")
        )
    return list(parts[0].union(*parts[1:], all=True))


@dataclass(frozen=True)
class BreakdownRow:
    rule: PointRule
    count: int

    @property
    def points(self) -> int:
        return self.rule.points * self.count


@dataclass(frozen=True)
class PeriodPoints:
    period: Period
    points: int


@dataclass(frozen=True)
class CreditSummary:
    points: int
    breakdown: list[BreakdownRow]
    by_period: list[PeriodPoints]
    level: LevelProgress
    streak: Streak
    is_on_leaderboards: bool
    public_name: str


def credit_summary_for(*, volunteer: User, now: datetime | None = None) -> CreditSummary:
    """A volunteer's own credit: all-time points by kind, points per leaderboard period, level
    and streaks. One query, whatever the volunteer's history."""
    today = (now or timezone.now()).astimezone(UTC).date()
    tallies = contribution_tallies_for(volunteer=volunteer)
    counts = dict.fromkeys(CONTRIBUTION_KINDS, 0)
    for kind, _, count in tallies:
        counts[kind] += count
    by_period = []
    for period in PERIODS:
        first_day = period_first_day(period, today=today)
        in_period = dict.fromkeys(CONTRIBUTION_KINDS, 0)
        for kind, day, count in tallies:
            if first_day is None or first_day <= day <= today:
                in_period[kind] += count
        by_period.append(PeriodPoints(period=period, points=points_total(in_period)))
    points = points_total(counts)
    return CreditSummary(
        points=points,
        breakdown=[BreakdownRow(rule=rule, count=counts[rule.kind]) for rule in POINT_RULES],
        by_period=by_period,
        level=level_for(points),
        streak=streak_for((day for _, day, _ in tallies), today=today),
        is_on_leaderboards=volunteer.is_on_leaderboards,
        public_name=volunteer_public_name(volunteer),
    )


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    volunteer_id: int
    name: str
    points: int
    level: str | None  # on the all-time board, where points are all-time points
    is_viewer: bool


@dataclass(frozen=True)
class Leaderboard:
    period: Period
    entries: list[LeaderboardEntry]


def volunteer_public_name(user: User) -> str:
    """The name shown publicly: the display name, or a pseudonym; never the e-mail address."""
    return user.display_name or f"Volunteer #{user.pk}"


def leaderboard_get(*, period: object, viewer: User | None = None, now: datetime | None = None) -> Leaderboard:
    """The top volunteers by points in a period: active people who stay on leaderboards, with
    points above zero, best first (ties: the older account first, with the same rank). Three
    queries, however many volunteers there are: contributions per volunteer from each of the
    two tables, then the names of the top ones."""
    try:
        chosen = period_get(period)
    except ValueError as error:
        raise RequestRejected(str(error)) from None
    since = period_start(chosen, now=now or timezone.now())
    counted = _counts_by_volunteer(since=since, people={"is_active": True, "is_on_leaderboards": True})
    scored = [(points_total(counts), volunteer_id) for volunteer_id, counts in counted.items()]
    top = sorted(((-points, volunteer_id) for points, volunteer_id in scored if points > 0))[:LEADERBOARD_SIZE]
    names = {}
    if top:
        people = User.objects.filter(pk__in=[volunteer_id for _, volunteer_id in top]).only("pk", "display_name")
        names = {person.pk: volunteer_public_name(person) for person in people}
    viewer_id = viewer.pk if viewer is not None and viewer.is_authenticated else None
    entries: list[LeaderboardEntry] = []
    for position, (negative_points, volunteer_id) in enumerate(top, start=1):
        points = -negative_points
        rank = entries[-1].rank if entries and entries[-1].points == points else position
        entries.append(
            LeaderboardEntry(
                rank=rank,
                volunteer_id=volunteer_id,
                name=names[volunteer_id],
                points=points,
                level=level_for(points).level.name if since is None else None,
                is_viewer=volunteer_id == viewer_id,
            )
        )
    return Leaderboard(period=chosen, entries=entries)
