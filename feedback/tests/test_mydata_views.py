import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from community.models import ErasureRequest, User
from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena.services import battle_vote_cast
from feedback.models import (
    Battle,
    ClaimLabel,
    Conversation,
    Donation,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    Revision,
    TaskItem,
)
from feedback.tests.factories import arena_setup, battle_ready
from feedback.tests.test_mydata_services import ratings_of, snapshot
from feedback.tests.test_mydata_support import RATINGS, contributions

pytestmark = pytest.mark.django_db

ROLES = ["volunteer", "researcher", "moderator", "admin"]
MY_DATA = reverse("feedback:my_data")
EXPORT = reverse("feedback:my_data_export")
ERASE = reverse("feedback:my_account_erase")


def edit_url(kind, pk):
    return reverse("feedback:my_item_edit", args=[kind, pk])


def delete_url(kind, pk):
    return reverse("feedback:my_item_delete", args=[kind, pk])


def items_by_kind(data):
    """(kind in the URL, the item's id) for one item of each kind `me` has."""
    return {
        "conversations": data.my_battle.conversation_id,
        "ratings": data.rating.pk,
        "flags": data.flag.pk,
        "rankings": data.ranking.pk,
        "claim_labels": data.claim_labels[0].pk,
        "better_answers": data.correction.pk,
        "donations": data.donation.pk,
    }


EDITABLE = ["ratings", "flags", "claim_labels", "better_answers"]


def edit_post(kind, data):
    """A valid edit of `me`'s item of this kind."""
    return {
        "ratings": {"rating-helpfulness": "1", "rating-correctness": "2", "rating-harmlessness": "3"},
        "flags": {"labels": ["spam"], "note": "Advertises a shop."},
        "claim_labels": {"verdict": "false"},
        "better_answers": {"text": "Tides: the Moon, mostly."},
    }[kind]


