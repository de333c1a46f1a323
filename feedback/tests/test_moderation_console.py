"""The moderator console: who may see and do what, and what each action changes."""

import pytest
from django.urls import reverse
from django.utils import timezone

from community.models import Sanction
from feedback.models import AuditEntry, AutoFlag, Battle, Message, ModerationCase, Report, Revision
from feedback.moderation.selectors import (
    battle_is_visible_q,
    has_open_high_severity_flag_q,
    message_is_visible_q,
    visible_messages,
)
from feedback.moderation.services import case_act
from feedback.tests.moderation_setup import case_reported, served_answer_ids, world_create

pytestmark = pytest.mark.django_db

ACTION_DATA = {
    "accept": {"reason": "Looks fine."},
    "hide": {"reason": "Advertising."},
    "edit": {"reason": "Removed the phone number.", "text": "I sell watches."},
    "delete": {"reason": "Spam."},
    "warn": {"reason": "No advertising please."},
    "suspend": {"reason": "Repeated advertising.", "days": "7"},
    "ban": {"reason": "Spam account."},
}


@pytest.fixture
def world():
    return world_create()


def _person(world, who):
    return {
        "volunteer": world.volunteer,
        "other_moderator": world.other_moderator,
        "moderator": world.moderator,
        "admin": world.admin,
    }[who]


def _written():
    return (
        AuditEntry.objects.count(),
        Sanction.objects.count(),
        list(Message.objects.order_by("pk").values_list("moderation_status", "text")),
        list(Report.objects.order_by("pk").values_list("status", flat=True)),
    )


class TestPermissions:
    """Anonymous: log in; volunteer and a moderator of another community: 403; this
    community's moderator and admins: allowed. Pages and every action."""

    def _case_with_human_author(self, world):
        # A prompt has a person behind it, so every sanction action applies.
        case_reported(world, message=world.battle.answer_a)
        from feedback.tests.moderation_setup import reporter_who_saw

        reporter = reporter_who_saw(world.battle.answer_a)
        from feedback.moderation.services import report_create

        prompt = world.battle.answer_a.parent
        report_create(reporter=reporter, target_kind="message", target_id=prompt.pk, reason="spam")
        return ModerationCase.objects.get(message=prompt)

    @pytest.mark.parametrize(
        ("page", "who", "expected"),
        [
            (page, who, expected)
            for page in ("queue", "case", "appeals")
            for who, expected in (
                ("volunteer", 403),
                ("other_moderator", 403),
                ("moderator", 200),
                ("admin", 200),
            )
        ]
        + [
            ("audit", "volunteer", 403),
            ("audit", "other_moderator", 403),
            ("audit", "moderator", 403),
            ("audit", "admin", 200),
        ],
    )
    def test_pages(self, client, world, page, who, expected):
        case = case_reported(world)
        url = {
            "queue": reverse("feedback:moderation_queue") + f"?community={world.community.slug}",
            "case": reverse("feedback:moderation_case", args=[case.pk]),
            "appeals": reverse("feedback:moderation_appeals"),
            "audit": reverse("feedback:moderation_audit"),
        }[page]
        if page == "appeals" and who == "other_moderator":
            expected = 200  # their own (empty) list of appeals; this community's are not on it
        client.force_login(_person(world, who))
        response = client.get(url)
        assert response.status_code == expected
        if page == "appeals" and who == "other_moderator":
            assert b"No appeal is waiting" in response.content

    @pytest.mark.parametrize("page", ["queue", "case", "appeals", "audit"])
    def test_anonymous_visitors_are_sent_to_log_in(self, client, world, page):
        case = case_reported(world)
        url = {
            "queue": reverse("feedback:moderation_queue"),
            "case": reverse("feedback:moderation_case", args=[case.pk]),
            "appeals": reverse("feedback:moderation_appeals"),
            "audit": reverse("feedback:moderation_audit"),
        }[page]
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))

    @pytest.mark.parametrize("action", list(ACTION_DATA))
    @pytest.mark.parametrize(
        ("who", "expected"),
        [(None, 302), ("volunteer", 403), ("other_moderator", 403), ("moderator", 302), ("admin", 302)],
    )
    def test_actions(self, client, world, action, who, expected):
        case = self._case_with_human_author(world)
        before = _written()
        if who:
            client.force_login(_person(world, who))
        response = client.post(reverse("feedback:moderation_case_action", args=[case.pk, action]), ACTION_DATA[action])
        assert response.status_code == expected
        if who in (None, "volunteer", "other_moderator"):
            assert _written() == before
            if who is None:
                assert response["Location"].startswith(reverse("account_login"))
        else:
            assert response["Location"] == reverse("feedback:moderation_queue")
            entry = AuditEntry.objects.get(action=action)
            assert (entry.actor, entry.community, entry.reason) == (
                _person(world, who),
                world.community,
                ACTION_DATA[action]["reason"],
            )
            case.refresh_from_db()
            assert case.status == "resolved"

    @pytest.mark.parametrize("action", list(ACTION_DATA))
    @pytest.mark.parametrize("reason", ["", "   "])
    def test_every_action_needs_a_reason(self, client, world, action, reason):
        case = self._case_with_human_author(world)
        before = _written()
        client.force_login(world.moderator)
        response = client.post(
            reverse("feedback:moderation_case_action", args=[case.pk, action]),
            {**ACTION_DATA[action], "reason": reason},
        )
        assert response.status_code == 400
        assert b"Give a reason" in response.content
        assert _written() == before
        assert ModerationCase.objects.get(pk=case.pk).status == "open"

    def test_an_unknown_action_or_case(self, client, world):
        case = case_reported(world)
        client.force_login(world.moderator)
        before = _written()
        assert (
            client.post(
                reverse("feedback:moderation_case_action", args=[case.pk, "purge"]), {"reason": "x"}
            ).status_code
            == 400
        )
        assert (
            client.post(reverse("feedback:moderation_case_action", args=[999999, "hide"]), {"reason": "x"}).status_code
            == 404
        )
        assert client.get(reverse("feedback:moderation_case", args=[999999])).status_code == 404
        assert _written() == before

    def test_a_moderator_role_alone_moderates_nothing(self, client, world):
        from community.tests.factories import UserFactory

        client.force_login(UserFactory(role="moderator"))
        response = client.get(reverse("feedback:moderation_queue"))
        assert response.status_code == 403
        assert "moderate no community yet" in response.content.decode()


