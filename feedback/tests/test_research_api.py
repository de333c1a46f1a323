"""The researchers' API: API tokens (page, authentication, revocation), throttling, the live
pool's endpoints (every kind, every filter, bad input, cursor pages, erasure, redaction, query
counts) and the OpenAPI schema with its locally served docs."""

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community.models import ErasureRequest, User
from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from feedback.arena import services as arena
from feedback.models import ApiToken, Battle, Message, Rating
from feedback.models.tokens import token_key_hash
from feedback.moderation import ratelimits
from feedback.releases import pool
from feedback.releases.formats import (
    EXPORT_KINDS,
    SCHEMAS,
    battle_record,
    claim_record,
    message_record,
    preference_record_from_correction,
    preference_records_from_battle,
    unpaired_record,
)
from feedback.researchapi.api import RECORD_SERIALIZERS
from feedback.researchapi.selectors import LIVE_POOL_PSEUDONYMS
from feedback.researchapi.services import api_token_create, api_token_revoke
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import ModelEndpointFactory, battle_ready, claims_proposed
from feedback.tests.test_releases import pool_with_everything

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "volunteer", "researcher", "moderator", "admin"]
POOL_READERS = {"researcher", "moderator", "admin"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.fixture(autouse=True)
def throttle_cache(settings):
    """A cache of this test's own: throttle budgets never leak between tests (or into Redis)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api"}}
    cache.clear()
    yield
    cache.clear()


def login(client, role: str) -> User | None:
    if role == "anonymous":
        return None
    user = UserFactory(role=role)
    client.force_login(user)
    return user


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def researcher_key(role: str = "researcher") -> tuple[User, str]:
    user = UserFactory(role=role)
    _, key = api_token_create(user=user, name="script")
    return user, key


def walk(client, url: str, **headers) -> list[dict]:
    """Every record of a kind, following `next` links."""
    records = []
    while url:
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content
        body = response.json()
        records.extend(body["results"])
        url = body["next"]
    return records


def expected(kind: str, community=None) -> list[dict]:
    """The records a release of the live pool would hold, computed by the release code itself."""
    pseudonyms = pool.Pseudonyms(LIVE_POOL_PSEUDONYMS)
    if kind == "battles":
        return [battle_record(b) for b in pool.battles(community=community, pseudonyms=pseudonyms)]
    if kind == "preferences":
        pairs = [
            p
            for b in pool.battles(community=community, pseudonyms=pseudonyms)
            for p in preference_records_from_battle(b)
        ]
        return pairs + [
            preference_record_from_correction(c) for c in pool.corrections(community=community, pseudonyms=pseudonyms)
        ]
    if kind == "unpaired":
        return [r for a in pool.rated_answers(community=community) if (r := unpaired_record(a)) is not None]
    if kind == "message_trees":
        return [message_record(m) for m in pool.tree_messages(community=community, pseudonyms=pseudonyms)]
    return [claim_record(a) for a in pool.claim_annotations(community=community)]


def record_key(record: dict) -> str:
    return record.get("id") or record.get("message_id") or record["answer_id"]


def by_key(records: list[dict]) -> list[dict]:
    return sorted(records, key=record_key)


# --- The token page -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_token_page_lets_every_logged_in_person_make_and_revoke_their_own_tokens(client, role):
    user = login(client, role)
    page = client.get("/me/tokens/")
    if user is None:
        assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
        created = client.post("/me/tokens/", {"name": "laptop"})
        assert created.status_code == 302
        assert ApiToken.objects.count() == 0
        return
    assert page.status_code == 200
    assert "No token yet." in page.content.decode()

    created = client.post("/me/tokens/", {"name": "laptop"})
    assert created.status_code == 201
    assert created["Cache-Control"].startswith("max-age=0")
    token = ApiToken.objects.get()
    key = re.search(r'<code id="api-token-key">(fc_[\w-]+)</code>', created.content.decode()).group(1)
    assert (token.user, token.name, token.last_four) == (user, "laptop", key[-4:])
    assert token.key_hash == token_key_hash(key) and key not in token.key_hash
    # Shown once: the list afterwards has only the last four characters.
    listed = client.get("/me/tokens/").content.decode()
    assert key not in listed and f"…{key[-4:]}" in listed and "laptop" in listed

    revoked = client.post(f"/me/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 302 and revoked["Location"] == "/me/tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get("/me/tokens/").content.decode()


def test_nobody_revokes_anyone_elses_token(client):
    owner, _ = researcher_key()
    token = ApiToken.objects.get(user=owner)
    for role in ("volunteer", "researcher", "moderator", "admin"):
        login(client, role)
        assert client.post(f"/me/tokens/{token.pk}/revoke/").status_code == 404
    client.logout()
    assert client.post(f"/me/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_token_page_answers_htmx_with_its_section_and_refuses_bad_names(client):
    user = login(client, "researcher")
    created = client.post("/me/tokens/", {"name": "ci"}, HTTP_HX_REQUEST="true")
    assert created.status_code == 201
    body = created.content.decode()
    assert body.lstrip().startswith('<section id="api-tokens"') and "<html" not in body
    too_long = client.post("/me/tokens/", {"name": "x" * 81})
    assert too_long.status_code == 400
    assert "at most 80 characters" in too_long.content.decode()
    assert ApiToken.objects.filter(user=user).count() == 1
    token = ApiToken.objects.get(user=user)
    revoked = client.post(f"/me/tokens/{token.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert revoked.status_code == 200 and "is revoked" in revoked.content.decode()


def test_a_person_has_at_most_twenty_active_tokens():
    user = UserFactory(role="researcher")
    tokens = [api_token_create(user=user, name=f"t{i}")[0] for i in range(20)]
    from community.errors import RequestRejected

    with pytest.raises(RequestRejected, match="20 active tokens"):
        api_token_create(user=user, name="one too many")
    api_token_revoke(user=user, token_id=tokens[0].pk)
    api_token_create(user=user, name="now it fits")
    assert ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() == 20


# --- Authentication -----------------------------------------------------------------------------


def test_a_token_authenticates_and_a_revoked_one_is_refused_with_a_clear_401(client):
    user, key = researcher_key()
    assert client.get("/api/v1/pool/battles/", **bearer(key)).status_code == 200
    token = ApiToken.objects.get(user=user)
    assert token.last_used_at is not None
    # Our tokens also work under DRF's "Token" keyword.
    assert client.get("/api/v1/pool/battles/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200

    api_token_revoke(user=user, token_id=token.pk)
    refused = client.get("/api/v1/pool/battles/", **bearer(key))
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith("This token was revoked on ")
    assert refused["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer fc_not-a-real-token", "Invalid token: no such token."),
        ("Bearer", "Malformed Authorization header"),
        ("Bearer two words", "Malformed Authorization header"),
    ],
)
def test_bad_tokens_get_a_401_that_says_why(client, header, message):
    response = client.get("/api/v1/communities/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["detail"].startswith(message)


def test_a_token_of_a_deactivated_account_is_refused(client):
    user, key = researcher_key()
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/api/v1/pool/battles/", **bearer(key))
    assert response.status_code == 401
    assert "no longer active" in response.json()["detail"]


# --- Throttling ---------------------------------------------------------------------------------


def test_each_token_has_its_own_budget_and_the_next_call_gets_429_with_retry_after(client, settings, monkeypatch):
    monkeypatch.setattr(ratelimits, "clock", lambda: 1_800_000_000.0)  # a minute boundary, still
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/minute", "anonymous": "2/minute"},
    }
    user, key = researcher_key()
    _, other_key = api_token_create(user=user, name="second")
    for _ in range(3):
        assert client.get("/api/v1/pool/battles/", **bearer(key)).status_code == 200
    throttled = client.get("/api/v1/pool/battles/", **bearer(key))
    assert throttled.status_code == 429
    # A sliding window counter: this minute's 3 weigh 3 * (1 - t/60) into the next one, so a
    # fourth fits 20 s into it, 80 s from now.
    assert throttled["Retry-After"] == "80"
    assert throttled.json()["detail"].startswith("Request was throttled.")
    # Another token of the same person has a budget of its own.
    assert client.get("/api/v1/pool/battles/", **bearer(other_key)).status_code == 200
    # Anonymous callers have theirs (per address).
    assert [client.get("/api/v1/communities/").status_code for _ in range(3)] == [200, 200, 429]


# --- The pool: who may read it ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_live_pool_is_for_researchers_moderators_and_admins(client, role):
    pool_with_everything()
    login(client, role)
    for kind in EXPORT_KINDS:
        response = client.get(f"/api/v1/pool/{kind}/")
        if role == "anonymous":
            assert response.status_code == 401
        elif role in POOL_READERS:
            assert response.status_code == 200
            assert len(response.json()["results"]) >= 1
        else:
            assert response.status_code == 403
            assert "open to researchers" in response.json()["detail"]


def test_a_volunteers_token_opens_what_volunteers_may_use_but_not_the_pool(client):
    _, key = researcher_key(role="volunteer")
    assert client.get("/api/v1/communities/", **bearer(key)).status_code == 200
    assert client.get("/api/v1/pool/battles/", **bearer(key)).status_code == 403


# --- The pool: the records ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_every_kind_gives_exactly_the_records_a_release_would_hold(client, kind):
    pool_with_everything()
    _, key = researcher_key()
    records = walk(client, f"/api/v1/pool/{kind}/", **bearer(key))
    assert by_key(records) == by_key(expected(kind))
    assert len(records) == {"battles": 1, "preferences": 2, "unpaired": 3, "message_trees": 4, "claims": 1}[kind]
    # Field for field the columns of the release files (and of the schema).
    assert all(list(record) == SCHEMAS[kind].names for record in records)
    assert list(RECORD_SERIALIZERS[kind]().fields) == SCHEMAS[kind].names


def test_text_is_redacted_and_no_email_address_leaves_the_platform(client):
    battle = pool_with_everything()
    _, key = researcher_key()
    everything = ""
    for kind in EXPORT_KINDS:
        everything += json.dumps(walk(client, f"/api/v1/pool/{kind}/", **bearer(key)))
    assert "[EMAIL]" in everything
    assert "ada@example.org" not in everything
    assert EMAIL.search(everything) is None
    battles = walk(client, "/api/v1/pool/battles/", **bearer(key))
    assert battles[0]["judge"] == pool.Pseudonyms(0)(battle.judge_id)
    assert battles[0]["judge"] != pool.Pseudonyms(1)(battle.judge_id)


def test_contributors_who_asked_for_erasure_are_left_out(client):
    battle = pool_with_everything()
    _, key = researcher_key()
    before = {kind: walk(client, f"/api/v1/pool/{kind}/", **bearer(key)) for kind in EXPORT_KINDS}
    ErasureRequest.objects.create(user_pk=battle.judge_id)
    after = {kind: walk(client, f"/api/v1/pool/{kind}/", **bearer(key)) for kind in EXPORT_KINDS}
    assert len(before["battles"]) == 1 and after == {kind: [] for kind in EXPORT_KINDS}


def test_an_erased_reviewers_ratings_leave_the_labels(client):
    battle = pool_with_everything()
    _, key = researcher_key()
    for reviewer_id in set(Rating.objects.values_list("volunteer_id", flat=True)):  # every rater
        ErasureRequest.objects.create(user_pk=reviewer_id)
    assert walk(client, "/api/v1/pool/unpaired/", **bearer(key)) == []
    trees = walk(client, "/api/v1/pool/message_trees/", **bearer(key))
    answer = next(r for r in trees if r["message_id"] == f"m-{battle.answer_a_id}")
    assert answer["labels"] == [] and answer["review_count"] == 0
    assert walk(client, "/api/v1/pool/claims/", **bearer(key))[0]["annotators"] == 0
    assert by_key(trees) == by_key(expected("message_trees"))


# --- The pool: filters -------------------------------------------------------------------------------


def two_communities():
    """Two communities with a voted battle each; the second's battle is German, by other models, in 2024."""
    first = battle_ready()
    arena.battle_vote_cast(judge=first.judge, battle_id=first.pk, winner="model_a", idempotency_key=uuid.uuid4())
    second = battle_ready()
    arena.battle_vote_cast(judge=second.judge, battle_id=second.pk, winner="model_b", idempotency_key=uuid.uuid4())
    old = datetime(2024, 3, 1, 12, tzinfo=UTC)
    Battle.objects.filter(pk=second.pk).update(language="de", voted_at=old)
    Message.objects.filter(conversation_id=second.conversation_id).update(created_at=old)
    second.community.language = "de"
    second.community.save(update_fields=["language"])
    return first, Battle.objects.select_related("community", "model_a", "model_b").get(pk=second.pk)


@pytest.mark.parametrize("kind", ["battles", "preferences", "message_trees"])
def test_filters_by_community_language_model_and_dates(client, kind):
    first, second = two_communities()
    _, key = researcher_key()

    def ids(query: str) -> set[str]:
        return {record_key(r) for r in walk(client, f"/api/v1/pool/{kind}/?{query}", **bearer(key))}

    every = ids("")
    german = ids("language=de")
    assert german and german < every
    assert ids(f"community={second.community.slug}") == german
    assert ids(f"community={first.community.slug}") == every - german
    assert ids("since=2024-03-01&until=2024-03-01") == german
    assert ids("until=2024-02-29") == set()
    assert ids("since=2024-03-02") == every - german
    assert ids(f"community={first.community.slug}&language=de") == set()
    if kind != "message_trees":
        assert ids(f"model={second.model_b.name}") == german
        assert ids("model=no such model") == set()


def test_the_model_filter_of_unpaired_and_claims_is_the_answers_model(client):
    battle = pool_with_everything()
    _, key = researcher_key()
    unpaired = walk(client, f"/api/v1/pool/unpaired/?model={battle.model_a.name}", **bearer(key))
    assert [r["id"] for r in unpaired] == [f"answer-{battle.answer_a_id}"]
    claims = walk(client, f"/api/v1/pool/claims/?model={battle.model_b.name}", **bearer(key))
    assert [r["answer_id"] for r in claims] == [f"m-{battle.answer_b_id}"]
    assert walk(client, f"/api/v1/pool/claims/?model={battle.model_a.name}", **bearer(key)) == []
    assert walk(client, "/api/v1/pool/unpaired/?language=de", **bearer(key)) == []
    assert len(walk(client, "/api/v1/pool/unpaired/?language=en&since=2020-01-01", **bearer(key))) == 3
    # Preferences: a battle's pair under either model, a correction under the model it corrects.
    corrected = Message.objects.get(author__isnull=False, corrects__isnull=False).corrects
    other = battle.model_b if corrected.endpoint == battle.model_a else battle.model_a
    preferences = walk(client, f"/api/v1/pool/preferences/?model={corrected.endpoint.name}", **bearer(key))
    assert sorted(r["source"] for r in preferences) == ["arena", "correction"]
    preferences = walk(client, f"/api/v1/pool/preferences/?model={other.name}", **bearer(key))
    assert [r["source"] for r in preferences] == ["arena"]


def test_filters_that_make_no_sense_get_a_clear_400_and_those_that_point_nowhere_a_404(client):
    pool_with_everything()
    _, key = researcher_key()

    def refused(query: str, kind: str = "battles") -> dict:
        response = client.get(f"/api/v1/pool/{kind}/?{query}", **bearer(key))
        assert response.status_code == 400, (query, response.content)
        return response.json()

    assert refused("since=2024-13-01")["errors"]["since"][0].startswith("Date has wrong format.")
    assert refused("since=yesterday")["errors"]["since"]
    assert refused("until=2024-02-30")["errors"]["until"]
    assert refused("since=2024-3-1")["errors"]["since"][0].startswith("Date has wrong format.")
    assert refused("since=20240301")["errors"]["since"]  # ISO 8601's basic form: not the schema's `date`
    assert refused("community=not a slug")["errors"]["community"]
    assert refused("language=english!")["errors"]["language"]
    assert "NUL" in refused("model=a%00b")["detail"]  # refused before any view (community/middleware.py)
    for size in ("0", "-1", "1001", "many"):
        assert refused(f"page_size={size}")["errors"]["page_size"]
    assert refused("colour=blue")["detail"].startswith("Unknown query parameter 'colour'")
    assert refused("model=x", kind="message_trees")["detail"] == (
        "The filter 'model' is not available for kind 'message_trees'; it takes: community, language, since, until."
    )
    # A cursor that names no page, and a community that does not exist, are 404s (what the schema
    # promises for a well-formed value that points at nothing).
    for cursor in (
        "garbage",
        base64.b64encode(b"p=abc").decode(),
        base64.b64encode(b"p=99999999999999999999").decode(),
    ):
        missing = client.get(f"/api/v1/pool/battles/?cursor={cursor}", **bearer(key))
        assert missing.status_code == 404
        assert missing.json()["detail"].startswith("The cursor is not valid")
    missing = client.get("/api/v1/pool/battles/?community=no-such-community", **bearer(key))
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("No community has the slug 'no-such-community'")
    # `until` before `since` is an empty range: nothing matches.
    empty = client.get("/api/v1/pool/battles/?since=2024-03-02&until=2024-03-01", **bearer(key))
    assert empty.json() == {"next": None, "previous": None, "results": []}
    # An empty value is the same as leaving the filter out.
    assert client.get("/api/v1/pool/battles/?model=&community=", **bearer(key)).json()["results"]
    # Far-away dates are valid and simply match nothing.
    assert client.get("/api/v1/pool/battles/?since=0001-01-01&until=9999-12-31", **bearer(key)).status_code == 200


def test_an_unknown_kind_is_a_404_that_lists_the_kinds(client):
    _, key = researcher_key()
    response = client.get("/api/v1/pool/votes/", **bearer(key))
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "The pool has no kind 'votes'; its kinds are: battles, preferences, unpaired, message_trees, claims."
    )


