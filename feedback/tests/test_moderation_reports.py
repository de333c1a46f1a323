"""Reports: the form, the API, bad input, and hiding at N reports."""

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import AuditEntry, Message, ModerationCase, Report
from feedback.moderation.services import report_create
from feedback.tests.moderation_setup import reporter_who_saw, served_answer_ids, world_create

pytestmark = pytest.mark.django_db

API_URL = "/api/v1/reports/"


@pytest.fixture
def world():
    return world_create()


def _report_url(kind, pk):
    return reverse("feedback:report", args=[kind, pk])


class TestReportForm:
    def test_a_report_from_the_task_page(self, client, world):
        answer = world.battle.answer_a
        client.force_login(world.judge)
        response = client.post(
            _report_url("message", answer.pk),
            {"reason": "spam", "comment": "Sells watches."},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200
        assert "Reported. Thank you" in response.content.decode()
        report = Report.objects.get()
        assert (report.message, report.reporter, report.reason, report.comment, report.status) == (
            answer,
            world.judge,
            "spam",
            "Sells watches.",
            "open",
        )
        case = ModerationCase.objects.get()
        assert (case.community, case.status, case.open_reports, case.severity) == (world.community, "open", 1, 2)

    def test_the_task_page_has_report_buttons(self, client, world):
        from feedback.taskqueue.services.queue import task_next

        assignment = task_next(volunteer=world.volunteer, kind="rate")
        client.force_login(world.volunteer)
        page = client.get(reverse("feedback:task", args=[assignment.pk])).content.decode()
        for message_id in (assignment.item.answer_id, assignment.item.answer.parent_id):
            assert f'hx-post="{_report_url("message", message_id)}"' in page
        # ... and the reporter may report what the page showed them.
        response = client.post(_report_url("message", assignment.item.answer.parent_id), {"reason": "toxic"})
        assert response.status_code == 302
        assert Report.objects.get().message_id == assignment.item.answer.parent_id

    def test_the_arena_answer_fragment_has_a_report_button(self, world):
        from feedback.arena.fragments import event_html
        from feedback.arena.streaming import SideFinished

        html = event_html(battle=world.battle, prompt="Hi", event=SideFinished(side="b", text="An answer."))
        assert f'hx-post="{_report_url("message", world.battle.answer_b_id)}"' in html

    def test_the_report_page(self, client, world):
        client.force_login(world.judge)
        response = client.get(_report_url("message", world.battle.answer_a_id))
        assert response.status_code == 200
        assert 'name="reason"' in response.content.decode()
        assert client.get(_report_url("message", 999999)).status_code == 404

    def test_anonymous(self, client, world):
        url = _report_url("message", world.battle.answer_a_id)
        assert client.get(url)["Location"].startswith(reverse("account_login"))
        assert client.post(url, {"reason": "spam"}).status_code == 403
        assert not Report.objects.exists()


class TestBadInput:
    @pytest.mark.parametrize(
        ("kind", "target", "reason", "status", "words"),
        [
            ("message", "answer", "rude", 400, "Choose a reason"),
            ("message", "answer", "", 400, "Choose a reason"),
            ("message", "missing", "spam", 404, "Nothing to report there"),
            ("message", "unseen", "spam", 404, "Nothing to report there"),
            ("donation", "answer", "spam", 404, "Nothing to report there"),
            ("battle", "answer", "spam", 404, "Nothing to report there"),
            ("message", "own", "spam", 400, "your own contribution"),
        ],
    )
    def test_refused_and_nothing_written(self, client, world, kind, target, reason, status, words):
        other_battle = world_create().battle  # in another community: never shown to the judge
        target_id = {
            "answer": world.battle.answer_a_id,
            "missing": 999999,
            "unseen": other_battle.answer_a_id,
            "own": world.battle.answer_a.parent_id,
        }[target]
        client.force_login(world.judge)
        response = client.post(reverse("feedback:report", args=[kind, target_id]), {"reason": reason})
        assert response.status_code == status
        assert words in response.content.decode()
        assert not Report.objects.exists() and not ModerationCase.objects.exists()

    def test_a_message_never_shown_to_a_member_of_the_community(self, world):
        from django.http import Http404

        with pytest.raises(Http404):
            report_create(
                reporter=world.volunteer, target_kind="message", target_id=world.battle.answer_a_id, reason="spam"
            )
        assert not Report.objects.exists()

    def test_once_per_person(self, client, world):
        client.force_login(world.judge)
        url = _report_url("message", world.battle.answer_a_id)
        assert client.post(url, {"reason": "spam"}).status_code == 302
        response = client.post(url, {"reason": "toxic"})
        assert response.status_code == 409
        assert list(Report.objects.values_list("reason", flat=True)) == ["spam"]

    def test_a_comment_too_long(self, client, world):
        client.force_login(world.judge)
        response = client.post(
            _report_url("message", world.battle.answer_a_id), {"reason": "spam", "comment": "x" * 2001}
        )
        assert response.status_code == 400
        assert not Report.objects.exists()

    def test_a_removed_message_cannot_be_reported(self, world):
        from django.http import Http404

        Message.objects.filter(pk=world.battle.answer_a_id).update(moderation_status="removed", text="")
        with pytest.raises(Http404):
            report_create(
                reporter=world.judge, target_kind="message", target_id=world.battle.answer_a_id, reason="spam"
            )


class TestApi:
    def test_report_and_errors(self, world):
        api = APIClient()
        payload = {"target": "message", "id": world.battle.answer_a_id, "reason": "personal_information"}
        assert api.post(API_URL, payload, format="json").status_code in (401, 403)
        api.force_authenticate(world.judge)
        response = api.post(API_URL, payload | {"comment": "A phone number."}, format="json")
        assert response.status_code == 201
        report = Report.objects.get()
        assert response.json() == {
            "id": report.pk,
            "target": "message",
            "target_id": world.battle.answer_a_id,
            "reason": "personal_information",
            "status": "open",
            "created_at": response.json()["created_at"],
        }
        assert ModerationCase.objects.get().severity == 3  # personal information: high
        assert api.post(API_URL, payload, format="json").status_code == 409
        assert api.post(API_URL, payload | {"reason": "nope"}, format="json").status_code == 400
        assert api.post(API_URL, payload | {"target": "user"}, format="json").status_code == 400
        assert api.post(API_URL, payload | {"id": 999999}, format="json").status_code == 404
        assert Report.objects.count() == 1


class TestHiddenAtNReports:
    @override_settings(MODERATION_HIDE_AT_REPORTS=3)
    def test_the_nth_open_report_hides_the_item_until_a_moderator_decides(self, world):
        answer = world.battle.answer_a
        report_create(reporter=world.judge, target_kind="message", target_id=answer.pk, reason="spam")
        report_create(reporter=reporter_who_saw(answer), target_kind="message", target_id=answer.pk, reason="spam")
        answer.refresh_from_db()
        assert answer.moderation_status == "visible"
        assert not AuditEntry.objects.exists()

        report_create(reporter=reporter_who_saw(answer), target_kind="message", target_id=answer.pk, reason="toxic")
        answer.refresh_from_db()
        assert (answer.moderation_status, answer.moderated_by) == ("hidden", None)
        assert answer.moderation_reason == "Hidden automatically: 3 open reports (threshold 3)."
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.target_kind, entry.target_id) == (
            "auto_hide",
            None,
            "message",
            answer.pk,
        )
        newcomer = MembershipFactory(community=world.community).user
        assert answer.pk not in served_answer_ids(newcomer)

        # The moderator accepts it: visible again, the reports dismissed.
        from feedback.moderation.services import case_act

        case = ModerationCase.objects.get(message=answer)
        case_act(actor=world.moderator, case_id=case.pk, action="accept", reason="Nothing wrong with it.")
        answer.refresh_from_db()
        assert answer.moderation_status == "visible"
        assert set(Report.objects.values_list("status", flat=True)) == {"dismissed"}

    def test_the_default_threshold_is_four(self, settings):
        assert settings.MODERATION_HIDE_AT_REPORTS == 4


