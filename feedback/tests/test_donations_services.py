"""The donation services and selectors in depth: upload, review, donate, delete."""

import datetime
import random

import pytest
from django.http import Http404
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected
from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from feedback.donations import services
from feedback.donations.parsing import NEITHER_FORMAT
from feedback.donations.selectors import donation_communities_for, donation_list_for_owner, donation_review
from feedback.models import Conversation, Donation, Message, Rating, TaskAssignment, TaskItem
from feedback.taskqueue.services.queue import task_next
from feedback.taskqueue.services.responses import task_answer_submit
from feedback.tests.test_donations_support import (
    DATA,
    TURNS_WITH_PII,
    draft_create,
    pool_snapshot,
    sharegpt_export,
)

pytestmark = pytest.mark.django_db


def turns_of(donation: Donation) -> list[tuple[str, str, bool]]:
    return [(turn["role"], turn["text"], turn["is_removed"]) for turn in donation.turns]


class TestUpload:
    def test_a_chatgpt_export_becomes_one_draft_per_conversation(self):
        owner = UserFactory()
        drafts = services.donation_upload(owner=owner, raw=(DATA / "chatgpt_conversations.json").read_bytes())
        stored = list(Donation.objects.order_by("pk"))
        assert [draft.pk for draft in drafts] == [donation.pk for donation in stored]
        assert [(d.owner, d.source, d.status, d.community, d.conversation, d.title) for d in stored] == [
            (owner, "chatgpt", "draft", None, None, "Sourdough starter smells odd"),
            (owner, "chatgpt", "draft", None, None, "Trip budget from a photo"),
        ]
        assert [turn["role"] for turn in stored[0].turns] == ["user", "assistant", "user", "assistant"]
        assert stored[0].turns[2] == {
            "role": "user",
            "text": "How much flour and water per feeding?",
            "is_removed": False,
        }
        assert stored[1].turns[3] == {"role": "assistant", "text": "About 19.92 € each.", "is_removed": False}

    def test_a_sharegpt_file_becomes_one_draft_per_conversation(self):
        owner = UserFactory()
        services.donation_upload(owner=owner, raw=(DATA / "sharegpt.json").read_bytes())
        stored = list(Donation.objects.order_by("pk"))
        assert [(d.source, d.title) for d in stored] == [
            ("sharegpt", "Give me a haiku about the tram to work."),
            ("sharegpt", "Regex for postcodes"),
            ("sharegpt", "Translate 'good morning' into German."),
        ]
        assert turns_of(stored[2]) == [
            ("user", "Translate 'good morning' into German.\nJust the phrase, please.", False),
            ("assistant", "Guten Morgen.", False),
            ("user", "And into Spanish?", False),
            ("assistant", "Buenos días.", False),
        ]

    def test_turns_are_kept_exactly(self):
        owner = UserFactory()
        draft = draft_create(owner=owner, source="chatgpt")
        assert turns_of(draft) == [(role, text, False) for role, text in TURNS_WITH_PII]
        assert draft.title == "Chat 1"

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (b"{not json", "The file is not valid JSON: Expecting property name enclosed in double quotes"),
            (b"", "The file is empty."),
            (b'[{"messages": []}]', NEITHER_FORMAT),
            (b'"just a string"', NEITHER_FORMAT),
            (b"\xff\xfe[]", "The file is not UTF-8 text"),
        ],
    )
    def test_a_file_that_is_not_an_export_is_refused_and_nothing_is_written(self, raw, message):
        owner = UserFactory()
        draft_create(owner=owner)
        before = pool_snapshot()
        with pytest.raises(RequestRejected) as refused:
            services.donation_upload(owner=owner, raw=raw)
        assert refused.value.status_code == 400
        assert refused.value.message.startswith(message)
        assert pool_snapshot() == before

    def test_a_file_over_the_limit_is_refused_with_its_size_and_the_limit(self, settings):
        settings.DONATION_MAX_BYTES = 1000
        owner = UserFactory()
        raw = sharegpt_export([("user", "x" * 600), ("assistant", "y" * 600)])
        with pytest.raises(services.UploadTooLarge) as refused:
            services.donation_upload(owner=owner, raw=raw)
        assert refused.value.status_code == 413
        assert refused.value.message == (
            "The file is 1.3 KB (1,307 bytes); the limit is 1,000 bytes. Upload a smaller export, or split it."
        )
        assert Donation.objects.count() == 0

    def test_too_many_conversations_are_refused_and_nothing_is_written(self):
        owner = UserFactory()
        conversation = [("user", "Hi"), ("assistant", "Hello!")]
        raw = sharegpt_export(*[conversation] * (services.DONATION_UPLOAD_MAX_CONVERSATIONS + 1))
        with pytest.raises(RequestRejected) as refused:
            services.donation_upload(owner=owner, raw=raw)
        assert refused.value.message.startswith("The file holds 201 conversations; one upload may hold at most 200.")
        assert Donation.objects.count() == 0

    def test_the_most_conversations_allowed_are_taken(self):
        owner = UserFactory()
        conversation = [("user", "Hi"), ("assistant", "Hello!")]
        raw = sharegpt_export(*[conversation] * services.DONATION_UPLOAD_MAX_CONVERSATIONS)
        assert len(services.donation_upload(owner=owner, raw=raw)) == 200
        assert Donation.objects.filter(owner=owner, status="draft").count() == 200

    def test_size_text(self):
        assert [services.size_text(n) for n in (0, 1023, 1024, 5 * 1024 * 1024, 6_500_000)] == [
            "0 bytes",
            "1,023 bytes",
            "1.0 KB",
            "5.0 MB",
            "6.2 MB",
        ]