class TestQueue:
    def test_grouped_per_item_most_severe_then_oldest(self, client, world):
        from feedback.moderation.services import report_create
        from feedback.tests.moderation_setup import reporter_who_saw

        spam = case_reported(world, message=world.battle.answer_a, reason="spam")  # medium
        wrong = case_reported(world, message=world.battle.answer_b, reason="wrong")  # low
        second = reporter_who_saw(world.battle.answer_a)
        report_create(reporter=second, target_kind="message", target_id=world.battle.answer_a.pk, reason="other")
        # A high-severity automatic flag on the prompt: first in the queue.
        from feedback.moderation.scan import DatabaseFinding, flags_store

        prompt = world.battle.answer_a.parent
        flags_store(message=prompt, findings=[DatabaseFinding("pii", "high", 0.9, "A phone number.")])
        client.force_login(world.moderator)
        response = client.get(reverse("feedback:moderation_queue"))
        cases = list(response.context["page"].object_list)
        assert [c.message_id for c in cases] == [prompt.pk, spam.message_id, wrong.message_id]
        assert [len(c.listed_reports) for c in cases] == [0, 2, 1]
        assert [c.severity_label for c in cases] == ["High", "Medium", "Low"]

    def test_filters(self, client, world):
        case_reported(world, message=world.battle.answer_a, reason="spam")
        case_reported(world, message=world.battle.answer_b, reason="wrong")
        client.force_login(world.moderator)
        url = reverse("feedback:moderation_queue")
        by_problem = client.get(url, {"problem": "wrong"}).context["page"].object_list
        assert [c.message_id for c in by_problem] == [world.battle.answer_b_id]
        by_severity = client.get(url, {"severity": "medium"}).context["page"].object_list
        assert [c.message_id for c in by_severity] == [world.battle.answer_a_id]
        assert client.get(url, {"status": "resolved"}).context["page"].paginator.count == 0
        assert client.get(url, {"community": world.community.slug}).context["page"].paginator.count == 2
        # htmx gets the list alone
        fragment = client.get(url, {"problem": "spam"}, headers={"HX-Request": "true"})
        assert fragment.content.decode().lstrip().startswith('<section id="queue"')

    def test_the_number_of_queries_does_not_grow_with_the_queue(self, client, world, django_assert_max_num_queries):
        case_reported(world, message=world.battle.answer_a)
        client.force_login(world.moderator)
        url = reverse("feedback:moderation_queue")
        with django_assert_max_num_queries(12) as few:
            client.get(url)
        case_reported(world, message=world.battle.answer_b)
        from feedback.moderation.services import report_create
        from feedback.tests.moderation_setup import reporter_who_saw

        prompt = world.battle.answer_a.parent
        report_create(reporter=reporter_who_saw(prompt), target_kind="message", target_id=prompt.pk, reason="toxic")
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert client.get(url).context["page"].paginator.count == 3

    def test_text_is_escaped(self, client, world):
        Message.objects.filter(pk=world.battle.answer_a_id).update(text="<script>alert(1)</script>")
        case = case_reported(world)
        client.force_login(world.moderator)
        for url in (reverse("feedback:moderation_queue"), reverse("feedback:moderation_case", args=[case.pk])):
            page = client.get(url).content.decode()
            assert "<script>alert(1)</script>" not in page
            assert "&lt;script&gt;" in page