def test_a_donated_conversation_can_be_reported_by_whoever_saw_it(world):
    from feedback.donations import services as donations
    from feedback.tests.test_donations_support import draft_create

    owner = MembershipFactory(community=world.community).user
    draft = draft_create(owner=owner)
    donation = donations.donation_donate(owner=owner, donation_id=draft.pk, community_slug=world.community.slug)
    stranger = UserFactory()
    from django.http import Http404

    with pytest.raises(Http404):
        report_create(reporter=stranger, target_kind="donation", target_id=donation.pk, reason="copyright")
    answer = donation.conversation.messages.filter(role="assistant").first()
    report = report_create(
        reporter=reporter_who_saw(answer), target_kind="donation", target_id=donation.pk, reason="copyright"
    )
    assert report.donation == donation
    assert ModerationCase.objects.get().donation == donation


def test_reports_past_the_rate_limit_get_429_with_retry_after_and_nothing_is_written(client, world, settings):
    """Two reports a minute here; the third, from the form or the API, is refused."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "reports": "2/minute"}
    client.force_login(world.judge)
    targets = [world.battle.answer_a_id, world.battle.answer_b_id, world.battle.answer_a.parent_id]
    for message_id in targets[:2]:
        assert client.post(_report_url("message", message_id), {"reason": "spam"}).status_code == 302
    refused = client.post(_report_url("message", targets[2]), {"reason": "spam"}, headers={"HX-Request": "true"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "reports" in refused.content.decode().lower()
    api = APIClient()
    api.force_authenticate(world.judge)
    answer = api.post(API_URL, {"target": "message", "id": targets[2], "reason": "spam"}, format="json")
    assert answer.status_code == 429 and int(answer["Retry-After"]) > 0
    assert Report.objects.count() == 2