class TestList:
    def test_every_kind_is_listed_with_what_it_is_about(self, client):
        data = contributions()
        client.force_login(data.me)
        response = client.get(MY_DATA)
        assert response.status_code == 200
        html = response.content.decode()
        for kind in items_by_kind(data):
            assert f'id="mydata-{kind}"' in html
        assert "Tell me about tides." in html  # my arena prompt
        assert "Tie" in html  # my vote
        assert "Helpfulness <strong>4</strong>/5" in html
        assert "Fails the task" in html and "It leaves out the Sun." in html
        assert "Gravity makes tides." in html and "your wording" in html
        assert "The Moon&#x27;s and the Sun&#x27;s gravity raise the tides." in html
        assert "Planning a shady garden" in html
        for kind, pk in items_by_kind(data).items():
            assert f'action="{delete_url(kind, pk)}"' in html
            assert (f'href="{edit_url(kind, pk)}"' in html) == (kind in EDITABLE)
        # Nothing of anyone else's.
        assert "Mostly the Moon&#x27;s gravity, and the Sun&#x27;s." not in html

    def test_battles_waiting_for_a_vote_link_back_to_the_arena(self, client):
        community, judge, _, _ = arena_setup()
        waiting = battle_ready(judge=judge, community=community)
        voted = battle_ready(judge=judge, community=community)
        battle_vote_cast(judge=judge, battle_id=voted.pk, winner="tie", idempotency_key=str(uuid.uuid4()))
        someone_elses = battle_ready(community=community, judge=MembershipFactory(community=community).user)
        client.force_login(judge)
        html = client.get(MY_DATA).content.decode()
        link = f"/c/{community.slug}/arena/?battle={waiting.pk}"
        assert 'Waiting for your vote <span class="count">1</span>' in html
        assert f'<li class="data-row" id="unvoted-{waiting.pk}">' in html
        assert f'href="{link}">Vote in the arena</a>' in html
        assert f'href="{link}">Waiting for a vote: vote</a>' in html  # in its conversation too
        assert f"?battle={voted.pk}" not in html and f"?battle={someone_elses.pk}" not in html
        # The link opens the battle with its vote bar.
        arena = client.get(link).content.decode()
        assert arena.count(f'hx-post="/arena/battles/{waiting.pk}/vote/"') == 4

    def test_nothing_waiting_no_section(self, client):
        battle = battle_ready()
        battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="tie", idempotency_key=str(uuid.uuid4()))
        client.force_login(battle.judge)
        html = client.get(MY_DATA).content.decode()
        assert 'id="mydata-unvoted"' not in html
        assert "Waiting for your vote" not in html

    def test_user_text_is_escaped(self, client):
        community, judge, _, _ = arena_setup()
        battle_ready(judge=judge, community=community)
        Message.objects.filter(role="user", author=judge).update(text="<script>alert(1)</script>")
        client.force_login(judge)
        html = client.get(MY_DATA).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    def test_an_empty_page_says_so(self, client):
        client.force_login(UserFactory())
        html = client.get(MY_DATA).content.decode()
        assert html.count("Nothing yet.") == 7

    def test_each_kind_is_paginated_and_htmx_gets_just_that_section(self, client):
        user = MembershipFactory().user
        community = user.memberships.get().community
        for number in range(12):
            conversation = Conversation.objects.create(community=community, owner=user)
            Message.objects.create(conversation=conversation, role="user", author=user, text=f"Prompt number {number}")
        client.force_login(user)
        first = client.get(MY_DATA).content.decode()
        assert "Prompt number 11" in first and "Prompt number 2" in first and "Prompt number 1<" not in first
        assert "Page 1 of 2" in first
        second = client.get(MY_DATA, {"kind": "conversations", "conversations_page": 2}, HTTP_HX_REQUEST="true")
        assert second.status_code == 200
        html = second.content.decode()
        assert "<html" not in html
        assert html.strip().startswith('<section id="mydata-conversations"')
        assert html.count('class="data-row"') == 2
        assert "Prompt number 1<" in html and "Prompt number 0<" in html
        assert "HX-Request" in second["Vary"]

    def test_unknown_kind_for_htmx_is_404(self, client):
        client.force_login(UserFactory())
        assert client.get(MY_DATA, {"kind": "secrets"}, HTTP_HX_REQUEST="true").status_code == 404

    def test_the_number_of_queries_does_not_grow_with_the_data(self, client):
        data = contributions()
        client.force_login(data.me)
        with CaptureQueriesContext(connection) as few:
            client.get(MY_DATA)
        for _ in range(5):
            voted = battle_ready(judge=data.me, community=data.community)
            battle_vote_cast(judge=data.me, battle_id=voted.pk, winner="model_b", idempotency_key=uuid.uuid4())
            Donation.objects.create(owner=data.me, source="sharegpt", title="More", turns=[])
        with CaptureQueriesContext(connection) as many:
            client.get(MY_DATA)
        assert len(many) == len(few)
        assert len(few) <= 30


