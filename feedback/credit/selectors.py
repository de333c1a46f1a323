"""Reads for credit: contributions counted from the tables that store them, and leaderboards.

Nothing here is stored. Each kind of contribution is one query over the rows that record it
(`_contributions`), so points, streaks and leaderboards are recomputed on every read:

- prompt: a battle the volunteer started (their prompt) that is ready or voted, at its
  `created_at`; a battle that failed is not counted, since the prompt can be sent again;
- vote: a voted battle, blind or not, at `voted_at`;
- rating, flag, ranking, claim_check, better_answer: an answered task assignment of that kind
  whose response is still stored (ratings, flag response, ranking, claim labels, or the
  volunteer's correction of the answer), at `answered_at`. One rating submission counts once,
  however many scales it rated;
- gold_bonus: any of those assignments on a gold item that was answered correctly.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from community.errors import RequestRejected
from community.models import User
from feedback.credit.points import (
    CONTRIBUTION_KINDS,
    POINT_RULES,
    POINTS_PER_KIND,
    PERIODS,
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

# The task kind behind each kind of credit, and how to tell that the response is still stored.
_TASK_KINDS: dict[str, str] = {
    "rating": TaskKind.RATE,
    "flag": TaskKind.FLAG,
    "ranking": TaskKind.RANK,
    "claim_check": TaskKind.CHECK_CLAIMS,
    "better_answer": TaskKind.CORRECT,
}


def _response_stored(task_kind: str) -> Exists:
    if task_kind == TaskKind.RATE:
        return Exists(Rating.objects.filter(assignment=OuterRef("pk")))
    if task_kind == TaskKind.FLAG:
        return Exists(FlagResponse.objects.filter(assignment=OuterRef("pk")))
    if task_kind == TaskKind.RANK:
        return Exists(Ranking.objects.filter(assignment=OuterRef("pk")))
    if task_kind == TaskKind.CHECK_CLAIMS:
        return Exists(ClaimLabel.objects.filter(assignment=OuterRef("pk")))
    return Exists(Message.objects.filter(author=OuterRef("volunteer"), corrects=OuterRef("item__answer")))


def _contributions(kind: str) -> tuple[QuerySet, str, str]:
    """The rows that record contributions of `kind`: (queryset, volunteer field, time field)."""
    if kind == "prompt":
        return Battle.objects.filter(status__in=[Battle.Status.READY, Battle.Status.VOTED]), "judge", "created_at"
    if kind == "vote":
        return Battle.objects.filter(status=Battle.Status.VOTED), "judge", "voted_at"
    answered = TaskAssignment.objects.filter(status=TaskAssignment.Status.ANSWERED)
    if kind == "gold_bonus":
        stored = Q()
        for task_kind in _TASK_KINDS.values():
            stored |= Q(item__kind=task_kind) & Q(_response_stored(task_kind))
        return answered.filter(stored, item__is_gold=True, gold_correct=True), "volunteer", "answered_at"
    task_kind = _TASK_KINDS[kind]
    return answered.filter(_response_stored(task_kind), item__kind=task_kind), "volunteer", "answered_at"


def _count_per_volunteer(kind: str, since: datetime | None) -> Coalesce:
    """A subquery counting one kind of contribution of the volunteer in the outer query."""
    rows, who, when = _contributions(kind)
    if since is not None:
        rows = rows.filter(**{f"{when}__gte": since})
    counted = rows.filter(**{who: OuterRef("pk")}).order_by().values(who).annotate(count=Count("pk")).values("count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _users_with_points(users: QuerySet[User], since: datetime | None) -> QuerySet[User]:
    """Each user annotated with `count_<kind>` for every kind and `points`, in one query."""
    annotated = users.annotate(**{f"count_{kind}": _count_per_volunteer(kind, since) for kind in CONTRIBUTION_KINDS})
    points = sum((F(f"count_{kind}") * POINTS_PER_KIND[kind] for kind in CONTRIBUTION_KINDS), Value(0))
    return annotated.annotate(points=points)


def contribution_counts_for(volunteer: User, since: datetime | None = None) -> dict[str, int]:
    """How many contributions of each kind the volunteer made (since `since`); one query."""
    user = _users_with_points(User.objects.filter(pk=volunteer.pk), since).get()
    return {kind: getattr(user, f"count_{kind}") for kind in CONTRIBUTION_KINDS}


def points_for(volunteer: User, since: datetime | None = None) -> int:
    """The volunteer's points (since `since`, or all time), counted from stored contributions."""
    return points_total(contribution_counts_for(volunteer, since))


def contribution_tallies_for(*, volunteer: User) -> list[tuple[str, date, int]]:
    """(kind, UTC day, count) for every kind and day the volunteer contributed; one query."""
    parts = []
    for kind in CONTRIBUTION_KINDS:
        rows, who, when = _contributions(kind)
        parts.append(
            rows.filter(**{who: volunteer})
            .order_by()
            .annotate(day=TruncDate(when, tzinfo=UTC), kind=Value(kind))
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
    points above zero, best first (ties: the older account first, with the same rank). One
    query, however many volunteers there are."""
    try:
        chosen = period_get(period)
    except ValueError as error:
        raise RequestRejected(str(error)) from None
    since = period_start(chosen, now=now or timezone.now())
    users = User.objects.filter(is_active=True, is_on_leaderboards=True).only("pk", "display_name")
    top = _users_with_points(users, since).filter(points__gt=0).order_by("-points", "pk")[:LEADERBOARD_SIZE]
    viewer_id = viewer.pk if viewer is not None and viewer.is_authenticated else None
    entries: list[LeaderboardEntry] = []
    for position, user in enumerate(top, start=1):
        rank = entries[-1].rank if entries and entries[-1].points == user.points else position
        entries.append(
            LeaderboardEntry(
                rank=rank,
                volunteer_id=user.pk,
                name=volunteer_public_name(user),
                points=user.points,
                level=level_for(user.points).level.name if since is None else None,
                is_viewer=user.pk == viewer_id,
            )
        )
    return Leaderboard(period=chosen, entries=entries)
