"""The donation pages through HTTP: upload, review, toggle and edit turns, donate, delete, and
who may do what."""

import io
import re

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.urls import reverse

from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from feedback.donations import services
from feedback.donations.parsing import NEITHER_FORMAT
from feedback.models import Conversation, Donation, Message, TaskItem
from feedback.tests.test_donations_support import DATA, draft_create, pool_snapshot, sharegpt_export

pytestmark = pytest.mark.django_db

ROLES = ["volunteer", "researcher", "moderator", "admin"]
LIST_URL = "/donate/"


def upload(client, raw: bytes, name: str = "conversations.json"):
    return client.post(LIST_URL, {"file": SimpleUploadedFile(name, raw, content_type="application/json")})


def review_url(donation) -> str:
    return reverse("feedback:donation_review", args=[donation.pk])


def toggle_url(donation, index: int) -> str:
    return reverse("feedback:donation_turn_toggle", args=[donation.pk, index])


def edit_url(donation, index: int) -> str:
    return reverse("feedback:donation_turn_edit", args=[donation.pk, index])


def donate_url(donation) -> str:
    return reverse("feedback:donation_donate", args=[donation.pk])


def delete_url(donation) -> str:
    return reverse("feedback:donation_delete", args=[donation.pk])


def flashes(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


class TestUrls:
    def test_the_urls(self):
        assert reverse("feedback:donations") == "/donate/"
        assert review_url(type("D", (), {"pk": 7})) == "/donate/7/"
        donation = type("D", (), {"pk": 7})
        assert toggle_url(donation, 2) == "/donate/7/turns/2/"
        assert edit_url(donation, 2) == "/donate/7/turns/2/edit/"
        assert donate_url(donation) == "/donate/7/donate/"
        assert delete_url(donation) == "/donate/7/delete/"


class TestListPage:
    def test_it_explains_what_to_upload_and_lists_my_donations(self, client, django_assert_max_num_queries):
        membership = MembershipFactory()
        owner = membership.user
        draft = draft_create(owner=owner)
        donated = draft_create(owner=owner, source="chatgpt")
        services.donation_donate(owner=owner, donation_id=donated.pk, community_slug=membership.community.slug)
        client.force_login(owner)
        with django_assert_max_num_queries(4):  # session, user, donations (with communities), nothing per row
            response = client.get(LIST_URL)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Settings → Data controls → Export data" in html
        assert "<code>conversations.json</code>" in html
        assert "ShareGPT JSON" in html
        assert "One file may be up to 5.0 MB and hold up to 200" in html
        assert 'enctype="multipart/form-data"' in html
        assert 'type="file"' in html
        assert f'id="donation-{draft.pk}"' in html
        assert f'id="donation-{donated.pk}"' in html
        assert '<span class="status-chip draft">Draft</span>' in html
        assert f"to {membership.community.name}," in html
        assert f'href="{review_url(draft)}"' in html

    def test_the_number_of_queries_does_not_grow_with_the_list(self, client, django_assert_num_queries):
        membership = MembershipFactory()
        client.force_login(membership.user)
        for _ in range(3):
            donation = draft_create(owner=membership.user)
            services.donation_donate(
                owner=membership.user, donation_id=donation.pk, community_slug=membership.community.slug
            )
        # The session, the user, the header's "moderates anything?" check, the list.
        with django_assert_num_queries(4):
            assert client.get(LIST_URL).status_code == 200
        for _ in range(5):
            draft_create(owner=membership.user)
        with django_assert_num_queries(4):
            assert client.get(LIST_URL).status_code == 200


class TestUpload:
    def test_a_chatgpt_export_becomes_drafts(self, client):
        owner = UserFactory()
        client.force_login(owner)
        response = upload(client, (DATA / "chatgpt_conversations.json").read_bytes())
        assert response.status_code == 302
        assert response["Location"] == LIST_URL
        assert flashes(response) == ["2 conversations are uploaded as drafts. Review each one before you donate it."]
        assert list(Donation.objects.order_by("pk").values_list("owner", "source", "status", "title")) == [
            (owner.pk, "chatgpt", "draft", "Sourdough starter smells odd"),
            (owner.pk, "chatgpt", "draft", "Trip budget from a photo"),
        ]
        html = client.get(LIST_URL).content.decode()
        assert "Sourdough starter smells odd" in html
        assert "Trip budget from a photo" in html

    def test_a_sharegpt_file_becomes_drafts(self, client):
        owner = UserFactory()
        client.force_login(owner)
        response = upload(client, (DATA / "sharegpt.json").read_bytes(), name="sharegpt.json")
        assert response.status_code == 302
        assert Donation.objects.filter(owner=owner, source="sharegpt", status="draft").count() == 3

    def test_a_single_conversation_opens_its_review(self, client):
        owner = UserFactory()
        client.force_login(owner)
        response = upload(client, sharegpt_export([("user", "Hi"), ("assistant", "Hello!")]))
        donation = Donation.objects.get()
        assert response.status_code == 302
        assert response["Location"] == review_url(donation)
        assert donation.turns == [
            {"role": "user", "text": "Hi", "is_removed": False},
            {"role": "assistant", "text": "Hello!", "is_removed": False},
        ]

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (
                b"{not json at all",
                "The file is not valid JSON: Expecting property name enclosed in double quotes at line 1",
            ),
            (b'[{"prompt": "a", "completion": "b"}]', NEITHER_FORMAT),
            (b'{"conversations": [{"from": "human", "value": "Only a question"}]}', "No conversation in this file has"),
        ],
    )
    def test_a_file_that_is_not_an_export_gets_a_400_and_nothing_is_written(self, client, raw, message):
        owner = UserFactory()
        draft_create(owner=owner)
        client.force_login(owner)
        before = pool_snapshot()
        response = upload(client, raw)
        assert response.status_code == 400
        html = response.content.decode()
        assert '<p class="flash error" role="alert" id="upload-error">' in html
        assert message in html.replace("&quot;", '"')
        assert pool_snapshot() == before

    def test_a_file_over_the_limit_gets_a_413_with_its_size_and_the_limit(self, client, settings):
        settings.DONATION_MAX_BYTES = 2048
        owner = UserFactory()
        client.force_login(owner)
        raw = sharegpt_export([("user", "x" * 3000), ("assistant", "y")])
        response = upload(client, raw)
        assert response.status_code == 413
        assert (
            f"The file is 3.0 KB ({len(raw):,} bytes); the limit is 2.0 KB (2,048 bytes)." in response.content.decode()
        )
        assert "One file may be up to 2.0 KB" in response.content.decode()
        assert Donation.objects.count() == 0

    def test_the_size_is_checked_before_the_file_is_read(self, client, settings, monkeypatch):
        settings.DONATION_MAX_BYTES = 10
        client.force_login(UserFactory())
        sent = io.BytesIO(b"[" + b" " * 100 + b"]")
        sent.name = "conversations.json"
        # What the view gets is an InMemoryUploadedFile; reading it would fail the test.
        monkeypatch.setattr(InMemoryUploadedFile, "read", lambda *args: pytest.fail("the file was read"))
        response = client.post(LIST_URL, {"file": sent})
        assert response.status_code == 413
        assert "The file is 102 bytes; the limit is 10 bytes." in response.content.decode()

    def test_a_post_without_a_file_gets_a_400(self, client):
        client.force_login(UserFactory())
        response = client.post(LIST_URL, {})
        assert response.status_code == 400
        assert "Choose a file to upload" in response.content.decode()
        assert Donation.objects.count() == 0


