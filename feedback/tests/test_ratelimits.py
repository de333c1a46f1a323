"""Rate limits: the N+1th vote, task answer, arena prompt or upload in a window is refused with
429, a message and Retry-After, and writes nothing; users and addresses have their own budgets;
actions do not share them; the window slides and resets (a controlled clock, no sleeping)."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse

from community.errors import RateLimited
from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import Battle, Donation, Rating, TaskAssignment
from feedback.moderation import ratelimits
from feedback.moderation.ratelimits import client_address, rate_limit, rate_parse
from feedback.tests.factories import arena_setup, battle_ready
from feedback.tests.test_donations_support import sharegpt_export


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):  # a minute boundary
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    controlled = Clock()
    monkeypatch.setattr(ratelimits, "clock", controlled)
    return controlled


@pytest.fixture
def limits(settings):
    settings.RATE_LIMITS = {"votes": "2/minute", "submissions": "2/minute", "reports": "2/minute", "uploads": "2/hour"}
    settings.RATE_LIMITS_PER_ADDRESS = {
        "votes": "3/minute",
        "submissions": "3/minute",
        "reports": "3/minute",
        "uploads": "3/hour",
    }
    return settings


def request_from(user, address="203.0.113.7", forwarded=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().post("/", **extra)
    request.user = user
    return request


# --- the service: budgets, windows, addresses ---------------------------------------------------


@pytest.mark.django_db
class TestRateLimit:
    def test_the_third_vote_in_a_minute_is_refused_with_a_wait_and_a_message(self, limits, clock):
        user = UserFactory()
        rate_limit(request_from(user), "votes")
        rate_limit(request_from(user), "votes")
        with pytest.raises(RateLimited) as refused:
            rate_limit(request_from(user), "votes")
        assert refused.value.status_code == 429
        # Sliding: the 2 votes of this minute still weigh 2 * (1 - t/60) into the next one, so a
        # third fits 30 s into it: 90 s from now.
        assert refused.value.retry_after == 90
        assert refused.value.headers == {"Retry-After": "90"}
        assert refused.value.message == "Too many votes: at most 2 a minute. Try again in 90 seconds."

    def test_another_action_and_another_user_have_their_own_budgets(self, limits, clock):
        user, other = UserFactory(), UserFactory()
        for _ in range(2):
            rate_limit(request_from(user), "votes")
        rate_limit(request_from(user, address="198.51.100.1"), "submissions")
        rate_limit(request_from(other, address="198.51.100.2"), "votes")

    def test_users_behind_one_address_share_its_budget(self, limits, clock):
        users = [UserFactory() for _ in range(4)]
        for user in users[:3]:
            rate_limit(request_from(user), "votes")
        with pytest.raises(RateLimited) as refused:
            rate_limit(request_from(users[3]), "votes")
        assert refused.value.message.startswith("Too many votes from your network address: at most 3 a minute.")

    def test_a_refused_request_is_not_counted_against_either_budget(self, limits, clock):
        user = UserFactory()
        for _ in range(2):
            rate_limit(request_from(user), "votes")
        for _ in range(5):
            with pytest.raises(RateLimited):
                rate_limit(request_from(user), "votes")
        # The address counted 2, not 7: another user there still has one vote.
        rate_limit(request_from(UserFactory()), "votes")

    def test_the_window_slides_and_resets(self, limits, clock):
        user = UserFactory()
        rate_limit(request_from(user), "votes")
        rate_limit(request_from(user), "votes")
        clock.now += 59
        with pytest.raises(RateLimited) as refused:
            rate_limit(request_from(user), "votes")
        assert refused.value.retry_after == 31
        clock.now += 1  # next window: the previous one's 2 votes weigh 2 * (1 - 0/60) = 2
        with pytest.raises(RateLimited) as refused:
            rate_limit(request_from(user), "votes")
        assert refused.value.retry_after == 30  # 2 * (1 - t/60) + 1 <= 2 from t = 30
        clock.now += 30
        rate_limit(request_from(user), "votes")
        clock.now += 120  # two windows later nothing is left
        rate_limit(request_from(user), "votes")
        rate_limit(request_from(user), "votes")

    def test_anonymous_requests_have_only_the_address_budget(self, limits, clock):
        from django.contrib.auth.models import AnonymousUser

        for _ in range(3):
            rate_limit(request_from(AnonymousUser()), "reports")
        with pytest.raises(RateLimited):
            rate_limit(request_from(AnonymousUser()), "reports")

    def test_none_switches_a_limit_off_and_bad_rates_fail_loudly(self, limits, clock):
        limits.RATE_LIMITS = {**limits.RATE_LIMITS, "votes": "none"}
        limits.RATE_LIMITS_PER_ADDRESS = {**limits.RATE_LIMITS_PER_ADDRESS, "votes": ""}
        user = UserFactory()
        for _ in range(10):
            rate_limit(request_from(user), "votes")
        assert rate_parse("5/hours").seconds == 3600
        with pytest.raises(ValueError, match="60/minute"):
            rate_parse("lots")
        with pytest.raises(ValueError, match="action must be one of"):
            rate_limit(request_from(user), "likes")


class TestClientAddress:
    def test_the_forwarded_header_is_ignored_without_trusted_proxies(self, settings):
        settings.RATE_LIMIT_TRUSTED_PROXIES = []
        assert client_address(request_from(None, "10.0.0.5", forwarded="203.0.113.9")) == "10.0.0.5"

    def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right(self, settings):
        settings.RATE_LIMIT_TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
        request = request_from(None, "127.0.0.1", forwarded="198.51.100.1, 203.0.113.9, 10.1.2.3")
        assert client_address(request) == "203.0.113.9"
        # A proxy that is not trusted cannot speak for its client.
        assert client_address(request_from(None, "192.0.2.1", forwarded="203.0.113.9")) == "192.0.2.1"
        # Garbage in the header stops the walk at the last good hop.
        assert client_address(request_from(None, "127.0.0.1", forwarded="junk, 10.0.0.9")) == "10.0.0.9"

    def test_a_channels_scope(self, settings):
        settings.RATE_LIMIT_TRUSTED_PROXIES = ["127.0.0.1"]
        scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.4")]}
        assert client_address(scope) == "203.0.113.4"


# --- through the real interfaces -------------------------------------------------------------------


@pytest.mark.django_db
class TestVotes:
    def test_the_third_vote_gets_429_and_is_not_stored(self, client, limits, clock):
        judge = UserFactory()
        community, _, _, _ = arena_setup()
        MembershipFactory(community=community, user=judge)
        battles = [battle_ready(judge=judge, community=community) for _ in range(3)]
        client.force_login(judge)
        for battle in battles[:2]:
            response = client.post(
                reverse("feedback:battle_vote", args=[battle.pk]),
                {"winner": "tie", "idempotency_key": str(uuid.uuid4())},
                HTTP_HX_REQUEST="true",
            )
            assert response.status_code == 200
        response = client.post(
            reverse("feedback:battle_vote", args=[battles[2].pk]),
            {"winner": "tie", "idempotency_key": str(uuid.uuid4())},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 429
        assert response["Retry-After"] == "90"
        assert "Too many votes: at most 2 a minute. Try again in 90 seconds." in response.content.decode()
        assert Battle.objects.get(pk=battles[2].pk).status == "ready"
        # The API shares the budget and answers the same way.
        api = client.post(
            f"/api/v1/battles/{battles[2].pk}/vote/",
            {"winner": "tie", "idempotency_key": str(uuid.uuid4())},
            content_type="application/json",
        )
        assert api.status_code == 429
        assert api["Retry-After"] == "90"
        assert api.json() == {"detail": "Too many votes: at most 2 a minute. Try again in 90 seconds."}
        assert Battle.objects.get(pk=battles[2].pk).status == "ready"
        clock.now += 120
        again = client.post(
            f"/api/v1/battles/{battles[2].pk}/vote/",
            {"winner": "tie", "idempotency_key": str(uuid.uuid4())},
            content_type="application/json",
        )
        assert again.status_code == 200


@pytest.mark.django_db
class TestSubmissions:
    def test_the_third_task_answer_gets_429_and_writes_nothing(self, client, limits, clock):
        battle = battle_ready()
        reviewer = MembershipFactory(community=battle.community, user=UserFactory()).user
        client.force_login(reviewer)
        scales = {"scale-helpfulness": "4", "scale-correctness": "3", "scale-harmlessness": "5"}
        statuses = []
        for _ in range(3):
            client.get(reverse("feedback:task_next"), {"kind": "rate"})
            assignment = TaskAssignment.objects.filter(volunteer=reviewer, status="reserved").first()
            if assignment is None:
                battle_more = battle_ready(community=battle.community, judge=battle.judge)
                assert battle_more
                client.get(reverse("feedback:task_next"), {"kind": "rate"})
                assignment = TaskAssignment.objects.get(volunteer=reviewer, status="reserved")
            response = client.post(reverse("feedback:task_answer", args=[assignment.pk]), scales)
            statuses.append(response.status_code)
        assert statuses == [302, 302, 429]
        assert response["Retry-After"] == "90"
        assert "Too many submissions: at most 2 a minute." in response.content.decode()
        assert Rating.objects.filter(volunteer=reviewer).count() == 2 * 3
        api = client.post(f"/api/v1/tasks/{assignment.pk}/answer/", {"ratings": {}}, content_type="application/json")
        assert (api.status_code, api["Retry-After"]) == (429, "90")
        assert TaskAssignment.objects.get(pk=assignment.pk).status == "reserved"


@pytest.mark.django_db
class TestUploads:
    def test_the_third_upload_in_an_hour_gets_429_and_keeps_nothing(self, client, limits, clock):
        user = UserFactory()
        client.force_login(user)
        raw = sharegpt_export([("user", "Hello there"), ("assistant", "Hi! How can I help?")])
        for _ in range(2):
            response = client.post("/donate/", {"file": SimpleUploadedFile("c.json", raw)})
            assert response.status_code == 302
        response = client.post("/donate/", {"file": SimpleUploadedFile("c.json", raw)})
        assert response.status_code == 429
        assert response["Retry-After"] == "5400"
        assert "Too many uploads: at most 2 an hour. Try again in 90 minutes." in response.content.decode()
        assert Donation.objects.filter(owner=user).count() == 2


@pytest.mark.django_db(transaction=True)
async def test_arena_prompts_over_the_budget_get_a_notice(settings, clock, fake_endpoints_url):
    from feedback.tests.test_arena_consumer import arena_socket, send_prompt

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "submissions": "0/minute"}
    community, member, _, _ = await sync_to_async(arena_setup)(base_url=f"{fake_endpoints_url}/ok/v1")
    socket = await arena_socket(member, community.slug)
    await socket.connect()
    await send_prompt(socket, "Tell me about tides.")
    fragment = await socket.receive_from(timeout=10)
    await socket.disconnect()
    assert fragment.startswith('<div id="arena-notice" class="notice error" role="alert">')
    assert "Too many submissions: at most 0 a minute. Try again in 60 seconds." in fragment
    assert await Battle.objects.acount() == 0
