"""`manage.py demo_data`: synthetic pool data, checked against what the services write."""

import json
import math
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from community.models import Community, Membership, User
from community.services import membership_accept_licence
from feedback.arena import services as arena
from feedback.arena.identity import answer_reveals_identity, identity_terms
from feedback.donations.services import donation_donate
from feedback.language import language_detect
from feedback.management.commands import demo_data
from feedback.models import (
    Battle,
    Claim,
    ClaimLabel,
    Conversation,
    Donation,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    TaskAssignment,
    TaskItem,
)
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.claims import answer_claims_split
from inference.models import ModelEndpoint

pytestmark = pytest.mark.django_db

WINNERS = {"model_a", "model_b", "tie", "tie (bothbad)"}


def demo(battles: int, seed: int = 5, **options) -> None:
    call_command("demo_data", battles=battles, seed=seed, **options)


# --- A canonical picture of a community's pool, free of ids ----------------------------------


def pool_snapshot(community: Community, *, with_times: bool) -> dict[str, Counter]:
    """Every row of the community's pool, with ids replaced by what they point at (a message
    by its path from the root, a person by e-mail, a model by its model id) and, unless
    `with_times`, without timestamps or idempotency keys: two pools written differently but
    holding the same data give equal snapshots."""
    conversations = {c.pk: i for i, c in enumerate(Conversation.objects.filter(community=community).order_by("pk"))}
    messages = {
        m.pk: m for m in Message.objects.filter(conversation__community=community).select_related("endpoint", "author")
    }

    @cache
    def key(message_id: int | None) -> tuple | None:
        if message_id is None:
            return None
        message = messages[message_id]
        writer = (
            message.endpoint.model_id
            if message.endpoint
            else message.author.email
            if message.author
            else message.external_model
        )
        start = key(message.parent_id) if message.parent_id else (conversations[message.conversation_id],)
        return (*start, (message.role, writer, message.text))

    def times(*values) -> tuple:
        return values if with_times else ()

    def item_of(item: TaskItem) -> tuple:
        return (item.kind, key(item.answer_id), key(item.prompt_id), item.is_gold)

    def assignment_of(assignment: TaskAssignment) -> tuple:
        return (item_of(assignment.item), assignment.volunteer.email)

    snapshot: dict[str, Counter] = {}
    snapshot["conversations"] = Counter(
        (c.owner.email, c.topic, c.names_revealed_at is not None, *times(c.names_revealed_at, c.created_at))
        for c in Conversation.objects.filter(community=community).select_related("owner")
    )
    snapshot["messages"] = Counter(
        (key(m.pk), key(m.corrects_id), *times(m.created_at, m.updated_at)) for m in messages.values()
    )
    snapshot["battles"] = Counter(
        (conversations[b.conversation_id], b.turn, b.judge.email, b.model_a.model_id, b.model_b.model_id,
         key(b.answer_a_id), key(b.answer_b_id), b.status, b.error, b.winner, b.is_blind, b.language,
         b.vote_idempotency_key is not None, *times(b.vote_idempotency_key, b.created_at, b.completed_at, b.voted_at))
        for b in Battle.objects.filter(community=community).select_related("judge", "model_a", "model_b")
    )  # fmt: skip
    snapshot["donations"] = Counter(
        (d.owner.email, d.source, d.title, json.dumps(d.turns), d.status, conversations[d.conversation_id],
         *times(d.created_at, d.donated_at))
        for d in Donation.objects.filter(community=community).select_related("owner")
    )  # fmt: skip
    snapshot["task items"] = Counter(
        (*item_of(i), i.language, i.topic, i.required_responses, i.response_count, json.dumps(i.gold_answer),
         *times(i.created_at))
        for i in TaskItem.objects.filter(community=community)
    )  # fmt: skip
    assignments = TaskAssignment.objects.filter(item__community=community).select_related("item", "volunteer")
    snapshot["assignments"] = Counter(
        (*assignment_of(a), a.status, a.gold_correct, a.answered_at is not None,
         *times(a.reserved_until, a.created_at, a.answered_at))
        for a in assignments
    )  # fmt: skip
    snapshot["ratings"] = Counter(
        (assignment_of(r.assignment), key(r.answer_id), r.volunteer.email, r.scale.name, r.value,
         *times(r.created_at, r.updated_at))
        for r in Rating.objects.filter(assignment__item__community=community).select_related(
            "assignment__item", "assignment__volunteer", "volunteer", "scale"
        )
    )  # fmt: skip
    snapshot["flags"] = Counter(
        (assignment_of(f.assignment), key(f.answer_id), f.volunteer.email, tuple(f.labels), f.note,
         *times(f.created_at, f.updated_at))
        for f in FlagResponse.objects.filter(assignment__item__community=community).select_related(
            "assignment__item", "assignment__volunteer", "volunteer"
        )
    )  # fmt: skip
    snapshot["rankings"] = Counter(
        (assignment_of(r.assignment), key(r.prompt_id), r.volunteer.email,
         tuple(tuple(sorted(key(answer) for answer in group)) for group in r.order), *times(r.created_at))
        for r in Ranking.objects.filter(assignment__item__community=community).select_related(
            "assignment__item", "assignment__volunteer", "volunteer"
        )
    )  # fmt: skip
    snapshot["claims"] = Counter(
        (key(c.answer_id), c.position, c.text, c.author_id, c.revises_id, *times(c.created_at))
        for c in Claim.objects.filter(answer__conversation__community=community)
    )
    snapshot["claim labels"] = Counter(
        (assignment_of(label.assignment), key(label.claim.answer_id), label.claim.position, label.volunteer.email,
         label.verdict, *times(label.created_at))
        for label in ClaimLabel.objects.filter(assignment__item__community=community).select_related(
            "assignment__item", "assignment__volunteer", "volunteer", "claim"
        )
    )  # fmt: skip
    return snapshot