class TestEdit:
    @pytest.mark.parametrize("kind", EDITABLE)
    def test_the_page_shows_the_form_and_the_history(self, client, kind):
        data = contributions()
        pk = items_by_kind(data)[kind]
        client.force_login(data.me)
        response = client.get(edit_url(kind, pk))
        assert response.status_code == 200
        html = response.content.decode()
        assert f'action="{edit_url(kind, pk)}"' in html
        assert "Not edited yet." in html
        saved = client.post(edit_url(kind, pk), edit_post(kind, data))
        assert saved.status_code == 302
        assert saved["Location"] == edit_url(kind, pk)
        html = client.get(edit_url(kind, pk)).content.decode()
        assert "Not edited yet." not in html
        assert html.count("Replaced ") == 1
        assert Revision.objects.filter(volunteer=data.me).count() == 1

    def test_a_rating_edit_over_http_with_htmx(self, client):
        data = contributions()
        client.force_login(data.me)
        response = client.post(edit_url("ratings", data.rating.pk), edit_post("ratings", data), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.strip().startswith('<div id="edit-panel"')
        assert "Saved. The earlier version is kept in the history below." in html
        assert "Helpfulness <strong>4</strong>/5" in html  # the old value, in the history
        assert ratings_of(data.rating) == {"helpfulness": 1, "correctness": 2, "harmlessness": 3}
        revision = Revision.objects.get()
        assert (revision.kind, revision.object_id, revision.data) == ("ratings", data.rating.pk, {"ratings": RATINGS})

    @pytest.mark.parametrize(
        ("kind", "post", "message"),
        [
            ("ratings", {"rating-helpfulness": "9", "rating-correctness": "2", "rating-harmlessness": "3"},
             "&#x27;Helpfulness&#x27; must be a whole number from 1 to 5."),
            ("ratings", {"rating-helpfulness": "2"}, "Rate every scale; missing: correctness, harmlessness."),
            ("flags", {"labels": ["nonsense"], "note": ""}, "Unknown flag: nonsense."),
            ("flags", {"labels": [], "note": "x" * 501}, "The note is longer than 500 characters."),
            ("claim_labels", {"verdict": "probably"}, "Mark each claim true, false, subjective or unverifiable."),
            ("claim_labels", {}, "Mark each claim true, false, subjective or unverifiable."),
            ("better_answers", {"text": "  "}, "Write your better answer first."),
        ],
    )  # fmt: skip
    def test_bad_input_is_a_clear_400_and_nothing_changes(self, client, kind, post, message):
        data = contributions()
        client.force_login(data.me)
        before = snapshot()
        response = client.post(edit_url(kind, items_by_kind(data)[kind]), post)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert snapshot() == before

    def test_a_refused_better_answer_keeps_what_was_typed(self, client, settings):
        data = contributions()
        settings.TASK_ANSWER_MAX_CHARS = 60
        client.force_login(data.me)
        typed = "A long answer that goes on " * 4
        response = client.post(edit_url("better_answers", data.correction.pk), {"text": typed}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400
        html = response.content.decode()
        assert "The answer is 107 characters long; the limit is 60." in html
        assert typed in html

    @pytest.mark.parametrize("kind", ["conversations", "rankings", "donations", "secrets"])
    def test_kinds_that_cannot_be_edited_are_404(self, client, kind):
        data = contributions()
        client.force_login(data.me)
        assert client.get(edit_url(kind, items_by_kind(data).get(kind, 1))).status_code == 404


class TestDelete:
    @pytest.mark.parametrize(
        "kind", ["conversations", "ratings", "flags", "rankings", "claim_labels", "better_answers", "donations"]
    )
    def test_htmx_delete_returns_the_section_without_the_item(self, client, kind):
        data = contributions()
        pk = items_by_kind(data)[kind]
        client.force_login(data.me)
        response = client.post(delete_url(kind, pk), {"page": "1"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.strip().startswith(f'<section id="mydata-{kind}"')
        assert f'id="{kind}-{pk}"' not in html
        assert "Deleted." in html
        # The count in the index is swapped out of band.
        assert f'id="mydata-index-{kind}"' in html and 'hx-swap-oob="true"' in html

    def test_a_plain_delete_redirects_back_and_the_item_is_gone(self, client):
        data = contributions()
        item_id = data.flag.assignment.item_id
        client.force_login(data.me)
        response = client.post(delete_url("flags", data.flag.pk))
        assert response.status_code == 302
        assert response["Location"] == f"{MY_DATA}#mydata-flags"
        assert not FlagResponse.objects.filter(pk=data.flag.pk).exists()
        assert TaskItem.objects.get(pk=item_id).response_count == 0

    def test_a_rating_delete_frees_the_items_slot(self, client):
        data = contributions()
        client.force_login(data.me)
        client.post(delete_url("ratings", data.rating.pk))
        assert TaskItem.objects.get(pk=data.rating.item_id).response_count == 1
        assert not Rating.objects.filter(volunteer=data.me).exists()
        assert ratings_of(data.other_rating) == RATINGS

    @pytest.mark.parametrize("htmx", [True, False])
    def test_someone_elses_item_is_404_and_nothing_is_deleted(self, client, htmx):
        data = contributions()
        client.force_login(data.other)
        before = snapshot()
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        for kind, pk in items_by_kind(data).items():
            response = client.post(delete_url(kind, pk), **headers)
            assert response.status_code == 404, kind
            assert "No such item among yours" in response.content.decode()
        assert snapshot() == before

    def test_get_is_not_allowed(self, client):
        data = contributions()
        client.force_login(data.me)
        assert client.get(delete_url("flags", data.flag.pk)).status_code == 405
        assert FlagResponse.objects.filter(pk=data.flag.pk).exists()


class TestExport:
    def test_the_document_holds_exactly_my_data(self, client):
        community, me, _, _ = arena_setup()
        me.display_name = "Ada"
        me.save(update_fields=["display_name"])
        battle = battle_ready(judge=me, community=community, text_a="Gravity.", text_b="Wind.")
        battle = battle_vote_cast(judge=me, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())
        donation = Donation.objects.create(
            owner=me, source="sharegpt", title="Shade", turns=[{"role": "user", "text": "Ferns?", "is_removed": False}]
        )
        battle_ready(community=community, judge=MembershipFactory(community=community).user)  # someone else's
        membership = me.memberships.get()
        me.refresh_from_db()
        root, answer_a, answer_b = Message.objects.filter(conversation=battle.conversation).order_by("pk")
        battle = Battle.objects.get(pk=battle.pk)

        client.force_login(me)
        response = client.get(EXPORT)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response["Content-Disposition"] == 'attachment; filename="feedback-commons-my-data.json"'

        def when(moment):
            return moment.isoformat() if moment else None

        assert json.loads(response.content) == {
            "format": "feedback-commons/my-data/1",
            "account": {
                "id": me.pk,
                "email": me.email,
                "display_name": "Ada",
                "role": "volunteer",
                "joined": when(me.date_joined),
                "languages": [],
                "is_on_leaderboards": True,
                "memberships": [
                    {
                        "community": community.slug,
                        "community_name": community.name,
                        "joined_at": when(membership.joined_at),
                        "topics": [],
                        "licence": {
                            "name": "CC BY 4.0",
                            "version": 1,
                            "accepted_at": when(membership.licence_accepted_at),
                        },
                    }
                ],
            },
            "conversations": [
                {
                    "id": battle.conversation_id,
                    "community": community.slug,
                    "topic": "",
                    "created_at": when(battle.conversation.created_at),
                    "messages": [
                        {
                            "id": message.pk,
                            "parent_id": message.parent_id,
                            "role": message.role,
                            "by": by,
                            "model": model,
                            "text": text,
                            "created_at": when(message.created_at),
                        }
                        for message, by, model, text in [
                            (root, "you", None, "Tell me about tides."),
                            (answer_a, "model", battle.model_a.name, "Gravity."),
                            (answer_b, "model", battle.model_b.name, "Wind."),
                        ]
                    ],
                    "battles": [
                        {
                            "id": battle.pk,
                            "turn": 1,
                            "answer_a_id": answer_a.pk,
                            "answer_b_id": answer_b.pk,
                            "model_a": battle.model_a.name,
                            "model_b": battle.model_b.name,
                            "status": "voted",
                            "winner": "model_a",
                            "is_blind": True,
                            "created_at": when(battle.created_at),
                            "voted_at": when(battle.voted_at),
                        }
                    ],
                }
            ],
            "ratings": [],
            "flags": [],
            "rankings": [],
            "claim_labels": [],
            "claims": [],
            "better_answers": [],
            "donations": [
                {
                    "id": donation.pk,
                    "source": "sharegpt",
                    "title": "Shade",
                    "community": None,
                    "status": "draft",
                    "turns": [{"role": "user", "text": "Ferns?", "is_removed": False}],
                    "conversation_id": None,
                    "created_at": when(donation.created_at),
                    "donated_at": None,
                }
            ],
            "revisions": [],
        }

    def test_model_names_stay_hidden_until_the_vote(self, client):
        battle = battle_ready()
        client.force_login(battle.judge)
        document = client.get(EXPORT).json()
        conversation = document["conversations"][0]
        assert [b["model_a"] for b in conversation["battles"]] == [None]
        assert {m["model"] for m in conversation["messages"]} == {None}

    def test_every_kind_is_in_the_export(self, client):
        data = contributions()
        client.force_login(data.me)
        document = client.get(EXPORT).json()
        assert document["ratings"] == [
            {
                "id": data.rating.pk,
                "answer_id": data.rating.item.answer_id,
                "answer_text": data.rating.item.answer.text,
                "values": RATINGS,
                "created_at": document["ratings"][0]["created_at"],
                "updated_at": document["ratings"][0]["updated_at"],
            }
        ]
        assert [f["labels"] for f in document["flags"]] == [["fails_task"]]
        assert [r["order"] for r in document["rankings"]] == [data.ranking.order]
        assert sorted(c["verdict"] for c in document["claim_labels"]) == ["true", "true"]
        assert [c["text"] for c in document["claims"]] == ["Gravity makes tides."]
        assert [a["text"] for a in document["better_answers"]] == [data.correction.text]
        assert [d["title"] for d in document["donations"]] == ["Planning a shady garden"]
        assert len(document["conversations"]) == 1
        assert data.other_correction.text not in response_text(document)


def response_text(document):
    return json.dumps(document)


class TestErase:
    def test_the_page_says_what_will_go(self, client):
        data = contributions()
        client.force_login(data.me)
        html = client.get(ERASE).content.decode()
        assert "<strong>2</strong> claim checks" in html
        assert "<strong>1</strong> arena conversation<" in html
        assert 'name="email"' in html

    def test_a_wrong_address_is_a_400_and_nothing_changes(self, client):
        data = contributions()
        client.force_login(data.me)
        before = snapshot()
        response = client.post(ERASE, {"email": "not-me@example.org"})
        assert response.status_code == 400
        assert "Type the e-mail address of your account exactly to confirm the erasure." in response.content.decode()
        assert snapshot() == before
        assert client.get(MY_DATA).status_code == 200  # still logged in

    def test_erasure_removes_everything_logs_out_and_records_the_request(self, client):
        data = contributions()
        client.force_login(data.me)
        response = client.post(ERASE, {"email": data.me.email})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Your account is erased" in html
        assert "<strong>1</strong> rated answer<" in html
        assert "<strong>1</strong> community membership<" in html
        erasure = ErasureRequest.objects.get()
        assert erasure.user_pk == data.me.pk
        assert erasure.items_removed["conversations"] == 1
        me = User.objects.get(pk=data.me.pk)
        assert (me.email, me.is_active, me.has_usable_password()) == (f"erased-{me.pk}@invalid", False, False)
        assert "_auth_user_id" not in client.session
        assert client.get(MY_DATA).status_code == 302
        for model, field in [
            (Rating, "volunteer"),
            (FlagResponse, "volunteer"),
            (Ranking, "volunteer"),
            (ClaimLabel, "volunteer"),
            (Donation, "owner"),
            (Conversation, "owner"),
        ]:
            assert not model.objects.filter(**{field: me}).exists(), model
        assert ratings_of(data.other_rating) == RATINGS
        assert Message.objects.filter(pk=data.other_correction.pk).exists()


class TestPermissions:
    """Anonymous visitors are sent to log in (pages) or refused (writes); every role sees and
    changes only its own data."""

    def test_anonymous_pages_redirect_to_log_in(self, client):
        data = contributions()
        for url in [MY_DATA, EXPORT, ERASE, edit_url("ratings", data.rating.pk)]:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"] == f"/accounts/login/?next={url}"

    def test_anonymous_writes_are_403_and_change_nothing(self, client):
        data = contributions()
        before = snapshot()
        for kind, pk in items_by_kind(data).items():
            assert client.post(delete_url(kind, pk)).status_code == 403
            if kind in EDITABLE:
                assert client.post(edit_url(kind, pk), edit_post(kind, data)).status_code == 403
        assert client.post(ERASE, {"email": data.me.email}).status_code == 403
        assert snapshot() == before

    @pytest.mark.parametrize("role", ROLES)
    def test_each_role_sees_and_changes_only_its_own_data(self, client, role):
        data = contributions(role=role)
        visitor = MembershipFactory(community=data.community, user=UserFactory(role=role)).user
        client.force_login(visitor)
        before = snapshot()

        html = client.get(MY_DATA).content.decode()
        assert html.count("Nothing yet.") == 7
        assert client.get(EXPORT).json()["conversations"] == []
        for kind, pk in items_by_kind(data).items():
            assert client.post(delete_url(kind, pk)).status_code == 404
            if kind in EDITABLE:
                assert client.get(edit_url(kind, pk)).status_code == 404
                assert client.post(edit_url(kind, pk), edit_post(kind, data)).status_code == 404
        assert snapshot() == before

        # The owner, whatever the role, sees and changes their own.
        client.force_login(data.me)
        assert "Planning a shady garden" in client.get(MY_DATA).content.decode()
        assert client.get(EXPORT).json()["account"]["role"] == role
        for kind in EDITABLE:
            assert client.get(edit_url(kind, items_by_kind(data)[kind])).status_code == 200
        assert client.post(delete_url("donations", data.donation.pk)).status_code == 302
        assert not Donation.objects.filter(pk=data.donation.pk).exists()
        response = client.post(ERASE, {"email": data.me.email})
        assert response.status_code == 200
        assert ErasureRequest.objects.get().user_pk == data.me.pk
        assert User.objects.get(pk=visitor.pk).is_active
