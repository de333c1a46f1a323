"""Suspended and banned people: every contributing action says why and until when; one appeal."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from community.errors import Conflict, NotAllowed
from community.models import Appeal, Sanction
from community.services import appeal_submit
from feedback.models import AuditEntry, Battle, Report
from feedback.moderation.services import appeal_decide_as_moderator
from feedback.tests.moderation_setup import admin_user, moderator_of, world_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return world_create()


def suspend(world, user=None, *, community="this", days=3, kind="suspend", reason="Advertising watches."):
    return Sanction.objects.create(
        user=user or world.judge,
        community=world.community if community == "this" else None,
        kind=kind,
        until=timezone.now() + timedelta(days=days) if kind == "suspend" else None,
        reason=reason,
        imposed_by=world.moderator,
    )


def test_the_refusal_says_why_and_until_when(world):
    from community.selectors import sanction_check

    sanction = suspend(world)
    with pytest.raises(NotAllowed) as refused:
        sanction_check(user=world.judge, community=world.community)
    until = timezone.localtime(sanction.until).strftime("%-d %B %Y, %H:%M %Z")
    assert refused.value.message == (
        f"You are suspended from {world.community.name} until {until}. Reason: Advertising watches. "
        "You can appeal once, on your sanctions page (/me/sanctions/)."
    )
    # Another community is not concerned; a site-wide ban is.
    sanction_check(user=world.judge, community=world.other)
    suspend(world, community=None, kind="ban", reason="Spam account")
    with pytest.raises(NotAllowed, match="You are banned from every community. Reason: Spam account."):
        sanction_check(user=world.judge, community=world.other)


def test_a_lifted_or_ended_suspension_refuses_nothing(world):
    from community.selectors import sanction_check

    suspend(world, days=-1)
    Sanction.objects.create(user=world.judge, community=world.community, kind="warn", reason="Careful.")
    lifted = suspend(world)
    Sanction.objects.filter(pk=lifted.pk).update(lifted_at=timezone.now())
    sanction_check(user=world.judge, community=world.community)


class TestEveryContributionIsRefused:
    def test_arena_page_prompt_and_vote(self, client, world):
        from feedback.arena.services import battle_start, battle_vote_cast

        suspend(world)
        client.force_login(world.judge)
        page = client.get(reverse("feedback:arena", args=[world.community.slug]))
        assert page.status_code == 403
        assert "You are suspended from" in page.content.decode()
        battles = Battle.objects.count()
        with pytest.raises(NotAllowed, match="You are suspended"):
            battle_start(judge=world.judge, community=world.community, prompt_text="Hello")
        response = client.post(
            reverse("feedback:battle_vote", args=[world.battle.pk]),
            {"winner": "model_a", "idempotency_key": "5b0f7f0e-8a53-4f0a-9a51-0b6ac3f1b8d1"},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 403
        assert "You are suspended" in response.content.decode()
        with pytest.raises(NotAllowed):
            battle_vote_cast(
                judge=world.judge,
                battle_id=world.battle.pk,
                winner="tie",
                idempotency_key="5b0f7f0e-8a53-4f0a-9a51-0b6ac3f1b8d1",
            )
        world.battle.refresh_from_db()
        assert (Battle.objects.count(), world.battle.status) == (battles, "ready")

    def test_tasks(self, client, world):
        from feedback.taskqueue.services.queue import task_next
        from feedback.taskqueue.services.responses import flag_submit

        assignment = task_next(volunteer=world.volunteer, kind="flag")
        suspend(world, user=world.volunteer)
        client.force_login(world.volunteer)
        response = client.get(reverse("feedback:task_next"))
        assert response.status_code == 403
        assert "You are suspended from" in response.content.decode()
        with pytest.raises(NotAllowed, match="You are suspended"):
            flag_submit(volunteer=world.volunteer, assignment_id=assignment.pk, labels=["spam"])
        api = APIClient()
        api.force_authenticate(world.volunteer)
        answer = api.post(reverse("feedback:api-task-answer", args=[assignment.pk]), {"labels": []}, format="json")
        assert answer.status_code == 403
        assert "You are suspended" in answer.json()["detail"]
        assignment.refresh_from_db()
        assert assignment.status == "reserved"

    def test_donation(self, client, world):
        from feedback.donations import services as donations
        from feedback.tests.test_donations_support import draft_create

        draft = draft_create(owner=world.judge)
        suspend(world)
        with pytest.raises(NotAllowed, match="You are suspended"):
            donations.donation_donate(owner=world.judge, donation_id=draft.pk, community_slug=world.community.slug)
        draft.refresh_from_db()
        assert draft.status == "draft"
        suspend(world, community=None, kind="ban", reason="Spam account")
        with pytest.raises(NotAllowed, match="banned"):
            donations.donation_upload(owner=world.judge, raw=b"[]")

    def test_report(self, client, world):
        suspend(world)
        client.force_login(world.judge)
        response = client.post(
            reverse("feedback:report", args=["message", world.battle.answer_a_id]), {"reason": "spam"}
        )
        assert response.status_code == 403
        assert "You are suspended" in response.content.decode()
        assert not Report.objects.exists()


class TestAppeal:
    def test_once(self, client, world):
        sanction = suspend(world)
        client.force_login(world.judge)
        page = client.get(reverse("community:my_sanctions")).content.decode()
        assert "Advertising watches." in page and "Send my appeal" in page
        url = reverse("community:sanction_appeal", args=[sanction.pk])
        response = client.post(url, {"text": "It was a joke between friends."})
        assert response.status_code == 302
        appeal = Appeal.objects.get()
        assert (appeal.sanction, appeal.text, appeal.status) == (sanction, "It was a joke between friends.", "open")
        second = client.post(url, {"text": "Please!"})
        assert second.status_code == 409
        assert "already appealed" in second.content.decode()
        assert Appeal.objects.count() == 1

    def test_bad_appeals(self, client, world):
        sanction = suspend(world)
        warning = Sanction.objects.create(user=world.judge, community=world.community, kind="warn", reason="Careful.")
        others = suspend(world, user=world.volunteer)
        client.force_login(world.judge)
        assert client.post(reverse("community:sanction_appeal", args=[sanction.pk]), {"text": "  "}).status_code == 400
        assert client.post(reverse("community:sanction_appeal", args=[warning.pk]), {"text": "Why?"}).status_code == 400
        assert client.post(reverse("community:sanction_appeal", args=[others.pk]), {"text": "Why?"}).status_code == 404
        ended = suspend(world, days=-1)
        assert client.post(reverse("community:sanction_appeal", args=[ended.pk]), {"text": "Why?"}).status_code == 409
        assert not Appeal.objects.exists()

    @pytest.mark.parametrize(("decision", "is_lifted"), [("lift", True), ("keep", False)])
    def test_decided_in_the_console(self, client, world, decision, is_lifted):
        sanction = suspend(world)  # imposed by world.moderator
        second = moderator_of(world.community)
        appeal = appeal_submit(user=world.judge, sanction_id=sanction.pk, text="Sorry.")
        client.force_login(world.other_moderator)
        url = reverse("feedback:moderation_appeal_decide", args=[appeal.pk])
        assert client.post(url, {"decision": decision, "reason": "Fair."}).status_code == 403
        client.force_login(second)
        page = client.get(reverse("feedback:moderation_appeals")).content.decode()
        assert "Sorry." in page and "Lift the sanction" in page
        assert client.post(url, {"decision": decision, "reason": ""}).status_code == 400
        assert client.post(url, {"decision": "maybe", "reason": "Hm."}).status_code == 400
        assert not AuditEntry.objects.exists()
        assert client.post(url, {"decision": decision, "reason": "First offence."}).status_code == 302
        appeal.refresh_from_db()
        sanction.refresh_from_db()
        assert appeal.status == ("granted" if is_lifted else "rejected")
        assert (appeal.decided_by, appeal.decision_reason) == (second, "First offence.")
        assert (sanction.lifted_at is not None) == is_lifted
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.subject, entry.reason) == (
            "appeal_grant" if is_lifted else "appeal_reject",
            second,
            world.judge,
            "First offence.",
        )
        with pytest.raises(Conflict):
            appeal_decide_as_moderator(actor=second, appeal_id=appeal.pk, is_granted=True, reason="Again")

    @pytest.mark.parametrize("decision", ["lift", "keep"])
    def test_the_moderator_who_imposed_the_sanction_does_not_decide_its_appeal(self, client, world, decision):
        """The sanctions page promises that another moderator decides an appeal."""
        sanction = suspend(world)  # imposed by world.moderator
        appeal = appeal_submit(user=world.judge, sanction_id=sanction.pk, text="Sorry.")
        client.force_login(world.moderator)
        page = client.get(reverse("feedback:moderation_appeals")).content.decode()
        assert "Sorry." in page
        assert "You imposed this sanction, so another moderator" in page
        assert reverse("feedback:moderation_appeal_decide", args=[appeal.pk]) not in page
        assert "Lift the sanction" not in page
        url = reverse("feedback:moderation_appeal_decide", args=[appeal.pk])
        response = client.post(url, {"decision": decision, "reason": "I stand by it."})
        assert response.status_code == 403
        assert (
            "You imposed this sanction, so you cannot decide its appeal: another moderator of the community "
            "(an admin, for a site-wide sanction) reads it and decides."
        ) in response.content.decode()
        appeal.refresh_from_db()
        sanction.refresh_from_db()
        assert (appeal.status, appeal.decided_by, sanction.lifted_at) == ("open", None, None)
        assert not AuditEntry.objects.exists()
        # An admin who imposed a site-wide ban cannot decide its appeal either; another admin can.
        ban = Sanction.objects.create(
            user=world.volunteer, community=None, kind="ban", reason="Spam", imposed_by=world.admin
        )
        ban_appeal = appeal_submit(user=world.volunteer, sanction_id=ban.pk, text="Not spam.")
        with pytest.raises(NotAllowed, match="You imposed this sanction"):
            appeal_decide_as_moderator(actor=world.admin, appeal_id=ban_appeal.pk, is_granted=True, reason="Ok")
        appeal_decide_as_moderator(actor=admin_user(), appeal_id=ban_appeal.pk, is_granted=True, reason="Ok")
        ban.refresh_from_db()
        assert ban.lifted_at is not None

    def test_site_wide_appeals_are_for_admins(self, world):
        sanction = suspend(world, community=None, kind="ban", reason="Spam account")
        appeal = appeal_submit(user=world.judge, sanction_id=sanction.pk, text="Sorry.")
        with pytest.raises(NotAllowed):
            appeal_decide_as_moderator(actor=world.moderator, appeal_id=appeal.pk, is_granted=True, reason="Ok")
        appeal_decide_as_moderator(actor=world.admin, appeal_id=appeal.pk, is_granted=True, reason="Ok")
        sanction.refresh_from_db()
        assert sanction.lifted_at is not None
