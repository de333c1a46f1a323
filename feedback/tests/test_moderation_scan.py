"""The automatic scan: the database checks (duplicates by hash and by MinHash band keys, the rate
rule) on their own, and the Celery task end to end (that needs the detectors)."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from community.tests.factories import MembershipFactory
from feedback.models import AutoFlag, Conversation, Message, ModerationCase, TextFingerprint
from feedback.moderation.scan import (
    DatabaseFinding,
    exact_duplicate_find,
    fingerprint_store,
    flags_store,
    near_duplicate_find,
    rate_find,
    text_hash,
)

pytestmark = pytest.mark.django_db


def fraction_equal(a, b) -> float:
    """MinHash similarity: the share of positions where two signatures agree."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def prompt(member, text, *, conversation=None, created_at=None):
    conversation = conversation or Conversation.objects.create(community=member.community, owner=member.user)
    message = Message.objects.create(conversation=conversation, role="user", text=text, author=member.user)
    if created_at is not None:
        Message.objects.filter(pk=message.pk).update(created_at=created_at)
        message.refresh_from_db()
    return message


def fingerprinted(member, text, *, signature=(1, 2, 3, 4), bands=(), **kwargs):
    message = prompt(member, text, **kwargs)
    return fingerprint_store(message=message, text_sha256=text_hash(text), signature=list(signature), band_keys=bands)


@pytest.fixture
def member():
    return MembershipFactory()


class TestExactDuplicates:
    def test_same_normalised_text_earlier_in_the_community(self, member):
        first = fingerprinted(member, "Buy cheap watches at example dot com today!")
        second = fingerprinted(member, "  buy CHEAP watches at example dot com   today! ")
        assert exact_duplicate_find(fingerprint=first) is None
        assert exact_duplicate_find(fingerprint=second) == DatabaseFinding(
            "duplicate", "medium", 1.0, f"Same text as message {first.message_id} (by the same person)."
        )

    def test_not_within_one_conversation_nor_across_communities(self, member):
        first = fingerprinted(member, "Buy cheap watches at example dot com today!")
        same_conversation = fingerprinted(
            member, "Buy cheap watches at example dot com today!", conversation=first.conversation
        )
        elsewhere = fingerprinted(MembershipFactory(), "Buy cheap watches at example dot com today!")
        assert exact_duplicate_find(fingerprint=same_conversation) is None
        assert exact_duplicate_find(fingerprint=elsewhere) is None

    def test_by_another_person(self, member):
        first = fingerprinted(member, "Buy cheap watches at example dot com today!")
        other = MembershipFactory(community=member.community)
        second = fingerprinted(other, "Buy cheap watches at example dot com today!")
        assert exact_duplicate_find(fingerprint=second).detail == (
            f"Same text as message {first.message_id} (by another person)."
        )


class TestNearDuplicates:
    """Hand-made signatures and band keys: candidates share a key, the best one above the
    threshold is reported."""

    @override_settings(MODERATION_NEAR_DUPLICATE_SIMILARITY=0.75)
    def test_the_most_similar_candidate_sharing_a_band(self, member):
        far = fingerprinted(member, "text one", signature=(1, 2, 9, 9), bands=(10, 20))  # 0.5
        near = fingerprinted(member, "text two", signature=(1, 2, 3, 9), bands=(20, 30))  # 0.75
        unrelated = fingerprinted(member, "text three", signature=(1, 2, 3, 4), bands=(99,))  # 1.0, no shared band
        new = fingerprinted(member, "text four", signature=(1, 2, 3, 4), bands=(10, 30, 40))
        assert unrelated.pk
        finding = near_duplicate_find(fingerprint=new, similarity=fraction_equal)
        assert finding == DatabaseFinding(
            "duplicate", "low", 0.75, f"Nearly the same text as message {near.message_id} (similarity 0.75)."
        )
        assert far.message_id < near.message_id

    @override_settings(MODERATION_NEAR_DUPLICATE_SIMILARITY=0.8)
    def test_below_the_threshold_or_later_or_same_conversation_is_not_a_duplicate(self, member):
        first = fingerprinted(member, "text one", signature=(1, 2, 3, 9), bands=(10,))
        new = fingerprinted(member, "text two", signature=(1, 2, 3, 4), bands=(10,))
        assert near_duplicate_find(fingerprint=new, similarity=fraction_equal) is None  # 0.75 < 0.8
        # Only earlier texts count, and not the same conversation's.
        assert near_duplicate_find(fingerprint=first, similarity=fraction_equal) is None
        same = fingerprinted(member, "text three", signature=(1, 2, 3, 9), bands=(10,), conversation=first.conversation)
        assert near_duplicate_find(fingerprint=same, similarity=fraction_equal) is None

    def test_band_keys_fit_in_64_bits(self, member):
        big = 2**63 - 1
        first = fingerprinted(member, "text one", signature=(5, 6), bands=(big, -big))
        new = fingerprinted(member, "text two", signature=(5, 6), bands=(-big,))
        assert set(first.bands.values_list("key", flat=True)) == {big, -big}
        assert near_duplicate_find(fingerprint=new, similarity=fraction_equal).score == 1.0

    def test_a_new_scan_replaces_the_band_keys(self, member):
        stored = fingerprinted(member, "text one", bands=(1, 2))
        message = stored.message
        fingerprint_store(message=message, text_sha256=text_hash("edited"), signature=[7], band_keys=[3])
        stored.refresh_from_db()
        assert (stored.text_sha256, list(stored.bands.values_list("key", flat=True))) == (text_hash("edited"), [3])