class TestReviewPage:
    def test_it_shows_the_turns_the_personal_information_and_the_choice_of_community(self, client):
        membership = MembershipFactory(community=CommunityFactory(name="Bakers"))
        MembershipFactory(user=membership.user, community=CommunityFactory(name="Lawyers"), licence_accepted_at=None)
        draft = draft_create(owner=membership.user)
        client.force_login(membership.user)
        response = client.get(review_url(draft))
        assert response.status_code == 200
        html = response.content.decode()
        assert (
            "<strong>Personal information found: 1 e-mail address, 1 phone number</strong> — remove those turns "
            "or edit them out before donating." in html
        )
        assert '<mark class="pii" title="Looks like e-mail address">ada@example.org</mark>' in html
        assert '<mark class="pii" title="Looks like phone number">+44 20 7946 0018</mark>' in html
        assert "&lt;b&gt;Ada&lt;/b&gt;" in html
        assert "<b>Ada</b>" not in html
        assert html.count('name="is_removed" value="true"') == 4
        assert f'hx-post="{toggle_url(draft, 2)}"' in html
        assert f'action="{toggle_url(draft, 2)}"' in html
        assert "Donate to Bakers under CC BY 4.0" in html
        assert "Lawyers" not in html
        assert f'name="community" value="{membership.community.slug}"' in html
        assert "Delete this draft" in html

    def test_without_a_community_it_says_how_to_join_one(self, client):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        client.force_login(owner)
        html = client.get(review_url(draft)).content.decode()
        assert "and accept its data licence to donate." in html
        assert "Donate to" not in html

    def test_a_conversation_without_personal_information_says_what_was_checked(self, client):
        owner = UserFactory()
        draft = draft_create(owner=owner, turns=[("user", "Hi"), ("assistant", "Hello!")])
        client.force_login(owner)
        html = client.get(review_url(draft)).content.decode()
        assert "No personal information found in the turns you keep." in html
        assert "Personal information found" not in html

    def test_a_donated_conversation_is_shown_read_only(self, client):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        client.force_login(membership.user)
        html = client.get(review_url(draft)).content.decode()
        assert f"<strong>{membership.community.name}</strong>" in html
        assert (
            "<strong>Personal information found in what you donated: 1 e-mail address, 1 phone number.</strong>" in html
        )
        assert 'name="is_removed"' not in html
        assert "Edit this turn" not in html
        assert "Delete this donation" in html


