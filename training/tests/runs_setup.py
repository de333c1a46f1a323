"""A community with a published release of preference pairs, made through the real services
(arena battles voted by a member, a release built and published): what training runs read."""

import uuid

from community.models import Membership
from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena import services as arena
from feedback.models import Release
from feedback.releases.services import release_build, release_build_start, release_publish
from feedback.tests.factories import arena_setup

TOPICS = ["tides", "volcanoes", "bread", "comets", "bees", "glaciers", "rivers", "owls", "clouds", "deserts"]
SHAPES = ["Why do", "How do", "What makes", "Where do", "When do", "Who studies"]


def preference_texts(number: int) -> tuple[str, str, str]:
    """A distinct prompt and its two answers (long enough and different enough for every selection filter)."""
    topic = TOPICS[number % len(TOPICS)]
    shape = SHAPES[(number // len(TOPICS)) % len(SHAPES)]
    prompt = f"{shape} {topic} matter, question number {number}?"
    good = f"Short answer {number}: {topic} follow clear rules about case {number}. Want more?"
    bad = f"Long rambling reply {number} that wanders off about {TOPICS[(number + 3) % len(TOPICS)]} and more."
    return prompt, good, bad


def community_with_votes(*, votes: int):
    """(community, owner, endpoints) with `votes` voted battles; the owner owns the community."""
    community, judge, first, second = arena_setup()
    owner = UserFactory(email=f"owner-{uuid.uuid4().hex[:8]}@example.org")
    MembershipFactory(community=community, user=owner, role=Membership.Role.OWNER)
    votes_add(community=community, judge=judge, votes=votes)
    return community, owner, (first, second)


def votes_add(*, community, judge, votes: int, start: int = 0) -> None:
    for number in range(start, start + votes):
        prompt, good, bad = preference_texts(number)
        battle = arena.battle_start(judge=judge, community=community, prompt_text=prompt)
        arena.battle_answer_record(battle=battle, side="a", text=good)
        arena.battle_answer_record(battle=battle, side="b", text=bad)
        battle = arena.battle_complete(battle=battle, errors={})
        arena.battle_vote_cast(judge=judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())


def release_published(community) -> Release:
    release = release_build_start(actor=None, community=community)
    release_build(release_id=release.pk)
    return release_publish(actor=None, release_id=release.pk)
