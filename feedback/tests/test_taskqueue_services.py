import random
from datetime import timedelta

import pytest
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected
from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import (
    Claim,
    ClaimLabel,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    TaskAssignment,
    TaskItem,
)
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.items import gold_item_create
from feedback.taskqueue.services.queue import task_next, task_skip
from feedback.taskqueue.weights import DEFAULT_TASK_WEIGHTS, task_kinds_in_draw_order, task_weights_for
from feedback.tests.factories import battle_ready, claims_proposed

pytestmark = pytest.mark.django_db

RATINGS = {"helpfulness": 4, "correctness": 5, "harmlessness": 5}


def reviewer_for(battle, **user_fields):
    return MembershipFactory(community=battle.community, user=UserFactory(**user_fields)).user


def next_of(volunteer, kind, **kwargs):
    return task_next(volunteer=volunteer, kind=kind, rng=random.Random(0), **kwargs)


class TestItems:
    def test_a_complete_battle_queues_reviews_of_both_answers(self):
        battle = battle_ready()
        kinds = sorted(TaskItem.objects.values_list("answer_id", "kind"))
        expected = sorted(
            (answer, kind)
            for answer in (battle.answer_a_id, battle.answer_b_id)
            for kind in ("correct", "flag", "rate")
        )
        assert kinds == expected
        assert set(TaskItem.objects.values_list("required_responses", flat=True)) == {3}
        assert set(TaskItem.objects.values_list("language", flat=True)) == {"en"}

    def test_an_errored_battle_queues_nothing(self):
        from feedback.arena import services

        battle = battle_ready()
        TaskItem.objects.all().delete()
        second = services.battle_start(
            judge=battle.judge, community=battle.community, prompt_text="Next?", conversation_id=battle.conversation_id
        )
        services.battle_complete(battle=second, errors={"a": "down"})
        assert TaskItem.objects.count() == 0