class TestTurns:
    def test_removing_a_turn_with_htmx_swaps_that_turn_and_the_totals(self, client):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        client.force_login(owner)
        response = client.post(toggle_url(draft, 2), {"is_removed": "true"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<article id="turn-2"')
        assert "Removed: will not be donated" in html
        assert 'name="is_removed" value="false"' in html
        assert re.search(r'<div id="pii-summary"\s+hx-swap-oob="true"', html)
        assert re.search(r'<section id="donate-panel"\s+class="card donate-panel"\s+hx-swap-oob="true"', html)
        assert "No personal information found in the turns you keep." in html
        assert 'id="donate-panel"' in html
        assert "1 of your messages and 2 answers will be donated." in " ".join(html.split())
        assert "HX-Request" in response["Vary"]
        assert [turn["is_removed"] for turn in Donation.objects.get(pk=draft.pk).turns] == [False, False, True, False]

        response = client.post(toggle_url(draft, 2), {"is_removed": "false"}, HTTP_HX_REQUEST="true")
        assert "Personal information found: 1 e-mail address, 1 phone number" in response.content.decode()
        assert [turn["is_removed"] for turn in Donation.objects.get(pk=draft.pk).turns] == [False] * 4

    def test_without_htmx_the_form_redirects_to_the_turn(self, client):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        client.force_login(owner)
        response = client.post(toggle_url(draft, 1), {"is_removed": "true"})
        assert response.status_code == 302
        assert response["Location"] == f"{review_url(draft)}#turn-1"
        assert Donation.objects.get(pk=draft.pk).turns[1]["is_removed"] is True

    def test_editing_a_turn_cuts_the_personal_information_out(self, client):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        client.force_login(owner)
        response = client.post(
            edit_url(draft, 2), {"text": "Sign it for me: write to [my e-mail]."}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "Sign it for me: write to [my e-mail]." in html
        assert "No personal information found in the turns you keep." in html
        assert Donation.objects.get(pk=draft.pk).turns[2]["text"] == "Sign it for me: write to [my e-mail]."

    @pytest.mark.parametrize(
        ("url", "data", "status", "message"),
        [
            (toggle_url, {"is_removed": "maybe"}, 400, "Say whether to remove the turn or restore it."),
            (toggle_url, {}, 400, "Say whether to remove the turn or restore it."),
            (edit_url, {"text": ""}, 400, "A turn cannot be empty. Remove the turn instead."),
        ],
    )
    def test_bad_input_gets_a_notice_and_changes_nothing(self, client, url, data, status, message):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        client.force_login(owner)
        before = pool_snapshot()
        response = client.post(url(draft, 2), data, HTTP_HX_REQUEST="true")
        assert response.status_code == status
        assert response["HX-Retarget"] == "#donation-notice"
        assert response["HX-Reswap"] == "outerHTML"
        assert message in response.content.decode()
        assert pool_snapshot() == before

    def test_an_unknown_turn_is_a_400(self, client):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        client.force_login(owner)
        before = pool_snapshot()
        response = client.post(toggle_url(draft, 9), {"is_removed": "true"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400
        assert "No such turn in this conversation." in response.content.decode()
        assert pool_snapshot() == before

    def test_a_donated_conversation_cannot_be_changed(self, client):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        services.donation_donate(owner=membership.user, donation_id=draft.pk, community_slug=membership.community.slug)
        client.force_login(membership.user)
        before = pool_snapshot()
        response = client.post(toggle_url(draft, 0), {"is_removed": "true"})
        assert response.status_code == 409
        assert "it can no longer be changed, only deleted." in response.content.decode()
        response = client.post(edit_url(draft, 0), {"text": "New"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 409
        assert pool_snapshot() == before


class TestDonate:
    def test_donating_creates_the_conversation_and_thanks_the_donor(self, client):
        membership = MembershipFactory()
        owner, community = membership.user, membership.community
        draft = draft_create(owner=owner, source="chatgpt")
        client.force_login(owner)
        client.post(toggle_url(draft, 2), {"is_removed": "true"}, HTTP_HX_REQUEST="true")
        client.post(toggle_url(draft, 3), {"is_removed": "true"}, HTTP_HX_REQUEST="true")

        response = client.post(donate_url(draft), {"community": community.slug})

        assert response.status_code == 302
        assert response["Location"] == LIST_URL
        assert flashes(response) == [
            f"Thank you! “Chat 1” is now in the pool of {community.name}, shared under CC BY 4.0. "
            "Volunteers will review its answers."
        ]
        conversation = Conversation.objects.get()
        assert (conversation.owner, conversation.community) == (owner, community)
        assert list(conversation.messages.order_by("pk").values_list("role", "text", "author", "external_model")) == [
            ("user", "How do I write a polite complaint letter?", owner.pk, ""),
            (
                "assistant",
                "Start with what happened, then say what you would like done about it.",
                None,
                "ChatGPT",
            ),
        ]
        answer = conversation.messages.get(role="assistant")
        assert sorted(TaskItem.objects.filter(answer=answer).values_list("kind", flat=True)) == [
            "correct",
            "flag",
            "rate",
        ]
        assert TaskItem.objects.count() == 3
        donation = Donation.objects.get(pk=draft.pk)
        assert (donation.status, donation.community, donation.conversation) == ("donated", community, conversation)

    def test_without_the_licence_it_is_a_403_and_nothing_changes(self, client):
        owner = UserFactory()
        community = CommunityFactory()
        MembershipFactory(user=owner, community=community, licence_accepted_at=None)
        draft = draft_create(owner=owner)
        client.force_login(owner)
        before = pool_snapshot()
        response = client.post(donate_url(draft), {"community": community.slug})
        assert response.status_code == 403
        assert (
            f"Join {community.name} and accept its data licence (CC BY 4.0) before donating to it."
            in response.content.decode()
        )
        assert pool_snapshot() == before

    def test_twice_is_a_409_and_nothing_changes(self, client):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        client.force_login(membership.user)
        assert client.post(donate_url(draft), {"community": membership.community.slug}).status_code == 302
        before = pool_snapshot()
        response = client.post(donate_url(draft), {"community": membership.community.slug})
        assert response.status_code == 409
        assert "You already donated this conversation." in response.content.decode()
        assert pool_snapshot() == before

    def test_nothing_left_to_donate_is_a_400_and_nothing_changes(self, client):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        client.force_login(membership.user)
        for index in (1, 3):
            client.post(toggle_url(draft, index), {"is_removed": "true"})
        before = pool_snapshot()
        response = client.post(donate_url(draft), {"community": membership.community.slug})
        assert response.status_code == 400
        assert "Keep at least one of your messages and one answer" in response.content.decode()
        assert pool_snapshot() == before

    @pytest.mark.parametrize(("data", "status"), [({}, 400), ({"community": "nowhere"}, 404)])
    def test_no_or_an_unknown_community_changes_nothing(self, client, data, status):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        client.force_login(membership.user)
        before = pool_snapshot()
        assert client.post(donate_url(draft), data).status_code == status
        assert pool_snapshot() == before


class TestDelete:
    def test_deleting_a_draft(self, client):
        owner = UserFactory()
        draft = draft_create(owner=owner)
        client.force_login(owner)
        response = client.post(delete_url(draft))
        assert response.status_code == 302
        assert response["Location"] == LIST_URL
        assert flashes(response) == ["The draft “How do I write a polite complaint letter?” is deleted."]
        assert Donation.objects.count() == 0

    def test_deleting_a_donation_with_htmx_takes_it_out_of_the_pool(self, client):
        membership = MembershipFactory()
        draft = draft_create(owner=membership.user)
        client.force_login(membership.user)
        client.post(donate_url(draft), {"community": membership.community.slug})
        assert (Message.objects.count(), TaskItem.objects.count()) == (4, 6)
        response = client.post(delete_url(draft), HTTP_HX_REQUEST="true")
        assert response.status_code == 204
        assert response["HX-Redirect"] == LIST_URL
        assert flashes(response)[-1] == (
            "“How do I write a polite complaint letter?” is deleted and has left the pool; later releases leave it out."
        )
        assert pool_snapshot() == {"donations": [], "conversations": [], "messages": [], "task_items": []}


def _every_request(donation):
    """(method, url, data) for every donation URL, about `donation`."""
    return [
        ("get", LIST_URL, None),
        (
            "post",
            LIST_URL,
            {"file": SimpleUploadedFile("c.json", sharegpt_export([("user", "a"), ("assistant", "b")]))},
        ),
        ("get", review_url(donation), None),
        ("post", toggle_url(donation, 0), {"is_removed": "true"}),
        ("post", edit_url(donation, 0), {"text": "Changed"}),
        ("post", donate_url(donation), {"community": donation.community_slug}),
        ("post", delete_url(donation), {}),
    ]


class TestPermissions:
    @pytest.fixture
    def donation(self):
        membership = MembershipFactory()
        donation = draft_create(owner=membership.user)
        donation.community_slug = membership.community.slug
        return donation

    @pytest.mark.parametrize("number", range(7))
    def test_anonymous_is_sent_to_log_in_or_refused(self, client, donation, number):
        method, url, data = _every_request(donation)[number]
        before = pool_snapshot()
        response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
        if method == "get":
            assert response.status_code == 302
            assert response["Location"] == f"/accounts/login/?next={url}"
        else:
            assert response.status_code == 403
            assert "Log in to donate conversations." in response.content.decode()
        assert pool_snapshot() == before

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("number", range(2, 7))
    def test_no_role_reaches_someone_elses_donation(self, client, donation, role, number):
        method, url, data = _every_request(donation)[number]
        other = MembershipFactory(user=UserFactory(role=role), community=donation.owner.memberships.get().community)
        client.force_login(other.user)
        before = pool_snapshot()
        response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
        assert response.status_code == 404
        assert pool_snapshot() == before

    @pytest.mark.parametrize("role", ROLES)
    def test_every_role_sees_only_its_own_donations(self, client, donation, role):
        owner = UserFactory(role=role)
        mine = draft_create(owner=owner, turns=[("user", "Mine"), ("assistant", "Yours")])
        client.force_login(owner)
        html = client.get(LIST_URL).content.decode()
        assert f'id="donation-{mine.pk}"' in html
        assert f'id="donation-{donation.pk}"' not in html
        assert client.get(review_url(mine)).status_code == 200

    @pytest.mark.parametrize("role", ROLES)
    def test_every_role_may_upload_review_and_donate_its_own(self, client, role):
        membership = MembershipFactory(user=UserFactory(role=role))
        client.force_login(membership.user)
        assert upload(client, sharegpt_export([("user", "Q"), ("assistant", "A")])).status_code == 302
        donation = Donation.objects.get()
        hx = {"HTTP_HX_REQUEST": "true"}
        assert client.post(toggle_url(donation, 0), {"is_removed": "true"}, **hx).status_code == 200
        assert client.post(toggle_url(donation, 0), {"is_removed": "false"}, **hx).status_code == 200
        assert client.post(edit_url(donation, 1), {"text": "A."}, **hx).status_code == 200
        assert client.post(donate_url(donation), {"community": membership.community.slug}).status_code == 302
        assert Message.objects.filter(conversation__owner=membership.user).count() == 2
        assert client.post(delete_url(donation)).status_code == 302
        assert pool_snapshot() == {"donations": [], "conversations": [], "messages": [], "task_items": []}

    @pytest.mark.parametrize("method", ["put", "delete", "patch"])
    def test_other_methods_are_refused(self, client, donation, method):
        client.force_login(donation.owner)
        before = pool_snapshot()
        assert getattr(client, method)(review_url(donation)).status_code == 405
        assert getattr(client, method)(LIST_URL).status_code == 405
        assert pool_snapshot() == before
