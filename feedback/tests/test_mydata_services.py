import random

import pytest
from django.contrib.auth import authenticate
from django.http import Http404

from community.errors import RequestRejected
from community.models import ErasureRequest, Membership, User
from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import (
    Battle,
    Claim,
    ClaimLabel,
    Conversation,
    Donation,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    Revision,
    TaskAssignment,
    TaskItem,
)
from feedback.mydata import services
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.items import gold_item_create
from feedback.taskqueue.services.queue import task_next
from feedback.tests.test_mydata_support import RATINGS, contributions, served

pytestmark = pytest.mark.django_db


def ratings_of(assignment):
    return dict(Rating.objects.filter(assignment=assignment).values_list("scale__name", "value"))


def snapshot():
    """Every row a My-data service could touch, to assert that a refused call changed nothing."""
    return {
        "ratings": sorted(Rating.objects.values_list("pk", "value")),
        "flags": sorted(FlagResponse.objects.values_list("pk", "labels", "note")),
        "rankings": sorted(Ranking.objects.values_list("pk", flat=True)),
        "labels": sorted(ClaimLabel.objects.values_list("pk", "verdict")),
        "claims": sorted(Claim.objects.values_list("pk", flat=True)),
        "messages": sorted(Message.objects.values_list("pk", "text")),
        "conversations": sorted(Conversation.objects.values_list("pk", flat=True)),
        "battles": sorted(Battle.objects.values_list("pk", flat=True)),
        "donations": sorted(Donation.objects.values_list("pk", flat=True)),
        "items": sorted(TaskItem.objects.values_list("pk", "response_count")),
        "assignments": sorted(TaskAssignment.objects.values_list("pk", "status", "gold_correct")),
        "revisions": Revision.objects.count(),
        "users": sorted(User.objects.values_list("pk", "email", "is_active")),
        "memberships": Membership.objects.count(),
        "erasures": ErasureRequest.objects.count(),
    }


class TestRatingEdit:
    def test_new_values_are_stored_and_the_old_ones_kept_as_a_revision(self):
        data = contributions()
        new = {"helpfulness": "2", "correctness": 3, "harmlessness": "4"}
        services.rating_edit(volunteer=data.me, assignment_id=data.rating.pk, ratings=new)
        assert ratings_of(data.rating) == {"helpfulness": 2, "correctness": 3, "harmlessness": 4}
        revision = Revision.objects.get()
        assert (revision.kind, revision.object_id, revision.volunteer, revision.data) == (
            "ratings",
            data.rating.pk,
            data.me,
            {"ratings": RATINGS},
        )
        assert ratings_of(data.other_rating) == RATINGS

    def test_the_same_values_store_no_revision(self):
        data = contributions()
        services.rating_edit(volunteer=data.me, assignment_id=data.rating.pk, ratings=RATINGS)
        assert Revision.objects.count() == 0

    @pytest.mark.parametrize(
        ("ratings", "message"),
        [
            ({**RATINGS, "helpfulness": 6}, "'Helpfulness' must be a whole number from 1 to 5."),
            ({**RATINGS, "helpfulness": "4.5"}, "'Helpfulness' must be a whole number from 1 to 5."),
            ({**RATINGS, "helpfulness": True}, "'Helpfulness' must be a whole number from 1 to 5."),
            ({"helpfulness": 4, "correctness": 3}, "Rate every scale; missing: harmlessness."),
            ({**RATINGS, "wit": 3}, "Unknown rating scale: wit."),
            ([4, 3, 5], "Send the ratings as an object of scale name to a value from 1 to 5."),
        ],
    )
    def test_bad_values_are_refused_and_nothing_changes(self, ratings, message):
        data = contributions()
        before = snapshot()
        with pytest.raises(RequestRejected) as refused:
            services.rating_edit(volunteer=data.me, assignment_id=data.rating.pk, ratings=ratings)
        assert refused.value.message == message
        assert snapshot() == before

    def test_someone_elses_rating_is_404(self):
        data = contributions()
        before = snapshot()
        with pytest.raises(Http404):
            services.rating_edit(volunteer=data.me, assignment_id=data.other_rating.pk, ratings=RATINGS)
        assert snapshot() == before

    def test_an_edited_gold_response_is_judged_again(self):
        data = contributions()
        reviewer = MembershipFactory(community=data.community).user
        gold_item_create(kind="rate", gold_answer={"ratings": {"helpfulness": 4}}, answer=data.target.answer_b)
        data.community.gold_rate = 1.0
        data.community.save(update_fields=["gold_rate"])
        assignment = task_next(volunteer=reviewer, kind="rate", rng=random.Random(0))
        assert assignment.item.is_gold
        responses.rating_submit(volunteer=reviewer, assignment_id=assignment.pk, ratings=RATINGS)
        assert TaskAssignment.objects.get(pk=assignment.pk).gold_correct is True
        services.rating_edit(volunteer=reviewer, assignment_id=assignment.pk, ratings={**RATINGS, "helpfulness": 1})
        assert TaskAssignment.objects.get(pk=assignment.pk).gold_correct is False