# --- The shape of the pool -------------------------------------------------------------------


def test_a_small_pool_has_exactly_n_voted_battles_in_consistent_trees():
    before = timezone.now()
    demo(40, batch_size=15)  # three batches
    community = Community.objects.get(slug="demo")
    battles = list(
        Battle.objects.filter(community=community).select_related("answer_a__parent", "answer_b__parent", "model_a")
    )
    assert len(battles) == 40
    assert {b.status for b in battles} == {"voted"} and {b.winner for b in battles} <= WINNERS
    assert ModelEndpoint.objects.filter(is_active=False, community=None).count() == 15
    for battle in battles:
        a, b = battle.answer_a, battle.answer_b
        assert battle.model_a_id != battle.model_b_id
        assert (a.endpoint_id, b.endpoint_id) == (battle.model_a_id, battle.model_b_id)
        assert a.role == b.role == "assistant" and a.author_id is None and b.author_id is None
        assert a.parent.role == b.parent.role == "user" and a.parent.author_id == battle.judge_id
        assert a.parent.text == b.parent.text
        assert battle.conversation.owner_id == battle.judge_id
        if battle.turn == 1:
            assert a.parent_id == b.parent_id and a.parent.parent_id is None
            reveals = any(answer_reveals_identity(m.text, identity_terms(m.endpoint.model_id)) for m in (a, b))
            assert battle.is_blind is not reveals
            assert battle.conversation.names_revealed_at == battle.voted_at
        else:  # the follow-up is stored under each side's answer of the first turn
            first = Battle.objects.get(conversation=battle.conversation, turn=1)
            assert (a.parent.parent_id, b.parent.parent_id) == (first.answer_a_id, first.answer_b_id)
            assert (battle.model_a_id, battle.model_b_id) == (first.model_a_id, first.model_b_id)
            assert battle.is_blind is False and battle.created_at > first.voted_at
        assert battle.language == language_detect(a.parent.text, default=community.language)
        assert before - timedelta(days=90) <= battle.created_at < battle.completed_at < battle.voted_at < before
        assert a.created_at == battle.created_at
    assert (
        Counter(b.turn for b in battles)[1] == Conversation.objects.filter(community=community, battles__turn=1).count()
    )
    # Every judge and reviewer is a member who accepted the licence.
    members = Membership.objects.filter(community=community)
    assert all(m.has_current_licence for m in members.select_related("community"))
    reviewers = TaskAssignment.objects.filter(item__community=community).values_list("volunteer", flat=True)
    assert {b.judge_id for b in battles} | set(reviewers) <= set(members.values_list("user_id", flat=True))
    # The review queue: three items for every model answer, response counts that add up.
    for item in TaskItem.objects.filter(community=community):
        assert item.response_count == item.assignments.filter(status="answered").count() <= item.required_responses
    not_human = Message.objects.filter(conversation__community=community, role="assistant", author=None)
    for kind in ("rate", "flag", "correct"):
        queued = TaskItem.objects.filter(community=community, kind=kind, answer__author=None)
        assert sorted(queued.values_list("answer", flat=True)) == sorted(not_human.values_list("pk", flat=True))
    assignments = TaskAssignment.objects.filter(item__community=community).select_related("item")
    assert all(a.item.created_at <= a.created_at <= a.answered_at < before for a in assignments)