class TestReviewTurns:
    def test_a_turn_is_removed_and_restored_and_asking_twice_changes_nothing(self):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        services.donation_turn_toggle(owner=owner, donation_id=draft.pk, index=2, is_removed=True)
        services.donation_turn_toggle(owner=owner, donation_id=draft.pk, index="2", is_removed=True)
        draft.refresh_from_db()
        assert [turn["is_removed"] for turn in draft.turns] == [False, False, True, False]
        services.donation_turn_toggle(owner=owner, donation_id=draft.pk, index=2, is_removed=False)
        draft.refresh_from_db()
        assert turns_of(draft) == [(role, text, False) for role, text in TURNS_WITH_PII]

    @pytest.mark.parametrize("index", [-1, 4, "x", None])
    def test_an_unknown_turn_is_refused(self, index):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        before = pool_snapshot()
        with pytest.raises(RequestRejected, match="No such turn"):
            services.donation_turn_toggle(owner=owner, donation_id=draft.pk, index=index, is_removed=True)
        assert pool_snapshot() == before

    def test_a_turn_is_edited(self):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        services.donation_turn_edit(
            owner=owner, donation_id=draft.pk, index=2, text="Sign it for me: write to [my e-mail].\r\nThanks "
        )
        draft.refresh_from_db()
        assert draft.turns[2] == {
            "role": "user",
            "text": "Sign it for me: write to [my e-mail].\nThanks",
            "is_removed": False,
        }
        assert [turn["text"] for turn in draft.turns[:2]] == [text for _, text in TURNS_WITH_PII[:2]]

    def test_an_edit_may_grow_a_turn_by_200_characters(self):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        assert len(TURNS_WITH_PII[2][1]) == 66
        draft = services.donation_turn_edit(owner=owner, donation_id=draft.pk, index=2, text="z" * 266)
        assert Donation.objects.get(pk=draft.pk).turns[2]["text"] == "z" * 266

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("   ", "A turn cannot be empty. Remove the turn instead."),
            (None, "A turn cannot be empty. Remove the turn instead."),
            ("z" * 267, "Edit a turn to take things out, not to write a new one"),
        ],
    )
    def test_an_edit_that_empties_or_rewrites_a_turn_is_refused(self, text, message):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        before = pool_snapshot()
        with pytest.raises(RequestRejected) as refused:
            services.donation_turn_edit(owner=owner, donation_id=draft.pk, index=2, text=text)
        assert refused.value.message.startswith(message)
        assert pool_snapshot() == before

    def test_nobody_else_can_change_a_draft(self):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        before = pool_snapshot()
        for role in ("volunteer", "moderator", "admin"):
            other = UserFactory(role=role)
            with pytest.raises(Http404):
                services.donation_turn_toggle(owner=other, donation_id=draft.pk, index=0, is_removed=True)
            with pytest.raises(Http404):
                services.donation_turn_edit(owner=other, donation_id=draft.pk, index=0, text="Mine now")
        assert pool_snapshot() == before

    def test_a_donated_conversation_can_no_longer_be_changed(self):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        before = pool_snapshot()
        with pytest.raises(Conflict) as refused:
            services.donation_turn_toggle(owner=membership.user, donation_id=draft.pk, index=0, is_removed=True)
        assert refused.value.status_code == 409
        with pytest.raises(Conflict):
            services.donation_turn_edit(owner=membership.user, donation_id=draft.pk, index=0, text="Changed")
        assert pool_snapshot() == before


