import uuid

import pytest
from django.http import Http404
from django.test import override_settings

from community.errors import Conflict, NotAllowed, RequestRejected, Unavailable
from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena import services
from feedback.models import Battle, Conversation, Message
from feedback.tests.factories import ModelEndpointFactory, arena_setup, battle_ready
from inference.models import ModelEndpoint

pytestmark = pytest.mark.django_db


def counts():
    return Conversation.objects.count(), Message.objects.count(), Battle.objects.count()


class TestBattleStart:
    def test_first_turn_builds_a_tree_with_one_prompt_and_two_answers(self):
        community, judge, first, second = arena_setup()
        battle = services.battle_start(judge=judge, community=community, prompt_text="  What causes tides?  ")

        assert battle.turn == 1
        assert battle.status == Battle.Status.STREAMING
        assert battle.is_blind is True
        assert battle.language == "en"
        assert {battle.model_a, battle.model_b} == {first, second}
        root = battle.answer_a.parent
        assert root == battle.answer_b.parent
        assert (root.role, root.text, root.author, root.parent) == ("user", "What causes tides?", judge, None)
        assert battle.answer_a.endpoint == battle.model_a
        assert battle.answer_a.text == ""
        assert counts() == (1, 3, 1)

    def test_follow_up_keeps_the_models_and_stores_the_prompt_under_each_answer(self):
        first_turn = battle_ready()
        judge, community = first_turn.judge, first_turn.community
        second = services.battle_start(
            judge=judge, community=community, prompt_text="And the moon?", conversation_id=first_turn.conversation_id
        )
        assert second.turn == 2
        assert second.conversation_id == first_turn.conversation_id
        assert (second.model_a, second.model_b) == (first_turn.model_a, first_turn.model_b)
        assert second.answer_a.parent.parent == first_turn.answer_a
        assert second.answer_b.parent.parent == first_turn.answer_b
        assert second.answer_a.parent.text == "And the moon?"
        assert counts() == (1, 7, 2)

    def test_follow_up_after_an_errored_turn_continues_from_the_last_good_turn(self):
        first_turn = battle_ready()
        judge, community = first_turn.judge, first_turn.community
        failed = services.battle_start(
            judge=judge, community=community, prompt_text="Second?", conversation_id=first_turn.conversation_id
        )
        services.battle_complete(battle=failed, errors={"a": "down"})
        retry = services.battle_start(
            judge=judge, community=community, prompt_text="Second?", conversation_id=first_turn.conversation_id
        )
        assert retry.turn == 2
        assert retry.answer_a.parent.parent == first_turn.answer_a

    @pytest.mark.parametrize(
        ("prompt", "message"),
        [
            ("", "Write a prompt first."),
            ("   \n ", "Write a prompt first."),
            (None, "Write a prompt first."),
            (["x"], "Write a prompt first."),
        ],
    )
    def test_empty_prompt_is_rejected_and_nothing_is_written(self, prompt, message):
        community, judge, _, _ = arena_setup()
        with pytest.raises(RequestRejected) as raised:
            services.battle_start(judge=judge, community=community, prompt_text=prompt)
        assert raised.value.message == message
        assert raised.value.status_code == 400
        assert counts() == (0, 0, 0)

    def test_a_topic_of_the_community_is_kept_on_the_conversation_and_its_items(self):
        community, judge, _, _ = arena_setup()
        community.topics = ["Health", "Law"]
        community.save()
        battle = services.battle_start(judge=judge, community=community, prompt_text="Is aspirin safe?", topic="Health")
        assert battle.conversation.topic == "Health"
        with pytest.raises(RequestRejected, match="has no topic called 'Cooking'"):
            services.battle_start(judge=judge, community=community, prompt_text="Pasta?", topic="Cooking")
        assert counts() == (1, 3, 1)

    @override_settings(ARENA_PROMPT_MAX_CHARS=10)
    def test_prompt_over_the_limit_is_rejected(self):
        community, judge, _, _ = arena_setup()
        with pytest.raises(RequestRejected, match="11 characters long; the limit is 10"):
            services.battle_start(judge=judge, community=community, prompt_text="x" * 11)
        assert counts() == (0, 0, 0)

    def test_someone_who_has_not_joined_cannot_start(self):
        community, _, _, _ = arena_setup()
        with pytest.raises(NotAllowed):
            services.battle_start(judge=UserFactory(), community=community, prompt_text="Hello there")
        assert counts() == (0, 0, 0)

    def test_a_member_must_accept_a_changed_licence_again(self):
        community, judge, _, _ = arena_setup()
        community.licence_version = 2
        community.save()
        with pytest.raises(NotAllowed):
            services.battle_start(judge=judge, community=community, prompt_text="Hello there")

    def test_fewer_than_two_available_models_is_a_clear_503(self):
        community, judge, first, second = arena_setup()
        ModelEndpoint.objects.filter(pk=first.pk).update(health=ModelEndpoint.Health.DOWN)
        with pytest.raises(Unavailable) as raised:
            services.battle_start(judge=judge, community=community, prompt_text="Hello there")
        assert raised.value.status_code == 503
        assert counts() == (0, 0, 0)

    def test_draws_only_active_endpoints_of_the_community_or_shared_ones(self):
        community, judge, first, second = arena_setup()
        ModelEndpoint.objects.filter(pk=second.pk).update(is_active=False)
        shared = ModelEndpointFactory(community=None)
        ModelEndpointFactory()  # another community's
        for _ in range(10):
            battle = services.battle_start(judge=judge, community=community, prompt_text="Hello there")
            assert {battle.model_a, battle.model_b} == {first, shared}

    def test_cannot_continue_someone_elses_conversation(self):
        first_turn = battle_ready()
        other = MembershipFactory(community=first_turn.community).user
        with pytest.raises(Http404):
            services.battle_start(
                judge=other,
                community=first_turn.community,
                prompt_text="Mine now",
                conversation_id=first_turn.conversation_id,
            )

    def test_cannot_continue_while_answers_stream(self):
        community, judge, _, _ = arena_setup()
        battle = services.battle_start(judge=judge, community=community, prompt_text="Hello there")
        with pytest.raises(Conflict):
            services.battle_start(
                judge=judge, community=community, prompt_text="More", conversation_id=battle.conversation_id
            )

    @override_settings(ARENA_MAX_TURNS=1)
    def test_turn_limit(self):
        first_turn = battle_ready()
        with pytest.raises(RequestRejected, match="at most 1 turns"):
            services.battle_start(
                judge=first_turn.judge,
                community=first_turn.community,
                prompt_text="More",
                conversation_id=first_turn.conversation_id,
            )