# --- The pool: cursor pages and query counts ------------------------------------------------------------


def many_battles(count: int) -> list[Battle]:
    community, judge = CommunityFactory(), UserFactory()
    MembershipFactory(community=community, user=judge)
    ModelEndpointFactory(community=community)
    ModelEndpointFactory(community=community)
    battles = []
    for i in range(count):
        battle = battle_ready(judge=judge, community=community, text_a=f"A{i}", text_b=f"B{i}")
        winner = ["model_a", "model_b", "tie"][i % 3]
        arena.battle_vote_cast(judge=judge, battle_id=battle.pk, winner=winner, idempotency_key=uuid.uuid4())
        battles.append(battle)
    return battles


def test_cursor_pages_walk_every_row_exactly_once_forward_and_back(client):
    battles = many_battles(7)
    _, key = researcher_key()
    pages, url = [], "/api/v1/pool/battles/?page_size=2"
    while url:
        body = client.get(url, **bearer(key)).json()
        pages.append([r["id"] for r in body["results"]])
        url = body["next"]
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    walked = [record_id for page in pages for record_id in page]
    assert walked == [f"battle-{b.pk}" for b in battles]
    # Rows added while walking appear on a later page, never twice.
    last = client.get("/api/v1/pool/battles/?page_size=3", **bearer(key)).json()
    second = client.get(last["next"], **bearer(key)).json()
    back = client.get(second["previous"], **bearer(key)).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in last["results"]]