class TestEffects:
    """What each action does to what is served (task queue), shown and released (selectors)."""

    def _act(self, world, case, action, **data):
        return case_act(actor=world.moderator, case_id=case.pk, action=action, **{**ACTION_DATA[action], **data})

    def test_hide_takes_the_answer_out_of_the_queue_and_the_selectors(self, world):
        answer = world.battle.answer_a
        assert answer.pk in served_answer_ids(world.volunteer)
        case = case_reported(world, message=answer)
        entry = self._act(world, case, "hide")

        from community.tests.factories import MembershipFactory

        newcomer = MembershipFactory(community=world.community).user
        served = served_answer_ids(newcomer)
        assert answer.pk not in served and world.battle.answer_b_id in served
        assert not Message.objects.filter(message_is_visible_q(), pk=answer.pk).exists()
        assert not visible_messages().filter(pk=answer.pk).exists()
        assert not Battle.objects.filter(battle_is_visible_q(), pk=world.battle.pk).exists()
        answer.refresh_from_db()
        assert (answer.moderation_status, answer.moderated_by, answer.moderation_reason) == (
            "hidden",
            world.moderator,
            "Advertising.",
        )
        assert answer.text == "Call me on 555-0101, I sell watches."  # kept: hidden, not deleted
        assert Report.objects.get().status == "upheld"
        assert (entry.action, entry.before, entry.after) == ("hide", {"status": "visible"}, {"status": "hidden"})

    def test_a_hidden_prompt_takes_its_answers_out_of_the_queue(self, world):
        prompt = world.battle.answer_a.parent
        from feedback.moderation.services import report_create
        from feedback.tests.moderation_setup import reporter_who_saw

        report_create(reporter=reporter_who_saw(prompt), target_kind="message", target_id=prompt.pk, reason="toxic")
        self._act(world, ModerationCase.objects.get(message=prompt), "hide")
        assert served_answer_ids(world.volunteer) == set()
        assert not Battle.objects.filter(battle_is_visible_q()).exists()

    def test_accept_dismisses_and_brings_a_hidden_item_back(self, world):
        answer = world.battle.answer_a
        case = case_reported(world, message=answer)
        Message.objects.filter(pk=answer.pk).update(moderation_status="hidden")
        entry = self._act(world, case, "accept")
        answer.refresh_from_db()
        assert answer.moderation_status == "visible"
        assert Report.objects.get().status == "dismissed"
        assert Battle.objects.filter(battle_is_visible_q(), pk=world.battle.pk).exists()
        assert (entry.before, entry.after) == ({"status": "hidden"}, {"status": "visible"})

    def test_edit_keeps_the_original_as_a_revision(self, world):
        answer = world.battle.answer_a
        case = case_reported(world, message=answer)
        entry = self._act(world, case, "edit")
        answer.refresh_from_db()
        assert answer.text == "I sell watches."
        revision = Revision.objects.get(kind="message", object_id=answer.pk)
        assert revision.data == {
            "text": "Call me on 555-0101, I sell watches.",
            "edited_by": "moderator",
            "reason": "Removed the phone number.",
        }
        assert revision.volunteer == world.moderator
        assert (entry.before, entry.after) == (
            {"text": "Call me on 555-0101, I sell watches."},
            {"text": "I sell watches."},
        )
        assert answer.pk in served_answer_ids(world.volunteer)  # still served, with the new text

    def test_delete_removes_the_text_everywhere_but_the_log(self, world):
        answer = world.battle.answer_a
        case = case_reported(world, message=answer)
        entry = self._act(world, case, "delete")
        answer.refresh_from_db()
        assert (answer.moderation_status, answer.text) == ("removed", "")
        assert answer.pk not in served_answer_ids(world.volunteer)
        assert not visible_messages().filter(pk=answer.pk).exists()
        assert entry.before == {"status": "visible", "texts": {str(answer.pk): "Call me on 555-0101, I sell watches."}}
        # Nothing more can be done with a deleted item.
        from community.errors import Conflict

        with pytest.raises(Conflict):
            self._act(world, case, "hide")

    def test_sanctions_fall_on_the_author_and_a_model_answer_has_none(self, world):
        from community.errors import RequestRejected

        case = case_reported(world, message=world.battle.answer_a)
        with pytest.raises(RequestRejected, match="no person to sanction"):
            self._act(world, case, "warn")
        prompt = world.battle.answer_a.parent
        from feedback.moderation.services import report_create
        from feedback.tests.moderation_setup import reporter_who_saw

        report_create(reporter=reporter_who_saw(prompt), target_kind="message", target_id=prompt.pk, reason="spam")
        prompt_case = ModerationCase.objects.get(message=prompt)
        before = timezone.now()
        entry = self._act(world, prompt_case, "suspend", days="3")
        sanction = Sanction.objects.get()
        assert (sanction.user, sanction.community, sanction.kind, sanction.imposed_by) == (
            world.judge,
            world.community,
            "suspend",
            world.moderator,
        )
        assert before + timezone.timedelta(days=3) <= sanction.until <= timezone.now() + timezone.timedelta(days=3)
        assert entry.subject == world.judge and entry.after["sanction"] == sanction.pk
        # The item itself stays as it was.
        assert Message.objects.get(pk=prompt.pk).moderation_status == "visible"

    def test_site_wide_sanctions_are_for_admins(self, world):
        from community.errors import NotAllowed

        prompt = world.battle.answer_a.parent
        from feedback.moderation.services import report_create
        from feedback.tests.moderation_setup import reporter_who_saw

        report_create(reporter=reporter_who_saw(prompt), target_kind="message", target_id=prompt.pk, reason="spam")
        case = ModerationCase.objects.get(message=prompt)
        with pytest.raises(NotAllowed):
            self._act(world, case, "ban", is_site_wide=True)
        assert not Sanction.objects.exists()
        case_act(actor=world.admin, case_id=case.pk, action="ban", reason="Spam everywhere.", is_site_wide=True)
        assert Sanction.objects.get().community is None

    def test_suspension_length_is_checked(self, world):
        from community.errors import RequestRejected

        prompt = world.battle.answer_a.parent
        from feedback.moderation.services import report_create
        from feedback.tests.moderation_setup import reporter_who_saw

        report_create(reporter=reporter_who_saw(prompt), target_kind="message", target_id=prompt.pk, reason="spam")
        case = ModerationCase.objects.get(message=prompt)
        for days in ("", "0", "-3", "a week", "99999"):
            with pytest.raises(RequestRejected):
                self._act(world, case, "suspend", days=days)
        assert not Sanction.objects.exists() and not AuditEntry.objects.exists()

    def test_an_open_high_severity_flag_selector(self, world):
        from feedback.moderation.scan import DatabaseFinding, flags_store

        answer = world.battle.answer_a
        flags_store(message=answer, findings=[DatabaseFinding("toxicity", "medium", 0.6, "")])
        assert not Message.objects.filter(has_open_high_severity_flag_q(), pk=answer.pk).exists()
        flags_store(message=answer, findings=[DatabaseFinding("pii", "high", 0.9, "An e-mail address.")])
        assert list(Message.objects.filter(has_open_high_severity_flag_q()).values_list("pk", flat=True)) == [answer.pk]
        from feedback.models import TaskItem

        items = TaskItem.objects.filter(has_open_high_severity_flag_q("answer__"))
        assert set(items.values_list("answer_id", flat=True)) == {answer.pk}
        case = ModerationCase.objects.get(message=answer)
        case_act(actor=world.moderator, case_id=case.pk, action="accept", reason="A public helpline number.")
        assert set(AutoFlag.objects.values_list("status", flat=True)) == {"dismissed"}
        assert not Message.objects.filter(has_open_high_severity_flag_q()).exists()


def test_a_community_moderator_without_the_platform_role_finds_the_console(client):
    """A member whose membership role is moderator (not the platform-wide role) sees the
    header link and works that community's queue."""
    from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory

    community = CommunityFactory()
    member = UserFactory()
    MembershipFactory(user=member, community=community, role="moderator")
    client.force_login(member)
    assert 'href="/moderation/"' in client.get("/").content.decode()
    assert client.get("/moderation/").status_code == 200
    volunteer = UserFactory()
    MembershipFactory(user=volunteer, community=community)
    client.force_login(volunteer)
    assert 'href="/moderation/"' not in client.get("/").content.decode()
    assert client.get("/moderation/").status_code == 403