class TestQueue:
    def test_never_serves_the_volunteers_own_conversation(self):
        battle = battle_ready()
        assert task_next(volunteer=battle.judge) is None

    def test_serves_reserves_and_returns_the_same_task_on_reload(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        first = next_of(volunteer, "rate")
        assert first.status == TaskAssignment.Status.RESERVED
        assert first.reserved_until > timezone.now() + timedelta(minutes=14)
        assert task_next(volunteer=volunteer) == first

    def test_never_serves_an_item_answered_or_skipped(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        served = []
        while (assignment := next_of(volunteer, "rate")) is not None:
            served.append(assignment.item_id)
            if len(served) == 1:
                task_skip(volunteer=volunteer, assignment_id=assignment.pk)
            else:
                responses.rating_submit(volunteer=volunteer, assignment_id=assignment.pk, ratings=RATINGS)
        assert len(served) == len(set(served)) == 2  # two answers, each served once

    def test_an_item_stops_being_served_once_it_has_k_responses(self):
        battle = battle_ready()
        battle.community.responses_per_item = 2
        battle.community.save()
        TaskItem.objects.update(required_responses=2)
        item = TaskItem.objects.get(kind="rate", answer=battle.answer_a)
        TaskItem.objects.filter(kind="rate", answer=battle.answer_b).delete()
        for _ in range(2):
            volunteer = reviewer_for(battle)
            assignment = next_of(volunteer, "rate")
            assert assignment.item == item
            responses.rating_submit(volunteer=volunteer, assignment_id=assignment.pk, ratings=RATINGS)
        item.refresh_from_db()
        assert item.response_count == 2
        assert next_of(reviewer_for(battle), "rate") is None

    def test_live_reservations_hold_slots_and_expired_ones_release_them(self):
        battle = battle_ready()
        TaskItem.objects.exclude(kind="rate", answer=battle.answer_a).delete()
        TaskItem.objects.update(required_responses=1)
        holder = reviewer_for(battle)
        held = next_of(holder, "rate")
        assert next_of(reviewer_for(battle), "rate") is None  # the only slot is reserved
        TaskAssignment.objects.filter(pk=held.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
        other = reviewer_for(battle)
        assert next_of(other, "rate").item == held.item  # released after expiry
        # The late answer of the first volunteer now finds the item full: clear 409, nothing stored.
        responses.rating_submit(volunteer=other, assignment_id=next_of(other, "rate").pk, ratings=RATINGS)
        with pytest.raises(Conflict, match="already has all the responses"):
            responses.rating_submit(volunteer=holder, assignment_id=held.pk, ratings=RATINGS)
        assert Rating.objects.filter(volunteer=holder).count() == 0

    def test_an_open_task_of_the_kind_asked_for_is_served_first(self):
        battle = battle_ready()
        writer = reviewer_for(battle)
        responses.correction_submit(volunteer=writer, assignment_id=next_of(writer, "correct").pk, text="Mine")
        volunteer = reviewer_for(battle)
        rank = next_of(volunteer, "rank")
        rate = next_of(volunteer, "rate")  # served since, so the newest open task is a rating
        assert (rank.item.kind, rate.item.kind) == ("rank", "rate")
        assert next_of(volunteer, "rank") == rank
        assert next_of(volunteer, "rate") == rate
        assert task_next(volunteer=volunteer) == rate
        assert TaskAssignment.objects.filter(volunteer=volunteer).count() == 2

    def test_a_run_out_reservation_is_renewed_while_the_item_has_a_free_slot(self):
        battle = battle_ready()
        TaskItem.objects.exclude(kind="rate", answer=battle.answer_a).delete()
        TaskItem.objects.update(required_responses=1)
        holder = reviewer_for(battle)
        held = next_of(holder, "rate")
        TaskAssignment.objects.filter(pk=held.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
        renewed = next_of(holder, "rate")
        assert renewed == held
        assert renewed.reserved_until > timezone.now() + timedelta(minutes=14)
        # Run out again, and another volunteer takes the slot: nothing to serve the holder.
        TaskAssignment.objects.filter(pk=held.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
        other = reviewer_for(battle)
        assert next_of(other, "rate").item == held.item
        assert next_of(holder, "rate") is None
        assert TaskAssignment.objects.filter(volunteer=holder).count() == 1

    def test_an_open_task_taken_down_by_a_moderator_is_not_served_again(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        served = next_of(volunteer, "rate")
        Message.objects.filter(pk=served.item.answer_id).update(moderation_status="hidden")
        again = next_of(volunteer, "rate")
        assert again is not None and again != served
        assert again.item.answer_id != served.item.answer_id

    def test_favours_the_item_closest_to_completion(self):
        battle = battle_ready()
        TaskItem.objects.filter(kind="rate", answer=battle.answer_b).update(response_count=2)
        assignment = next_of(reviewer_for(battle), "rate")
        assert assignment.item.answer_id == battle.answer_b_id

    def test_only_in_communities_joined_with_the_current_licence(self):
        battle = battle_ready()
        with pytest.raises(NotAllowed):
            task_next(volunteer=UserFactory())
        volunteer = reviewer_for(battle)
        battle.community.licence_version = 2
        battle.community.save()
        with pytest.raises(NotAllowed):
            task_next(volunteer=volunteer)

    def test_languages_and_topics_narrow_the_work(self):
        battle = battle_ready()
        french = reviewer_for(battle, languages=["fr"])
        assert task_next(volunteer=french) is None
        english = reviewer_for(battle, languages=["en", "fr"])
        assert task_next(volunteer=english) is not None
        TaskItem.objects.update(topic="health")
        lawyer = reviewer_for(battle)
        lawyer.memberships.update(topics=["law"])
        assert task_next(volunteer=lawyer) is None
        doctor = reviewer_for(battle)
        doctor.memberships.update(topics=["health"])
        assert task_next(volunteer=doctor) is not None

    def test_never_ranks_answers_that_include_ones_own(self):
        battle = battle_ready()
        writer = reviewer_for(battle)
        assignment = next_of(writer, "correct")
        responses.correction_submit(volunteer=writer, assignment_id=assignment.pk, text="Tides come from the moon.")
        rank = TaskItem.objects.get(kind="rank")
        assert rank.prompt == battle.answer_a.parent
        assert next_of(writer, "rank") is None
        assert next_of(reviewer_for(battle), "rank").item == rank

    def test_gold_items_are_served_at_the_gold_rate(self):
        battle = battle_ready()
        gold = gold_item_create(kind="flag", answer=battle.answer_a, gold_answer={"labels": ["spam"]})
        battle.community.gold_rate = 1.0
        battle.community.save()
        volunteer = reviewer_for(battle)
        assignment = next_of(volunteer, "flag")
        assert assignment.item == gold
        responses.flag_submit(volunteer=volunteer, assignment_id=assignment.pk, labels=["toxic"])
        assignment.refresh_from_db()
        assert assignment.gold_correct is False
        battle.community.gold_rate = 0.0
        battle.community.save()
        other = reviewer_for(battle)
        assert next_of(other, "flag").item.is_gold is False


class TestWeights:
    def test_defaults_and_overrides(self):
        assert task_weights_for({}) == DEFAULT_TASK_WEIGHTS
        assert task_weights_for({"rank": 0, "rate": "x", "nope": 3, "flag": True})["rank"] == 0.0
        assert task_weights_for({"rate": "x"})["rate"] == DEFAULT_TASK_WEIGHTS["rate"]

    def test_draw_order_follows_the_weights(self):
        rng = random.Random(1)
        firsts = [
            task_kinds_in_draw_order({"rank": 3.0, "correct": 1.0}, ["rank", "correct"], rng)[0] for _ in range(4000)
        ]
        share = firsts.count("rank") / len(firsts)
        assert 0.72 < share < 0.78  # 3 / (3 + 1) = 0.75
        assert task_kinds_in_draw_order({"rank": 0.0, "rate": 1.0}, ["rank", "rate"], rng) == ["rate"]


class TestResponses:
    def test_rating_stores_one_row_per_scale(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = next_of(volunteer, "rate")
        responses.rating_submit(
            volunteer=volunteer, assignment_id=assignment.pk, ratings={**RATINGS, "helpfulness": "2"}
        )
        assert dict(Rating.objects.values_list("scale__name", "value")) == {**RATINGS, "helpfulness": 2}
        assignment.refresh_from_db()
        assert assignment.status == "answered"
        assert TaskItem.objects.get(pk=assignment.item_id).response_count == 1

    @pytest.mark.parametrize(
        ("ratings", "message"),
        [
            ({**RATINGS, "helpfulness": 6}, "'Helpfulness' must be a whole number from 1 to 5."),
            ({**RATINGS, "helpfulness": 0}, "'Helpfulness' must be a whole number from 1 to 5."),
            ({**RATINGS, "helpfulness": 2.5}, "'Helpfulness' must be a whole number from 1 to 5."),
            ({**RATINGS, "helpfulness": True}, "'Helpfulness' must be a whole number from 1 to 5."),
            ({"helpfulness": 3}, "Rate every scale; missing: correctness, harmlessness."),
            ({**RATINGS, "beauty": 3}, "Unknown rating scale: beauty."),
            ([3, 4, 5], "Send the ratings as an object of scale name to a value from 1 to 5."),
        ],
    )
    def test_bad_ratings_are_rejected_and_nothing_is_written(self, ratings, message):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = next_of(volunteer, "rate")
        with pytest.raises(RequestRejected) as raised:
            responses.rating_submit(volunteer=volunteer, assignment_id=assignment.pk, ratings=ratings)
        assert raised.value.message == message
        assert Rating.objects.count() == 0
        assert TaskItem.objects.get(pk=assignment.item_id).response_count == 0
        assert TaskAssignment.objects.get(pk=assignment.pk).status == "reserved"

    def test_flags_none_or_several(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        first = next_of(volunteer, "flag")
        responses.flag_submit(volunteer=volunteer, assignment_id=first.pk, labels=[])
        second = next_of(volunteer, "flag")
        responses.flag_submit(
            volunteer=volunteer, assignment_id=second.pk, labels=["spam", "toxic", "spam"], note=" ad "
        )
        stored = sorted((tuple(labels), note) for labels, note in FlagResponse.objects.values_list("labels", "note"))
        assert stored == [((), ""), (("spam", "toxic"), "ad")]

    def test_unknown_flag_is_rejected(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = next_of(volunteer, "flag")
        with pytest.raises(RequestRejected, match="Unknown flag: boring."):
            responses.flag_submit(volunteer=volunteer, assignment_id=assignment.pk, labels=["boring"])
        assert FlagResponse.objects.count() == 0

    def test_a_better_answer_is_a_human_sibling_linked_to_the_model_answer(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = next_of(volunteer, "correct")
        original = assignment.item.answer
        correction = responses.correction_submit(volunteer=volunteer, assignment_id=assignment.pk, text=" Better. ")
        assert (correction.text, correction.author, correction.parent_id, correction.corrects) == (
            "Better.",
            volunteer,
            original.parent_id,
            original,
        )
        assert correction.is_human_answer
        assert set(TaskItem.objects.filter(answer=correction).values_list("kind", flat=True)) == {"rate", "flag"}

    @pytest.mark.parametrize("text", ["", "   ", None, "Answer A"])
    def test_an_empty_or_unchanged_correction_is_rejected(self, text):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = next_of(volunteer, "correct")
        Message.objects.filter(pk=assignment.item.answer_id).update(text="Answer A")
        before = Message.objects.count()
        with pytest.raises(RequestRejected):
            responses.correction_submit(volunteer=volunteer, assignment_id=assignment.pk, text=text)
        assert Message.objects.count() == before

    def _rank_setup(self):
        battle = battle_ready()
        writer = reviewer_for(battle)
        responses.correction_submit(
            volunteer=writer, assignment_id=next_of(writer, "correct").pk, text="Mine is better"
        )
        ranker = reviewer_for(battle)
        assignment = next_of(ranker, "rank")
        answers = list(assignment.item.prompt.children.order_by("pk").values_list("pk", flat=True))
        return ranker, assignment, answers

    def test_ranking_with_ties(self):
        ranker, assignment, (a, b, c) = self._rank_setup()
        ranking = responses.ranking_submit(volunteer=ranker, assignment_id=assignment.pk, order=[[c], [b, a]])
        assert ranking.order == [[c], [a, b]]

    @pytest.mark.parametrize(
        ("order", "message"),
        [
            ("first", "Send the ranking as a list of groups of answer ids, best first."),
            ([], "Send the ranking as a list of groups of answer ids, best first."),
            ("dup", "Each answer can appear only once in the ranking."),
            ("missing", "Rank every answer to this prompt."),
            ("foreign", "The ranking names answers that do not belong to this prompt."),
        ],
    )
    def test_bad_rankings_are_rejected(self, order, message):
        ranker, assignment, (a, b, c) = self._rank_setup()
        named = {"dup": [[a], [a], [b, c]], "missing": [[a], [b]], "foreign": [[a], [b], [c], [999999]]}
        order = named[order] if isinstance(order, str) and order in named else order
        with pytest.raises(RequestRejected) as raised:
            responses.ranking_submit(volunteer=ranker, assignment_id=assignment.pk, order=order)
        assert raised.value.message == message
        assert Ranking.objects.count() == 0

    def _claims_setup(self):
        battle = battle_ready()
        claims = claims_proposed(answer=battle.answer_a, texts=["Tides follow the moon.", "The sea is green."])
        volunteer = reviewer_for(battle)
        return volunteer, next_of(volunteer, "check_claims"), claims

    def test_claims_judged_edited_and_added(self):
        volunteer, assignment, (moon, sea) = self._claims_setup()
        labels = responses.claims_check_submit(
            volunteer=volunteer,
            assignment_id=assignment.pk,
            claims=[
                {"id": moon.pk, "text": moon.text, "verdict": "true"},
                {"id": str(sea.pk), "text": "The sea is often blue.", "verdict": "subjective"},
                {"text": "The moon orbits the earth.", "verdict": "true"},
            ],
        )
        assert [(label.claim.text, label.verdict) for label in labels] == [
            ("Tides follow the moon.", "true"),
            ("The sea is often blue.", "subjective"),
            ("The moon orbits the earth.", "true"),
        ]
        edited = Claim.objects.get(text="The sea is often blue.")
        assert (edited.author, edited.revises, edited.position) == (volunteer, sea, sea.position)
        assert Claim.objects.get(pk=sea.pk).text == "The sea is green."  # the proposal is kept

    @pytest.mark.parametrize(
        ("claims", "message"),
        [
            ("foreign", "A claim does not belong to this answer."),
            ("unjudged", "Judge every proposed claim (edit it if it is badly split)."),
            ("bad-verdict", "Mark each claim true, false, subjective or unverifiable."),
            ("empty-text", "A claim cannot be empty."),
            ("not-a-list", "Send the claims as a list of {id, text, verdict}."),
        ],
    )
    def test_bad_claim_checks_are_rejected(self, claims, message):
        volunteer, assignment, (moon, sea) = self._claims_setup()
        other_claim = Claim.objects.create(
            answer=Message.objects.exclude(pk=moon.answer_id).filter(role="assistant").first(),
            position=1,
            text="Other answer's claim",
        )
        ok = [
            {"id": moon.pk, "text": moon.text, "verdict": "true"},
            {"id": sea.pk, "text": sea.text, "verdict": "false"},
        ]
        claims = {
            "foreign": [*ok, {"id": other_claim.pk, "text": "x", "verdict": "true"}],
            "unjudged": ok[:1],
            "bad-verdict": [ok[0], {**ok[1], "verdict": "maybe"}],
            "empty-text": [ok[0], {**ok[1], "text": "  "}],
            "not-a-list": "moon: true",
        }[claims]
        before = Claim.objects.count()
        with pytest.raises(RequestRejected) as raised:
            responses.claims_check_submit(volunteer=volunteer, assignment_id=assignment.pk, claims=claims)
        assert raised.value.message == message
        assert ClaimLabel.objects.count() == 0
        assert Claim.objects.count() == before

    def test_answering_someone_elses_task_is_not_found(self):
        from django.http import Http404

        battle = battle_ready()
        assignment = next_of(reviewer_for(battle), "rate")
        with pytest.raises(Http404):
            responses.rating_submit(volunteer=reviewer_for(battle), assignment_id=assignment.pk, ratings=RATINGS)
        assert Rating.objects.count() == 0

    def test_answering_twice_or_after_skipping_is_a_conflict(self):
        battle = battle_ready()
        volunteer = reviewer_for(battle)
        assignment = next_of(volunteer, "rate")
        responses.rating_submit(volunteer=volunteer, assignment_id=assignment.pk, ratings=RATINGS)
        with pytest.raises(Conflict, match="already answered"):
            responses.rating_submit(volunteer=volunteer, assignment_id=assignment.pk, ratings=RATINGS)
        skipped = next_of(volunteer, "rate")
        task_skip(volunteer=volunteer, assignment_id=skipped.pk)
        with pytest.raises(Conflict, match="skipped"):
            responses.rating_submit(volunteer=volunteer, assignment_id=skipped.pk, ratings=RATINGS)
        assert Rating.objects.count() == 3