class TestDonate:
    def test_the_kept_turns_become_a_linear_conversation_with_review_items(self, django_capture_on_commit_callbacks):
        membership = MembershipFactory()
        owner, community = membership.user, membership.community
        draft = draft_create(
            owner=owner,
            turns=[
                ("user", "What is a sourdough starter?"),
                ("assistant", "Flour and water with wild yeast."),
                ("user", "My phone is 020 7946 0018."),
                ("assistant", "I will not need it."),
                ("user", "How often do I feed it?"),
                ("assistant", "Once a day at room temperature."),
                ("assistant", "Or weekly in the fridge."),
            ],
        )
        services.donation_turn_toggle(owner=owner, donation_id=draft.pk, index=2, is_removed=True)
        services.donation_turn_toggle(owner=owner, donation_id=draft.pk, index=3, is_removed=True)
        before = timezone.now()
        with django_capture_on_commit_callbacks() as callbacks:
            donated = services.donation_donate(owner=owner, donation_id=draft.pk, community_slug=community.slug)

        conversation = Conversation.objects.get()
        assert (conversation.owner, conversation.community, conversation.topic) == (owner, community, "")
        messages = list(conversation.messages.order_by("pk"))
        assert [(m.role, m.text, m.author, m.endpoint, m.external_model) for m in messages] == [
            ("user", "What is a sourdough starter?", owner, None, ""),
            ("assistant", "Flour and water with wild yeast.", None, None, "ShareGPT assistant"),
            ("user", "How often do I feed it?", owner, None, ""),
            ("assistant", "Once a day at room temperature.", None, None, "ShareGPT assistant"),
            ("assistant", "Or weekly in the fridge.", None, None, "ShareGPT assistant"),
        ]
        assert [m.parent_id for m in messages] == [None, *[m.pk for m in messages[:-1]]]

        donated.refresh_from_db()
        assert (donated.status, donated.community, donated.conversation) == ("donated", community, conversation)
        assert before <= donated.donated_at <= timezone.now()
        assert [turn["is_removed"] for turn in donated.turns] == [False, False, True, True, False, False, False]

        answers = [m for m in messages if m.role == "assistant"]
        items = set(TaskItem.objects.values_list("kind", "answer_id", "community_id", "is_gold", "required_responses"))
        assert items == {
            (kind, answer.pk, community.pk, False, community.responses_per_item)
            for answer in answers
            for kind in ("rate", "flag", "correct")
        }
        # One claim split per answer, and one moderation scan of every turn, are queued once the
        # transaction commits.
        assert len(callbacks) == 4

    def test_chatgpt_answers_are_credited_to_chatgpt(self):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user, source="chatgpt")
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        assert list(Message.objects.order_by("pk").values_list("role", "external_model", "author_id")) == [
            ("user", "", membership.user.pk),
            ("assistant", "ChatGPT", None),
            ("user", "", membership.user.pk),
            ("assistant", "ChatGPT", None),
        ]

    @pytest.mark.parametrize(
        "membership_fields",
        [
            None,  # not a member
            {"licence_accepted_at": None, "licence_name": "", "licence_version": None},
            {"licence_version": 0},  # accepted an older version of the terms
        ],
    )
    def test_without_the_communitys_current_licence_nothing_is_donated(self, membership_fields):
        owner = UserFactory()
        community = CommunityFactory()
        if membership_fields is not None:
            MembershipFactory(user=owner, community=community, **membership_fields)
        draft = draft_create(owner=owner)
        before = pool_snapshot()
        with pytest.raises(NotAllowed) as refused:
            services.donation_donate(owner=owner, donation_id=draft.pk, community_slug=community.slug)
        assert refused.value.status_code == 403
        assert refused.value.message == (
            f"Join {community.name} and accept its data licence (CC BY 4.0) before donating to it."
        )
        assert pool_snapshot() == before

    @pytest.mark.parametrize("role", ["volunteer", "researcher", "moderator", "admin"])
    def test_nobody_can_donate_someone_elses_draft(self, role):
        draft = draft_create(owner=UserFactory())
        other = MembershipFactory(user=UserFactory(role=role))
        before = pool_snapshot()
        with pytest.raises(Http404):
            services.donation_donate(owner=other.user, donation_id=draft.pk, community_slug=other.community.slug)
        assert pool_snapshot() == before

    def test_donating_twice_is_a_conflict(self):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        before = pool_snapshot()
        with pytest.raises(Conflict, match="You already donated this conversation."):
            services.donation_donate(
                owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug
            )
        assert pool_snapshot() == before

    @pytest.mark.parametrize(
        ("removed", "message"),
        [
            ([1, 3], "Keep at least one of your messages and one answer"),
            ([0, 2], "Keep at least one of your messages and one answer"),
            ([0, 1, 2, 3], "Keep at least one of your messages and one answer"),
            ([0], "The conversation must start with one of your messages"),
        ],
    )
    def test_a_draft_without_a_question_and_an_answer_left_is_refused(self, removed, message):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        for index in removed:
            services.donation_turn_toggle(owner=membership.user, donation_id=draft.pk, index=index, is_removed=True)
        before = pool_snapshot()
        with pytest.raises(RequestRejected) as refused:
            services.donation_donate(
                owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug
            )
        assert refused.value.status_code == 400
        assert refused.value.message.startswith(message)
        assert pool_snapshot() == before

    def test_a_community_must_be_chosen(self):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        before = pool_snapshot()
        with pytest.raises(RequestRejected, match="Choose the community"):
            services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug="")
        with pytest.raises(Http404):
            services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug="nowhere")
        assert pool_snapshot() == before


