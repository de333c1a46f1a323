"""Credit counted from stored contributions: points, breakdowns, periods, streaks, leaderboards."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from community.errors import RequestRejected
from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena.services import battle_vote_cast
from feedback.credit.points import period_get, period_start
from feedback.credit.selectors import (
    LEADERBOARD_SIZE,
    contribution_counts_for,
    contribution_tallies_for,
    credit_summary_for,
    leaderboard_get,
    points_for,
)
from feedback.credit.services import leaderboard_visibility_set
from feedback.models import (
    Battle,
    Claim,
    ClaimLabel,
    Conversation,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    RatingScale,
    TaskAssignment,
    TaskItem,
    TaskKind,
)
from feedback.taskqueue.selectors import prompt_answers, rating_scales_for
from feedback.taskqueue.services.items import gold_item_create, task_item_ensure
from feedback.taskqueue.services.queue import task_next
from feedback.taskqueue.services.responses import (
    claims_check_submit,
    correction_submit,
    flag_submit,
    ranking_submit,
    rating_submit,
)
from feedback.tests.factories import ModelEndpointFactory, arena_setup, battle_ready

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)
ZERO = {
    "prompt": 0,
    "vote": 0,
    "rating": 0,
    "flag": 0,
    "ranking": 0,
    "claim_check": 0,
    "better_answer": 0,
    "gold_bonus": 0,
}


# --- Contributions made as rows, at chosen times ------------------------------------------------


class Pool:
    """A community with two models, where contributions are made as stored rows at given times."""

    def __init__(self):
        self.model_a = ModelEndpointFactory()
        self.community = self.model_a.community
        self.model_b = ModelEndpointFactory(community=self.community)
        self.owner = UserFactory()

    def answer(self, owner=None) -> Message:
        conversation = Conversation.objects.create(community=self.community, owner=owner or self.owner)
        prompt = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, text="Why is the sky blue?", author=conversation.owner
        )
        return Message.objects.create(
            conversation=conversation,
            parent=prompt,
            role=Message.Role.ASSISTANT,
            text="Rayleigh scattering.",
            endpoint=self.model_a,
        )

    def battle(self, judge, at: datetime, *, status: str = Battle.Status.VOTED) -> Battle:
        """A battle judged by `judge`, started at `at` and, if voted, voted at `at`."""
        first = self.answer(owner=judge)
        second = Message.objects.create(
            conversation=first.conversation,
            parent=first.parent,
            role=Message.Role.ASSISTANT,
            text="Because of the air.",
            endpoint=self.model_b,
        )
        battle = Battle.objects.create(
            community=self.community,
            conversation=first.conversation,
            judge=judge,
            model_a=self.model_a,
            model_b=self.model_b,
            answer_a=first,
            answer_b=second,
            status=status,
            winner="model_a" if status == Battle.Status.VOTED else "",
            voted_at=at if status == Battle.Status.VOTED else None,
        )
        Battle.objects.filter(pk=battle.pk).update(created_at=at)
        return battle

    def task(
        self,
        volunteer,
        kind: str,
        at: datetime,
        *,
        gold_correct: bool | None = None,
        status: str = TaskAssignment.Status.ANSWERED,
    ) -> TaskAssignment:
        """An assignment of `kind` answered by `volunteer` at `at`, with its stored response; a
        gold item when `gold_correct` is given."""
        answer = self.answer()
        target = {"prompt": answer.parent} if kind == TaskKind.RANK else {"answer": answer}
        item = TaskItem.objects.create(community=self.community, kind=kind, is_gold=gold_correct is not None, **target)
        assignment = TaskAssignment.objects.create(
            item=item,
            volunteer=volunteer,
            status=status,
            reserved_until=at,
            answered_at=at if status == TaskAssignment.Status.ANSWERED else None,
            gold_correct=gold_correct,
        )
        if status != TaskAssignment.Status.ANSWERED:
            return assignment
        if kind == TaskKind.RATE:
            for scale in RatingScale.objects.filter(community__isnull=True):
                Rating.objects.create(assignment=assignment, answer=answer, volunteer=volunteer, scale=scale, value=4)
        elif kind == TaskKind.FLAG:
            FlagResponse.objects.create(assignment=assignment, answer=answer, volunteer=volunteer, labels=[])
        elif kind == TaskKind.RANK:
            Ranking.objects.create(
                assignment=assignment, prompt=answer.parent, volunteer=volunteer, order=[[answer.pk]]
            )
        elif kind == TaskKind.CHECK_CLAIMS:
            for position in (1, 2):
                claim = Claim.objects.create(answer=answer, position=position, text=f"Claim {position}.")
                ClaimLabel.objects.create(assignment=assignment, claim=claim, volunteer=volunteer, verdict="true")
        elif kind == TaskKind.CORRECT:
            Message.objects.create(
                conversation=answer.conversation,
                parent=answer.parent,
                role=Message.Role.ASSISTANT,
                text="Sunlight scatters off air molecules; blue scatters most.",
                author=volunteer,
                corrects=answer,
            )
        return assignment


@pytest.fixture
def pool():
    return Pool()


def counts(**given) -> dict[str, int]:
    return {**ZERO, **given}


# --- Through the real services -------------------------------------------------------------------


class TestThroughTheServices:
    def test_every_kind_of_contribution_earns_its_points(self):
        community, judge, _, _ = arena_setup()
        community.gold_rate = 0.0
        community.save(update_fields=["gold_rate"])
        battle = battle_ready(judge=judge, community=community)
        battle_vote_cast(judge=judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())

        helper = MembershipFactory(community=community).user
        reviewer = MembershipFactory(community=community).user
        rng = random.Random(7)

        # The helper writes a better answer: the prompt now has three answers, so it can be ranked.
        task = task_next(volunteer=helper, kind=TaskKind.CORRECT, rng=rng)
        correction_submit(volunteer=helper, assignment_id=task.pk, text="A better answer, by the helper.")

        task = task_next(volunteer=reviewer, kind=TaskKind.RANK, rng=rng)
        answers = [answer.pk for answer in prompt_answers(prompt=task.item.prompt)]
        ranking_submit(volunteer=reviewer, assignment_id=task.pk, order=[[answers[2]], [answers[0], answers[1]]])

        task = task_next(volunteer=reviewer, kind=TaskKind.RATE, rng=rng)
        scales = rating_scales_for(community=community)
        rating_submit(volunteer=reviewer, assignment_id=task.pk, ratings={scale.name: 4 for scale in scales})
        assert len(scales) > 1  # one submission, several Rating rows, one rating counted

        task = task_next(volunteer=reviewer, kind=TaskKind.FLAG, rng=rng)
        flag_submit(volunteer=reviewer, assignment_id=task.pk, labels=[])

        claim = Claim.objects.create(answer=battle.answer_a, position=1, text="The sky is blue.")
        task_item_ensure(kind=TaskKind.CHECK_CLAIMS, answer=battle.answer_a)
        task = task_next(volunteer=reviewer, kind=TaskKind.CHECK_CLAIMS, rng=rng)
        claims_check_submit(
            volunteer=reviewer, assignment_id=task.pk, claims=[{"id": claim.pk, "text": claim.text, "verdict": "true"}]
        )

        task = task_next(volunteer=reviewer, kind=TaskKind.CORRECT, rng=rng)
        correction_submit(volunteer=reviewer, assignment_id=task.pk, text="A better answer, by the reviewer.")

        # A gold flag item with a known answer, answered right.
        gold_item_create(kind=TaskKind.FLAG, gold_answer={"labels": ["spam"]}, answer=battle.answer_b)
        community.gold_rate = 1.0
        community.save(update_fields=["gold_rate"])
        task = task_next(volunteer=reviewer, kind=TaskKind.FLAG, rng=rng)
        assert task.item.is_gold
        flag_submit(volunteer=reviewer, assignment_id=task.pk, labels=["spam"])

        assert contribution_counts_for(judge) == counts(prompt=1, vote=1)
        assert points_for(judge) == 3
        assert contribution_counts_for(helper) == counts(better_answer=1)
        assert points_for(helper) == 5
        assert contribution_counts_for(reviewer) == counts(
            rating=1, flag=2, ranking=1, claim_check=1, better_answer=1, gold_bonus=1
        )
        # rating 1 + flags 2 + ranking 3 + claim check 2 + better answer 5 + gold bonus 1
        assert points_for(reviewer) == 14
        assert credit_summary_for(volunteer=reviewer).points == 14

    def test_a_started_battle_counts_once_ready_and_a_vote_when_cast(self):
        battle = battle_ready()
        assert contribution_counts_for(battle.judge) == counts(prompt=1)
        battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="tie", idempotency_key=uuid.uuid4())
        assert contribution_counts_for(battle.judge) == counts(prompt=1, vote=1)


# --- What counts ---------------------------------------------------------------------------------


class TestWhatCounts:
    @pytest.mark.parametrize(
        ("kind", "counted", "points"),
        [
            (TaskKind.RATE, "rating", 1),
            (TaskKind.FLAG, "flag", 1),
            (TaskKind.RANK, "ranking", 3),
            (TaskKind.CHECK_CLAIMS, "claim_check", 2),
            (TaskKind.CORRECT, "better_answer", 5),
        ],
    )
    def test_each_answered_task(self, pool, kind, counted, points):
        volunteer = UserFactory()
        pool.task(volunteer, kind, NOW)
        pool.task(volunteer, kind, NOW - timedelta(days=400))
        assert contribution_counts_for(volunteer) == counts(**{counted: 2})
        assert points_for(volunteer) == 2 * points

    def test_votes_count_blind_or_not(self, pool):
        volunteer = UserFactory()
        pool.battle(volunteer, NOW)
        unblinded = pool.battle(volunteer, NOW)
        Battle.objects.filter(pk=unblinded.pk).update(is_blind=False)
        assert contribution_counts_for(volunteer) == counts(prompt=2, vote=2)
        assert points_for(volunteer) == 6

    def test_battles_that_failed_or_are_streaming_earn_nothing(self, pool):
        volunteer = UserFactory()
        pool.battle(volunteer, NOW, status=Battle.Status.ERRORED)
        pool.battle(volunteer, NOW, status=Battle.Status.STREAMING)
        pool.battle(volunteer, NOW, status=Battle.Status.READY)
        assert contribution_counts_for(volunteer) == counts(prompt=1)

    @pytest.mark.parametrize("status", [TaskAssignment.Status.RESERVED, TaskAssignment.Status.SKIPPED])
    def test_tasks_not_answered_earn_nothing(self, pool, status):
        volunteer = UserFactory()
        for kind in TaskKind.values:
            pool.task(volunteer, kind, NOW, status=status)
        assert points_for(volunteer) == 0

    def test_a_gold_bonus_only_for_a_right_answer(self, pool):
        volunteer = UserFactory()
        pool.task(volunteer, TaskKind.FLAG, NOW, gold_correct=True)
        pool.task(volunteer, TaskKind.RANK, NOW, gold_correct=True)
        pool.task(volunteer, TaskKind.RATE, NOW, gold_correct=False)
        pool.task(volunteer, TaskKind.CHECK_CLAIMS, NOW, gold_correct=None)
        assert contribution_counts_for(volunteer) == counts(flag=1, ranking=1, rating=1, claim_check=1, gold_bonus=2)
        assert points_for(volunteer) == 1 + 3 + 1 + 2 + 2

    @pytest.mark.parametrize(
        ("kind", "response_rows"),
        [
            (TaskKind.RATE, lambda volunteer: Rating.objects.filter(volunteer=volunteer)),
            (TaskKind.FLAG, lambda volunteer: FlagResponse.objects.filter(volunteer=volunteer)),
            (TaskKind.RANK, lambda volunteer: Ranking.objects.filter(volunteer=volunteer)),
            (TaskKind.CHECK_CLAIMS, lambda volunteer: ClaimLabel.objects.filter(volunteer=volunteer)),
            (TaskKind.CORRECT, lambda volunteer: Message.objects.filter(author=volunteer, corrects__isnull=False)),
        ],
    )
    def test_a_deleted_response_takes_its_points_with_it(self, pool, kind, response_rows):
        volunteer = UserFactory()
        pool.task(volunteer, kind, NOW, gold_correct=True)
        assert points_for(volunteer) > 0
        response_rows(volunteer).delete()
        assert TaskAssignment.objects.filter(volunteer=volunteer, status="answered").count() == 1
        assert contribution_counts_for(volunteer) == ZERO

    def test_nobody_earns_from_anybody_else(self, pool):
        volunteer, other = UserFactory(), UserFactory()
        pool.battle(other, NOW)
        for kind in TaskKind.values:
            pool.task(other, kind, NOW, gold_correct=True)
        assert points_for(volunteer) == 0
        assert points_for(other) == 3 + 1 + 1 + 3 + 2 + 5 + 5  # 5 gold bonuses


# --- Periods, tallies, summaries -----------------------------------------------------------------


class TestPeriods:
    def test_points_since_each_period_start(self, pool):
        volunteer = UserFactory()
        today_start = datetime(2025, 3, 10, tzinfo=UTC)
        pool.task(volunteer, TaskKind.CORRECT, today_start)  # first moment of today: 5
        pool.task(volunteer, TaskKind.RANK, today_start - timedelta(microseconds=1))  # yesterday: 3
        pool.task(volunteer, TaskKind.CHECK_CLAIMS, datetime(2025, 3, 4, tzinfo=UTC))  # 7th day back: 2
        pool.task(volunteer, TaskKind.RATE, datetime(2025, 3, 3, 23, 59, tzinfo=UTC))  # 8th day back: 1
        pool.battle(volunteer, datetime(2025, 2, 9, 0, 0, tzinfo=UTC))  # 30th day back: 3
        pool.task(volunteer, TaskKind.FLAG, datetime(2025, 2, 8, 23, 59, tzinfo=UTC))  # 31st day back: 1
        expected = {"day": 5, "week": 5 + 3 + 2, "month": 5 + 3 + 2 + 1 + 3, "all": 15}
        for key, points in expected.items():
            assert points_for(volunteer, period_start(period_get(key), now=NOW)) == points
        summary = credit_summary_for(volunteer=volunteer, now=NOW)
        assert {entry.period.key: entry.points for entry in summary.by_period} == expected

    def test_tallies_group_by_utc_day(self, pool):
        volunteer = UserFactory()
        pool.battle(volunteer, datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC))
        pool.task(volunteer, TaskKind.RATE, datetime(2025, 3, 10, 0, 0, 1, tzinfo=UTC))
        pool.task(volunteer, TaskKind.RATE, datetime(2025, 3, 10, 12, 0, tzinfo=UTC), gold_correct=True)
        assert sorted(contribution_tallies_for(volunteer=volunteer)) == [
            ("gold_bonus", date(2025, 3, 10), 1),
            ("prompt", date(2025, 3, 9), 1),
            ("rating", date(2025, 3, 10), 2),
            ("vote", date(2025, 3, 9), 1),
        ]

    def test_summary(self, pool):
        volunteer = UserFactory(is_on_leaderboards=False)
        for offset in (1, 2, 3, 6, 7):  # current streak 3 (up to yesterday), longest 3 ... and 2
            pool.task(volunteer, TaskKind.CORRECT, NOW - timedelta(days=offset))
        for _ in range(10):
            pool.task(volunteer, TaskKind.RANK, NOW - timedelta(days=40))
        summary = credit_summary_for(volunteer=volunteer, now=NOW)
        assert summary.points == 5 * 5 + 10 * 3 == 55
        assert [(row.rule.kind, row.count, row.points) for row in summary.breakdown if row.count] == [
            ("ranking", 10, 30),
            ("better_answer", 5, 25),
        ]
        assert summary.level.level.name == "Contributor"
        assert summary.level.points_to_next == 145
        assert (summary.streak.current, summary.streak.longest, summary.streak.is_extended_today) == (3, 3, False)
        assert summary.is_on_leaderboards is False
        assert summary.public_name == f"Volunteer #{volunteer.pk}"
        assert summary.points == points_for(volunteer)

    def test_summary_takes_one_query(self, pool, django_assert_num_queries):
        volunteer = UserFactory()
        for offset in range(20):
            pool.task(volunteer, TaskKind.RATE, NOW - timedelta(days=offset))
            pool.battle(volunteer, NOW - timedelta(days=offset))
        with django_assert_num_queries(1):
            summary = credit_summary_for(volunteer=volunteer, now=NOW)
        assert summary.streak.current == 20
        assert summary.points == 20 * 4


# --- Leaderboards --------------------------------------------------------------------------------


def give_points(pool, volunteer, points: int, at: datetime = NOW) -> None:
    """`points` points as better answers (5 each) and ratings (1 each)."""
    for _ in range(points // 5):
        pool.task(volunteer, TaskKind.CORRECT, at)
    for _ in range(points % 5):
        pool.task(volunteer, TaskKind.RATE, at)


class TestLeaderboard:
    def test_best_first_with_shared_ranks_for_ties(self, pool):
        first = UserFactory(display_name="Ada")
        tied_older = UserFactory(display_name="Grace")
        tied_newer = UserFactory()
        last = UserFactory(display_name="Linus")
        give_points(pool, tied_newer, 7)
        give_points(pool, first, 12)
        give_points(pool, last, 1)
        give_points(pool, tied_older, 7)
        board = leaderboard_get(period="all", now=NOW)
        assert [(e.rank, e.name, e.points, e.level) for e in board.entries] == [
            (1, "Ada", 12, "Newcomer"),
            (2, "Grace", 7, "Newcomer"),
            (2, f"Volunteer #{tied_newer.pk}", 7, "Newcomer"),
            (4, "Linus", 1, "Newcomer"),
        ]

    def test_names_never_show_an_email_address(self, pool):
        volunteer = UserFactory(email="private.person@example.org")
        give_points(pool, volunteer, 3)
        board = leaderboard_get(period="all", now=NOW)
        assert [e.name for e in board.entries] == [f"Volunteer #{volunteer.pk}"]
        assert "private.person" not in repr(board)

    def test_periods_count_only_their_days(self, pool):
        recent, steady = UserFactory(display_name="Recent"), UserFactory(display_name="Steady")
        give_points(pool, recent, 4, at=NOW)
        give_points(pool, steady, 10, at=NOW - timedelta(days=3))
        give_points(pool, steady, 10, at=NOW - timedelta(days=20))
        give_points(pool, recent, 30, at=NOW - timedelta(days=90))

        def board(key):
            return [(e.name, e.points) for e in leaderboard_get(period=key, now=NOW).entries]

        assert board("day") == [("Recent", 4)]
        assert board("week") == [("Steady", 10), ("Recent", 4)]
        assert board("month") == [("Steady", 20), ("Recent", 4)]
        assert board("all") == [("Recent", 34), ("Steady", 20)]
        assert leaderboard_get(period="week", now=NOW).entries[0].level is None  # levels are all-time

    def test_people_who_opted_out_are_inactive_or_without_points_are_left_out(self, pool):
        shown = UserFactory(display_name="Shown")
        hidden = UserFactory(display_name="Hidden", is_on_leaderboards=False)
        inactive = UserFactory(display_name="Inactive", is_active=False)
        UserFactory(display_name="Idle")
        for volunteer in (shown, hidden, inactive):
            give_points(pool, volunteer, 6)
        assert [e.name for e in leaderboard_get(period="all", now=NOW).entries] == ["Shown"]
        assert points_for(hidden) == 6  # their own points still count

    def test_opting_out_and_back_in(self, pool):
        volunteer = UserFactory(display_name="Toggler")
        give_points(pool, volunteer, 2)
        leaderboard_visibility_set(user=volunteer, is_on_leaderboards="false")
        assert leaderboard_get(period="all", now=NOW).entries == []
        leaderboard_visibility_set(user=volunteer, is_on_leaderboards=True)
        assert [e.name for e in leaderboard_get(period="all", now=NOW).entries] == ["Toggler"]

    def test_the_viewer_is_marked(self, pool):
        viewer, other = UserFactory(), UserFactory()
        give_points(pool, viewer, 1)
        give_points(pool, other, 2)
        board = leaderboard_get(period="all", viewer=viewer, now=NOW)
        assert [(e.volunteer_id, e.is_viewer) for e in board.entries] == [(other.pk, False), (viewer.pk, True)]

    def test_top_fifty_in_three_queries_however_many_volunteers(self, pool, django_assert_num_queries):
        volunteers = UserFactory.create_batch(LEADERBOARD_SIZE + 5)
        for points, volunteer in enumerate(volunteers, start=1):
            pool.task(volunteer, TaskKind.RATE, NOW, gold_correct=True)  # 2 points each ...
            if points % 3 == 0:
                pool.battle(volunteer, NOW)  # ... and 3 more for every third
        with django_assert_num_queries(3):  # battles, task assignments, names
            board = leaderboard_get(period="week", now=NOW)
        assert len(board.entries) == LEADERBOARD_SIZE
        with_battles = [v.pk for i, v in enumerate(volunteers, start=1) if i % 3 == 0]
        assert [e.volunteer_id for e in board.entries[: len(with_battles)]] == with_battles
        assert {e.points for e in board.entries} == {5, 2}

    def test_few_volunteers_take_as_many_queries(self, pool, django_assert_num_queries):
        give_points(pool, UserFactory(), 3)
        with django_assert_num_queries(3):
            board = leaderboard_get(period="all", now=NOW)
        assert len(board.entries) == 1

    @pytest.mark.parametrize("period", ["year", "", None, "Week", "all "])
    def test_an_unknown_period_is_rejected(self, period):
        with pytest.raises(RequestRejected, match="choose one of day, week, month, all"):
            leaderboard_get(period=period)


class TestVisibilityService:
    @pytest.mark.parametrize(("value", "shown"), [("false", False), (False, False), ("true", True), (True, True)])
    def test_set(self, value, shown):
        volunteer = UserFactory(is_on_leaderboards=not shown)
        leaderboard_visibility_set(user=volunteer, is_on_leaderboards=value)
        volunteer.refresh_from_db()
        assert volunteer.is_on_leaderboards is shown

    @pytest.mark.parametrize("value", ["no", "0", 0, 1, None, "", "TRUE", ["false"]])
    def test_a_bad_value_changes_nothing(self, value):
        volunteer = UserFactory(is_on_leaderboards=True)
        with pytest.raises(RequestRejected, match='Choose "true"'):
            leaderboard_visibility_set(user=volunteer, is_on_leaderboards=value)
        volunteer.refresh_from_db()
        assert volunteer.is_on_leaderboards is True


class TestTwoWaysAgree:
    def test_leaderboards_summaries_and_points_for_agree(self, pool):
        """The leaderboard (per volunteer, per table) and a volunteer's summary (per kind and
        day) are different queries; on random contributions they give the same points."""
        rng = random.Random(2408)
        volunteers = UserFactory.create_batch(6)
        for volunteer in volunteers:
            for _ in range(rng.randint(0, 12)):
                at = NOW - timedelta(days=rng.randint(0, 45), minutes=rng.randint(0, 1439))
                if rng.random() < 0.25:
                    pool.battle(volunteer, at, status=rng.choice([Battle.Status.READY, Battle.Status.VOTED]))
                else:
                    gold = rng.choice([None, None, True, False])
                    pool.task(volunteer, rng.choice(TaskKind.values), at, gold_correct=gold)
        for key in ("day", "week", "month", "all"):
            board = {e.volunteer_id: e.points for e in leaderboard_get(period=key, now=NOW).entries}
            since = period_start(period_get(key), now=NOW)
            for volunteer in volunteers:
                summary = credit_summary_for(volunteer=volunteer, now=NOW)
                in_summary = next(p.points for p in summary.by_period if p.period.key == key)
                assert board.get(volunteer.pk, 0) == points_for(volunteer, since) == in_summary
        assert sum(points_for(volunteer) for volunteer in volunteers) > 50  # the data is not trivially empty

    def test_an_empty_leaderboard_takes_two_queries(self, django_assert_num_queries):
        with django_assert_num_queries(2):
            assert leaderboard_get(period="day").entries == []