def reviewed_battles(count: int) -> list[Battle]:
    """Voted battles with everything `pool_with_everything` gives them: ratings, a correction, a claim check."""
    battles = []
    for _ in range(count):
        battle = battle_ready(text_a="Moon.", text_b="Wind makes tides.")
        arena.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())
        reviewer = MembershipFactory(community=battle.community).user
        for _ in range(2):
            assignment = task_next(volunteer=reviewer, kind="rate")
            good = assignment.item.answer_id == battle.answer_a_id
            responses.rating_submit(
                volunteer=reviewer,
                assignment_id=assignment.pk,
                ratings={"helpfulness": 5 if good else 1, "correctness": 3, "harmlessness": 5},
            )
        writer = MembershipFactory(community=battle.community).user
        responses.correction_submit(
            volunteer=writer, assignment_id=task_next(volunteer=writer, kind="correct").pk, text="The moon."
        )
        claims_proposed(answer=battle.answer_b, texts=["Wind makes tides.", "Tides are daily."])
        checker = task_next(volunteer=reviewer, kind="check_claims")
        responses.claims_check_submit(
            volunteer=reviewer,
            assignment_id=checker.pk,
            claims=[{"id": c.pk, "text": c.text, "verdict": "false"} for c in checker.item.answer.claims.all()],
        )
        battles.append(battle)
    return battles