class TestAnswersAndCompletion:
    def test_answers_are_stored_and_the_battle_is_ready(self):
        battle = battle_ready(text_a="Tides come from the moon.", text_b="Gravity.")
        assert battle.status == Battle.Status.READY
        assert battle.completed_at is not None
        assert Message.objects.get(pk=battle.answer_a_id).text == "Tides come from the moon."

    def test_an_answer_naming_its_own_model_unblinds_the_battle(self):
        community, judge, first, second = arena_setup(model_id="SmolLM2-135M-Instruct")
        battle = services.battle_start(judge=judge, community=community, prompt_text="Who are you?")
        services.battle_answer_record(battle=battle, side="b", text="I am SmolLM, a small model.")
        battle = services.battle_complete(battle=battle, errors={})
        assert battle.is_blind is False

    def test_a_failed_side_marks_the_battle_errored(self):
        community, judge, _, _ = arena_setup()
        battle = services.battle_start(judge=judge, community=community, prompt_text="Hello there")
        battle = services.battle_complete(battle=battle, errors={"b": "The model took too long."})
        assert battle.status == Battle.Status.ERRORED
        assert battle.error == "Model B: The model took too long."


class TestVote:
    def test_vote_is_recorded_and_reveals_names(self):
        battle = battle_ready()
        key = uuid.uuid4()
        voted = services.battle_vote_cast(
            judge=battle.judge, battle_id=battle.pk, winner="model_b", idempotency_key=key
        )
        assert (voted.status, voted.winner, voted.is_blind, voted.vote_idempotency_key) == (
            "voted",
            "model_b",
            True,
            key,
        )
        assert voted.voted_at is not None
        assert Conversation.objects.get(pk=battle.conversation_id).names_revealed_at == voted.voted_at

    def test_same_key_twice_is_stored_once(self):
        battle = battle_ready()
        key = str(uuid.uuid4())
        first = services.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="tie", idempotency_key=key)
        again = services.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="tie", idempotency_key=key)
        assert first.voted_at == again.voted_at
        assert Battle.objects.filter(status="voted").count() == 1

    def test_second_vote_with_another_key_is_a_conflict(self):
        battle = battle_ready()
        services.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="tie", idempotency_key=uuid.uuid4())
        with pytest.raises(Conflict):
            services.battle_vote_cast(
                judge=battle.judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4()
            )
        assert Battle.objects.get(pk=battle.pk).winner == "tie"

    def test_a_key_used_for_another_battle_is_a_conflict(self):
        battle = battle_ready()
        key = uuid.uuid4()
        services.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="tie", idempotency_key=key)
        other = battle_ready(judge=battle.judge, community=battle.community)
        with pytest.raises(Conflict):
            services.battle_vote_cast(judge=battle.judge, battle_id=other.pk, winner="tie", idempotency_key=key)
        assert Battle.objects.get(pk=other.pk).status == "ready"

    def test_vote_after_names_were_shown_is_not_blind(self):
        first_turn = battle_ready()
        services.battle_vote_cast(
            judge=first_turn.judge, battle_id=first_turn.pk, winner="model_a", idempotency_key=uuid.uuid4()
        )
        second = battle_ready(
            judge=first_turn.judge, community=first_turn.community, conversation_id=first_turn.conversation_id
        )
        assert second.is_blind is False
        voted = services.battle_vote_cast(
            judge=first_turn.judge, battle_id=second.pk, winner="model_b", idempotency_key=uuid.uuid4()
        )
        assert voted.is_blind is False

    @pytest.mark.parametrize(
        ("winner", "key", "message"),
        [
            ("model_c", uuid.uuid4(), "Choose A, B, tie or both bad."),
            ("", uuid.uuid4(), "Choose A, B, tie or both bad."),
            ("tie", "not-a-uuid", "The vote has no valid idempotency key (a UUID)."),
            ("tie", None, "The vote has no valid idempotency key (a UUID)."),
        ],
    )
    def test_bad_vote_input_is_rejected(self, winner, key, message):
        battle = battle_ready()
        with pytest.raises(RequestRejected) as raised:
            services.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner=winner, idempotency_key=key)
        assert raised.value.message == message
        assert Battle.objects.get(pk=battle.pk).status == "ready"

    def test_someone_elses_battle_is_not_found(self):
        battle = battle_ready()
        stranger = MembershipFactory(community=battle.community).user
        with pytest.raises(Http404):
            services.battle_vote_cast(judge=stranger, battle_id=battle.pk, winner="tie", idempotency_key=uuid.uuid4())
        assert Battle.objects.get(pk=battle.pk).status == "ready"

    def test_vote_in_a_community_whose_licence_is_no_longer_accepted_is_refused(self):
        battle = battle_ready()
        battle.community.licence_version = 2
        battle.community.save()
        with pytest.raises(NotAllowed):
            services.battle_vote_cast(
                judge=battle.judge, battle_id=battle.pk, winner="tie", idempotency_key=uuid.uuid4()
            )
        assert Battle.objects.get(pk=battle.pk).status == "ready"

    def test_cannot_vote_while_streaming_or_after_an_error(self):
        community, judge, _, _ = arena_setup()
        streaming = services.battle_start(judge=judge, community=community, prompt_text="Hello there")
        with pytest.raises(Conflict, match="Wait until both answers are complete"):
            services.battle_vote_cast(judge=judge, battle_id=streaming.pk, winner="tie", idempotency_key=uuid.uuid4())
        errored = services.battle_complete(battle=streaming, errors={"a": "down"})
        with pytest.raises(Conflict, match="cannot be voted on"):
            services.battle_vote_cast(judge=judge, battle_id=errored.pk, winner="tie", idempotency_key=uuid.uuid4())
        assert Battle.objects.get(pk=streaming.pk).winner == ""