class TestDelete:
    def test_a_draft_is_deleted(self):
        owner = UserFactory()
        keep = draft_create(owner=owner)
        draft = draft_create(owner=owner)
        deleted = services.donation_delete(owner=owner, donation_id=draft.pk)
        assert deleted.status == "draft"
        assert list(Donation.objects.values_list("pk", flat=True)) == [keep.pk]

    def test_a_donation_is_deleted_with_its_conversation_and_review_items(self):
        membership = MembershipFactory()
        other = MembershipFactory(community=membership.community)
        kept = draft_create(owner=other.user)
        services.donation_donate(owner=other.user, donation_id=kept.pk, community_slug=other.community.slug)
        draft = draft_create(owner=membership.user)
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        conversation_id = Donation.objects.get(pk=draft.pk).conversation_id
        assert TaskItem.objects.filter(answer__conversation_id=conversation_id).count() == 6

        deleted = services.donation_delete(owner=membership.user, donation_id=draft.pk)

        assert deleted.status == "donated"
        assert not Donation.objects.filter(pk=draft.pk).exists()
        assert not Conversation.objects.filter(pk=conversation_id).exists()
        assert not Message.objects.filter(conversation_id=conversation_id).exists()
        assert not TaskItem.objects.filter(answer__conversation_id=conversation_id).exists()
        # The other donor's conversation stays in the pool.
        assert Message.objects.filter(conversation__owner=other.user).count() == 4
        assert TaskItem.objects.count() == 6

    def test_the_reviews_given_to_a_donated_answer_go_with_it(self):
        membership = MembershipFactory()
        reviewer = MembershipFactory(community=membership.community).user
        draft = draft_create(owner=membership.user)
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        assignment = task_next(volunteer=reviewer, kind="rate", rng=random.Random(0))
        assert assignment.item.answer.conversation.donation.pk == draft.pk
        ratings = {"helpfulness": 4, "correctness": 3, "harmlessness": 5}
        task_answer_submit(volunteer=reviewer, assignment_id=assignment.pk, answer={"ratings": ratings})
        assert Rating.objects.count() == 3

        services.donation_delete(owner=membership.user, donation_id=draft.pk)

        assert (Rating.objects.count(), TaskAssignment.objects.count(), TaskItem.objects.count()) == (0, 0, 0)
        assert pool_snapshot() == {"donations": [], "conversations": [], "messages": [], "task_items": []}

    @pytest.mark.parametrize("role", ["volunteer", "researcher", "moderator", "admin"])
    def test_nobody_else_can_delete_a_donation(self, role):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        before = pool_snapshot()
        with pytest.raises(Http404):
            services.donation_delete(owner=UserFactory(role=role), donation_id=draft.pk)
        assert pool_snapshot() == before