@pytest.mark.parametrize(
    ("kind", "queries"),
    [("battles", 4), ("preferences", 5), ("unpaired", 5), ("message_trees", 6), ("claims", 5)],
)
def test_the_number_of_queries_does_not_grow_with_the_page_size(client, django_assert_num_queries, kind, queries):
    """Session, user, the page, then a fixed number of look-ups per kind (messages, ratings, ...)."""
    reviewed_battles(3)
    client.force_login(UserFactory(role="researcher"))
    sizes = []
    for size in (2, 3, 50):
        with django_assert_num_queries(queries):
            response = client.get(f"/api/v1/pool/{kind}/?page_size={size}")
        sizes.append(len(response.json()["results"]))
    assert sizes[0] < sizes[-1]


def test_a_community_filter_costs_one_query(client):
    battle = pool_with_everything()
    client.force_login(UserFactory(role="researcher"))
    with CaptureQueriesContext(connection) as plain:
        client.get("/api/v1/pool/battles/")
    with CaptureQueriesContext(connection) as filtered:
        client.get(f"/api/v1/pool/battles/?community={battle.community.slug}")
    assert len(filtered) == len(plain) + 1


# --- Schema and docs --------------------------------------------------------------------------------


def test_the_schema_describes_every_pool_kind_and_the_docs_load_nothing_from_outside(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["info"]["title"] == "Feedback Commons API"
    for kind in EXPORT_KINDS:
        assert f"/api/v1/pool/{kind}/" in document["paths"]
    assert "/api/v1/pool/{kind}/" not in document["paths"]
    assert document["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    record = document["components"]["schemas"]["BattleRecord"]
    assert sorted(record["properties"]) == sorted(SCHEMAS["battles"].names)

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert re.search(r"""(src|href)=["']?(https?:)?//""", html) is None
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))["']""", html)
    assert assets and all(a.startswith("/static/drf_spectacular_sidecar/") for a in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        body = b"".join(served.streaming_content) if served.streaming else served.content
        assert len(body) > 100, asset


def test_unrelated_endpoints_still_accept_drfs_single_token(client):
    from rest_framework.authtoken.models import Token

    user = UserFactory()
    token = Token.objects.create(user=user)
    assert client.get("/api/v1/communities/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    assert client.get("/api/v1/pool/battles/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 403


def test_until_covers_the_whole_day(client):
    first, _ = two_communities()
    _, key = researcher_key()
    day = Battle.objects.get(pk=first.pk).voted_at.date()
    records = walk(client, f"/api/v1/pool/battles/?since={day}&until={day}", **bearer(key))
    assert [r["id"] for r in records] == [f"battle-{first.pk}"]
    tomorrow = day + timedelta(days=1)
    assert walk(client, f"/api/v1/pool/battles/?since={tomorrow}", **bearer(key)) == []


@pytest.mark.django_db
def test_every_signed_in_page_links_to_the_token_page(client):
    client.force_login(UserFactory())
    assert 'href="/me/tokens/"' in client.get("/").content.decode()
    client.logout()
    assert 'href="/me/tokens/"' not in client.get("/").content.decode()