def test_votes_follow_the_bradley_terry_model():
    demo(3000, seed=11, batch_size=1000)
    strength = dict(demo_data.MODELS)
    battles = list(Battle.objects.select_related("model_a", "model_b"))
    winners = Counter(b.winner for b in battles)
    assert abs(winners["tie"] / 3000 - demo_data.TIE_SHARE) < 0.02
    assert abs(winners["tie (bothbad)"] / 3000 - demo_data.BOTH_BAD_SHARE) < 0.012
    # Among decisive votes, A wins as often as the model says, within four standard deviations.
    expected = variance = 0.0
    for battle in battles:
        if battle.winner in ("model_a", "model_b"):
            p = 1 / (1 + 10 ** ((strength[battle.model_b.model_id] - strength[battle.model_a.model_id]) / 400))
            expected, variance = expected + p, variance + p * (1 - p)
    observed = winners["model_a"]
    assert abs(observed - expected) < 4 * math.sqrt(variance)
    assert 0.1 < Counter(b.turn for b in battles)[2] / 3000 < 0.2


def test_the_built_in_answers_never_name_a_model():
    terms = identity_terms(*(name for name, _ in demo_data.MODELS))
    for language, words in demo_data.ANSWERS.items():
        texts = [*words["openers"], *words["sentences"], *words["items"], *words["headings"], *words["closers"]]
        texts += [sentence for sentences in words["topics"].values() for sentence in sentences]
        for text in [*texts, demo_data.CODE_BLOCK]:
            assert not answer_reveals_identity(text, terms), (language, text)
        assert set(words["topics"]) >= {topic for topic, _, _ in demo_data.PROMPTS[language]}


# --- Exactly what the services write ---------------------------------------------------------


def replay_through_services(source: Community, target: Community, monkeypatch) -> None:
    """Write `source`'s pool again into `target` through the services, in the order it
    happened: the arena's turns and votes, donations, claim splitting, then every review in
    the order it was answered (each served as `task_next` reserves an item)."""
    for user in User.objects.filter(memberships__community=source):
        membership_accept_licence(user=user, community=target)
    copied: dict[int, int] = {}  # source message id -> the id of the same message in target
    for conversation in Conversation.objects.filter(community=source).order_by("pk"):
        turns = list(conversation.battles.order_by("turn").select_related("answer_a__parent", "answer_b__parent"))
        if not turns:
            donation = Donation.objects.get(conversation=conversation)
            draft = Donation.objects.create(
                owner=donation.owner, source=donation.source, title=donation.title, turns=donation.turns
            )
            donated = donation_donate(owner=donation.owner, donation_id=draft.pk, community_slug=target.slug)
            pairs = zip(conversation.messages.order_by("pk"), donated.conversation.messages.order_by("pk"), strict=True)
            copied.update((original.pk, copy.pk) for original, copy in pairs)
            continue
        into = None
        for battle in turns:
            monkeypatch.setattr(arena, "arena_pair_draw", lambda community, b=battle: (b.model_a, b.model_b))
            started = arena.battle_start(
                judge=battle.judge,
                community=target,
                prompt_text=battle.answer_a.parent.text,
                conversation_id=into,
                topic=conversation.topic,
            )
            into = started.conversation_id
            arena.battle_answer_record(battle=started, side="a", text=battle.answer_a.text)
            arena.battle_answer_record(battle=started, side="b", text=battle.answer_b.text)
            arena.battle_complete(battle=started, errors={})
            arena.battle_vote_cast(
                judge=battle.judge, battle_id=started.pk, winner=battle.winner, idempotency_key=uuid.uuid4()
            )
            for original, copy in (
                (battle.answer_a, started.answer_a),
                (battle.answer_b, started.answer_b),
                (battle.answer_a.parent, started.answer_a.parent),
                (battle.answer_b.parent, started.answer_b.parent),
            ):
                copied[original.pk] = copy.pk
    for answer_id in sorted(
        set(Claim.objects.filter(answer__conversation__community=source).values_list("answer", flat=True))
    ):
        answer_claims_split(answer=Message.objects.get(pk=copied[answer_id]))

    def copied_claim(claim: Claim) -> Claim:
        return Claim.objects.get(answer_id=copied[claim.answer_id], position=claim.position, author=None)

    for assignment in (
        TaskAssignment.objects.filter(item__community=source)
        .select_related("item", "volunteer")
        .order_by("answered_at", "pk")
    ):
        item, volunteer = assignment.item, assignment.volunteer
        served = TaskAssignment.objects.create(
            item=TaskItem.objects.get(
                kind=item.kind,
                answer_id=copied.get(item.answer_id),
                prompt_id=copied.get(item.prompt_id),
                is_gold=False,
            ),
            volunteer=volunteer,
            reserved_until=timezone.now() + timedelta(minutes=15),
        )
        if item.kind == "rate":
            values = {r.scale.name: r.value for r in assignment.ratings.select_related("scale")}
            responses.rating_submit(volunteer=volunteer, assignment_id=served.pk, ratings=values)
        elif item.kind == "flag":
            flags = assignment.flag_response
            responses.flag_submit(volunteer=volunteer, assignment_id=served.pk, labels=flags.labels, note=flags.note)
        elif item.kind == "correct":
            original = Message.objects.get(corrects_id=item.answer_id, author=volunteer)
            copied[original.pk] = responses.correction_submit(
                volunteer=volunteer, assignment_id=served.pk, text=original.text
            ).pk
        elif item.kind == "rank":
            order = [[copied[answer] for answer in group] for group in assignment.ranking.order]
            responses.ranking_submit(volunteer=volunteer, assignment_id=served.pk, order=order)
        else:
            labels = assignment.claim_labels.select_related("claim").order_by("claim__position")
            checked = [
                {"id": copied_claim(label.claim).pk, "text": label.claim.text, "verdict": label.verdict}
                for label in labels
            ]
            responses.claims_check_submit(volunteer=volunteer, assignment_id=served.pk, claims=checked)