class TestFlagEdit:
    def test_labels_and_note_change_and_the_old_ones_are_kept(self):
        data = contributions()
        services.flag_response_edit(
            volunteer=data.me, flag_response_id=data.flag.pk, labels=["toxic", "spam", "toxic"], note="  Rude.  "
        )
        flag = FlagResponse.objects.get(pk=data.flag.pk)
        assert (flag.labels, flag.note) == (["spam", "toxic"], "Rude.")
        revision = Revision.objects.get()
        assert (revision.kind, revision.object_id, revision.data) == (
            "flag_response",
            data.flag.pk,
            {"labels": ["fails_task"], "note": "It leaves out the Sun."},
        )

    def test_no_labels_is_a_valid_answer(self):
        data = contributions()
        services.flag_response_edit(volunteer=data.me, flag_response_id=data.flag.pk, labels=[], note="")
        assert FlagResponse.objects.get(pk=data.flag.pk).labels == []

    @pytest.mark.parametrize(
        ("labels", "note", "message"),
        [
            (["rude"], "", "Unknown flag: rude."),
            ("spam", "", "Send the flags as a list of labels (an empty list if none applies)."),
            (["spam"], "x" * 501, "The note is longer than 500 characters."),
        ],
    )
    def test_bad_input_is_refused_and_nothing_changes(self, labels, note, message):
        data = contributions()
        before = snapshot()
        with pytest.raises(RequestRejected) as refused:
            services.flag_response_edit(volunteer=data.me, flag_response_id=data.flag.pk, labels=labels, note=note)
        assert refused.value.message == message
        assert snapshot() == before

    def test_someone_elses_flag_is_404(self):
        data = contributions()
        theirs = responses.flag_submit(volunteer=data.other, assignment_id=served(data.other, "flag").pk, labels=[])
        before = snapshot()
        with pytest.raises(Http404):
            services.flag_response_edit(volunteer=data.me, flag_response_id=theirs.pk, labels=["spam"])
        assert snapshot() == before


class TestClaimLabelEdit:
    def test_the_verdict_changes_and_the_old_one_is_kept(self):
        data = contributions()
        label = data.claim_labels[0]
        services.claim_label_edit(volunteer=data.me, claim_label_id=label.pk, verdict="unverifiable")
        assert ClaimLabel.objects.get(pk=label.pk).verdict == "unverifiable"
        revision = Revision.objects.get()
        assert (revision.kind, revision.object_id, revision.data) == ("claim_label", label.pk, {"verdict": "true"})

    def test_an_unknown_verdict_is_refused(self):
        data = contributions()
        before = snapshot()
        with pytest.raises(RequestRejected) as refused:
            services.claim_label_edit(volunteer=data.me, claim_label_id=data.claim_labels[0].pk, verdict="maybe")
        assert refused.value.message == "Mark each claim true, false, subjective or unverifiable."
        assert snapshot() == before

    def test_someone_elses_label_is_404(self):
        data = contributions()
        before = snapshot()
        with pytest.raises(Http404):
            services.claim_label_edit(volunteer=data.other, claim_label_id=data.claim_labels[0].pk, verdict="false")
        assert snapshot() == before


class TestCorrectionEdit:
    def test_the_text_changes_and_the_old_text_is_kept(self):
        data = contributions()
        services.correction_edit(volunteer=data.me, correction_id=data.correction.pk, text="  Gravity, mostly.  ")
        assert Message.objects.get(pk=data.correction.pk).text == "Gravity, mostly."
        revision = Revision.objects.get()
        assert (revision.kind, revision.object_id, revision.data) == (
            "message",
            data.correction.pk,
            {"text": "The Moon's and the Sun's gravity raise the tides."},
        )

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("   ", "Write your better answer first."),
            (None, "Write your better answer first."),
            ("x" * 41, "The answer is 41 characters long; the limit is 40."),
            (
                "The Moon's gravity pulls the oceans.",
                "Your answer is the same as the model's. Change it, or delete your answer.",
            ),
        ],
    )
    def test_bad_text_is_refused_and_nothing_changes(self, settings, text, message):
        data = contributions()
        settings.TASK_ANSWER_MAX_CHARS = 40
        before = snapshot()
        with pytest.raises(RequestRejected) as refused:
            services.correction_edit(volunteer=data.me, correction_id=data.correction.pk, text=text)
        assert refused.value.message == message
        assert snapshot() == before

    def test_someone_elses_answer_and_a_models_answer_are_404(self):
        data = contributions()
        before = snapshot()
        for message_id in (data.other_correction.pk, data.target.answer_a_id, data.my_battle.answer_a_id):
            with pytest.raises(Http404):
                services.correction_edit(volunteer=data.me, correction_id=message_id, text="Mine now.")
        assert snapshot() == before