class TestSelectors:
    def test_the_review_marks_personal_information_and_escapes_the_text(self):
        draft = draft_create(owner=UserFactory())
        review = donation_review(donation=draft)
        assert [turn.pii_counts for turn in review.turns] == [{}, {}, {"email": 1, "phone": 1}, {}]
        assert review.turns[2].html == (
            'Sign it for me: write to <mark class="pii" title="Looks like e-mail address">ada@example.org</mark> '
            'or call <mark class="pii" title="Looks like phone number">+44 20 7946 0018</mark>.'
        )
        assert review.turns[3].html == (
            "Done: &lt;b&gt;Ada&lt;/b&gt; signs it, and the letter gives both ways to reach her."
        )
        assert review.pii_counts == {"email": 1, "phone": 1}
        assert review.pii_text == "1 e-mail address, 1 phone number"
        assert (review.kept_user_turns, review.kept_assistant_turns, review.is_ready) == (2, 2, True)

    def test_the_totals_count_only_the_turns_that_are_kept(self):
        owner = UserFactory()
        draft = draft_create(
            owner=owner,
            turns=[
                ("user", "Mail ada@example.org and bob@example.org"),
                ("assistant", "Sure."),
                ("user", "Or call 020 7946 0018, from 192.0.2.44"),
                ("assistant", "Noted."),
            ],
        )
        assert donation_review(donation=draft).pii_text == "2 e-mail addresses, 1 phone number, 1 IP address"
        draft = services.donation_turn_toggle(owner=owner, donation_id=draft.pk, index=2, is_removed=True)
        review = donation_review(donation=draft)
        assert review.pii_text == "2 e-mail addresses"
        assert review.turns[2].pii_counts == {"phone": 1, "ip_address": 1}

    def test_only_communities_with_the_current_licence_accepted_are_offered(self):
        owner = UserFactory()
        current = MembershipFactory(user=owner, community=CommunityFactory(name="B current"))
        MembershipFactory(user=owner, community=CommunityFactory(name="A outdated"), licence_version=0)
        MembershipFactory(user=owner, community=CommunityFactory(name="C not accepted"), licence_accepted_at=None)
        also = MembershipFactory(user=owner, community=CommunityFactory(name="A current"))
        CommunityFactory(name="D not joined")
        assert donation_communities_for(user=owner) == [also.community, current.community]
        owner.is_active = False
        assert donation_communities_for(user=owner) == []

    def test_the_list_holds_only_the_owners_donations_newest_first(self, django_assert_num_queries):
        owner = UserFactory()
        first = draft_create(owner=owner)
        second = draft_create(owner=owner)
        Donation.objects.filter(pk=first.pk).update(created_at=timezone.now() - datetime.timedelta(days=1))
        draft_create(owner=UserFactory())
        with django_assert_num_queries(1):
            assert [d.pk for d in donation_list_for_owner(owner=owner)] == [second.pk, first.pk]