def test_the_rows_are_exactly_those_the_services_write(monkeypatch):
    demo(60, seed=3, batch_size=25)
    source = Community.objects.get(slug="demo")
    target = Community.objects.create(name="Replayed", slug="replayed", topics=source.topics, language=source.language)
    replay_through_services(source, target, monkeypatch)

    written, replayed = pool_snapshot(source, with_times=False), pool_snapshot(target, with_times=False)
    # The pool holds every kind of row, so the comparison covers them all.
    assert all(written.values()), {kind: len(rows) for kind, rows in written.items()}
    assert {kind: sum(rows.values()) for kind, rows in written.items()} == {
        kind: sum(rows.values()) for kind, rows in replayed.items()
    }
    for kind in written:
        assert written[kind] == replayed[kind], kind


# --- Determinism, the community option, a second run ------------------------------------------


def test_the_same_seed_gives_the_same_data(monkeypatch):
    moment = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)

    def run(seed: int) -> dict[str, Counter]:
        with transaction.atomic():
            demo(30, seed=seed, batch_size=12)
            snapshot = pool_snapshot(Community.objects.get(slug="demo"), with_times=True)
            transaction.set_rollback(True)
        return snapshot

    first = run(1)
    assert sum(first["battles"].values()) == 30
    assert run(1) == first
    assert run(2)["messages"] != first["messages"]


@pytest.mark.django_db(transaction=True)  # on PostgreSQL, batches are then written by a second thread
def test_the_community_option_and_a_second_run_that_adds_more():
    demo(30, community="science-club", batch_size=8)
    club = Community.objects.get(slug="science-club")
    assert club.name == "Science Club" and "Science" in club.topics
    assert not Community.objects.filter(slug="demo").exists()
    users, endpoints = User.objects.count(), ModelEndpoint.objects.count()

    demo(30, community="science-club", batch_size=8)  # same seed: new battles, no clash on unique names
    assert Battle.objects.filter(community=club, status="voted").count() == 60
    assert (User.objects.count(), ModelEndpoint.objects.count()) == (users, endpoints)
    keys = list(Battle.objects.values_list("judge_id", "vote_idempotency_key"))
    assert len(set(keys)) == 60

    demo(10)  # the default community, with the same people and models
    assert Battle.objects.filter(community__slug="demo").count() == 10
    assert (User.objects.count(), ModelEndpoint.objects.count()) == (users, endpoints)


def test_a_release_of_the_pool_counts_every_battle(tmp_path, settings, capsys):
    settings.RELEASES_DIR = tmp_path / "releases"
    demo(50, seed=8, batch_size=20)
    community = Community.objects.get(slug="demo")
    call_command("release_build", "--community", "demo")
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    counts = manifest["counts"]["by_kind"]
    assert counts["battles"] == 50
    # Every message, but people's answers (corrections, donated answers) only past their gate,
    # and donated conversations only when all their answers passed (docs/moderation.md).
    messages = Message.objects.filter(conversation__community=community)
    not_accepted = messages.filter(role="assistant", endpoint__isnull=True).exclude(review_gate__is_accepted=True)
    donations_held_back = Message.objects.filter(
        conversation__in=not_accepted.filter(external_model__gt="").values("conversation")
    )
    assert counts["message_trees"] == messages.exclude(pk__in=not_accepted).exclude(pk__in=donations_held_back).count()
    assert counts["message_trees"] < messages.count()  # some of them were held back
    corrections = messages.filter(corrects__isnull=False, review_gate__is_accepted=True).count()
    decisive_first_turns = Battle.objects.filter(turn=1, winner__in=["model_a", "model_b"]).count()
    assert counts["preferences"] >= decisive_first_turns + corrections
    assert counts["claims"] == Claim.objects.filter(labels__isnull=False).values("answer").distinct().count()
    assert counts["unpaired"] > 0
    assert sum(1 for _ in (folder / "battles.jsonl").open()) == 50