def response_count(item_id):
    return TaskItem.objects.get(pk=item_id).response_count


class TestDeletes:
    def test_a_rating_submission_goes_and_its_item_can_be_served_again(self):
        data = contributions()
        item_id = data.rating.item_id
        assert response_count(item_id) == 2
        services.rating_edit(volunteer=data.me, assignment_id=data.rating.pk, ratings={**RATINGS, "helpfulness": 1})
        services.rating_delete(volunteer=data.me, assignment_id=data.rating.pk)
        assert not Rating.objects.filter(volunteer=data.me).exists()
        assert response_count(item_id) == 1
        assert Revision.objects.count() == 0
        assignment = TaskAssignment.objects.get(pk=data.rating.pk)
        assert assignment.status == "answered"
        assert ratings_of(data.other_rating) == RATINGS
        # Never served to me again, but free for a newcomer.
        again = task_next(volunteer=data.me, kind="rate", rng=random.Random(0))
        assert again is None or again.item_id != item_id
        newcomer = MembershipFactory(community=data.community).user
        assert task_next(volunteer=newcomer, kind="rate", rng=random.Random(0)).item_id == item_id

    def test_a_flag_goes(self):
        data = contributions()
        item_id = data.flag.assignment.item_id
        services.flag_response_delete(volunteer=data.me, flag_response_id=data.flag.pk)
        assert not FlagResponse.objects.filter(pk=data.flag.pk).exists()
        assert response_count(item_id) == 0
        assert TaskAssignment.objects.filter(pk=data.flag.assignment_id).exists()

    def test_a_ranking_goes(self):
        data = contributions()
        item_id = data.ranking.assignment.item_id
        services.ranking_delete(volunteer=data.me, ranking_id=data.ranking.pk)
        assert not Ranking.objects.exists()
        assert response_count(item_id) == 0

    def test_a_claim_label_goes_with_the_claim_i_worded_and_the_last_one_frees_the_slot(self):
        data = contributions()
        proposed_label, my_label = data.claim_labels
        item_id = proposed_label.assignment.item_id
        services.claim_label_delete(volunteer=data.me, claim_label_id=my_label.pk)
        assert not Claim.objects.filter(pk=data.my_claim.pk).exists()
        assert Claim.objects.filter(author__isnull=True).count() == 2
        assert response_count(item_id) == 1
        services.claim_label_delete(volunteer=data.me, claim_label_id=proposed_label.pk)
        assert not ClaimLabel.objects.exists()
        assert response_count(item_id) == 0

    def test_a_better_answer_goes_with_its_reviews(self):
        data = contributions()
        correct_item = TaskItem.objects.get(kind="correct", answer=data.correction.corrects)
        assert correct_item.response_count == 2
        services.correction_delete(volunteer=data.me, correction_id=data.correction.pk)
        assert not Message.objects.filter(pk=data.correction.pk).exists()
        assert not TaskItem.objects.filter(answer_id=data.correction.pk).exists()
        assert response_count(correct_item.pk) == 1
        assert Message.objects.filter(pk=data.other_correction.pk).exists()

    def test_a_conversation_goes_with_its_battles(self):
        data = contributions()
        conversation_id = data.my_battle.conversation_id
        services.conversation_delete(volunteer=data.me, conversation_id=conversation_id)
        assert not Conversation.objects.filter(pk=conversation_id).exists()
        assert not Battle.objects.filter(pk=data.my_battle.pk).exists()
        assert not Message.objects.filter(conversation_id=conversation_id).exists()
        assert Battle.objects.filter(pk=data.target.pk).exists()

    def test_a_donation_goes(self):
        data = contributions()
        services.donation_delete(volunteer=data.me, donation_id=data.donation.pk)
        assert not Donation.objects.exists()

    def test_a_donated_conversation_goes_with_its_donation(self):
        data = contributions()
        conversation = Conversation.objects.create(community=data.community, owner=data.me)
        Message.objects.create(conversation=conversation, role="user", text="Hi", author=data.me)
        Donation.objects.filter(pk=data.donation.pk).update(conversation=conversation, status="donated")
        services.donation_delete(volunteer=data.me, donation_id=data.donation.pk)
        assert not Conversation.objects.filter(pk=conversation.pk).exists()

    @pytest.mark.parametrize(
        ("delete", "id_name", "attribute"),
        [
            (services.rating_delete, "assignment_id", "rating"),
            (services.flag_response_delete, "flag_response_id", "flag"),
            (services.ranking_delete, "ranking_id", "ranking"),
            (services.correction_delete, "correction_id", "correction"),
            (services.donation_delete, "donation_id", "donation"),
        ],
    )
    def test_nobody_else_can_delete_my_items(self, delete, id_name, attribute):
        data = contributions()
        before = snapshot()
        with pytest.raises(Http404):
            delete(volunteer=data.other, **{id_name: getattr(data, attribute).pk})
        assert snapshot() == before

    def test_nobody_else_can_delete_my_conversation_or_claim_label(self):
        data = contributions()
        before = snapshot()
        with pytest.raises(Http404):
            services.conversation_delete(volunteer=data.other, conversation_id=data.my_battle.conversation_id)
        with pytest.raises(Http404):
            services.claim_label_delete(volunteer=data.other, claim_label_id=data.claim_labels[0].pk)
        assert snapshot() == before