class TestRate:
    @override_settings(MODERATION_RATE_MAX_TEXTS=3, MODERATION_RATE_WINDOW_MINUTES=10)
    def test_more_than_the_limit_within_the_window(self, member):
        start = timezone.now() - timedelta(hours=1)
        old = fingerprinted(member, "an old text", created_at=start - timedelta(minutes=30))
        prints = [fingerprinted(member, f"text {n}", created_at=start + timedelta(minutes=2 * n)) for n in range(4)]
        assert old.pk
        assert [rate_find(fingerprint=f) for f in prints[:3]] == [None, None, None]
        finding = rate_find(fingerprint=prints[3])
        assert finding == DatabaseFinding("rate", "medium", 4.0, "4 texts within 10 minutes (the limit is 3).")
        # At most one rate flag per person per window.
        flags_store(message=prints[3].message, findings=[finding])
        fifth = fingerprinted(member, "text 5", created_at=start + timedelta(minutes=9))
        assert rate_find(fingerprint=fifth) is None

    @override_settings(MODERATION_RATE_MAX_TEXTS=2, MODERATION_RATE_WINDOW_MINUTES=10)
    def test_a_follow_up_stored_under_both_answers_counts_once(self, member):
        now = timezone.now()
        first = fingerprinted(member, "same follow-up", created_at=now)
        fingerprinted(member, "same follow-up", conversation=first.conversation, created_at=now)
        third = fingerprinted(member, "another", conversation=first.conversation, created_at=now)
        assert rate_find(fingerprint=third) is None

    @override_settings(MODERATION_RATE_MAX_TEXTS=1)
    def test_model_answers_do_not_count(self, member):
        conversation = Conversation.objects.create(community=member.community, owner=member.user)
        from feedback.tests.factories import ModelEndpointFactory

        endpoint = ModelEndpointFactory(community=member.community)
        answer = Message.objects.create(conversation=conversation, role="assistant", text="Hi", endpoint=endpoint)
        stored = fingerprint_store(message=answer, text_sha256=text_hash("Hi"), signature=[1], band_keys=[1])
        assert (stored.submitter, stored.source, stored.signature, stored.bands.count()) == (None, "model", [], 0)
        assert rate_find(fingerprint=stored) is None


def test_flags_open_the_case_again(member):
    message = prompt(member, "some text")
    flags_store(message=message, findings=[DatabaseFinding("duplicate", "low", 1.0, "x")])
    case = ModerationCase.objects.get()
    assert (case.status, case.open_flags, case.severity) == ("open", 1, 1)
    from feedback.moderation.services.cases import case_close_all
    from feedback.tests.moderation_setup import admin_user

    case_close_all(case, is_upheld=False, actor=admin_user())
    flags_store(message=message, findings=[DatabaseFinding("rate", "medium", 5.0, "y")])
    case.refresh_from_db()
    assert (case.status, case.open_flags, case.severity) == ("open", 1, 2)


class TestTheTask:
    """The Celery task with the real detectors (feedback.moderation.detectors and .minhash)."""

    @pytest.fixture(autouse=True)
    def detectors(self):
        pytest.importorskip("feedback.moderation.detectors")
        pytest.importorskip("feedback.moderation.minhash")

    def test_a_prompt_with_an_email_address_is_flagged_once(self, member):
        from feedback.moderation.scan import moderation_scan

        message = prompt(member, "Please write to jane.doe@example.org about my invoice number 4711.")
        moderation_scan.apply(args=[[message.pk]])
        flags = list(AutoFlag.objects.filter(message=message).values_list("detector", flat=True))
        assert flags, "the personal-information detector flags an e-mail address"
        assert TextFingerprint.objects.get(message=message).text_sha256 == text_hash(message.text)
        moderation_scan.apply(args=[[message.pk]])  # idempotent
        assert AutoFlag.objects.filter(message=message).count() == len(flags)

    def test_a_copied_text_is_a_duplicate(self, member):
        from feedback.moderation.scan import moderation_scan

        text = "Limited offer: the best watches in town, visit our shop in the high street this weekend."
        first = prompt(member, text)
        second = prompt(MembershipFactory(community=member.community), text)
        near = prompt(member, text + " Thanks")
        moderation_scan.apply(args=[[first.pk, second.pk, near.pk]])
        assert not AutoFlag.objects.filter(message=first, detector="duplicate").exists()
        assert AutoFlag.objects.get(message=second, detector="duplicate").severity == "medium"
        assert AutoFlag.objects.filter(message=near, detector="duplicate").exists()

    def test_an_edited_text_is_scanned_again(self, member):
        from feedback.moderation.scan import moderation_scan

        message = prompt(member, "A harmless question about tides and the moon.")
        moderation_scan.apply(args=[[message.pk]])
        before = AutoFlag.objects.count()
        Message.objects.filter(pk=message.pk).update(text="Write to jane.doe@example.org please.")
        moderation_scan.apply(args=[[message.pk]])
        assert AutoFlag.objects.count() > before


def test_battles_queue_the_scan_after_commit(django_capture_on_commit_callbacks):
    from unittest import mock

    from feedback.tests.factories import battle_ready

    with mock.patch("feedback.moderation.scan.moderation_scan.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            battle = battle_ready()
    scanned = sorted(id_ for call in delay.call_args_list for id_ in call.args[0])
    assert scanned == sorted([battle.answer_a.parent_id, battle.answer_a_id, battle.answer_b_id])