class TestErasure:
    def test_everything_goes_the_request_is_recorded_and_the_account_is_anonymised(self):
        data = contributions()
        services.flag_response_edit(volunteer=data.me, flag_response_id=data.flag.pk, labels=["spam"])
        rating_item, correct_item = (
            data.rating.item_id,
            TaskItem.objects.get(kind="correct", answer=data.correction.corrects),
        )
        before_counts = (response_count(rating_item), correct_item.response_count)

        erasure = services.account_erase(user=data.me, email_confirmation=f"  {data.me.email.upper()} ")

        assert erasure.items_removed == {
            "revisions": 1,
            "ratings": 1,
            "flags": 1,
            "rankings": 1,
            "claim_labels": 2,
            "claims": 1,
            "better_answers": 1,
            "donations": 1,
            "conversations": 1,
            "battles": 1,
            "api_tokens": 0,
            "memberships": 1,
        }
        assert ErasureRequest.objects.get() == erasure
        assert (erasure.user_pk, erasure.user_id) == (data.me.pk, data.me.pk)
        assert erasure.completed_at is not None
        me = User.objects.get(pk=data.me.pk)
        assert (me.email, me.display_name, me.is_active, me.has_usable_password()) == (
            f"erased-{me.pk}@invalid",
            "",
            False,
            False,
        )
        assert authenticate(email=data.me.email, password="a-long-test-password") is None
        for model, field in [
            (Rating, "volunteer"),
            (FlagResponse, "volunteer"),
            (Ranking, "volunteer"),
            (ClaimLabel, "volunteer"),
            (Claim, "author"),
            (Message, "author"),
            (Conversation, "owner"),
            (Battle, "judge"),
            (Donation, "owner"),
            (Membership, "user"),
            (Revision, "volunteer"),
            (TaskAssignment, "volunteer"),
        ]:
            assert not model.objects.filter(**{field: me}).exists(), model
        assert (response_count(rating_item), response_count(correct_item.pk)) == (
            before_counts[0] - 1,
            before_counts[1] - 1,
        )
        # Everyone else's contributions stay.
        assert ratings_of(data.other_rating) == RATINGS
        assert Message.objects.filter(pk=data.other_correction.pk).exists()
        assert Battle.objects.filter(pk=data.target.pk, winner="model_a").exists()
        assert User.objects.get(pk=data.other.pk).is_active

    def test_a_wrong_confirmation_changes_nothing(self):
        data = contributions()
        before = snapshot()
        for typed in ["", None, "someone@example.org", data.other.email]:
            with pytest.raises(RequestRejected) as refused:
                services.account_erase(user=data.me, email_confirmation=typed)
            assert refused.value.message == "Type the e-mail address of your account exactly to confirm the erasure."
        assert snapshot() == before

    def test_a_person_with_nothing_is_erased_with_zero_counts(self):
        user = UserFactory(is_staff=True, is_superuser=True, role="admin")
        erasure = services.account_erase(user=user, email_confirmation=user.email)
        assert set(erasure.items_removed.values()) == {0}
        user.refresh_from_db()
        assert (user.is_active, user.is_staff, user.is_superuser) == (False, False, False)
